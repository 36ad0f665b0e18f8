// Proves the float64 references of the tanh GELU and erf (./act.ts) right: known values and central
// finite differences of their backward.
import { describe, expect, it } from 'vitest';
import { distinctValues, expectClose, makeRng } from '../helpers/check.js';
import { erfAll, erfBackward, geluTanh, geluTanhBackward } from './act.js';
import { dot, expectGradMatches } from './fdcheck.js';

describe('tanh GELU and erf references', () => {
  // |x| <= 2.5: further out the gradients are so small that the differences are mostly rounding.
  const x = Float64Array.from(distinctValues(40, makeRng(15)), (v) => v * 2.5);
  const r = makeRng(16).fill(40, -1, 1);

  it('gelu tanh: backward by finite differences', () => {
    expectGradMatches('geluTanh', geluTanhBackward(r, x), (xx) => dot(geluTanh(xx), r), Float64Array.from(x));
  });

  it('erf: backward by finite differences', () => {
    expectGradMatches('erf', erfBackward(r, x), (xx) => dot(erfAll(xx), r), Float64Array.from(x));
  });

  it('known values (Python math.tanh / math.erf)', () => {
    expectClose(geluTanh([0, 1, -1, 3]), [0, 0.8411919906082768, -0.15880800939172324, 2.996362607918227], {
      atol: 0,
      rtol: 1e-14,
    });
    expect(erfAll([0])[0]).toBe(0);
    expectClose(erfAll([0.1, 1e-3, -0.7]), [0.1124629160182849, 0.0011283787909692365, -0.6778011938374184], {
      atol: 0,
      rtol: 1e-14,
    });
  });
});
