// Shared by every kernel family test (test/kernels/<family>.test.ts), for whichever build the vitest
// project started (SIMDNET_BUILD, see vitest.config.ts and setup.ts):
//  - checkOp: an op's forward and every input gradient through the tape against a float64 reference;
//  - tolerances (accTol) and a tolerant comparison that can report the worst error seen;
//  - a float64 reference backward against finite differences of its forward (fdCheck);
//  - raw kernel calls over buffers fenced by NaN guard words (rawRun);
//  - the same bits at 1, 2 and 4 threads (sameBitsAcrossThreads, threads build);
//  - the other build instantiated by hand over its own memory, for bit-for-bit agreement;
//  - expectError for bad input.
// Layouts as in src: x (N, H, W, C), filter (KH, KW, C, K), out (N, OH, OW, K); a (M, K) · b (K, N).
// Inputs are drawn from a seeded PRNG (seeded by the test name) and rounded to f32 first, so the
// reference sees exactly the values the kernel sees; the only difference left is f32 arithmetic.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { GEOMETRY2D_BYTES, type Geometry2d, writeGeometry2d } from '../../src/wasm/abi.js';
import { distinctValues, expectClose, makeRng, relErr, type Rng } from '../helpers/check.js';

export type Build = sn.Build;
export type K = adv.KernelExports;

/** The build this file runs on (set per vitest project; 'simd' when a file is run on its own). */
export const build = (process.env.SIMDNET_BUILD ?? 'simd') as Build;
/** The build the bit-agreement checks compare against: scalar for simd and threads, simd for scalar. */
export const otherBuild: Build = build === 'scalar' ? 'simd' : 'scalar';

// ---------------------------------------------------------------------------------------------
// Tolerances. Every check is |k − r| ≤ atol + rtol·|r| (test/helpers/check.ts expectClose).
// All random inputs are uniform in [-1, 1), so every product term of a dot product has |t| ≤ 1.
// An output that is an f32 sum of n such terms (u = 2^-24 ≈ 6e-8) carries a rounding error of about
// u·Σ_k |s_k| over its partial sums s_k (|s_k| ~ sqrt(k)/3), i.e. it grows faster than sqrt(n) and
// slower than n. Measured over the conv2d, pooling, gemm and dense sweeps (every build gives identical
// numbers, SIMDNET_TOL_STATS=1):
//     max |k − r| / (u·n)       = 1.23 (n < 10), 1.16 (n < 100), 0.63 (n ≥ 100)
//     max |k − r| / (u·sqrt(n)) = 6.3  (n < 100), 12.1 (n ≥ 100)        <- so not a sqrt(n) law
// hence, with n = number of f32 terms summed into one output (+1 for a bias or an accumulated C):
//     atol = ATOL_U · u · n,  ATOL_U = 4  (>= 3x the worst case seen; 2.4e-7 at n = 1, 1.9e-4 at n = 800)
//     rtol = 1e-6                         (~17 ulps: the atol above already covers every case seen)
// That is tighter than tinygrad's fwd 1e-6/1e-3 everywhere except atol at n > 4, where f32
// accumulation over n terms needs it; and tighter than the brief's 1e-5·sqrt(n) for n < 1750.
// Kernels that sum in f64 (softmax, xent, sum_all) or do O(1) f32 operations per element (relu,
// pooling, elementwise, optimizers) use the small fixed tolerances written next to their tests.
// ---------------------------------------------------------------------------------------------
/** Unit roundoff of f32. */
export const U = 2 ** -24;
const ATOL_U = 4;
export interface Tol {
  atol: number;
  rtol: number;
}
/** Tolerance for outputs that are f32 sums of `n` terms of magnitude ≤ `mag`. */
export function accTol(n: number, mag = 1): Tol {
  return { atol: ATOL_U * U * Math.max(n, 1) * mag, rtol: 1e-6 };
}
export const EXACT: Tol = { atol: 0, rtol: 0 };

// Optional calibration: SIMDNET_TOL_STATS=1 makes setup.ts print the worst |k − r| / (u·n) per kind of
// check after each file.
export const tolStats = new Map<string, number>();
const STATS = process.env.SIMDNET_TOL_STATS === '1';

/** expectClose with a label; `n` (terms per output) only feeds the optional statistics. */
export function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  label: string,
  n?: number,
): void {
  if (STATS) {
    const m = Math.max(n ?? 1, 1);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (U * m));
    const bucket = m < 10 ? '<10' : m < 100 ? '<100' : '>=100';
    const kind = `${label.split(' ')[0]} ${label.split(': ').pop()!.slice(0, 12)} n${bucket}`;
    tolStats.set(kind, Math.max(tolStats.get(kind) ?? 0, worst));
  }
  expectClose(actual, expected, { ...tol, label });
}

// ---------------------------------------------------------------------------------------------
// Data helpers.
// ---------------------------------------------------------------------------------------------

/** name -> 32-bit FNV-1a seed, so every test's data depends only on its own name. */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** n uniform values in [lo, hi), rounded to f32. */
export function rand(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from(rng.fill(n, lo, hi));
}

/** n distinct values (no ties, none near 0), rounded to f32; for max pooling and relu kinks. */
export function distinct(rng: Rng, n: number): Float32Array {
  return Float32Array.from(distinctValues(n, rng));
}

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
export const bits = (a: Float32Array | Int32Array): Uint32Array =>
  new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function padStr(p: unknown): string {
  return typeof p === 'string' ? p : JSON.stringify(p);
}

export function stridesStr(sh: number, sw: number): string {
  return sh === sw ? `${sh}` : `[${sh},${sw}]`;
}

/** 'identical', or how many bits patterns differ and where the first one is. */
export function firstBitDiff(a: Float32Array, b: Float32Array): string {
  const ua = bits(a),
    ub = bits(b);
  let count = 0,
    first = -1;
  for (let i = 0; i < ua.length; i++)
    if (ua[i] !== ub[i]) {
      count++;
      if (first < 0) first = i;
    }
  return count === 0 ? 'identical' : `${count}/${ua.length} differ, first at [${first}]: ${a[first]} vs ${b[first]}`;
}

// ---------------------------------------------------------------------------------------------
// checkOp, in the manner of tinygrad's helper_test_op: one call checks an op's forward against the
// float64 reference and every input gradient through the tape. The gradient is that of
// f = sum(op(...xs) ⊙ r) for a fixed random r; its oracle is the float64 central finite difference of
// sum(ref(xs) ⊙ r) (Richardson-extrapolated, so its own error is far below any tolerance used), or the
// analytic float64 backward given as `grad` where finite differences of the reference would be too slow.
// ---------------------------------------------------------------------------------------------
export interface OpCheck {
  /** input shapes, in the op's argument order */
  shapes: number[][];
  /** input values (default: uniform in [-1, 1) drawn from the name's seed); f32 values */
  inputs?: Float32Array[];
  /** float64 forward of the op on the inputs */
  ref: (xs: Float64Array[]) => ArrayLike<number>;
  /** the op under test on tensors of `shapes` */
  op: (ts: sn.Tensor[]) => sn.Tensor;
  /** expected output shape (default: the first input's shape) */
  outShape?: number[];
  /** forward tolerance */
  tol: Tol;
  /** gradient tolerance, one for all inputs or one per input (default: `tol`) */
  gradTol?: Tol | Tol[];
  /** analytic float64 gradients of sum(ref(xs) ⊙ r) w.r.t. each input, replacing finite differences */
  grad?: (r: Float32Array, xs: Float64Array[]) => ArrayLike<number>[];
  /** finite-difference step (default 1e-4: well inside the gaps of distinct() values, see check.ts) */
  h?: number;
  /** the cotangent r (default: uniform in [-1, 1) from the name's seed) */
  r?: Float32Array;
  /** f32 terms summed per output / per gradient element (only for SIMDNET_TOL_STATS) */
  terms?: number;
  gradTerms?: number[];
}

/** float64 d/dx_i sum(f(xs) ⊙ r) for every element of xs[which], by central differences at h and h/2. */
export function fdGrad(
  f: (xs: Float64Array[]) => ArrayLike<number>,
  xs: Float64Array[],
  which: number,
  r: ArrayLike<number>,
  h: number,
): Float64Array {
  const x = xs[which]!;
  const g = new Float64Array(x.length);
  // Differences are taken per output before summing, so the large common part cancels exactly.
  const diff = (i: number, step: number): number => {
    const old = x[i]!;
    x[i] = old + step;
    const p = Float64Array.from(f(xs));
    x[i] = old - step;
    const m = f(xs);
    x[i] = old;
    let s = 0;
    for (let j = 0; j < p.length; j++) s += r[j]! * (p[j]! - m[j]!);
    return s / (2 * step);
  };
  // Richardson: D(h/2) + (D(h/2) − D(h)) / 3 cancels the h² error term.
  for (let i = 0; i < x.length; i++) {
    const d1 = diff(i, h),
      d2 = diff(i, h / 2);
    g[i] = d2 + (d2 - d1) / 3;
  }
  return g;
}

/**
 * Whether finite differences of a reference forward of `flops` multiply-adds are cheap enough for the
 * gradients of inputs with `elements` values in all (4 reference forwards per element).
 */
export function fdAffordable(elements: number, flops: number): boolean {
  return 4 * elements * flops <= 5e6;
}

/**
 * A float64 reference backward `bwd(r, x)` against the finite-difference gradient of x -> sum(fwd(x) ⊙ r)
 * for a random r, worst relative error below 1e-6 (elements where both are within 1e-8 are skipped).
 * For references too slow to difference inside checkOp, or whose op is checked exactly against `bwd`.
 * Inputs should keep kinks (relu, clip) farther than h from every x.
 */
export function fdCheck(
  label: string,
  fwd: (x: Float64Array) => ArrayLike<number>,
  bwd: (r: Float64Array, x: Float64Array) => ArrayLike<number>,
  x: Float64Array,
  outSize: number,
  h = 1e-4,
): void {
  const r = Float64Array.from(makeRng(seedOf(label)).fill(outSize, -1, 1));
  const num = fdGrad(([v]) => fwd(v!), [x], 0, r, h);
  const ana = bwd(r, x);
  expect(ana.length, `${label}: reference gradient size`).toBe(x.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(ana[i]! - num[i]!) > 1e-8) worst = Math.max(worst, relErr(ana[i]!, num[i]!));
  }
  expect(worst, `${label}: reference gradient vs finite differences (worst relative error)`).toBeLessThan(1e-6);
}

export function checkOp(name: string, spec: OpCheck): void {
  const rng = makeRng(seedOf(name));
  const data = spec.inputs ?? spec.shapes.map((s) => rand(rng, prod(s)));
  expect(
    data.map((d) => d.length),
    `${name}: input sizes`,
  ).toEqual(spec.shapes.map(prod));
  const xs64 = data.map((d) => Float64Array.from(d));
  const refOut = Float64Array.from(spec.ref(xs64));
  const outShape = spec.outShape ?? spec.shapes[0]!;
  expect(refOut.length, `${name}: reference output size`).toBe(prod(outShape));

  const arena = adv.getArena();
  const live0 = arena.liveBytes;
  const xs = data.map((d, i) => sn.tensor(d, spec.shapes[i]!));
  sn.tidy(() => {
    const y = spec.op(xs);
    expect(y.shape, `${name}: output shape`).toEqual(outShape);
    close(y.dataSync(), refOut, spec.tol, `${name}: forward`, spec.terms);
  });
  const r = spec.r ?? rand(makeRng(seedOf(name) ^ 0x5eed), refOut.length);
  const rt = sn.tensor(r, outShape);
  const { value, grads } = sn.valueAndGrads((...ts: sn.Tensor[]) => sn.sum(sn.mul(spec.op(ts), rt)))(xs);
  // The value sums r·y in f64 over f32 products: its error is bounded by Σ tol_i·|r_i| + u·Σ|r_i y_i|.
  let vTol = 0;
  for (let i = 0; i < r.length; i++) {
    const ref = refOut[i]!;
    vTol += (spec.tol.atol + spec.tol.rtol * Math.abs(ref)) * Math.abs(r[i]!) + 2 * U * Math.abs(r[i]! * ref);
  }
  close([value.dataSync()[0]!], [dot(refOut, r)], { atol: vTol + 1e-7, rtol: 0 }, `${name}: value`);
  const want = spec.grad ? spec.grad(r, xs64) : xs64.map((_, i) => fdGrad(spec.ref, xs64, i, r, spec.h ?? 1e-4));
  expect(grads.length, `${name}: one gradient per input`).toBe(xs.length);
  const gt = spec.gradTol ?? spec.tol;
  grads.forEach((g, i) => {
    expect(g.shape, `${name}: grad ${i} shape`).toEqual(spec.shapes[i]);
    close(g.dataSync(), want[i]!, Array.isArray(gt) ? gt[i]! : gt, `${name}: grad ${i}`, spec.gradTerms?.[i]);
  });
  value.dispose();
  for (const g of grads) g.dispose();
  rt.dispose();
  for (const x of xs) x.dispose();
  // Everything the op and the tape made in between was released.
  expect(arena.liveBytes, `${name}: arena bytes leaked`).toBe(live0);
}

// ---------------------------------------------------------------------------------------------
// Raw kernel calls with NaN guard words around every input, output and scratch buffer.
// ---------------------------------------------------------------------------------------------
const GUARD = 8; // floats (32 bytes, keeps 16-byte alignment of the payload)

interface Guarded {
  base: number;
  ptr: number;
  n: number;
}

function allocGuarded(n: number, init?: ArrayLike<number>): Guarded {
  const base = adv.getArena().alloc((n + 2 * GUARD) * 4);
  const f = adv.getArena().f32();
  const b = base >>> 2;
  f.fill(NaN, b, b + GUARD);
  f.fill(NaN, b + GUARD + n, b + 2 * GUARD + n);
  if (init) f.set(init, b + GUARD);
  return { base, ptr: base + GUARD * 4, n };
}

function readGuarded(g: Guarded): Float32Array {
  const s = g.ptr >>> 2;
  return adv
    .getArena()
    .f32()
    .slice(s, s + g.n);
}

// '' when every guard word is still NaN, else a description of the first overwritten one.
function guardDamage(g: Guarded): string {
  const f = adv.getArena().f32();
  const b = g.base >>> 2;
  for (let i = 0; i < GUARD; i++) {
    if (!Number.isNaN(f[b + i]!)) return `guard ${i - GUARD} (before) = ${f[b + i]}`;
    if (!Number.isNaN(f[b + GUARD + g.n + i]!)) return `guard +${i} (after) = ${f[b + GUARD + g.n + i]}`;
  }
  return '';
}

/**
 * Runs fn over guarded copies of `inputs` and guarded `outputs` (a size: zero-filled by the arena,
 * or initial values, for kernels that accumulate); asserts inputs unchanged and all guards intact;
 * returns the outputs.
 */
export function rawRun(
  label: string,
  inputs: ArrayLike<number>[],
  outputs: (number | ArrayLike<number>)[],
  fn: (ins: number[], outs: number[]) => void,
): Float32Array[] {
  const arena = adv.getArena();
  const ins = inputs.map((d) => allocGuarded(d.length, d));
  const outs = outputs.map((o) => (typeof o === 'number' ? allocGuarded(o) : allocGuarded(o.length, o)));
  const before = ins.map((g) => bits(readGuarded(g)));
  fn(
    ins.map((g) => g.ptr),
    outs.map((g) => g.ptr),
  );
  const problems: string[] = [];
  ins.forEach((g, i) => {
    const now = bits(readGuarded(g)),
      was = before[i]!;
    const at = now.findIndex((v, j) => v !== was[j]);
    if (at >= 0) problems.push(`input ${i} changed at [${at}]`);
    const d = guardDamage(g);
    if (d) problems.push(`input ${i}: ${d}`);
  });
  outs.forEach((g, i) => {
    const d = guardDamage(g);
    if (d) problems.push(`output ${i}: ${d}`);
  });
  expect(problems, `${label}: guard words / inputs`).toEqual([]);
  const res = outs.map(readGuarded);
  for (const g of [...ins, ...outs]) arena.release(g.base);
  return res;
}

/** n NaNs: initial contents of a rawRun output the kernel must write everywhere (a bare size is zero-filled). */
export const nans = (n: number): Float32Array => new Float32Array(n).fill(NaN);

/** Geometry for the plain kernels: dilation and groups default to 1. */
export type GeometryArgs = Omit<Geometry2d, 'DH' | 'DW' | 'G'> & Partial<Pick<Geometry2d, 'DH' | 'DW' | 'G'>>;
const withDefaults = (g: GeometryArgs): Geometry2d => ({ DH: 1, DW: 1, G: 1, ...g });

/** The Geometry2d struct of `g` in our memory; release with adv.getArena().release. */
export function geomPtr(g: GeometryArgs): number {
  const arena = adv.getArena();
  const ptr = arena.alloc(GEOMETRY2D_BYTES);
  writeGeometry2d(arena.i32(), ptr, withDefaults(g));
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// Thread-count independence (threads build): the fixed shards make 1, 2 and 4 threads sum in one order.
// ---------------------------------------------------------------------------------------------
/** run() at 1, 2 and 4 threads must give the same bits in every array it returns; leaves 2 threads running. */
export async function sameBitsAcrossThreads(run: () => Float32Array[]): Promise<void> {
  const results: Float32Array[][] = [];
  for (const n of [1, 2, 4]) {
    expect(await sn.setThreads(n), 'threads started').toBe(n);
    results.push(run());
  }
  await sn.setThreads(2);
  results.slice(1).forEach((res, t) => {
    expect(res.length, `${[2, 4][t]} threads: arrays returned`).toBe(results[0]!.length);
    res.forEach((a, i) => {
      expect(firstBitDiff(a, results[0]![i]!), `array ${i} at ${[2, 4][t]} threads vs 1 thread`).toBe('identical');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The other build, instantiated by hand over its own memory, for bit-for-bit agreement checks.
// ---------------------------------------------------------------------------------------------
export interface Other {
  k: K;
  memory: WebAssembly.Memory;
  top: number;
}

/**
 * Whether this engine validates the other build (it cannot without SIMD): the tests comparing against it
 * are `it.skipIf(!otherRuns)`, so they show as skipped there instead of passing without checking.
 */
export const otherRuns: boolean = WebAssembly.validate(adv.wasmBytes(otherBuild));

/** The other build over its own memory; null where this engine cannot validate it (no SIMD). */
export async function instantiateOther(which: Build = otherBuild): Promise<Other | null> {
  const bytes = adv.wasmBytes(which);
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  const k = instance.exports as unknown as K;
  return { k, memory, top: Math.ceil(k.heap_base() / 16) * 16 };
}

/** instantiateOther for tests guarded by `it.skipIf(!otherRuns)`: an error, not null, when it cannot run. */
export async function requireOther(which: Build = otherBuild): Promise<Other> {
  const o = await instantiateOther(which);
  if (!o) throw new Error(`the ${which} build does not validate on this engine`);
  return o;
}

/** Bump allocation in the other instance (zeroed), with 64 bytes of slack like the arena's. */
export function otherAlloc(o: Other, floats: number, init?: ArrayLike<number>): number {
  const ptr = o.top;
  o.top += Math.ceil((Math.max(floats, 1) * 4) / 16) * 16;
  const need = o.top + 64 - o.memory.buffer.byteLength;
  if (need > 0) o.memory.grow(Math.ceil(need / 65536));
  const f = new Float32Array(o.memory.buffer);
  f.fill(0, ptr >>> 2, (ptr >>> 2) + floats);
  if (init) f.set(init, ptr >>> 2);
  return ptr;
}

export function otherRead(o: Other, ptr: number, n: number): Float32Array {
  return new Float32Array(o.memory.buffer).slice(ptr >>> 2, (ptr >>> 2) + n);
}

/** The Geometry2d struct of `g` in the other build's memory. */
export function otherGeom(o: Other, g: GeometryArgs): number {
  const ptr = otherAlloc(o, GEOMETRY2D_BYTES / 4);
  writeGeometry2d(new Int32Array(o.memory.buffer), ptr, withDefaults(g));
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// Errors: a thrown Error (never a wasm RuntimeError) whose message matches, and no arena leak.
// ---------------------------------------------------------------------------------------------
export function expectError(fn: () => unknown, re: RegExp): void {
  const live0 = adv.getArena().liveBytes;
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error matching ${re}`).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(WebAssembly.RuntimeError);
  expect((err as Error).message).toMatch(re);
  expect(adv.getArena().liveBytes, 'arena bytes leaked by the failed call').toBe(live0);
}
