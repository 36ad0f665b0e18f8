// Op checks shared by the kernel-family tests (pad2d, resize, permute, act): an op's forward and its
// input gradient (through the tape) against a float64 reference, a float64 reference's gradient
// against finite differences, raw kernel calls over buffers fenced by NaN guard words, and bits of a
// computation at 1, 2 and 4 threads. Inputs are seeded by the test name and rounded to f32 first.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng, numericGrad, relErr, type Rng } from './check.js';

export interface Tol { atol: number; rtol: number }
export const U = 2 ** -24;
/** Exact: copies and permutations must reproduce every bit of the reference's value. */
export const EXACT: Tol = { atol: 0, rtol: 0 };

export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
export const rand = (rng: Rng, n: number, lo = -1, hi = 1) => Float32Array.from(rng.fill(n, lo, hi));
export const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const bits = (a: Float32Array) => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/**
 * op(x) against ref.fwd, and d/dx sum(op(x) * r) against ref.bwd(r) for a random r; returns nothing,
 * disposes everything it made.
 */
export function checkOp(label: string, op: (x: sn.Tensor) => sn.Tensor, x: Float32Array, shape: number[],
  ref: { fwd: Float64Array; bwd: (dy: Float32Array) => Float64Array; outShape?: number[] }, fwdTol: Tol, bwdTol: Tol): void {
  const xt = sn.tensor(x, shape);
  const y = op(xt);
  if (ref.outShape) expect(y.shape, `${label}: output shape`).toEqual(ref.outShape);
  expectClose(y.dataSync(), ref.fwd, { ...fwdTol, label: `${label}: forward` });
  const r = rand(makeRng(seedOf(label) ^ 0x9e37), y.size);
  const rt = sn.tensor(r, y.shape);
  const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(op(t!), rt)))([xt]);
  expectClose(grads[0]!.dataSync(), ref.bwd(r), { ...bwdTol, label: `${label}: dx` });
  for (const t of [xt, y, rt, value, ...grads]) t.dispose();
}

/**
 * The reference's backward against central differences of x -> sum(fwd(x) * r), in float64.
 * Inputs should keep kinks (relu, clip, floor) farther than h from every x.
 */
export function fdCheck(label: string, fwd: (x: Float64Array) => Float64Array,
  bwd: (dy: Float64Array, x: Float64Array) => Float64Array, x: Float64Array, outSize: number, h = 1e-6): void {
  const r = Float64Array.from(makeRng(seedOf(label)).fill(outSize, -1, 1));
  const f = (v: Float64Array) => { const y = fwd(v); let s = 0; for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!; return s; };
  const num = numericGrad(f, x, h);
  const ana = bwd(r, x);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(ana[i]! - num[i]!) > 1e-8 ? relErr(ana[i]!, num[i]!) : 0);
  expect(worst, `${label}: reference gradient vs finite differences (worst relative error)`).toBeLessThan(1e-6);
}

const GUARD = 8;
/**
 * Runs fn over copies of `inputs` and of `outputs` (initial contents, or a length for NaN-filled)
 * fenced by NaN guard words; checks the guards and that inputs are unchanged; returns the outputs.
 */
export function rawRun(label: string, inputs: ArrayLike<number>[], outputs: (number | ArrayLike<number>)[],
  fn: (ins: number[], outs: number[]) => void, ints: number[][] = []): Float32Array[] {
  const arena = sn.getArena();
  const alloc = (n: number, init?: ArrayLike<number>, nan = true) => {
    const base = arena.alloc((n + 2 * GUARD) * 4);
    const f = arena.f32(), b = base >>> 2;
    f.fill(NaN, b, b + 2 * GUARD + n);
    if (init) f.set(init, b + GUARD);
    else if (!nan) f.fill(0, b + GUARD, b + GUARD + n);
    return { base, ptr: base + GUARD * 4, n };
  };
  const read = (g: { ptr: number; n: number }) => arena.f32().slice(g.ptr >>> 2, (g.ptr >>> 2) + g.n);
  const ins = inputs.map((d) => alloc(d.length, d));
  const outs = outputs.map((o) => (typeof o === 'number' ? alloc(o) : alloc(o.length, o)));
  const metas = ints.map((m) => { const p = arena.alloc(m.length * 4); arena.i32().set(m, p >>> 2); return p; });
  const before = ins.map((g) => bits(read(g)));
  fn([...ins.map((g) => g.ptr), ...metas], outs.map((g) => g.ptr));
  const f = arena.f32();
  const problems: string[] = [];
  [...ins, ...outs].forEach((g, i) => {
    const b = g.base >>> 2;
    for (let j = 0; j < GUARD; j++) {
      if (!Number.isNaN(f[b + j]!) || !Number.isNaN(f[b + GUARD + g.n + j]!)) {
        problems.push(`buffer ${i}: guard word overwritten`);
        break;
      }
    }
  });
  ins.forEach((g, i) => { if (bits(read(g)).some((v, j) => v !== before[i]![j])) problems.push(`input ${i} changed`); });
  expect(problems, `${label}: guard words / inputs`).toEqual([]);
  const res = outs.map(read);
  for (const g of [...ins, ...outs]) arena.release(g.base);
  for (const p of metas) arena.release(p);
  return res;
}

/** run() at 1, 2 and 4 threads (threads build) must give the same bits in every array it returns. */
export async function sameBitsAcrossThreads(run: () => Float32Array[]): Promise<void> {
  const results: Float32Array[][] = [];
  for (const n of [1, 2, 4]) {
    expect(await sn.setThreads(n)).toBe(n);
    results.push(run());
  }
  await sn.setThreads(2);
  for (const r of results.slice(1)) {
    r.forEach((a, i) => {
      const ua = bits(a), ub = bits(results[0]![i]!);
      let diff = 0;
      for (let j = 0; j < ua.length; j++) if (ua[j] !== ub[j]) diff++;
      expect(diff, `array ${i}: elements whose bits differ from the 1-thread run`).toBe(0);
    });
  }
}
