// sn.quantize fuses a ReLU / ReLU6 / Activation('relu') layer that alone reads a linear Conv2D, DepthwiseConv2D
// or Dense into the int8 layer (as imported ONNX graphs keep Conv and Relu / Clip apart): the quantized model
// has no float ReLU layer left and predicts exactly as the quantized model of the same network with the
// activations written into the layers. A ReLU that is not plain (slope), or whose input is read elsewhere
// too, stays a float layer. The float model is left unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M): M => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
});
beforeAll(async () => {
  await sn.ready();
});

function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (2 * s) / 2 ** 32 - 1;
  });
}

const SHAPE = [7, 7, 3];
const PIX = 7 * 7 * 3;

function predict(m: sn.Model, x: Float32Array, n: number): Float32Array {
  const p = m.predict({ data: x, shape: [n, ...SHAPE] }, { batchSize: n });
  const d = Float32Array.from(p.dataSync());
  p.dispose();
  return d;
}

function quantized(m: sn.Model): sn.Model {
  const cal = sn.tensor(uniform(24 * PIX, 5), [24, ...SHAPE]);
  try {
    return track(sn.quantize(m, { calibration: cal, activations: 'int8', batchSize: 8 }));
  } finally {
    cal.dispose();
  }
}

// The same network with the activations as separate layers (split) or inside the layers (fused).
function net(split: boolean): sn.Model {
  const L = sn.layers;
  const act = (a: 'relu' | 'relu6') => (split ? 'linear' : a);
  const layers: sn.Layer[] = [
    L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: act('relu6'), inputShape: SHAPE }),
    ...(split ? [L.reLU({ maxValue: 6 })] : []),
    new sn.DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'same', activation: act('relu') }),
    ...(split ? [L.activation({ activation: 'relu' })] : []),
    L.flatten(),
    L.dense({ units: 10, activation: act('relu') }),
    ...(split ? [L.reLU()] : []),
    L.dense({ units: 4 }),
  ];
  const m = track(sn.sequential({ seed: 3, layers }));
  m.build();
  return m;
}

describe('quantize: ReLU layers fused into the int8 layers', () => {
  it('the split network quantizes to the fused one, prediction for prediction', () => {
    const split = net(true);
    const fused = net(false);
    fused.setWeights(split.getWeights());
    const x = uniform(6 * PIX, 17);
    const before = predict(split, x, 6);
    const qs = quantized(split);
    const qf = quantized(fused);
    const classes = qs.layers.map((l) => l.className);
    expect(classes).not.toContain('ReLU');
    expect(classes).not.toContain('Activation');
    expect(qs.layers.filter((l) => l.className.startsWith('Quantized')).map((l) => l.activation)).toEqual([
      'relu6',
      'relu',
      'relu',
      'linear',
    ]);
    const ys = predict(qs, x, 6);
    expect(ys).toEqual(predict(qf, x, 6));
    // int8 still near float: within a few output steps of the last layer
    const step = (qs.layers.at(-1) as unknown as { cfg: { outputScale: number } }).cfg.outputScale;
    let d = 0;
    for (let i = 0; i < ys.length; i++) d = Math.max(d, Math.abs(ys[i]! - before[i]!));
    expect(d).toBeLessThan(8 * step);
    // the float model is untouched
    expect(split.layers.filter((l) => l.className === 'ReLU')).toHaveLength(2);
    expect(predict(split, x, 6)).toEqual(before);
  });

  it('a leaky ReLU, and a ReLU whose input is also read by an Add, stay float layers', () => {
    // the graph, its last ReLU a layer of its own (split) or the last convolution's activation
    const graph = (split: boolean) => {
      const L = sn.layers;
      const inp = sn.input({ shape: SHAPE });
      const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(inp) as sn.SymbolicTensor;
      const r1 = L.reLU({ name: 'branch_relu' }).apply(c1) as sn.SymbolicTensor;
      const sum = L.add().apply([c1, r1]) as sn.SymbolicTensor;
      const c2 = L.conv2d({ filters: 4, kernelSize: 1 }).apply(sum) as sn.SymbolicTensor;
      const r2 = L.reLU({ negativeSlope: 0.1, name: 'leaky' }).apply(c2) as sn.SymbolicTensor;
      const c3 = L.conv2d({ filters: 4, kernelSize: 1, activation: split ? 'linear' : 'relu' }).apply(r2);
      const out = split ? (L.reLU({ name: 'fused_relu' }).apply(c3) as sn.SymbolicTensor) : c3;
      const m = track(sn.model({ inputs: inp, outputs: out as sn.SymbolicTensor, seed: 11 }));
      m.build();
      return m;
    };
    const m = graph(true);
    const inside = graph(false);
    inside.setWeights(m.getWeights());
    const q = quantized(m);
    const relus = q.layers.filter((l) => l.className === 'ReLU').map((l) => l.name);
    expect(relus.sort()).toEqual(['branch_relu', 'leaky']);
    expect(q.layers.filter((l) => l.className === 'QuantizedConv2D').map((l) => l.activation)).toEqual([
      'linear',
      'linear',
      'relu',
    ]);
    // the fused ReLU computes what the convolution's own relu does, prediction for prediction
    const x = uniform(4 * PIX, 23);
    const yq = predict(q, x, 4);
    expect(yq).toEqual(predict(quantized(inside), x, 4));
    // and the int8 model computes something: not the float model's bits, and not all zero
    expect(yq).not.toEqual(predict(m, x, 4));
    expect(yq.some((v) => v > 0)).toBe(true);
  });
});
