// The thread pool under stress: back-to-back batches of 2-6 tasks, so workers are often still
// leaving one batch while the caller starts the next. Every task must run exactly once: each adds 1
// to its own buffer, and the totals are checked against the exact expected counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import type { Task } from '../../src/wasm/abi.js';

beforeAll(async () => {
  await sn.ready({ build: 'threads', threads: 2 });
});
afterAll(async () => {
  await sn.shutdown();
});

describe('thread pool', () => {
  it('runs every task exactly once over many short batches of changing size (2 s)', () => {
    const e = sn.getEngine();
    expect(e.pool.threads).toBe(2);
    const arena = adv.getArena();
    const bufs = [0, 1, 2, 3, 4, 5].map(() => arena.alloc(16 * 4));
    let runs = 0;
    const t0 = Date.now();
    for (; Date.now() - t0 < 2000; runs++) {
      const n = 2 + (runs % 5);
      e.pool.run(bufs.slice(0, n).map((p): Task => ['add_scalar', p, 1, 16]));
    }
    const f = arena.f32();
    const want = bufs.map((_, i) => {
      let c = 0;
      for (let r = 0; r < runs; r++) if (2 + (r % 5) > i) c++;
      return c;
    });
    const got = bufs.map((p) => f[p / 4]);
    expect(runs).toBeGreaterThan(1000);
    expect(got).toEqual(want);
    bufs.forEach((p) => arena.release(p));
  });

  it('keeps working across thread-count changes', async () => {
    const arena = adv.getArena();
    const p = arena.alloc(24 * 4);
    for (let r = 0; r < 20; r++) {
      await sn.setThreads(r % 2 ? 1 : 2);
      sn.getEngine().pool.run([
        ['add_scalar', p, 1, 16],
        ['add_scalar', p + 64, 2, 8],
      ]);
    }
    const f = arena.f32();
    expect(f[p / 4]).toBe(20);
    expect(f[p / 4 + 15]).toBe(20);
    expect(f[p / 4 + 16]).toBe(40);
    arena.release(p);
    await sn.setThreads(2);
  });
});
