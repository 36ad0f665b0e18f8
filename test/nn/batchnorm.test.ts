// BatchNormalization through the model API: weights and state, summary, training vs inference
// statistics, batch-of-1 rules, finite-difference gradient checks through the tape (float32,
// h = 1e-2, rel < 1e-2, training-mode loss), thread-count independence, a flat arena, and the model
// file (state saved, exact resume with RMSprop).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { batchNormForward, updateMoving } from '../ref/batchnorm.js';
import { bars, weightArrays, weightsHash } from './fixtures.js';
import { gradCheckTraining, oneHot } from './gradcheck-helpers.js';
import { crc32 } from '../../src/formats/simdnet/crc32.js';

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
const f32 = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from(makeRng(seed).fill(n, lo, hi));

// 8x8x1 → conv 4 3x3 → BN → relu → maxpool 2 → flatten → dense 3 softmax
function bnModel(seed?: number, extra: sn.Layer[] = []): sn.Sequential {
  return sn.sequential({
    seed,
    layers: [
      L.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1] }),
      L.batchNormalization(),
      L.activation({ activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      ...extra,
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

describe('BatchNormalization layer', () => {
  it('weights (gamma, beta), state (moving_mean, moving_variance), names, Keras getWeights order and summary', () => {
    const m = track(
      sn.sequential({
        seed: 1,
        layers: [
          L.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1] }),
          L.batchNormalization(),
          L.activation({ activation: 'relu' }),
          L.maxPooling2d(),
          L.flatten(),
          L.dense({ units: 8 }),
          L.batchNormalization({ center: false }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    expect(m.shapes()).toEqual([[6, 6, 4], [6, 6, 4], [6, 6, 4], [3, 3, 4], [36], [8], [8], [3]]);
    expect(m.layers.map((l) => l.name)).toEqual([
      'conv2d',
      'batch_normalization',
      'activation',
      'max_pooling2d',
      'flatten',
      'dense',
      'batch_normalization_1',
      'dense_1',
    ]);
    expect(m.params().map((p) => p.name)).toEqual([
      'conv2d/kernel',
      'conv2d/bias',
      'batch_normalization/gamma',
      'batch_normalization/beta',
      'dense/kernel',
      'dense/bias',
      'batch_normalization_1/gamma',
      'dense_1/kernel',
      'dense_1/bias',
    ]);
    expect(m.stateWeights().map((p) => p.name)).toEqual([
      'batch_normalization/moving_mean',
      'batch_normalization/moving_variance',
      'batch_normalization_1/moving_mean',
      'batch_normalization_1/moving_variance',
    ]);
    // Keras get_weights: per layer, trainable then non-trainable; initial gamma 1, beta 0, mean 0, variance 1.
    const w = weightArrays(m);
    expect(w.map((a) => a.length)).toEqual([36, 4, 4, 4, 4, 4, 288, 8, 8, 8, 8, 24, 3]);
    expect(Array.from(w[2])).toEqual([1, 1, 1, 1]);
    expect(Array.from(w[3])).toEqual([0, 0, 0, 0]);
    expect(Array.from(w[4])).toEqual([0, 0, 0, 0]);
    expect(Array.from(w[5])).toEqual([1, 1, 1, 1]);
    // conv 40, BN 4·4 = 16 (8 trainable), dense 296, BN(scale only) 8 + 16 state, dense_1 27.
    expect(m.countParams()).toBe(403);
    expect(m.countTrainableParams()).toBe(379);
    const text = m.summary(null);
    expect(text).toContain('Total params: 403\nTrainable params: 379\nNon-trainable params: 24');
    const row = text.split('\n').find((l) => l.startsWith(' batch_normalization (BatchNormalization)'))!;
    expect(row).toMatch(/^ batch_normalization \(BatchNormalization\) \(None, 6, 6, 4\)\s+16$/);
    expect(text.split('\n').find((l) => l.startsWith(' batch_normalization_1 '))).toMatch(/\(None, 8\)\s+24$/);
    // setWeights takes the same order back.
    const ws = m.getWeights();
    m.setWeights(ws);
    ws.forEach((t) => t.dispose());
  });

  it('config: Keras defaults, getConfig, errors', () => {
    const bn = new sn.BatchNormalization();
    expect(bn.getConfig()).toEqual({
      axis: -1,
      momentum: 0.99,
      epsilon: 1e-3,
      center: true,
      scale: true,
      name: '',
      inputShape: undefined,
    });
    expect(new sn.BatchNormalization({ axis: 3 }).computeOutputShape([5, 5, 2])).toEqual([5, 5, 2]);
    expect(() => new sn.BatchNormalization({ axis: 1 }).computeOutputShape([5, 5, 2])).toThrow(
      /only the last axis can be normalized \(axis -1 or 3 for input \[None, 5,5,2\]\), got axis 1/,
    );
    expect(() => new sn.BatchNormalization({ momentum: 1.5 })).toThrow(/momentum must be a number in \[0, 1\]/);
    expect(() => new sn.BatchNormalization({ epsilon: 0 })).toThrow(/epsilon must be a positive number/);
    expect(() => new sn.BatchNormalization({ axis: 0.5 })).toThrow(/axis must be an integer/);
  });

  it('training uses batch statistics and updates the moving ones (biased variance); predict/evaluate use the moving ones', () => {
    const F = 5,
      N = 6;
    const m = track(
      sn.sequential({
        seed: 2,
        layers: [
          L.batchNormalization({ momentum: 0.9, inputShape: [F] }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    m.compile({ optimizer: new sn.SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const x = f32(N * F, 3, -2, 4);
    const y = { data: Float32Array.from([0, 1, 2, 0, 1, 2]), shape: [N] };
    const ref = batchNormForward(x, N, F, null, null, 1e-3, true);
    m.trainOnBatch({ data: x, shape: [N, F] }, y);
    const [, , mm, mv] = weightArrays(m);
    expectCloseArr(mm, updateMoving(new Float64Array(F), ref.mean, 0.9), 1e-6, 'moving mean');
    expectCloseArr(mv, updateMoving(new Float64Array(F).fill(1), ref.variance, 0.9), 1e-6, 'moving variance');
    // A BN-only model with these weights: predict normalizes with the moving statistics ...
    const w = weightArrays(m).slice(0, 4);
    const only = track(sn.sequential({ seed: 3, layers: [L.batchNormalization({ inputShape: [F] })] }));
    only.setWeights(w);
    const p = only.predict({ data: x, shape: [N, F] });
    expectCloseArr(
      p.dataSync(),
      batchNormForward(x, N, F, w[0], w[1], 1e-3, false, mm, mv).out,
      4e-6,
      'predict (inference)',
    );
    // ... also for a batch of 1, with the same bits as row 0 of the full batch.
    const p1 = only.predict({ data: x.subarray(0, F), shape: [1, F] });
    expect(p1.dataSync()).toEqual(p.dataSync().slice(0, F));
    // In training mode the same layer normalizes with the batch statistics.
    const xt = sn.tensor(x, [N, F]);
    const yt = only.layers[0].call(xt, { training: true, rng: new sn.Rng(1) });
    expectCloseArr(yt.dataSync(), batchNormForward(x, N, F, w[0], w[1], 1e-3, true).out, 4e-6, 'training call');
    // predict did not move the statistics; the training call did.
    expect(weightArrays(only)[2]).not.toEqual(mm);
    [p, p1, xt, yt].forEach((t) => t.dispose());
    // evaluate (inference) differs from the training-mode loss of the same weights.
    const m2 = track(
      sn.sequential({
        seed: 2,
        layers: [L.batchNormalization({ inputShape: [F] }), L.dense({ units: 3, activation: 'softmax' })],
      }),
    );
    m2.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'sparseCategoricalCrossentropy' });
    const [evalLoss] = m2.evaluate({ data: x, shape: [N, F] }, y);
    const [trainLoss] = m2.trainOnBatch({ data: x, shape: [N, F] }, y);
    expect(trainLoss).not.toBe(evalLoss);
  });

  it('a batch of 1 in training is a clear error (weights untouched); predict with a batch of 1 works', async () => {
    const F = 4;
    const m = track(
      sn.sequential({
        seed: 4,
        layers: [
          L.dense({ units: 6, inputShape: [F] }),
          L.batchNormalization(),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const before = weightsHash(m);
    const x1 = { data: f32(F, 5), shape: [1, F] };
    expect(() => m.trainOnBatch(x1, { data: [1], shape: [1] })).toThrow(
      /batch_normalization: training needs more than one value per channel to compute a batch variance, got input shape \[1,6\]/,
    );
    expect(weightsHash(m)).toBe(before);
    // fit: 9 examples in batches of 4 leave a last batch of 1.
    const x9 = { data: f32(9 * F, 6), shape: [9, F] },
      y9 = { data: Float32Array.from({ length: 9 }, (_, i) => i % 3), shape: [9] };
    await expect(m.fit(x9, y9, { batchSize: 4, verbose: 0 })).rejects.toThrow(
      /choose a batchSize that leaves no batch of 1/,
    );
    await m.fit(x9, y9, { batchSize: 3, verbose: 0 });
    const p = m.predict(x1);
    expect(p.shape).toEqual([1, 3]);
    p.dispose();
    // One image of an NHWC input has H·W values per channel: fine in training.
    const c = track(bnModel(5));
    c.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const one = bars(1, 7);
    const [loss] = c.trainOnBatch(one.x, one.labels);
    expect(Number.isFinite(loss)).toBe(true);
  });
});

describe('gradient checks of BatchNormalization through the tape (training mode, float32)', () => {
  it("Conv2D(linear, 'same') → BatchNormalization → Activation(gelu) → GlobalAveragePooling2D → Dense(softmax)", () => {
    const model = track(
      sn.sequential({
        seed: 31,
        layers: [
          L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', inputShape: [5, 5, 2] }),
          L.batchNormalization({ momentum: 0.5 }),
          L.activation({ activation: 'gelu' }),
          L.globalAveragePooling2D(),
          L.dense({ units: 4, activation: 'softmax', biasInitializer: 'ones' }),
        ],
      }),
    );
    gradCheckTraining(model, { data: f32(4 * 25 * 2, 32), shape: [4, 5, 5, 2] }, oneHot(4, 4), 1);
  });

  it('Dense → BatchNormalization → Activation(tanh) → Dense(elu) → BatchNormalization(center: false) → Dense(softmax) on [N, features]', () => {
    const model = track(
      sn.sequential({
        seed: 33,
        layers: [
          L.dense({ units: 6, inputShape: [5] }),
          L.batchNormalization(),
          L.activation({ activation: 'tanh' }),
          L.dense({ units: 5, activation: 'elu' }),
          L.batchNormalization({ center: false }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    gradCheckTraining(model, { data: f32(7 * 5, 34, -2, 2), shape: [7, 5] }, oneHot(7, 3), 2);
  });
});

describe('determinism and memory', () => {
  const data = bars(160, 41);
  // seed, threads -> weights hash (incl. moving statistics) after 10 Adam steps of batch 16
  async function tenSteps(threads: number): Promise<string> {
    await sn.setThreads(threads);
    const m = track(bnModel(9, [L.dense({ units: 8 }), L.batchNormalization(), L.activation({ activation: 'relu' })]));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    let steps = 0;
    await m.fit(data.x, data.labels, {
      epochs: 1,
      batchSize: 16,
      verbose: 0,
      callbacks: {
        onBatchEnd: () => {
          steps++;
        },
      },
    });
    expect(steps).toBe(10);
    return weightsHash(m);
  }

  it('a BN model trained 10 steps has the same weights hash with 1 and 2 threads', async () => {
    const one = await tenSteps(1);
    const two = await tenSteps(2);
    expect(sn.getThreads()).toBe(2);
    expect(two).toBe(one);
    expect(await tenSteps(1)).toBe(one);
    const init = track(
      bnModel(9, [L.dense({ units: 8 }), L.batchNormalization(), L.activation({ activation: 'relu' })]),
    );
    init.build();
    expect(weightsHash(init)).not.toBe(one);
  });

  it('the arena high-water mark is flat over 50 trainOnBatch steps (Adam) and dispose returns every byte', () => {
    const arena = adv.getArena();
    const before = arena.liveBytes;
    const m = bnModel(10);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const b = bars(16, 3);
    let hw1 = 0,
      live1 = 0;
    for (let s = 1; s <= 50; s++) {
      m.trainOnBatch(b.x, b.labels);
      if (s === 1) {
        hw1 = arena.highWaterMark;
        live1 = arena.liveBytes;
      }
    }
    expect(arena.highWaterMark).toBe(hw1);
    expect(arena.liveBytes).toBe(live1);
    m.dispose();
    expect(arena.liveBytes).toBe(before);
  });
});

describe('model file', () => {
  const data = bars(96, 51);

  it('saves the moving statistics after the weights; save → load → predict is bit-identical; RMSprop resumes exactly', async () => {
    const make = () =>
      track(bnModel(12, [L.dense({ units: 6 }), L.batchNormalization({ scale: false }), L.leakyReLU()]));
    const rms = () => new sn.RMSprop({ learningRate: 0.003, momentum: 0.5, centered: true });
    // Straight through: 2 epochs.
    const a = make();
    a.compile({ optimizer: rms(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await a.fit(data.x, data.labels, { epochs: 2, batchSize: 12, verbose: 0, seed: 5 });
    // One epoch, save, load, one more epoch.
    const b = make();
    b.compile({ optimizer: rms(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await b.fit(data.x, data.labels, { epochs: 1, batchSize: 12, verbose: 0, seed: 5 });
    const file = new Uint8Array(b.save());
    const header = JSON.parse(
      new TextDecoder().decode(file.subarray(16, 16 + new DataView(file.buffer).getUint32(12, true))),
    );
    expect(header.state.map((s: { name: string }) => s.name)).toEqual([
      'batch_normalization/moving_mean',
      'batch_normalization/moving_variance',
      'batch_normalization_1/moving_mean',
      'batch_normalization_1/moving_variance',
    ]);
    // Blob order: trainable weights, then state, then optimizer slots.
    const lastWeight = header.weights[header.weights.length - 1];
    expect(header.state[0].offset).toBe(lastWeight.offset + lastWeight.length);
    expect(header.compile.optimizer).toEqual({
      className: 'RMSprop',
      config: { learningRate: 0.003, rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true },
    });
    expect(header.optimizerState.slots['dense/kernel']).toHaveLength(3);
    const c = track(sn.loadModel(file));
    expect(c.summary(null)).toBe(b.summary(null));
    expect(weightsHash(c)).toBe(weightsHash(b));
    const probe = bars(10, 52).x;
    const pb = b.predict(probe),
      pc = c.predict(probe);
    expect(pc.dataSync()).toEqual(pb.dataSync());
    pb.dispose();
    pc.dispose();
    expect(c.optimizer).toBeInstanceOf(sn.RMSprop);
    await c.fit(data.x, data.labels, { epochs: 1, batchSize: 12, verbose: 0, initialEpoch: 1 });
    expect(weightsHash(c)).toBe(weightsHash(a));
    expect(c.optimizer!.iterations).toBe(16);
  });

  it('a file whose state does not match the architecture is refused with a clear error', async () => {
    const m = track(bnModel(13));
    m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
    const file = new Uint8Array(m.save());
    const dv = new DataView(file.buffer);
    const hlen = dv.getUint32(12, true);
    const text = new TextDecoder().decode(file.subarray(16, 16 + hlen));
    const bad = text.replace('"batch_normalization/moving_mean"', '"batch_normalization/moving_meen"');
    const out = new Uint8Array(file);
    out.set(new TextEncoder().encode(bad), 16);
    // Unsealed, the edit is caught by the checksum; re-sealed, by the state check.
    expect(() => sn.loadModel(out)).toThrow(/loadModel: file is corrupt/);
    reseal(out);
    expect(() => sn.loadModel(out)).toThrow(
      /state 0 is batch_normalization\/moving_meen \[4\] but the architecture needs batch_normalization\/moving_mean \[4\]/,
    );
    const h = JSON.parse(text);
    delete h.state;
    const noState = JSON.stringify(h).padEnd(hlen, ' ');
    const out2 = new Uint8Array(file);
    out2.set(new TextEncoder().encode(noState), 16);
    reseal(out2);
    expect(() => sn.loadModel(out2)).toThrow(/loadModel: weight data holds \d+ floats but the header accounts for \d+/);
  });
});

// a version-2 file with its CRC-32 recomputed after an edit
function reseal(file: Uint8Array): void {
  new DataView(file.buffer, file.byteOffset).setUint32(file.length - 4, crc32(file.subarray(0, file.length - 4)), true);
}

function expectCloseArr(a: ArrayLike<number>, e: ArrayLike<number>, atol: number, label: string): void {
  expect(a.length, label).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= atol + 1e-6 * Math.abs(e[i]))) expect(a[i], `${label} [${i}]`).toBeCloseTo(e[i], 6);
  }
}
