// Keras callbacks in fit: hook order and params, the function-object form alongside, EarlyStopping
// (patience, minDelta, mode, baseline, restoreBestWeights) and ReduceLROnPlateau (patience,
// cooldown, minLr) on scripted monitor sequences, TerminateOnNaN keeping the weights from before
// the failed batch, History's learning_rate and stoppedEpoch, argument errors.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { bars, tinyModel, weightsHash } from './fixtures.js';

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

const data = bars(40, 3);
const val = bars(20, 4);

function compiled(lr = 0.01, seed = 1): sn.Sequential {
  const m = track(tinyModel(seed));
  m.compile({
    optimizer: new sn.SGD({ learningRate: lr }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return m;
}

/**
 * Replaces logs[key] at each epoch end with the next scripted value (it must run before the callback
 * under test) and records the weights hash at every epoch end.
 */
class Script extends sn.Callback {
  hashes: string[] = [];
  constructor(
    private readonly key: string,
    private readonly values: number[],
  ) {
    super();
  }
  onEpochEnd(epoch: number, logs: sn.Logs): void {
    logs[this.key] = this.values[epoch]!;
    this.hashes.push(weightsHash(this.model!));
  }
}

const train = (m: sn.Model, callbacks: sn.Callback[], epochs: number, extra: sn.FitArgs = {}) =>
  m.fit(data.x, data.labels, {
    epochs,
    batchSize: 10,
    verbose: 0,
    validationData: [val.x, val.labels],
    callbacks,
    ...extra,
  });

describe('Callback', () => {
  it('hooks run in Keras order with fit params; function hooks work alongside in the same fit form', async () => {
    const m = compiled();
    const seen: string[] = [];
    class Rec extends sn.Callback {
      onTrainBegin() {
        seen.push(`train begin ${this.params!.epochs}x${this.params!.steps} of ${this.params!.samples}`);
      }
      onEpochBegin(e: number) {
        seen.push(`epoch ${e}`);
      }
      onBatchBegin(b: number) {
        seen.push(`b${b}`);
      }
      async onBatchEnd(b: number, logs: sn.Logs) {
        await Promise.resolve();
        seen.push(`e${b}:${Object.keys(logs)}`);
      }
      onEpochEnd(e: number, logs: sn.Logs) {
        seen.push(`end ${e}:${Object.keys(logs)}`);
      }
      onTrainEnd() {
        seen.push('train end');
        expect(this.model).toBe(m);
      }
    }
    await train(m, [new Rec()], 2, { batchSize: 20, initialEpoch: 3 });
    expect(seen).toEqual([
      'train begin 2x2 of 40',
      'epoch 3',
      'b0',
      'e0:loss,accuracy',
      'b1',
      'e1:loss,accuracy',
      'end 3:loss,accuracy,val_loss,val_accuracy',
      'epoch 4',
      'b0',
      'e0:loss,accuracy',
      'b1',
      'e1:loss,accuracy',
      'end 4:loss,accuracy,val_loss,val_accuracy',
      'train end',
    ]);
    const fns: string[] = [];
    const h = await m.fit(data.x, data.labels, {
      epochs: 3,
      batchSize: 20,
      verbose: 0,
      callbacks: {
        onTrainBegin: () => void fns.push('begin'),
        onEpochEnd: (e) => {
          fns.push(`end ${e}`);
          return e < 1;
        },
        onTrainEnd: () => void fns.push('finish'),
      },
    });
    expect(fns).toEqual(['begin', 'end 0', 'end 1', 'finish']);
    expect(h.stopped).toBe(true);
    expect(h.stoppedEpoch).toBe(1);
    expect(h.epoch).toEqual([0, 1]);
  });

  it('History records the learning rate of every epoch and stoppedEpoch null for a full run', async () => {
    const m = compiled(0.02);
    const sched = sn.schedules.stepDecay({ initial: 0.02, dropEvery: 4, factor: 0.5 });
    const h = await train(m, [], 3, { learningRateSchedule: sched });
    // 4 steps per epoch: the last step of epoch e is step 4e + 3.
    expect(h.history.learning_rate).toEqual([sched(3), sched(7), sched(11)].map(Math.fround));
    expect(h.stopped).toBe(false);
    expect(h.stoppedEpoch).toBeNull();
  });
});

describe('EarlyStopping', () => {
  it('stops after patience epochs without improvement and reports the epoch', async () => {
    const m = compiled();
    const script = new Script('val_loss', [1, 0.8, 0.85, 0.9, 0.95, 0.7]);
    const es = new sn.EarlyStopping({ patience: 2 });
    const h = await train(m, [script, es], 6);
    // epoch 1 is the best; epochs 2 and 3 do not improve: stop at the end of epoch 3.
    expect(h.epoch).toEqual([0, 1, 2, 3]);
    expect(h.stopped).toBe(true);
    expect(h.stoppedEpoch).toBe(3);
    expect(es.stoppedEpoch).toBe(3);
    expect(es.best).toBe(0.8);
    expect(es.bestEpoch).toBe(1);
    // Without restoreBestWeights the weights stay those of the last epoch.
    expect(weightsHash(m)).toBe(script.hashes[3]);
  });

  it('restoreBestWeights puts back exactly the weights of the best epoch', async () => {
    const m = compiled();
    const script = new Script('val_loss', [1, 0.5, 0.6, 0.7, 0.8]);
    const h = await train(m, [script, new sn.EarlyStopping({ patience: 2, restoreBestWeights: true, verbose: 1 })], 5, {
      print: () => {},
    });
    expect(h.stoppedEpoch).toBe(3);
    expect(new Set(script.hashes).size).toBe(4);
    expect(weightsHash(m)).toBe(script.hashes[1]);
  });

  it('minDelta, mode max (auto for accuracies) and baseline', async () => {
    const run = async (values: number[], cfg: sn.EarlyStoppingConfig, key = 'val_loss') => {
      const m = compiled();
      const h = await train(m, [new Script(key, values), new sn.EarlyStopping(cfg)], values.length);
      return h.stoppedEpoch;
    };
    // 0.99 and 0.98 improve on 1 by less than minDelta 0.05.
    expect(await run([1, 0.99, 0.98, 0.97], { patience: 1, minDelta: 0.05 })).toBe(1);
    expect(await run([1, 0.99, 0.98, 0.97], { patience: 1 })).toBeNull();
    // val_accuracy goes up: auto picks max, so a fall counts as no improvement.
    expect(await run([0.5, 0.6, 0.55, 0.58], { monitor: 'val_accuracy', patience: 2 }, 'val_accuracy')).toBe(3);
    expect(
      await run([0.5, 0.6, 0.55, 0.58], { monitor: 'val_accuracy', patience: 2, mode: 'min' }, 'val_accuracy'),
    ).toBe(2);
    // Improving epochs that never beat the baseline do not restart the count.
    expect(await run([0.9, 0.8, 0.85], { patience: 2, baseline: 0.5 })).toBe(2);
    expect(await run([0.9, 0.8, 0.85], { patience: 2 })).toBeNull();
  });

  it('an unknown monitor fails at the end of the first epoch, naming what the logs have', async () => {
    const m = compiled();
    await expect(
      m.fit(data.x, data.labels, { epochs: 2, verbose: 0, callbacks: [new sn.EarlyStopping()] }),
    ).rejects.toThrow(
      /EarlyStopping: monitor "val_loss" is not in the logs at the end of epoch 1 \(they have loss, accuracy\); pass validationData or validationSplit/,
    );
    expect(() => new sn.EarlyStopping({ patience: -1 })).toThrow(
      /EarlyStopping: patience must be a non-negative integer, got -1/,
    );
    expect(() => new sn.EarlyStopping({ mode: 'least' as never })).toThrow(
      /mode must be 'auto', 'min' or 'max', got "least"/,
    );
    expect(() => new sn.EarlyStopping({ patience: 1, restore: true } as never)).toThrow(/unknown option "restore"/);
    expect(() => new sn.EarlyStopping({ minDelta: -0.1 })).toThrow(/minDelta must be a number >= 0, got -0.1/);
  });
});

describe('ReduceLROnPlateau', () => {
  const lrs = async (cfg: sn.ReduceLROnPlateauConfig, epochs: number) => {
    const m = compiled(0.01);
    const rl = new sn.ReduceLROnPlateau(cfg);
    const logged: number[] = [];
    class Watch extends sn.Callback {
      onEpochEnd(_e: number, logs: sn.Logs) {
        logged.push(logs.learning_rate!);
      }
    }
    const h = await train(m, [new Script('val_loss', Array(epochs).fill(1)), rl, new Watch()], epochs);
    expect(logged).toEqual(h.history.learning_rate);
    return [...h.history.learning_rate!, m.optimizer!.learningRate];
  };

  it('lowers the rate by factor after patience epochs without improvement, again after another patience', async () => {
    expect(await lrs({ patience: 2, factor: 0.5 }, 6)).toEqual([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]);
  });

  it('cooldown waits before counting again; minLr is a floor', async () => {
    expect(await lrs({ patience: 2, factor: 0.5, cooldown: 2 }, 6)).toEqual([
      0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025,
    ]);
    expect(await lrs({ patience: 1, factor: 0.5, minLr: 0.003 }, 4)).toEqual([0.01, 0.01, 0.005, 0.003, 0.003]);
  });

  it('refuses factor >= 1, bad patience, and a fit that also has a learningRateSchedule', async () => {
    expect(() => new sn.ReduceLROnPlateau({ factor: 1 })).toThrow(/ReduceLROnPlateau: factor must be below 1, got 1/);
    expect(() => new sn.ReduceLROnPlateau({ patience: 0.5 })).toThrow(
      /patience must be a non-negative integer, got 0.5/,
    );
    const m = compiled();
    await expect(
      train(m, [new sn.ReduceLROnPlateau()], 1, {
        learningRateSchedule: sn.schedules.stepDecay({ initial: 0.1, dropEvery: 1, factor: 1 }),
      }),
    ).rejects.toThrow(/ReduceLROnPlateau: fit has a learningRateSchedule/);
  });
});

describe('TerminateOnNaN', () => {
  // At the end of epoch 0's batch 1, sets the dense kernel to +-3e38: finite weights whose logits
  // overflow, so the next batch's loss is not finite.
  class Sabotage extends sn.Callback {
    hash = '';
    onBatchEnd(b: number) {
      if (b !== 1 || this.hash) return;
      const w = this.model!.getWeights();
      const k = w[2]!;
      const v = new Float32Array(k.size).map((_, i) => (i % 2 ? 3e38 : -3e38));
      this.model!.setWeights(w.map((t, i) => (i === 2 ? v : (t.dataSync() as Float32Array))));
      for (const t of w) t.dispose();
      this.hash = weightsHash(this.model!);
    }
  }

  it('stops on a non-finite loss; fit returns and keeps the weights from before the failed batch', async () => {
    const m = compiled();
    const sab = new Sabotage();
    const t = new sn.TerminateOnNaN();
    const lines: string[] = [];
    const h = await train(m, [sab, t], 3, { print: (s) => lines.push(s) });
    expect(t.stoppedBatch).toBe(2);
    expect(lines).toContain('Batch 2: invalid loss, terminating training');
    expect(h.stopped).toBe(true);
    expect(h.stoppedEpoch).toBe(0);
    expect(h.epoch).toEqual([]);
    expect(weightsHash(m)).toBe(sab.hash);
    expect(m.optimizer!.iterations).toBe(2);
    // Without it, the same fit throws (and also keeps those weights).
    const m2 = compiled();
    const sab2 = new Sabotage();
    await expect(train(m2, [sab2], 3)).rejects.toThrow(/loss became (NaN|Infinity) at epoch 1, batch 3/);
    expect(weightsHash(m2)).toBe(sab2.hash);
  });
});
