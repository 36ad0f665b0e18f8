// Proves the float64 references of global average and max pooling (./globalpool.ts) right: central
// finite differences of both backwards, a hand case, and the first maximum winning ties.
import { describe, expect, it } from 'vitest';
import { distinctValues, makeRng } from '../helpers/check.js';
import { dot, expectGradMatches } from './fdcheck.js';
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  globalMaxPoolBackward,
  globalMaxPoolForward,
} from './globalpool.js';

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
