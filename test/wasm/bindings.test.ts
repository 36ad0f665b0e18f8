// The thread-count state machine (ready / setThreads / shutdown): requests apply in call order and
// the last one wins, every promise settles, the count is capped with a clear error, and a worker
// that dies is dropped and reported. A seeded random interleaving with predict and fit checks that
// results stay bit-identical to one thread throughout.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { bars, tinyModel, weightsHash } from '../nn/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Rejects instead of hanging when a promise never settles.
const settles = <T>(p: Promise<T>, ms = 30000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`did not settle in ${ms} ms`)), ms))]);
const workers = () => (sn.getEngine().pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers;

beforeAll(async () => {
  await sn.ready({ threads: 1 });
});
afterAll(async () => {
  await sn.shutdown();
});

const data = bars(24, 3);
// model seed -> predictions on data.x and the weight hash after one seeded epoch
async function reference(): Promise<{ pred: number[]; hash: string }> {
  const m = tinyModel(9);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const p = m.predict(data.x);
  const pred = Array.from(p.dataSync());
  p.dispose();
  await m.fit(data.x, data.labels, { batchSize: 8, verbose: 0, seed: 5 });
  const hash = weightsHash(m);
  m.dispose();
  return { pred, hash };
}

describe.runIf(sn.sharedMemorySupported())('thread-count requests', () => {
  it('setThreads(2), then shutdown() 15 ms later: both settle and no worker is left', async () => {
    const p = sn.setThreads(2);
    await sleep(15);
    await settles(sn.shutdown());
    // p resolves once its own step ran (with 2 threads); shutdown, queued after it, wins.
    expect(await settles(p)).toBe(2);
    expect(sn.getThreads()).toBe(1);
    expect(workers()).toHaveLength(0);
  });

  it('setThreads(2); await shutdown(): nothing keeps running', async () => {
    const p = sn.setThreads(2);
    await settles(sn.shutdown());
    await settles(p);
    await sleep(50);
    expect(sn.getThreads()).toBe(1);
    expect(workers()).toHaveLength(0);
  });

  it('concurrent requests end at the last one: setThreads(2) + setThreads(3) → 3, ready({threads: 2}) twice → 2', async () => {
    const [a, b] = await settles(Promise.all([sn.setThreads(2), sn.setThreads(3)]));
    expect([a, b]).toEqual([3, 3]);
    expect(sn.getThreads()).toBe(3);
    expect(workers()).toHaveLength(2);
    await settles(Promise.all([sn.ready({ threads: 2 }), sn.ready({ threads: 2 })]));
    expect(sn.getThreads()).toBe(2);
    expect(workers()).toHaveLength(1);
    await sn.shutdown();
  });

  it('the thread count is capped at MAX_THREADS with an error naming the cap, before any worker starts', async () => {
    expect(sn.MAX_THREADS).toBe(64);
    await expect(sn.setThreads(999)).rejects.toThrow(
      'setThreads: threads must be an integer from 1 to 64 (MAX_THREADS), got 999',
    );
    await expect(sn.ready({ threads: 65 })).rejects.toThrow(
      'ready(): threads must be an integer from 1 to 64 (MAX_THREADS), got 65',
    );
    await expect(sn.setThreads(1.5)).rejects.toThrow(/got 1\.5/);
    await expect(sn.getEngine().pool.start(100, sn.getEngine().module, sn.getEngine().memory)).rejects.toThrow(
      /from 1 to 64, got 100/,
    );
    expect(workers()).toHaveLength(0);
  });

  it('a worker that dies is dropped from the count and reported; kernels keep giving the same bits', async () => {
    const ref = await reference();
    await sn.setThreads(3);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const dead = sn.getEngine().pool.deadWorkers;
      await workers()[0].terminate();
      for (let i = 0; i < 100 && sn.getThreads() === 3; i++) await sleep(10);
      expect(sn.getThreads()).toBe(2);
      expect(sn.getEngine().pool.deadWorkers).toBe(dead + 1);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/^simdnet: a kernel worker thread died \(exit code \d+\); continuing on 2 threads$/),
      );
      expect(await reference()).toEqual(ref);
      // Asking for 3 again replaces it.
      expect(await sn.setThreads(3)).toBe(3);
    } finally {
      warn.mockRestore();
    }
    await sn.shutdown();
  });

  it('seeded random interleavings of ready / setThreads / shutdown / predict / fit: all settle, bits as on 1 thread', async () => {
    const ref = await reference();
    const counts = { requests: 0, predicts: 0, fits: 0 };
    for (const seed of [1, 2, 3]) {
      const rng = makeRng(seed);
      const pending: Promise<unknown>[] = [];
      let last = sn.getThreads();
      for (let step = 0; step < 25; step++) {
        const r = rng.next();
        if (r < 0.25) {
          last = 1 + Math.floor(rng.next() * 4);
          pending.push(sn.setThreads(last));
          counts.requests++;
        } else if (r < 0.35) {
          last = 1;
          pending.push(sn.shutdown());
          counts.requests++;
        } else if (r < 0.45) {
          last = 1 + Math.floor(rng.next() * 3);
          pending.push(sn.ready({ threads: last }));
          counts.requests++;
        } else if (r < 0.8) {
          const m = tinyModel(9);
          const p = m.predict(data.x);
          expect(Array.from(p.dataSync())).toEqual(ref.pred);
          p.dispose();
          m.dispose();
          counts.predicts++;
        } else {
          pending.push(
            reference().then((x) => {
              expect(x.hash).toBe(ref.hash);
            }),
          );
          counts.fits++;
        }
        if (rng.next() < 0.5) await sleep(Math.floor(rng.next() * 20));
      }
      await settles(Promise.all(pending), 60000);
      expect(sn.getThreads()).toBe(last);
    }
    expect(counts.requests).toBeGreaterThan(10);
    expect(counts.predicts).toBeGreaterThan(10);
    expect(counts.fits).toBeGreaterThan(5);
    await sn.shutdown();
  });
});
