// upSampling2d over assembly/kernels/resize.ts: nearest (each pixel repeated) or bilinear with TF's
// half-pixel centers (tf.image.resize, as tf.keras UpSampling2D). Images are independent: one task
// per fixed batch shard for forward and backward, so any number of threads gives the same bits.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { pair } from '../geom.js';
import { expectTensor, runTasks, shardRanges, withGeometry } from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { show } from '../show.js';

/** Interpolations of {@link upSampling2d}. */
export type Interpolation = 'nearest' | 'bilinear';

/**
 * Upsampling of NHWC images by integer factors, as Keras UpSampling2D: (N, H, W, C) ->
 * (N, H * size[0], W * size[1], C). 'bilinear' is TF's resize with half-pixel centers (note that
 * tfjs-layers' UpSampling2D uses tfjs' default, without half-pixel centers, and so differs).
 */
export function upSampling2d(
  x: Tensor,
  size: number | [number, number] = 2,
  interpolation: Interpolation = 'nearest',
  name = 'upSampling2d',
): Tensor {
  expectTensor(x, 4, name, 'input x (N, H, W, C)');
  const [SH, SW] = pair(size, name, 'size');
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
    throw new Error(`${name}: interpolation must be 'nearest' or 'bilinear', got ${show(interpolation)}`);
  }
  const [N, H, W, C] = x.shape;
  const OH = H * SH,
    OW = W * SW;
  const geo: Geometry2d = { H, W, C, K: C, KH: 1, KW: 1, SH, SW, PT: 0, PL: 0, OH, OW, DH: 1, DW: 1, G: 1 };
  const fwd = interpolation === 'nearest' ? 'resize_nearest_forward' : 'resize_bilinear_forward';
  const bwd = interpolation === 'nearest' ? 'resize_nearest_backward' : 'resize_bilinear_backward';
  const out = new Tensor([N, OH, OW, C]);
  const shards = shardRanges(N);
  const inImg = H * W * C * 4,
    outImg = OH * OW * C * 4;
  withGeometry(geo, (geom) =>
    runTasks(shards.map(([n0, nc]): Task => [fwd, out.ptr + n0 * outImg, x.ptr + n0 * inImg, geom, nc])),
  );
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) {
      withGeometry(geo, (geom) =>
        runTasks(shards.map(([n0, nc]): Task => [bwd, gx + n0 * inImg, dy.ptr + n0 * outImg, geom, nc])),
      );
    }
  });
  return out;
}
