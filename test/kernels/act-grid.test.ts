// The f64 element-wise activations of assembly/kernels/act.ts (exact and tanh GELU, erf, tanh, ELU, swish; our
// own exp / expm1 / erfc from assembly/erf.ts, 2 lanes at a time in the SIMD builds, one in the scalar build)
// on a dense grid over their whole range, the tails, every power-of-two scale, the boundaries of the fast
// paths and of the erfc table, and the special values: each forward result within 0.5 f32 ulp (+ 1e-3) of the
// f64 reference, each backward result as well, up to the f64 rounding of the terms that cancel near a zero
// of the derivative; the other build gives the same bits; groups of 1 .. 9 give the bits of the whole run.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { elu, eluBackward, erf as erf1, erfc, gelu, geluBackward } from '../ref/activations.js';
import { type K, otherAlloc, otherBuild, otherRead, otherRuns, rand, rawRun, requireOther } from './harness.js';

const f = Math.fround;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
// sigmoid without overflow or cancellation in f64, and 1 - sigmoid(v) = sigmoid(-v).
const sig = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
const u2 = (v: number): number => 2 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);

// The grid: x in [-40, 40] by 1/512 (denser than any feature of the functions at f32 scale), ±m 2^e for every
// f32 exponent, the fast-path bounds (GELU |x| < 2, erf |x| < 1.375) and the erfc table's interval ends
// (a = 0.5 k, a = |x| for erf, |x|/√2 for GELU) with their f32 neighbours, then ±0, ±Inf, NaN last.
const grid: number[] = [];
for (let i = -40 * 512; i <= 40 * 512; i++) grid.push(i / 512);
for (let e = -149; e <= 127; e++) for (const m of [1, 1.37, 1.999]) grid.push(m * 2 ** e, -m * 2 ** e);
const edges = [2, 1.375, 13.75, 14, 26.75, 26.75 * Math.SQRT2, 37.6, 38.7];
for (let k = 1; k <= 28; k++) edges.push(0.5 * k, 0.5 * k * Math.SQRT2);
const nextUp = (v: number): number => {
  const b = new Float32Array([v]);
  new Uint32Array(b.buffer)[0]! += 1;
  return b[0]!;
};
for (const e of edges) {
  const v = f(e);
  for (const w of [v, nextUp(v), f(v - (nextUp(v) - v)), f(v * (1 - 2 ** -22))]) grid.push(w, -w);
}
grid.push(3.4e38, -3.4e38, 0, -0, Infinity, -Infinity, NaN);
const X = Float32Array.from(grid);
const N = X.length;
// Per-value dout for the backward kernels: random magnitudes in [0.5, 2) and signs.
const rng = makeRng(0x9e1);
const DOUT = Float32Array.from(rand(rng, N), (v) => (v < 0 ? -1 : 1) * (0.5 + 1.5 * Math.abs(v)));

/** One f32 ulp at r (the spacing of f32 values around r; 2^-149 below the normal range). */
function ulp32(r: number): number {
  const a = Math.abs(r);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (Math.max(e, -126) - 23);
}

interface Case {
  name: string;
  fwd?: (k: K, o: number, i: number, n: number) => void;
  bwd?: (k: K, d: number, dy: number, x: number, n: number) => void;
  /** f64 reference: f(x), and f'(x) with the sum of the magnitudes of the terms that cancel in it */
  ref: (v: number) => number;
  dref?: (v: number) => [number, number];
}

const CASES: Case[] = [
  {
    name: 'gelu',
    fwd: (k, o, i, n) => k.gelu_forward(o, i, n),
    bwd: (k, d, dy, x, n) => k.gelu_backward(d, dy, x, n),
    ref: (v) => gelu([v])[0]!,
    dref: (v) => {
      const p = 0.5 * erfc(-v / Math.SQRT2),
        q = (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
      return [geluBackward([1], [v])[0]!, Math.abs(p) + Math.abs(q)];
    },
  },
  {
    name: 'gelu tanh',
    fwd: (k, o, i, n) => k.gelu_tanh_forward(o, i, n),
    bwd: (k, d, dy, x, n) => k.gelu_tanh_backward(d, dy, x, n),
    ref: (v) => v * sig(u2(v)),
    dref: (v) => {
      const s = sig(u2(v)),
        t = 2 * v * s * sig(-u2(v)) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
      return [s + t, Math.abs(s) + Math.abs(t)];
    },
  },
  {
    name: 'erf',
    fwd: (k, o, i, n) => k.erf_forward(o, i, n),
    bwd: (k, d, dy, x, n) => k.erf_backward(d, dy, x, n),
    ref: (v) => (Number.isNaN(v) ? v : erf1(v)),
    dref: (v) => [(2 / Math.sqrt(Math.PI)) * Math.exp(-v * v), 0],
  },
  { name: 'tanh', fwd: (k, o, i, n) => k.tanh_forward(o, i, n), ref: Math.tanh },
  {
    name: 'elu',
    fwd: (k, o, i, n) => k.elu_forward(o, i, n, 1),
    bwd: (k, d, dy, x, n) => k.elu_backward(d, dy, x, n, 1),
    ref: (v) => elu([v], 1)[0]!,
    dref: (v) => [eluBackward([1], [v], 1)[0]!, 0],
  },
  {
    name: 'elu alpha=0.7',
    fwd: (k, o, i, n) => k.elu_forward(o, i, n, 0.7),
    bwd: (k, d, dy, x, n) => k.elu_backward(d, dy, x, n, 0.7),
    ref: (v) => elu([v], f(0.7))[0]!,
    dref: (v) => [eluBackward([1], [v], f(0.7))[0]!, 0],
  },
  {
    name: 'swish',
    bwd: (k, d, dy, x, n) => k.swish_backward(d, dy, x, n),
    ref: (v) => v * sig(v),
    dref: (v) => {
      const s = sig(v),
        t = v * s * sig(-v);
      return [s + t, Math.abs(s) + Math.abs(t)];
    },
  },
];

// Distance of got from the f64 reference r in f32 ulps at r, less `slack` (absolute); NaN must meet NaN and
// an infinite reference (or one beyond the f32 range) the same rounded value.
function ulps(got: number, r: number, slack = 0): number {
  if (Number.isNaN(r) || Number.isNaN(got)) return Number.isNaN(r) === Number.isNaN(got) ? 0 : Infinity;
  if (!Number.isFinite(f(r)) || !Number.isFinite(got)) return Object.is(got, f(r)) ? 0 : Infinity;
  return Math.max(0, Math.abs(got - r) - slack) / ulp32(r);
}

function worst(got: Float32Array, want: (i: number) => number, slack: (i: number) => number = () => 0) {
  let max = 0,
    at = 0;
  for (let i = 0; i < got.length; i++) {
    const e = ulps(got[i]!, want(i), slack(i));
    if (!(e <= max)) [max, at] = [e, i];
  }
  return { max, at, x: X[at]!, got: got[at]!, want: want(at) };
}

// The same f32 value (-0 is not +0; any NaN is every NaN).
const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

const runFwd = (k: K, c: Case, x: Float32Array): Float32Array =>
  rawRun(`${c.name} fwd`, [x], [x.length], ([px], [po]) => c.fwd!(k, po!, px!, x.length))[0]!;
const runBwd = (k: K, c: Case, x: Float32Array, d: Float32Array, acc?: Float32Array): Float32Array =>
  rawRun(`${c.name} bwd`, [d, x], [acc ?? x.length], ([pd, px], [pg]) => c.bwd!(k, pg!, pd!, px!, x.length))[0]!;

describe(`f64 activations on a ${N}-value grid vs the f64 reference`, () => {
  for (const c of CASES) {
    if (c.fwd) {
      it(`${c.name} forward: within 0.5 f32 ulp + 1e-3 of the reference, specials as the formula gives`, () => {
        const y = runFwd(sn.getEngine().k, c, X);
        const w = worst(y, (i) => c.ref(X[i]!));
        expect(w.max, `worst at x = ${w.x}: ${w.got} vs ${w.want}`).toBeLessThanOrEqual(0.501);
        // -0 in, -0 out (all are odd or x-like at 0); NaN in, NaN out.
        expect(Object.is(y[N - 4], -0), `${c.name}(-0)`).toBe(true);
        expect(Number.isNaN(y[N - 1]!)).toBe(true);
      });
    }
    if (c.bwd && c.dref) {
      // Where the terms of f' cancel (near its zeros) the f64 values carry errors of up to 2^-44 of the terms'
      // magnitude (the fast GELU path's polynomial): that much is allowed on top, 1e-6 f32 ulp elsewhere.
      it(`${c.name} backward: dout * f'(x) within 0.5 f32 ulp + 1e-3 (+ 2^-44 of cancelling terms)`, () => {
        const g = runBwd(sn.getEngine().k, c, X, DOUT);
        const ref = Array.from(X, (v) => c.dref!(v));
        const w = worst(
          g,
          (i) => DOUT[i]! * ref[i]![0],
          (i) => 2 ** -44 * Math.abs(DOUT[i]!) * ref[i]![1],
        );
        expect(w.max, `worst at x = ${w.x}: ${w.got} vs ${w.want}`).toBeLessThanOrEqual(0.501);
      });
    }
  }

  it('the exact GELU keeps its relative precision in the negative tail down to the f32 subnormals', () => {
    const xs = Float32Array.from([-5, -8, -10, -12, -13, -13.9, -14.1]);
    const y = runFwd(sn.getEngine().k, CASES[0]!, xs);
    for (let i = 0; i < xs.length; i++) {
      const r = gelu([xs[i]!])[0]!;
      expect(r).toBeLessThan(0);
      expect(ulps(y[i]!, r), `gelu(${xs[i]})`).toBeLessThanOrEqual(0.501);
    }
    expect(y[xs.length - 1]).toBeGreaterThan(-(2 ** -126)); // subnormal and still not 0
    expect(y[xs.length - 1]).toBeLessThan(0);
  });

  it('groups of 1 .. 9 values (the partial last group of 4) give the bits of the whole run, backward accumulates', () => {
    const k = sn.getEngine().k;
    const from = X.length - 40; // a slice with tails, specials and a NaN
    for (const c of CASES) {
      const xs = X.subarray(from),
        ds = DOUT.subarray(from);
      const whole = c.fwd ? runFwd(k, c, xs) : null;
      const wholeG = c.bwd ? runBwd(k, c, xs, ds) : null;
      for (let n = 1; n <= 9; n++) {
        for (const at of [0, 3, 17]) {
          const x = xs.slice(at, at + n),
            d = ds.slice(at, at + n);
          if (whole) {
            const y = runFwd(k, c, x);
            for (let i = 0; i < n; i++) expect(same(y[i]!, whole[at + i]!), `${c.name} n=${n} [${i}]`).toBe(true);
          }
          if (wholeG) {
            const acc = Float32Array.from({ length: n }, (_, i) => i + 0.25);
            const g = runBwd(k, c, x, d, acc);
            for (let i = 0; i < n; i++) {
              const want = f(wholeG[at + i]! + acc[i]!);
              expect(same(g[i]!, want), `${c.name} n=${n} [${i}]`).toBe(true);
            }
          }
        }
      }
    }
  });

  for (const c of CASES) {
    it.skipIf(!otherRuns)(`${c.name}: the ${otherBuild} build gives the same bits on the grid`, async () => {
      const k = sn.getEngine().k;
      const o = await requireOther();
      const px = otherAlloc(o, N, X),
        pd = otherAlloc(o, N, DOUT);
      // NaN sign/payload bits are left to the engine by the wasm spec: every NaN compares as one pattern.
      const canon = (a: Float32Array): Uint32Array =>
        new Uint32Array(a.map((v) => (Number.isNaN(v) ? Number.NaN : v)).buffer);
      const firstDiff = (a: Float32Array, b: Float32Array): string => {
        const ca = canon(a),
          cb = canon(b);
        const i = ca.findIndex((v, j) => v !== cb[j]);
        return i < 0 ? 'identical' : `x = ${X[i]}: ${a[i]} vs ${b[i]}`;
      };
      if (c.fwd) {
        const po = otherAlloc(o, N);
        c.fwd(o.k, po, px, N);
        expect(firstDiff(otherRead(o, po, N), runFwd(k, c, X)), `${c.name} forward`).toBe('identical');
      }
      if (c.bwd) {
        const pg = otherAlloc(o, N);
        c.bwd(o.k, pg, pd, px, N);
        expect(firstDiff(otherRead(o, pg, N), runBwd(k, c, X, DOUT)), `${c.name} backward`).toBe('identical');
      }
    });
  }
});
