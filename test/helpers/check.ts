// Test helpers: tolerant array comparison, finite differences, a seeded PRNG.
// Browser-safe: no node: imports.
import { expect } from 'vitest';

export interface CloseOptions {
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Relative tolerance, scaled by |expected| (default 1e-5). */
  rtol?: number;
  /** Names the comparison in the failure message. */
  label?: string;
}

// actual, expected (same length) -> asserts |a - e| <= atol + rtol*|e| for every element
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}): void {
  const { atol = 1e-6, rtol = 1e-5, label = 'values' } = opts;
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const shown: string[] = [];
  let bad = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    // Exact equality first so matching infinities (e.g. empty max-pool windows) pass.
    if (a === e) continue;
    const diff = Math.abs(a - e);
    // NaN anywhere makes diff NaN, and !(NaN <= tol) counts it as a mismatch.
    if (!(diff <= atol + rtol * Math.abs(e))) {
      bad++;
      if (shown.length < 5) shown.push(`  [${i}] actual ${a} expected ${e}`);
    }
    if (!(diff <= maxDiff)) maxDiff = diff;
  }
  const msg =
    bad === 0
      ? label
      : `${label}: ${bad}/${expected.length} elements outside atol=${atol} rtol=${rtol}\n` +
        `${shown.join('\n')}\n  max abs diff ${maxDiff}\n  mismatch count`;
  expect(bad, msg).toBe(0);
}

// analytic a, numeric n -> |a - n| / max(|a|, |n|, 1e-8)
export function relErr(a: number, n: number): number {
  return Math.abs(a - n) / Math.max(Math.abs(a), Math.abs(n), 1e-8);
}

// f scalar function of x, x (any shape), step h -> df/dx by central differences, same shape as x
// x is perturbed in place and restored, so f may close over it.
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + h;
    const fp = f(x);
    x[i] = old - h;
    const fm = f(x);
    x[i] = old;
    grad[i] = (fp - fm) / (2 * h);
  }
  return grad;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** n draws of uniform(lo, hi). */
  fill(n: number, lo: number, hi: number): Float64Array;
}

// seed (uint32) -> deterministic mulberry32 generator
export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * next();
  const fill = (n: number, lo: number, hi: number): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = uniform(lo, hi);
    return out;
  };
  return { next, uniform, fill };
}

// n, rng -> n values, pairwise at least 0.5*scale apart and |v| >= 0.75*scale, scale = max(1/n, 0.002)
// Keeps max-pool and relu kinks far from any finite-difference step (values lie in about [-1, 1] for n <= 500).
export function distinctValues(n: number, rng: Rng): Float64Array {
  // Shuffle the nonzero integers -n..n (Fisher-Yates), take n of them, jitter each by < 1/4.
  const ints: number[] = [];
  for (let i = 1; i <= n; i++) ints.push(i, -i);
  for (let i = ints.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = ints[i]!;
    ints[i] = ints[j]!;
    ints[j] = t;
  }
  const scale = Math.max(1 / n, 0.002);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (ints[i]! + rng.uniform(-0.25, 0.25)) * scale;
  return out;
}
