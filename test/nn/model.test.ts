// The functional API (sn.input, layer.apply, sn.model) and the one Model class behind it and
// Sequential: a chain built either way trains to the same bits, shared layers share weights and sum
// their gradients, several inputs and outputs, frozen layers, the functional summary, the element-wise
// losses, saving graphs, and errors at construction naming the layer and the shapes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng, relErr } from '../helpers/check.js';
import * as lossRef from '../ref/loss.js';

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
function data(n: number, shape: number[], seed: number): { data: Float32Array; shape: number[] } {
  const size = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from(makeRng(seed).fill(n * size, -1, 1)), shape: [n, ...shape] };
}
const labels = (n: number, k: number) => ({
  data: Float32Array.from({ length: n }, (_, i) => (i * 7) % k),
  shape: [n],
});
const values = (t: sn.Tensor) => {
  const d = Array.from(t.dataSync());
  t.dispose();
  return d;
};
const weightsOf = (m: sn.Model) => m.getWeights().map(values);

/**
 * A small residual CNN: conv stem, a residual block with a projection shortcut, SE-style gating,
 * concatenated skip. `smooth` uses tanh and average pooling instead of relu and max pooling (no kinks,
 * for finite differences).
 */
function residualModel(seed: number, smooth = false): sn.Model {
  const act = smooth ? 'tanh' : 'relu';
  const x = sn.input({ shape: [6, 6, 2], name: 'image' });
  const stem = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: act }).apply(x);
  const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem);
  const shortcut = L.conv2d({ filters: 4, kernelSize: 1 }).apply(x);
  const res = L.activation({ activation: act }).apply(L.add().apply([c, shortcut]));
  const gate = L.dense({ units: 4, activation: 'sigmoid' }).apply(L.globalAveragePooling2D().apply(res));
  const se = L.multiply().apply([res, gate]);
  const cat = L.concatenate().apply([se, stem]);
  const pooled = (smooth ? L.averagePooling2d({ poolSize: 2 }) : L.maxPooling2d({ poolSize: 2 })).apply(cat);
  const y = L.dense({ units: 3, activation: 'softmax' }).apply(L.flatten().apply(pooled));
  return sn.model({ inputs: x, outputs: y, seed, name: 'resnetish' });
}

describe('functional models', () => {
  it('a chain built with sn.model trains to exactly the bits of the same Sequential', async () => {
    const mk = () => [
      L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.batchNormalization(),
      L.flatten(),
      L.dropout({ rate: 0.2 }),
      L.dense({ units: 4, activation: 'softmax' }),
    ];
    const seq = track(
      sn.sequential({
        seed: 5,
        layers: [L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }), ...mk().slice(1)],
      }),
    );
    const x = sn.input({ shape: [8, 8, 1] });
    const fn = track(sn.model({ inputs: x, outputs: mk().reduce((t, l) => l.apply(t), x), seed: 5 }));
    const X = data(24, [8, 8, 1], 1),
      Y = labels(24, 4);
    for (const m of [seq, fn])
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const hs = await seq.fit(X, Y, { epochs: 2, batchSize: 8, verbose: 0 });
    const hf = await fn.fit(X, Y, { epochs: 2, batchSize: 8, verbose: 0 });
    expect(hf.history).toEqual(hs.history);
    expect(weightsOf(fn)).toEqual(weightsOf(seq));
    expect(values(fn.predict(X))).toEqual(values(seq.predict(X)));
    expect(fn.evaluate(X, Y)).toEqual(seq.evaluate(X, Y));
    expect(fn.layers.map((l) => l.className)).toEqual(['InputLayer', ...seq.layers.map((l) => l.className)]);
  });

  it('a residual graph with add, multiply (broadcast) and concatenate trains, and saves and loads bit for bit', async () => {
    const m = track(residualModel(3));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const X = data(32, [6, 6, 2], 2),
      Y = labels(32, 3);
    const h = await m.fit(X, Y, { epochs: 4, batchSize: 8, verbose: 0 });
    expect(h.history.loss[3]).toBeLessThan(h.history.loss[0]);
    const bytes = new Uint8Array(m.save());
    const back = track(sn.loadModel(bytes));
    expect(back.isSequential).toBe(false);
    expect(back.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name));
    expect(values(back.predict(X))).toEqual(values(m.predict(X)));
    expect(new Uint8Array(sn.saveModel(back))).toEqual(bytes);
    // Training resumes identically: optimizer state and RNG came back too.
    await m.fit(X, Y, { epochs: 1, batchSize: 8, verbose: 0 });
    await back.fit(X, Y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(weightsOf(back)).toEqual(weightsOf(m));
  });

  it('a graph trains to the same bits with 1, 2 and 4 threads', async (ctx) => {
    // ready() picks the threads build wherever shared memory works; elsewhere there are no threads to vary.
    ctx.skip(sn.getEngine().build !== 'threads', 'needs the threads build');
    const X = data(24, [6, 6, 2], 12),
      Y = labels(24, 3);
    const run = async (threads: number) => {
      await sn.setThreads(threads);
      const m = track(residualModel(21));
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(X, Y, { epochs: 1, batchSize: 12, verbose: 0 });
      return weightsOf(m);
    };
    const one = await run(1);
    expect(await run(2)).toEqual(one);
    expect(await run(4)).toEqual(one);
    await sn.setThreads(2);
  });

  it('a layer applied twice shares its weights, and its gradient is the sum over both uses', () => {
    const a = sn.input({ shape: [3] }),
      b = sn.input({ shape: [3] });
    const shared = L.dense({ units: 2, name: 'shared' });
    const out = L.dense({ units: 2, activation: 'softmax', name: 'head' }).apply(
      L.add().apply([shared.apply(a), shared.apply(b)]),
    );
    const m = track(sn.model({ inputs: [a, b], outputs: out, seed: 2 }));
    expect(m.countParams()).toBe(3 * 2 + 2 + 2 * 2 + 2);
    expect(
      m.getWeights().map((w) => {
        const s = w.shape;
        w.dispose();
        return s;
      }),
    ).toEqual([[3, 2], [2], [2, 2], [2]]);
    // The same graph with two separate layers holding the same values: its two kernel steps add up to the shared one's.
    const a2 = sn.input({ shape: [3] }),
      b2 = sn.input({ shape: [3] });
    const d1 = L.dense({ units: 2, name: 'd1' }),
      d2 = L.dense({ units: 2, name: 'd2' });
    const out2 = L.dense({ units: 2, activation: 'softmax', name: 'head' }).apply(
      L.add().apply([d1.apply(a2), d2.apply(b2)]),
    );
    const m2 = track(sn.model({ inputs: [a2, b2], outputs: out2, seed: 9 }));
    const w = m.getWeights();
    m2.setWeights([w[0], w[1], w[0], w[1], w[2], w[3]]);
    const X = [data(5, [3], 4), data(5, [3], 5)],
      Y = labels(5, 2);
    m.compile({ optimizer: new sn.SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
    m2.compile({ optimizer: new sn.SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
    const l1 = m.trainOnBatch(X, Y)[0],
      l2 = m2.trainOnBatch(X, Y)[0];
    expect(l1).toBe(l2);
    const before = w.map(values);
    const after = weightsOf(m),
      after2 = weightsOf(m2);
    for (const [k, i, j] of [
      [0, 0, 2],
      [1, 1, 3],
    ]) {
      before[k].forEach((v, e) => {
        const step = after[k][e] - v,
          parts = after2[i][e] - v + (after2[j][e] - v);
        expect(Math.abs(step - parts), `weight ${k}[${e}]`).toBeLessThan(1e-6);
      });
    }
    expect(Math.max(...after[0].map((v, e) => Math.abs(v - before[0][e])))).toBeGreaterThan(1e-4);
  });

  it('several inputs and outputs: predict takes and returns lists; each output is its own sub-graph', () => {
    const a = sn.input({ shape: [4], name: 'a' }),
      b = sn.input({ shape: [2], name: 'b' });
    const cat = L.concatenate({ name: 'cat' }).apply([a, b]);
    const h = L.dense({ units: 5, activation: 'relu' }).apply(cat);
    const o1 = L.dense({ units: 3, activation: 'softmax' }).apply(h);
    const o2 = L.subtract().apply([L.dense({ units: 2 }).apply(h), b]);
    const m = track(sn.model({ inputs: [a, b], outputs: [o1, o2], seed: 4 }));
    const X = [data(7, [4], 6), data(7, [2], 7)];
    const [p1, p2] = m.predict(X);
    expect(p1.shape).toEqual([7, 3]);
    expect(p2.shape).toEqual([7, 2]);
    const only2 = sn.model({ inputs: [a, b], outputs: o2 });
    expect(values(only2.predict(X)[0])).toEqual(values(p2));
    p1.dispose();
    expect(() => m.predict(X[0])).toThrow('predict: the model has 2 outputs; pass the inputs as a list');
    expect(() => m.predict([X[0]])).toThrow('predict: the model has 2 inputs, got 1 arrays');
    expect(() => m.predict([X[1], X[0]])).toThrow('predict: input a expects input of shape [None, 4], got [7, 2]');
    expect(() => m.compile({ optimizer: 'adam', loss: 'meanSquaredError' })).toThrow(
      'compile: training needs a model with one output; this one has 2',
    );
    expect(m.getLayer('cat').className).toBe('Concatenate');
    expect(() => m.getLayer('nope')).toThrow(/getLayer: no layer named "nope"; the model has a, b, cat, dense/);
  });

  it('bad graphs are errors at construction naming the layer and the shapes', () => {
    const x = sn.input({ shape: [5, 5, 3] });
    expect(() => L.dense({ units: 2, name: 'fc' }).apply(x)).toThrow(
      'fc (Dense) cannot be applied to input (None, 5, 5, 3): fc: expected input of shape [features] (add a Flatten layer before Dense) (without batch), got [5,5,3]',
    );
    const y = L.conv2d({ filters: 4, kernelSize: 1 }).apply(x);
    expect(() => L.add({ name: 'sum' }).apply([x, y])).toThrow(
      'sum (Add) cannot be applied to input (None, 5, 5, 3), (None, 5, 5, 4): sum: input shapes (None, 5, 5, 3), (None, 5, 5, 4) do not broadcast',
    );
    expect(() => L.concatenate({ name: 'cat', axis: 1 }).apply([x, y])).toThrow(
      /cat \(Concatenate\) cannot be applied .* must match except on the concatenation axis 1/,
    );
    expect(() => L.add().apply([x])).toThrow(/takes a list of at least 2 inputs, got 1/);
    expect(() => L.subtract().apply([x, x, x])).toThrow(/takes exactly 2 inputs, got 3/);
    expect(() => L.flatten().apply([x, x])).toThrow('flatten.apply: takes one input, got a list of 2');
    expect(() => L.dense({ units: 1 }).apply({} as sn.SymbolicTensor)).toThrow(/expected a symbolic tensor/);
    const d = L.dense({ units: 2, name: 'once' });
    d.apply(sn.input({ shape: [3] }));
    expect(() => d.apply(sn.input({ shape: [4] }))).toThrow(
      'once (Dense) is applied to (None, 4) but was first applied to (None, 3); a layer applied twice shares its weights',
    );
    const other = sn.input({ shape: [5, 5, 3], name: 'other' });
    const z = L.add().apply([y, L.conv2d({ filters: 4, kernelSize: 1, name: 'proj' }).apply(other)]);
    expect(() => sn.model({ inputs: x, outputs: z })).toThrow(
      "model model: layer proj depends on input other (None, 5, 5, 3), which is not in the model's inputs",
    );
    expect(() => sn.model({ inputs: [x, sn.input({ shape: [2], name: 'lonely' })], outputs: y })).toThrow(
      'model model: input 1 (lonely (None, 2)) is not connected to the outputs',
    );
    expect(() => sn.model({ inputs: y, outputs: y })).toThrow(/input 0 comes from layer .*, not from sn.input/);
    const t1 = L.dense({ units: 2, name: 'twin' }).apply(sn.input({ shape: [2], name: 'i1' }));
    const twin2 = L.dense({ units: 2, name: 'twin' });
    expect(() => sn.model({ inputs: t1.node.inputs[0], outputs: twin2.apply(t1) })).toThrow(
      'two layers are named twin (Dense and Dense)',
    );
    expect(() => sn.input({ shape: [0, 3] })).toThrow(/input: shape must be a non-empty list of positive integers/);
    expect(() => new sn.Sequential().add(L.add())).toThrow(/takes several inputs; build graphs with sn.model/);
  });

  it('summary prints the functional table with its "Connected to" column', () => {
    const m = track(residualModel(1));
    const text = m.summary(null);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Model: "resnetish"');
    expect(lines[2]).toMatch(/^ Layer \(type\) +Output Shape +Param # +Connected to$/);
    expect(lines[2].indexOf('Output Shape')).toBe(33);
    expect(lines[2].indexOf('Param #')).toBe(55);
    expect(lines[2].indexOf('Connected to')).toBe(67);
    const add = lines.findIndex((l) => l.startsWith(' add (Add)'));
    expect(lines[add]).toBe(
      `${' add (Add)'.padEnd(33)}${'(None, 6, 6, 4)'.padEnd(22)}${'0'.padEnd(12)}['conv2d_1[0][0]',`,
    );
    expect(lines[add + 1]).toBe(`${''.padEnd(67)} 'conv2d_2[0][0]']`);
    expect(text).toContain(` image (InputLayer)${' '.repeat(14)}[(None, 6, 6, 2)]`);
    expect(text).toContain(`Total params: ${m.countParams().toLocaleString('en-US')}`);
    const rows = lines.filter((l) => /^ \S+ \(\w+\)/.test(l));
    expect(rows.length).toBe(m.layers.length);
  });
});

/**
 * The tape's gradient of every weight array (up to 16 sampled elements each) against central
 * differences of evaluate's loss (float32, h = 1e-2 by default, relative error < 1e-2 or absolute < 2e-4, or a
 * one-sided difference where the step crosses a kink;
 * the models here have no dropout or BatchNormalization, so evaluate computes the training loss).
 */
function gradCheckGraph(
  m: sn.Model,
  x: Array<{ data: Float32Array; shape: number[] }>,
  y: { data: Float32Array; shape: number[] },
  loss: sn.LossName,
  h = 1e-2,
): void {
  m.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss });
  const saved = m.getWeights();
  m.trainOnBatch(x, y);
  const analytic = m.params().map((p) => p.grad.dataSync() as Float32Array);
  m.setWeights(saved);
  saved.forEach((w) => w.dispose());
  const f = () => m.evaluate(x, y, { batchSize: 1024 })[0];
  const rng = makeRng(3);
  const failures: string[] = [];
  let large = 0,
    checked = 0;
  m.params().forEach((p, pi) => {
    const n = p.value.size;
    const picks =
      n <= 16 ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: 16 }, () => Math.floor(rng.next() * n));
    for (const j of picks) {
      const old = p.value.view()[j];
      p.value.view()[j] = old + h;
      const fp = f();
      p.value.view()[j] = old - h;
      const fm = f();
      p.value.view()[j] = old;
      const f0 = f();
      const a = analytic[pi][j];
      const ok = (num: number) => Math.abs(a - num) <= 2e-4 || relErr(a, num) < 1e-2;
      checked++;
      if (Math.abs(a) > 1e-3) large++;
      // Where a step crosses a kink of maximum / minimum / |x| the tape holds one side's derivative.
      const sides = [(fp - fm) / (2 * h), (fp - f0) / h, (f0 - fm) / h];
      if (!sides.some(ok)) failures.push(`${p.name}[${j}]: tape ${a}, numeric ${sides.join(' / ')}`);
    }
  });
  expect(failures, failures.slice(0, 8).join('\n')).toEqual([]);
  expect(large).toBeGreaterThan(checked / 2);
}

describe('graph gradients against finite differences', () => {
  it('residual add, broadcast multiply, concatenate (cross-entropy)', () => {
    const m = track(residualModel(7, true));
    gradCheckGraph(m, [data(6, [6, 6, 2], 30)], labels(6, 3), 'sparseCategoricalCrossentropy');
  });

  it('subtract, average, maximum, minimum, spatial concatenation, two inputs (mean squared error)', () => {
    const a = sn.input({ shape: [3, 4, 2] }),
      b = sn.input({ shape: [3, 4, 2] });
    const ca = L.conv2d({ filters: 2, kernelSize: 2, padding: 'same', activation: 'tanh' }).apply(a);
    const cb = L.conv2d({ filters: 2, kernelSize: 1 }).apply(b);
    const cat = L.concatenate({ axis: 1 }).apply([
      L.subtract().apply([ca, cb]),
      L.average().apply([ca, cb, a]),
      L.maximum().apply([ca, cb]),
      L.minimum().apply([cb, b, ca]),
    ]);
    const y = L.dense({ units: 3 }).apply(L.flatten().apply(cat));
    const m = track(sn.model({ inputs: [a, b], outputs: y, seed: 8 }));
    // A kernel weight moves many maximum/minimum comparisons: a smaller step crosses fewer of their kinks.
    gradCheckGraph(m, [data(5, [3, 4, 2], 31), data(5, [3, 4, 2], 32)], data(5, [3], 33), 'meanSquaredError', 2e-3);
  });

  it('a shared layer, binary cross-entropy on sigmoid outputs, mean absolute error', () => {
    for (const loss of ['binaryCrossentropy', 'meanAbsoluteError'] as const) {
      const x = sn.input({ shape: [5] });
      const shared = L.dense({ units: 5, activation: 'tanh' });
      const y = L.dense({ units: 4, activation: 'sigmoid' }).apply(L.add().apply([shared.apply(shared.apply(x)), x]));
      const m = track(sn.model({ inputs: x, outputs: y, seed: 9 }));
      const t = { data: Float32Array.from({ length: 24 }, (_, i) => ((i * 5) % 7) / 6), shape: [6, 4] };
      gradCheckGraph(m, [data(6, [5], 34)], t, loss);
    }
  });
});

describe('frozen layers (trainable = false)', () => {
  it('get no update, count as non-trainable, keep BatchNormalization in inference mode, and are saved', async () => {
    const x = sn.input({ shape: [4, 4, 1] });
    const conv = L.conv2d({ filters: 2, kernelSize: 3, name: 'base' });
    const bn = L.batchNormalization({ name: 'bn' });
    const y = L.dense({ units: 2, activation: 'softmax', name: 'top' }).apply(
      L.flatten().apply(bn.apply(conv.apply(x))),
    );
    const m = track(sn.model({ inputs: x, outputs: y, seed: 1 }));
    conv.trainable = false;
    bn.trainable = false;
    m.build();
    const frozen = conv.countParams() + bn.countParams();
    expect(m.countTrainableParams()).toBe(m.countParams() - frozen);
    expect(m.summary(null)).toContain(`Non-trainable params: ${frozen}`);
    const before = weightsOf(m);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(data(16, [4, 4, 1], 3), labels(16, 2), { epochs: 2, batchSize: 4, verbose: 0 });
    const after = weightsOf(m);
    // base kernel, bias; bn gamma, beta, moving mean, moving variance: unchanged. top: changed.
    for (let i = 0; i < 6; i++) expect(after[i], `frozen weight ${i}`).toEqual(before[i]);
    expect(after[6]).not.toEqual(before[6]);
    const back = track(sn.loadModel(m.save()));
    expect(back.getLayer('base').trainable).toBe(false);
    expect(back.getLayer('top').trainable).toBe(true);
    expect(back.countTrainableParams()).toBe(m.countTrainableParams());
    // Unfrozen, the same layer trains again.
    back.getLayer('base').trainable = true;
    await back.fit(data(16, [4, 4, 1], 3), labels(16, 2), { epochs: 1, batchSize: 4, verbose: 0 });
    expect(weightsOf(back)[0]).not.toEqual(after[0]);
  });
});

describe('element-wise losses', () => {
  it('meanSquaredError and meanAbsoluteError fit a regression; evaluate returns [loss] equal to the reference on predict', async () => {
    for (const loss of ['meanSquaredError', 'meanAbsoluteError'] as const) {
      const x = sn.input({ shape: [3] });
      const m = track(
        sn.model({
          inputs: x,
          outputs: L.dense({ units: 2 }).apply(L.dense({ units: 8, activation: 'tanh' }).apply(x)),
          seed: 2,
        }),
      );
      m.compile({ optimizer: new sn.Adam({ learningRate: 0.02 }), loss });
      const X = data(64, [3], 8);
      const Y = {
        data: Float32Array.from({ length: 128 }, (_, i) => {
          const r = X.data.subarray((i >> 1) * 3, (i >> 1) * 3 + 3);
          return i % 2 ? r[0] * r[1] : r[2] - r[0];
        }),
        shape: [64, 2],
      };
      const h = await m.fit(X, Y, { epochs: 20, batchSize: 16, verbose: 0 });
      expect(h.history.loss[19], loss).toBeLessThan(h.history.loss[0] * 0.7);
      expect(h.history.accuracy).toEqual([]);
      const ev = m.evaluate(X, Y, { batchSize: 64 });
      expect(ev.length).toBe(1);
      const p = values(m.predict(X));
      const want = (loss === 'meanSquaredError' ? lossRef.mse : lossRef.mae)(p, Y.data).loss;
      expect(Math.abs(ev[0] - want)).toBeLessThan(1e-6);
      expect(m.trainOnBatch(X, Y).length).toBe(1);
      expect(() => m.compile({ optimizer: 'adam', loss, metrics: ['accuracy'] })).toThrow(
        `compile: metric 'accuracy' has no meaning for ${loss}`,
      );
      expect(() => m.evaluate(X, data(64, [3], 1))).toThrow(
        `evaluate y: ${loss} needs targets of the output's shape [N, 2], got [64, 3]`,
      );
    }
  });

  it('binaryCrossentropy on sigmoid outputs: [loss, binary accuracy] as the reference computes them from predict', async () => {
    const x = sn.input({ shape: [4] });
    const m = track(sn.model({ inputs: x, outputs: L.dense({ units: 3, activation: 'sigmoid' }).apply(x), seed: 6 }));
    m.compile({ optimizer: new sn.Adam({ learningRate: 0.05 }), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const X = data(40, [4], 9);
    const Y = {
      data: Float32Array.from({ length: 120 }, (_, i) => (X.data[Math.floor(i / 3) * 4 + (i % 3)] > 0 ? 1 : 0)),
      shape: [40, 3],
    };
    const h = await m.fit(X, Y, { epochs: 15, batchSize: 10, verbose: 0 });
    expect(h.history.loss[14]).toBeLessThan(h.history.loss[0]);
    const [loss, acc] = m.evaluate(X, Y, { batchSize: 40 });
    const p = values(m.predict(X));
    expect(Math.abs(loss - lossRef.bce(p, Y.data).loss)).toBeLessThan(1e-5);
    const correct = p.filter((v, i) => (v > 0.5 ? 1 : 0) === Y.data[i]).length;
    expect(acc).toBe(correct / 120);
    expect(acc).toBeGreaterThan(0.8);
    expect(() => m.evaluate(X, { data: new Float32Array(120).fill(2), shape: [40, 3] })).toThrow(
      'evaluate y: binaryCrossentropy targets must lie in [0, 1], got 2 at flat index 0',
    );
  });
});
