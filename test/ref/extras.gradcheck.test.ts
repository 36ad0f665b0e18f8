// Proves the float64 references of batch normalization, the new activations, global pooling,
// RMSprop and the learning-rate schedules right: central finite differences (h = 1e-6, relative
// error < 1e-5) for every backward, hand-computed cases and known values for the rest.
import { describe, expect, it } from 'vitest';
import { distinctValues, expectClose, makeRng, numericGrad, relErr } from '../helpers/check.js';
import { batchNormBackward, batchNormForward, updateMoving } from './batchnorm.js';
import {
  elu,
  eluBackward,
  erf,
  erfc,
  gelu,
  geluBackward,
  leakyRelu,
  leakyReluBackward,
  sigmoid,
  sigmoidBackward,
  tanh,
  tanhBackward,
} from './activations.js';
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  globalMaxPoolBackward,
  globalMaxPoolForward,
} from './globalpool.js';
import { cosineDecay, rmspropStep, stepDecay } from './rmsprop.js';

const H_STEP = 1e-6;
const MAX_REL_ERR = 1e-5;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// analytic gradient vs central differences of f at x
function expectGradMatches(
  label: string,
  analytic: ArrayLike<number>,
  f: (x: Float64Array) => number,
  x: Float64Array,
): void {
  const numeric = numericGrad(f, x, H_STEP);
  let worst = 0,
    at = -1;
  for (let i = 0; i < numeric.length; i++) {
    const e = relErr(analytic[i]!, numeric[i]!);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  const where = at < 0 ? '' : ` at [${at}] analytic ${analytic[at]} numeric ${numeric[at]}`;
  expect(worst, `${label}: max relErr${where}`).toBeLessThan(MAX_REL_ERR);
}

describe('batch normalization reference', () => {
  const cases = [
    { name: '[N,F]=[5,3]', R: 5, C: 3 },
    { name: 'NHWC [2,3,2,4] (R = 12)', R: 12, C: 4 },
    { name: 'R=2 C=1', R: 2, C: 1 },
  ];
  for (const { name, R, C } of cases) {
    for (const training of [true, false]) {
      it(`${name} ${training ? 'training' : 'inference'}: dx, dgamma, dbeta by finite differences`, () => {
        const rng = makeRng(R * 31 + C + (training ? 1 : 0));
        const x = rng.fill(R * C, -2, 2);
        const gamma = rng.fill(C, 0.5, 1.5),
          beta = rng.fill(C, -1, 1);
        const mm = rng.fill(C, -0.5, 0.5),
          mv = rng.fill(C, 0.5, 2);
        const r = rng.fill(R * C, -1, 1);
        const eps = 1e-3;
        const f = (xx: Float64Array, g: ArrayLike<number> = gamma, b: ArrayLike<number> = beta) =>
          dot(batchNormForward(xx, R, C, g, b, eps, training, mm, mv).out, r);
        const fw = batchNormForward(x, R, C, gamma, beta, eps, training, mm, mv);
        const { dx, dgamma, dbeta } = batchNormBackward(r, x, R, C, gamma, fw.mean, fw.variance, eps, training);
        expectGradMatches('dx', dx, (xx) => f(xx), x);
        expectGradMatches('dgamma', dgamma, (g) => f(x, g), Float64Array.from(gamma));
        expectGradMatches('dbeta', dbeta, (b) => f(x, gamma, b), Float64Array.from(beta));
      });
    }
  }

  it('training output has zero mean and unit (biased) variance per channel before scale/shift', () => {
    const R = 6,
      C = 2;
    const x = makeRng(3).fill(R * C, -3, 5);
    const { out, variance } = batchNormForward(x, R, C, null, null, 0, true);
    for (let c = 0; c < C; c++) {
      let m = 0,
        v = 0;
      for (let r = 0; r < R; r++) m += out[r * C + c]!;
      for (let r = 0; r < R; r++) v += out[r * C + c]! ** 2;
      expect(Math.abs(m / R)).toBeLessThan(1e-14);
      expect(v / R).toBeCloseTo(1, 12);
      // Biased: the sum of squared deviations over R, not R - 1.
      let mean = 0,
        ss = 0;
      for (let r = 0; r < R; r++) mean += x[r * C + c]! / R;
      for (let r = 0; r < R; r++) ss += (x[r * C + c]! - mean) ** 2;
      expect(variance[c]).toBeCloseTo(ss / R, 12);
    }
  });

  it('hand case: x = [1, 3] per channel, gamma 2, beta 1, eps 0', () => {
    const { out, mean, variance } = batchNormForward([1, 3], 2, 1, [2], [1], 0, true);
    expect(Array.from(mean)).toEqual([2]);
    expect(Array.from(variance)).toEqual([1]);
    expect(Array.from(out)).toEqual([-1, 3]);
    expect(Array.from(updateMoving([0], [2], 0.99))).toEqual([2 * (1 - 0.99)]);
  });
});

describe('activation references', () => {
  // Inputs away from the kinks of elu / leaky relu at 0.
  const x = Float64Array.from(distinctValues(40, makeRng(5)), (v) => v * 4);
  const r = makeRng(6).fill(40, -1, 1);
  const acts: Array<
    [string, (x: ArrayLike<number>) => Float64Array, (d: ArrayLike<number>, x: ArrayLike<number>) => Float64Array]
  > = [
    ['sigmoid', sigmoid, sigmoidBackward],
    ['tanh', tanh, tanhBackward],
    ['elu', (v) => elu(v), (d, v) => eluBackward(d, v)],
    ['elu alpha=0.5', (v) => elu(v, 0.5), (d, v) => eluBackward(d, v, 0.5)],
    ['leakyRelu', (v) => leakyRelu(v), (d, v) => leakyReluBackward(d, v)],
    ['leakyRelu alpha=0.01', (v) => leakyRelu(v, 0.01), (d, v) => leakyReluBackward(d, v, 0.01)],
    ['gelu', gelu, geluBackward],
  ];
  for (const [name, fwd, bwd] of acts) {
    it(`${name}: backward by finite differences`, () => {
      expectGradMatches(name, bwd(r, x), (xx) => dot(fwd(xx), r), Float64Array.from(x));
    });
  }

  it('erf and erfc match known values', () => {
    // Values from Abramowitz & Stegun table 7.1 / high-precision evaluations.
    expect(erf(0)).toBe(0);
    expect(relErr(erf(0.5), 0.5204998778130465)).toBeLessThan(1e-14);
    expect(relErr(erf(1), 0.8427007929497149)).toBeLessThan(1e-14);
    expect(relErr(erf(2), 0.9953222650189527)).toBeLessThan(1e-14);
    expect(relErr(erf(-1.5), -0.9661051464753108)).toBeLessThan(1e-14);
    expect(relErr(erfc(3), 2.209049699858544e-5)).toBeLessThan(1e-13);
    expect(relErr(erfc(2), 0.004677734981047266)).toBeLessThan(1e-13);
    expect(relErr(erfc(4), 1.541725790028002e-8)).toBeLessThan(1e-12);
    expect(relErr(erfc(6), 2.151973671249892e-17)).toBeLessThan(1e-12);
  });

  it('gelu known values; sigmoid, tanh, elu, leaky relu by hand', () => {
    // gelu(1) = Φ(1) = 0.8413447460685429; gelu(-1) = -Φ(-1) = -0.15865525393145707
    expectClose(gelu([0, 1, -1, 3]), [0, 0.8413447460685429, -0.15865525393145707, 3 * 0.9986501019683699], {
      atol: 0,
      rtol: 1e-14,
    });
    expectClose(sigmoid([0, Math.log(3)]), [0.5, 0.75], { atol: 0, rtol: 1e-15 });
    expectClose(tanh([0, Math.log(2)]), [0, 0.6], { atol: 1e-16, rtol: 1e-15 });
    expect(Array.from(elu([2, Math.log(0.5)], 1))).toEqual([2, -0.5]);
    expect(Array.from(leakyRelu([2, -2], 0.3))).toEqual([2, -0.6]);
  });
});

describe('global pooling references', () => {
  it('avg: backward by finite differences; hand case', () => {
    const [N, HW, C] = [2, 6, 3];
    const x = makeRng(8).fill(N * HW * C, -1, 1),
      r = makeRng(9).fill(N * C, -1, 1);
    expectGradMatches(
      'avg dx',
      globalAvgPoolBackward(r, N, HW, C),
      (xx) => dot(globalAvgPoolForward(xx, N, HW, C), r),
      x,
    );
    expect(Array.from(globalAvgPoolForward([1, 10, 3, 20], 1, 2, 2))).toEqual([2, 15]);
  });

  it('max: backward by finite differences (distinct values); first maximum wins ties', () => {
    const [N, HW, C] = [2, 5, 3];
    const x = distinctValues(N * HW * C, makeRng(10)),
      r = makeRng(11).fill(N * C, -1, 1);
    const { argmax } = globalMaxPoolForward(x, N, HW, C);
    expectGradMatches(
      'max dx',
      globalMaxPoolBackward(r, argmax, x.length),
      (xx) => dot(globalMaxPoolForward(xx, N, HW, C).out, r),
      Float64Array.from(x),
    );
    const tie = globalMaxPoolForward([-2, -1, -2, -1], 1, 4, 1);
    expect(Array.from(tie.out)).toEqual([-1]);
    expect(Array.from(tie.argmax)).toEqual([1]);
  });
});

describe('RMSprop and schedule references', () => {
  it('RMSprop, one step by hand: g = 2, v0 = 0 → v = 0.4, p -= lr·2/sqrt(0.4 + eps)', () => {
    const p = Float64Array.from([1]),
      v = new Float64Array(1),
      m = new Float64Array(1),
      a = new Float64Array(1);
    rmspropStep(p, [2], v, m, a, 0.1, 0.9, 0, 0);
    expect(v[0]).toBeCloseTo(0.4, 15);
    expect(p[0]).toBeCloseTo(1 - 0.2 / Math.sqrt(0.4), 15);
    // centered: a = 0.2, denom = 0.4 - 0.04
    const p2 = Float64Array.from([1]),
      v2 = new Float64Array(1),
      a2 = new Float64Array(1);
    rmspropStep(p2, [2], v2, new Float64Array(1), a2, 0.1, 0.9, 0, 0, true);
    expect(a2[0]).toBeCloseTo(0.2, 15);
    expect(p2[0]).toBeCloseTo(1 - 0.2 / Math.sqrt(0.36), 15);
    // momentum: m = 0.5·0 + inc, then m = 0.5 m + inc'
    const p3 = Float64Array.from([1]),
      v3 = new Float64Array(1),
      m3 = new Float64Array(1);
    rmspropStep(p3, [2], v3, m3, new Float64Array(1), 0.1, 0.9, 0.5, 0);
    expect(m3[0]).toBeCloseTo(0.2 / Math.sqrt(0.4), 15);
    expect(p3[0]).toBeCloseTo(1 - m3[0]!, 15);
  });

  it('stepDecay and cosineDecay by hand', () => {
    expect([0, 9, 10, 19, 20, 35].map((s) => stepDecay(0.1, 10, 0.5, s))).toEqual([
      0.1, 0.1, 0.05, 0.05, 0.025, 0.0125,
    ]);
    expect(cosineDecay(0.1, 100, 0, 0)).toBe(0.1);
    expect(cosineDecay(0.1, 100, 0, 50)).toBeCloseTo(0.05, 15);
    expect(cosineDecay(0.1, 100, 0.2, 100)).toBeCloseTo(0.02, 15);
    expect(cosineDecay(0.1, 100, 0.2, 500)).toBeCloseTo(0.02, 15);
  });
});
