// Finite-difference checks shared by the *.gradcheck.test.ts files: an analytic float64 gradient against
// central differences (h = 1e-6) of f at x, worst relative error below 1e-5.
import { expect } from 'vitest';
import { numericGrad, relErr } from '../helpers/check.js';

const H_STEP = 1e-6;
const MAX_REL_ERR = 1e-5;

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Compares an analytic gradient with central differences of f at x, element by element. */
export function expectGradMatches(
  label: string,
  analytic: ArrayLike<number>,
  f: (x: Float64Array) => number,
  x: Float64Array,
): void {
  const numeric = numericGrad(f, x, H_STEP);
  expect(analytic.length, `${label}: length`).toBe(numeric.length);
  let worst = 0;
  let at = -1;
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
