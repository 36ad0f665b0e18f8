// Layers through the model API: finite-difference gradient checks of whole tiny nets through the
// library's own training step (tape, fused softmax cross-entropy), pooling, dropout, activation,
// parameter counts, output shapes and config errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { distinctValues, makeRng, relErr } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});

const models: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  models.push(m);
  return m;
};
afterAll(() => {
  for (const m of models) m.dispose();
});

// STYLE tier 4 (float32 end to end): step h = 1e-2, relative error < 1e-2.
const H = 1e-2;
const MAX_REL = 1e-2;
// Gradients smaller than this are compared absolutely: float32 rounding of the loss (~1e-7) over 2h.
const ABS_FLOOR = 2e-4;
const PER_ARRAY = 20;

// One-hot labels for N examples over K classes, class i % K.
function oneHot(N: number, K: number): { data: Float32Array; shape: number[] } {
  const d = new Float32Array(N * K);
  for (let i = 0; i < N; i++) d[i * K + ((i * 7 + 1) % K)] = 1;
  return { data: d, shape: [N, K] };
}

// model, batch (x, y), seed -> checks the tape's gradient of the mean cross-entropy w.r.t. ~20
// elements of every weight array against central differences of evaluate().
function gradCheck(
  model: sn.Sequential,
  x: { data: Float32Array; shape: number[] },
  y: { data: Float32Array; shape: number[] },
  seed: number,
): void {
  const N = x.shape[0];
  model.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'categoricalCrossentropy' });
  const before = model.getWeights();
  const saved = before.map((t) => t.dataSync() as Float32Array);
  before.forEach((t) => t.dispose());
  model.trainOnBatch(x, y);
  const params = model.params();
  const analytic = params.map((p) => p.grad.dataSync() as Float32Array);
  // Undo the (negligible) lr 1e-9 step so the differences are taken at the point of the gradient.
  model.setWeights(saved);
  const loss = () => model.evaluate(x, y, { batchSize: N })[0];
  const rng = makeRng(seed);
  let checked = 0,
    large = 0;
  const failures: string[] = [];
  params.forEach((p, pi) => {
    const n = p.value.size;
    const picks =
      n <= PER_ARRAY
        ? Array.from({ length: n }, (_, i) => i)
        : Array.from({ length: PER_ARRAY }, () => Math.floor(rng.next() * n));
    for (const j of picks) {
      const old = p.value.view()[j];
      p.value.view()[j] = old + H;
      const fp = loss();
      p.value.view()[j] = old - H;
      const fm = loss();
      p.value.view()[j] = old;
      const num = (fp - fm) / (2 * H);
      const a = analytic[pi][j];
      checked++;
      if (Math.abs(a) > 1e-3) large++;
      const ok = Math.abs(a - num) <= ABS_FLOOR || relErr(a, num) < MAX_REL;
      if (!ok) failures.push(`${p.name}[${j}]: tape ${a}, numeric ${num}, rel ${relErr(a, num).toExponential(2)}`);
    }
  });
  expect(failures, failures.slice(0, 8).join('\n')).toEqual([]);
  // The check is not vacuous: most sampled gradients are well above the absolute floor.
  expect(large).toBeGreaterThan(checked / 2);
  // The weights are exactly as before (perturbations restored).
  model.getWeights().forEach((t, i) => {
    expect(t.dataSync()).toEqual(saved[i]);
    t.dispose();
  });
}

// N examples of shape [H, W, C] with values pairwise distinct, away from 0, |v| <= ~1 (distinctValues).
function distinctInput(shape: number[], seed: number): { data: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from(distinctValues(n, makeRng(seed))), shape };
}

// Precondition of a finite-difference check through relu and max pooling: no kink within reach of a
// step. Perturbing a weight of the first layer by h moves each of its pre-activations by at most
// h * max(1, max|x|), so every pre-activation must be farther than that from 0 and, in every 2x2 max
// window (when `pool2`), the largest value must beat the runner-up by twice that.
// (Seeds below were chosen to satisfy it; this asserts they still do.)
function expectNoKinksNearby(model: sn.Sequential, x: { data: Float32Array; shape: number[] }, pool2: boolean): void {
  let off = 0;
  const first = model.layers[0];
  const Cls = first.constructor as new (cfg: Record<string, unknown>) => sn.Layer;
  const probe = sn.sequential({
    seed: 1,
    layers: [new Cls({ ...first.getConfig(), activation: 'linear', name: 'probe' })],
  });
  probe.setWeights(first.weights.map((w) => w.value.dataSync() as Float32Array));
  const zt = probe.predict(x);
  const z = zt.dataSync(),
    shape = zt.shape;
  zt.dispose();
  probe.dispose();
  let maxX = 1;
  for (const v of x.data) maxX = Math.max(maxX, Math.abs(v));
  const reach = H * maxX;
  let reluMin = Infinity;
  for (const v of z) {
    reluMin = Math.min(reluMin, Math.abs(v));
    if (v < 0) off++;
  }
  expect(reluMin, 'a pre-activation lies within a step of the relu kink').toBeGreaterThan(reach);
  // Both sides of the relu occur, so the mask is exercised.
  expect(off).toBeGreaterThan(z.length / 10);
  expect(off).toBeLessThan(z.length * 0.9);
  if (!pool2) return;
  const [N, OH, OW, K] = shape;
  let gapMin = Infinity;
  for (let n = 0; n < N; n++)
    for (let i = 0; i + 1 < OH; i += 2)
      for (let j = 0; j + 1 < OW; j += 2)
        for (let k = 0; k < K; k++) {
          const w = [
            [i, j],
            [i + 1, j],
            [i, j + 1],
            [i + 1, j + 1],
          ]
            .map(([a, b]) => Math.max(0, z[((n * OH + a) * OW + b) * K + k]))
            .sort((a, b) => b - a);
          if (w[0] > 0) gapMin = Math.min(gapMin, w[0] - w[1]);
        }
  expect(gapMin, 'a max-pool window has a near tie').toBeGreaterThan(2 * reach);
}

describe('gradient checks through trainOnBatch (float32, h = 1e-2, rel < 1e-2)', () => {
  it("Conv2D(relu, 'same') → MaxPooling2D → Flatten → Dense(softmax)", () => {
    const L = sn.layers;
    const model = track(
      sn.sequential({
        seed: 7,
        layers: [
          L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [4, 4, 2] }),
          L.maxPooling2d({ poolSize: 2 }),
          L.flatten(),
          L.dense({ units: 4, activation: 'softmax', biasInitializer: 'ones' }),
        ],
      }),
    );
    model.build();
    const x = distinctInput([2, 4, 4, 2], 101);
    expectNoKinksNearby(model, x, true);
    gradCheck(model, x, oneHot(2, 4), 1);
  });

  it("Conv2D(linear, [3, 2], strides 2, 'valid') → Activation(relu) → AveragePooling2D(stride 1) → Flatten → Dense(no bias) → Activation(softmax)", () => {
    const L = sn.layers;
    const model = track(
      sn.sequential({
        seed: 12,
        layers: [
          L.conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'valid', inputShape: [7, 6, 2] }),
          L.activation({ activation: 'relu' }),
          L.averagePooling2d({ poolSize: 2, strides: 1 }),
          L.flatten(),
          L.dense({ units: 3, useBias: false }),
          L.activation({ activation: 'softmax' }),
        ],
      }),
    );
    expect(model.shapes()).toEqual([[3, 3, 4], [3, 3, 4], [2, 2, 4], [16], [3], [3]]);
    model.build();
    const x = distinctInput([2, 7, 6, 2], 102);
    expectNoKinksNearby(model, x, false);
    gradCheck(model, x, oneHot(2, 3), 2);
  });

  it('Dense(relu) → Dense(softmax) with sparse labels gives the same gradients as one-hot labels', () => {
    const L = sn.layers;
    const mk = () =>
      track(
        sn.sequential({
          seed: 13,
          layers: [
            L.dense({ units: 5, activation: 'relu', inputShape: [6] }),
            L.dense({ units: 3, activation: 'softmax' }),
          ],
        }),
      );
    const x = distinctInput([5, 6], 103);
    const labels = [0, 2, 1, 1, 0];
    const oh = new Float32Array(15);
    labels.forEach((c, i) => {
      oh[i * 3 + c] = 1;
    });
    const a = mk(),
      b = mk();
    a.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'categoricalCrossentropy' });
    b.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'sparseCategoricalCrossentropy' });
    expectNoKinksNearby(a, x, false);
    const [la] = a.trainOnBatch(x, { data: oh, shape: [5, 3] });
    const [lb] = b.trainOnBatch(x, { data: Float32Array.from(labels), shape: [5] });
    expect(lb).toBe(la);
    a.params().forEach((p, i) => expect(b.params()[i].grad.dataSync(), p.name).toEqual(p.grad.dataSync()));
    gradCheck(a, x, { data: oh, shape: [5, 3] }, 3);
  });
});

describe('AveragePooling2D and MaxPooling2D layers', () => {
  it('average pooling computes window means; max pooling window maxima', () => {
    const x = sn.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 4, 4, 1]);
    const rng = new sn.Rng(1);
    const call = (l: sn.Layer, t: sn.Tensor) => l.call(t, { training: false, rng });
    const avg = new sn.AveragePooling2D({ poolSize: 2 });
    const max = new sn.MaxPooling2D({ poolSize: 2 });
    expect(avg.computeOutputShape([4, 4, 1])).toEqual([2, 2, 1]);
    const ya = call(avg, x);
    const ym = call(max, x);
    expect(Array.from(ya.dataSync())).toEqual([3.5, 5.5, 11.5, 13.5]);
    expect(Array.from(ym.dataSync())).toEqual([6, 8, 14, 16]);
    // 'same' padding with stride 1: padding is not counted in the average.
    const same = new sn.AveragePooling2D({ poolSize: 2, strides: 1, padding: 'same' });
    expect(same.computeOutputShape([4, 4, 1])).toEqual([4, 4, 1]);
    const ys = call(same, x);
    expect(ys.dataSync()[15]).toBe(16);
    expect(ys.dataSync()[3]).toBe((4 + 8) / 2);
    [x, ya, ym, ys].forEach((t) => t.dispose());
    expect(avg.countParams() + max.countParams()).toBe(0);
  });
});

describe('Dropout', () => {
  it('training: about half the values are zeroed and the rest scaled by 2; inference: identity', () => {
    const n = 10000;
    const x = sn.tensor(
      Float32Array.from({ length: n }, (_, i) => 1 + (i % 7)),
      [10, n / 10],
    );
    const d = new sn.Dropout({ rate: 0.5 });
    const y = d.call(x, { training: true, rng: new sn.Rng(42) });
    const xv = x.dataSync(),
      yv = y.dataSync();
    let zeros = 0,
      bad = 0;
    for (let i = 0; i < n; i++) {
      if (yv[i] === 0) zeros++;
      else if (yv[i] !== 2 * xv[i]) bad++;
    }
    expect(bad).toBe(0);
    // Binomial(10000, 0.5): sd 50, so ±300 is six sigma.
    expect(zeros).toBeGreaterThan(4700);
    expect(zeros).toBeLessThan(5300);
    // Same RNG state → same mask; a different one → a different mask.
    const y2 = d.call(x, { training: true, rng: new sn.Rng(42) });
    expect(y2.dataSync()).toEqual(yv);
    const y3 = d.call(x, { training: true, rng: new sn.Rng(43) });
    expect(y3.dataSync()).not.toEqual(yv);
    const yi = d.call(x, { training: false, rng: new sn.Rng(42) });
    expect(yi.dataSync()).toEqual(xv);
    [x, y, y2, y3, yi].forEach((t) => t.dispose());
    expect(new sn.Dropout({ rate: 0.25 }).countParams()).toBe(0);
  });

  it('predict with a Dropout layer equals predict without it (same weights)', () => {
    const L = sn.layers;
    const withDrop = track(
      sn.sequential({
        seed: 21,
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', inputShape: [5, 5, 1] }),
          L.flatten(),
          L.dropout({ rate: 0.5 }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    const without = track(
      sn.sequential({
        seed: 22,
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', inputShape: [5, 5, 1] }),
          L.flatten(),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    const w = withDrop.getWeights();
    without.setWeights(w);
    w.forEach((t) => t.dispose());
    const x = { data: Float32Array.from(makeRng(5).fill(4 * 25, -1, 1)), shape: [4, 5, 5, 1] };
    const a = withDrop.predict(x),
      b = without.predict(x);
    expect(a.dataSync()).toEqual(b.dataSync());
    // Training mode does use the mask: trainOnBatch's loss differs from evaluate's at the same weights.
    withDrop.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'categoricalCrossentropy' });
    const y = oneHot(4, 3);
    const [evalLoss] = withDrop.evaluate(x, y);
    const [trainLoss] = withDrop.trainOnBatch(x, y);
    expect(trainLoss).not.toBe(evalLoss);
    a.dispose();
    b.dispose();
  });
});

describe('Activation layer', () => {
  it("'relu' and 'softmax' compute the functions; predict applies a final softmax", () => {
    const rng = new sn.Rng(1);
    const x = sn.tensor([-2, -0.5, 0, 0.5, 3, 1], [2, 3]);
    const r = new sn.Activation({ activation: 'relu' }).call(x, { training: false, rng });
    expect(Array.from(r.dataSync())).toEqual([0, 0, 0, 0.5, 3, 1]);
    const s = new sn.Activation({ activation: 'softmax' }).call(x, { training: false, rng });
    const e = [
      [-2, -0.5, 0],
      [0.5, 3, 1],
    ].flatMap((row) => {
      const z = row.map(Math.exp);
      const t = z[0] + z[1] + z[2];
      return z.map((v) => v / t);
    });
    Array.from(s.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(e[i], 6));
    const model = track(
      sn.sequential({
        seed: 3,
        layers: [sn.layers.dense({ units: 3, inputShape: [3] }), sn.layers.activation({ activation: 'softmax' })],
      }),
    );
    const p = model.predict(x);
    const pv = p.dataSync();
    expect(pv[0] + pv[1] + pv[2]).toBeCloseTo(1, 6);
    expect(pv[3] + pv[4] + pv[5]).toBeCloseTo(1, 6);
    expect(model.layers[1].countParams()).toBe(0);
    [x, r, s, p].forEach((t) => t.dispose());
  });
});

describe('parameter counts and shapes', () => {
  it('Dense without bias has only a kernel', () => {
    const model = track(
      sn.sequential({
        seed: 1,
        layers: [
          sn.layers.dense({ units: 7, useBias: false, inputShape: [5] }),
          sn.layers.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    model.build();
    expect(model.layers[0].countParams()).toBe(35);
    expect(model.layers[1].countParams()).toBe(7 * 3 + 3);
    expect(model.countParams()).toBe(35 + 24);
    expect(model.params().map((p) => p.name)).toEqual(['dense/kernel', 'dense_1/kernel', 'dense_1/bias']);
    const c = track(
      sn.sequential({
        seed: 1,
        layers: [sn.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false, inputShape: [5, 5, 2] })],
      }),
    );
    expect(c.countParams()).toBe(3 * 3 * 2 * 4);
  });

  it("Conv2D with strides 2 and 'valid' padding: floor((n - k) / 2) + 1", () => {
    const conv = new sn.Conv2D({ filters: 5, kernelSize: 3, strides: 2, padding: 'valid' });
    expect(conv.computeOutputShape([9, 9, 1])).toEqual([4, 4, 5]);
    expect(conv.computeOutputShape([10, 7, 3])).toEqual([4, 3, 5]);
    const same = new sn.Conv2D({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' });
    expect(same.computeOutputShape([9, 9, 1])).toEqual([5, 5, 5]);
    const model = track(
      sn.sequential({
        seed: 1,
        layers: [sn.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, inputShape: [9, 9, 1] })],
      }),
    );
    const y = model.predict({ data: new Float32Array(2 * 81).fill(1), shape: [2, 9, 9, 1] });
    expect(y.shape).toEqual([2, 4, 4, 5]);
    y.dispose();
    expect(() => conv.computeOutputShape([2, 2, 1])).toThrow();
    expect(() => conv.computeOutputShape([9, 9])).toThrow(/\[height, width, channels\]/);
    expect(() => new sn.Dense({ units: 3 }).computeOutputShape([4, 4, 1])).toThrow(/Flatten/);
  });
});

describe('config errors', () => {
  it.each([
    [
      'Conv2D filters 0',
      () => new sn.Conv2D({ filters: 0, kernelSize: 3 }),
      /Conv2D: filters must be a positive integer, got 0/,
    ],
    [
      'Conv2D kernelSize -1',
      () => new sn.Conv2D({ filters: 2, kernelSize: -1 }),
      /Conv2D: kernelSize must be a positive integer, got -1/,
    ],
    [
      'Conv2D kernelSize [3]',
      () => new sn.Conv2D({ filters: 2, kernelSize: [3] as unknown as number }),
      /kernelSize must be a number or \[rows, cols\]/,
    ],
    [
      'Conv2D strides 0',
      () => new sn.Conv2D({ filters: 2, kernelSize: 3, strides: 0 }),
      /strides must be a positive integer/,
    ],
    [
      "Conv2D padding 'full'",
      () => new sn.Conv2D({ filters: 2, kernelSize: 3, padding: 'full' as 'same' }),
      /padding must be 'valid' or 'same', got "full"/,
    ],
    [
      "MaxPooling2D padding 'full'",
      () => new sn.MaxPooling2D({ padding: 'full' as 'same' }),
      /MaxPooling2D: padding must be 'valid' or 'same'/,
    ],
    [
      'Conv2D activation mish',
      () => new sn.Conv2D({ filters: 2, kernelSize: 3, activation: 'mish' as 'relu' }),
      /activation must be one of 'linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'gelu', 'swish', 'silu', 'relu6', 'hardSigmoid', 'hardSwish', got "mish"/,
    ],
    ['Dense units 1.5', () => new sn.Dense({ units: 1.5 }), /Dense: units must be a positive integer, got 1.5/],
    [
      'Dense unknown initializer',
      () =>
        sn
          .sequential({ layers: [new sn.Dense({ units: 2, kernelInitializer: 'normal' as 'zeros', inputShape: [2] })] })
          .build(),
      /unknown initializer "normal"/,
    ],
    ['Dropout rate 1', () => new sn.Dropout({ rate: 1 }), /Dropout: rate must be a number in \[0, 1\), got 1/],
    ['Dropout rate -0.1', () => new sn.Dropout({ rate: -0.1 }), /rate must be a number in \[0, 1\)/],
    ['Activation mish', () => new sn.Activation({ activation: 'mish' as 'relu' }), /Activation: activation must be/],
    ['inputShape with 0', () => new sn.Dense({ units: 2, inputShape: [0] }), /inputShape must be positive integers/],
  ])('%s', (_name, make, re) => {
    expect(make).toThrow(re);
  });
});
