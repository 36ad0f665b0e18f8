// Running kernels over the fixed shards of a batch, and the sharded drivers of the conv2d kernels that
// conv2d, conv2dTranspose and the Winograd fallback share. A module of its own so that conv2d.ts and
// winograd.ts (which import each other's pieces) can both use it without an import cycle.
import { k, runTasks, shardRanges, withGeometry, withScratch } from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';

/** A shard of a batch: [first item, item count]. */
export type Shard = [number, number];

/**
 * Runs one task per shard, each shard with its own scratch buffers of `perShard` floats (zeroed unless
 * `zero` is false), then `done` (still inside the scratch's lifetime) with every shard's buffers in
 * shard order.
 */
export function runShards(
  shards: Shard[],
  perShard: number[],
  task: (shard: Shard, bufs: number[], i: number) => Task,
  done?: (bufs: number[][]) => void,
  zero = true,
  work = Number.POSITIVE_INFINITY,
): void {
  const n = perShard.length;
  withScratch(
    shards.flatMap(() => perShard),
    (...scratch) => {
      const bufs = shards.map((_, i) => scratch.slice(n * i, n * i + n));
      runTasks(
        shards.map((s, i) => task(s, bufs[i]!, i)),
        work,
      );
      done?.(bufs);
    },
    zero,
  );
}

/**
 * Adds every shard's partial sums into their targets in shard order: target j (a pointer, 0 to skip)
 * gets buffer j of each shard, `sizes[j]` floats. The fixed order keeps the bits thread-count independent.
 */
export function addShardSums(into: number[], sizes: number[], bufs: number[][]): void {
  const kx = k();
  for (const b of bufs) {
    into.forEach((dst, j) => {
      if (dst) kx.add_into(dst, b[j]!, sizes[j]!);
    });
  }
}

/**
 * Each of N images cut into `parts` ranges of its M outputs (rows or pixels): [image, start, end] of
 * every non-empty range, for batches too small to fill the shards. Outputs are computed on their own,
 * so the cut does not change the bits.
 */
export function imageParts(N: number, M: number, parts: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < parts; p++) {
      const m0 = Math.floor((M * p) / parts),
        m1 = Math.floor((M * (p + 1)) / parts);
      if (m1 > m0) out.push([n, m0, m1]);
    }
  }
  return out;
}

/** Output pixels per im2col block: the block (MB, KK) is kept around `floats` floats so it stays in cache. */
export function blockRows(KK: number, M: number, floats = 32768): number {
  const mb = Math.max(4, Math.floor(floats / KK / 4) * 4);
  return Math.min(mb, M);
}

// Bytes of one image of the convolution's input and of its output.
function imageBytes(geo: Geometry2d): [number, number] {
  return [geo.H * geo.W * geo.C * 4, geo.OH * geo.OW * geo.K * 4];
}

// One task per shard of whole images of the convolution `geo`, each with its own packed weights
// (`packN` floats) and im2col block (MB rows); `task` gets the shard's byte offsets into the
// convolution's input and output. Both buffers are written whole by the kernels before they are read,
// so they are not zeroed.
function imageTasks(
  geo: Geometry2d,
  N: number,
  MB: number,
  packN: number,
  task: (inOff: number, outOff: number, nc: number, pack: number, col: number, geom: number) => Task,
): void {
  const KK = geo.KH * geo.KW * (geo.C / geo.G);
  const [inImg, outImg] = imageBytes(geo);
  withGeometry(geo, (geom) =>
    runShards(
      shardRanges(N),
      [packN, MB * KK],
      ([n0, nc], [pack, col]) => task(n0 * inImg, n0 * outImg, nc, pack!, col!, geom),
      undefined,
      false,
      N * geo.OH * geo.OW * geo.K * KK,
    ),
  );
}

/**
 * dx (+)= the input gradient of the convolution `geo` for dy, on conv2d_backward_input: images are
 * independent, so each shard scatters into its own slice of dx. `weight` is (KH, KW, C/G, K).
 */
export function conv2dInputGrad(gx: number, dy: number, weight: number, geo: Geometry2d, N: number, MB: number): void {
  const packN = geo.G * k().pack_b_size(geo.K / geo.G, geo.KH * geo.KW * (geo.C / geo.G));
  imageTasks(geo, N, MB, packN, (inOff, outOff, nc, pack, col, geom) => [
    'conv2d_backward_input',
    gx + inOff,
    dy + outOff,
    weight,
    pack,
    col,
    geom,
    nc,
    MB,
  ]);
}

/**
 * out = conv2d_forward of `inp` over whole images, a shard of images per task. `bias` 0 for none,
 * `relu` 1 (2) to fuse relu (relu6) into the store. With `packed` (conv2d_pack_weights' output for this
 * weight and bias) every shard reads it instead of packing its own copy.
 */
export function conv2dForwardImages(
  out: number,
  inp: number,
  weight: number,
  bias: number,
  geo: Geometry2d,
  N: number,
  MB: number,
  relu: 0 | 1 | 2,
  packed = 0,
): void {
  if (packed) {
    imageTasks(geo, N, MB, 0, (inOff, outOff, nc, _pack, col, geom) => [
      'conv2d_forward_packed',
      out + outOff,
      inp + inOff,
      packed,
      col,
      geom,
      nc,
      MB,
      relu,
    ]);
    return;
  }
  const packN = geo.G * k().pack_b_size(geo.KH * geo.KW * (geo.C / geo.G), geo.K / geo.G);
  imageTasks(geo, N, MB, packN, (inOff, outOff, nc, pack, col, geom) => [
    'conv2d_forward',
    out + outOff,
    inp + inOff,
    weight,
    bias,
    pack,
    col,
    geom,
    nc,
    MB,
    relu,
  ]);
}

/**
 * gw (+)= and gb (+)= (0 to skip) the weight and bias gradients of the convolution `geo`, for its input
 * `inp` and output gradient `dy`: each shard sums its images into its own dW/db, then the shards are
 * added in shard order. Here the block is the GEMM's reduction length, so it is 4x longer than the
 * forward's (~512 KB, still in L2): dW accumulates in pixel order whatever the block, so the bits do
 * not depend on it.
 */
export function conv2dWeightGrad(gw: number, gb: number, dy: number, inp: number, geo: Geometry2d, N: number): void {
  const KK = geo.KH * geo.KW * (geo.C / geo.G);
  const MB = blockRows(KK, geo.OH * geo.OW, 4 * 32768);
  const packN = k().pack_b_size(MB, geo.K / geo.G);
  const wSize = KK * geo.K;
  const [inImg, outImg] = imageBytes(geo);
  withGeometry(geo, (geom) =>
    runShards(
      shardRanges(N),
      [wSize, geo.K, MB * KK, packN],
      ([n0, nc], [dw, db, col, pack]): Task => [
        'conv2d_backward_weight',
        dw!,
        gb ? db! : 0,
        dy + n0 * outImg,
        inp + n0 * inImg,
        col!,
        pack!,
        geom,
        nc,
        MB,
      ],
      (bufs) => addShardSums([gw, gb], [wSize, geo.K], bufs),
    ),
  );
}
