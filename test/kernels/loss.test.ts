// Element-wise loss kernels (assembly/kernels/loss.ts through src/ops/loss.ts), binary cross-entropy of
// probabilities and of logits included, against the float64 references of test/ref/loss.ts, whose
// gradients are checked by finite differences; once per build.
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

  it('sigmoidCrossEntropy x=[6,5,3] logits in [-8, 8]: value and gradient against the reference, the reference against finite differences', () => {
    const rng = makeRng(7);
    const n = 90;
    const x = Float32Array.from(rng.fill(n, -8, 8)),
      y = Float32Array.from(rng.fill(n, 0, 1));
    const want = ref.bceLogits(x, y);
    sn.tidy(() => {
      const xt = sn.tensor(x, [6, 5, 3]),
        yt = sn.tensor(y, [6, 5, 3]);
      const { value, grads } = sn.valueAndGrads((q) => sn.sigmoidCrossEntropy(yt, q))([xt]);
      expect(value.shape).toEqual([]);
      expect(Math.abs(value.dataSync()[0]! - want.loss)).toBeLessThan(1e-6 * Math.max(1, want.loss));
      expectClose(grads[0]!.dataSync(), want.dp, { atol: 1e-8, rtol: 1e-5, label: 'sigmoidCrossEntropy gradient' });
    });
    const num = numericGrad((q) => ref.bceLogits(q, y).loss, Float64Array.from(x), 1e-6);
    expectClose(want.dp, num, { atol: 1e-7, rtol: 1e-5, label: 'bceLogits reference gradient' });
  });

  it('sigmoidCrossEntropy stays finite and exact at logits of ±30 and ±1e4, where sigmoid rounds to 0 or 1', () => {
    const x = Float32Array.from([30, -30, 1e4, -1e4, 0, 20]),
      y = Float32Array.from([0, 1, 0, 1, 1, 1]);
    const want = ref.bceLogits(x, y);
    sn.tidy(() => {
      const { value, grads } = sn.valueAndGrads((q) => sn.sigmoidCrossEntropy(sn.tensor(y, [6]), q))([
        sn.tensor(x, [6]),
      ]);
      // (30 + 30 + 1e4 + 1e4 + log 2 + log1p(e^-20)) / 6: a confident wrong answer costs its logit, not Infinity.
      expect(Math.abs(value.dataSync()[0]! - want.loss) / want.loss).toBeLessThan(1e-6);
      expectClose(grads[0]!.dataSync(), want.dp, { atol: 1e-9, rtol: 1e-6, label: 'extreme logits gradient' });
    });
  });

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
