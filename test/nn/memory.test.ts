// Memory: a training step reuses the same arena blocks (flat high-water mark), and every API call
// gives back what it took (live bytes), up to model.dispose() returning to the state before the model.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { bars, tinyModel } from './fixtures.js';
import { seedModel } from '../../src/cli/presets.js';

beforeAll(async () => {
  await sn.ready();
});

const data = bars(96, 31);
const batch = (i: number) => ({
  x: { data: data.x.data.subarray(i * 8 * 64, (i + 1) * 8 * 64), shape: [8, 8, 8, 1] },
  y: { data: data.labels.data.subarray(i * 8, (i + 1) * 8), shape: [8] },
});

describe('arena use of the model API', () => {
  // model, optimizer -> 1,000 trainOnBatch steps; returns the high-water marks after steps 1, 2 and 1,000
  function thousandSteps(
    model: sn.Sequential,
    optimizer: 'adam' | sn.Optimizer,
  ): { hw1: number; hw2: number; hw1000: number } {
    const arena = adv.getArena();
    const before = arena.liveBytes;
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const hws: number[] = [];
    let live1 = 0,
      lastLoss = NaN;
    for (let s = 1; s <= 1000; s++) {
      const b = batch(s % 12);
      [lastLoss] = model.trainOnBatch(b.x, b.y);
      hws[s] = arena.highWaterMark;
      if (s === 1) live1 = arena.liveBytes;
    }
    expect(Number.isFinite(lastLoss)).toBe(true);
    // Nothing accumulates from step to step.
    expect(arena.liveBytes).toBe(live1);
    model.dispose();
    expect(arena.liveBytes).toBe(before);
    return { hw1: hws[1], hw2: hws[2], hw1000: hws[1000] };
  }

  // (Runs first in this file, on a fresh arena, so its high-water mark is its own.)
  it('1,000 trainOnBatch steps with plain SGD: the high-water mark after step 1 equals the one after step 1,000', () => {
    const { hw1, hw1000 } = thousandSteps(tinyModel(1), new sn.SGD({ learningRate: 0.05 }));
    expect(hw1000).toBe(hw1);
  });

  it('1,000 trainOnBatch steps with Adam and dropout: the high-water mark after step 1 equals the one after step 1,000', () => {
    // Needs more memory than the test above (dropout mask, two moments), so its marks are its own too.
    const before = adv.getArena().highWaterMark;
    const { hw1, hw2, hw1000 } = thousandSteps(tinyModel(1, [sn.layers.dropout({ rate: 0.1 })]), 'adam');
    expect(hw1).toBeGreaterThan(before);
    // Flat from step 2 on...
    expect(hw1000, 'step 1000 vs step 2').toBe(hw2);
    // ... and from step 1 on (the optimizer's state is created during step 1).
    expect(hw1000, `step 1000 vs step 1 (step 2 added ${hw2 - hw1} bytes)`).toBe(hw1);
  });

  it('model.dispose() returns liveBytes to what it was before the model was created', async () => {
    const arena = adv.getArena();
    const before = arena.liveBytes;
    const model = tinyModel(2);
    model.compile({ optimizer: new sn.SGD({ learningRate: 0.1, momentum: 0.9 }), loss: 'categoricalCrossentropy' });
    await model.fit(data.x, data.oneHot, {
      epochs: 2,
      batchSize: 16,
      verbose: 0,
      validationData: [data.x, data.oneHot],
    });
    expect(arena.liveBytes).toBeGreaterThan(before);
    model.dispose();
    expect(arena.liveBytes).toBe(before);
    // The seed model too (built, compiled with Adam, one step).
    const seed = seedModel({ seed: 1 });
    seed.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    seed.trainOnBatch(
      { data: new Float32Array(2 * 784).fill(0.5), shape: [2, 28, 28, 1] },
      { data: [3, 7], shape: [2] },
    );
    expect(arena.liveBytes - before).toBeGreaterThanOrEqual(4 * 484714 * 4);
    seed.dispose();
    expect(arena.liveBytes).toBe(before);
    // A loaded model as well.
    const m = tinyModel(3);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(batch(0).x, batch(0).y);
    const loaded = sn.loadModel(m.save());
    m.dispose();
    loaded.dispose();
    expect(arena.liveBytes).toBe(before);
  });

  it('predict, evaluate, fit and getWeights leave liveBytes unchanged (after disposing what they return)', async () => {
    const arena = adv.getArena();
    const model = tinyModel(4);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    model.trainOnBatch(batch(0).x, batch(0).y); // creates the optimizer state
    const beforePlan = arena.liveBytes;
    // the first predict makes the inference plan (the convolution's packed weights), kept by the model
    model.predict(data.x, { batchSize: 10 }).dispose();
    const live = arena.liveBytes;
    expect(live - beforePlan).toBeGreaterThan(0);
    expect(live - beforePlan).toBeLessThan(4 * model.countParams() + 4096);
    const p = model.predict(data.x, { batchSize: 10 });
    expect(p.shape).toEqual([96, 3]);
    expect(arena.liveBytes - live).toBe(96 * 3 * 4);
    p.dispose();
    expect(arena.liveBytes).toBe(live);
    model.evaluate(data.x, data.labels, { batchSize: 7 });
    expect(arena.liveBytes).toBe(live);
    const xt = sn.tensor(data.x.data, data.x.shape);
    const afterX = arena.liveBytes;
    const p2 = model.predict(xt);
    p2.dispose();
    model.evaluate(xt, data.labels);
    expect(arena.liveBytes).toBe(afterX);
    xt.dispose();
    await model.fit(data.x, data.labels, { epochs: 1, batchSize: 16, verbose: 0 });
    expect(arena.liveBytes).toBe(live);
    const ws = model.getWeights();
    ws.forEach((w) => w.dispose());
    expect(arena.liveBytes).toBe(live);
    const text = model.save();
    expect(text.byteLength).toBeGreaterThan(0);
    expect(arena.liveBytes).toBe(live);
    model.dispose();
  });

  it('errors in the middle of a step free the step’s tensors', () => {
    const arena = adv.getArena();
    const model = tinyModel(5);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    model.trainOnBatch(batch(0).x, batch(0).y);
    const live = arena.liveBytes;
    const huge = { data: new Float32Array(8 * 64).fill(3e38), shape: [8, 8, 8, 1] };
    expect(() => model.trainOnBatch(huge, batch(0).y)).toThrow(/loss became/);
    expect(arena.liveBytes).toBe(live);
    expect(() => model.predict({ data: new Float32Array(10), shape: [10, 1] })).toThrow();
    expect(() => model.evaluate(batch(0).x, { data: [0, 1, 2, 3, 4, 5, 6, 7], shape: [8] })).toThrow(/label/);
    expect(arena.liveBytes).toBe(live);
    model.dispose();
  });
});
