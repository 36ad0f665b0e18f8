// The augmentation kernels (per-image affine resampling and contrast of NHWC images) raw and through
// the ops, against test/ref/augment.ts: every fill mode and interpolation, channel counts on and off
// the SIMD width, raw kernels with guard words, bits at 1, 2 and 4 threads, bits against the other
// build (argument errors: test/ops/errors.test.ts).
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { affineRef, contrastRef, type FillModeRef } from '../ref/augment.js';
import {
  build,
  close,
  EXACT,
  firstBitDiff,
  geomPtr,
  otherRuns,
  requireOther,
  nans,
  otherAlloc,
  otherGeom,
  otherRead,
  prod,
  rand,
  rawRun,
  sameBitsAcrossThreads,
  seedOf,
  type Tol,
  U,
} from './harness.js';

// Tolerances, values in [-1, 1]: the source points are computed in f32 by both sides, so only the
// interpolation differs: nearest is a copy (exact); bilinear is 6 f32 products and 3 sums of terms
// <= 1 with f32 weights (each within U of the f64 ones): atol 8U. Contrast: the channel mean is an
// f32 sum of P terms (error <= 4 U P in the sum, so 4U in the mean, see harness.ts), scaled by up to
// |f| + 1 <= 3, plus three f32 operations: atol 16U.
const BILINEAR: Tol = { atol: 8 * U, rtol: 0 };
const CONTRAST: Tol = { atol: 16 * U, rtol: 0 };
const MODES: FillModeRef[] = ['constant', 'nearest', 'reflect', 'wrap'];

// n random affine maps: rotation up to ~1 rad, scale 0.6..1.6, shift up to a third of the image, so
// source points fall inside and outside the image (every fill branch runs).
function randomMats(rng: Rng, n: number, H: number, W: number): Float32Array {
  const m = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) {
    const a = rng.uniform(-1, 1),
      sx = rng.uniform(0.6, 1.6),
      sy = rng.uniform(0.6, 1.6);
    const c = Math.cos(a),
      s = Math.sin(a);
    m.set([c * sx, -s * sy, rng.uniform(-W / 3, W / 3) + W / 4, s * sx, c * sy, rng.uniform(-H / 3, H / 3)], i * 6);
  }
  return m;
}

const SHAPES = [
  [1, 1, 1, 1],
  [2, 5, 7, 1],
  [3, 6, 4, 3],
  [2, 4, 5, 4],
  [2, 7, 6, 6],
];

describe('augment', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const shape of SHAPES) {
    const [N, H, W, C] = shape as [number, number, number, number];
    for (const interpolation of ['bilinear', 'nearest'] as const) {
      it(`affineTransform ${interpolation} x=[${shape}], every fill mode`, () => {
        const name = `affine ${interpolation} ${shape}`;
        const rng = makeRng(seedOf(name));
        const xd = rand(rng, prod(shape));
        const mats = randomMats(rng, N, H, W);
        const x = sn.tensor(xd, shape);
        for (const mode of MODES) {
          const fill = mode === 'constant' ? 0.375 : 0;
          const y = sn.affineTransform(x, mats, { interpolation, fillMode: mode, fillValue: fill });
          expect(y.shape).toEqual(shape);
          const want = affineRef(xd, mats, N, H, W, C, interpolation, mode, fill);
          close(y.dataSync(), want, interpolation === 'nearest' ? EXACT : BILINEAR, `${name} ${mode}`);
          y.dispose();
        }
        x.dispose();
      });
    }
  }

  it('identity matrices copy the image; an integer shift moves it and fills the rest', () => {
    const [N, H, W, C] = [2, 5, 6, 3];
    const xd = rand(makeRng(7), N * H * W * C);
    const x = sn.tensor(xd, [N, H, W, C]);
    const id = sn.affineTransform(x, [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
    expect(firstBitDiff(id.dataSync() as Float32Array, xd)).toBe('identical');
    // Image 0 moves 2 right and 1 up: out(y, x) = in(y + 1, x - 2); image 1 stays.
    const sh = sn.affineTransform(x, [1, 0, -2, 0, 1, 1, 1, 0, 0, 0, 1, 0], { fillMode: 'constant', fillValue: -5 });
    const got = sh.dataSync();
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < C; c++) {
          const inside = y + 1 < H && xx - 2 >= 0;
          const want = inside ? xd[((y + 1) * W + xx - 2) * C + c] : -5;
          expect(got[(y * W + xx) * C + c]).toBe(want);
        }
    expect(Array.from(got.slice(H * W * C))).toEqual(Array.from(xd.slice(H * W * C)));
    for (const t of [x, id, sh]) t.dispose();
  });

  it('fill modes read the mirrored, tiled, edge or fill pixels; nearest rounds half away from zero', () => {
    const x = sn.tensor([1, 2, 3, 4], [1, 1, 4, 1]);
    const run = (fillMode: sn.FillMode, dx: number) =>
      Array.from(sn.affineTransform(x, [1, 0, -dx, 0, 1, 0], { fillMode, interpolation: 'nearest' }).dataSync());
    expect(run('reflect', 2)).toEqual([2, 1, 1, 2]);
    expect(run('reflect', -2)).toEqual([3, 4, 4, 3]);
    expect(run('wrap', 2)).toEqual([3, 4, 1, 2]);
    expect(run('nearest', 2)).toEqual([1, 1, 1, 2]);
    expect(run('constant', 2)).toEqual([0, 0, 1, 2]);
    // Half-pixel shift: sources -0.5, 0.5, 1.5, 2.5 round away from zero (std::round) to -1, 1, 2, 3.
    expect(run('constant', 0.5)).toEqual([0, 2, 3, 4]);
    x.dispose();
  });

  for (const shape of [
    [1, 1, 1, 1],
    [3, 5, 4, 1],
    [2, 6, 3, 4],
    [2, 3, 7, 7],
  ]) {
    it(`adjustContrast x=[${shape}] with clipping`, () => {
      const [N, H, W, C] = shape as [number, number, number, number];
      const rng = makeRng(seedOf(`contrast ${shape}`));
      const xd = rand(rng, prod(shape), 0, 1);
      const factors = Float32Array.from({ length: N }, () => rng.uniform(0, 2));
      const x = sn.tensor(xd, shape);
      for (const [lo, hi] of [
        [0, 1],
        [0.25, 0.75],
      ] as const) {
        const y = sn.adjustContrast(x, factors, [lo, hi]);
        close(y.dataSync(), contrastRef(xd, factors, N, H, W, C, lo, hi), CONTRAST, `contrast ${shape} [${lo}, ${hi}]`);
        y.dispose();
      }
      x.dispose();
    });
  }

  it('raw kernels write every output element and keep guard words', () => {
    const k = sn.getEngine().k;
    const [N, H, W, C] = [3, 5, 6, 5];
    const rng = makeRng(11);
    const x = rand(rng, N * H * W * C);
    const mats = randomMats(rng, N, H, W);
    const factors = Float32Array.from([0.5, 1.5, 1]);
    const g = geomPtr({ H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH: H, OW: W });
    for (const flags of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const [y] = rawRun(`affine flags ${flags}`, [x, mats], [nans(x.length)], ([px, pm], [po]) =>
        k.augment_affine(po!, px!, pm!, g, N, flags, 0.5),
      );
      expect(y!.some(Number.isNaN)).toBe(false);
    }
    const [yc] = rawRun('contrast', [x, factors], [nans(x.length)], ([px, pf], [po]) =>
      k.augment_contrast(po!, px!, pf!, g, N, -1, 1),
    );
    close(yc!, contrastRef(x, factors, N, H, W, C, -1, 1), { atol: 32 * U, rtol: 0 }, 'raw contrast');
    adv.getArena().release(g);
  });

  // Skipped where this engine cannot validate the other build (no SIMD).
  it.skipIf(!otherRuns)('the other build gives the same bits', async () => {
    const o = await requireOther();
    const [N, H, W, C] = [2, 6, 5, 6];
    const rng = makeRng(21);
    const x = rand(rng, N * H * W * C);
    const mats = randomMats(rng, N, H, W);
    const geo = { H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH: H, OW: W };
    const og = otherGeom(o, geo);
    const ox = otherAlloc(o, x.length, x),
      om = otherAlloc(o, mats.length, mats),
      of = otherAlloc(o, N, [0.5, 1.75]);
    const xt = sn.tensor(x, [N, H, W, C]);
    for (const [interpolation, fillMode] of [
      ['bilinear', 'reflect'],
      ['bilinear', 'constant'],
      ['nearest', 'wrap'],
    ] as const) {
      const flags = (interpolation === 'bilinear' ? 1 : 0) | (MODES.indexOf(fillMode) << 1);
      const oo = otherAlloc(o, x.length);
      o.k.augment_affine(oo, ox, om, og, N, flags, 0.25);
      const y = sn.affineTransform(xt, mats, { interpolation, fillMode, fillValue: 0.25 });
      expect(
        firstBitDiff(y.dataSync() as Float32Array, otherRead(o, oo, x.length)),
        `${interpolation} ${fillMode}`,
      ).toBe('identical');
      y.dispose();
    }
    const oc = otherAlloc(o, x.length);
    o.k.augment_contrast(oc, ox, of, og, N, -0.5, 0.5);
    const yc = sn.adjustContrast(xt, [0.5, 1.75], [-0.5, 0.5]);
    expect(firstBitDiff(yc.dataSync() as Float32Array, otherRead(o, oc, x.length)), 'contrast').toBe('identical');
    yc.dispose();
    xt.dispose();
  });

  // Only the threads build has a thread count to vary.
  it.runIf(build === 'threads')('affine and contrast have the same bits at 1, 2 and 4 threads', async () => {
    const shape = [9, 8, 7, 5];
    const rng = makeRng(5);
    const xd = rand(rng, prod(shape));
    const mats = randomMats(rng, 9, 8, 7);
    const factors = Float32Array.from({ length: 9 }, () => rng.uniform(0, 2));
    await sameBitsAcrossThreads(() => {
      const x = sn.tensor(xd, shape);
      const ys = [
        sn.affineTransform(x, mats),
        sn.affineTransform(x, mats, { interpolation: 'nearest', fillMode: 'constant' }),
        sn.adjustContrast(x, factors, [-1, 1]),
      ];
      const out = ys.map((t) => t.dataSync() as Float32Array);
      for (const t of [x, ...ys]) t.dispose();
      return out;
    });
  });
});
