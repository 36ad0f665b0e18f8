// Tiers 2-3 for the kernels of issue 7, for one build: batch normalization, sigmoid / tanh / elu /
// leaky relu / gelu, global average and max pooling, RMSprop and the learning-rate schedules, each
// against its float64 reference in test/ref (forward and every input gradient, through the tape),
// raw kernels with NaN guard words, accumulation, bit agreement with the other build (and, on the
// threads build, between 1 and 2 threads) and bad-input errors. extras.{simd,scalar,threads}.test.ts
// call extrasSuite(build) after `await sn.ready({ build })`. Inputs are seeded by the test name and
// rounded to f32 first, so the reference sees exactly the kernel's inputs.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { withTape } from '../../src/autograd.js';
import { distinctValues, expectClose, makeRng, type Rng } from '../helpers/check.js';
import { batchNormBackward, batchNormForward, updateMoving } from '../ref/batchnorm.js';
import * as act from '../ref/activations.js';
import { globalAvgPoolBackward, globalAvgPoolForward, globalMaxPoolBackward, globalMaxPoolForward } from '../ref/globalpool.js';
import { cosineDecay, rmspropStep, stepDecay } from '../ref/rmsprop.js';
import { instantiateOther, otherAlloc, otherRead } from './suite.js';

type Build = 'simd' | 'scalar' | 'threads';
type K = sn.KernelExports;
interface Tol { atol: number; rtol: number }

const U = 2 ** -24; // unit roundoff of f32

function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
const rand = (rng: Rng, n: number, lo = -1, hi = 1) => Float32Array.from(rng.fill(n, lo, hi));
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const bits = (a: Float32Array) => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const close = (a: ArrayLike<number>, e: ArrayLike<number>, tol: Tol, label: string) => expectClose(a, e, { ...tol, label });

function firstBitDiff(a: Float32Array, b: Float32Array): string {
  const ua = bits(a), ub = bits(b);
  let count = 0, first = -1;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) { count++; if (first < 0) first = i; }
  return count === 0 ? 'identical' : `${count}/${ua.length} differ, first at [${first}]: ${a[first]} vs ${b[first]}`;
}

// ---------------------------------------------------------------------------------------------
// Raw kernel calls over buffers with NaN guard words; inputs must come back unchanged.
// ---------------------------------------------------------------------------------------------
const GUARD = 8;
function rawRun(label: string, inputs: ArrayLike<number>[], outputs: (number | ArrayLike<number>)[],
  fn: (ins: number[], outs: number[]) => void): Float32Array[] {
  const arena = sn.getArena();
  const alloc = (n: number, init?: ArrayLike<number>) => {
    const base = arena.alloc((n + 2 * GUARD) * 4);
    const f = arena.f32(), b = base >>> 2;
    f.fill(NaN, b, b + GUARD);
    f.fill(NaN, b + GUARD + n, b + 2 * GUARD + n);
    if (init) f.set(init, b + GUARD);
    return { base, ptr: base + GUARD * 4, n };
  };
  const read = (g: { ptr: number; n: number }) => arena.f32().slice(g.ptr >>> 2, (g.ptr >>> 2) + g.n);
  const ins = inputs.map((d) => alloc(d.length, d));
  const outs = outputs.map((o) => (typeof o === 'number' ? alloc(o) : alloc(o.length, o)));
  const before = ins.map((g) => bits(read(g)));
  fn(ins.map((g) => g.ptr), outs.map((g) => g.ptr));
  const problems: string[] = [];
  const f = arena.f32();
  [...ins, ...outs].forEach((g, i) => {
    const b = g.base >>> 2;
    for (let j = 0; j < GUARD; j++) {
      if (!Number.isNaN(f[b + j]!) || !Number.isNaN(f[b + GUARD + g.n + j]!)) { problems.push(`buffer ${i}: guard word overwritten`); break; }
    }
  });
  ins.forEach((g, i) => { const now = bits(read(g)); if (now.some((v, j) => v !== before[i]![j])) problems.push(`input ${i} changed`); });
  expect(problems, `${label}: guard words / inputs`).toEqual([]);
  const res = outs.map(read);
  for (const g of [...ins, ...outs]) arena.release(g.base);
  return res;
}

function expectError(fn: () => unknown, re: RegExp): void {
  const live0 = sn.getArena().liveBytes;
  let err: unknown = null;
  try { fn(); } catch (e) { err = e; }
  expect(err, `expected an error matching ${re}`).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(WebAssembly.RuntimeError);
  expect((err as Error).message).toMatch(re);
  expect(sn.getArena().liveBytes, 'arena bytes leaked by the failed call').toBe(live0);
}

// ---------------------------------------------------------------------------------------------
// Tolerances (|k − r| ≤ atol + rtol·|r|), with inputs and dout in [-1, 1] (x in [-4, 4] for the
// activations):
//  - sigmoid, tanh, elu, gelu forward: evaluated in f64 and rounded once → ≤ 1 ulp: rtol 2^-23.
//  - their backward: sigmoid/tanh use the f32 output y (1 - y², y(1 - y) lose up to an ulp of 1 near
//    saturation), elu/gelu round an f64 derivative once; plus the f32 accumulation: atol 4U, rtol 1e-6.
//  - leaky relu: f32(alpha)·x, one rounding: rtol 2^-23.
//  - batchnorm out / dx: xhat = (x - mean)·invstd, a few f32 roundings of values ≤ ~4 → atol 4e-6
//    (about 16 ulps at 4). dgamma/dbeta: f64 sums of f32 dy·xhat terms, each term off by ≤ 3U
//    relative → atol 4U·Σ|dy·xhat| (computed per case).
// ---------------------------------------------------------------------------------------------
const TOL_ACT_FWD: Tol = { atol: 1e-30, rtol: 2 ** -23 };
const TOL_ACT_BWD: Tol = { atol: 4 * U, rtol: 1e-6 };
const TOL_BN: Tol = { atol: 4e-6, rtol: 1e-6 };

interface ActCase {
  name: string;
  op: (x: sn.Tensor) => sn.Tensor;
  fwd: (x: ArrayLike<number>) => Float64Array;
  bwd: (d: ArrayLike<number>, x: ArrayLike<number>) => Float64Array;
  /** raw forward and backward kernels (backward reads y = the output, or x = the input) */
  rawF: (k: K, out: number, inp: number, n: number) => void;
  rawB: (k: K, dinp: number, dout: number, x: number, y: number, n: number) => void;
  fwdTol: Tol;
}

const f = Math.fround;
const ACTS: ActCase[] = [
  { name: 'sigmoid', op: (x) => sn.sigmoid(x), fwd: act.sigmoid, bwd: act.sigmoidBackward, fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.sigmoid_forward(o, i, n), rawB: (k, d, dy, _x, y, n) => k.sigmoid_backward(d, dy, y, n) },
  { name: 'tanh', op: (x) => sn.tanh(x), fwd: act.tanh, bwd: act.tanhBackward, fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.tanh_forward(o, i, n), rawB: (k, d, dy, _x, y, n) => k.tanh_backward(d, dy, y, n) },
  { name: 'elu', op: (x) => sn.elu(x), fwd: (x) => act.elu(x, 1), bwd: (d, x) => act.eluBackward(d, x, 1), fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 1), rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 1) },
  { name: 'elu alpha=0.7', op: (x) => sn.elu(x, 0.7), fwd: (x) => act.elu(x, f(0.7)), bwd: (d, x) => act.eluBackward(d, x, f(0.7)), fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 0.7), rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 0.7) },
  { name: 'leakyRelu', op: (x) => sn.leakyRelu(x), fwd: (x) => act.leakyRelu(x, f(0.3)), bwd: (d, x) => act.leakyReluBackward(d, x, f(0.3)), fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.3), rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.3) },
  { name: 'leakyRelu alpha=0.01', op: (x) => sn.leakyRelu(x, 0.01), fwd: (x) => act.leakyRelu(x, f(0.01)), bwd: (d, x) => act.leakyReluBackward(d, x, f(0.01)), fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.01), rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.01) },
  { name: 'gelu', op: (x) => sn.gelu(x), fwd: act.gelu, bwd: act.geluBackward, fwdTol: TOL_ACT_FWD,
    rawF: (k, o, i, n) => k.gelu_forward(o, i, n), rawB: (k, d, dy, x, _y, n) => k.gelu_backward(d, dy, x, n) },
];

// x values in about [-4, 4], none within 4e-3 of 0 (the kinks of elu / leaky relu)
function actInput(rng: Rng, n: number): Float32Array {
  return Float32Array.from(distinctValues(Math.max(n, 2), rng).subarray(0, n), (v) => v * 4);
}

// ---------------------------------------------------------------------------------------------
// Batch normalization through the op and the tape.
// ---------------------------------------------------------------------------------------------
interface BnCase { shape: number[]; training: boolean; scale: boolean; center: boolean }

function bnName(c: BnCase): string {
  return `x=[${c.shape}] ${c.training ? 'training' : 'inference'}${c.scale ? '' : ' scale=false'}${c.center ? '' : ' center=false'}`;
}

function checkBatchNorm(c: BnCase): void {
  const name = bnName(c);
  const rng = makeRng(seedOf(name));
  const C = c.shape[c.shape.length - 1]!, R = prod(c.shape) / C;
  const x = rand(rng, R * C, -1, 1);
  // Shift some channels so the mean is far from 0 (two-pass variance has no cancellation).
  for (let i = 0; i < x.length; i++) x[i] = f(x[i]! + ((i % C) % 3) * 2);
  const gamma = rand(rng, C, 0.5, 1.5), beta = rand(rng, C, -1, 1);
  const mm0 = rand(rng, C, -0.5, 0.5), mv0 = rand(rng, C, 0.5, 2);
  const eps = 1e-3, momentum = 0.99;
  const g = c.scale ? gamma : null, b = c.center ? beta : null;
  const ref = batchNormForward(x, R, C, g, b, eps, c.training, mm0, mv0);
  const xt = sn.tensor(x, c.shape), gt = sn.tensor(gamma, [C]), bt = sn.tensor(beta, [C]);
  const mm = sn.tensor(mm0, [C]), mv = sn.tensor(mv0, [C]);
  const opts = () => ({ gamma: c.scale ? gt : null, beta: c.center ? bt : null, movingMean: mm, movingVariance: mv, training: c.training, momentum, epsilon: eps });
  // Forward, and the moving statistics: updated with the biased batch variance in training only.
  const y = sn.batchNorm(xt, opts());
  expect(y.shape).toEqual(c.shape);
  close(y.dataSync(), ref.out, TOL_BN, `${name}: forward`);
  const wantMm = c.training ? updateMoving(mm0, ref.mean, f(momentum)) : mm0;
  const wantMv = c.training ? updateMoving(mv0, ref.variance, f(momentum)) : mv0;
  close(mm.dataSync(), wantMm, { atol: 1e-7, rtol: 1e-6 }, `${name}: moving mean`);
  close(mv.dataSync(), wantMv, { atol: 1e-7, rtol: 1e-6 }, `${name}: moving variance`);
  y.dispose();
  // Gradients of sum(batchNorm(x) * r) w.r.t. x, gamma and beta.
  const r = rand(makeRng(seedOf(name) ^ 0x5eed), R * C);
  const rt = sn.tensor(r, c.shape);
  mm.view().set(mm0); mv.view().set(mv0);
  const { value, grads } = sn.valueAndGrads((xx, gg, bb) => sn.sum(sn.mul(sn.batchNorm(xx!, { ...opts(), gamma: c.scale ? gg! : null, beta: c.center ? bb! : null }), rt)))([xt, gt, bt]);
  const rb = batchNormBackward(r, x, R, C, g, ref.mean, ref.variance, eps, c.training);
  close(grads[0]!.dataSync(), rb.dx, TOL_BN, `${name}: dx`);
  // The f32 dy·xhat terms are each off by a few U relative; their sum by up to 4U·Σ|dy·xhat|.
  let mag = 0;
  for (let i = 0; i < r.length; i++) {
    const ch = i % C;
    mag = Math.max(mag, Math.abs(r[i]! * (x[i]! - ref.mean[ch]!) / Math.sqrt(ref.variance[ch]! + eps)));
  }
  close(grads[1]!.dataSync(), c.scale ? rb.dgamma : new Float64Array(C), { atol: 4 * U * mag * R + 1e-7, rtol: 1e-6 }, `${name}: dgamma`);
  close(grads[2]!.dataSync(), c.center ? rb.dbeta : new Float64Array(C), { atol: 1e-6, rtol: 1e-6 }, `${name}: dbeta`);
  for (const t of [xt, gt, bt, mm, mv, rt, value, ...grads]) t.dispose();
}

// =============================================================================================
export function extrasSuite(build: Build): void {
  describe(`issue-7 kernels [${build}]`, () => {
    it('engine runs the requested build', () => { expect(sn.getEngine().build).toBe(build); });

    describe('activations vs ref (forward and dx through the tape)', () => {
      for (const a of ACTS) {
        for (const shape of [[1], [3], [4], [5], [2, 17], [3, 4, 5], [100]]) {
          const name = `${a.name} x=[${shape}]`;
          it(name, () => {
            const x = actInput(makeRng(seedOf(name)), prod(shape));
            const xt = sn.tensor(x, shape);
            const y = a.op(xt);
            close(y.dataSync(), a.fwd(x), a.fwdTol, `${name}: forward`);
            const r = rand(makeRng(seedOf(name) ^ 1), x.length);
            const rt = sn.tensor(r, shape);
            const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(a.op(t!), rt)))([xt]);
            close(grads[0]!.dataSync(), a.bwd(r, x), TOL_ACT_BWD, `${name}: dx`);
            for (const t of [xt, y, rt, value, ...grads]) t.dispose();
          });
        }
        it(`${a.name}: raw kernels keep guard words, backward ACCUMULATES into dinp`, () => {
          const k = sn.getEngine().k;
          const rng = makeRng(seedOf(a.name) ^ 2);
          const n = 37;
          const x = actInput(rng, n), dout = rand(rng, n), dinp0 = rand(rng, n);
          const [y] = rawRun(`${a.name} fwd`, [x], [n], ([px], [po]) => a.rawF(k, po!, px!, n));
          close(y!, a.fwd(x), a.fwdTol, `${a.name} raw forward`);
          const [dx] = rawRun(`${a.name} bwd`, [dout, x, y!], [dinp0], ([pd, px, py], [pdx]) => a.rawB(k, pdx!, pd!, px!, py!, n));
          const want = a.bwd(dout, x).map((v, i) => v + dinp0[i]!);
          close(dx!, want, TOL_ACT_BWD, `${a.name} raw backward (accumulated)`);
        });
      }

      it("gelu is the exact one (erf), not the tanh approximation: gelu(1) = Φ(1)", () => {
        const t = sn.tensor([1, -1, 3, -3, -6], [5]);
        const y = sn.gelu(t);
        close(y.dataSync(), [0.8413447460685429, -0.15865525393145707, 2.995950305905, -0.004049694094, -5.92e-9], { atol: 1e-12, rtol: 2e-7 }, 'gelu known values');
        // tanh approximation at 1: 0.8411919906082768 — 1.5e-4 away, far outside the tolerance above.
        y.dispose(); t.dispose();
      });

      it('activation layers and options: Dense/Conv2D/Activation accept every name', () => {
        for (const a of ['sigmoid', 'tanh', 'elu', 'gelu', 'relu', 'linear', 'softmax'] as const) {
          expect(() => sn.layers.dense({ units: 2, activation: a })).not.toThrow();
          expect(() => sn.layers.conv2d({ filters: 2, kernelSize: 1, activation: a })).not.toThrow();
          expect(() => sn.layers.activation({ activation: a })).not.toThrow();
        }
        expect(() => sn.layers.dense({ units: 2, activation: 'mish' as never })).toThrow(/activation must be one of 'linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'gelu'/);
      });
    });

    describe('global pooling vs ref', () => {
      const shapes: number[][] = [[1, 1, 1, 1], [2, 3, 4, 1], [2, 2, 3, 3], [1, 5, 5, 4], [3, 4, 2, 5], [2, 7, 7, 8], [1, 3, 3, 17], [2, 6, 5, 32]];
      for (const shape of shapes) {
        const [N, H, W, C] = shape as [number, number, number, number];
        const HW = H * W;
        it(`globalAvgPool2d x=[${shape}]`, () => {
          const name = `gap x=[${shape}]`;
          const x = rand(makeRng(seedOf(name)), prod(shape));
          const xt = sn.tensor(x, shape);
          const y = sn.globalAvgPool2d(xt);
          expect(y.shape).toEqual([N, C]);
          // An f32 sum of HW terms ≤ 1, then one division.
          close(y.dataSync(), globalAvgPoolForward(x, N, HW, C), { atol: 4 * U * HW / HW + U, rtol: 1e-6 }, `${name}: forward`);
          const r = rand(makeRng(seedOf(name) ^ 1), N * C);
          const rt = sn.tensor(r, [N, C]);
          const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(sn.globalAvgPool2d(t!), rt)))([xt]);
          close(grads[0]!.dataSync(), globalAvgPoolBackward(r, N, HW, C), { atol: 0, rtol: 2 ** -23 }, `${name}: dx`);
          for (const t of [xt, y, rt, value, ...grads]) t.dispose();
        });
        it(`globalMaxPool2d x=[${shape}] (distinct values)`, () => {
          const name = `gmp x=[${shape}]`;
          const x = Float32Array.from(distinctValues(prod(shape), makeRng(seedOf(name))));
          const xt = sn.tensor(x, shape);
          const y = sn.globalMaxPool2d(xt);
          const ref = globalMaxPoolForward(x, N, HW, C);
          close(y.dataSync(), ref.out, { atol: 0, rtol: 0 }, `${name}: forward`);
          const r = rand(makeRng(seedOf(name) ^ 1), N * C);
          const rt = sn.tensor(r, [N, C]);
          const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(sn.globalMaxPool2d(t!), rt)))([xt]);
          close(grads[0]!.dataSync(), globalMaxPoolBackward(r, ref.argmax, x.length), { atol: 0, rtol: 0 }, `${name}: dx`);
          for (const t of [xt, y, rt, value, ...grads]) t.dispose();
        });
      }

      it('globalMaxPool2d raw: all-negative and all-equal channels, argmax = first maximum; guard words', () => {
        const k = sn.getEngine().k;
        const [N, HW, C] = [2, 6, 9];
        const x = new Float32Array(N * HW * C);
        for (let i = 0; i < x.length; i++) {
          const c = i % C;
          x[i] = c < 3 ? -5 - ((i * 7) % 11) : c < 6 ? 0 : c === 6 ? -1 : f(Math.sin(i));
        }
        const [out, am] = rawRun('gmp raw', [x], [N * C, N * C], ([px], [po, pa]) => k.global_maxpool2d_forward(po!, pa!, px!, N, HW, C));
        const ref = globalMaxPoolForward(x, N, HW, C);
        close(out!, ref.out, { atol: 0, rtol: 0 }, 'gmp raw out');
        expect(Array.from(new Int32Array(am!.buffer))).toEqual(Array.from(ref.argmax));
        const [gap] = rawRun('gap raw', [x], [N * C], ([px], [po]) => k.global_avgpool2d_forward(po!, px!, N, HW, C));
        close(gap!, globalAvgPoolForward(x, N, HW, C), { atol: 1e-6, rtol: 1e-6 }, 'gap raw out');
        const dout = rand(makeRng(4), N * C), dinp0 = rand(makeRng(5), x.length);
        const [dx] = rawRun('gap raw bwd', [dout], [dinp0], ([pd], [pdx]) => k.global_avgpool2d_backward(pdx!, pd!, N, HW, C));
        close(dx!, globalAvgPoolBackward(dout, N, HW, C).map((v, i) => v + dinp0[i]!), { atol: 2 * U, rtol: 1e-6 }, 'gap raw bwd (accumulated)');
      });

      it('layers: [N,H,W,C] -> [N,C], names, configs', () => {
        const m = sn.sequential({ seed: 1, layers: [sn.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [5, 5, 2] }), sn.layers.globalAveragePooling2D(), sn.layers.dense({ units: 2, activation: 'softmax' })] });
        expect(m.shapes()).toEqual([[3, 3, 3], [3], [2]]);
        expect(m.layers[1]!.name).toBe('global_average_pooling2d');
        const m2 = sn.sequential({ seed: 1, layers: [sn.layers.globalMaxPooling2D({ inputShape: [4, 3, 6] })] });
        expect(m2.layers[0]!.name).toBe('global_max_pooling2d');
        expect(m2.outputShape).toEqual([6]);
        expect(() => sn.sequential({ layers: [sn.layers.globalMaxPooling2D({ inputShape: [4, 6] })] }).shapes()).toThrow(/expected input of shape \[height, width, channels\]/);
        m.dispose(); m2.dispose();
      });
    });

    describe('batchNorm vs ref (forward, moving statistics, dx, dgamma, dbeta)', () => {
      const shapes = [[2, 1], [3, 3], [2, 4], [5, 5], [7, 8], [4, 17], [2, 3, 4, 4], [2, 2, 3, 5], [4, 7, 7, 32], [3, 5, 6, 9], [1, 4, 4, 3]];
      for (const shape of shapes) {
        for (const training of [true, false]) checkCase({ shape, training, scale: true, center: true });
      }
      checkCase({ shape: [3, 4, 4, 6], training: true, scale: false, center: true });
      checkCase({ shape: [3, 4, 4, 6], training: true, scale: true, center: false });
      checkCase({ shape: [5, 7], training: false, scale: false, center: false });
      function checkCase(c: BnCase) { it(bnName(c), () => checkBatchNorm(c)); }

      it('inference with a batch of 1 works; training with one value per channel is a clear error', () => {
        const C = 3;
        const mm = sn.tensor([0.5, -1, 2], [C]), mv = sn.tensor([4, 1, 0.25], [C]);
        const x = sn.tensor([1.5, 0, 2], [1, C]);
        const y = sn.batchNorm(x, { movingMean: mm, movingVariance: mv, epsilon: 1e-3 });
        const ref = batchNormForward([1.5, 0, 2], 1, C, null, null, 1e-3, false, [0.5, -1, 2], [4, 1, 0.25]);
        close(y.dataSync(), ref.out, TOL_BN, 'batch of 1, inference');
        expectError(() => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, training: true }), /training needs more than one value per channel.*\[1,3\]/);
        // NHWC with one image but several pixels is fine in training.
        const img = sn.tensor(rand(makeRng(3), 2 * 2 * C), [1, 2, 2, C]);
        const yi = sn.batchNorm(img, { movingMean: mm, movingVariance: mv, training: true });
        expect(yi.shape).toEqual([1, 2, 2, C]);
        for (const t of [mm, mv, x, y, img, yi]) t.dispose();
      });

      it('bad input: clear errors, nothing leaked', () => {
        const C = 4;
        const x = sn.tensor(rand(makeRng(6), 3 * C), [3, C]);
        const mm = sn.zeros([C]), mv = sn.tensor([1, 1, 1, 1], [C]), g5 = sn.zeros([5]);
        expectError(() => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, gamma: g5 }), /gamma has 5 values but the input has 4 channels/);
        expectError(() => sn.batchNorm(x, {}), /inference \(training: false\) needs movingMean and movingVariance/);
        expectError(() => sn.batchNorm(x, { movingMean: mm }), /give both movingMean and movingVariance/);
        expectError(() => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, epsilon: 0 }), /epsilon must be a positive number/);
        expectError(() => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, momentum: 2 }), /momentum must be a number in \[0, 1\]/);
        const bad = sn.tensor([1, NaN, 0, 0, 1, 2, 3, 4], [2, C]);
        expectError(() => sn.batchNorm(bad, { movingMean: mm, movingVariance: mv }), /input x contains NaN at flat index 1/);
        for (const t of [x, mm, mv, g5, bad]) t.dispose();
      });

      it('raw kernels: guard words intact, inputs unchanged, backward ACCUMULATES', () => {
        const k = sn.getEngine().k;
        const [R, C] = [9, 7];
        const rng = makeRng(21);
        const x = rand(rng, R * C), gamma = rand(rng, C, 0.5, 1.5), beta = rand(rng, C), dout = rand(rng, R * C);
        const dx0 = rand(rng, R * C), dg0 = rand(rng, C), db0 = rand(rng, C);
        const [psum, mean, variance, invstd] = rawRun('stats', [x], [2 * C, C, C, C], ([px], [pp, pm, pv, pi]) => {
          k.batchnorm_stats_sum(pp!, px!, R, C);
          k.batchnorm_stats_reduce(pm!, pp!, 1, C, R);
          k.batchnorm_stats_sqdev(pp!, px!, pm!, R, C);
          k.batchnorm_stats_reduce(pv!, pp!, 1, C, R);
          k.batchnorm_invstd(pi!, pv!, C, 1e-3);
        });
        expect(psum!.length).toBe(2 * C);
        const ref = batchNormForward(x, R, C, gamma, beta, 1e-3, true);
        close(mean!, ref.mean, { atol: 1e-7, rtol: 1e-6 }, 'raw mean');
        close(variance!, ref.variance, { atol: 1e-7, rtol: 1e-6 }, 'raw variance');
        close(invstd!, Float64Array.from(ref.variance, (v) => 1 / Math.sqrt(v + 1e-3)), { atol: 0, rtol: 2 ** -23 }, 'raw invstd');
        const [out] = rawRun('forward', [x, mean!, invstd!, gamma, beta], [R * C], ([px, pm, pi, pg, pb], [po]) => k.batchnorm_forward(po!, px!, pm!, pi!, pg!, pb!, R, C));
        close(out!, ref.out, TOL_BN, 'raw forward');
        const rb = batchNormBackward(dout, x, R, C, gamma, ref.mean, ref.variance, 1e-3, true);
        const [dx, dg, db] = rawRun('backward', [dout, x, mean!, invstd!, gamma], [dx0, dg0, db0, 4 * C, 2 * C], ([pd, px, pm, pi, pg], [pdx, pdg, pdb, pp, pms]) => {
          k.batchnorm_backward_sums(pp!, pd!, px!, pm!, pi!, R, C);
          k.batchnorm_backward_reduce(pdg!, pdb!, pms!, pp!, 1, C, R);
          k.batchnorm_backward_input(pdx!, pd!, px!, pm!, pi!, pg!, pms!, R, C);
        });
        close(dx!, rb.dx.map((v, i) => v + dx0[i]!), TOL_BN, 'raw dx (accumulated)');
        close(dg!, rb.dgamma.map((v, i) => v + dg0[i]!), { atol: 1e-5, rtol: 1e-6 }, 'raw dgamma (accumulated)');
        close(db!, rb.dbeta.map((v, i) => v + db0[i]!), { atol: 1e-6, rtol: 1e-6 }, 'raw dbeta (accumulated)');
        const mm0 = rand(rng, C), mv0 = rand(rng, C, 0.5, 2);
        const [mm, mv] = rawRun('moving', [mean!, variance!], [mm0, mv0], ([pm, pv], [pmm, pmv]) => k.batchnorm_update_moving(pmm!, pmv!, pm!, pv!, C, 0.9));
        close(mm!, updateMoving(mm0, ref.mean, 0.9), { atol: 1e-7, rtol: 1e-6 }, 'raw moving mean');
        close(mv!, updateMoving(mv0, ref.variance, 0.9), { atol: 1e-7, rtol: 1e-6 }, 'raw moving variance');
      });

      it('two backward passes accumulate twice one backward (x, gamma, beta)', () => {
        const shape = [2, 3, 3, 5];
        const rng = makeRng(31);
        const x = sn.tensor(rand(rng, prod(shape)), shape), g = sn.tensor(rand(rng, 5, 0.5, 1.5), [5]), b = sn.tensor(rand(rng, 5), [5]);
        const mm = sn.zeros([5]), mv = sn.tensor([1, 1, 1, 1, 1], [5]);
        const once = sn.grads((xx, gg, bb) => sn.sum(sn.mul(sn.batchNorm(xx!, { gamma: gg!, beta: bb!, movingMean: mm, movingVariance: mv, training: true }), xx!)))([x, g, b]);
        const tape = new sn.Tape();
        for (const t of [x, g, b]) tape.watch(t);
        sn.tidy(() => {
          // Record once, run backward twice: the leaves accumulate both passes.
          const loss = withTape(tape, () => sn.sum(sn.mul(sn.batchNorm(x, { gamma: g, beta: b, movingMean: mm, movingVariance: mv, training: true }), x)));
          tape.backward(loss);
          tape.backward(loss);
          [x, g, b].forEach((t, i) => close(tape.grads.get(t.id)!.dataSync(), Array.from(once[i]!.dataSync(), (v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, `twice grad ${i}`));
        });
        for (const t of [x, g, b, mm, mv, ...once]) t.dispose();
      });
    });

    describe('RMSprop vs ref/rmsprop (5 steps) and schedules', () => {
      const shapes: [string, number[]][] = [['w', [5, 3]], ['b', [7]], ['c', [1]]];
      const configs: Array<[string, sn.RMSpropConfig, number]> = [
        ['defaults', {}, 1],
        ['lr=0.01 rho=0.8 momentum=0.9', { learningRate: 0.01, rho: 0.8, momentum: 0.9 }, 2],
        ['centered eps=1e-4', { centered: true, epsilon: 1e-4 }, 2],
        ['centered momentum=0.5', { centered: true, momentum: 0.5, learningRate: 0.005 }, 3],
      ];
      for (const [label, cfg, nSlots] of configs) {
        it(`RMSprop ${label}`, () => {
          const rng = makeRng(seedOf(label));
          const opt = new sn.RMSprop(cfg);
          const params = shapes.map(([name, s]) => {
            const init = rand(rng, prod(s));
            return { name, value: sn.tensor(init, s), grad: sn.zeros(s), ref: Float64Array.from(init),
              v: new Float64Array(prod(s)), m: new Float64Array(prod(s)), a: new Float64Array(prod(s)) };
          });
          // The kernel gets lr, momentum and eps as f32 and rho as f64 (1 - rho rounded from f64).
          const lr = f(cfg.learningRate ?? 0.001), mom = f(cfg.momentum ?? 0), eps = f(cfg.epsilon ?? 1e-7);
          for (let t = 1; t <= 5; t++) {
            for (const p of params) {
              const g = rand(rng, p.ref.length, -2, 2);
              p.grad.view().set(g);
              rmspropStep(p.ref, g, p.v, p.m, p.a, lr, cfg.rho ?? 0.9, mom, eps, cfg.centered ?? false);
            }
            opt.step(params.map(({ name, value, grad }) => ({ name, value, grad })));
            for (const p of params) close(p.value.dataSync(), p.ref, { atol: 1e-6, rtol: 1e-6 }, `${label} step ${t} ${p.name}`);
          }
          const state = opt.getState(params);
          for (const p of params) {
            const want = [p.v, ...(mom > 0 ? [p.m] : []), ...(cfg.centered ? [p.a] : [])];
            expect(state.slots[p.name]!.length, `${label} ${p.name}: slots`).toBe(nSlots);
            want.forEach((s, i) => close(state.slots[p.name]![i]!, s, { atol: 1e-7, rtol: 1e-5 }, `${label} ${p.name}: slot ${i}`));
          }
          opt.dispose();
          for (const p of params) { p.value.dispose(); p.grad.dispose(); }
        });
      }

      it('RMSprop config errors', () => {
        expect(() => new sn.RMSprop({ rho: 1.5 })).toThrow(/RMSprop: rho must be a number in \[0, 1\]/);
        expect(() => new sn.RMSprop({ epsilon: 0 })).toThrow(/RMSprop: epsilon/);
        expect(() => new sn.RMSprop({ learningRate: -1 })).toThrow(/RMSprop: learningRate/);
        expect(() => new sn.RMSprop({ centered: 'yes' as never })).toThrow(/centered must be a boolean/);
        expect(new sn.RMSprop().getConfig()).toEqual({ learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false });
      });

      it('stepDecay and cosineDecay: wasm values are the f64 reference rounded to f32', () => {
        const sd = sn.schedules.stepDecay({ initial: 0.1, dropEvery: 7, factor: 0.5 });
        const cd = sn.schedules.cosineDecay({ initial: 0.01, decaySteps: 50, alpha: 0.1 });
        const cd0 = sn.schedules.cosineDecay({ initial: 0.003, decaySteps: 1000 });
        for (const s of [0, 1, 6, 7, 13, 14, 49, 50, 51, 100, 999, 1000, 5000]) {
          expect(sd(s), `stepDecay(${s})`).toBe(f(stepDecay(0.1, 7, 0.5, s)));
          // cos in wasm vs JS Math.cos may differ by an f64 ulp: allow one f32 ulp.
          close([cd(s)], [cosineDecay(0.01, 50, 0.1, s)], { atol: 0, rtol: 2 ** -23 }, `cosineDecay(${s})`);
          close([cd0(s)], [cosineDecay(0.003, 1000, 0, s)], { atol: 1e-15, rtol: 2 ** -23 }, `cosineDecay alpha 0 (${s})`);
          expect(Math.fround(cd(s))).toBe(cd(s));
        }
        expect(cd0(1000)).toBe(0);
        expect(() => sn.schedules.stepDecay({ initial: 0.1, dropEvery: 0, factor: 0.5 })).toThrow(/dropEvery must be a positive integer/);
        expect(() => sn.schedules.stepDecay({ initial: 0.1, dropEvery: 2, factor: 2 })).toThrow(/factor must be a number in \(0, 1\]/);
        expect(() => sn.schedules.cosineDecay({ initial: 0, decaySteps: 10 })).toThrow(/initial must be a positive number/);
        expect(() => sd(-1)).toThrow(/step must be a non-negative integer/);
      });
    });

    if (build !== 'threads') {
      const otherBuild = build === 'scalar' ? 'simd' : 'scalar';
      it(`${build} vs ${otherBuild} build: identical bits (batchnorm, activations, global pools, rmsprop)`, async () => {
        const o = await instantiateOther(otherBuild);
        if (!o) return; // the other build cannot run here
        const k = sn.getEngine().k;
        const rng = makeRng(99);
        const [R, C] = [23, 13];
        const x = rand(rng, R * C, -2, 3), gamma = rand(rng, C), beta = rand(rng, C), dout = rand(rng, R * C);
        const ours = rawRun('bn all', [x, gamma, beta, dout], [C, C, C, R * C, R * C, C, C, 4 * C, 2 * C, 2 * C],
          ([px, pg, pb, pd], [pm, pv, pi, po, pdx, pdg, pdb, pp, pms]) => {
            k.batchnorm_stats_sum(pp!, px!, R, C); k.batchnorm_stats_reduce(pm!, pp!, 1, C, R);
            k.batchnorm_stats_sqdev(pp!, px!, pm!, R, C); k.batchnorm_stats_reduce(pv!, pp!, 1, C, R);
            k.batchnorm_invstd(pi!, pv!, C, 1e-3);
            k.batchnorm_forward(po!, px!, pm!, pi!, pg!, pb!, R, C);
            k.batchnorm_backward_sums(pp!, pd!, px!, pm!, pi!, R, C);
            k.batchnorm_backward_reduce(pdg!, pdb!, pms!, pp!, 1, C, R);
            k.batchnorm_backward_input(pdx!, pd!, px!, pm!, pi!, pg!, pms!, R, C);
          });
        const [ox, og, ob, od] = [x, gamma, beta, dout].map((a) => otherAlloc(o, a.length, a));
        const [om, ov, oi, oo, odx, odg, odb, op, oms] = [C, C, C, R * C, R * C, C, C, 4 * C, 2 * C].map((n) => otherAlloc(o, n));
        o.k.batchnorm_stats_sum(op!, ox!, R, C); o.k.batchnorm_stats_reduce(om!, op!, 1, C, R);
        o.k.batchnorm_stats_sqdev(op!, ox!, om!, R, C); o.k.batchnorm_stats_reduce(ov!, op!, 1, C, R);
        o.k.batchnorm_invstd(oi!, ov!, C, 1e-3);
        o.k.batchnorm_forward(oo!, ox!, om!, oi!, og!, ob!, R, C);
        o.k.batchnorm_backward_sums(op!, od!, ox!, om!, oi!, R, C);
        o.k.batchnorm_backward_reduce(odg!, odb!, oms!, op!, 1, C, R);
        o.k.batchnorm_backward_input(odx!, od!, ox!, om!, oi!, og!, oms!, R, C);
        const theirs = [om, ov, oi, oo, odx, odg, odb].map((p, i) => otherRead(o, p!, ours[i]!.length));
        ['mean', 'variance', 'invstd', 'out', 'dx', 'dgamma', 'dbeta'].forEach((n, i) => expect(firstBitDiff(ours[i]!, theirs[i]!), `bn ${n}`).toBe('identical'));
        // Activations (forward and backward) and the global pools.
        const n = 41;
        const xa = actInput(rng, n);
        for (const a of ACTS) {
          const [y, dx] = rawRun(a.name, [xa, dout.subarray(0, n)], [n, n], ([px, pd], [py, pdx]) => { a.rawF(k, py!, px!, n); a.rawB(k, pdx!, pd!, px!, py!, n); });
          const oxa = otherAlloc(o, n, xa), oda = otherAlloc(o, n, dout.subarray(0, n)), oy = otherAlloc(o, n), odxa = otherAlloc(o, n);
          a.rawF(o.k, oy, oxa, n); a.rawB(o.k, odxa, oda, oxa, oy, n);
          expect(firstBitDiff(y!, otherRead(o, oy, n)), `${a.name} forward`).toBe('identical');
          expect(firstBitDiff(dx!, otherRead(o, odxa, n)), `${a.name} backward`).toBe('identical');
        }
        const [N, HW, Cg] = [3, 10, 7];
        const xg = rand(rng, N * HW * Cg), dg = rand(rng, N * Cg);
        const [gap, gmp, dgap] = rawRun('gpools', [xg, dg], [N * Cg, N * Cg, N * HW * Cg, N * Cg], ([px, pd], [pa, pm, pdx, pam]) => {
          k.global_avgpool2d_forward(pa!, px!, N, HW, Cg); k.global_maxpool2d_forward(pm!, pam!, px!, N, HW, Cg); k.global_avgpool2d_backward(pdx!, pd!, N, HW, Cg);
        });
        const oxg = otherAlloc(o, xg.length, xg), odg2 = otherAlloc(o, dg.length, dg), oa = otherAlloc(o, N * Cg), omx = otherAlloc(o, N * Cg), oam = otherAlloc(o, N * Cg), odx2 = otherAlloc(o, xg.length);
        o.k.global_avgpool2d_forward(oa, oxg, N, HW, Cg); o.k.global_maxpool2d_forward(omx, oam, oxg, N, HW, Cg); o.k.global_avgpool2d_backward(odx2, odg2, N, HW, Cg);
        expect(firstBitDiff(gap!, otherRead(o, oa, N * Cg)), 'global avg').toBe('identical');
        expect(firstBitDiff(gmp!, otherRead(o, omx, N * Cg)), 'global max').toBe('identical');
        expect(firstBitDiff(dgap!, otherRead(o, odx2, xg.length)), 'global avg backward').toBe('identical');
        const g = rand(rng, 30), p0 = rand(rng, 30);
        const [pr] = rawRun('rmsprop', [g], [p0, 30, 30, 30], ([pg], [pp, pv, pm, pa]) => { for (let t = 0; t < 3; t++) k.rmsprop_step(pp!, pg!, pv!, pm!, pa!, 30, 0.01, 0.9, 0.5, 1e-7, 1); });
        const opp = otherAlloc(o, 30, p0), og2 = otherAlloc(o, 30, g), ov2 = otherAlloc(o, 30), om2 = otherAlloc(o, 30), oa2 = otherAlloc(o, 30);
        for (let t = 0; t < 3; t++) o.k.rmsprop_step(opp, og2, ov2, om2, oa2, 30, 0.01, 0.9, 0.5, 1e-7, 1);
        expect(firstBitDiff(pr!, otherRead(o, opp, 30)), 'rmsprop').toBe('identical');
      });
    } else {
      it('threads: batchNorm forward, moving statistics and every gradient have the same bits with 1 and 2 threads', async () => {
        const shape = [13, 5, 6, 12];
        const rng = makeRng(123);
        const data = rand(rng, prod(shape), -1, 3), gdata = rand(rng, 12, 0.5, 1.5), bdata = rand(rng, 12), rdata = rand(rng, prod(shape));
        const run = () => {
          const x = sn.tensor(data, shape), g = sn.tensor(gdata, [12]), b = sn.tensor(bdata, [12]), r = sn.tensor(rdata, shape);
          const mm = sn.zeros([12]), mv = sn.tensor(new Float32Array(12).fill(1), [12]);
          const { value, grads } = sn.valueAndGrads((xx, gg, bb) => sn.sum(sn.mul(sn.batchNorm(xx!, { gamma: gg!, beta: bb!, movingMean: mm, movingVariance: mv, training: true }), r)))([x, g, b]);
          const y = sn.batchNorm(x, { gamma: g, beta: b, movingMean: mm, movingVariance: mv, training: true });
          const out = [y, mm, mv, ...grads].map((t) => t.dataSync() as Float32Array);
          for (const t of [x, g, b, r, mm, mv, value, y, ...grads]) t.dispose();
          return out;
        };
        await sn.setThreads(1);
        const one = run();
        await sn.setThreads(2);
        expect(sn.getThreads()).toBe(2);
        const two = run();
        ['forward', 'moving mean', 'moving variance', 'dx', 'dgamma', 'dbeta'].forEach((n, i) => expect(firstBitDiff(one[i]!, two[i]!), n).toBe('identical'));
      });
    }
  });
}
