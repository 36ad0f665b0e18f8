// Proves the float64 reference of batch normalization (./batchnorm.ts) right: central finite differences
// of dx, dgamma and dbeta in training and inference, the normalized statistics, and a hand case.
import { describe, expect, it } from 'vitest';
import { makeRng } from '../helpers/check.js';
import { batchNormBackward, batchNormForward, updateMoving } from './batchnorm.js';
import { dot, expectGradMatches } from './fdcheck.js';

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
