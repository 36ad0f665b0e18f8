// The Node callbacks that write files: ModelCheckpoint (placeholders in the path, saveBestOnly, the
// file resumes the model exactly) and CSVLogger (header, one row per epoch, separator, append).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { CSVLogger, ModelCheckpoint, formatPath, loadModelFile } from '../../src/node/index.js';
import { bars, tinyModel, weightsHash } from '../nn/fixtures.js';

let dir = '';
beforeAll(async () => {
  await sn.ready();
  dir = await mkdtemp(join(tmpdir(), 'simdnet-callbacks-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const live: sn.Model[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

const data = bars(30, 5);
const val = bars(15, 6);

function compiled(): sn.Sequential {
  const m = tinyModel(2);
  live.push(m);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Sets logs.val_loss to the next scripted value and records the weights hash at each epoch end. */
class Script extends sn.Callback {
  hashes: string[] = [];
  constructor(private readonly values: number[]) {
    super();
  }
  onEpochEnd(epoch: number, logs: sn.Logs): void {
    logs.val_loss = this.values[epoch]!;
    this.hashes.push(weightsHash(this.model!));
  }
}

const train = (m: sn.Model, callbacks: sn.Callback[], epochs: number) =>
  m.fit(data.x, data.labels, { epochs, batchSize: 10, verbose: 0, validationData: [val.x, val.labels], callbacks });

describe('ModelCheckpoint', () => {
  it('formats Keras placeholders', () => {
    const v = { epoch: 3, val_loss: 0.123456, loss: -0.5, accuracy: 0.00012 };
    expect(formatPath('m-{epoch:02d}-{val_loss:.4f}.simdnet', v)).toBe('m-03-0.1235.simdnet');
    expect(formatPath('{epoch}_{loss:06.2f}_{accuracy:.2e}_{epoch:3d}', v)).toBe('3_-00.50_1.20e-04_  3');
    expect(() => formatPath('{val_acc:.2f}', v)).toThrow(
      /the path has \{val_acc\} but the logs have no "val_acc" \(they have epoch, val_loss, loss, accuracy\)/,
    );
    expect(() => formatPath('{loss:>8}', v)).toThrow(/format ">8" of \{loss\} is not supported/);
  });

  it('saveBestOnly writes only epochs that improve on the best, and the file resumes that model', async () => {
    const m = compiled();
    const script = new Script([1, 0.5, 0.7, 0.4, 0.45]);
    const ck = new ModelCheckpoint({
      filepath: join(dir, 'best', 'm-{epoch:02d}-{val_loss:.4f}.simdnet'),
      saveBestOnly: true,
    });
    await train(m, [script, ck], 5);
    const files = (await readdir(join(dir, 'best'))).sort();
    expect(files).toEqual(['m-01-1.0000.simdnet', 'm-02-0.5000.simdnet', 'm-04-0.4000.simdnet']);
    expect(ck.best).toBe(0.4);
    const back = await loadModelFile(join(dir, 'best', 'm-04-0.4000.simdnet'));
    live.push(back);
    expect(weightsHash(back)).toBe(script.hashes[3]);
    expect(back.optimizer!.iterations).toBe(12);
  });

  it('without saveBestOnly writes every epoch (one path overwritten when it has no placeholder)', async () => {
    const m = compiled();
    const script = new Script([1, 2, 3]);
    const ck = new ModelCheckpoint({ filepath: join(dir, 'last.simdnet') });
    await train(m, [script, ck], 3);
    expect(ck.saved).toEqual([1, 2, 3].map(() => join(dir, 'last.simdnet')));
    const back = await loadModelFile(join(dir, 'last.simdnet'));
    live.push(back);
    expect(weightsHash(back)).toBe(script.hashes[2]);
  });

  it('bad arguments: no filepath, unknown option, unknown monitor at the first epoch end', async () => {
    expect(() => new ModelCheckpoint({} as never)).toThrow(
      /ModelCheckpoint: filepath must be a non-empty string, got undefined/,
    );
    expect(() => new ModelCheckpoint({ filepath: 'x', saveBest: true } as never)).toThrow(/unknown option "saveBest"/);
    const m = compiled();
    await expect(
      m.fit(data.x, data.labels, {
        epochs: 1,
        verbose: 0,
        callbacks: [
          new ModelCheckpoint({ filepath: join(dir, 'never.simdnet'), monitor: 'val_acc', saveBestOnly: true }),
        ],
      }),
    ).rejects.toThrow(
      /ModelCheckpoint: monitor "val_acc" is not in the logs at the end of epoch 1 \(they have loss, accuracy\)/,
    );
  });
});

describe('CSVLogger', () => {
  it('writes a sorted header and a row per epoch; append adds rows without a second header', async () => {
    const file = join(dir, 'log.csv');
    await writeFile(file, 'stale\n');
    const m = compiled();
    const h = await train(m, [new CSVLogger({ filename: file })], 2);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toBe('epoch,accuracy,loss,val_accuracy,val_loss');
    expect(lines.slice(1)).toEqual(
      [0, 1].map((e) =>
        [e, h.history.accuracy[e], h.history.loss[e], h.history.val_accuracy![e], h.history.val_loss![e]].join(','),
      ),
    );
    await m.fit(data.x, data.labels, {
      epochs: 1,
      verbose: 0,
      initialEpoch: 2,
      callbacks: [new CSVLogger({ filename: file, append: true, separator: ';' })],
    });
    const more = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(more.length).toBe(4);
    expect(more[3]).toMatch(/^2;[0-9.e-]+;[0-9.e-]+$/);
    expect(() => new CSVLogger({ filename: file, separator: '\n' })).toThrow(/separator must be a one-line string/);
  });
});
