// The batch-normalization kernels (assembly/kernels/batchnorm.ts) raw and through the batchNorm op,
// against the float64 reference of test/ref/batchnorm.ts: forward, moving statistics, dx, dgamma, dbeta.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { withTape } from '../../src/autograd.js';
import { makeRng } from '../helpers/check.js';
import { batchNormBackward, batchNormForward, updateMoving } from '../ref/batchnorm.js';
import { checkOp, close, expectError, fdAffordable, prod, rand, rawRun, seedOf, type Tol, U } from './harness.js';

// Tolerances (|k − r| ≤ atol + rtol·|r|), inputs and dout in [-1, 1] (plus a per-channel shift):
// out / dx: xhat = (x - mean)·invstd, a few f32 roundings of values ≤ ~4 → atol 4e-6 (about 16 ulps at 4).
// dgamma/dbeta: f64 sums of f32 dy·xhat terms, each term off by ≤ 3U relative → atol 4U·Σ|dy·xhat|
// (computed per case).
const TOL_BN: Tol = { atol: 4e-6, rtol: 1e-6 };
const f = Math.fround;

interface BnCase {
  shape: number[];
  training: boolean;
  scale: boolean;
  center: boolean;
}

function bnName(c: BnCase): string {
  return (
    `x=[${c.shape}] ${c.training ? 'training' : 'inference'}${c.scale ? '' : ' scale=false'}` +
    `${c.center ? '' : ' center=false'}`
  );
}

function checkBatchNorm(c: BnCase): void {
  const name = bnName(c);
  const rng = makeRng(seedOf(name));
  const C = c.shape[c.shape.length - 1]!,
    R = prod(c.shape) / C;
  const x = rand(rng, R * C, -1, 1);
  // Shift some channels so the mean is far from 0 (two-pass variance has no cancellation).
  for (let i = 0; i < x.length; i++) x[i] = f(x[i]! + ((i % C) % 3) * 2);
  const gamma = rand(rng, C, 0.5, 1.5),
    beta = rand(rng, C, -1, 1);
  const mm0 = rand(rng, C, -0.5, 0.5),
    mv0 = rand(rng, C, 0.5, 2);
  const eps = 1e-3,
    momentum = 0.99;
  const ref = batchNormForward(x, R, C, c.scale ? gamma : null, c.center ? beta : null, eps, c.training, mm0, mv0);
  const mm = sn.tensor(mm0, [C]),
    mv = sn.tensor(mv0, [C]);
  const opts = (g: sn.Tensor, b: sn.Tensor) => ({
    gamma: c.scale ? g : null,
    beta: c.center ? b : null,
    movingMean: mm,
    movingVariance: mv,
    training: c.training,
    momentum,
    epsilon: eps,
  });
  // The moving statistics: updated with the biased batch variance in training only.
  const xt = sn.tensor(x, c.shape),
    gt = sn.tensor(gamma, [C]),
    bt = sn.tensor(beta, [C]);
  const y = sn.batchNorm(xt, opts(gt, bt));
  expect(y.shape).toEqual(c.shape);
  close(y.dataSync(), ref.out, TOL_BN, `${name}: forward`);
  const wantMm = c.training ? updateMoving(mm0, ref.mean, f(momentum)) : mm0;
  const wantMv = c.training ? updateMoving(mv0, ref.variance, f(momentum)) : mv0;
  close(mm.dataSync(), wantMm, { atol: 1e-7, rtol: 1e-6 }, `${name}: moving mean`);
  close(mv.dataSync(), wantMv, { atol: 1e-7, rtol: 1e-6 }, `${name}: moving variance`);
  for (const t of [y, xt, gt, bt]) t.dispose();
  // Inference reads the moving statistics: restore them before the op runs again.
  mm.view().set(mm0);
  mv.view().set(mv0);
  // Forward and the gradients w.r.t. x, gamma and beta (zero for an unused gamma or beta).
  const r = rand(makeRng(seedOf(name) ^ 0x5eed), R * C);
  // The f32 dy·xhat terms are each off by a few U relative; their sum by up to 4U·Σ|dy·xhat|.
  let mag = 0;
  for (let i = 0; i < r.length; i++) {
    const ch = i % C;
    mag = Math.max(mag, Math.abs((r[i]! * (x[i]! - ref.mean[ch]!)) / Math.sqrt(ref.variance[ch]! + eps)));
  }
  checkOp(name, {
    shapes: [c.shape, [C], [C]],
    inputs: [x, gamma, beta],
    r,
    ref: ([xx, g, b]) =>
      batchNormForward(xx!, R, C, c.scale ? g! : null, c.center ? b! : null, eps, c.training, mm0, mv0).out,
    op: ([xx, g, b]) => sn.batchNorm(xx!, opts(g!, b!)),
    tol: TOL_BN,
    gradTol: [TOL_BN, { atol: 4 * U * mag * R + 1e-7, rtol: 1e-6 }, { atol: 1e-6, rtol: 1e-6 }],
    // Finite differences where cheap (every batch statistic is a sum over R rows), else the analytic backward.
    grad: fdAffordable(R * C + 2 * C, 4 * R * C)
      ? undefined
      : () => {
          const rb = batchNormBackward(r, x, R, C, c.scale ? gamma : null, ref.mean, ref.variance, eps, c.training);
          return [rb.dx, c.scale ? rb.dgamma : new Float64Array(C), c.center ? rb.dbeta : new Float64Array(C)];
        },
  });
  mm.dispose();
  mv.dispose();
}

describe('batchNorm vs ref (forward, moving statistics, dx, dgamma, dbeta)', () => {
  const shapes = [
    [2, 1],
    [3, 3],
    [2, 4],
    [5, 5],
    [7, 8],
    [4, 17],
    [2, 3, 4, 4],
    [2, 2, 3, 5],
    [4, 7, 7, 32],
    [3, 5, 6, 9],
    [1, 4, 4, 3],
  ];
  for (const shape of shapes) {
    for (const training of [true, false]) checkCase({ shape, training, scale: true, center: true });
  }
  checkCase({ shape: [3, 4, 4, 6], training: true, scale: false, center: true });
  checkCase({ shape: [3, 4, 4, 6], training: true, scale: true, center: false });
  checkCase({ shape: [5, 7], training: false, scale: false, center: false });
  function checkCase(c: BnCase) {
    it(bnName(c), () => checkBatchNorm(c));
  }

  it('batchNorm x=[1,3]: inference with a batch of 1 works; training with one value per channel is a clear error', () => {
    const C = 3;
    const mm = sn.tensor([0.5, -1, 2], [C]),
      mv = sn.tensor([4, 1, 0.25], [C]);
    const x = sn.tensor([1.5, 0, 2], [1, C]);
    const y = sn.batchNorm(x, { movingMean: mm, movingVariance: mv, epsilon: 1e-3 });
    const ref = batchNormForward([1.5, 0, 2], 1, C, null, null, 1e-3, false, [0.5, -1, 2], [4, 1, 0.25]);
    close(y.dataSync(), ref.out, TOL_BN, 'batch of 1, inference');
    expectError(
      () => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, training: true }),
      /training needs more than one value per channel.*\[1,3\]/,
    );
    // NHWC with one image but several pixels is fine in training.
    const img = sn.tensor(rand(makeRng(3), 2 * 2 * C), [1, 2, 2, C]);
    const yi = sn.batchNorm(img, { movingMean: mm, movingVariance: mv, training: true });
    expect(yi.shape).toEqual([1, 2, 2, C]);
    for (const t of [mm, mv, x, y, img, yi]) t.dispose();
  });

  it('batchnorm raw R=9 C=7: guard words intact, inputs unchanged, backward ACCUMULATES', () => {
    const k = sn.getEngine().k;
    const [R, C] = [9, 7];
    const rng = makeRng(21);
    const x = rand(rng, R * C),
      gamma = rand(rng, C, 0.5, 1.5),
      beta = rand(rng, C),
      dout = rand(rng, R * C);
    const dx0 = rand(rng, R * C),
      dg0 = rand(rng, C),
      db0 = rand(rng, C);
    const [psum, mean, variance, invstd] = rawRun('stats', [x], [2 * C, C, C, C], ([px], [pp, pm, pv, pi]) => {
      k.batchnorm_stats_sum(pp!, px!, R, C);
      k.batchnorm_stats_reduce(pm!, pp!, 1, C, R);
      k.batchnorm_stats_sqdev(pp!, px!, pm!, R, C);
      k.batchnorm_stats_reduce(pv!, pp!, 1, C, R);
      k.batchnorm_invstd(pi!, pv!, C, 1e-3);
    });
    expect(psum!.length).toBe(2 * C);
    const ref = batchNormForward(x, R, C, gamma, beta, 1e-3, true);
    close(mean!, ref.mean, { atol: 1e-7, rtol: 1e-6 }, 'raw mean');
    close(variance!, ref.variance, { atol: 1e-7, rtol: 1e-6 }, 'raw variance');
    close(
      invstd!,
      Float64Array.from(ref.variance, (v) => 1 / Math.sqrt(v + 1e-3)),
      { atol: 0, rtol: 2 ** -23 },
      'raw invstd',
    );
    const [out] = rawRun('forward', [x, mean!, invstd!, gamma, beta], [R * C], ([px, pm, pi, pg, pb], [po]) =>
      k.batchnorm_forward(po!, px!, pm!, pi!, pg!, pb!, R, C),
    );
    close(out!, ref.out, TOL_BN, 'raw forward');
    const rb = batchNormBackward(dout, x, R, C, gamma, ref.mean, ref.variance, 1e-3, true);
    const [dx, dg, db] = rawRun(
      'backward',
      [dout, x, mean!, invstd!, gamma],
      [dx0, dg0, db0, 4 * C, 2 * C],
      ([pd, px, pm, pi, pg], [pdx, pdg, pdb, pp, pms]) => {
        k.batchnorm_backward_sums(pp!, pd!, px!, pm!, pi!, R, C);
        k.batchnorm_backward_reduce(pdg!, pdb!, pms!, pp!, 1, C, R);
        k.batchnorm_backward_input(pdx!, pd!, px!, pm!, pi!, pg!, pms!, R, C);
      },
    );
    close(
      dx!,
      rb.dx.map((v, i) => v + dx0[i]!),
      TOL_BN,
      'raw dx (accumulated)',
    );
    close(
      dg!,
      rb.dgamma.map((v, i) => v + dg0[i]!),
      { atol: 1e-5, rtol: 1e-6 },
      'raw dgamma (accumulated)',
    );
    close(
      db!,
      rb.dbeta.map((v, i) => v + db0[i]!),
      { atol: 1e-6, rtol: 1e-6 },
      'raw dbeta (accumulated)',
    );
    const mm0 = rand(rng, C),
      mv0 = rand(rng, C, 0.5, 2);
    const [mm, mv] = rawRun('moving', [mean!, variance!], [mm0, mv0], ([pm, pv], [pmm, pmv]) =>
      k.batchnorm_update_moving(pmm!, pmv!, pm!, pv!, C, 0.9),
    );
    close(mm!, updateMoving(mm0, ref.mean, 0.9), { atol: 1e-7, rtol: 1e-6 }, 'raw moving mean');
    close(mv!, updateMoving(mv0, ref.variance, 0.9), { atol: 1e-7, rtol: 1e-6 }, 'raw moving variance');
  });

  it('batchNorm x=[2,3,3,5] training: two backward passes accumulate twice one backward (x, gamma, beta)', () => {
    const shape = [2, 3, 3, 5];
    const rng = makeRng(31);
    const x = sn.tensor(rand(rng, prod(shape)), shape),
      g = sn.tensor(rand(rng, 5, 0.5, 1.5), [5]),
      b = sn.tensor(rand(rng, 5), [5]);
    const mm = sn.zeros([5]),
      mv = sn.tensor([1, 1, 1, 1, 1], [5]);
    const once = sn.grads((xx, gg, bb) =>
      sn.sum(
        sn.mul(sn.batchNorm(xx!, { gamma: gg!, beta: bb!, movingMean: mm, movingVariance: mv, training: true }), xx!),
      ),
    )([x, g, b]);
    const tape = new adv.Tape();
    for (const t of [x, g, b]) tape.watch(t);
    sn.tidy(() => {
      // Record once, run backward twice: the leaves accumulate both passes.
      const loss = withTape(tape, () =>
        sn.sum(sn.mul(sn.batchNorm(x, { gamma: g, beta: b, movingMean: mm, movingVariance: mv, training: true }), x)),
      );
      tape.backward(loss);
      tape.backward(loss);
      [x, g, b].forEach((t, i) =>
        close(
          tape.grads.get(t.id)!.dataSync(),
          Array.from(once[i]!.dataSync(), (v) => 2 * v),
          { atol: 1e-6, rtol: 1e-6 },
          `twice grad ${i}`,
        ),
      );
    });
    for (const t of [x, g, b, mm, mv, ...once]) t.dispose();
  });
});
