// The activation kernels (assembly/kernels/act.ts: relu, softmax, softmax cross-entropy, sigmoid,
// tanh, elu, leaky relu, gelu) raw and through the ops, against the float64 references of
// test/ref/act.ts and test/ref/activations.ts.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { distinctValues, makeRng, type Rng } from '../helpers/check.js';
import * as act from '../ref/activations.js';
import { relu as refRelu, reluBackward, softmax as refSoftmax, softmaxCrossEntropy as refXent } from '../ref/act.js';
import { checkOp, close, distinct, EXACT, type K, prod, rand, rawRun, seedOf, type Tol, U } from './harness.js';

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
  { name: 'sigmoid', op: (x) => sn.sigmoid(x), fwd: act.sigmoid, bwd: act.sigmoidBackward,
    rawF: (k, o, i, n) => k.sigmoid_forward(o, i, n), rawB: (k, d, dy, _x, y, n) => k.sigmoid_backward(d, dy, y, n) },
  { name: 'tanh', op: (x) => sn.tanh(x), fwd: act.tanh, bwd: act.tanhBackward,
    rawF: (k, o, i, n) => k.tanh_forward(o, i, n), rawB: (k, d, dy, _x, y, n) => k.tanh_backward(d, dy, y, n) },
  { name: 'elu', op: (x) => sn.elu(x), fwd: (x) => act.elu(x, 1), bwd: (d, x) => act.eluBackward(d, x, 1),
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 1), rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 1) },
  { name: 'elu alpha=0.7', op: (x) => sn.elu(x, 0.7), fwd: (x) => act.elu(x, f(0.7)),
    bwd: (d, x) => act.eluBackward(d, x, f(0.7)),
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 0.7), rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 0.7) },
  { name: 'leakyRelu', op: (x) => sn.leakyRelu(x), fwd: (x) => act.leakyRelu(x, f(0.3)),
    bwd: (d, x) => act.leakyReluBackward(d, x, f(0.3)),
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.3),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.3) },
  { name: 'leakyRelu alpha=0.01', op: (x) => sn.leakyRelu(x, 0.01), fwd: (x) => act.leakyRelu(x, f(0.01)),
    bwd: (d, x) => act.leakyReluBackward(d, x, f(0.01)),
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.01),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.01) },
  { name: 'gelu', op: (x) => sn.gelu(x), fwd: act.gelu, bwd: act.geluBackward,
    rawF: (k, o, i, n) => k.gelu_forward(o, i, n), rawB: (k, d, dy, x, _y, n) => k.gelu_backward(d, dy, x, n) },
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
        shapes: [shape], inputs: [x], ref: ([xx]) => refRelu(xx!), op: ([t]) => sn.relu(t!),
        tol: EXACT, grad: (r) => [reluBackward(r, x)],
      });
    });
  }
  // softmax / xent work in f64 internally and store f32: a few ulps of each output.
  for (const [shape, scale] of [[[1, 1], 1], [[7], 3], [[3, 5], 1], [[4, 10], 5], [[2, 3, 17], 2], [[5, 33],
    50]] as [number[], number][]) {
    const name = `softmax x=[${shape}] scale=${scale}`;
    it(name, () => {
      const K = shape[shape.length - 1]!;
      const R = prod(shape) / K;
      checkOp(name, {
        shapes: [shape], inputs: [rand(makeRng(seedOf(name)), prod(shape), -scale, scale)],
        ref: ([x]) => refSoftmax(x!, R, K), op: ([t]) => sn.softmax(t!),
        tol: { atol: 1e-7, rtol: 1e-6 }, gradTol: { atol: 1e-7, rtol: 1e-5 },
      });
    });
  }
  for (const [R, Kc, soft, dyScale] of [[1, 1, false, 1], [4, 10, false, 1], [3, 17, false, 0.7], [5, 3, true, 1], [8,
    33, true, -2]] as [number, number, boolean, number][]) {
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
      close(grads[0]!.dataSync(), Array.from(ref.dlogits, (v) => v * dyScale), { atol: 1e-7, rtol: 1e-5 },
        `${name}: dlogits`);
      for (const t of [lt, xt, probs, loss, value, ...grads]) t.dispose();
    });
  }
});

describe('relu / softmax / xent raw: NaN guard words survive, inputs unchanged, backward accumulates', () => {
  it('relu / softmax / xent raw, every SIMD tail length n = 1..9, 17', () => {
    const k = sn.getEngine().k;
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 17]) {
      const rng = makeRng(n);
      const x = distinct(rng, n), dy = rand(rng, n), d0 = rand(rng, n);
      const [y] = rawRun(`relu_forward n=${n}`, [x], [n], ([px], [po]) => k.relu_forward(po!, px!, n));
      expect(Array.from(y!)).toEqual(Array.from(refRelu(x)));
      const [dx] = rawRun(`relu_backward n=${n}`, [dy, y!], [d0], ([pd, py], [pdx]) => k.relu_backward(pdx!, pd!, py!,
        n));
      expect(Array.from(dx!)).toEqual(Array.from(d0, (v, i) => Math.fround(v + (x[i]! > 0 ? dy[i]! : 0))));
      // softmax over (R=1, K=n) and (R=n, K=1).
      for (const [R, Kc] of [[1, n], [n, 1]]) {
        const [p] = rawRun(`softmax_forward R=${R} K=${Kc}`, [x], [n], ([px], [po]) => k.softmax_forward(po!, px!, R!,
          Kc!));
        const yref = refSoftmax(x, R!, Kc!);
        close(p!, yref, { atol: 1e-7, rtol: 1e-6 }, `softmax R=${R} K=${Kc}`);
        const [sdx] = rawRun(`softmax_backward R=${R} K=${Kc}`, [dy, p!], [d0],
          ([pd, py], [pdx]) => k.softmax_backward(pdx!, pd!, py!, R!, Kc!));
        close(sdx!, Array.from(refSoftmaxBackward(dy, p!, R!, Kc!), (v, i) => v + d0[i]!), { atol: 1e-7, rtol: 1e-6 },
          `softmax_backward R=${R} K=${Kc}`);
      }
      const labels = new Float32Array(n); labels[n - 1] = 1;
      let loss = 0;
      const [probs] = rawRun(`softmax_xent_forward n=${n}`, [x, labels], [n],
        ([px, pl], [pp]) => { loss = k.softmax_xent_forward(pp!, px!, pl!, 1, n); });
      const xref = refXent(x, labels, 1, n);
      close([loss], [xref.loss], { atol: 1e-7, rtol: 1e-6 }, `xent loss n=${n}`);
      const [dl] = rawRun(`softmax_xent_backward n=${n}`, [probs!, labels], [d0],
        ([pp, pl], [pd]) => k.softmax_xent_backward(pd!, pp!, pl!, 1, n, 0.5));
      close(dl!, Array.from(xref.dlogits, (v, i) => v * 0.5 + d0[i]!), { atol: 1e-7, rtol: 1e-6 },
        `xent dlogits n=${n}`);
    }
  });
});

describe('sigmoid / tanh / elu / leakyRelu / gelu vs ref (forward and dx through the tape)', () => {
  for (const a of ACTS) {
    for (const shape of [[1], [3], [4], [5], [2, 17], [3, 4, 5], [100]]) {
      const name = `${a.name} x=[${shape}]`;
      it(name, () => checkOp(name, {
        shapes: [shape], inputs: [actInput(makeRng(seedOf(name)), prod(shape))],
        ref: ([x]) => a.fwd(x!), op: ([t]) => a.op(t!),
        tol: TOL_ACT_FWD, gradTol: TOL_ACT_BWD,
      }));
    }
    it(`${a.name} raw n=37: guard words intact, backward ACCUMULATES into dinp`, () => {
      const k = sn.getEngine().k;
      const rng = makeRng(seedOf(a.name) ^ 2);
      const n = 37;
      const x = actInput(rng, n), dout = rand(rng, n), dinp0 = rand(rng, n);
      const [y] = rawRun(`${a.name} fwd`, [x], [n], ([px], [po]) => a.rawF(k, po!, px!, n));
      close(y!, a.fwd(x), TOL_ACT_FWD, `${a.name} raw forward`);
      const [dx] = rawRun(`${a.name} bwd`, [dout, x, y!], [dinp0], ([pd, px, py], [pdx]) => a.rawB(k, pdx!, pd!, px!,
        py!, n));
      const want = a.bwd(dout, x).map((v, i) => v + dinp0[i]!);
      close(dx!, want, TOL_ACT_BWD, `${a.name} raw backward (accumulated)`);
    });
  }

  it('gelu is the exact one (erf), not the tanh approximation: gelu(1) = Φ(1)', () => {
    const t = sn.tensor([1, -1, 3, -3, -6], [5]);
    const y = sn.gelu(t);
    close(y.dataSync(), [0.8413447460685429, -0.15865525393145707, 2.995950305905, -0.004049694094, -5.92e-9],
      { atol: 1e-12, rtol: 2e-7 }, 'gelu known values');
    // tanh approximation at 1: 0.8411919906082768 — 1.5e-4 away, far outside the tolerance above.
    y.dispose(); t.dispose();
  });

  it('Dense / Conv2D / Activation layers accept every activation name and reject others', () => {
    for (const a of ['sigmoid', 'tanh', 'elu', 'gelu', 'relu', 'linear', 'softmax'] as const) {
      expect(() => sn.layers.dense({ units: 2, activation: a })).not.toThrow();
      expect(() => sn.layers.conv2d({ filters: 2, kernelSize: 1, activation: a })).not.toThrow();
      expect(() => sn.layers.activation({ activation: a })).not.toThrow();
    }
    expect(() => sn.layers.dense({ units: 2, activation: 'mish' as never }))
      .toThrow(/activation must be one of 'linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'gelu'/);
  });
});
