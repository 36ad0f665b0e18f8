// Element-wise loss kernels (assembly/kernels/loss.ts through src/ops/loss.ts) against the float64
// references of test/ref/loss.ts, whose gradients are checked by finite differences; once per build.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng, numericGrad } from '../helpers/check.js';
import * as ref from '../ref/loss.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

type LossFn = (labels: sn.Tensor, preds: sn.Tensor) => sn.Tensor;
const LOSSES: Array<[string, LossFn, typeof ref.mse]> = [
  ['meanSquaredError', sn.meanSquaredError, ref.mse],
  ['meanAbsoluteError', sn.meanAbsoluteError, ref.mae],
  ['binaryCrossentropy', sn.binaryCrossentropy, ref.bce],
];

describe(`loss kernels (${build})`, () => {
  for (const [name, fn, r] of LOSSES) {
    it(`${name}: value and gradient against the reference, the reference against finite differences`, () => {
      const rng = makeRng(name.length);
      const shape = [6, 5, 3];
      const n = 90;
      // Probabilities away from 0 and 1 (and predictions away from the targets, for the kinks of MAE).
      const p64 = rng.fill(n, 0.05, 0.95),
        y64 = rng.fill(n, 0, 1);
      for (let i = 0; i < n; i++) if (Math.abs(p64[i]! - y64[i]!) < 0.01) p64[i] = y64[i]! + 0.02;
      const p = Float32Array.from(p64),
        y = Float32Array.from(y64);
      const want = r(p, y);
      sn.tidy(() => {
        const pt = sn.tensor(p, shape),
          yt = sn.tensor(y, shape);
        const { value, grads } = sn.valueAndGrads((q) => fn(yt, q))([pt]);
        expect(value.shape).toEqual([]);
        expect(Math.abs(value.dataSync()[0]! - want.loss)).toBeLessThan(1e-6 * Math.max(1, want.loss));
        expectClose(grads[0]!.dataSync(), want.dp, { atol: 1e-7, rtol: 1e-4, label: `${name} gradient` });
        value.dispose();
        grads[0]!.dispose();
      });
      const num = numericGrad((q) => r(q, y).loss, Float64Array.from(p), 1e-6);
      expectClose(want.dp, num, { atol: 1e-7, rtol: 1e-5, label: `${name} reference gradient` });
    });
  }

  it('binaryCrossentropy clips probabilities to [1e-7, 1 - 1e-7] as Keras, with no gradient where clipped', () => {
    const p = Float32Array.from([0, 1, 1e-9, 0.5]),
      y = Float32Array.from([1, 0, 1, 1]);
    sn.tidy(() => {
      const pt = sn.tensor(p, [4]),
        yt = sn.tensor(y, [4]);
      const { value, grads } = sn.valueAndGrads((q) => sn.binaryCrossentropy(yt, q))([pt]);
      const want = ref.bce(p, y);
      // -log(1e-7) = 16.118...: a large but finite loss for a confident wrong answer.
      expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
      expect(Math.abs(value.dataSync()[0]! - want.loss)).toBeLessThan(1e-4);
      const g = grads[0]!.dataSync();
      expect([g[0], g[1], g[2]]).toEqual([0, 0, 0]);
      expect(Math.abs(g[3]! - -0.5)).toBeLessThan(1e-6);
      value.dispose();
      grads[0]!.dispose();
    });
  });
});
