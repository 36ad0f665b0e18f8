// zeroPadding2d / cropping2d over assembly/kernels/pad2d.ts: one shifted copy (x (N, H, W, C) into
// out (N, OH, OW, C) at offset (top, left), zero outside x; cropping is a negative offset), whose
// backward is the opposite copy of dy. Images are independent: one task per fixed batch shard, so
// any number of threads gives the same bits.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { expectTensor, runTasks, shardRanges, withGeometry } from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { show } from '../show.js';

/** Pixels per side of a 2-D image: [[top, bottom], [left, right]]. */
export type Sides2d = [[number, number], [number, number]];

/**
 * Keras' forms of per-side sizes: n (all sides), [rows, cols] (symmetric: top = bottom = rows,
 * left = right = cols) or [[top, bottom], [left, right]]; every value a non-negative integer.
 */
export function sides2d(v: unknown, what: string, name: string): Sides2d {
  const bad = () =>
    new Error(
      `${what}: ${name} must be a non-negative integer, [rows, cols] or ` +
        `[[top, bottom], [left, right]] of non-negative integers, got ${show(v)}`,
    );
  const int = (d: unknown): number => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw bad();
    return d;
  };
  if (typeof v === 'number') {
    const p = int(v);
    return [
      [p, p],
      [p, p],
    ];
  }
  if (!Array.isArray(v) || v.length !== 2) throw bad();
  if (Array.isArray(v[0]) && Array.isArray(v[1]) && v[0].length === 2 && v[1].length === 2) {
    return [
      [int(v[0][0]), int(v[0][1])],
      [int(v[1][0]), int(v[1][1])],
    ];
  }
  if (Array.isArray(v[0]) || Array.isArray(v[1])) throw bad();
  const h = int(v[0]),
    w = int(v[1]);
  return [
    [h, h],
    [w, w],
  ];
}

// out (N, OH, OW, C) = x shifted by (PT, PL); the backward adds the same window of dy into dx.
function shiftCopy(x: Tensor, OH: number, OW: number, PT: number, PL: number): Tensor {
  const [N, H, W, C] = x.shape;
  const geo: Geometry2d = { H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH, OW, DH: 1, DW: 1, G: 1 };
  const out = new Tensor([N, OH, OW, C]);
  const shards = shardRanges(N);
  const inImg = H * W * C * 4,
    outImg = OH * OW * C * 4;
  withGeometry(geo, (geom) =>
    runTasks(
      shards.map(([n0, nc]): Task => ['pad2d_forward', out.ptr + n0 * outImg, x.ptr + n0 * inImg, geom, nc, PT, PL]),
    ),
  );
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) {
      withGeometry(geo, (geom) =>
        runTasks(
          shards.map(([n0, nc]): Task => ['pad2d_backward', gx + n0 * inImg, dy.ptr + n0 * outImg, geom, nc, PT, PL]),
        ),
      );
    }
  });
  return out;
}

/** Zero padding of NHWC images, as Keras ZeroPadding2D: (N, H, W, C) -> (N, H + top + bottom, W + left + right, C). */
export function zeroPadding2d(x: Tensor, padding: unknown = 1, name = 'zeroPadding2d'): Tensor {
  expectTensor(x, 4, name, 'input x (N, H, W, C)');
  const [[t, b], [l, r]] = sides2d(padding, name, 'padding');
  return shiftCopy(x, x.shape[1] + t + b, x.shape[2] + l + r, t, l);
}

/** Cropping of NHWC images, as Keras Cropping2D: (N, H, W, C) -> (N, H - top - bottom, W - left - right, C). */
export function cropping2d(x: Tensor, cropping: unknown = 0, name = 'cropping2d'): Tensor {
  expectTensor(x, 4, name, 'input x (N, H, W, C)');
  const [[t, b], [l, r]] = sides2d(cropping, name, 'cropping');
  const [, H, W] = x.shape;
  if (t + b >= H || l + r >= W) {
    throw new Error(
      `${name}: cropping [[${t},${b}],[${l},${r}]] leaves nothing of a ${H}x${W} input (shape [${x.shape}])`,
    );
  }
  return shiftCopy(x, H - t - b, W - l - r, -t, -l);
}
