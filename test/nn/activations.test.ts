// The activations and global pooling as layers: `activation:` options of Dense / Conv2D / Activation
// compute the functional ops (and unknown names are refused), LeakyReLU and the global pooling layers
// (shapes, names, input rank), gradient checks of whole models through the tape (float32, h = 1e-2,
// rel < 1e-2), and a save → load round trip of models using the activations, LeakyReLU,
// BatchNormalization and both global pools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { distinctValues, makeRng } from '../helpers/check.js';
import { gradCheckTraining, oneHot } from './gradcheck-helpers.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
});

const L = sn.layers;
const host = (shape: number[], seed: number, lo = -1, hi = 1) => ({
  data: Float32Array.from(
    makeRng(seed).fill(
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  ),
  shape,
});

describe('activation options and layers', () => {
  const ops: Record<string, (t: sn.Tensor) => sn.Tensor> = {
    sigmoid: sn.sigmoid,
    tanh: sn.tanh,
    elu: (t) => sn.elu(t),
    gelu: sn.gelu,
  };
  for (const name of ['sigmoid', 'tanh', 'elu', 'gelu'] as const) {
    it(`Dense, Conv2D and Activation with activation '${name}' apply the op to the linear output (same bits)`, () => {
      const dense = track(
        sn.sequential({ seed: 1, layers: [L.dense({ units: 5, activation: name, inputShape: [4] })] }),
      );
      const lin = track(
        sn.sequential({
          seed: 1,
          layers: [L.dense({ units: 5, inputShape: [4] }), L.activation({ activation: name })],
        }),
      );
      const x = host([3, 4], 2, -3, 3);
      const a = dense.predict(x),
        b = lin.predict(x);
      const xt = sn.tensor(x.data, x.shape);
      const z = sn.dense(xt, dense.layers[0].weights[0].value, { bias: dense.layers[0].weights[1].value });
      const c = ops[name](z);
      expect(a.dataSync()).toEqual(b.dataSync());
      expect(a.dataSync()).toEqual(c.dataSync());
      const conv = track(
        sn.sequential({
          seed: 3,
          layers: [L.conv2d({ filters: 3, kernelSize: 2, activation: name, inputShape: [4, 4, 2] })],
        }),
      );
      const convLin = track(
        sn.sequential({
          seed: 3,
          layers: [L.conv2d({ filters: 3, kernelSize: 2, inputShape: [4, 4, 2] }), L.activation({ activation: name })],
        }),
      );
      const xi = host([2, 4, 4, 2], 4, -2, 2);
      const p = conv.predict(xi),
        q = convLin.predict(xi);
      expect(p.dataSync()).toEqual(q.dataSync());
      [a, b, xt, z, c, p, q].forEach((t) => t.dispose());
    });
  }

  it("LeakyReLU: Keras default alpha 0.3, name 'leaky_re_lu', x > 0 ? x : alpha x", () => {
    const m = track(
      sn.sequential({ seed: 1, layers: [L.leakyReLU({ inputShape: [4] }), L.leakyReLU({ alpha: 0.1 })] }),
    );
    expect(m.layers.map((l) => [l.name, l.className])).toEqual([
      ['leaky_re_lu', 'LeakyReLU'],
      ['leaky_re_lu_1', 'LeakyReLU'],
    ]);
    expect(m.layers[0].getConfig()).toEqual({ alpha: 0.3, name: 'leaky_re_lu', inputShape: [4] });
    const y = m.predict({ data: [2, -1, 0, -10], shape: [1, 4] });
    const f = Math.fround,
      a = f(0.3),
      b = f(0.1);
    expect(Array.from(y.dataSync())).toEqual([2, f(f(-1 * a) * b), 0, f(f(-10 * a) * b)]);
    y.dispose();
    expect(() => L.leakyReLU({ alpha: -1 })).toThrow(/LeakyReLU: alpha must be a non-negative number, got -1/);
    expect(m.countParams()).toBe(0);
  });

  it('Dense / Conv2D / Activation layers accept every activation name and reject others', () => {
    for (const a of ['sigmoid', 'tanh', 'elu', 'gelu', 'relu', 'linear', 'softmax'] as const) {
      expect(() => sn.layers.dense({ units: 2, activation: a })).not.toThrow();
      expect(() => sn.layers.conv2d({ filters: 2, kernelSize: 1, activation: a })).not.toThrow();
      expect(() => sn.layers.activation({ activation: a })).not.toThrow();
    }
    expect(() => sn.layers.dense({ units: 2, activation: 'mish' as never })).toThrow(
      /activation must be one of 'linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'gelu'/,
    );
  });
});

describe('gradient checks through the tape (float32, h = 1e-2, rel < 1e-2)', () => {
  it('Dense(sigmoid) → Dense(tanh) → Dense(elu) → Dense(gelu) → Dense(softmax)', () => {
    const model = track(
      sn.sequential({
        seed: 41,
        layers: [
          L.dense({ units: 6, activation: 'sigmoid', inputShape: [5], biasInitializer: 'ones' }),
          L.dense({ units: 6, activation: 'tanh' }),
          L.dense({ units: 5, activation: 'elu' }),
          L.dense({ units: 5, activation: 'gelu' }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    gradCheckTraining(model, host([6, 5], 42, -2, 2), oneHot(6, 3), 3);
  });

  it('Conv2D(1x1, tanh) → GlobalMaxPooling2D → Dense(softmax), no near-tie for any maximum', () => {
    const mk = (extra: sn.Layer[]) =>
      sn.sequential({
        seed: 43,
        layers: [L.conv2d({ filters: 3, kernelSize: 1, activation: 'tanh', inputShape: [2, 2, 2] }), ...extra],
      });
    const model = track(mk([L.globalMaxPooling2D(), L.dense({ units: 3, activation: 'softmax' })]));
    const x = { data: Float32Array.from(distinctValues(2 * 4 * 2, makeRng(44))), shape: [2, 2, 2, 2] };
    // Precondition (seed chosen for it): a step h on a conv weight moves a tanh output by at most h · max(1, |x|), so in
    // every image and channel the maximum must beat the runner-up by twice that.
    const probe = track(mk([]));
    const z = probe.predict(x);
    const zs = z.dataSync();
    z.dispose();
    const reach = 1e-2 * Math.max(1, ...Array.from(x.data, Math.abs));
    let gap = Infinity;
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++) {
        const v = Array.from({ length: 4 }, (_, p) => zs[(n * 4 + p) * 3 + c]).sort((a, b) => b - a);
        gap = Math.min(gap, v[0] - v[1]);
      }
    expect(gap).toBeGreaterThan(2 * reach);
    gradCheckTraining(model, x, oneHot(2, 3), 4);
  });

  it('Conv2D → LeakyReLU → GlobalAveragePooling2D → Dense(softmax), no pre-activation within a step of the kink', () => {
    const mk = (extra: sn.Layer[]) =>
      sn.sequential({ seed: 47, layers: [L.conv2d({ filters: 3, kernelSize: 2, inputShape: [3, 3, 2] }), ...extra] });
    const model = track(
      mk([L.leakyReLU({ alpha: 0.2 }), L.globalAveragePooling2D(), L.dense({ units: 3, activation: 'softmax' })]),
    );
    const x = host([2, 3, 3, 2], 46);
    // Precondition (seed chosen for it): a step h on a conv weight or bias moves a pre-activation by
    // at most h · max(1, |x|) = 1e-2, so every one must be farther than that from the kink at 0.
    const probe = track(mk([]));
    const z = probe.predict(x);
    const zs = Array.from(z.dataSync());
    z.dispose();
    expect(Math.min(...zs.map(Math.abs))).toBeGreaterThan(0.02);
    expect(zs.filter((v) => v < 0).length).toBeGreaterThan(4);
    expect(zs.filter((v) => v > 0).length).toBeGreaterThan(4);
    gradCheckTraining(model, x, oneHot(2, 3), 5);
  });
});

describe('save → load with the activations, LeakyReLU, BatchNormalization and the global pools', () => {
  it('summary, weights, state and predictions survive the round trip', async () => {
    const m = track(
      sn.sequential({
        seed: 51,
        layers: [
          L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'elu', inputShape: [6, 6, 1] }),
          L.batchNormalization({ momentum: 0.9 }),
          L.leakyReLU(),
          L.conv2d({ filters: 4, kernelSize: 3, activation: 'gelu' }),
          L.globalMaxPooling2D(),
          L.dense({ units: 8, activation: 'tanh' }),
          L.batchNormalization(),
          L.activation({ activation: 'sigmoid' }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    const m2 = track(
      sn.sequential({
        seed: 52,
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, inputShape: [6, 6, 1] }),
          L.globalAveragePooling2D(),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    const x = host([24, 6, 6, 1], 53),
      y = { data: Float32Array.from({ length: 24 }, (_, i) => i % 3), shape: [24] };
    for (const model of [m, m2]) {
      model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      await model.fit(x, y, { epochs: 1, batchSize: 6, verbose: 0 });
      const loaded = track(sn.loadModel(model.save()));
      expect(loaded.summary(null)).toBe(model.summary(null));
      const a = model.getWeights(),
        b = loaded.getWeights();
      expect(b.map((t) => Array.from(t.dataSync()))).toEqual(a.map((t) => Array.from(t.dataSync())));
      [...a, ...b].forEach((t) => t.dispose());
      const pa = model.predict(x),
        pb = loaded.predict(x);
      expect(pb.dataSync()).toEqual(pa.dataSync());
      pa.dispose();
      pb.dispose();
    }
    expect(m.summary(null)).toMatch(/ global_max_pooling2d \(GlobalMaxPooling2D\) \(None, 4\)\s+0\n/);
    expect(m.summary(null)).toMatch(/ leaky_re_lu \(LeakyReLU\)\s+\(None, 6, 6, 4\)\s+0\n/);
  });
});

describe('global pooling layers', () => {
  it('globalAveragePooling2D / globalMaxPooling2D layers: [N,H,W,C] -> [N,C], names, configs', () => {
    const m = sn.sequential({
      seed: 1,
      layers: [
        sn.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [5, 5, 2] }),
        sn.layers.globalAveragePooling2D(),
        sn.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    expect(m.shapes()).toEqual([[3, 3, 3], [3], [2]]);
    expect(m.layers[1]!.name).toBe('global_average_pooling2d');
    const m2 = sn.sequential({ seed: 1, layers: [sn.layers.globalMaxPooling2D({ inputShape: [4, 3, 6] })] });
    expect(m2.layers[0]!.name).toBe('global_max_pooling2d');
    expect(m2.outputShape).toEqual([6]);
    expect(() => sn.sequential({ layers: [sn.layers.globalMaxPooling2D({ inputShape: [4, 6] })] }).shapes()).toThrow(
      /expected input of shape \[height, width, channels\]/,
    );
    m.dispose();
    m2.dispose();
  });
});
