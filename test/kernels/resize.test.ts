// The resize kernels (nearest and half-pixel bilinear upsampling of NHWC images) raw and through the
// op, against test/ref/resize.ts: forward and dx, raw kernels with guard words and accumulation, bits
// at 1, 2 and 4 threads (argument errors: test/ops/errors.test.ts).
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { upsample, upsampleBackward } from '../ref/resize.js';
import {
  build,
  checkOp,
  EXACT,
  fdCheck,
  geomPtr,
  nans,
  prod,
  rand,
  rawRun,
  sameBitsAcrossThreads,
  seedOf,
  type Tol,
  U,
} from './harness.js';

// Tolerances, values in [-1, 1]:
//  - nearest forward is a copy (exact); its dx sums SH*SW f32 terms: atol 2U per term.
//  - bilinear forward: the source coordinate (o + 0.5) * (H / OH) - 0.5 is computed in f32 as TF does,
//    so its fraction is off by up to ~2U * H (two roundings of a value < H); a fraction error e moves
//    the output by e * |difference of two values| <= 2e per axis; plus three f32 lerps of values <= 1:
//    atol 8U * (1 + max(H, W)). dx sums up to (SH + 1) * (SW + 1) weighted terms, each carrying that
//    weight error: atol 8U * (1 + max(H, W)) per term.
const nearestBwd = (SH: number, SW: number): Tol => ({ atol: 2 * U * SH * SW, rtol: 0 });
const bilinearFwd = (H: number, W: number): Tol => ({ atol: 8 * U * (1 + Math.max(H, W)), rtol: 0 });
const bilinearBwd = (H: number, W: number, SH: number, SW: number): Tol => ({
  atol: 8 * U * (1 + Math.max(H, W)) * (SH + 1) * (SW + 1),
  rtol: 0,
});

const CASES: Array<[number[], [number, number]]> = [
  [
    [1, 1, 1, 1],
    [2, 2],
  ],
  [
    [2, 3, 4, 3],
    [2, 2],
  ],
  [
    [1, 4, 3, 5],
    [3, 2],
  ],
  [
    [3, 2, 5, 8],
    [1, 3],
  ],
  [
    [2, 5, 5, 4],
    [4, 4],
  ],
];

describe('resize', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const mode of ['nearest', 'bilinear'] as const) {
    for (const [shape, [SH, SW]] of CASES) {
      const [N, H, W, C] = shape as [number, number, number, number];
      const name = `upSampling2d ${mode} x=[${shape}] size=[${SH},${SW}]`;
      it(name, () => {
        const x = rand(makeRng(seedOf(name)), prod(shape));
        // The analytic backward is the oracle (checked against finite differences below).
        checkOp(name, {
          shapes: [shape],
          inputs: [x],
          outShape: [N, H * SH, W * SW, C],
          ref: ([v]) => upsample(v!, N, H, W, C, SH, SW, mode),
          op: ([t]) => sn.upSampling2d(t!, [SH, SW], mode),
          tol: mode === 'nearest' ? EXACT : bilinearFwd(H, W),
          gradTol: mode === 'nearest' ? nearestBwd(SH, SW) : bilinearBwd(H, W, SH, SW),
          grad: (r) => [upsampleBackward(r, N, H, W, C, SH, SW, mode)],
        });
      });
    }
  }

  it('bilinear with size 2 gives the half-pixel weights 3/4 and 1/4 (not the corner-aligned ones)', () => {
    const x = sn.tensor([0, 4, 8], [1, 1, 3, 1]);
    const y = sn.upSampling2d(x, [1, 2], 'bilinear');
    // sources -0.25 (clamped to 0), 0.25, 0.75, 1.25, 1.75, 2.25 (last row clamped to column 2)
    expect(Array.from(y.dataSync())).toEqual([0, 1, 3, 5, 7, 8]);
    x.dispose();
    y.dispose();
  });

  it('reference gradients match finite differences', () => {
    for (const mode of ['nearest', 'bilinear'] as const) {
      const x = Float64Array.from(makeRng(3).fill(2 * 3 * 4 * 2, -1, 1));
      fdCheck(
        `ref ${mode}`,
        (v) => upsample(v, 2, 3, 4, 2, 3, 2, mode),
        (dy) => upsampleBackward(dy, 2, 3, 4, 2, 3, 2, mode),
        x,
        2 * 9 * 8 * 2,
      );
    }
  });

  it('raw kernels keep guard words; backward ACCUMULATES into dinp', () => {
    const k = sn.getEngine().k;
    const [N, H, W, C, SH, SW] = [2, 3, 4, 6, 2, 3];
    const OH = H * SH,
      OW = W * SW;
    const rng = makeRng(11);
    const x = rand(rng, N * H * W * C),
      dout = rand(rng, N * OH * OW * C),
      dinp0 = rand(rng, x.length);
    const g = geomPtr({ H, W, C, K: C, KH: 1, KW: 1, SH, SW, PT: 0, PL: 0, OH, OW });
    for (const mode of ['nearest', 'bilinear'] as const) {
      const fwd = mode === 'nearest' ? k.resize_nearest_forward : k.resize_bilinear_forward;
      const bwd = mode === 'nearest' ? k.resize_nearest_backward : k.resize_bilinear_backward;
      // The output starts as NaN, so an element the kernel does not write shows.
      const [y] = rawRun(`${mode} fwd`, [x], [nans(N * OH * OW * C)], ([px], [po]) => fwd(po!, px!, g, N));
      const ft = mode === 'nearest' ? EXACT : bilinearFwd(H, W);
      expect(y!.some(Number.isNaN)).toBe(false);
      const want = upsample(x, N, H, W, C, SH, SW, mode);
      for (let i = 0; i < want.length; i++) expect(Math.abs(y![i]! - want[i]!)).toBeLessThanOrEqual(ft.atol);
      const [dx] = rawRun(`${mode} bwd`, [dout], [dinp0], ([pd], [pdx]) => bwd(pdx!, pd!, g, N));
      const wantDx = upsampleBackward(dout, N, H, W, C, SH, SW, mode).map((v, i) => v + dinp0[i]!);
      const bt = bilinearBwd(H, W, SH, SW).atol + 2 * U;
      for (let i = 0; i < wantDx.length; i++) expect(Math.abs(dx![i]! - wantDx[i]!)).toBeLessThanOrEqual(bt);
    }
    adv.getArena().release(g);
  });

  // Only the threads build has a thread count to vary.
  it.runIf(build === 'threads')(
    'nearest and bilinear forward and dx have the same bits at 1, 2 and 4 threads',
    async () => {
      const shape = [9, 5, 4, 7];
      const rng = makeRng(5);
      const xd = rand(rng, prod(shape)),
        rd = rand(rng, 9 * 15 * 8 * 7);
      await sameBitsAcrossThreads(() => {
        const out: Float32Array[] = [];
        for (const mode of ['nearest', 'bilinear'] as const) {
          const x = sn.tensor(xd, shape),
            r = sn.tensor(rd, [9, 15, 8, 7]);
          const y = sn.upSampling2d(x, [3, 2], mode);
          const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(sn.upSampling2d(t!, [3, 2], mode), r)))([x]);
          out.push(...[y, grads[0]!].map((t) => t.dataSync() as Float32Array));
          for (const t of [x, r, y, value, ...grads]) t.dispose();
        }
        return out;
      });
    },
  );
});
