// The activation kernels (assembly/kernels/act.ts: relu, softmax, softmax cross-entropy, sigmoid,
// tanh, elu, leaky relu, gelu (exact and tanh), erf; Keras' ReLU with max value, negative slope and
// threshold, hard sigmoid, hard swish, swish, softmax along any axis) raw and through the ops, against the float64 references
// of test/ref/act.ts and test/ref/activations.ts.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { distinctValues, makeRng, type Rng } from '../helpers/check.js';
import * as act from '../ref/activations.js';
import {
  erfAll,
  erfBackward,
  geluTanh,
  geluTanhBackward,
  hardSigmoid,
  hardSigmoidBackward,
  hardSwish,
  hardSwishBackward,
  relu as refRelu,
  reluBackward,
  reluGeneral,
  reluGeneralBackward,
  softmax as refSoftmax,
  softmaxAxis,
  softmaxAxisBackward,
  logSoftmaxAxis,
  logSoftmaxAxisBackward,
  softmaxCrossEntropy as refXent,
  swish,
  swishBackward,
} from '../ref/act.js';
import {
  bits,
  build,
  checkOp,
  close,
  distinct,
  EXACT,
  fdCheck,
  firstBitDiff,
  type K,
  nans,
  otherAlloc,
  otherBuild,
  otherRead,
  otherRuns,
  prod,
  rand,
  rawRun,
  requireOther,
  seedOf,
  type Tol,
  U,
} from './harness.js';

// softmax rows (R, K): dx = y ⊙ (dy − Σ dy·y) per row.
function refSoftmaxBackward(dy: ArrayLike<number>, y: ArrayLike<number>, R: number, K: number): Float64Array {
  const dx = new Float64Array(R * K);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += dy[r * K + k]! * y[r * K + k]!;
    for (let k = 0; k < K; k++) dx[r * K + k] = y[r * K + k]! * (dy[r * K + k]! - s);
  }
  return dx;
}

// Tolerances (|k − r| ≤ atol + rtol·|r|), x in [-4, 4], dout in [-1, 1]:
//  - sigmoid, tanh, elu, gelu forward: evaluated in f64 and rounded once → ≤ 1 ulp: rtol 2^-23.
//  - their backward: sigmoid/tanh use the f32 output y (1 - y², y(1 - y) lose up to an ulp of 1 near
//    saturation), elu/gelu round an f64 derivative once; plus the f32 accumulation: atol 4U, rtol 1e-6.
//  - leaky relu: f32(alpha)·x, one rounding: rtol 2^-23.
const TOL_ACT_FWD: Tol = { atol: 1e-30, rtol: 2 ** -23 };
const TOL_ACT_BWD: Tol = { atol: 4 * U, rtol: 1e-6 };

interface ActCase {
  name: string;
  op: (x: sn.Tensor) => sn.Tensor;
  fwd: (x: ArrayLike<number>) => Float64Array;
  bwd: (d: ArrayLike<number>, x: ArrayLike<number>) => Float64Array;
  /** raw forward and backward kernels (backward reads y = the output, or x = the input) */
  rawF: (k: K, out: number, inp: number, n: number) => void;
  rawB: (k: K, dinp: number, dout: number, x: number, y: number, n: number) => void;
}

const f = Math.fround;
// The smooth activations and leaky relu: op, reference, raw kernels.
const ACTS: ActCase[] = [
  {
    name: 'sigmoid',
    op: (x) => sn.sigmoid(x),
    fwd: act.sigmoid,
    bwd: act.sigmoidBackward,
    rawF: (k, o, i, n) => k.sigmoid_forward(o, i, n),
    rawB: (k, d, dy, _x, y, n) => k.sigmoid_backward(d, dy, y, n),
  },
  {
    name: 'tanh',
    op: (x) => sn.tanh(x),
    fwd: act.tanh,
    bwd: act.tanhBackward,
    rawF: (k, o, i, n) => k.tanh_forward(o, i, n),
    rawB: (k, d, dy, _x, y, n) => k.tanh_backward(d, dy, y, n),
  },
  {
    name: 'elu',
    op: (x) => sn.elu(x),
    fwd: (x) => act.elu(x, 1),
    bwd: (d, x) => act.eluBackward(d, x, 1),
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 1),
    rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 1),
  },
  {
    name: 'elu alpha=0.7',
    op: (x) => sn.elu(x, 0.7),
    fwd: (x) => act.elu(x, f(0.7)),
    bwd: (d, x) => act.eluBackward(d, x, f(0.7)),
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 0.7),
    rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 0.7),
  },
  {
    name: 'leakyRelu',
    op: (x) => sn.leakyRelu(x),
    fwd: (x) => act.leakyRelu(x, f(0.3)),
    bwd: (d, x) => act.leakyReluBackward(d, x, f(0.3)),
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.3),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.3),
  },
  {
    name: 'leakyRelu alpha=0.01',
    op: (x) => sn.leakyRelu(x, 0.01),
    fwd: (x) => act.leakyRelu(x, f(0.01)),
    bwd: (d, x) => act.leakyReluBackward(d, x, f(0.01)),
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.01),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.01),
  },
  {
    name: 'gelu',
    op: (x) => sn.gelu(x),
    fwd: act.gelu,
    bwd: act.geluBackward,
    rawF: (k, o, i, n) => k.gelu_forward(o, i, n),
    rawB: (k, d, dy, x, _y, n) => k.gelu_backward(d, dy, x, n),
  },
  {
    name: 'gelu tanh',
    op: (x) => sn.gelu(x, true),
    fwd: geluTanh,
    bwd: geluTanhBackward,
    rawF: (k, o, i, n) => k.gelu_tanh_forward(o, i, n),
    rawB: (k, d, dy, x, _y, n) => k.gelu_tanh_backward(d, dy, x, n),
  },
  {
    name: 'erf',
    op: (x) => sn.erf(x),
    fwd: erfAll,
    bwd: erfBackward,
    rawF: (k, o, i, n) => k.erf_forward(o, i, n),
    rawB: (k, d, dy, x, _y, n) => k.erf_backward(d, dy, x, n),
  },
];

// x values in about [-4, 4], none within 4e-3 of 0 (the kinks of elu / leaky relu).
function actInput(rng: Rng, n: number): Float32Array {
  return Float32Array.from(distinctValues(Math.max(n, 2), rng).subarray(0, n), (v) => v * 4);
}

describe('relu / softmax / softmaxCrossEntropy vs ref', () => {
  for (const shape of [[1], [3], [4], [5], [7, 9], [2, 3, 4, 5], [17, 2]]) {
    const name = `relu x=[${shape}]`;
    it(name, () => {
      const x = distinct(makeRng(seedOf(name)), prod(shape));
      // relu passes r through or drops it, exactly: the analytic backward, compared bit for bit.
      checkOp(name, {
        shapes: [shape],
        inputs: [x],
        ref: ([xx]) => refRelu(xx!),
        op: ([t]) => sn.relu(t!),
        tol: EXACT,
        grad: (r) => [reluBackward(r, x)],
      });
    });
  }
  // softmax / xent work in f64 internally and store f32: a few ulps of each output.
  for (const [shape, scale] of [
    [[1, 1], 1],
    [[7], 3],
    [[3, 5], 1],
    [[4, 10], 5],
    [[2, 3, 17], 2],
    [[5, 33], 50],
  ] as [number[], number][]) {
    const name = `softmax x=[${shape}] scale=${scale}`;
    it(name, () => {
      const K = shape[shape.length - 1]!;
      const R = prod(shape) / K;
      checkOp(name, {
        shapes: [shape],
        inputs: [rand(makeRng(seedOf(name)), prod(shape), -scale, scale)],
        ref: ([x]) => refSoftmax(x!, R, K),
        op: ([t]) => sn.softmax(t!),
        tol: { atol: 1e-7, rtol: 1e-6 },
        gradTol: { atol: 1e-7, rtol: 1e-5 },
      });
    });
  }
  for (const [R, Kc, soft, dyScale] of [
    [1, 1, false, 1],
    [4, 10, false, 1],
    [3, 17, false, 0.7],
    [5, 3, true, 1],
    [8, 33, true, -2],
  ] as [number, number, boolean, number][]) {
    const name = `softmaxCrossEntropy logits=[${R},${Kc}] labels=${soft ? 'soft' : 'one-hot'} dy=${dyScale}`;
    it(name, () => {
      const rng = makeRng(seedOf(name));
      const logits = rand(rng, R * Kc, -4, 4);
      const labels = new Float32Array(R * Kc);
      for (let r = 0; r < R; r++) {
        if (soft) {
          // Soft labels that sum to 1 in f32 exactly enough (last one takes the remainder).
          const raw = rand(rng, Kc, 0, 1);
          const s = raw.reduce((a, b) => a + b, 0);
          for (let k = 0; k < Kc; k++) labels[r * Kc + k] = raw[k]! / s;
        } else labels[r * Kc + Math.floor(rng.next() * Kc)] = 1;
      }
      const ref = refXent(logits, labels, R, Kc);
      const lt = sn.tensor(labels, [R, Kc]);
      const xt = sn.tensor(logits, [R, Kc]);
      const probs = sn.zeros([R, Kc]);
      const loss = sn.softmaxCrossEntropy(lt, xt, probs);
      expect(loss.shape).toEqual([]);
      close(loss.dataSync(), [ref.loss], { atol: 1e-6, rtol: 1e-6 }, `${name}: loss`);
      close(probs.dataSync(), ref.probs, { atol: 1e-7, rtol: 1e-6 }, `${name}: probs`);
      const { value, grads } = sn.valueAndGrads((t) => sn.mul(sn.softmaxCrossEntropy(lt, t!), dyScale))([xt]);
      close(value.dataSync(), [ref.loss * dyScale], { atol: 1e-6, rtol: 1e-6 }, `${name}: value`);
      close(
        grads[0]!.dataSync(),
        Array.from(ref.dlogits, (v) => v * dyScale),
        { atol: 1e-7, rtol: 1e-5 },
        `${name}: dlogits`,
      );
      for (const t of [lt, xt, probs, loss, value, ...grads]) t.dispose();
    });
  }
});

describe('relu / softmax / xent raw: NaN guard words survive, inputs unchanged, backward accumulates', () => {
  it('relu / softmax / xent raw, every SIMD tail length n = 1..9, 17', () => {
    const k = sn.getEngine().k;
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 17]) {
      const rng = makeRng(n);
      const x = distinct(rng, n),
        dy = rand(rng, n),
        d0 = rand(rng, n);
      const [y] = rawRun(`relu_forward n=${n}`, [x], [n], ([px], [po]) => k.relu_forward(po!, px!, n));
      expect(Array.from(y!)).toEqual(Array.from(refRelu(x)));
      const [dx] = rawRun(`relu_backward n=${n}`, [dy, y!], [d0], ([pd, py], [pdx]) =>
        k.relu_backward(pdx!, pd!, py!, n),
      );
      expect(Array.from(dx!)).toEqual(Array.from(d0, (v, i) => Math.fround(v + (x[i]! > 0 ? dy[i]! : 0))));
      // softmax over (R=1, K=n) and (R=n, K=1).
      for (const [R, Kc] of [
        [1, n],
        [n, 1],
      ]) {
        const [p] = rawRun(`softmax_forward R=${R} K=${Kc}`, [x], [n], ([px], [po]) =>
          k.softmax_forward(po!, px!, R!, Kc!),
        );
        const yref = refSoftmax(x, R!, Kc!);
        close(p!, yref, { atol: 1e-7, rtol: 1e-6 }, `softmax R=${R} K=${Kc}`);
        const [sdx] = rawRun(`softmax_backward R=${R} K=${Kc}`, [dy, p!], [d0], ([pd, py], [pdx]) =>
          k.softmax_backward(pdx!, pd!, py!, R!, Kc!),
        );
        close(
          sdx!,
          Array.from(refSoftmaxBackward(dy, p!, R!, Kc!), (v, i) => v + d0[i]!),
          { atol: 1e-7, rtol: 1e-6 },
          `softmax_backward R=${R} K=${Kc}`,
        );
      }
      const labels = new Float32Array(n);
      labels[n - 1] = 1;
      let loss = 0;
      const [probs] = rawRun(`softmax_xent_forward n=${n}`, [x, labels], [n], ([px, pl], [pp]) => {
        loss = k.softmax_xent_forward(pp!, px!, pl!, 1, n);
      });
      const xref = refXent(x, labels, 1, n);
      close([loss], [xref.loss], { atol: 1e-7, rtol: 1e-6 }, `xent loss n=${n}`);
      const [dl] = rawRun(`softmax_xent_backward n=${n}`, [probs!, labels], [d0], ([pp, pl], [pd]) =>
        k.softmax_xent_backward(pd!, pp!, pl!, 1, n, 0.5),
      );
      close(
        dl!,
        Array.from(xref.dlogits, (v, i) => v * 0.5 + d0[i]!),
        { atol: 1e-7, rtol: 1e-6 },
        `xent dlogits n=${n}`,
      );
    }
  });
});

describe('sigmoid / tanh / elu / leakyRelu / gelu vs ref (forward and dx through the tape)', () => {
  for (const a of ACTS) {
    for (const shape of [[1], [3], [4], [5], [2, 17], [3, 4, 5], [100]]) {
      const name = `${a.name} x=[${shape}]`;
      it(name, () =>
        checkOp(name, {
          shapes: [shape],
          inputs: [actInput(makeRng(seedOf(name)), prod(shape))],
          ref: ([x]) => a.fwd(x!),
          op: ([t]) => a.op(t!),
          tol: TOL_ACT_FWD,
          gradTol: TOL_ACT_BWD,
        }),
      );
    }
    it(`${a.name} raw n=37: guard words intact, backward ACCUMULATES into dinp`, () => {
      const k = sn.getEngine().k;
      const rng = makeRng(seedOf(a.name) ^ 2);
      const n = 37;
      const x = actInput(rng, n),
        dout = rand(rng, n),
        dinp0 = rand(rng, n);
      const [y] = rawRun(`${a.name} fwd`, [x], [n], ([px], [po]) => a.rawF(k, po!, px!, n));
      close(y!, a.fwd(x), TOL_ACT_FWD, `${a.name} raw forward`);
      const [dx] = rawRun(`${a.name} bwd`, [dout, x, y!], [dinp0], ([pd, px, py], [pdx]) =>
        a.rawB(k, pdx!, pd!, px!, py!, n),
      );
      const want = a.bwd(dout, x).map((v, i) => v + dinp0[i]!);
      close(dx!, want, TOL_ACT_BWD, `${a.name} raw backward (accumulated)`);
    });
  }

  it('gelu is the exact one (erf), not the tanh approximation: gelu(1) = Φ(1)', () => {
    const t = sn.tensor([1, -1, 3, -3, -6], [5]);
    const y = sn.gelu(t);
    close(
      y.dataSync(),
      [0.8413447460685429, -0.15865525393145707, 2.995950305905, -0.004049694094, -5.92e-9],
      { atol: 1e-12, rtol: 2e-7 },
      'gelu known values',
    );
    // tanh approximation at 1: 0.8411919906082768 — 1.5e-4 away, far outside the tolerance above.
    y.dispose();
    t.dispose();
  });

  it('erf keeps its relative precision near 0 and in the tails; the tanh gelu its negative tail', () => {
    const xs = [1e-30, -3e-8, 1e-4, 0.999, 1, -1.0001, 3.5, 6, -20, Infinity, -Infinity];
    const t = sn.tensor(xs, [xs.length]);
    const e = sn.erf(t);
    // Rounded once from f64: within an ulp of the float64 reference, tiny values included.
    close(e.dataSync(), erfAll(xs.map(f)), { atol: 0, rtol: 2 ** -23 }, 'erf');
    const g = sn.gelu(sn.tensor([-4, -5.5, -7], [3]), true);
    // x * sigmoid(2u) has no 1 + tanh(u) cancellation: each value is within an ulp of the f64 formula.
    const tail = [-4, -5.5, -7].map((v) => v / (1 + Math.exp(2 * Math.sqrt(2 / Math.PI) * -(v + 0.044715 * v ** 3))));
    close(g.dataSync(), tail, { atol: 0, rtol: 2 ** -23 }, 'gelu tanh tail');
    expect(g.dataSync()[2]).toBeLessThan(0);
    const nan = sn.erf(sn.tensor([Number.NaN], [1]));
    expect(Number.isNaN(nan.dataSync()[0])).toBe(true);
    expect(() => sn.gelu(t, 'tanh' as unknown as boolean)).toThrow(
      /gelu: approximate must be true or false, got "tanh"/,
    );
    for (const z of [t, e, g, nan]) z.dispose();
  });

  it('exact gelu and erf on a dense grid out to the far negative gelu tail (f32 subnormals): within an ulp', () => {
    // 4001 points over [-14.6, 8]: every branch and table interval of assembly/erf.ts's erfc (erfc(-x/√2)
    // down to 1e-45), both signs. Rounded once from f64: an ulp of the float64 reference, or 2^-149 absolute.
    const n = 4001;
    const xs = Array.from({ length: n }, (_, i) => f(-14.6 + (22.6 * i) / (n - 1)));
    const t = sn.tensor(xs, [n]);
    const g = sn.gelu(t);
    const e = sn.erf(t);
    const tol: Tol = { atol: 2 ** -149, rtol: 2 ** -23 };
    close(g.dataSync(), act.gelu(xs), tol, 'gelu dense');
    close(e.dataSync(), erfAll(xs), tol, 'erf dense');
    // The tail is really reached: subnormal but not yet 0 just above x = -14.
    const tail = g.dataSync()[xs.findIndex((v) => v >= -14)]!;
    expect(tail).toBeLessThan(0);
    expect(tail).toBeGreaterThan(-(2 ** -126));
    for (const z of [t, g, e]) z.dispose();
  });
});

// Tolerances of the Keras activations, x in about [-8, 8], dout in [-1, 1]:
//  - relu family, hard sigmoid / swish: a few f32 operations (x + 3, clip, x * r, / 6): rtol 4 ulps
//    plus atol 4U (times the input scale 8) for results near 0 that come from a difference (x - t, x + 3).
//  - swish: evaluated in f64, rounded once: TOL_ACT_FWD. Backward of all: one f64 derivative rounded,
//    times dout, plus the accumulation: TOL_ACT_BWD.
//  - softmax along an axis: f64 sums, exp of an f32 difference: atol 1e-7, rtol 1e-6.
const TOL_F32_OPS: Tol = { atol: 4 * U * 8, rtol: 4 * 2 ** -23 };
const TOL_SOFTMAX_AXIS: Tol = { atol: 1e-7, rtol: 1e-6 };

// x in about [-8, 8], no value within 8e-3 of the kinks at 0, ±3, 6 or a threshold of 0.5 / 1.
function kerasInput(rng: Rng, n: number): Float32Array {
  const kinks = [0, 3, -3, 6, 0.5, 1];
  return Float32Array.from(distinctValues(Math.max(n, 2), rng).subarray(0, n), (v) => {
    let x = v * 8;
    for (const k of kinks) if (Math.abs(x - k) < 8e-3) x = k + 0.02;
    return x;
  });
}

interface KerasCase {
  name: string;
  op: (x: sn.Tensor) => sn.Tensor;
  fwd: (x: ArrayLike<number>) => Float64Array;
  bwd: (d: ArrayLike<number>, x: ArrayLike<number>) => Float64Array;
  /** raw forward (out, inp, n) and backward (dinp, dout, x, n) kernels */
  raw: (k: K) => [(o: number, i: number, n: number) => void, (d: number, dy: number, x: number, n: number) => void];
  tol: Tol;
}
const kerasRelu = (maxv: number, slope: number, t: number, name: string, op: KerasCase['op']): KerasCase => ({
  name,
  op,
  tol: TOL_F32_OPS,
  fwd: (x) => reluGeneral(x, maxv, f(slope), f(t)),
  bwd: (d, x) => reluGeneralBackward(d, x, maxv, f(slope), f(t)),
  raw: (k) => [
    (o, i, n) => k.relu_general_forward(o, i, n, maxv, slope, t),
    (d, dy, x, n) => k.relu_general_backward(d, dy, x, n, maxv, slope, t),
  ],
});
const KERAS: KerasCase[] = [
  kerasRelu(6, 0, 0, 'relu6', (x) => sn.relu6(x)),
  kerasRelu(Infinity, 0, 0, 'reluGeneral defaults', (x) => sn.reluGeneral(x)),
  kerasRelu(Infinity, 0.1, 0, 'reluGeneral negativeSlope=0.1', (x) => sn.reluGeneral(x, { negativeSlope: 0.1 })),
  kerasRelu(4.5, 0.2, 1, 'reluGeneral maxValue=4.5 negativeSlope=0.2 threshold=1', (x) =>
    sn.reluGeneral(x, { maxValue: 4.5, negativeSlope: 0.2, threshold: 1 }),
  ),
  kerasRelu(6, 0, 0.5, 'reluGeneral maxValue=6 threshold=0.5', (x) =>
    sn.reluGeneral(x, { maxValue: 6, threshold: 0.5 }),
  ),
  {
    name: 'hardSigmoid',
    op: (x) => sn.hardSigmoid(x),
    fwd: hardSigmoid,
    bwd: hardSigmoidBackward,
    tol: TOL_F32_OPS,
    raw: (k) => [(o, i, n) => k.hard_sigmoid_forward(o, i, n), (d, dy, x, n) => k.hard_sigmoid_backward(d, dy, x, n)],
  },
  {
    name: 'hardSwish',
    op: (x) => sn.hardSwish(x),
    fwd: hardSwish,
    bwd: hardSwishBackward,
    tol: TOL_F32_OPS,
    raw: (k) => [(o, i, n) => k.hard_swish_forward(o, i, n), (d, dy, x, n) => k.hard_swish_backward(d, dy, x, n)],
  },
  {
    name: 'swish',
    op: (x) => sn.swish(x),
    fwd: swish,
    bwd: swishBackward,
    tol: TOL_ACT_FWD,
    raw: (k) => [(o, i, n) => k.swish_forward(o, i, n), (d, dy, x, n) => k.swish_backward(d, dy, x, n)],
  },
];

describe('Keras ReLU, hard sigmoid / swish, swish, softmax along an axis vs ref', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const c of KERAS) {
    it(`${c.name}: forward and dx vs ref for shapes [1] [3] [4] [5] [2,17] [3,4,5] [100]`, () => {
      for (const shape of [[1], [3], [4], [5], [2, 17], [3, 4, 5], [100]]) {
        const name = `${c.name} x=[${shape}]`;
        const x = kerasInput(makeRng(seedOf(name)), prod(shape));
        // The analytic backward is the oracle; 'reference gradients match finite differences' checks it.
        checkOp(name, {
          shapes: [shape],
          inputs: [x],
          ref: ([v]) => c.fwd(v!),
          op: ([t]) => c.op(t!),
          tol: c.tol,
          gradTol: TOL_ACT_BWD,
          grad: (r) => [c.bwd(r, x)],
        });
      }
    });
    it(`${c.name}: raw kernels keep guard words, backward ACCUMULATES, SIMD body and scalar tail agree`, () => {
      const k = sn.getEngine().k;
      const [fw, bw] = c.raw(k);
      const rng = makeRng(seedOf(c.name) ^ 2);
      const n = 37;
      const x = kerasInput(rng, n),
        dout = rand(rng, n),
        dinp0 = rand(rng, n);
      // The forward output starts as NaN, so an element the kernel does not write shows.
      const [y] = rawRun(`${c.name} fwd`, [x], [nans(n)], ([px], [po]) => fw(po!, px!, n));
      const [dx] = rawRun(`${c.name} bwd`, [dout, x], [dinp0], ([pd, px], [pdx]) => bw(pdx!, pd!, px!, n));
      const yRef = c.fwd(x);
      const want = c.bwd(dout, x).map((v, i) => v + dinp0[i]!);
      for (let i = 0; i < n; i++) {
        expect(Math.abs(y![i]! - yRef[i]!)).toBeLessThanOrEqual(c.tol.atol + c.tol.rtol * Math.abs(yRef[i]!));
        expect(Math.abs(dx![i]! - want[i]!)).toBeLessThanOrEqual(
          TOL_ACT_BWD.atol + 2 * U + TOL_ACT_BWD.rtol * Math.abs(want[i]!),
        );
      }
      // Element i computed alone (n = 1: the scalar loop) has the bits of the same element inside the SIMD body.
      for (let i = 0; i < n; i++) {
        const [y1] = rawRun(`${c.name} fwd single`, [x.subarray(i, i + 1)], [nans(1)], ([px], [po]) => fw(po!, px!, 1));
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
      value.dispose();
      grads[0]!.dispose();
      return v;
    };
    expect(g(sn.hardSwish)).toEqual([0, 1, 0.5, 1]);
    expect(g(sn.hardSigmoid)).toEqual([0, 0, f(1 / 6), 0]);
    expect(g(sn.relu6)).toEqual([0, 1, 0, 0]);
    x.dispose();
  });

  it('reference gradients match finite differences', () => {
    const x = Float64Array.from(kerasInput(makeRng(3), 40));
    for (const c of KERAS)
      fdCheck(
        `ref ${c.name}`,
        (v) => c.fwd(v),
        (dy, v) => c.bwd(dy, v),
        x,
        40,
      );
    fdCheck(
      'ref softmaxAxis',
      (v) => softmaxAxis(v, 2, 5, 4),
      (dy, v) => softmaxAxisBackward(dy, v, 2, 5, 4),
      Float64Array.from(makeRng(4).fill(40, -2, 2)),
      40,
    );
  });

  // logSoftmax along every non-batch axis; the reference gradient is itself checked by finite differences.
  it('ref logSoftmaxAxis gradient matches finite differences', () => {
    fdCheck(
      'ref logSoftmaxAxis',
      (v) => logSoftmaxAxis(v, 2, 5, 4),
      (dy, v) => logSoftmaxAxisBackward(dy, v, 2, 5, 4),
      Float64Array.from(makeRng(5).fill(40, -2, 2)),
      40,
    );
  });
  // softmax and logSoftmax along an axis: the same arithmetic (f64 sums, exp/log in wasm, one f32 rounding).
  const ALONG_AXIS = [
    {
      op: 'softmax',
      fn: sn.softmax,
      ref: softmaxAxis,
      bwd: softmaxAxisBackward,
      axes: [
        [[2, 5, 4], 1],
        [[3, 4, 2, 6], 2],
        [[3, 4, 2, 6], 0],
        [[3, 4, 2, 6], -3],
        [[6, 7], -1],
        [[6, 7], 0],
      ],
    },
    {
      op: 'logSoftmax',
      fn: sn.logSoftmax,
      ref: logSoftmaxAxis,
      bwd: logSoftmaxAxisBackward,
      axes: [
        [[2, 5, 4], 1],
        [[3, 4, 2, 6], 2],
        [[3, 4, 2, 6], -1],
        [[6, 7], -1],
        [[6, 1], 1],
      ],
    },
  ] as const;
  for (const { op, fn, ref, bwd, axes } of ALONG_AXIS) {
    for (const [shape, axis] of axes) {
      const name = `${op} x=[${shape}] axis=${axis}`;
      it(name, () => {
        const a = axis < 0 ? axis + shape.length : axis;
        const outer = prod(shape.slice(0, a)),
          Ka = shape[a]!,
          inner = prod(shape.slice(a + 1));
        const x = rand(makeRng(seedOf(name)), prod(shape), -3, 3);
        checkOp(name, {
          shapes: [[...shape]],
          inputs: [x],
          ref: ([v]) => ref(v!, outer, Ka, inner),
          op: ([t]) => fn(t!, axis),
          tol: TOL_SOFTMAX_AXIS,
          grad: (r) => [bwd(r, x, outer, Ka, inner)],
        });
      });
    }
  }
});

// sigmoid and swish forward use our own f64 exp (2 lanes at a time in the SIMD build, the same operations
// in the scalar tail): a dense grid over [-100, 100], every power-of-two scale and the special values, each
// result within one f32 ulp of the f64 reference (the ordered-bits distance to the reference rounded to f32).
describe('sigmoid / swish forward on a dense grid and special values vs the f64 reference', () => {
  const ordered = (v: number): number => {
    const b = new Uint32Array(new Float32Array([v]).buffer)[0]!;
    return b & 0x80000000 ? -(b & 0x7fffffff) : b;
  };
  const grid: number[] = [];
  for (let i = -25600; i <= 25600; i++) grid.push(i / 256);
  for (let e = -149; e <= 127; e++) for (const m of [1, 1.37, 1.999]) grid.push(m * 2 ** e, -m * 2 ** e);
  for (const v of [0, -0, 87.3, 88.8, 103.2, 104.1, 708.5, 745.2, 3.4e38, -87.3, -88.8, -103.2, -104.1])
    grid.push(v, -v);
  grid.push(-708.5, -745.2, -3.4e38, Infinity, -Infinity, NaN, 0.5, -0.5);
  const x = Float32Array.from(grid);
  const cases = [
    { name: 'sigmoid', ref: act.sigmoid, raw: (k: K, o: number, i: number, n: number) => k.sigmoid_forward(o, i, n) },
    { name: 'swish', ref: swish, raw: (k: K, o: number, i: number, n: number) => k.swish_forward(o, i, n) },
  ];
  for (const c of cases) {
    it(`${c.name}: ${x.length} inputs, each within 1 f32 ulp; NaN in → NaN out; ±Inf as the formula gives`, () => {
      const k = sn.getEngine().k;
      const n = x.length;
      const [y] = rawRun(`${c.name} grid`, [x], [n], ([px], [po]) => c.raw(k, po!, px!, n));
      const r = c.ref(x);
      const bad: string[] = [];
      for (let i = 0; i < n; i++) {
        const want = Math.fround(r[i]!);
        const got = y![i]!;
        if (Number.isNaN(want) || Number.isNaN(got)) {
          if (Number.isNaN(want) !== Number.isNaN(got)) bad.push(`x=${x[i]}: ${got} vs ${want}`);
        } else if (Math.abs(ordered(got) - ordered(want)) > 1) bad.push(`x=${x[i]}: ${got} vs ${want}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
      expect(Number.isNaN(y![n - 3]!)).toBe(true);
      expect(y![n - 5]).toBe(c.name === 'sigmoid' ? 1 : Infinity);
      // sigmoid(-Inf) = 0; swish(-Inf) = -Inf * 0 = NaN, as the reference formula gives.
      if (c.name === 'sigmoid') expect(y![n - 4]).toBe(0);
      else expect(Number.isNaN(y![n - 4]!)).toBe(true);
    });
    it.skipIf(!otherRuns)(`${c.name}: the ${otherBuild} build gives the same bits on the grid`, async () => {
      const k = sn.getEngine().k;
      const n = x.length;
      const [y] = rawRun(`${c.name} grid`, [x], [n], ([px], [po]) => c.raw(k, po!, px!, n));
      const o = await requireOther();
      const px = otherAlloc(o, n, x),
        po = otherAlloc(o, n);
      c.raw(o.k, po, px, n);
      // NaN sign/payload bits are left to the engine by the wasm spec: every NaN compares as one pattern.
      const canon = (a: Float32Array): Float32Array => a.map((v) => (Number.isNaN(v) ? Number.NaN : v));
      expect(firstBitDiff(canon(otherRead(o, po, n)), canon(y!))).toBe('identical');
    });
  }
});
