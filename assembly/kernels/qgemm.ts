// int8 GEMM and convolution: C (M, N) int8 = requant(bias + (A - za) (M, K) · B (K, N)), A int8 with zero
// point za (per tensor), B int8 symmetric per output column, int32 accumulation (exact: no rounding until
// requantization, see quant.ts). B is packed (qgemm_pack) into panels of 8 columns, k in pairs:
//
//   panel q (columns 8q .. 8q+7):  [ bias' (8 x i32) | pair 0 (16 bytes) | pair 1 | ... | pair (K+1)/2 - 1 ]
//   pair p:  B[2p][c], B[2p+1][c] for c = 0..7   (byte 2c + (k & 1)); zero where k >= K or column >= N
//   bias'[c] = bias[c] - za * sum_k B[k][c]      so the k loop multiplies raw A values: (a - za)·b summed
//
// The SIMD tile (4x8) splats one k pair of a row (v128.load16_splat, widened to i16) and multiplies it with
// a pair of B's eight columns by i32x4.dot_i16x8_s: 8 multiply-adds per instruction (see: XNNPACK
// src/qs8-gemm, 4x4c2 wasmsimd-dot16x2). For odd K the last pair reads one byte past A's row, multiplied
// by B's zero padding. Integer sums are exact, so the scalar build gives the same bits.
// Overflow: |bias'| + K * 128 * 127 must stay below 2^31 (K up to ~130,000).
// Convolution: im2col into int8 blocks of MB output pixels (padding taps read as za), then qgemm.
// Layouts: inp (N, H, W, C), weight (KH, KW, C, K) int8 = the (KH*KW*C, K) matrix, out (N, OH, OW, K).

import { geometry } from "../geometry";
import { req_mult, req_pow, requant1, requant4 } from "./quant";

// Bytes of qgemm_pack's output for a (K, N) matrix.
export function qgemm_pack_size(K: i32, N: i32): i32 {
  const n = <i64>((N + 7) >> 3) * (32 + (<i64>((K + 1) >> 1) << 4));
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// out: panels (see header); w int8 (K, N) row-major; bias i32 (N) or 0; za: A's zero point.
export function qgemm_pack(out: usize, w: usize, bias: usize, K: i32, N: i32, za: i32): void {
  const KP = (K + 1) >> 1;
  for (let j0 = 0; j0 < N; j0 += 8) {
    const nc = min(8, N - j0);
    for (let c = 0; c < 8; c++) {
      let b = 0;
      if (c < nc) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += <i32>load<i8>(w + <usize>k * N + j0 + c);
        b = (bias != 0 ? load<i32>(bias + (<usize>(j0 + c) << 2)) : 0) - za * sum;
      }
      store<i32>(out + (<usize>c << 2), b);
    }
    out += 32;
    for (let p = 0; p < KP; p++) {
      for (let r = 0; r < 2; r++) {
        const k = 2 * p + r;
        const row = w + <usize>k * N + j0;
        for (let c = 0; c < 8; c++) store<i8>(out + <usize>(2 * c + r), k < K && c < nc ? load<i8>(row + c) : 0);
      }
      out += 16;
    }
  }
}

// c int8 (M, N), row stride ldc bytes; a int8 (M, K), row stride lda bytes; w = qgemm_pack output;
// req: requantization block of N channels (quant.ts).
export function qgemm(c: usize, a: usize, w: usize, req: usize, M: i32, N: i32, K: i32, lda: i32, ldc: i32): void {
  const panel: usize = 32 + (<usize>((K + 1) >> 1) << 4);
  for (let i = 0; i < M; i += 4) {
    const mr = min(4, M - i);
    const ai = a + <usize>i * lda;
    const ci = c + <usize>i * ldc;
    let wq = w;
    for (let j = 0; j < N; j += 8) {
      const nc = min(8, N - j);
      if (ASC_FEATURE_SIMD) {
        // A single row (batch-1 dense, a block's last row) would compute its value four times in the 4x8 tile.
        if (mr == 1) qgemm_1x8_simd(nc, K, ai, wq, req, j, N, ci + <usize>j);
        else qgemm_4x8_simd(mr, nc, K, ai, <usize>lda, wq, req, j, N, ci + <usize>j, <usize>ldc);
      } else {
        qgemm_4x8_scalar(mr, nc, K, ai, <usize>lda, wq, req, j, N, ci + <usize>j, <usize>ldc);
      }
      wq += panel;
    }
  }
}

// Four accumulators of a row to 8 int8 values in the low half of a vector.
// @ts-ignore: decorator
@inline function requant_row(x0123: v128, x4567: v128, vm0: v128, vm1: v128, vp0: v128, vp1: v128,
  vlo: v128, vhi: v128, vzp: v128): v128 {
  const r0 = requant4(x0123, vm0, vp0, vlo, vhi, vzp);
  const r1 = requant4(x4567, vm1, vp1, vlo, vhi, vzp);
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0));
}

// Stores the low nc (1..8) bytes of v at c.
// @ts-ignore: decorator
@inline function store_tail(c: usize, v: v128, nc: i32): void {
  if (nc == 8) { v128.store64_lane(c, v, 0); return; }
  if (nc & 4) { v128.store32_lane(c, v, 0); v = v128.shuffle<u32>(v, v, 1, 2, 3, 3); c += 4; }
  if (nc & 2) { v128.store16_lane(c, v, 0); v = v128.shuffle<u16>(v, v, 1, 2, 3, 4, 5, 6, 7, 7); c += 2; }
  if (nc & 1) v128.store8_lane(c, v, 0);
}

// One 4x8 tile; rows past mr alias the previous row (same values, stored twice).
// @ts-ignore: decorator
@inline function qgemm_4x8_simd(mr: i32, nc: i32, K: i32, a0: usize, lda: usize, w: usize, req: usize, j: i32,
  N: i32, c0: usize, ldc: usize): void {
  let a1 = a0 + lda; let c1 = c0 + ldc;
  if (mr < 2) { a1 = a0; c1 = c0; }
  let a2 = a1 + lda; let c2 = c1 + ldc;
  if (mr <= 2) { a2 = a1; c2 = c1; }
  let a3 = a2 + lda; let c3 = c2 + ldc;
  if (mr != 4) { a3 = a2; c3 = c2; }

  let vacc0x0123 = v128.load(w), vacc0x4567 = v128.load(w, 16);
  let vacc1x0123 = vacc0x0123, vacc1x4567 = vacc0x4567;
  let vacc2x0123 = vacc0x0123, vacc2x4567 = vacc0x4567;
  let vacc3x0123 = vacc0x0123, vacc3x4567 = vacc0x4567;
  w += 32;
  for (let p = 0; p < K; p += 2) {
    const vb = v128.load(w);
    const vb0123 = i16x8.extend_low_i8x16_s(vb);
    const vb4567 = i16x8.extend_high_i8x16_s(vb);
    w += 16;
    const va0 = i16x8.extend_low_i8x16_s(v128.load16_splat(a0)); a0 += 2;
    const va1 = i16x8.extend_low_i8x16_s(v128.load16_splat(a1)); a1 += 2;
    const va2 = i16x8.extend_low_i8x16_s(v128.load16_splat(a2)); a2 += 2;
    const va3 = i16x8.extend_low_i8x16_s(v128.load16_splat(a3)); a3 += 2;
    vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va0, vb0123));
    vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va0, vb4567));
    vacc1x0123 = i32x4.add(vacc1x0123, i32x4.dot_i16x8_s(va1, vb0123));
    vacc1x4567 = i32x4.add(vacc1x4567, i32x4.dot_i16x8_s(va1, vb4567));
    vacc2x0123 = i32x4.add(vacc2x0123, i32x4.dot_i16x8_s(va2, vb0123));
    vacc2x4567 = i32x4.add(vacc2x4567, i32x4.dot_i16x8_s(va2, vb4567));
    vacc3x0123 = i32x4.add(vacc3x0123, i32x4.dot_i16x8_s(va3, vb0123));
    vacc3x4567 = i32x4.add(vacc3x4567, i32x4.dot_i16x8_s(va3, vb4567));
  }
  const zp = load<i32>(req);
  const vzp = i32x4.splat(zp), vlo = i32x4.splat(load<i32>(req, 4) - zp), vhi = i32x4.splat(load<i32>(req, 8) - zp);
  const pm = req_mult(req) + (<usize>j << 2), pp = req_pow(req, N) + (<usize>j << 2);
  const vm0 = v128.load(pm), vm1 = v128.load(pm, 16), vp0 = v128.load(pp), vp1 = v128.load(pp, 16);
  store_tail(c3, requant_row(vacc3x0123, vacc3x4567, vm0, vm1, vp0, vp1, vlo, vhi, vzp), nc);
  store_tail(c2, requant_row(vacc2x0123, vacc2x4567, vm0, vm1, vp0, vp1, vlo, vhi, vzp), nc);
  store_tail(c1, requant_row(vacc1x0123, vacc1x4567, vm0, vm1, vp0, vp1, vlo, vhi, vzp), nc);
  store_tail(c0, requant_row(vacc0x0123, vacc0x4567, vm0, vm1, vp0, vp1, vlo, vhi, vzp), nc);
}

// One row of the 4x8 tile: the same sums in the same order.
// @ts-ignore: decorator
@inline function qgemm_1x8_simd(nc: i32, K: i32, a0: usize, w: usize, req: usize, j: i32, N: i32, c0: usize): void {
  let vacc0x0123 = v128.load(w), vacc0x4567 = v128.load(w, 16);
  w += 32;
  for (let p = 0; p < K; p += 2) {
    const vb = v128.load(w);
    w += 16;
    const va0 = i16x8.extend_low_i8x16_s(v128.load16_splat(a0)); a0 += 2;
    vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va0, i16x8.extend_low_i8x16_s(vb)));
    vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va0, i16x8.extend_high_i8x16_s(vb)));
  }
  const zp = load<i32>(req);
  const vzp = i32x4.splat(zp), vlo = i32x4.splat(load<i32>(req, 4) - zp), vhi = i32x4.splat(load<i32>(req, 8) - zp);
  const pm = req_mult(req) + (<usize>j << 2), pp = req_pow(req, N) + (<usize>j << 2);
  store_tail(c0, requant_row(vacc0x0123, vacc0x4567, v128.load(pm), v128.load(pm, 16), v128.load(pp), v128.load(pp, 16),
    vlo, vhi, vzp), nc);
}

// The same tile without SIMD, element by element (the scalar build's path).
// @ts-ignore: decorator
@inline function qgemm_4x8_scalar(mr: i32, nc: i32, K: i32, a0: usize, lda: usize, w: usize, req: usize, j: i32,
  N: i32, c0: usize, ldc: usize): void {
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req) + (<usize>j << 2), pp = req_pow(req, N) + (<usize>j << 2);
  for (let r = 0; r < mr; r++) {
    const ar = a0 + <usize>r * lda;
    const cr = c0 + <usize>r * ldc;
    for (let jj = 0; jj < nc; jj++) {
      let acc = load<i32>(w + (<usize>jj << 2));
      let wp = w + 32 + <usize>(2 * jj);
      for (let p = 0; p < K; p += 2) {
        acc += <i32>load<i8>(ar + <usize>p) * <i32>load<i8>(wp);
        if (p + 1 < K) acc += <i32>load<i8>(ar + <usize>p + 1) * <i32>load<i8>(wp, 1);
        wp += 16;
      }
      const jB = <usize>jj << 2;
      store<i8>(cr + <usize>jj, <i8>requant1(acc, load<i32>(pm + jB), load<i32>(pp + jB), lo, hi, zp));
    }
  }
}

// cols int8 (mb, KH*KW*C) <- patches of output pixels m0 .. m0+mb of image img; taps in the padding read za.
function qim2col(cols: usize, img: usize, m0: i32, mb: i32, geom: usize, za: i32): void {
  const g = geometry(geom);
  const C = <usize>g.C;
  for (let m = m0; m < m0 + mb; m++) {
    const oh = m / g.OW;
    const ow = m - oh * g.OW;
    for (let kh = 0; kh < g.KH; kh++) {
      const ih = oh * g.SH - g.PT + kh * g.DH;
      for (let kw = 0; kw < g.KW; kw++) {
        const iw = ow * g.SW - g.PL + kw * g.DW;
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) {
          memory.copy(cols, img + <usize>(ih * g.W + iw) * C, C);
        } else {
          memory.fill(cols, <u8>za, C);
        }
        cols += C;
      }
    }
  }
}

// out int8 (N, OH, OW, K) <- conv of inp int8 (N, H, W, C) (zero point za) with w = qgemm_pack of the
// (KH*KW*C, K) weight (za folded in); cols: scratch of MB * KH*KW*C bytes; groups must be 1.
// Only output pixels p0 .. p1-1 of each image (every pixel is computed on its own, so a cut of the
// pixels gives the same bits: this lets a batch of one use several threads).
// 1x1 windows at stride 1 without padding read the image as the GEMM's A directly.
export function qconv2d_forward(out: usize, inp: usize, w: usize, req: usize, cols: usize, geom: usize, N: i32,
  MB: i32, za: i32, p0: i32, p1: i32): void {
  const g = geometry(geom);
  const KK = g.KH * g.KW * g.C;
  const direct = g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.OH == g.H && g.OW == g.W;
  const inImg = <usize>g.H * g.W * g.C, outImg = <usize>g.OH * g.OW * g.K;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * inImg, o = out + <usize>n * outImg;
    if (direct) {
      qgemm(o + <usize>p0 * g.K, img + <usize>p0 * g.C, w, req, p1 - p0, g.K, KK, g.C, g.K);
      continue;
    }
    for (let m0 = p0; m0 < p1; m0 += MB) {
      const mb = min(MB, p1 - m0);
      qim2col(cols, img, m0, mb, geom, za);
      qgemm(o + <usize>m0 * g.K, cols, w, req, mb, g.K, KK, KK, g.K);
    }
  }
}
