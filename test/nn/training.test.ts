// Training end to end on a small synthetic problem (3 classes of 8x8 images: horizontal bar,
// vertical bar, diagonal, with noise), and fit's callbacks, early stopping, abort signal,
// validation data (given, or split off the training data as Keras' validationSplit) and history.
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

// Thresholds: 300 steps take the held-out loss from ~1.1 (chance) to ~0.01 on this problem.
const MAX_LOSS = 0.1;
const MIN_ACCURACY = 0.95;

describe('learning', () => {
  it.each([
    ['Adam (lr 0.01)', () => new sn.Adam({ learningRate: 0.01 }), 'sparseCategoricalCrossentropy'],
    [
      'SGD with momentum 0.9 (lr 0.05)',
      () => new sn.SGD({ learningRate: 0.05, momentum: 0.9 }),
      'categoricalCrossentropy',
    ],
  ] as const)(
    `%s: 300 steps reach held-out loss < ${MAX_LOSS} and accuracy > ${MIN_ACCURACY}`,
    async (_name, opt, loss) => {
      const model = track(tinyModel(3));
      model.compile({ optimizer: opt(), loss, metrics: ['accuracy'] });
      const y = loss === 'categoricalCrossentropy' ? train.oneHot : train.labels;
      const yTest = loss === 'categoricalCrossentropy' ? test.oneHot : test.labels;
      const [loss0, acc0] = model.evaluate(test.x, yTest);
      expect(loss0).toBeGreaterThan(0.5);
      expect(acc0).toBeLessThan(0.8);
      let steps = 0;
      // 600 examples / batch 20 = 30 steps per epoch, 10 epochs.
      const h = await model.fit(train.x, y, {
        epochs: 10,
        batchSize: 20,
        verbose: 0,
        callbacks: {
          onBatchEnd: () => {
            steps++;
          },
        },
      });
      expect(steps).toBe(300);
      expect(model.optimizer?.iterations).toBe(300);
      const [testLoss, testAcc] = model.evaluate(test.x, yTest);
      expect(testLoss).toBeLessThan(MAX_LOSS);
      expect(testAcc).toBeGreaterThan(MIN_ACCURACY);
      expect(h.history.loss[9]).toBeLessThan(MAX_LOSS);
      expect(h.history.accuracy[9]).toBeGreaterThan(MIN_ACCURACY);
      expect(h.history.loss[9]).toBeLessThan(h.history.loss[0]);
      // predict agrees with evaluate's accuracy.
      const p = model.predict(test.x);
      const probs = p.dataSync();
      p.dispose();
      let correct = 0;
      for (let i = 0; i < 300; i++) {
        const row = Array.from(probs.subarray(i * 3, i * 3 + 3));
        expect(row[0] + row[1] + row[2]).toBeCloseTo(1, 5);
        if (row.indexOf(Math.max(...row)) === test.labels.data[i]) correct++;
      }
      expect(correct / 300).toBe(testAcc);
    },
  );

  it('trainOnBatch returns [loss, accuracy] and repeated steps on one batch drive its loss down', () => {
    const model = track(tinyModel(4));
    model.compile({ optimizer: new sn.Adam({ learningRate: 0.02 }), loss: 'sparseCategoricalCrossentropy' });
    const x = { data: train.x.data.subarray(0, 12 * 64), shape: [12, 8, 8, 1] };
    const y = { data: train.labels.data.subarray(0, 12), shape: [12] };
    const [l0, a0] = model.trainOnBatch(x, y);
    expect(a0 * 12).toBe(Math.round(a0 * 12));
    let l = l0,
      a = a0;
    for (let i = 0; i < 60; i++) [l, a] = model.trainOnBatch(x, y);
    expect(l).toBeLessThan(l0 / 5);
    expect(a).toBe(1);
  });
});

describe('fit callbacks and history', () => {
  const small = bars(100, 3);
  const compiled = (seed = 5) => {
    const m = track(tinyModel(seed));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    return m;
  };

  it('onEpochBegin / onBatchEnd / onEpochEnd are called the right number of times with logs', async () => {
    const model = compiled();
    const calls: string[] = [];
    const batchLogs: sn.Logs[] = [];
    const epochLogs: sn.Logs[] = [];
    // 100 examples, batch 32 → 4 steps per epoch (the last has 4 examples).
    const h = await model.fit(small.x, small.labels, {
      epochs: 3,
      batchSize: 32,
      verbose: 0,
      callbacks: {
        onEpochBegin: (e) => {
          calls.push(`begin ${e}`);
        },
        onBatchEnd: async (b, logs) => {
          calls.push(`batch ${b}`);
          batchLogs.push({ ...logs });
          await Promise.resolve();
        },
        onEpochEnd: (e, logs) => {
          calls.push(`end ${e}`);
          epochLogs.push({ ...logs });
        },
      },
    });
    const perEpoch = (e: number) => [`begin ${e}`, 'batch 0', 'batch 1', 'batch 2', 'batch 3', `end ${e}`];
    expect(calls).toEqual([...perEpoch(0), ...perEpoch(1), ...perEpoch(2)]);
    for (const logs of [...batchLogs, ...epochLogs]) {
      expect(Object.keys(logs).sort()).toEqual(['accuracy', 'loss']);
      expect(Number.isFinite(logs.loss) && logs.loss > 0).toBe(true);
      expect(logs.accuracy).toBeGreaterThanOrEqual(0);
      expect(logs.accuracy).toBeLessThanOrEqual(1);
    }
    // The epoch's logs are the running means at its last batch, and they are what history holds.
    expect(epochLogs.map((l) => l.loss)).toEqual([3, 7, 11].map((i) => batchLogs[i].loss));
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(h.history.loss).toEqual(epochLogs.map((l) => l.loss));
    expect(h.history.accuracy).toEqual(epochLogs.map((l) => l.accuracy));
    expect(h.history.val_loss).toBeUndefined();
    expect(h.stopped).toBe(false);
    expect(model.optimizer?.iterations).toBe(12);
  });

  it('initialEpoch numbers the epochs; epochs: 0 trains nothing', async () => {
    const model = compiled();
    const begun: number[] = [];
    const h = await model.fit(small.x, small.labels, {
      epochs: 2,
      initialEpoch: 3,
      batchSize: 50,
      verbose: 0,
      callbacks: {
        onEpochBegin: (e) => {
          begun.push(e);
        },
      },
    });
    expect(begun).toEqual([3, 4]);
    expect(h.epoch).toEqual([3, 4]);
    const h0 = await model.fit(small.x, small.labels, { epochs: 0, verbose: 0 });
    expect(h0.epoch).toEqual([]);
    expect(model.optimizer?.iterations).toBe(4);
  });

  it('returning false from onBatchEnd stops after that batch', async () => {
    const model = compiled();
    let batches = 0,
      epochEnds = 0;
    const h = await model.fit(small.x, small.labels, {
      epochs: 3,
      batchSize: 10,
      verbose: 0,
      callbacks: {
        onBatchEnd: (b) => {
          batches++;
          return b === 1 ? false : undefined;
        },
        onEpochEnd: () => {
          epochEnds++;
        },
      },
    });
    expect(h.stopped).toBe(true);
    expect(batches).toBe(2);
    expect(model.optimizer?.iterations).toBe(2);
    // The interrupted epoch is not a completed epoch of history.
    expect(h.epoch).toEqual([]);
    expect(h.history.loss).toEqual([]);
    expect(epochEnds).toBeLessThanOrEqual(1);
  });

  it('returning false from onEpochEnd stops after that epoch', async () => {
    const model = compiled();
    const h = await model.fit(small.x, small.labels, {
      epochs: 5,
      batchSize: 25,
      verbose: 0,
      callbacks: { onEpochEnd: (e) => (e === 1 ? false : undefined) },
    });
    expect(h.stopped).toBe(true);
    expect(h.epoch).toEqual([0, 1]);
    expect(h.history.loss).toHaveLength(2);
    expect(model.optimizer?.iterations).toBe(8);
  });

  it('an AbortController signal aborted in onBatchEnd stops after that batch', async () => {
    const model = compiled();
    const ac = new AbortController();
    let batches = 0;
    const h = await model.fit(small.x, small.labels, {
      epochs: 3,
      batchSize: 10,
      verbose: 0,
      signal: ac.signal,
      callbacks: {
        onBatchEnd: (b) => {
          batches++;
          if (b === 2) ac.abort();
        },
      },
    });
    expect(h.stopped).toBe(true);
    expect(batches).toBe(3);
    expect(model.optimizer?.iterations).toBe(3);
  });

  it('an abort from a timer while fit runs stops it (fit yields to the event loop)', async () => {
    const model = compiled();
    const ac = new AbortController();
    let batches = 0;
    const timer = setTimeout(() => ac.abort(), 30);
    const h = await model.fit(bars(400, 9).x, bars(400, 9).labels, {
      epochs: 1000,
      batchSize: 4,
      verbose: 0,
      signal: ac.signal,
      callbacks: {
        onBatchEnd: () => {
          batches++;
        },
      },
    });
    clearTimeout(timer);
    expect(h.stopped).toBe(true);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(1000 * 100);
    expect(model.optimizer?.iterations).toBe(batches);
  });

  it('stopTraining() from a callback stops after the current batch', async () => {
    const model = compiled();
    let batches = 0;
    const h = await model.fit(small.x, small.labels, {
      epochs: 2,
      batchSize: 10,
      verbose: 0,
      callbacks: {
        onBatchEnd: () => {
          if (++batches === 4) model.stopTraining();
        },
      },
    });
    expect(h.stopped).toBe(true);
    expect(batches).toBe(4);
    // A later fit starts afresh.
    const h2 = await model.fit(small.x, small.labels, { epochs: 1, batchSize: 50, verbose: 0 });
    expect(h2.stopped).toBe(false);
    expect(h2.epoch).toEqual([0]);
  });

  it('validationData fills val_loss / val_accuracy once per epoch, equal to evaluate()', async () => {
    const model = compiled();
    const val = bars(45, 8);
    const epochLogs: sn.Logs[] = [];
    const h = await model.fit(small.x, small.labels, {
      epochs: 3,
      batchSize: 16,
      verbose: 0,
      validationData: [val.x, val.labels],
      callbacks: {
        onEpochEnd: (_e, logs) => {
          epochLogs.push({ ...logs });
        },
      },
    });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(h.history.val_loss).toHaveLength(3);
    expect(h.history.val_accuracy).toHaveLength(3);
    expect(Object.keys(epochLogs[0]).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(h.history.val_loss).toEqual(epochLogs.map((l) => l.val_loss));
    const [vl, va] = model.evaluate(val.x, val.labels, { batchSize: 16 });
    expect(h.history.val_loss![2]).toBe(vl);
    expect(h.history.val_accuracy![2]).toBe(va);
    for (const a of h.history.val_accuracy!) expect(a * 45).toBeCloseTo(Math.round(a * 45), 9);
  });

  it('verbose 2 prints one Keras-style line per epoch through `print`', async () => {
    const model = compiled();
    const lines: string[] = [];
    await model.fit(small.x, small.labels, { epochs: 2, batchSize: 25, verbose: 2, print: (l) => lines.push(l) });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('Epoch 1/2');
    expect(lines[2]).toBe('Epoch 2/2');
    expect(lines[1]).toMatch(/^4\/4 \[={30}\] - \d+s \d+ms\/step - loss: \d+\.\d{4} - accuracy: [01]\.\d{4}$/);
    const quiet: string[] = [];
    await model.fit(small.x, small.labels, { epochs: 1, batchSize: 25, verbose: 0, print: (l) => quiet.push(l) });
    expect(quiet).toEqual([]);
  });
});

describe('validationSplit', () => {
  it('holds out the last fraction before shuffling: same weights as training on the head alone; val metrics are the tail', async () => {
    const d = barRows(train, 0, 50);
    // floor(50 * (1 - 0.3)) = 35 training examples, 15 for validation.
    const a = track(tinyModel(8));
    a.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    let steps = 0;
    const h = await a.fit(d.x, d.labels, {
      epochs: 2,
      batchSize: 10,
      verbose: 0,
      seed: 3,
      validationSplit: 0.3,
      callbacks: {
        onBatchEnd: () => {
          steps++;
        },
      },
    });
    expect(steps).toBe(2 * 4);
    const head = barRows(train, 0, 35),
      tail = barRows(train, 35, 15);
    const b = track(tinyModel(8));
    b.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const hb = await b.fit(head.x, head.labels, {
      epochs: 2,
      batchSize: 10,
      verbose: 0,
      seed: 3,
      validationData: [tail.x, tail.labels],
    });
    expect(weightsHash(a)).toBe(weightsHash(b));
    expect(h.history).toEqual(hb.history);
    const [vl, va] = a.evaluate(tail.x, tail.labels, { batchSize: 10 });
    expect(h.history.val_loss![1]).toBe(vl);
    expect(h.history.val_accuracy![1]).toBe(va);
  });

  it('works with tensors and plain arrays alike', async () => {
    const d = barRows(train, 0, 20);
    const xt = sn.tensor(d.x.data, d.x.shape);
    const a = track(tinyModel(9));
    a.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const ha = await a.fit(
      xt,
      { data: Array.from(d.labels.data), shape: [20] },
      { batchSize: 5, verbose: 0, seed: 1, validationSplit: 0.25 },
    );
    const b = track(tinyModel(9));
    b.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const hb = await b.fit(d.x, d.labels, { batchSize: 5, verbose: 0, seed: 1, validationSplit: 0.25 });
    expect(ha.history).toEqual(hb.history);
    expect(weightsHash(a)).toBe(weightsHash(b));
    xt.dispose();
  });

  it('errors: with validationData, out of range, or a split that leaves no example on one side', async () => {
    const m = track(tinyModel(10));
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const d = barRows(train, 0, 4);
    await expect(
      m.fit(d.x, d.labels, { verbose: 0, validationSplit: 0.5, validationData: [d.x, d.labels] }),
    ).rejects.toThrow('fit: give validationData or validationSplit, not both');
    await expect(m.fit(d.x, d.labels, { verbose: 0, validationSplit: 1 })).rejects.toThrow(
      /validationSplit must be a number in \[0, 1\), got 1/,
    );
    await expect(m.fit(d.x, d.labels, { verbose: 0, validationSplit: -0.1 })).rejects.toThrow(
      /validationSplit must be a number in \[0, 1\)/,
    );
    // floor(4 * 0.1) = 0 left for training; floor(4 * (1 - 1e-20)) = 4 leaves none for validation.
    await expect(m.fit(d.x, d.labels, { verbose: 0, validationSplit: 0.9 })).rejects.toThrow(
      'fit: validationSplit 0.9 of 4 examples leaves 0 for training and 4 for validation; both need at least one',
    );
    await expect(m.fit(d.x, d.labels, { verbose: 0, validationSplit: 1e-20 })).rejects.toThrow(
      /leaves 4 for training and 0 for validation/,
    );
    expect(m.optimizer!.iterations).toBe(0);
    // 0 means no split.
    const h = await m.fit(d.x, d.labels, { verbose: 0, validationSplit: 0 });
    expect(h.history.val_loss).toBeUndefined();
  });
});
