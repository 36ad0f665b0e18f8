// Post-training quantization (src/quant): a small CNN trained on the bars problem (conv relu, depthwise
// relu6, dense relu, dense softmax) quantized with calibration data. int8 compute and weight-only int8
// keep the held-out accuracy within 2 points of float32 and agree on >= 95% of the predictions; the
// quantized model has the int8 layer classes, leaves the original untouched, saves and loads as itself
// (same predictions), exports to ONNX, refuses training by name, and bad options name what is wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { quantizeModel } from '../../src/quant/quantize.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { bars, weightsHash } from './fixtures.js';
import { Rng } from '../../src/rng.js';

const train = bars(600, 1);
const test = bars(300, 2);
let model: sn.Model;
let floatPred: Int32Array;
const live: sn.Model[] = [];

const argmax = (p: sn.Tensor, classes = 3) => {
  const d = p.dataSync();
  return Int32Array.from({ length: d.length / classes }, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (d[i * classes + c]! > d[i * classes + best]!) best = c;
    return best;
  });
};
const predict = (m: sn.Model) => {
  const p = m.predict(test.x) as sn.Tensor;
  const a = argmax(p);
  p.dispose();
  return a;
};
const accuracy = (pred: Int32Array) => pred.filter((c, i) => c === test.labels.data[i]).length / pred.length;
const agreement = (a: Int32Array, b: Int32Array) => a.filter((c, i) => c === b[i]).length / a.length;

beforeAll(async () => {
  await sn.ready();
  const L = sn.layers;
  model = sn.sequential({
    seed: 3,
    layers: [
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
      new sn.DepthwiseConv2D({ kernelSize: 3, padding: 'same', activation: 'relu6' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 16, activation: 'relu' }),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: new sn.Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  await model.fit(train.x, train.labels, { epochs: 8, batchSize: 20, verbose: 0 });
  floatPred = predict(model);
});

afterAll(() => {
  for (const m of live) m.dispose();
  model.dispose();
});

const calibration = () => sn.tensor(train.x.data.subarray(0, 128 * 64), [128, 8, 8, 1]);

describe('quantize a trained model', () => {
  it('the float32 model learned the problem', () => {
    expect(accuracy(floatPred)).toBeGreaterThan(0.9);
  });

  for (const [label, opts] of [
    ["activations 'int8', min/max ranges", { activations: 'int8' }],
    ["activations 'int8', 99.9th percentile ranges", { activations: 'int8', percentile: 99.9 }],
    ["activations 'float32' (int8 weights only)", { activations: 'float32' }],
  ] as const)
    it(`${label}: accuracy within 2 points of float32, >= 95% agreement`, () => {
      const before = weightsHash(model);
      const x = calibration();
      const q = quantizeModel(model, { calibration: x, ...opts });
      x.dispose();
      live.push(q);
      expect(q.layers.map((l) => l.className)).toEqual([
        'InputLayer',
        'QuantizedConv2D',
        'QuantizedDepthwiseConv2D',
        'MaxPooling2D',
        'Flatten',
        'QuantizedDense',
        'QuantizedDense',
      ]);
      const pred = predict(q);
      expect(accuracy(pred)).toBeGreaterThanOrEqual(accuracy(floatPred) - 0.02);
      expect(agreement(pred, floatPred)).toBeGreaterThanOrEqual(0.95);
      expect(weightsHash(model), 'the original model is unchanged').toBe(before);
      // the probabilities themselves stay close: mean |p_q - p_float| over every output
      const [pf, pq] = [model.predict(test.x) as sn.Tensor, q.predict(test.x) as sn.Tensor];
      const [df, dq] = [pf.dataSync() as Float32Array, pq.dataSync() as Float32Array];
      const mad = df.reduce((a, v, i) => a + Math.abs(v - dq[i]!), 0) / df.length;
      expect(mad).toBeLessThan(0.02);
      pf.dispose();
      pq.dispose();
    });

  it('a quantized model saves and loads as itself, with the same predictions', () => {
    const x = calibration();
    const q = quantizeModel(model, { calibration: x });
    x.dispose();
    live.push(q);
    const back = sn.loadModel(sn.saveModel(q));
    live.push(back);
    expect(back.layers.map((l) => l.className)).toEqual(q.layers.map((l) => l.className));
    const [a, b] = [q.predict(test.x) as sn.Tensor, back.predict(test.x) as sn.Tensor];
    expect(b.dataSync()).toEqual(a.dataSync());
    a.dispose();
    b.dispose();
  });

  it('exports to ONNX with int8 kernels read by DequantizeLinear (test/onnx/qdq-export.test.ts runs it)', async () => {
    const q = quantizeModel(model, { activations: 'float32' });
    live.push(q);
    const m = onnxType('ModelProto').decode(await sn.toONNX(q)) as unknown as {
      graph: { node: Array<{ op_type: string }> };
    };
    const ops = m.graph.node.map((n) => n.op_type);
    expect(ops.filter((o) => o === 'DequantizeLinear').length).toBe(4);
    expect(ops).not.toContain('QuantizeLinear');
  });

  it('training a quantized model is refused by layer name', async () => {
    const q = quantizeModel(model, { activations: 'float32' });
    live.push(q);
    q.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await expect(q.fit(train.x, train.labels, { epochs: 1, batchSize: 20, verbose: 0 })).rejects.toThrow(
      /conv2d\w*: a quantized layer computes inference only/,
    );
  });

  it('int8 between quantized layers: a layer reading another one takes its int8 output, with the same bits', () => {
    const x = calibration();
    const q = quantizeModel(model, { calibration: x });
    live.push(q);
    const n = x.shape[0]!;
    const chained = q.predict(x, { batchSize: n }) as sn.Tensor;
    const layers = q.layers.slice(1) as Array<sn.Layer & { sharedInput?: boolean }>;
    // conv -> depthwise and dense -> dense read the float output of a quantized layer, with the same
    // calibrated quantization; the depthwise conv's output reaches the dense through a pooling and a flatten
    expect(layers.map((l) => l.sharedInput ?? null)).toEqual([false, true, null, null, false, true]);
    // each layer on a copy of its input (no int8 values behind it): quantize, int8 op, dequantize
    let t = sn.tensor(x.dataSync(), [...x.shape]);
    x.dispose();
    const rng = new Rng(0);
    for (const l of layers) {
      const y = l.callFor([t], { training: false, rng });
      t.dispose();
      t = sn.tensor(y.dataSync(), [...y.shape]);
      y.dispose();
    }
    expect(layers.map((l) => l.sharedInput ?? null)).toEqual([false, false, null, null, false, false]);
    expect(t.dataSync()).toEqual(chained.dataSync());
    const classes = new Set(argmax(chained));
    expect(classes.size, 'not a constant output').toBe(3);
    t.dispose();
    chained.dispose();
  });

  it('a functional graph: an Add of two branches, a layer applied twice (left float), a linear head', () => {
    const L = sn.layers;
    const inp = sn.input({ shape: [8, 8, 1] });
    const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(
      inp,
    ) as sn.SymbolicTensor;
    const shared = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' });
    const c2 = shared.apply(c1) as sn.SymbolicTensor;
    const c3 = shared.apply(c2) as sn.SymbolicTensor;
    const sum = L.add().apply([c1, c3]) as sn.SymbolicTensor;
    const flat = L.flatten().apply(sum) as sn.SymbolicTensor;
    const out = L.dense({ units: 3 }).apply(flat) as sn.SymbolicTensor;
    const g = sn.model({ inputs: inp, outputs: out, seed: 4 });
    live.push(g);
    const x = calibration();
    const q = quantizeModel(g, { calibration: x });
    x.dispose();
    live.push(q);
    expect(q.layers.map((l) => l.className)).toEqual([
      'InputLayer',
      'QuantizedConv2D',
      'Conv2D',
      'Add',
      'Flatten',
      'QuantizedDense',
    ]);
    // The linear outputs, in output quantization steps: within 4 of float32 on the calibration inputs (the
    // ranges cover them); on held-out inputs a value past a calibrated range is clipped, so there only the
    // mean error is bounded.
    const step = (q.layers[5] as sn.QuantizedDense).cfg.outputScale!;
    const errors = (inputs: sn.Tensor | typeof test.x) => {
      const [yf, yq] = [g.predict(inputs) as sn.Tensor, q.predict(inputs) as sn.Tensor];
      const [a, b] = [yf.dataSync() as Float32Array, yq.dataSync() as Float32Array];
      yf.dispose();
      yq.dispose();
      return Array.from(a, (v, i) => Math.abs(v - b[i]!) / step);
    };
    const xc = calibration();
    expect(Math.max(...errors(xc)), 'worst error on the calibration inputs').toBeLessThan(4);
    xc.dispose();
    const held = errors(test.x);
    expect(held.reduce((a, v) => a + v, 0) / held.length, 'mean error on held-out inputs').toBeLessThan(1);
  });

  it('bad options name what is wrong', () => {
    const x = calibration();
    expect(() => quantizeModel(model, { activations: 'int4' as never })).toThrow(
      /activations must be 'int8' or 'float32'/,
    );
    expect(() => quantizeModel(model, { calibration: x, percentile: 20 })).toThrow(
      /percentile must be a number in \(50, 100\], got 20/,
    );
    expect(() => quantizeModel(model, {})).toThrow(/calibration must be a tensor of shape \[N, 8,8,1\]/);
    const wrong = sn.tensor(new Float32Array(16), [1, 4, 4, 1]);
    expect(() => quantizeModel(model, { calibration: wrong })).toThrow(/got \[1,4,4,1\]/);
    wrong.dispose();
    x.dispose();
  });
});
