// int8 convolution by integer Winograd (assembly/kernels/qwinograd.ts): exact, so it gives the same bits as
// the direct int8 kernel. F(2x2, 3x3) takes 16 multiplies per 2x2 outputs and 3x3 piece instead of 36 (other
// kernels are cut into 3x3 pieces); a 5x5 kernel over up to 328 channels runs as F(4, 5) along the rows
// instead, 40 multiplies per 4 outputs instead of 100. qconv2d takes it where it applies and pays.
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
 * and 16+ output channels, for 3x3 kernels over 16+ input channels (16 multiplies for 36), 5x5 ones over 8 to
 * 328 (F(4, 5) along the rows: 40 for 100) and over 32+ beyond (four pieces: 64 for 100); with fewer channels
 * the transforms cost more than the multiplies saved. Measured against the direct int8 kernel on one thread:
 * 3x3 over 8 channels 0.7x, 16 1.1x, 32-512 1.5-2.2x; 5x5 along the rows over 4 channels 1.1x, 8 1.4x, 16
 * 1.6-1.9x, 32-128 2.1-2.3x; as pieces over 16 channels 0.8x, 32 1.55x.
 */
export function qwinogradPays(geo: Geometry2d): boolean {
  if (qwinogradRefusal(geo) !== null || Math.min(geo.OH, geo.OW) < 4 || geo.K < 16) return false;
  if (geo.KH === 3 && geo.KW === 3) return geo.C >= 16;
  if (byRows(geo.KH, geo.KW, geo.C)) return geo.C >= 8;
  return geo.KH === 5 && geo.KW === 5 && geo.C >= 32;
}

/**
 * The weight w (KH, KW, C, K) int8 at `wPtr` transformed and packed for the kernel, with the quantized
 * bias (null: none). The caller owns (and disposes) the tensor.
 */
export function qwinogradPack(wPtr: number, shape: readonly number[], bias: Int32Array | null): Tensor {
  const [KH, KW, C, K] = shape as [number, number, number, number];
  const rows = byRows(KH, KW, C);
  const bytes = rows ? k().qwinograd45_pack_size(C, K) : k().qwinograd_pack_size(KH, KW, C, K);
  const U = new Tensor([Math.ceil(bytes / 4)], 'int32', false);
  if (rows) k().qwinograd45_pack(U.ptr, wPtr, 0, C, K);
  else k().qwinograd_pack(U.ptr, wPtr, 0, KH, KW, C, K);
  if (bias)
    getArena()
      .i32()
      .set(bias, U.ptr >>> 2);
  return U;
}

// Whether a kernel runs as F(4, 5) along the rows: 5x5, and 8 * (the largest sum) within int32, which its
// exact division by 360 needs (|x - za| <= 255, |w| <= 128: C up to 328).
function byRows(KH: number, KW: number, C: number): boolean {
  return KH === 5 && KW === 5 && 8 * 25 * C * 255 * 128 < 2 ** 31;
}

// Output rows per block of the F(4, 5) rows form: V and M of a block (8 positions each) in ~256 KB, 1 to 64.
function blockRows45(geo: Geometry2d): number {
  const TW = Math.ceil(geo.OW / 4),
    C2 = 2 * Math.ceil(geo.C / 2),
    K8 = 8 * Math.ceil(geo.K / 8);
  const perRow = 8 * TW * (2 * C2 + 4 * K8);
  return Math.max(1, Math.min(64, geo.OH, Math.floor(262144 / perRow) - 4));
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
  if (byRows(geo.KH, geo.KW, geo.C)) {
    rows45(out, inp, N, za, U, req, geo, geom);
    return;
  }
  const TW = Math.ceil(geo.OW / 2),
    tiles = Math.ceil(geo.OH / 2) * TW;
  const MB = blockTiles(geo, tiles);
  const work = N * tiles * 16 * pieces(geo.KH, geo.KW) * geo.C * geo.K;
  const ranges = taskRanges(N, tiles, work);
  const bytes = k().qwinograd_scratch_size(geom, MB);
  runForward('qwinograd_forward', ranges, bytes, work, [out, inp, U, req, za, MB], geo, geom);
}

// The tasks of a forward kernel, one scratch block each, over images or parts ([n0, images, from, to]) of them.
function runForward(
  kernel: 'qwinograd_forward' | 'qwinograd45_forward',
  ranges: Array<[number, number, number, number]>,
  bytes: number,
  work: number,
  [out, inp, U, req, za, block]: number[],
  geo: Geometry2d,
  geom: number,
): void {
  const inImg = geo.H * geo.W * geo.C,
    outImg = geo.OH * geo.OW * geo.K;
  withScratch(
    ranges.map(() => Math.ceil(bytes / 4)),
    (...scratch) =>
      runTasks(
        ranges.map(
          ([n0, nc, from, to], i): Task => [
            kernel,
            out! + n0 * outImg,
            inp! + n0 * inImg,
            U!,
            req!,
            scratch[i]!,
            geom,
            nc,
            block!,
            za!,
            from,
            to,
          ],
        ),
        work,
      ),
    false,
  );
}

// The F(4, 5) rows form of qwinogradRun: tasks over images, or over output rows of a small batch's images.
function rows45(
  out: number,
  inp: number,
  N: number,
  za: number,
  U: number,
  req: number,
  geo: Geometry2d,
  geom: number,
) {
  const RB = blockRows45(geo);
  const work = N * geo.OH * geo.OW * 40 * geo.C * geo.K;
  const ranges = taskRanges(N, geo.OH, work);
  runForward(
    'qwinograd45_forward',
    ranges,
    k().qwinograd45_scratch_size(geom, RB),
    work,
    [out, inp, U, req, za, RB],
    geo,
    geom,
  );
}
