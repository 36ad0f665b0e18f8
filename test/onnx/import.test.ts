// ONNX import checked against the exporter that wrote the files and against onnxruntime-node: every
// fixture of scripts/fixtures/export_onnx.py (PyTorch exports of LeNet-5, ResNet-18, MobileNetV2,
// SqueezeNet 1.1 and a model using the rest of the operator list, at opsets 11, 13 and 17) predicts
// what PyTorch computed and what onnxruntime computes, within 1e-4 of the largest |logit|; survives
// save → load → toONNX; takes NHWC input on request; fine-tunes.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { loadONNXFile } from '../../src/node/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diff, fixture, fixtureNames, runOrt } from './fixtures.js';

const TOL = 1e-4;

beforeAll(async () => {
  await sn.ready();
});

function predict(m: sn.Model, x: Float32Array, shape: number[]): Float32Array {
  const t = sn.tensor(x, shape);
  const y = m.predict(t) as sn.Tensor;
  const out = y.dataSync() as Float32Array;
  t.dispose();
  y.dispose();
  return out;
}

/** NCHW -> NHWC of a batch of images. */
function toNHWC(x: Float32Array, [N, C, H, W]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((n * H + h) * W + w) * C + c] = x[((n * C + c) * H + h) * W + w];
  return out;
}

describe('PyTorch-exported fixtures', () => {
  expect(fixtureNames).toEqual(
    expect.arrayContaining(['shufflenet_v2_x0_5', 'lenet5_op11', 'resnet18_w12', 'mobilenet_v2_w35', 'opzoo_op17']),
  );
  for (const name of fixtureNames) {
    it(`${name}: matches PyTorch and onnxruntime; save → load → toONNX still matches`, async () => {
      const f = fixture(name);
      const m = await sn.loadONNX(f.bytes);
      expect(m.inputShape).toEqual(f.inputShape.slice(1));
      expect(m.outputShape).toEqual(f.outputShape.slice(1));
      const y = predict(m, f.input, f.inputShape);
      const ort = await runOrt(f.bytes, f.input, f.inputShape);
      const vsTorch = diff(y, f.output),
        vsOrt = diff(y, ort);
      expect(vsTorch.scale).toBeGreaterThan(0);
      expect(vsTorch.max, `${name} vs PyTorch`).toBeLessThanOrEqual(TOL * vsTorch.scale);
      expect(vsOrt.max, `${name} vs onnxruntime`).toBeLessThanOrEqual(TOL * vsOrt.scale);

      // Another batch size than the exported one (the batch axis is dynamic in the files).
      const one = predict(m, f.input.subarray(0, f.input.length / f.inputShape[0]), [1, ...f.inputShape.slice(1)]);
      expect(diff(one, y.subarray(0, one.length)).max).toBeLessThanOrEqual(TOL * vsTorch.scale);

      const loaded = sn.loadModel(sn.saveModel(m));
      expect(diff(predict(loaded, f.input, f.inputShape), y).max).toBe(0);
      const again = toONNX(loaded);
      const ort2 = await runOrt(again, f.input, f.inputShape);
      expect(diff(ort2, f.output).max, `${name} re-exported, in onnxruntime`).toBeLessThanOrEqual(TOL * vsTorch.scale);
      m.dispose();
      loaded.dispose();
    }, 60_000);
  }
});

describe('options and Node helper', () => {
  it("inputLayout 'nhwc' takes channels-last input, drops the input transpose and predicts the same", async () => {
    const f = fixture('resnet18_w12');
    const nchw = await sn.loadONNX(f.bytes);
    const nhwc = await sn.loadONNX(f.bytes, { inputLayout: 'nhwc' });
    const [, C, H, W] = f.inputShape;
    expect(nhwc.inputShape).toEqual([H, W, C]);
    const permutes = (m: sn.Model) => m.layers.filter((l) => l.className === 'Permute').length;
    expect(permutes(nchw)).toBe(1);
    expect(permutes(nhwc)).toBe(0);
    const shape = [f.inputShape[0], H, W, C];
    const y = predict(nhwc, toNHWC(f.input, f.inputShape), shape);
    expect(diff(y, predict(nchw, f.input, f.inputShape)).max).toBe(0);
    await expect(sn.loadONNX(f.bytes, { inputLayout: 'NCHW' as 'nchw' })).rejects.toThrow(
      /inputLayout must be 'nchw' or 'nhwc'/,
    );
    nchw.dispose();
    nhwc.dispose();
  });

  it('loadONNXFile reads a path and names it in errors', async () => {
    const f = fixture('lenet5_op17');
    const m = await loadONNXFile(f.path);
    expect(diff(predict(m, f.input, f.inputShape), f.output).max).toBeLessThanOrEqual(TOL);
    m.dispose();
    await expect(loadONNXFile('/nonexistent/model.onnx')).rejects.toThrow(
      /cannot read ONNX file \/nonexistent\/model\.onnx/,
    );
  });

  it('external data: loadONNXFile reads it next to the model, loadONNX(bytes) refuses it, paths stay inside', async () => {
    const f = fixture('lenet5_op11');
    const T = onnxType('ModelProto');
    const msg = T.decode(f.bytes) as unknown as {
      graph: { initializer: Array<{ raw_data: Uint8Array; data_location?: number; external_data?: unknown[] }> };
    };
    const parts: Uint8Array[] = [];
    let off = 0;
    const write = async (location: string) => {
      for (const t of msg.graph.initializer) {
        if (!t.raw_data || t.raw_data.length === 0) continue;
        const len = t.raw_data.length;
        parts.push(t.raw_data);
        t.external_data = [
          { key: 'location', value: location },
          { key: 'offset', value: String(off) },
          { key: 'length', value: String(len) },
        ];
        t.data_location = 1;
        t.raw_data = new Uint8Array(0);
        off += len;
      }
      return T.encode(msg as never).finish();
    };
    const dir = await mkdtemp(join(tmpdir(), 'simdnet-ext-'));
    try {
      const bytes = await write('weights.bin');
      await writeFile(join(dir, 'model.onnx'), bytes);
      await writeFile(join(dir, 'weights.bin'), Buffer.concat(parts));
      const m = await loadONNXFile(join(dir, 'model.onnx'));
      expect(diff(predict(m, f.input, f.inputShape), f.output).max).toBeLessThanOrEqual(TOL * 0.2);
      m.dispose();
      await expect(sn.loadONNX(bytes)).rejects.toThrow(
        /keeps its data outside the model file \(external data in 'weights\.bin'\)/,
      );
      const T2 = T.decode(bytes) as unknown as {
        graph: { initializer: Array<{ external_data: Array<{ key: string; value: string }> }> };
      };
      for (const t of T2.graph.initializer)
        for (const e of t.external_data ?? []) if (e.key === 'location') e.value = '../weights.bin';
      await writeFile(join(dir, 'evil.onnx'), T.encode(T2 as never).finish());
      await expect(loadONNXFile(join(dir, 'evil.onnx'))).rejects.toThrow(
        /external data location '\.\.\/weights\.bin' is outside the model's directory/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('weights are re-laid once: Gemm after Flatten of an NHWC image reads permuted rows, no transpose before it', async () => {
    const f = fixture('lenet5_op11');
    const m = await sn.loadONNX(f.bytes);
    // The only Permute is the input's; the flatten before the first Gemm works on the NHWC image.
    expect(m.layers.filter((l) => l.className === 'Permute').length).toBe(1);
    const classes = m.layers.map((l) => l.className);
    expect(classes).toContain('Conv2D');
    expect(classes).toContain('Dense');
    m.dispose();
  });
});

describe('channel shuffle', () => {
  it('ShuffleNetV2: view → transpose → view of the NHWC channels is one 5-d Permute per shuffle', async () => {
    const f = fixture('shufflenet_v2_x0_5');
    const m = await sn.loadONNX(f.bytes);
    const permutes = m.layers.filter((l) => l.className === 'Permute');
    const shuffles = m.layers.filter((l) => l.className === 'Reshape').length / 2;
    expect(shuffles).toBeGreaterThan(10);
    // The input's transpose, then one per shuffle (a [H, W, g, C/g] -> [H, W, C/g, g] swap).
    expect(permutes.length).toBe(1 + shuffles);
    expect(permutes.slice(1).every((l) => (l.getConfig().dims as number[]).join() === '1,2,4,3')).toBe(true);
    m.dispose();
  });
});

describe('channels-last graphs (tf2onnx style)', () => {
  it('Transposes around the convolutions cost nothing: the NHWC values are used as they are', async () => {
    for (const name of ['channels_last_op9', 'channels_last_op13']) {
      const f = fixture(name);
      const m = await sn.loadONNX(f.bytes);
      expect(m.inputShape).toEqual([12, 10, 3]);
      expect(m.layers.filter((l) => l.className === 'Permute').length, name).toBe(0);
      m.dispose();
    }
  });
});

describe('fine-tuning an imported model', () => {
  it('BatchNormalization is imported with its running statistics and updated by fit', async () => {
    const f = fixture('resnet18_w12');
    const m = await sn.loadONNX(f.bytes);
    const bn = m.layers.find((l) => l.className === 'BatchNormalization')!;
    expect(bn).toBeDefined();
    const mean0 = bn.stateWeights[0].value.dataSync().slice();
    expect(mean0.some((v) => v !== 0)).toBe(true);
    // A new softmax head over the ResNet's logits; everything trains.
    const out = new sn.Softmax().apply(m.outputs[0]);
    const clf = sn.model({ inputs: m.inputs, outputs: out });
    clf.compile({ optimizer: new sn.Adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy' });
    const N = 16;
    const per = f.input.length / f.inputShape[0];
    const x = new Float32Array(N * per);
    const y = new Float32Array(N * 10);
    for (let i = 0; i < N; i++) {
      x.set(f.input.subarray((i % 2) * per, (i % 2) * per + per), i * per);
      for (let j = 0; j < per; j++) x[i * per + j] += 0.1 * Math.sin(i * 7 + j);
      y[i * 10 + (i % 3)] = 1;
    }
    const xs = sn.tensor(x, [N, ...f.inputShape.slice(1)]),
      ys = sn.tensor(y, [N, 10]);
    const before = clf.evaluate(xs, ys)[0];
    await clf.fit(xs, ys, { epochs: 4, batchSize: 8, verbose: 0 });
    const after = clf.evaluate(xs, ys)[0];
    expect(after).toBeLessThan(before);
    const mean1 = bn.stateWeights[0].value.dataSync();
    expect(diff(mean1, mean0).max).toBeGreaterThan(0);
    xs.dispose();
    ys.dispose();
    clf.dispose();
  }, 60_000);

  it('the op zoo (PRelu, Clip, Split, Slice, Affine, Pool2D, LogSoftmax, ...) fine-tunes: MSE on its output drops', async () => {
    const f = fixture('opzoo_op17');
    const m = await sn.loadONNX(f.bytes);
    m.compile({ optimizer: new sn.Adam({ learningRate: 3e-3 }), loss: 'meanSquaredError' });
    const xs = sn.tensor(f.input, f.inputShape);
    const target = sn.tensor(new Float32Array(f.output.length).fill(-2), f.outputShape);
    const before = m.evaluate(xs, target)[0];
    for (let i = 0; i < 8; i++) m.trainOnBatch(xs, target);
    expect(m.evaluate(xs, target)[0]).toBeLessThan(before);
    xs.dispose();
    target.dispose();
    m.dispose();
  }, 60_000);
});
