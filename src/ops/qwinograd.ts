// int8 convolution by integer Winograd F(2x2, 3x3) (assembly/kernels/qwinograd.ts): exact, so it gives the
// same bits as the direct int8 kernel, with 16 multiplies per 2x2 outputs and 3x3 piece instead of 36 (a 5x5
// kernel is four 3x3 pieces: 64 instead of 100). qconv2d takes it where it applies and pays.
import { getArena } from '../wasm/arena.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { Tensor } from '../tensor.js';
import { taskRanges } from './quant.js';
import { k, runTasks, withScratch } from './util.js';

/** How an int8 convolution is computed: 'winograd' where it applies, 'direct' always, 'auto' where it pays. */
export type QConvAlgorithm = 'auto' | 'direct' | 'winograd';

const pieces = (KH: number, KW: number) => Math.ceil(KH / 3) * Math.ceil(KW / 3);

/**
 * Why integer Winograd cannot compute the convolution `geo`, or null when it can: stride and dilation 1,
 * and 4 * (the largest possible sum) within int32, which the exact division by 4 needs.
 */
export function qwinogradRefusal(geo: Geometry2d): string | null {
  if (geo.SH !== 1 || geo.SW !== 1) return `stride [${geo.SH}, ${geo.SW}] (it needs 1)`;
  if (geo.DH !== 1 || geo.DW !== 1) return `dilation [${geo.DH}, ${geo.DW}] (it needs 1)`;
  if (geo.G !== 1) return `groups ${geo.G} (it needs 1)`;
  // |x - za| <= 255, |w| <= 128
  if (4 * geo.KH * geo.KW * geo.C * 255 * 128 >= 2 ** 31)
    return `${geo.KH}x${geo.KW}x${geo.C} taps (4 * the largest sum would overflow int32)`;
  return null;
}

/**
 * Whether 'auto' takes Winograd: where it applies, on outputs of 4+ pixels a side (edge tiles waste less)
 * and 16+ output channels, for 3x3 kernels over 16+ input channels (16 multiplies for 36) and 5x5 ones over
 * 32+ (64 for 100); with fewer channels the transforms cost more than the multiplies saved. Measured against
 * the direct int8 kernel on one thread: 3x3 over 8 channels 0.7x, 16 1.1x, 32-512 1.5-2.2x; 5x5 over 16
 * channels 0.8x, 32 1.55x.
 */
export function qwinogradPays(geo: Geometry2d): boolean {
  if (qwinogradRefusal(geo) !== null || Math.min(geo.OH, geo.OW) < 4 || geo.K < 16) return false;
  if (geo.KH === 3 && geo.KW === 3) return geo.C >= 16;
  return geo.KH === 5 && geo.KW === 5 && geo.C >= 32;
}

/**
 * The weight w (KH, KW, C, K) int8 at `wPtr` transformed and packed for the kernel, with the quantized
 * bias (null: none). The caller owns (and disposes) the tensor.
 */
export function qwinogradPack(wPtr: number, shape: readonly number[], bias: Int32Array | null): Tensor {
  const [KH, KW, C, K] = shape as [number, number, number, number];
  const bytes = k().qwinograd_pack_size(KH, KW, C, K);
  const U = new Tensor([Math.ceil(bytes / 4)], 'int32', false);
  k().qwinograd_pack(U.ptr, wPtr, 0, KH, KW, C, K);
  if (bias)
    getArena()
      .i32()
      .set(bias, U.ptr >>> 2);
  return U;
}

// Tiles per block: V and M of a block (16 positions each) in ~256 KB, a multiple of 4 from 4 to 64.
function blockTiles(geo: Geometry2d, tiles: number): number {
  const KD2 = 2 * Math.ceil((pieces(geo.KH, geo.KW) * geo.C) / 2);
  const perTile = 16 * (2 * KD2 + 4 * Math.ceil(geo.K / 8) * 8);
  const mb = Math.max(4, Math.min(64, Math.floor(262144 / perTile / 4) * 4));
  return Math.min(mb, tiles);
}

/**
 * out (N, OH, OW, K) int8 <- the convolution of the int8 input at `inp` (N images, zero point za) with the
 * packed weight U and requantization block req; geom: `geo` written in wasm memory.
 */
export function qwinogradRun(
  out: number,
  inp: number,
  N: number,
  za: number,
  U: number,
  req: number,
  geo: Geometry2d,
  geom: number,
): void {
  const TW = Math.ceil(geo.OW / 2),
    tiles = Math.ceil(geo.OH / 2) * TW;
  const MB = blockTiles(geo, tiles);
  const work = N * tiles * 16 * pieces(geo.KH, geo.KW) * geo.C * geo.K;
  const ranges = taskRanges(N, tiles, work);
  const bytes = k().qwinograd_scratch_size(geom, MB);
  const inImg = geo.H * geo.W * geo.C,
    outImg = geo.OH * geo.OW * geo.K;
  withScratch(
    ranges.map(() => Math.ceil(bytes / 4)),
    (...scratch) =>
      runTasks(
        ranges.map(
          ([n0, nc, t0, t1], i): Task => [
            'qwinograd_forward',
            out + n0 * outImg,
            inp + n0 * inImg,
            U,
            req,
            scratch[i]!,
            geom,
            nc,
            MB,
            za,
            t0,
            t1,
          ],
        ),
        work,
      ),
    false,
  );
}
