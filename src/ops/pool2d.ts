// maxPool2d / avgPool2d: geometry and checks, then assembly/kernels/pool2d.ts; records backward.
// x (N, H, W, C) -> out (N, OH, OW, C); the global ones x (N, H, W, C) -> out (N, C).
// Max pooling saves the argmax (int32, index into its shard of x; see maxPool2d).
import { Tensor, uninitialized } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { type Padding, pair, windowGeometry } from '../geom.js';
import { expectFinite, expectTensor, k, runTasks, shardRanges, withGeometry, withScratch } from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';

/** Options of {@link maxPool2d} and {@link avgPool2d} (Keras names). */
export interface Pool2dOptions {
  /** Window as n or [rows, cols]; default 2. */
  poolSize?: number | [number, number];
  /** Default: the pool size (Keras). */
  strides?: number | [number, number];
  /** 'valid' (default), 'same', pixels, or [[top, bottom], [left, right]]; each side < window. */
  padding?: Padding;
  name?: string;
  /** @internal */
  skipFiniteCheck?: boolean;
}

function geometry(x: Tensor, opts: Pool2dOptions, what: string) {
  expectTensor(x, 4, what, 'input x (N, H, W, C)');
  const [N, H, W, C] = x.shape;
  const [KH, KW] = pair(opts.poolSize ?? 2, what, 'poolSize');
  const [SH, SW] = pair(opts.strides ?? opts.poolSize ?? 2, what, 'strides');
  const g = windowGeometry(what, H, W, KH, KW, SH, SW, opts.padding ?? 'valid');
  const { top, bottom, left, right } = g.pad;
  // A window lying entirely in the padding would have no pixel to pool.
  if (top >= KH || bottom >= KH || left >= KW || right >= KW) {
    throw new Error(
      `${what}: padding [[${top},${bottom}],[${left},${right}]] must be smaller than the ${KH}x${KW} window on every side`,
    );
  }
  if (!opts.skipFiniteCheck) expectFinite(x, what, 'input x');
  const geo: Geometry2d = { H, W, C, K: C, KH, KW, SH, SW, PT: top, PL: left, OH: g.OH, OW: g.OW, DH: 1, DW: 1, G: 1 };
  return { N, H, W, C, OH: g.OH, OW: g.OW, geo };
}

/** Max pooling over NHWC windows, as tf.maxPool / Keras MaxPooling2D. */
export function maxPool2d(x: Tensor, opts: Pool2dOptions = {}): Tensor {
  const what = opts.name ?? 'maxPool2d';
  const { N, H, W, C, OH, OW, geo } = geometry(x, opts, what);
  const out = uninitialized([N, OH, OW, C]); // every output (and argmax) is stored: no zero fill
  // Images are independent: one task per shard, argmax indices relative to the shard's first image
  // (the backward below uses the same shards, so the indices line up).
  const shards = shardRanges(N);
  const inImg = H * W * C * 4,
    outImg = OH * OW * C * 4;
  const run = (argmax: number) =>
    withGeometry(geo, (geom) =>
      runTasks(
        shards.map(
          ([n0, nc]): Task => [
            'maxpool2d_forward',
            out.ptr + n0 * outImg,
            argmax + n0 * outImg,
            x.ptr + n0 * inImg,
            geom,
            nc,
          ],
        ),
        out.size * geo.KH * geo.KW,
      ),
    );
  if (!needsGrad(x)) {
    withScratch([out.size], run, false);
    return out;
  }
  const argmax = new Tensor(out.shape, 'int32', false);
  run(argmax.ptr);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) {
      runTasks(
        shards.map(
          ([n0, nc]): Task => [
            'maxpool2d_backward',
            gx + n0 * inImg,
            dy.ptr + n0 * outImg,
            argmax.ptr + n0 * outImg,
            nc * OH * OW * C,
          ],
        ),
      );
    }
  });
  return out;
}

/** Average pooling; the divisor counts only in-bounds pixels (Keras / TF). */
export function avgPool2d(x: Tensor, opts: Pool2dOptions = {}): Tensor {
  const what = opts.name ?? 'avgPool2d';
  const { N, C, OH, OW, geo } = geometry(x, opts, what);
  const kx = k();
  const out = new Tensor([N, OH, OW, C]);
  withGeometry(geo, (geom) => kx.avgpool2d_forward(out.ptr, x.ptr, geom, N));
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) withGeometry(geo, (geom) => kx.avgpool2d_backward(gx, dy.ptr, geom, N));
  });
  return out;
}

function globalGeometry(x: Tensor, what: string, skipFiniteCheck?: boolean) {
  expectTensor(x, 4, what, 'input x (N, H, W, C)');
  const [N, H, W, C] = x.shape;
  if (H * W < 1) throw new Error(`${what}: the input has no pixels (shape [${x.shape}])`);
  if (!skipFiniteCheck) expectFinite(x, what, 'input x');
  return { N, HW: H * W, C };
}

/** Mean over height and width, as Keras GlobalAveragePooling2D: (N, H, W, C) -> (N, C). */
export function globalAvgPool2d(x: Tensor, opts: { name?: string; skipFiniteCheck?: boolean } = {}): Tensor {
  const what = opts.name ?? 'globalAvgPool2d';
  const { N, HW, C } = globalGeometry(x, what, opts.skipFiniteCheck);
  const kx = k();
  const out = new Tensor([N, C]);
  kx.global_avgpool2d_forward(out.ptr, x.ptr, N, HW, C);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.global_avgpool2d_backward(gx, dy.ptr, N, HW, C);
  });
  return out;
}

/** Max over height and width, as Keras GlobalMaxPooling2D: (N, H, W, C) -> (N, C); first max wins. */
export function globalMaxPool2d(x: Tensor, opts: { name?: string; skipFiniteCheck?: boolean } = {}): Tensor {
  const what = opts.name ?? 'globalMaxPool2d';
  const { N, HW, C } = globalGeometry(x, what, opts.skipFiniteCheck);
  const kx = k();
  const out = new Tensor([N, C]);
  if (!needsGrad(x)) {
    withScratch([out.size], (argmax) => kx.global_maxpool2d_forward(out.ptr, argmax, x.ptr, N, HW, C));
    return out;
  }
  const argmax = new Tensor(out.shape, 'int32');
  kx.global_maxpool2d_forward(out.ptr, argmax.ptr, x.ptr, N, HW, C);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.maxpool2d_backward(gx, dy.ptr, argmax.ptr, out.size);
  });
  return out;
}
