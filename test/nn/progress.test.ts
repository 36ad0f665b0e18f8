// Progress output off a terminal: a line every `interval` ms within an epoch (step/total, ETA, running
// logs) besides the epoch line; on a terminal the bar is redrawn in place instead. Driven by an
// injected clock, never by real time; and through fit's progressInterval.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { Progress, formatEta } from '../../src/nn/progress.js';
import { bars, tinyModel } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

function clocked(tty: boolean, interval?: number) {
  let t = 1000;
  const printed: string[] = [];
  const written: string[] = [];
  const out = { isTTY: tty, write: (s: string) => written.push(s) };
  const p = new Progress(1, (s) => printed.push(s), { interval, now: () => t, out });
  return { p, printed, written, advance: (ms: number) => (t += ms) };
}

describe('progress', () => {
  it('off a terminal prints a line every 30 s within an epoch, with step/total, ETA and running logs', () => {
    const { p, printed, written, advance } = clocked(false);
    p.epochBegin(0, 2);
    for (let step = 1; step <= 100; step++) {
      advance(1000); // 1 s per step: lines after steps 30, 60 and 90
      p.batchEnd(step, 100, { loss: 1 / step, accuracy: step / 100 });
    }
    p.epochEnd(100, { loss: 0.01, accuracy: 1 });
    expect(written).toEqual([]);
    expect(printed.length).toBe(5);
    expect(printed[0]).toBe('Epoch 1/2');
    expect(printed[1]).toBe(' 30/100 [========>.....................] - ETA: 1:10 - loss: 0.0333 - accuracy: 0.3000');
    expect(printed[2]).toMatch(/^ 60\/100 \[.*\] - ETA: 40s - loss: 0\.0167 - accuracy: 0\.6000$/);
    expect(printed[3]).toMatch(/^ 90\/100 \[.*\] - ETA: 10s - loss: 0\.0111 - accuracy: 0\.9000$/);
    expect(printed[4]).toBe(
      '100/100 [==============================] - 100s 1000ms/step - loss: 0.0100 - accuracy: 1.0000',
    );
  });

  it('the interval is configurable and restarts with each epoch; short epochs print only their line', () => {
    const { p, printed, advance } = clocked(false, 5000);
    p.epochBegin(0, 1);
    for (let step = 1; step <= 10; step++) {
      advance(2000);
      p.batchEnd(step, 10, { loss: 0.5 });
    }
    // 2 s per step, 5 s interval: after steps 3, 6 and 9 (at 6, 12 and 18 s).
    expect(printed.filter((l) => /ETA/.test(l)).map((l) => l.split('/')[0]!.trim())).toEqual(['3', '6', '9']);
    const short = clocked(false);
    short.p.epochBegin(0, 1);
    for (let step = 1; step <= 5; step++) {
      short.advance(100);
      short.p.batchEnd(step, 5, { loss: 0.5 });
    }
    short.p.epochEnd(5, { loss: 0.5 });
    expect(short.printed.length).toBe(2);
  });

  it('on a terminal redraws the bar in place and prints no extra lines', () => {
    const { p, printed, written, advance } = clocked(true);
    p.epochBegin(0, 1);
    for (let step = 1; step <= 3; step++) {
      advance(40_000);
      p.batchEnd(step, 3, { loss: 0.5 });
    }
    expect(printed).toEqual(['Epoch 1/1']);
    expect(written.length).toBe(3);
    expect(written[0]!.startsWith('\r1/3 [')).toBe(true);
    expect(written[0]!.endsWith('] - ETA: 1:20 - loss: 0.5000\x1b[K')).toBe(true);
  });

  it('formats ETAs as Keras', () => {
    expect([0, 59.4, 60, 187, 3723].map(formatEta)).toEqual(['0s', '59s', '1:00', '3:07', '1:02:03']);
  });

  it('fit({progressInterval}) reaches the progress lines; a bad interval is refused', async () => {
    const d = bars(60, 1);
    const m = tinyModel(1);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const lines: string[] = [];
    // A tiny interval: every step after the first prints (the test runner's stdout is not a terminal).
    const tty = process.stdout.isTTY;
    await m.fit(d.x, d.labels, { epochs: 1, batchSize: 10, progressInterval: 1e-9, print: (s) => lines.push(s) });
    if (!tty) expect(lines.filter((l) => /ETA/.test(l)).length).toBeGreaterThanOrEqual(4);
    await expect(m.fit(d.x, d.labels, { verbose: 0, progressInterval: 0 })).rejects.toThrow(
      /fit: progressInterval must be a number of seconds > 0, got 0/,
    );
    m.dispose();
  });
});
