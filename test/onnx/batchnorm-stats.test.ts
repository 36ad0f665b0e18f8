// PyTorch's BatchNorm with track_running_stats=False: it normalizes with the batch statistics in eval
// too and has no running buffers. torch.onnx.export writes it (opsets 13 and 17, eval and PRESERVE
// modes alike) as a training-mode BatchNormalization whose mean and var inputs are ReduceMeans over
// the batch feeding only its unread running-statistics outputs. The fixtures (TinyBatchStats of
// scripts/fixtures/grad_agreement.py: three such BNs, 4-d and 2-d, next to one that tracks running
// statistics) are checked for predict against PyTorch float64 in eval mode and onnxruntime-node, and
// for training against PyTorch: every gradient, 10 SGD steps, the tracking BN's running statistics.
// Then the layer option itself (useBatchStatsAlways): config, save/load, ONNX export, tfjs refusal.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { BatchNormalization } from '../../src/nn/batchnorm.js';
import { classNameOf } from '../../src/nn/registry.js';
import { expectClose, makeRng } from '../helpers/check.js';
import { compareGradients, compareTrajectory, type GradMeta } from './grad-agreement.js';
import { runOrt } from './fixtures.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/grad');
const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M): M => {
  live.push(m);
  return m;
};
afterEach(() => {
  for (const m of live.splice(0)) m.dispose();
});
beforeAll(async () => {
  await sn.ready();
});

const f32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const f64 = (path: string) => {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const bns = (m: sn.Model) => m.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);

const FILES = ['batchstats_o13', 'batchstats_o17', 'batchstats_o13_evalmode', 'batchstats_o17_evalmode'];

describe('track_running_stats=False imported from torch.onnx.export', () => {
  for (const name of FILES) {
    it(`${name}: batch-statistics BNs without state; predict as PyTorch float64 in eval mode and onnxruntime`, async () => {
      const meta = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as GradMeta;
      const bytes = new Uint8Array(readFileSync(join(DIR, meta.onnx)));
      const x = f32(join(DIR, `${name}.input.bin`));
      const m = track(await sn.loadONNX(bytes));
      const always = bns(m).filter((l) => l.cfg.useBatchStatsAlways);
      expect(always.length).toBe(3);
      for (const l of always) expect(l.stateWeights).toEqual([]);
      // The BN that tracks its statistics keeps them (PyTorch's EVAL export folds it into the convolution).
      expect(bns(m).length - always.length).toBe(name.endsWith('_evalmode') ? 0 : 1);
      const got = (m.predict(sn.tensor(x, meta.inputShape)) as sn.Tensor).dataSync();
      expectClose(got, f64(join(DIR, `${name}.eval.bin`)), { atol: 2e-5, rtol: 2e-5, label: 'PyTorch float64' });
      const ort = await runOrt(bytes, x, meta.inputShape);
      expectClose(got, ort, { atol: 2e-5, rtol: 2e-5, label: 'onnxruntime' });
      // Batch statistics: the first two examples alone normalize differently from the four together.
      const per = x.length / meta.inputShape[0];
      const two = (m.predict(sn.tensor(x.slice(0, 2 * per), [2, ...meta.inputShape.slice(1)])) as sn.Tensor).dataSync();
      const d = Math.max(...Array.from(two, (v, i) => Math.abs(v - got[i])));
      expect(d).toBeGreaterThan(1e-2);
    });
  }

  for (const name of ['batchstats_o13', 'batchstats_o17']) {
    it(`${name}: gradients, 10 SGD steps and the tracking BN's running statistics as PyTorch`, async () => {
      const g = await compareGradients(DIR, name);
      expect(g.rows.filter((r) => r.weight === null).map((r) => r.name)).toEqual([]);
      expect(g.rows.filter((r) => !r.pass).map((r) => `${r.name}: ${r.err} > ${r.tol}`)).toEqual([]);
      expect(Math.abs(g.loss - g.loss64) / g.loss64).toBeLessThan(1e-6);
      const t = await compareTrajectory(DIR, name);
      expect(t.steps.filter((s) => s.checked).length).toBe(10);
      expect(t.steps[9].loss64).toBeLessThan(0.5 * t.steps[0].loss64);
      expect(t.steps.filter((s) => !s.pass).map((s) => `${s.loss} vs ${s.loss32}`)).toEqual([]);
      // Only bn2 tracks statistics: its running mean and variance after the steps.
      expect(t.stats.map((s) => s.name)).toEqual(['bn2.running_mean', 'bn2.running_var']);
      expect(t.stats.filter((s) => !s.pass).map((s) => `${s.name}: ${s.err} > ${s.tol}`)).toEqual([]);
      expect(t.agrees).toBe(true);
    });
  }

  it('a training-mode BatchNormalization with stored running statistics is refused, naming the node', async () => {
    // The o17 file with its first BN's mean and var inputs pointed at initializers: a TRAINING-mode
    // export of a BN that tracks statistics, whose running statistics the import would drop.
    const T = onnxType('ModelProto');
    const obj = T.toObject(T.decode(readFileSync(join(DIR, 'batchstats_o17.onnx')))) as {
      graph: { node: { op_type: string; input: string[]; name: string }[]; initializer: Record<string, unknown>[] };
    };
    const bn = obj.graph.node.find((n) => n.op_type === 'BatchNormalization')!;
    const C = 6;
    obj.graph.initializer.push(
      { name: 'rm', dims: [C], data_type: 1, float_data: new Array(C).fill(0) },
      { name: 'rv', dims: [C], data_type: 1, float_data: new Array(C).fill(1) },
    );
    bn.input = [...bn.input.slice(0, 3), 'rm', 'rv'];
    const bytes = T.encode(T.fromObject(obj)).finish();
    await expect(sn.loadONNX(bytes)).rejects.toThrow(
      `node '${bn.name}' (BatchNormalization): BatchNormalization in training mode with stored running statistics`,
    );
  });
});

describe('BatchNormalization useBatchStatsAlways', () => {
  const SHAPE = [2, 3, 4];
  const rng = makeRng(5);
  const net = (always: boolean) => {
    const bn = new sn.BatchNormalization({ useBatchStatsAlways: always, epsilon: 1e-3 });
    const m = track(sn.sequential({ layers: [new sn.Conv2D({ filters: 4, kernelSize: 1, inputShape: SHAPE }), bn] }));
    m.build();
    const [g, b] = bn.weights.map((w) => w.value);
    g.view().set(rng.fill(4, 0.5, 1.5));
    b.view().set(rng.fill(4, -0.5, 0.5));
    return { m, bn };
  };

  it('predicts with the batch statistics (float64 reference) and keeps no moving statistics', () => {
    const { m, bn } = net(true);
    expect(bn.stateWeights).toEqual([]);
    expect(bn.getConfig()).toMatchObject({ useBatchStatsAlways: true });
    const N = 3;
    const x = Float32Array.from(rng.fill(N * 24, -2, 2));
    const y = (m.predict(sn.tensor(x, [N, ...SHAPE])) as sn.Tensor).dataSync();
    // The reference: the convolution's output (the model without its BN), normalized per channel.
    const conv = track(sn.sequential({ layers: [m.layers[0]] }));
    const h = (conv.predict(sn.tensor(x, [N, ...SHAPE])) as sn.Tensor).dataSync();
    const [g, b] = bn.weights.map((w) => w.value.view());
    const R = h.length / 4;
    const want = new Float64Array(h.length);
    for (let c = 0; c < 4; c++) {
      let mean = 0,
        v = 0;
      for (let r = 0; r < R; r++) mean += h[r * 4 + c] / R;
      for (let r = 0; r < R; r++) v += (h[r * 4 + c] - mean) ** 2 / R;
      for (let r = 0; r < R; r++)
        want[r * 4 + c] = ((h[r * 4 + c] - mean) / Math.sqrt(v + Math.fround(1e-3))) * g[c] + b[c];
    }
    expectClose(y, want, { atol: 1e-5, rtol: 1e-5, label: 'batch-statistics predict' });
    live.splice(live.indexOf(conv), 1); // shares its layer with m
  });

  it('saves and loads (.simdnet), exports to ONNX that onnxruntime and loadONNX run alike', async () => {
    const { m } = net(true);
    const x = Float32Array.from(rng.fill(3 * 24, -2, 2));
    const shape = [3, ...SHAPE];
    const want = (m.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync();
    const again = track(sn.loadModel(m.save()));
    expect((again.layers[1] as BatchNormalization).cfg.useBatchStatsAlways).toBe(true);
    expect(Array.from((again.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync())).toEqual(Array.from(want));
    const bytes = await sn.toONNX(m);
    expectClose(await runOrt(bytes, x, shape), want, { atol: 1e-5, rtol: 1e-5, label: 'onnxruntime' });
    const back = track(await sn.loadONNX(bytes));
    expect(bns(back).map((l) => l.cfg.useBatchStatsAlways)).toEqual([true]);
    expectClose((back.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync(), want, { atol: 1e-5, rtol: 1e-5 });
  });

  it('is not saved when false, is refused by the tfjs-layers writer, and a bad value is named', () => {
    const { m } = net(false);
    expect(m.layers[1].getConfig()).not.toHaveProperty('useBatchStatsAlways');
    expect(m.layers[1].stateWeights.length).toBe(2);
    const { m: always } = net(true);
    expect(() => sn.saveLayersModel(always)).toThrow(/useBatchStatsAlways/);
    expect(() => new sn.BatchNormalization({ useBatchStatsAlways: 'yes' as never })).toThrow(
      'BatchNormalization: useBatchStatsAlways must be true or false, got "yes"',
    );
    expect(classNameOf(m.layers[1])).toBe('BatchNormalization');
  });
});
