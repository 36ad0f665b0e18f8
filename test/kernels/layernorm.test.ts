// The layer-normalization kernels through the op and raw, against test/ref/layernorm.ts: rows of 1 to
// 67 values, one or several normalized axes, with and without gamma / beta; gradients of x, gamma and
// beta by finite differences of the float64 reference; guard words and accumulation of the raw backward.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { layerNorm as layerNormOp } from '../../src/ops/layernorm.js';
import { makeRng } from '../helpers/check.js';
import { layerNorm } from '../ref/layernorm.js';
import { build, checkOp, nans, prod, rand, rawRun, seedOf, type Tol, U } from './harness.js';

// Forward: f64 statistics, then three f32 roundings ((x - mean) * invstd, * gamma, + beta) of values
// of magnitude up to ~|xhat|·|gamma| + |beta|: a few ulps. Gradients: the f32 terms are summed in f64
// and rounded once per element, so their error is mostly the finite-difference estimate's.
const TOL_FWD: Tol = { atol: 16 * U, rtol: 8 * U };
const TOL_GRAD: Tol = { atol: 2e-5, rtol: 1e-4 };

const CASES: Array<[number[], number, boolean]> = [
  // shape (with batch), first normalized axis, with gamma/beta
  [[3, 8], -1, true],
  [[2, 1], -1, true],
  [[2, 3, 5], -1, true],
  [[2, 3, 5], 1, true],
  [[2, 4, 4, 6], -1, false],
  [[2, 2, 3, 67], 3, true],
];

describe('layerNorm', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const [shape, axis, affine] of CASES) {
    const name = `layerNorm x=[${shape}] axis=${axis} ${affine ? 'gamma, beta' : 'no gamma/beta'}`;
    it(name, () => {
      const a = axis < 0 ? axis + shape.length : axis;
      const D = prod(shape.slice(a)),
        R = prod(shape) / D;
      const eps = 1e-3;
      const shapes = affine ? [shape, [D], [D]] : [shape];
      const rng = makeRng(seedOf(name));
      const inputs = shapes.map((s, i) => rand(rng, prod(s), i === 0 ? -2 : -1.5, i === 0 ? 3 : 1.5));
      checkOp(name, {
        shapes,
        inputs,
        ref: ([x, g, b]) => layerNorm(x!, g ?? null, b ?? null, R, D, eps),
        op: ([x, g, b]) => layerNormOp(x!, { axis, gamma: g, beta: b, epsilon: eps }),
        tol: TOL_FWD,
        gradTol: TOL_GRAD,
        h: 1e-3,
      });
    });
  }

  it('raw kernels: guard words intact; backward ACCUMULATES into dx, dgamma, dbeta', () => {
    const k = sn.getEngine().k;
    const [R, D] = [5, 7];
    const rng = makeRng(21);
    const x = rand(rng, R * D, -2, 2),
      g = rand(rng, D),
      b = rand(rng, D);
    const [y, mean, invstd] = rawRun(
      'layernorm fwd',
      [x, g, b],
      [nans(R * D), nans(R), nans(R)],
      ([px, pg, pb], [py, pm, pi]) => k.layernorm_forward(py!, pm!, pi!, px!, pg!, pb!, R, D, 1e-5),
    );
    const want = layerNorm(x, g, b, R, D, 1e-5);
    for (let i = 0; i < want.length; i++) expect(Math.abs(y![i]! - want[i]!)).toBeLessThan(1e-5);
    const dy = rand(rng, R * D);
    const dx0 = rand(rng, R * D),
      dg0 = rand(rng, D),
      db0 = rand(rng, D);
    const [dx, dg, db] = rawRun(
      'layernorm bwd',
      [dy, x, g, mean!, invstd!],
      [dx0, dg0, db0],
      ([pdy, px, pg, pm, pi], [pdx, pdg, pdb]) =>
        k.layernorm_backward(pdx!, pdg!, pdb!, pdy!, px!, pg!, pm!, pi!, R, D),
    );
    // Accumulation: the same call into zeros plus the initial values.
    const [dxz, dgz, dbz] = rawRun(
      'layernorm bwd zero',
      [dy, x, g, mean!, invstd!],
      [R * D, D, D],
      ([pdy, px, pg, pm, pi], [pdx, pdg, pdb]) =>
        k.layernorm_backward(pdx!, pdg!, pdb!, pdy!, px!, pg!, pm!, pi!, R, D),
    );
    expect(Array.from(dx!)).toEqual(Array.from(dxz!, (v, i) => Math.fround(v + dx0[i]!)));
    expect(Array.from(dg!)).toEqual(Array.from(dgz!, (v, i) => Math.fround(v + dg0[i]!)));
    expect(Array.from(db!)).toEqual(Array.from(dbz!, (v, i) => Math.fround(v + db0[i]!)));
    // dbeta is the column sum of dy.
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let r = 0; r < R; r++) s += dy[r * D + d]!;
      expect(Math.abs(dbz![d]! - s)).toBeLessThan(1e-6);
    }
  });

  it('bad arguments: the batch axis, a gamma of the wrong size, a bad epsilon', () => {
    const x = sn.tensor(new Float32Array(24).fill(1), [2, 3, 4]);
    const g = sn.tensor(new Float32Array(3), [3]);
    expect(() => layerNormOp(x, { axis: 0 })).toThrow(/axis 0 must be a non-batch axis of the rank-3 input/);
    expect(() => layerNormOp(x, { gamma: g })).toThrow(/gamma has 3 values but the normalized axes \[4\] hold 4/);
    expect(() => layerNormOp(x, { epsilon: 0 })).toThrow(/epsilon must be a positive number, got 0/);
    x.dispose();
    g.dispose();
  });
});
