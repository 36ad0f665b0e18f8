// depthwiseConv2d: shape checks and geometry, then the kernels of assembly/kernels/dwconv2d.ts; records
// its backward (input, filter, bias) on the tape. x (N, H, W, C), filter (KH, KW, C, M) as Keras'
// depthwise_kernel, bias (C*M), out (N, OH, OW, C*M) with output channel c*M + m.
import { type Tensor, uninitialized } from '../tensor.js';
import { convGeometry, type Padding } from '../geom.js';
import {
  expectAllFinite,
  expectBias,
  expectTensor,
  fusedRelu,
  k,
  recordConv,
  runTasks,
  SHARDS,
  shardRanges,
  taskParts,
  withGeometry,
} from './util.js';
import { addShardSums, imageParts, runShards } from './shards.js';
import type { Geometry2d, Task } from '../wasm/abi.js';

/** Options of {@link depthwiseConv2d}. */
export interface DepthwiseConv2dOptions {
  /** Stride as n or [rows, cols]; default 1. */
  strides?: number | [number, number];
  /** 'valid' (default), 'same', pixels on every side, or [[top, bottom], [left, right]]. */
  padding?: Padding;
  /** Dilation as n or [rows, cols]; default 1. */
  dilationRate?: number | [number, number];
  /** Bias of shape [C*M]. */
  bias?: Tensor | null;
  /** 'relu' fuses max(x, 0) into the output store; 'relu6' min(max(x, 0), 6), when no gradient is recorded. */
  activation?: 'linear' | 'relu' | 'relu6';
  /** Name used in error messages (a layer passes its own). */
  name?: string;
  /** @internal Skip the NaN/Infinity scan of the inputs. */
  skipFiniteCheck?: boolean;
}

/**
 * Depthwise 2-D convolution of NHWC `x` with `filter` (KH, KW, C, M), as tf.depthwiseConv2d / Keras
 * DepthwiseConv2D: every input channel is convolved with its own M filters.
 */
export function depthwiseConv2d(x: Tensor, filter: Tensor, opts: DepthwiseConv2dOptions = {}): Tensor {
  const what = opts.name ?? 'depthwiseConv2d';
  expectTensor(x, 4, what, 'input x (N, H, W, C)');
  expectTensor(filter, 4, what, 'filter (KH, KW, C, depthMultiplier)');
  const [N, H, W, C] = x.shape;
  const [KH, KW, FC, M] = filter.shape;
  if (FC !== C) {
    throw new Error(
      `${what}: input has ${C} channels but the depthwise filter expects ${FC} (filter shape [${filter.shape}], input shape [${x.shape}])`,
    );
  }
  const K = C * M;
  const bias = expectBias(opts.bias, K, what, `there are ${K} output channels (${C} x depth multiplier ${M})`);
  const relu = fusedRelu(opts.activation, what);
  const { pad, OH, OW, SH, SW, DH, DW } = convGeometry(what, H, W, KH, KW, opts);
  expectAllFinite(what, opts.skipFiniteCheck, [
    [x, 'input x'],
    [filter, 'filter'],
    [bias, 'bias'],
  ]);
  const kx = k();
  const geo: Geometry2d = { H, W, C, K, KH, KW, SH, SW, PT: pad.top, PL: pad.left, OH, OW, DH, DW, G: C };
  const out = uninitialized([N, OH, OW, K]); // every output is stored, never accumulated: no zero fill
  const inImg = H * W * C * 4,
    outImg = OH * OW * K * 4;
  const shards = shardRanges(N);
  const bp = bias ? bias.ptr : 0;
  const work = N * OH * OW * K * KH * KW;
  // [first image, images, first row, end row] per task. Too few images to go round: cut each into row
  // ranges (same bits; lets batch 1 use every thread).
  const ranges: Array<[number, number, number, number]> =
    N < SHARDS
      ? imageParts(N, OH, Math.min(Math.ceil(SHARDS / N), OH, taskParts(work / N, SHARDS))).map(([n, r0, r1]) => [
          n,
          1,
          r0,
          r1,
        ])
      : shards.map(([n0, nc]) => [n0, nc, 0, OH]);
  withGeometry(geo, (geom) =>
    runTasks(
      ranges.map(
        ([n0, nc, r0, r1]): Task => [
          'dwconv2d_forward',
          out.ptr + n0 * outImg,
          x.ptr + n0 * inImg,
          filter.ptr,
          bp,
          geom,
          nc,
          relu,
          r0,
          r1,
        ],
      ),
      work,
    ),
  );
  recordConv(x, filter, bias, out, relu, (d, gx, gw, gb) => {
    withGeometry(geo, (geom) => {
      if (gx) {
        // Images are independent: each shard gathers into its own slice of dx.
        runTasks(
          shards.map(
            ([n0, nc]): Task => ['dwconv2d_backward_input', gx + n0 * inImg, d.ptr + n0 * outImg, filter.ptr, geom, nc],
          ),
        );
      }
      if (gw) {
        // Each shard sums its images into its own dW/db; the shards are then added in shard order.
        const wSize = KH * KW * K;
        runShards(
          shards,
          [wSize, K],
          ([n0, nc], [dw, db]): Task => [
            'dwconv2d_backward_weight',
            dw!,
            gb ? db! : 0,
            d.ptr + n0 * outImg,
            x.ptr + n0 * inImg,
            geom,
            nc,
          ],
          (bufs) => addShardSums([gw, gb], [wSize, K], bufs),
        );
      } else if (gb) {
        kx.bias_backward(gb, d.ptr, N * OH * OW, K);
      }
    });
  });
  return out;
}
