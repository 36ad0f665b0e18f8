// ONNX export of functional graphs checked against onnxruntime-node (1e-4): residual adds of conv
// outputs (kept in NCHW), squeeze-excitation multiplies broadcasting (N, C) over an image, every merge
// op, concatenation on the channel and spatial axes, and several inputs and outputs.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { makeRng } from '../helpers/check.js';

const TOL = 1e-4;
beforeAll(async () => {
  await sn.ready();
});
const L = sn.layers;

/** Random weights (the initial biases are zeros, which would hide a bias mistake); moving variances stay positive. */
function randomize(m: sn.Model, seed: number): void {
  const rng = makeRng(seed);
  for (const p of [...m.params(), ...m.stateWeights()]) {
    const lo = p.name.endsWith('moving_variance') ? 0.5 : -0.5;
    p.value.view().set(rng.fill(p.value.size, lo, lo + 1));
  }
}

function input(shape: number[], n: number, seed: number) {
  return {
    data: Float32Array.from(makeRng(seed).fill(n * shape.reduce((a, b) => a * b, 1), -1, 1)),
    shape: [n, ...shape],
  };
}

async function compare(m: sn.Model, xs: Array<{ data: Float32Array; shape: number[] }>): Promise<any> {
  const bytes = await sn.toONNX(m);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  s.inputNames.forEach((name, i) => {
    feeds[name] = new ort.Tensor('float32', xs[i].data, xs[i].shape);
  });
  const out = await s.run(feeds);
  const ours = m.predict(xs);
  expect(s.outputNames.length).toBe(ours.length);
  s.outputNames.forEach((name, i) => {
    const want = ours[i].dataSync();
    const got = out[name].data as Float32Array;
    expect([...out[name].dims]).toEqual(ours[i].shape);
    let d = 0;
    for (let j = 0; j < want.length; j++) d = Math.max(d, Math.abs(got[j] - want[j]));
    expect(d, `output ${name}`).toBeLessThan(TOL);
    // Not all zeros: the comparison means something.
    expect(Math.max(...Array.from(want).map(Math.abs))).toBeGreaterThan(1e-3);
    ours[i].dispose();
  });
  return onnxType('ModelProto').toObject(onnxType('ModelProto').decode(bytes), { longs: Number });
}

describe('toONNX of graph models', () => {
  it('residual block, squeeze-excitation multiply and a channel concatenation', async () => {
    const x = sn.input({ shape: [8, 8, 3] });
    const stem = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
    const c = L.batchNormalization().apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem));
    const res = L.activation({ activation: 'relu' }).apply(L.add().apply([c, stem]));
    const se = L.multiply().apply([
      res,
      L.dense({ units: 4, activation: 'sigmoid' }).apply(L.globalAveragePooling2D().apply(res)),
    ]);
    const cat = L.concatenate().apply([se, L.conv2d({ filters: 2, kernelSize: 1 }).apply(x)]);
    const y = L.dense({ units: 5, activation: 'softmax' }).apply(
      L.flatten().apply(L.maxPooling2d({ poolSize: 2 }).apply(cat)),
    );
    const m = sn.model({ inputs: x, outputs: y, seed: 1 });
    randomize(m, 2);
    const g = await compare(m, [input([8, 8, 3], 6, 3)]);
    const ops = g.graph.node.map((n: any) => n.op_type);
    // The add of two conv outputs and the concatenation stay in NCHW: one transpose in, one before Flatten.
    expect(ops.filter((o: string) => o === 'Transpose').length).toBe(2);
    expect(ops).toContain('Unsqueeze');
    const concat = g.graph.node.find((n: any) => n.op_type === 'Concat');
    expect(concat.attribute.find((a: any) => a.name === 'axis').i).toBe(1);
    m.dispose();
  });

  it('subtract, average, maximum, minimum, and a concatenation along width of NHWC values', async () => {
    const a = sn.input({ shape: [4, 5, 2], name: 'a' }),
      b = sn.input({ shape: [4, 5, 2], name: 'b' });
    const ca = L.conv2d({ filters: 2, kernelSize: 1 }).apply(a);
    const parts = [
      L.subtract().apply([ca, b]),
      L.average().apply([a, b, ca]),
      L.maximum().apply([a, b]),
      L.minimum().apply([ca, b, a]),
    ];
    const cat = L.concatenate({ axis: 2 }).apply(parts);
    const o1 = L.dense({ units: 3, activation: 'softmax' }).apply(L.flatten().apply(cat));
    const o2 = L.leakyReLU().apply(L.add().apply([a, ca]));
    const m = sn.model({ inputs: [a, b], outputs: [o1, o2], seed: 4 });
    randomize(m, 5);
    const g = await compare(m, [input([4, 5, 2], 3, 6), input([4, 5, 2], 3, 7)]);
    expect(g.graph.input.map((i: any) => i.name)).toEqual(['a', 'b']);
    expect(g.graph.output.map((o: any) => o.name)).toEqual(['output_0', 'output_1']);
    for (const op of ['Sub', 'Mean', 'Max', 'Min', 'Concat', 'Add'])
      expect(
        g.graph.node.some((n: any) => n.op_type === op),
        op,
      ).toBe(true);
    m.dispose();
  });

  it('an output that is also read further on gets an Identity', async () => {
    const x = sn.input({ shape: [6] });
    const h = L.dense({ units: 4, activation: 'tanh' }).apply(x);
    const y = L.dense({ units: 2 }).apply(h);
    const m = sn.model({ inputs: x, outputs: [h, y], seed: 8 });
    randomize(m, 9);
    const g = await compare(m, [input([6], 4, 10)]);
    expect(g.graph.node.some((n: any) => n.op_type === 'Identity')).toBe(true);
    m.dispose();
  });
});
