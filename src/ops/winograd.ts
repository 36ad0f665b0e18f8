// Winograd convolution for stride-1 layers (kernels in assembly/kernels/winograd.ts): F(2x2, 3x3) and
// F(4x4, 3x3) for 3x3 kernels, F(4x4, 5x5) for 5x5 ones (or, with tile 2, F(2x2, 3x3) on four 3x3 pieces);
// and the choice between it and the direct im2col + GEMM path of conv2d. Forward and backward w.r.t. the
// input and w.r.t. the weights run on Winograd tiles too (the input gradient falls back to the direct
// kernel when the padding exceeds kernel - 1).
// Output tiles are numbered over the whole batch and cut into the fixed SHARDS, and every output value
// depends only on its own tile, so the bits are the same at any thread count (and batch size).
import { Tensor, tensor, uninitialized } from '../tensor.js';
import { needsGrad } from '../autograd.js';
import { getArena } from '../wasm/arena.js';
import { k, recordConv, runTasks, shardRanges, withGeometry, withScratch } from './util.js';
import { addShardSums, blockRows, conv2dInputGrad, runShards } from './shards.js';
import type { Geometry2d, Task } from '../wasm/abi.js';

/**
 * How {@link conv2d} computes a convolution. 'direct' is im2col + GEMM (every shape; the reference);
 * 'winograd' is Winograd (3x3 and 5x5 kernels at stride 1, see {@link WinogradTile}; an error for anything
 * else); 'auto' takes Winograd where it is within its error bound and pays, and 'direct' elsewhere (see
 * {@link autoTile}): F(4x4, 3x3) and F(4x4, 5x5) on layers with 8+ channels and outputs of 6+ pixels a
 * side, in training and inference alike, F(2x2, 3x3) on smaller 3x3 outputs.
 */
export type ConvAlgorithm = 'auto' | 'direct' | 'winograd';

/**
 * Output tile size m of Winograd F(m x m, r x r). On 3x3 kernels 2 is F(2x2, 3x3) (alpha 4, the accurate one)
 * and 4 is F(4x4, 3x3) (alpha 6, fewer multiplies); on 5x5 kernels 4 is F(4x4, 5x5) (alpha 8) and 2 is
 * F(2x2, 3x3) on the kernel's four 3x3 pieces.
 */
export type WinogradTile = 2 | 4;

const ALGORITHMS: readonly ConvAlgorithm[] = ['auto', 'direct', 'winograd'];

let defaultAlgorithm: ConvAlgorithm = 'direct';
// undefined: 'winograd' uses 2 and 'auto' chooses by mode (autoTile)
let defaultTile: WinogradTile | undefined;

function checkAlgorithm(a: unknown, what: string): ConvAlgorithm {
  if (!ALGORITHMS.includes(a as ConvAlgorithm)) {
    throw new Error(
      `${what}: algorithm must be one of ${ALGORITHMS.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(a)}`,
    );
  }
  return a as ConvAlgorithm;
}

function checkTile(t: unknown, what: string): WinogradTile {
  if (t !== 2 && t !== 4) throw new Error(`${what}: winogradTile must be 2 or 4, got ${JSON.stringify(t)}`);
  return t;
}

/**
 * Sets the algorithm conv2d uses when neither the call nor the layer names one (initially 'direct'),
 * and optionally the Winograd tile size m used by 'winograd' and 'auto' (initially none: 'winograd'
 * uses 2, 'auto' chooses per call, see {@link ConvAlgorithm}). `winogradTile: null` clears it.
 */
export function setConvAlgorithm(algorithm: ConvAlgorithm, opts: { winogradTile?: WinogradTile | null } = {}): void {
  defaultAlgorithm = checkAlgorithm(algorithm, 'setConvAlgorithm');
  if (opts.winogradTile === null) defaultTile = undefined;
  else if (opts.winogradTile !== undefined) defaultTile = checkTile(opts.winogradTile, 'setConvAlgorithm');
}

/** The current default of {@link setConvAlgorithm} (`winogradTile` undefined: chosen per call). */
export function getConvAlgorithm(): { algorithm: ConvAlgorithm; winogradTile: WinogradTile | undefined } {
  return { algorithm: defaultAlgorithm, winogradTile: defaultTile };
}

/** Throws unless `a` is a ConvAlgorithm (for layer configs). */
export function expectConvAlgorithm(a: unknown, what: string): ConvAlgorithm {
  return checkAlgorithm(a, what);
}

/** Throws unless `t` is a WinogradTile (for layer configs). */
export function expectWinogradTile(t: unknown, what: string): WinogradTile {
  return checkTile(t, what);
}

/**
 * What 'auto' takes for a plain (one group, no dilation) convolution, or 0 for direct. Measured on the seed
 * model's layers at batch 128, 2 threads (bench/run.js, per-layer table; speed vs direct):
 *
 *   layer                 tile 2 fwd / bwd            tile 4 fwd / bwd
 *   3x3 32->64 @14x14     1.6x / 1.9x   F(2,3)        2.1x / 2.1x   F(4,3)
 *   3x3 64->64 @14x14     1.3x / 2.4x   F(2,3)        1.8x / 2.4x   F(4,3)
 *   5x5 32->32 @28x28     1.1x / 1.2x   F(2,3) pieces 3.9x / 3.9x   F(4,5)
 *   5x5  1->32 @28x28     0.2x / 0.3x   F(2,3) pieces 0.9x / 0.95x  F(4,5) (one input channel)
 *
 * Error (test/kernels/winograd.test.ts, inputs in [-1, 1), u = 2^-24): F(2,3) is as accurate as the direct
 * kernel (max |err| <= 0.51·u·9·cin forward, <= 0.85·u·N·OH·OW for dW; direct: 0.86 and 4), F(4,3) ~10x
 * less (<= 6.95·u·9·cin, 4.38·u·N·OH·OW), F(4,5) about the same relative to its 25·cin terms (<= 5.52·u·25·cin,
 * 11.4·u·N·OH·OW): ~1e-5 relative, far below the noise of a minibatch gradient. So 'auto' takes tile 4 on
 * 3x3 and 5x5 layers with at least MIN_CH input and output channels, in training and in inference, F(2,3)
 * on 3x3 when the output is too small for 4x4 tiles to pay (under 6 pixels a side: padding tiles waste
 * more than they save), and direct on 5x5 then, whether or not it is training.
 */
export function autoTile(KH: number, KW: number, C: number, K: number, OH: number, OW: number, _training: boolean) {
  if (C < MIN_CH || K < MIN_CH) return 0;
  if (KH === 3 && KW === 3) return Math.min(OH, OW) >= 6 ? 4 : 2;
  if (KH === 5 && KW === 5) return Math.min(OH, OW) >= 6 ? 4 : 0;
  return 0;
}
// Below this many channels the transforms cost more than the multiplies saved (1 channel: 0.3x).
const MIN_CH = 8;

/**
 * The Winograd tile to use for this convolution, or 0 for the direct path. `algorithm`/`tile` are the
 * call's options (undefined: the global default); `training`: a gradient is being recorded.
 */
export function winogradTileFor(
  what: string,
  algorithm: unknown,
  tile: unknown,
  geo: { KH: number; KW: number; SH: number; SW: number; C: number; K: number; OH: number; OW: number },
  training: boolean,
): 0 | WinogradTile {
  const { KH, KW, SH, SW } = geo;
  const alg = algorithm === undefined ? defaultAlgorithm : checkAlgorithm(algorithm, what);
  const named = tile === undefined ? defaultTile : checkTile(tile, what);
  if (alg === 'direct') return 0;
  const stride1 = SH === 1 && SW === 1;
  const fits = KH === 3 && KW === 3 && stride1;
  const fits5 = KH === 5 && KW === 5 && stride1;
  if (alg === 'winograd') {
    if (!fits && !fits5) {
      throw new Error(
        `${what}: algorithm 'winograd' needs a 3x3 or 5x5 kernel at stride 1, got kernel ${KH}x${KW} and strides ${SH}x${SW}`,
      );
    }
    return named ?? 2;
  }
  if (!stride1) return 0;
  const m = autoTile(KH, KW, geo.C, geo.K, geo.OH, geo.OW, training);
  // a tile named explicitly (call, layer or setConvAlgorithm) replaces the choice of m, not of the algorithm
  return m && named ? named : m;
}

// Tiles per block: the block's V (alpha², TB, C) and M (alpha², TB, K) stay within ~256 KB of L2.
// Any block size gives the same bits; a multiple of 4 fills the 4-row GEMM microkernel.
function tileBlock(m: number, r: number, C: number, K: number, tiles: number): number {
  const T = (m + r - 1) ** 2;
  const tb = Math.max(4, Math.floor(65536 / (T * (C + K)) / 4) * 4);
  return Math.min(tb, Math.max(1, tiles));
}

const WINO_RELU = 1,
  WINO_ACC = 2,
  WINO_POOL = 4;

/**
 * @internal Whether the Winograd path of a KH x KH kernel with tile m can take a following 2x2 max pooling
 * into its output transform: one transform (not 3x3 pieces), and an even tile, so that every pooling window
 * lies in one tile.
 */
export function winogradPools(KH: number, m: WinogradTile): boolean {
  return taps(KH, m) === KH && m % 2 === 0;
}

/**
 * @internal A filter's Winograd transform made once (an inference plan keeps it while the weights do not
 * change): `packs` holds U of the filter, or (5x5 with tile 2) U of each of its four 3x3 pieces.
 */
export interface WinogradPacked {
  m: WinogradTile;
  /** The filter it was made from; conv2d uses it only for that same tensor. */
  filter: Tensor;
  packs: Tensor[];
}

// The kernel size r of the Winograd transform run for a KH x KH kernel with tile m (3 for the pieces).
function taps(KH: number, m: WinogradTile): 3 | 5 {
  return KH === 5 && m === 4 ? 5 : 3;
}

/** @internal Transforms a (3,3,C,K) or (5,5,C,K) filter for tile m once; the caller disposes the packs. */
export function winogradPack(filter: Tensor, m: WinogradTile): WinogradPacked {
  const [KH, , C, K] = filter.shape;
  const kx = k();
  const r = taps(KH, m);
  const one = (w: Tensor): Tensor => {
    const u = new Tensor([kx.winograd_pack_size(m, r, C, K)]);
    withScratch([kx.winograd_weight_work(m, r, C, K)], (wwork) =>
      kx.winograd_weight(u.ptr, w.ptr, wwork, C, K, m, r, 0),
    );
    return u;
  };
  if (KH === r) return { m, filter, packs: [one(filter)] };
  const ps = pieces5(filter, false);
  try {
    return { m, filter, packs: ps.map(one) };
  } finally {
    for (const p of ps) p.dispose();
  }
}

// out (N, geo.OH, geo.OW, geo.K) (+)= Winograd F(m, r) conv of inp (N, geo.H, geo.W, geo.C) with `weight`
// (r,r,C,K) (flip = 0) or, for the input gradient, the flipped kernel of a (r,r,K,C) weight (flip = 1).
function run(
  out: number,
  inp: number,
  weight: number,
  bias: number,
  geo: Geometry2d,
  N: number,
  m: WinogradTile,
  r: 3 | 5,
  flip: 0 | 1,
  flags: number,
  oy = 0,
  ox = 0,
  packed = 0,
): void {
  const kx = k();
  const { C, K, OH, OW } = geo;
  const tiles = N * Math.ceil(OH / m) * Math.ceil(OW / m);
  const TB = tileBlock(m, r, C, K, tiles);
  const shards = shardRanges(tiles);
  // the weight's own channel dims (C, K) swap for the flipped kernel
  const [wc, wk] = flip ? [K, C] : [C, K];
  const work = kx.winograd_forward_work(m, r, TB, C, K);
  // `packed`: the weights already transformed (winogradPack), so no transform scratch either
  const wScratch = packed ? [] : [kx.winograd_pack_size(m, r, C, K), kx.winograd_weight_work(m, r, wc, wk)];
  withGeometry(geo, (geom) =>
    withScratch([...wScratch, ...shards.map(() => work)], (...ptrs) => {
      const upack = packed || ptrs[0]!;
      const works = packed ? ptrs : ptrs.slice(2);
      if (!packed) kx.winograd_weight(upack, weight, ptrs[1]!, wc, wk, m, r, flip);
      runTasks(
        shards.map(
          ([t0, tc], i): Task => [
            'winograd_forward',
            out,
            inp,
            upack,
            bias,
            works[i],
            geom,
            m,
            r,
            TB,
            t0,
            t0 + tc,
            flags,
            oy,
            ox,
          ],
        ),
      );
    }),
  );
}

/**
 * @internal conv2d's Winograd path: x (N,H,W,C), filter (3,3,C,K) or (5,5,C,K), bias (K) or null; shapes,
 * strides and geometry already checked by conv2d. `pool`: the result is the 2x2 stride-2 'valid' max
 * pooling of the convolution, taken in the output transform (inference only; see {@link winogradPools}).
 */
export function conv2dWinograd(
  x: Tensor,
  filter: Tensor,
  bias: Tensor | null,
  geo: Geometry2d,
  relu: boolean,
  m: WinogradTile,
  packed?: WinogradPacked,
  pool = false,
): Tensor {
  // the cached transform serves only the filter (contents and tile) it was made from
  const pack = packed && packed.m === m && packed.filter === filter && !packed.packs[0]!.isDisposed ? packed : null;
  const r = taps(geo.KH, m);
  if (pool && (!winogradPools(geo.KH, m) || needsGrad(x) || needsGrad(filter) || (bias && needsGrad(bias)))) {
    throw new Error('conv2d: a fused max pooling needs a single Winograd transform and no gradient');
  }
  if (geo.KH !== r) return conv5x5(x, filter, bias, geo, relu, m, pack);
  const N = x.shape[0];
  const { K, OH, OW, PT, PL } = geo;
  if (pool) {
    const pooled = uninitialized([N, OH >> 1, OW >> 1, K]); // every pooled pixel is stored
    const flags = WINO_POOL | (relu ? WINO_RELU : 0);
    run(
      pooled.ptr,
      x.ptr,
      filter.ptr,
      bias ? bias.ptr : 0,
      geo,
      N,
      m,
      r,
      0,
      flags,
      0,
      0,
      pack ? pack.packs[0]!.ptr : 0,
    );
    return pooled;
  }
  const out = uninitialized([N, OH, OW, K]); // every tile stores its outputs (no WINO_ACC): no zero fill
  run(
    out.ptr,
    x.ptr,
    filter.ptr,
    bias ? bias.ptr : 0,
    geo,
    N,
    m,
    r,
    0,
    relu ? WINO_RELU : 0,
    0,
    0,
    pack ? pack.packs[0]!.ptr : 0,
  );
  recordConv(
    x,
    filter,
    bias,
    out,
    relu ? 1 : 0,
    (d, gx, gw, gb, gxAdd) => {
      if (gx && PT <= r - 1 && PL <= r - 1) {
        // dx = 'full' correlation of dy with the flipped, channel-swapped kernel: padding r-1 - PT, r-1 - PL.
        // Its tiles cover all of dx, so a fresh gradient is stored, not added to zeros.
        const back = inputGradGeometry(geo, r);
        run(gx, d.ptr, filter.ptr, 0, back, N, m, r, 1, gxAdd ? WINO_ACC : 0);
      } else if (gx) {
        // Padding beyond the kernel (outputs made of padding only) would need a negative padding here.
        directInputGrad(gx, d, filter, geo, N, gxAdd);
      }
      if (gw) winogradWeightGrad(gw, d, x, geo, N, m, r);
      if (gb) k().bias_backward(gb, d.ptr, N * OH * OW, K);
    },
    true,
  );
  return out;
}

// The stride-1 convolution dy -> dx that is the input gradient of `geo`'s k x k convolution, run on the
// flipped, channel-swapped kernel ('full' correlation: padding k - 1 - PT, k - 1 - PL).
function inputGradGeometry(geo: Geometry2d, k: number): Geometry2d {
  const { H, W, C, K, OH, OW, PT, PL } = geo;
  return {
    H: OH,
    W: OW,
    C: K,
    K: C,
    KH: k,
    KW: k,
    SH: 1,
    SW: 1,
    PT: k - 1 - PT,
    PL: k - 1 - PL,
    OH: H,
    OW: W,
    DH: 1,
    DW: 1,
    G: 1,
  };
}

// dx on the direct kernel, as conv2d does it (it adds: a fresh gx, `add` false, is zeroed first).
function directInputGrad(gx: number, d: Tensor, filter: Tensor, geo: Geometry2d, N: number, add: boolean): void {
  if (!add) k().zero_fill(gx, 4 * N * geo.H * geo.W * geo.C);
  conv2dInputGrad(gx, d.ptr, filter.ptr, geo, N, blockRows(geo.KH * geo.KW * geo.C, geo.OH * geo.OW));
}

// dW += Gᵀ dU G with dU = Σ_tiles V ⊗ (A dY Aᵀ): each shard of tiles sums into its own dU, the shards are
// added in shard order, then transformed back once.
function winogradWeightGrad(
  gw: number,
  d: Tensor,
  x: Tensor,
  geo: Geometry2d,
  N: number,
  m: WinogradTile,
  r: 3 | 5,
  oy = 0,
  ox = 0,
): void {
  const kx = k();
  const { C, K, OH, OW } = geo;
  const alpha = m + r - 1;
  const T = alpha ** 2;
  const tiles = N * Math.ceil(OH / m) * Math.ceil(OW / m);
  const TB = tileBlock(m, r, C, K, tiles);
  const shards = shardRanges(tiles);
  const uSize = T * C * K;
  const work = kx.winograd_backward_weight_work(m, r, TB, C, K);
  withGeometry(geo, (geom) =>
    withScratch([r * alpha * K], (tmp) =>
      runShards(
        shards,
        [uSize, work],
        ([t0, tc], [du, w]): Task => [
          'winograd_backward_weight',
          du!,
          d.ptr,
          x.ptr,
          w!,
          geom,
          m,
          r,
          TB,
          t0,
          t0 + tc,
          oy,
          ox,
        ],
        // the sum lands in shard 0's dU, transformed back once
        (bufs) => {
          addShardSums([bufs[0]![0]!], [uSize], bufs.slice(1));
          kx.winograd_weight_grad(gw, bufs[0]![0]!, tmp, C, K, m, r);
        },
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// 5x5 stride 1 as four 3x3 pieces (tile 2): piece (pi, pj) holds taps 3pi .. 3pi+2, 3pj .. 3pj+2 of the kernel
// (zeros past tap 4) and reads the input shifted by (3pi, 3pj); the pieces are summed in a fixed order.
// ---------------------------------------------------------------------------------------------

const PIECES: Array<[number, number]> = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];

// The pieces of a (5,5,C,K) kernel as (3,3,C,K) tensors, or (flip) of its input-gradient kernel
// w'[a][b][k][c] = w[4-a][4-b][c][k] as (3,3,K,C) tensors (caller disposes).
function pieces5(filter: Tensor, flip: boolean): Tensor[] {
  const [, , C, K] = filter.shape;
  const w = filter.view();
  return PIECES.map(([pi, pj]) => {
    const p = new Float32Array(9 * C * K);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) {
        const kh = 3 * pi + a,
          kw = 3 * pj + b;
        if (kh > 4 || kw > 4) continue;
        const src = ((flip ? 4 - kh : kh) * 5 + (flip ? 4 - kw : kw)) * C * K,
          dst = (a * 3 + b) * C * K;
        for (let c = 0; c < C; c++)
          for (let k = 0; k < K; k++) {
            p[dst + (flip ? k * C + c : c * K + k)] = w[src + c * K + k]!;
          }
      }
    return tensor(p, flip ? [3, 3, K, C] : [3, 3, C, K]);
  });
}

function conv5x5(
  x: Tensor,
  filter: Tensor,
  bias: Tensor | null,
  geo: Geometry2d,
  relu: boolean,
  m: WinogradTile,
  pack: WinogradPacked | null,
): Tensor {
  const N = x.shape[0];
  const { C, K, OH, OW, PT, PL } = geo;
  const g3: Geometry2d = { ...geo, KH: 3, KW: 3 };
  const out = uninitialized([N, OH, OW, K]); // the first piece stores (no WINO_ACC), the others add
  const ps = pack ? [] : pieces5(filter, false);
  try {
    PIECES.forEach(([pi, pj], i) => {
      const flags = (i > 0 ? WINO_ACC : 0) | (i === 3 && relu ? WINO_RELU : 0);
      const w = pack ? 0 : ps[i]!.ptr;
      run(
        out.ptr,
        x.ptr,
        w,
        i === 0 && bias ? bias.ptr : 0,
        g3,
        N,
        m,
        3,
        0,
        flags,
        3 * pi,
        3 * pj,
        pack ? pack.packs[i]!.ptr : 0,
      );
    });
  } finally {
    for (const p of ps) p.dispose();
  }
  recordConv(
    x,
    filter,
    bias,
    out,
    relu ? 1 : 0,
    (d, gx, gw, gb, gxAdd) => {
      if (gx && PT <= 4 && PL <= 4) {
        // dx = 5x5 correlation of dy with the flipped kernel, padding 4 - PT, 4 - PL, in pieces; the first
        // piece stores into a fresh gradient, the others add.
        const back: Geometry2d = { ...inputGradGeometry(geo, 5), KH: 3, KW: 3 };
        const fs = pieces5(filter, true);
        try {
          fs.forEach((p, i) => {
            const flags = i > 0 || gxAdd ? WINO_ACC : 0;
            run(gx, d.ptr, p.ptr, 0, back, N, m, 3, 0, flags, 3 * PIECES[i]![0], 3 * PIECES[i]![1]);
          });
        } finally {
          for (const p of fs) p.dispose();
        }
      } else if (gx) {
        directInputGrad(gx, d, filter, geo, N, gxAdd);
      }
      if (gw) {
        // dW of each piece, then its valid taps added into gw (pieces in order).
        const part = new Tensor([3, 3, C, K]);
        try {
          PIECES.forEach(([pi, pj]) => {
            part.view().fill(0);
            winogradWeightGrad(part.ptr, d, x, g3, N, m, 3, 3 * pi, 3 * pj);
            const src = part.view(),
              dst = getArena().f32();
            for (let a = 0; a < 3; a++)
              for (let b = 0; b < 3; b++) {
                const kh = 3 * pi + a,
                  kw = 3 * pj + b;
                if (kh > 4 || kw > 4) continue;
                const o = gw / 4 + (kh * 5 + kw) * C * K,
                  so = (a * 3 + b) * C * K;
                for (let i = 0; i < C * K; i++) dst[o + i] = dst[o + i]! + src[so + i]!;
              }
          });
        } finally {
          part.dispose();
        }
      }
      if (gb) k().bias_backward(gb, d.ptr, N * OH * OW, K);
    },
    true,
  );
  return out;
}
