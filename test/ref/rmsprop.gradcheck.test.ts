// Proves the float64 references of RMSprop and the learning-rate schedules (./rmsprop.ts) right: steps
// and schedule values worked out by hand.
import { describe, expect, it } from 'vitest';
import { cosineDecay, rmspropStep, stepDecay } from './rmsprop.js';

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
