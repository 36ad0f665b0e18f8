// Image augmentation over assembly/kernels/augment.ts: a per-image affine resampling (TF's
// ImageProjectiveTransformV3, behind tf.keras' RandomTranslation / RandomRotation / RandomZoom) and a
// per-image contrast change (RandomContrast). Images are independent: one task per fixed batch shard,
// so any number of threads gives the same bits. Neither op has a gradient (Keras does not
// differentiate through augmentation; its input is data), so an input that needs one is an error.
import { Tensor } from '../tensor.js';
import { needsGrad } from '../autograd.js';
import { getArena } from '../wasm/arena.js';
import { expectTensor, runTasks, shardRanges, withGeometry } from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { show } from '../show.js';

/** How {@link affineTransform} reads points outside the image (Keras `fill_mode`). */
export type FillMode = 'constant' | 'nearest' | 'reflect' | 'wrap';
/** How {@link affineTransform} samples between pixels (Keras `interpolation`). */
export type AugmentInterpolation = 'bilinear' | 'nearest';

export const FILL_MODES: readonly FillMode[] = ['constant', 'nearest', 'reflect', 'wrap'];
export const AUGMENT_INTERPOLATIONS: readonly AugmentInterpolation[] = ['bilinear', 'nearest'];

/** Options of {@link affineTransform}. */
export interface AffineTransformOptions {
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: AugmentInterpolation;
  /**
   * Points outside the image: 'constant' reads `fillValue`, 'nearest' the closest edge pixel,
   * 'reflect' mirrors about the edge (d c b a | a b c d | d c b a), 'wrap' tiles. Default 'reflect' (Keras).
   */
  fillMode?: FillMode;
  /** Value read outside the image with fillMode 'constant' (default 0). */
  fillValue?: number;
  /** Name for error messages. */
  name?: string;
}

function geometryOf(x: Tensor): Geometry2d {
  const [, H, W, C] = x.shape;
  return { H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH: H, OW: W, DH: 1, DW: 1, G: 1 };
}

function noGradient(x: Tensor, what: string): void {
  if (needsGrad(x)) {
    throw new Error(
      `${what}: has no gradient (augmentation takes data, as in Keras); put augmentation layers before any layer with weights`,
    );
  }
}

/**
 * Resamples each image of x (N, H, W, C) by its own affine map, as TF's ImageProjectiveTransformV3:
 * `matrices` holds 6 numbers per image, [a0, a1, a2, b0, b1, b2], mapping the output pixel (x, y)
 * (column, row) to the source point (a0 x + a1 y + a2, b0 x + b1 y + b2), computed in float32.
 * Not differentiable (data augmentation).
 * @throws when x is not rank 4, matrices is not 6 finite numbers per image, or an option is unknown
 */
export function affineTransform(x: Tensor, matrices: ArrayLike<number>, opts: AffineTransformOptions = {}): Tensor {
  const name = opts.name ?? 'affineTransform';
  expectTensor(x, 4, name, 'input x (N, H, W, C)');
  noGradient(x, name);
  const interpolation = opts.interpolation ?? 'bilinear';
  const fillMode = opts.fillMode ?? 'reflect';
  const fillValue = opts.fillValue ?? 0;
  if (!AUGMENT_INTERPOLATIONS.includes(interpolation))
    throw new Error(`${name}: interpolation must be 'bilinear' or 'nearest', got ${show(interpolation)}`);
  if (!FILL_MODES.includes(fillMode))
    throw new Error(
      `${name}: fillMode must be one of ${FILL_MODES.map((m) => `'${m}'`).join(', ')}, got ${show(fillMode)}`,
    );
  if (typeof fillValue !== 'number' || !Number.isFinite(fillValue))
    throw new Error(`${name}: fillValue must be a finite number, got ${show(fillValue)}`);
  const N = x.shape[0];
  if (!matrices || typeof matrices.length !== 'number' || matrices.length !== N * 6)
    throw new Error(
      `${name}: matrices must hold 6 numbers per image (${N * 6} for ${N} images), got ${matrices?.length}`,
    );
  const m = Float32Array.from(matrices);
  const bad = m.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${name}: matrix of image ${Math.floor(bad / 6)} has ${matrices[bad]} at ${bad % 6}`);
  const flags = (interpolation === 'bilinear' ? 1 : 0) | (FILL_MODES.indexOf(fillMode) << 1);
  const out = new Tensor(x.shape);
  const img = (x.size / Math.max(1, N)) * 4;
  const arena = getArena();
  const mp = arena.alloc(Math.max(1, m.length) * 4);
  try {
    arena.f32().set(m, mp >>> 2);
    withGeometry(geometryOf(x), (geom) =>
      runTasks(
        shardRanges(N).map(
          ([n0, nc]): Task => [
            'augment_affine',
            out.ptr + n0 * img,
            x.ptr + n0 * img,
            mp + n0 * 24,
            geom,
            nc,
            flags,
            fillValue,
          ],
        ),
      ),
    );
  } finally {
    arena.release(mp);
  }
  return out;
}

/**
 * Per-image contrast, as Keras RandomContrast: for image n and each channel,
 * `clamp((x - mean) * factors[n] + mean, lo, hi)`, the mean over height and width (float32 sums).
 * Not differentiable (data augmentation).
 * @throws when x is not rank 4, factors is not one finite number per image, or the range is not lo < hi
 */
export function adjustContrast(
  x: Tensor,
  factors: ArrayLike<number>,
  valueRange: [number, number] = [0, 255],
  name = 'adjustContrast',
): Tensor {
  expectTensor(x, 4, name, 'input x (N, H, W, C)');
  noGradient(x, name);
  const N = x.shape[0];
  if (!factors || factors.length !== N)
    throw new Error(`${name}: factors must hold one number per image (${N}), got ${factors?.length}`);
  const f = Float32Array.from(factors);
  const bad = f.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${name}: factor of image ${bad} is ${factors[bad]}`);
  const [lo, hi] = Array.isArray(valueRange) ? valueRange : [NaN, NaN];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi))
    throw new Error(`${name}: valueRange must be [lo, hi] with finite lo < hi, got ${show(valueRange)}`);
  const out = new Tensor(x.shape);
  const img = (x.size / Math.max(1, N)) * 4;
  const arena = getArena();
  const fp = arena.alloc(Math.max(1, f.length) * 4);
  try {
    arena.f32().set(f, fp >>> 2);
    withGeometry(geometryOf(x), (geom) =>
      runTasks(
        shardRanges(N).map(
          ([n0, nc]): Task => ['augment_contrast', out.ptr + n0 * img, x.ptr + n0 * img, fp + n0 * 4, geom, nc, lo, hi],
        ),
      ),
    );
  } finally {
    arena.release(fp);
  }
  return out;
}
