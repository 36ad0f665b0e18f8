// Proves the float64 references of the smooth activations and leaky relu (./activations.ts) right:
// central finite differences of every backward, erf/erfc and gelu against known values, the rest by hand.
import { describe, expect, it } from 'vitest';
import { distinctValues, expectClose, makeRng, relErr } from '../helpers/check.js';
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
import { dot, expectGradMatches } from './fdcheck.js';

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
