// Optimizers and learning rates through the model API: RMSprop (compile('rmsprop')) and learning-rate
// schedules (fit option and callbacks, settable optimizer.learningRate).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { barRows, bars, tinyModel, weightsHash } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

const train = bars(600, 1);
const test = bars(300, 2);

describe('RMSprop through the model API', () => {
  it("compile({optimizer: 'rmsprop'}) uses Keras defaults and learns the bars problem (150 steps, held-out accuracy > 0.95)", async () => {
    const m = track(tinyModel(3));
    m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    expect(m.optimizer).toBeInstanceOf(sn.RMSprop);
    expect(m.optimizer!.getConfig()).toEqual({
      learningRate: 0.001,
      rho: 0.9,
      momentum: 0,
      epsilon: 1e-7,
      centered: false,
    });
    m.optimizer!.learningRate = 0.005;
    const [loss0] = m.evaluate(test.x, test.labels);
    await m.fit(train.x, train.labels, { epochs: 5, batchSize: 20, verbose: 0 });
    const [loss, acc] = m.evaluate(test.x, test.labels);
    expect(m.optimizer!.iterations).toBe(150);
    expect(loss).toBeLessThan(loss0 / 3);
    expect(acc).toBeGreaterThan(0.95);
  });

  it('RMSprop config errors', () => {
    expect(() => new sn.RMSprop({ rho: 1.5 })).toThrow(/RMSprop: rho must be a number in \[0, 1\]/);
    expect(() => new sn.RMSprop({ epsilon: 0 })).toThrow(/RMSprop: epsilon/);
    expect(() => new sn.RMSprop({ learningRate: -1 })).toThrow(/RMSprop: learningRate/);
    expect(() => new sn.RMSprop({ centered: 'yes' as never })).toThrow(/centered must be a boolean/);
    expect(new sn.RMSprop().getConfig()).toEqual({
      learningRate: 0.001,
      rho: 0.9,
      momentum: 0,
      epsilon: 1e-7,
      centered: false,
    });
  });
});

describe('learning-rate schedules', () => {
  it('fit({learningRateSchedule}) sets learningRate = schedule(iterations) before every step, continuing across fits', async () => {
    const m = track(tinyModel(4));
    m.compile({ optimizer: new sn.SGD({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
    const sched = sn.schedules.stepDecay({ initial: 0.1, dropEvery: 4, factor: 0.5 });
    const seen: number[] = [];
    const cb = {
      onBatchEnd: () => {
        seen.push(m.optimizer!.learningRate);
      },
    };
    const d = barRows(train, 0, 60);
    await m.fit(d.x, d.labels, { epochs: 1, batchSize: 10, verbose: 0, learningRateSchedule: sched, callbacks: cb });
    await m.fit(d.x, d.labels, { epochs: 1, batchSize: 10, verbose: 0, learningRateSchedule: sched, callbacks: cb });
    const f = Math.fround;
    expect(seen).toEqual([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025].map(f));
  });

  it('a scheduled fit equals trainOnBatch steps with the learning rate set by hand (same bits)', async () => {
    const sched = sn.schedules.cosineDecay({ initial: 0.05, decaySteps: 8, alpha: 0.1 });
    const d = barRows(train, 0, 80);
    const a = track(tinyModel(5));
    a.compile({ optimizer: new sn.SGD({ learningRate: 1, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
    await a.fit(d.x, d.labels, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0, learningRateSchedule: sched });
    const b = track(tinyModel(5));
    b.compile({ optimizer: new sn.SGD({ learningRate: 1, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
    for (let s = 0; s < 10; s++) {
      b.optimizer!.learningRate = sched(s);
      const r = barRows(train, s * 8, 8);
      b.trainOnBatch(r.x, r.labels);
    }
    expect(weightsHash(a)).toBe(weightsHash(b));
    // Past decaySteps the rate stays at initial * alpha.
    expect(a.optimizer!.learningRate).toBe(Math.fround(0.005));
  });

  it('a per-epoch schedule from a callback; cosine decay to 0 stops plain SGD', async () => {
    const m = track(tinyModel(6));
    m.compile({ optimizer: new sn.SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const sched = sn.schedules.cosineDecay({ initial: 0.1, decaySteps: 2 });
    const perEpoch: number[] = [];
    const d = barRows(train, 0, 40);
    let before = '';
    await m.fit(d.x, d.labels, {
      epochs: 4,
      batchSize: 20,
      verbose: 0,
      callbacks: {
        onEpochBegin: (e) => {
          m.optimizer!.learningRate = sched(e);
          if (e === 3) before = weightsHash(m);
        },
        onEpochEnd: () => {
          perEpoch.push(m.optimizer!.learningRate);
        },
      },
    });
    expect(perEpoch).toEqual([0.1, 0.05, 0, 0].map(Math.fround));
    // Epoch 4 ran at learning rate 0: the weights did not move.
    expect(weightsHash(m)).toBe(before);
    // The rate in effect is what a saved model keeps.
    const loaded = track(sn.loadModel(m.save()));
    expect(loaded.optimizer!.learningRate).toBe(0);
  });

  it('learningRate is validated when set; a bad schedule is refused', async () => {
    const opt = new sn.Adam();
    expect(() => {
      opt.learningRate = -0.1;
    }).toThrow(/Adam: learningRate must be a number in \[0, 1000000\], got -0.1/);
    expect(() => {
      opt.learningRate = NaN;
    }).toThrow(/learningRate/);
    opt.learningRate = 0.02;
    expect(opt.getConfig().learningRate).toBe(0.02);
    const m = track(tinyModel(7));
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const d = barRows(train, 0, 10);
    await expect(m.fit(d.x, d.labels, { verbose: 0, learningRateSchedule: 0.1 as never })).rejects.toThrow(
      /learningRateSchedule must be a function/,
    );
    await expect(m.fit(d.x, d.labels, { verbose: 0, learningRateSchedule: () => -1 })).rejects.toThrow(
      /SGD: learningRate must be/,
    );
  });
});
