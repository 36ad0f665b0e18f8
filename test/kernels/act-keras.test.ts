// Activation kernels beyond test/kernels/extras.ts — Keras' ReLU with max value, negative slope and
// threshold (relu6), Keras 3's hard sigmoid and hard swish, swish / silu, softmax along any axis —
// against test/ref/act.ts, for the build in SIMDNET_BUILD (default simd): forward and dx through the
// op, raw kernels with guard words and accumulation, same bits as the scalar loop (SIMD tails), errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { distinctValues, makeRng } from '../helpers/check.js';
import { U, bits, checkOp, fdCheck, prod, rand, rawRun, seedOf, type Tol } from '../helpers/opcheck.js';
import * as ref from '../ref/act.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

// Tolerances, x in about [-8, 8], dout in [-1, 1]:
//  - relu family, hard sigmoid / swish: a few f32 operations (x + 3, clip, x * r, / 6): rtol 4 ulps
//    plus atol 4U for results near 0 that come from a difference (x - t, x + 3).
//  - swish: evaluated in f64, rounded once: rtol 2^-23. Backward: one f64 derivative rounded, times
//    dout, plus the accumulation: atol 4U, rtol 1e-6.
//  - softmax: f64 sums, exp of an f32 difference: atol 1e-7, rtol 1e-6.
const F32OPS: Tol = { atol: 4 * U * 8, rtol: 4 * 2 ** -23 };
const F64ONCE: Tol = { atol: 1e-30, rtol: 2 ** -23 };
const BWD: Tol = { atol: 4 * U, rtol: 1e-6 };
const SOFTMAX: Tol = { atol: 1e-7, rtol: 1e-6 };

// x in about [-8, 8], no value within 8e-3 of the kinks at 0, ±3, 6 or a threshold of 0.5 / 1.
function actInput(rng: ReturnType<typeof makeRng>, n: number): Float32Array {
  const kinks = [0, 3, -3, 6, 0.5, 1];
  return Float32Array.from(distinctValues(Math.max(n, 2), rng).subarray(0, n), (v) => {
    let x = v * 8;
    for (const k of kinks) if (Math.abs(x - k) < 8e-3) x = k + 0.02;
    return x;
  });
}

interface Case {
  name: string;
  op: (x: sn.Tensor) => sn.Tensor;
  fwd: (x: ArrayLike<number>) => Float64Array;
  bwd: (d: ArrayLike<number>, x: ArrayLike<number>) => Float64Array;
  raw: (k: sn.KernelExports) => [(o: number, i: number, n: number) => void, (d: number, dy: number, x: number, n: number) => void];
  tol: Tol;
}
const f = Math.fround;
const relu = (maxv: number, slope: number, t: number, name: string, op: Case['op']): Case => ({
  name, op, tol: F32OPS,
  fwd: (x) => ref.reluGeneral(x, maxv, f(slope), f(t)),
  bwd: (d, x) => ref.reluGeneralBackward(d, x, maxv, f(slope), f(t)),
  raw: (k) => [(o, i, n) => k.relu_general_forward(o, i, n, maxv, slope, t),
    (d, dy, x, n) => k.relu_general_backward(d, dy, x, n, maxv, slope, t)],
});
const CASES: Case[] = [
  relu(6, 0, 0, 'relu6', (x) => sn.relu6(x)),
  relu(Infinity, 0, 0, 'reluGeneral defaults', (x) => sn.reluGeneral(x)),
  relu(Infinity, 0.1, 0, 'reluGeneral negativeSlope=0.1', (x) => sn.reluGeneral(x, { negativeSlope: 0.1 })),
  relu(4.5, 0.2, 1, 'reluGeneral maxValue=4.5 negativeSlope=0.2 threshold=1',
    (x) => sn.reluGeneral(x, { maxValue: 4.5, negativeSlope: 0.2, threshold: 1 })),
  relu(6, 0, 0.5, 'reluGeneral maxValue=6 threshold=0.5', (x) => sn.reluGeneral(x, { maxValue: 6, threshold: 0.5 })),
  { name: 'hardSigmoid', op: (x) => sn.hardSigmoid(x), fwd: ref.hardSigmoid, bwd: ref.hardSigmoidBackward, tol: F32OPS,
    raw: (k) => [(o, i, n) => k.hard_sigmoid_forward(o, i, n), (d, dy, x, n) => k.hard_sigmoid_backward(d, dy, x, n)] },
  { name: 'hardSwish', op: (x) => sn.hardSwish(x), fwd: ref.hardSwish, bwd: ref.hardSwishBackward, tol: F32OPS,
    raw: (k) => [(o, i, n) => k.hard_swish_forward(o, i, n), (d, dy, x, n) => k.hard_swish_backward(d, dy, x, n)] },
  { name: 'swish', op: (x) => sn.swish(x), fwd: ref.swish, bwd: ref.swishBackward, tol: F64ONCE,
    raw: (k) => [(o, i, n) => k.swish_forward(o, i, n), (d, dy, x, n) => k.swish_backward(d, dy, x, n)] },
];

describe(`act (Keras ReLU, hard sigmoid / swish, swish, softmax axis) [${build}]`, () => {
  it('engine runs the requested build', () => { expect(sn.getEngine().build).toBe(build); });

  for (const c of CASES) {
    it(`${c.name}: forward and dx vs ref for shapes [1] [3] [4] [5] [2,17] [3,4,5] [100]`, () => {
      for (const shape of [[1], [3], [4], [5], [2, 17], [3, 4, 5], [100]]) {
        const name = `${c.name} x=[${shape}]`;
        const x = actInput(makeRng(seedOf(name)), prod(shape));
        checkOp(name, c.op, x, shape, { fwd: c.fwd(x), bwd: (dy) => c.bwd(dy, x) }, c.tol, BWD);
      }
    });
    it(`${c.name}: raw kernels keep guard words, backward ACCUMULATES, SIMD body and scalar tail agree`, () => {
      const k = sn.getEngine().k;
      const [fw, bw] = c.raw(k);
      const rng = makeRng(seedOf(c.name) ^ 2);
      const n = 37;
      const x = actInput(rng, n), dout = rand(rng, n), dinp0 = rand(rng, n);
      const [y] = rawRun(`${c.name} fwd`, [x], [n], ([px], [po]) => fw(po!, px!, n));
      const [dx] = rawRun(`${c.name} bwd`, [dout, x], [dinp0], ([pd, px], [pdx]) => bw(pdx!, pd!, px!, n));
      const want = c.bwd(dout, x).map((v, i) => v + dinp0[i]!);
      for (let i = 0; i < n; i++) {
        expect(Math.abs(y![i]! - c.fwd(x)[i]!)).toBeLessThanOrEqual(c.tol.atol + c.tol.rtol * Math.abs(c.fwd(x)[i]!));
        expect(Math.abs(dx![i]! - want[i]!)).toBeLessThanOrEqual(BWD.atol + 2 * U + BWD.rtol * Math.abs(want[i]!));
      }
      // Element i computed alone (n = 1: the scalar loop) has the bits of the same element inside the SIMD body.
      for (let i = 0; i < n; i++) {
        const [y1] = rawRun(`${c.name} fwd single`, [x.subarray(i, i + 1)], [1], ([px], [po]) => fw(po!, px!, 1));
        expect(bits(y1!)[0], `${c.name} element ${i} = ${x[i]}`).toBe(bits(y!.subarray(i, i + 1))[0]);
      }
    });
  }

  it('edge values: relu6 gives +0 (not -0) below the kink and caps at 6, hard sigmoid is 0 / 1 beyond ±3', () => {
    const x = sn.tensor([-5, -0, 0, 2, 7, 6, -3, 3], [8]);
    const r6 = Array.from(sn.relu6(x).dataSync());
    expect(r6).toEqual([0, 0, 0, 2, 6, 6, 0, 3]);
    expect(r6.map((v) => Object.is(v, -0))).toEqual(new Array(8).fill(false));
    expect(Array.from(sn.hardSigmoid(x).dataSync())).toEqual([0, 0.5, 0.5, f(5 / 6), 1, 1, 0, 1]);
    // hard swish is the product x * relu6(x + 3) / 6, so a negative x times 0 is -0, as in TF.
    expect(Array.from(sn.hardSwish(x).dataSync())).toEqual([-0, -0, 0, f(10 / 6), 7, 6, -0, 3]);
    x.dispose();
  });

  it("gradients at the kinks ±3, 0 and 6 are TF's one-sided choices (relu6' is 0 at 0 and 6)", () => {
    const x = sn.tensor([-3, 3, 0, 6], [4]);
    const g = (op: (t: sn.Tensor) => sn.Tensor) => {
      const { value, grads } = sn.valueAndGrads((t) => sn.sum(op(t!)))([x]);
      const v = Array.from(grads[0]!.dataSync());
      value.dispose(); grads[0]!.dispose();
      return v;
    };
    expect(g(sn.hardSwish)).toEqual([0, 1, 0.5, 1]);
    expect(g(sn.hardSigmoid)).toEqual([0, 0, f(1 / 6), 0]);
    expect(g(sn.relu6)).toEqual([0, 1, 0, 0]);
    x.dispose();
  });

  it('reference gradients match finite differences', () => {
    const x = Float64Array.from(actInput(makeRng(3), 40));
    for (const c of CASES) fdCheck(`ref ${c.name}`, (v) => c.fwd(v), (dy, v) => c.bwd(dy, v), x, 40);
    fdCheck('ref softmaxAxis', (v) => ref.softmaxAxis(v, 2, 5, 4), (dy, v) => ref.softmaxAxisBackward(dy, v, 2, 5, 4),
      Float64Array.from(makeRng(4).fill(40, -2, 2)), 40);
  });

  const AXES = [[[2, 5, 4], 1], [[3, 4, 2, 6], 2], [[3, 4, 2, 6], 0], [[3, 4, 2, 6], -3], [[6, 7], -1], [[6, 7], 0]] as const;
  for (const [shape, axis] of AXES) {
    it(`softmax x=[${shape}] axis=${axis}`, () => {
      const name = `softmax x=[${shape}] axis=${axis}`;
      const a = axis < 0 ? axis + shape.length : axis;
      const outer = prod(shape.slice(0, a)), K = shape[a]!, inner = prod(shape.slice(a + 1));
      const x = rand(makeRng(seedOf(name)), prod(shape), -3, 3);
      checkOp(name, (t) => sn.softmax(t, axis), x, [...shape],
        { fwd: ref.softmaxAxis(x, outer, K, inner), bwd: (dy) => ref.softmaxAxisBackward(dy, x, outer, K, inner) }, SOFTMAX, SOFTMAX);
    });
  }

  it('bad arguments: negative maxValue / negativeSlope / threshold, softmax axis out of range', () => {
    const x = sn.tensor([1, 2, 3, 4], [2, 2]);
    expect(() => sn.reluGeneral(x, { maxValue: -1 })).toThrow(/maxValue must be a non-negative number, got -1/);
    expect(() => sn.reluGeneral(x, { negativeSlope: -0.1 })).toThrow(/negativeSlope must be a non-negative number, got -0.1/);
    expect(() => sn.reluGeneral(x, { threshold: Number.NaN })).toThrow(/threshold must be a non-negative number/);
    expect(() => sn.softmax(x, 2)).toThrow(/axis 2 is out of range for shape \[2,2\]/);
    expect(() => sn.softmax(x, -3)).toThrow(/axis -3 is out of range/);
    x.dispose();
  });
});
