// conv2d: shape checks and geometry, then the kernels of assembly/kernels/conv2d.ts; records its
// backward (input, filter, bias) on the tape. x (N, H, W, C), filter (KH, KW, C/groups, K), bias (K),
// out (N, OH, OW, K).
import { type Tensor, uninitialized } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { type Padding, pair, windowGeometry } from '../geom.js';
import {
  expectFinite,
  expectTensor,
  k,
  runTasks,
  SHARDS,
  shardRanges,
  withGeometry,
  withScratch,
  reluMasked,
} from './util.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { show } from '../show.js';
import {
  conv2dWinograd,
  winogradTileFor,
  type ConvAlgorithm,
  type WinogradPacked,
  type WinogradTile,
} from './winograd.js';

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride as n or [rows, cols]; default 1. */
  strides?: number | [number, number];
  /** 'valid' (default), 'same', pixels on every side, or [[top, bottom], [left, right]]. */
  padding?: Padding;
  /** Bias of shape [K], added to every output pixel. */
  bias?: Tensor | null;
  /** Dilation as n or [rows, cols]: taps d pixels apart; default 1. */
  dilationRate?: number | [number, number];
  /** Groups (Keras): C and K split into this many independent convolutions; default 1. */
  groups?: number;
  /** 'relu' fuses max(x, 0) into the output store. */
  activation?: 'linear' | 'relu';
  /** 'direct', 'winograd' or 'auto' (see {@link ConvAlgorithm}); default: the one of setConvAlgorithm. */
  algorithm?: ConvAlgorithm;
  /** Winograd output tile m of F(m x m, 3x3), 2 or 4; default: the one of setConvAlgorithm. */
  winogradTile?: WinogradTile;
  /** Name used in error messages (a layer passes its own). */
  name?: string;
  /** @internal Skip the NaN/Infinity scan of the inputs (layers check data once at the model's door). */
  skipFiniteCheck?: boolean;
  /** @internal The filter's Winograd transform made beforehand (used when its tile is the one chosen). */
  winogradPacked?: WinogradPacked;
}

// Output pixels per im2col block: the block (MB, KH*KW*C) is kept around 128 KB so it stays in cache.
function blockRows(KK: number, M: number, floats = 32768): number {
  const mb = Math.max(4, Math.floor(floats / KK / 4) * 4);
  return Math.min(mb, M);
}

/** Checks `groups` against C input and K output channels; returns it. */
export function checkGroups(groups: unknown, C: number, K: number, what: string): number {
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1) {
    throw new Error(`${what}: groups must be a positive integer, got ${show(groups)}`);
  }
  if (C % groups !== 0 || K % groups !== 0) {
    throw new Error(`${what}: groups = ${groups} must divide both the input channels (${C}) and the filters (${K})`);
  }
  return groups;
}

/**
 * 2-D cross-correlation of NHWC `x` with `filter` (KH, KW, C/groups, K), as tf.conv2d / Keras Conv2D
 * (with `dilationRate` and `groups`).
 */
export function conv2d(x: Tensor, filter: Tensor, opts: Conv2dOptions = {}): Tensor {
  const what = opts.name ?? 'conv2d';
  expectTensor(x, 4, what, 'input x (N, H, W, C)');
  expectTensor(filter, 4, what, 'filter (KH, KW, C/groups, K)');
  const [N, H, W, C] = x.shape;
  const [KH, KW, FC, K] = filter.shape;
  const G = checkGroups(opts.groups ?? 1, C, K, what);
  if (FC * G !== C) {
    throw new Error(
      `${what}: input has ${C} channels but the filter expects ${FC * G} (${FC} per group x ${G} groups; ` +
        `filter shape [${filter.shape}], input shape [${x.shape}])`,
    );
  }
  const bias = opts.bias ?? null;
  if (bias) {
    expectTensor(bias, 1, what, 'bias');
    if (bias.size !== K)
      throw new Error(`${what}: bias has ${bias.size} values but the filter has ${K} output channels`);
  }
  const act = opts.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu')
    throw new Error(`${what}: activation must be 'linear' or 'relu', got ${show(act)}`);
  const [SH, SW] = pair(opts.strides ?? 1, what, 'strides');
  const [DH, DW] = pair(opts.dilationRate ?? 1, what, 'dilationRate');
  const { pad, OH, OW } = windowGeometry(
    what,
    H,
    W,
    (KH - 1) * DH + 1,
    (KW - 1) * DW + 1,
    SH,
    SW,
    opts.padding ?? 'valid',
  );
  if (!opts.skipFiniteCheck) {
    expectFinite(x, what, 'input x');
    expectFinite(filter, what, 'filter');
    if (bias) expectFinite(bias, what, 'bias');
  }
  const kx = k();
  const geo: Geometry2d = { H, W, C, K, KH, KW, SH, SW, PT: pad.top, PL: pad.left, OH, OW, DH, DW, G };
  const KK = KH * KW * FC; // im2col row length (one group's)
  const Kg = K / G;
  // Winograd covers plain 3x3 (and 5x5) stride-1 convolutions: one group, no dilation.
  const plain = G === 1 && DH === 1 && DW === 1;
  if (!plain && opts.algorithm === 'winograd') {
    throw new Error(
      `${what}: algorithm 'winograd' needs groups 1 and dilationRate 1, got groups ${G} and dilationRate [${DH}, ${DW}]`,
    );
  }
  const training = needsGrad(x) || needsGrad(filter) || (bias !== null && needsGrad(bias));
  const tile = plain ? winogradTileFor(what, opts.algorithm, opts.winogradTile, geo, training) : 0;
  if (tile) return conv2dWinograd(x, filter, bias, geo, act === 'relu', tile, opts.winogradPacked);
  const MB = blockRows(KK, OH * OW);
  // every output is stored by the (non-accumulating) GEMM of its image or pixel range: no zero fill
  const out = uninitialized([N, OH, OW, K]);
  const relu = act === 'relu' ? 1 : 0;
  // One task per shard of images, each with its own scratch (packed weights, im2col block).
  const shards = shardRanges(N);
  const inImg = H * W * C * 4,
    outImg = OH * OW * K * 4;
  const packN = G * kx.pack_b_size(KK, Kg);
  if (N < SHARDS) {
    // Too few images to go round: pack the weights once and cut each image into pixel ranges
    // (the same bits as whole images; this is what lets batch-1 inference use every thread).
    const M = OH * OW;
    const parts = Math.min(Math.ceil(SHARDS / N), Math.ceil(M / MB));
    const ranges: Array<[number, number, number]> = [];
    for (let n = 0; n < N; n++) {
      for (let p = 0; p < parts; p++) {
        const m0 = Math.floor((M * p) / parts),
          m1 = Math.floor((M * (p + 1)) / parts);
        if (m1 > m0) ranges.push([n, m0, m1]);
      }
    }
    withGeometry(geo, (geom) =>
      withScratch([packN, ...ranges.map(() => MB * KK)], (wpack, ...cols) => {
        kx.conv2d_pack_weights(wpack, filter.ptr, bias ? bias.ptr : 0, geom);
        runTasks(
          ranges.map(
            ([n, m0, m1], i): Task => [
              'conv2d_forward_pixels',
              out.ptr + n * outImg,
              x.ptr + n * inImg,
              wpack,
              cols[i],
              geom,
              MB,
              relu,
              m0,
              m1,
            ],
          ),
        );
      }),
    );
  } else {
    withGeometry(geo, (geom) =>
      withScratch(
        shards.flatMap(() => [packN, MB * KK]),
        (...scratch) => {
          runTasks(
            shards.map(
              ([n0, nc], i): Task => [
                'conv2d_forward',
                out.ptr + n0 * outImg,
                x.ptr + n0 * inImg,
                filter.ptr,
                bias ? bias.ptr : 0,
                scratch[2 * i],
                scratch[2 * i + 1],
                geom,
                nc,
                MB,
                relu,
              ],
            ),
          );
        },
      ),
    );
  }
  const inputs = bias ? [x, filter, bias] : [x, filter];
  record(inputs, out, (dy, grad) => {
    const masked = relu ? reluMasked(dy, out) : null;
    const d = masked ?? dy;
    const gx = grad(x),
      gw = grad(filter),
      gb = bias ? grad(bias) : 0;
    if (gx) {
      // Images are independent: each shard scatters into its own slice of dx.
      const packN = G * kx.pack_b_size(Kg, KK);
      withGeometry(geo, (geom) =>
        withScratch(
          shards.flatMap(() => [packN, MB * KK]),
          (...scratch) => {
            runTasks(
              shards.map(
                ([n0, nc], i): Task => [
                  'conv2d_backward_input',
                  gx + n0 * inImg,
                  d.ptr + n0 * outImg,
                  filter.ptr,
                  scratch[2 * i],
                  scratch[2 * i + 1],
                  geom,
                  nc,
                  MB,
                ],
              ),
            );
          },
        ),
      );
    }
    if (gw) {
      // Each shard sums its images into its own dW/db; the shards are then added in shard order.
      // Here the block is the GEMM's reduction length, so it is 4x longer (~512 KB, still in L2):
      // dW accumulates in pixel order whatever the block, so the bits do not depend on it.
      const MB = blockRows(KK, OH * OW, 4 * 32768);
      const packN = kx.pack_b_size(MB, Kg);
      const wSize = KK * K;
      withGeometry(geo, (geom) =>
        withScratch(
          shards.flatMap(() => [wSize, K, MB * KK, packN]),
          (...scratch) => {
            runTasks(
              shards.map(
                ([n0, nc], i): Task => [
                  'conv2d_backward_weight',
                  scratch[4 * i],
                  gb ? scratch[4 * i + 1] : 0,
                  d.ptr + n0 * outImg,
                  x.ptr + n0 * inImg,
                  scratch[4 * i + 2],
                  scratch[4 * i + 3],
                  geom,
                  nc,
                  MB,
                ],
              ),
            );
            shards.forEach((_, i) => {
              kx.add_into(gw, scratch[4 * i], wSize);
              if (gb) kx.add_into(gb, scratch[4 * i + 1], K);
            });
          },
        ),
      );
    } else if (gb) {
      kx.bias_backward(gb, d.ptr, N * OH * OW, K);
    }
    masked?.dispose();
  });
  return out;
}
