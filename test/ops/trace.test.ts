// Kernel traces (src/ops/trace.ts): a run of ops recorded once and replayed must compute what running
// the ops again computes, bit for bit, on new data written where the inputs live; runs that read a
// kernel's result, keep memory, throw or allocate too much give no trace and keep nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { KernelTrace } from '../../src/ops/trace.js';
import { k } from '../../src/ops/util.js';
import { makeRng } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready({ threads: 2 });
});

const rand = (n: number, seed: number) => Float32Array.from(makeRng(seed).fill(n, -1, 1));
const arena = () => adv.getArena();
const at = (ptr: number, n: number) =>
  arena()
    .f32()
    .slice(ptr >>> 2, (ptr >>> 2) + n);

// conv (direct, on threads) → relu → residual add → max pool → flatten → dense: the ops' own results
function network(x: sn.Tensor, w: sn.Tensor, b: sn.Tensor, d: sn.Tensor): sn.Tensor {
  const c = sn.conv2d(x, w, { padding: 'same', bias: b, algorithm: 'direct' });
  const r = sn.relu(c);
  const s = sn.add(r, x);
  const p = sn.maxPool2d(s, { poolSize: 2 });
  return sn.dense(sn.reshape(p, [x.shape[0]!, -1]), d);
}

describe('KernelTrace', () => {
  it('replays a run of ops with the bits of running them again, for new input data', () => {
    const xs = [1, 2, 3].map((s) => rand(2 * 8 * 8 * 4, s));
    const w = sn.tensor(rand(3 * 3 * 4 * 4, 10), [3, 3, 4, 4]);
    const b = sn.tensor(rand(4, 11), [4]);
    const d = sn.tensor(rand(64 * 5, 12), [64, 5]);
    const before = arena().liveBytes;
    const rec = KernelTrace.record(
      () =>
        sn.tidy(() => {
          const x = sn.tensor(xs[0]!, [2, 8, 8, 4]);
          const y = network(x, w, b, d);
          return { x: x.ptr, y: y.ptr, first: y.dataSync() as Float32Array };
        }),
      1 << 24,
    );
    expect(rec.why).toBeUndefined();
    const trace = rec.trace!;
    expect(trace.bytes).toBeGreaterThan(0);
    expect(arena().liveBytes).toBe(before + trace.bytes);
    const fresh = (x: Float32Array) =>
      sn.tidy(() => network(sn.tensor(x, [2, 8, 8, 4]), w, b, d).dataSync() as Float32Array);
    expect(rec.result.first).toEqual(fresh(xs[0]!));
    for (const x of xs.slice(1)) {
      arena()
        .f32()
        .set(x, rec.result.x >>> 2);
      trace.replay();
      const y = at(rec.result.y, 10);
      expect(y).toEqual(fresh(x));
      expect(y).not.toEqual(rec.result.first);
    }
    trace.dispose();
    trace.dispose(); // once only
    expect(arena().liveBytes).toBe(before);
    expect(() => trace.replay()).toThrow(/disposed/);
    for (const t of [w, b, d]) t.dispose();
  });

  it('replays the zero fills of the blocks it allocated zeroed (an accumulating kernel sees zeros again)', () => {
    const n = 37;
    const rec = KernelTrace.record(
      () =>
        sn.tidy(() => {
          const x = sn.tensor(rand(n, 1), [n]);
          const acc = sn.zeros([n]); // zero-filled by the arena, then summed into
          k().add_into(acc.ptr, x.ptr, n);
          return { x: x.ptr, acc: acc.ptr };
        }),
      1 << 20,
    );
    const x2 = rand(n, 2);
    arena()
      .f32()
      .set(x2, rec.result.x >>> 2);
    rec.trace!.replay();
    expect(at(rec.result.acc, n)).toEqual(x2);
    rec.trace!.dispose();
  });

  it('gives no trace, and keeps nothing, when JavaScript reads a kernel result', () => {
    const x = sn.tensor(rand(50, 3), [50]);
    const before = arena().liveBytes;
    const rec = KernelTrace.record(() => sn.tidy(() => sn.mean(sn.relu(x)).dataSync()[0]), 1 << 20);
    expect(rec.trace).toBeNull();
    expect(rec.why).toMatch(/sum_all/);
    expect(rec.result).toBeCloseTo(
      sn.tidy(() => sn.mean(sn.relu(x)).dataSync()[0]!),
      6,
    );
    expect(arena().liveBytes).toBe(before);
    x.dispose();
  });

  it('gives no trace when a block it allocated is still in use, and leaves that block to its owner', () => {
    const before = arena().liveBytes;
    let input: sn.Tensor | null = null;
    const rec = KernelTrace.record(() => {
      const a = sn.tensor(rand(20, 4), [20]);
      sn.relu(a).dispose();
      a.dispose();
      input = sn.tensor(rand(10, 5), [10]);
      return sn.relu(input); // kept by the caller
    }, 1 << 20);
    expect(rec.trace).toBeNull();
    expect(rec.why).toMatch(/still in use/);
    const kept = rec.result;
    expect(kept.isDisposed).toBe(false);
    expect(kept.dataSync()).toEqual(Float32Array.from(rand(10, 5), (v) => Math.max(v, 0)));
    kept.dispose();
    input!.dispose();
    expect(arena().liveBytes).toBe(before);
  });

  it('gives no trace past its byte limit, and none of the memory stays', () => {
    const before = arena().liveBytes;
    const rec = KernelTrace.record(() => sn.tidy(() => void sn.relu(sn.zeros([1000]))), 4000);
    expect(rec.trace).toBeNull();
    expect(rec.why).toMatch(/allocated \d+ bytes \(more than 4000\)/);
    expect(arena().liveBytes).toBe(before);
  });

  it('abandons the capture as soon as it passes the limit, so a large run does not hold all its blocks', () => {
    const before = arena().liveBytes;
    let peak = 0;
    const rec = KernelTrace.record(() => {
      for (let i = 0; i < 20; i++) {
        sn.tidy(() => void sn.relu(sn.zeros([1000])));
        peak = Math.max(peak, arena().liveBytes);
      }
    }, 10000);
    expect(rec.trace).toBeNull();
    expect(rec.why).toMatch(/more than 10000/);
    // held: at most the ~2.5 runs of 8 KB before the limit, not all 20
    expect(peak - before).toBeLessThan(4 * 8016);
    expect(arena().liveBytes).toBe(before);
  });

  it('passes a throw through, keeps nothing, and can record again afterwards', () => {
    const before = arena().liveBytes;
    expect(() =>
      KernelTrace.record(
        () =>
          sn.tidy(() => {
            sn.relu(sn.zeros([100]));
            throw new Error('inside the run');
          }),
        1 << 20,
      ),
    ).toThrow('inside the run');
    expect(arena().liveBytes).toBe(before);
    const rec = KernelTrace.record(() => sn.tidy(() => void sn.relu(sn.zeros([8]))), 1 << 20);
    expect(rec.trace).not.toBeNull();
    rec.trace!.dispose();
    expect(arena().liveBytes).toBe(before);
  });

  it('refuses to record inside a recording', () => {
    const rec = KernelTrace.record(() => {
      try {
        KernelTrace.record(() => 0, 1);
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    }, 1 << 20);
    expect(rec.result).toMatch(/already recording/);
    rec.trace?.dispose();
  });
});
