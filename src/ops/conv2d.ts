// conv2d: shape checks and geometry, then the kernels of assembly/kernels/conv2d.ts; records its
// backward (input, filter, bias) on the tape. x (N, H, W, C), filter (KH, KW, C/groups, K), bias (K),
// out (N, OH, OW, K).
import { Tensor, uninitialized } from '../tensor.js';
import { needsGrad } from '../autograd.js';
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
  taskParts,
  withGeometry,
  withScratch,
} from './util.js';
import { blockRows, conv2dForwardImages, conv2dInputGrad, conv2dWeightGrad, imageParts } from './shards.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { show } from '../show.js';
import { maxPool2d } from './pool2d.js';
import {
  conv2dWinograd,
  winogradPools,
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
  /** 'relu' fuses max(x, 0) into the output store; 'relu6' min(max(x, 0), 6), when no gradient is recorded. */
  activation?: 'linear' | 'relu' | 'relu6';
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
  /** @internal The filter and bias packed for the direct GEMM beforehand (see {@link conv2dPack}). */
  directPacked?: DirectPacked;
  /**
   * @internal Return the 2x2 stride-2 'valid' max pooling of the result (inference: an inference plan's
   * Conv2D + MaxPooling2D): taken into the Winograd output transform where it runs, else pooled after.
   */
  fusedPool?: boolean;
}

/** @internal A filter and bias packed once for the direct path's GEMM, as conv2d_pack_weights lays them out. */
export interface DirectPacked {
  /** The filter and bias it was made from; conv2d uses it only with those same tensors. */
  filter: Tensor;
  bias: Tensor | null;
  groups: number;
  pack: Tensor;
}

/**
 * @internal Packs a (KH, KW, C/groups, K) filter and its bias for the direct path once (the forward
 * otherwise packs them on every call, and once per shard); the caller disposes `pack`.
 */
export function conv2dPack(filter: Tensor, bias: Tensor | null, groups: number): DirectPacked {
  const [KH, KW, FC, K] = filter.shape;
  const kx = k();
  const pack = new Tensor([groups * kx.pack_b_size(KH! * KW! * FC!, K! / groups)], 'float32', false);
  // only KH, KW, C, K and G matter to the packing; the window fields are placeholders
  const geo: Geometry2d = {
    H: 1,
    W: 1,
    C: FC! * groups,
    K: K!,
    KH: KH!,
    KW: KW!,
    SH: 1,
    SW: 1,
    PT: 0,
    PL: 0,
    OH: 1,
    OW: 1,
    DH: 1,
    DW: 1,
    G: groups,
  };
  withGeometry(geo, (geom) => kx.conv2d_pack_weights(pack.ptr, filter.ptr, bias ? bias.ptr : 0, geom));
  return { filter, bias, groups, pack };
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
  const bias = expectBias(opts.bias, K, what, `the filter has ${K} output channels`);
  const relu = fusedRelu(opts.activation, what);
  const { pad, OH, OW, SH, SW, DH, DW } = convGeometry(what, H, W, KH, KW, opts);
  expectAllFinite(what, opts.skipFiniteCheck, [
    [x, 'input x'],
    [filter, 'filter'],
    [bias, 'bias'],
  ]);
  const kx = k();
  const geo: Geometry2d = { H, W, C, K, KH, KW, SH, SW, PT: pad.top, PL: pad.left, OH, OW, DH, DW, G };
  const KK = KH * KW * FC; // im2col row length (one group's)
  // Winograd covers plain 3x3 (and 5x5) stride-1 convolutions: one group, no dilation.
  const plain = G === 1 && DH === 1 && DW === 1;
  if (!plain && opts.algorithm === 'winograd') {
    throw new Error(
      `${what}: algorithm 'winograd' needs groups 1 and dilationRate 1, got groups ${G} and dilationRate [${DH}, ${DW}]`,
    );
  }
  const training = needsGrad(x) || needsGrad(filter) || (bias !== null && needsGrad(bias));
  // the Winograd kernels fuse relu but not relu6
  const tile = plain && relu !== 2 ? winogradTileFor(what, opts.algorithm, opts.winogradTile, geo, training) : 0;
  if (opts.fusedPool) {
    if (tile && winogradPools(KH, tile) && !training) {
      return conv2dWinograd(x, filter, bias, geo, relu === 1, tile, opts.winogradPacked, true);
    }
    const full = conv2d(x, filter, { ...opts, fusedPool: false });
    try {
      return maxPool2d(full, { poolSize: 2, strides: 2, padding: 'valid' });
    } finally {
      full.dispose();
    }
  }
  if (tile) return conv2dWinograd(x, filter, bias, geo, relu === 1, tile, opts.winogradPacked);
  const MB = blockRows(KK, OH * OW);
  // every output is stored by the (non-accumulating) GEMM of its image or pixel range: no zero fill
  const out = uninitialized([N, OH, OW, K]);
  const dp = opts.directPacked;
  const packed =
    dp && dp.filter === filter && dp.bias === bias && dp.groups === G && !dp.pack.isDisposed ? dp.pack : null;
  if (N < SHARDS) {
    // Too few images to go round: pack the weights once and cut each image into pixel ranges
    // (the same bits as whole images; this is what lets batch-1 inference use every thread).
    const M = OH * OW;
    const inImg = H * W * C * 4,
      outImg = OH * OW * K * 4;
    const packN = packed ? 0 : G * kx.pack_b_size(KK, K / G);
    // parts of 16+ pixels, not whole blocks: a 14x14 or 7x7 map is one block, and would get one thread
    const ranges = imageParts(N, M, Math.min(Math.ceil(SHARDS / N), Math.ceil(M / 16), taskParts(M * K * KK, SHARDS)));
    withGeometry(geo, (geom) =>
      withScratch(
        [packN, ...ranges.map(() => MB * KK)],
        (scratchPack, ...cols) => {
          const wpack = packed ? packed.ptr : scratchPack;
          if (!packed) kx.conv2d_pack_weights(wpack, filter.ptr, bias ? bias.ptr : 0, geom);
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
        },
        false,
      ),
    );
  } else {
    // One task per shard of images, each with its own scratch (packed weights unless given, im2col block).
    conv2dForwardImages(out.ptr, x.ptr, filter.ptr, bias ? bias.ptr : 0, geo, N, MB, relu, packed ? packed.ptr : 0);
  }
  recordConv(x, filter, bias, out, relu, (d, gx, gw, gb) => {
    if (gx) conv2dInputGrad(gx, d.ptr, filter.ptr, geo, N, MB);
    if (gw) conv2dWeightGrad(gw, gb, d.ptr, x.ptr, geo, N);
    else if (gb) kx.bias_backward(gb, d.ptr, N * OH * OW, K);
  });
  return out;
}
