// int8 GEMM and convolution: C (M, N) int8 = requant(bias + (A - za) (M, K) · B (K, N)), A int8 with zero
// point za (per tensor), B int8 symmetric per output column, int32 accumulation (exact: no rounding until
// requantization, see quant.ts). Both operands reach the inner loop already widened to i16, so it is
// loads, i32x4.dot_i16x8_s and adds only (no widening per use: A is read N/8 times, B M/4 times):
//
//   A: i16 rows (qim2col writes them; qwiden for a plain int8 matrix), the raw values (za is in the bias)
//   B: qgemm_pack's panels of 8 columns, k in pairs, made once per weight (the ops cache them):
//   panel q (columns 8q .. 8q+7):  [ bias' (8 x i32) | pair 0 (32 bytes) | pair 1 | ... | pair (K+1)/2 - 1 ]
//   pair p:  i16 lanes (B[2p][c], B[2p+1][c]) for c = 0..3, then for c = 4..7; zero where k >= K or c >= N
//   bias'[c] = bias[c] - za * sum_k B[k][c]      so the k loop multiplies raw A values: (a - za)·b summed
//
// The SIMD tile (4x8) splats one k pair of a row (v128.load32_splat) and multiplies it with the pair's
// two vectors of B by i32x4.dot_i16x8_s: 8 multiply-adds per instruction, 64 per pair of the tile, with
// 11 vector registers live (see: XNNPACK src/qs8-gemm, 4x4c2 wasmsimd-dot16x2). For odd K the last pair
// reads one i16 past A's row (2 bytes; callers leave them addressable), multiplied by B's zero padding.
// Integer sums are exact, so the scalar build and any cut of the rows give the same bits.
// Overflow: |bias'| + K * 128 * 127 must stay below 2^31 (K up to ~130,000).
// Convolution: the weight's window rows (KW*C values) are packed padded to even counts (qconv2d_pack); with
// dilation 1 along W the image is widened to i16 once with its padding and the tile reads each pixel's KH
// window rows from it (the direct path); otherwise im2col into i16 blocks of MB pixels, then qgemm.
// Layouts: inp (N, H, W, C), weight (KH, KW, C, K) int8 = the (KH*KW*C, K) matrix, out (N, OH, OW, K).

import { geometry, Geometry2d } from "../geometry";
import { req_mult, req_pow, requant1, requant4 } from "./quant";

// Bytes of qgemm_pack's output for a (K, N) matrix.
export function qgemm_pack_size(K: i32, N: i32): i32 {
  const n = <i64>((N + 7) >> 3) * (32 + (<i64>((K + 1) >> 1) << 5));
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// out: panels (see header); w int8 (K, N) row-major; bias i32 (N) or 0; za: A's zero point.
export function qgemm_pack(out: usize, w: usize, bias: usize, K: i32, N: i32, za: i32): void {
  pack_rows(out, w, bias, 1, K, N, za);
}

// Bytes of qconv2d_pack's output.
export function qconv2d_pack_size(KH: i32, span: i32, N: i32): i32 {
  return qgemm_pack_size(KH * (span + (span & 1)), N);
}

// out: the panels of a conv weight w int8 (KH, span = KW*C, N) with a zero row after each window row of
// odd span, so that no k pair straddles two window rows (the direct path reads each row on its own).
export function qconv2d_pack(out: usize, w: usize, bias: usize, KH: i32, span: i32, N: i32, za: i32): void {
  pack_rows(out, w, bias, KH, span, N, za);
}

// The panels of the (R*span, N) matrix w, each run of span rows padded to an even count with a zero row.
function pack_rows(out: usize, w: usize, bias: usize, R: i32, span: i32, N: i32, za: i32): void {
  const K = R * span, S2 = span + (span & 1);
  const KP = (R * S2) >> 1;
  for (let j0 = 0; j0 < N; j0 += 8) {
    const nc = min(8, N - j0);
    for (let c = 0; c < 8; c++) store<i32>(out + (<usize>c << 2), 0);
    for (let k = 0; k < K; k++) {
      const row = w + <usize>k * N + j0;
      for (let c = 0; c < nc; c++) store<i32>(out + (<usize>c << 2), load<i32>(out + (<usize>c << 2)) + <i32>load<i8>(row + c));
    }
    for (let c = 0; c < nc; c++) {
      const b = bias != 0 ? load<i32>(bias + (<usize>(j0 + c) << 2)) : 0;
      store<i32>(out + (<usize>c << 2), b - za * load<i32>(out + (<usize>c << 2)));
    }
    out += 32;
    for (let p = 0; p < KP; p++) {
      for (let r = 0; r < 2; r++) {
        const k2 = 2 * p + r;
        const rr = k2 / S2, s = k2 - rr * S2;
        const row = w + <usize>(rr * span + s) * N + j0;
        for (let c = 0; c < 8; c++) {
          const v: i16 = s < span && c < nc ? <i16>load<i8>(row + c) : 0;
          store<i16>(out + (<usize>(2 * c + r) << 1), v);
        }
      }
      out += 32;
    }
  }
}

// out i16 (n) <- inp int8 (n): the A operand of qgemm from an int8 matrix.
export function qwiden(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) v128.store(out + (<usize>i << 1), v128.load8x8_s(inp + <usize>i));
  }
  for (; i < n; i++) store<i16>(out + (<usize>i << 1), <i16>load<i8>(inp + <usize>i));
}

// c int8 (M, N), row stride ldc bytes; a i16 (M, K), row stride lda bytes (see header); w = qgemm_pack
// output; req: requantization block of N channels (quant.ts).
export function qgemm(c: usize, a: usize, w: usize, req: usize, M: i32, N: i32, K: i32, lda: i32, ldc: i32): void {
  const KP = (K + 1) >> 1;
  const panel: usize = 32 + (<usize>KP << 5);
  for (let i = 0; i < M; i += 4) {
    const mr = min(4, M - i);
    const ai = a + <usize>i * lda;
    const ci = c + <usize>i * ldc;
    let wq = w;
    for (let j = 0; j < N; j += 8) {
      const nc = min(8, N - j);
      if (ASC_FEATURE_SIMD) {
        // A single row (batch-1 dense, a block's last row) would compute its value four times in the 4x8 tile.
        if (mr == 1) qgemm_1x8_simd(nc, KP, ai, wq, req, j, N, ci + <usize>j);
        else qgemm_4x8_simd(mr, nc, KP, ai, <usize>lda, wq, req, j, N, ci + <usize>j, <usize>ldc);
      } else {
        qgemm_4x8_scalar(mr, nc, K, ai, <usize>lda, wq, req, j, N, ci + <usize>j, <usize>ldc);
      }
      wq += panel;
    }
  }
}

// Four accumulators of a row to 8 int8 values in the low half of a vector.
// @ts-ignore: decorator
@inline export function requant_row(x0123: v128, x4567: v128, vm0: v128, vm1: v128, vp0: v128, vp1: v128,
  vlo: v128, vhi: v128, vzp: v128): v128 {
  const r0 = requant4(x0123, vm0, vp0, vlo, vhi, vzp);
  const r1 = requant4(x4567, vm1, vp1, vlo, vhi, vzp);
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0));
}

// Stores the low nc (1..8) bytes of v at c.
// @ts-ignore: decorator
@inline export function store_tail(c: usize, v: v128, nc: i32): void {
  if (nc == 8) { v128.store64_lane(c, v, 0); return; }
  if (nc & 4) { v128.store32_lane(c, v, 0); v = v128.shuffle<u32>(v, v, 1, 2, 3, 3); c += 4; }
  if (nc & 2) { v128.store16_lane(c, v, 0); v = v128.shuffle<u16>(v, v, 1, 2, 3, 4, 5, 6, 7, 7); c += 2; }
  if (nc & 1) v128.store8_lane(c, v, 0);
}

// One 4x8 tile over KP pairs of k; rows past mr alias the previous row (same values, stored twice).
// @ts-ignore: decorator
@inline function qgemm_4x8_simd(mr: i32, nc: i32, KP: i32, a0: usize, lda: usize, w: usize, req: usize, j: i32,
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
  for (let p = 0; p < KP; p++) {
    const vb0123 = v128.load(w), vb4567 = v128.load(w, 16);
    let va = v128.load32_splat(a0);
    vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va, vb0123));
    vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va, vb4567));
    va = v128.load32_splat(a1);
    vacc1x0123 = i32x4.add(vacc1x0123, i32x4.dot_i16x8_s(va, vb0123));
    vacc1x4567 = i32x4.add(vacc1x4567, i32x4.dot_i16x8_s(va, vb4567));
    va = v128.load32_splat(a2);
    vacc2x0123 = i32x4.add(vacc2x0123, i32x4.dot_i16x8_s(va, vb0123));
    vacc2x4567 = i32x4.add(vacc2x4567, i32x4.dot_i16x8_s(va, vb4567));
    va = v128.load32_splat(a3);
    vacc3x0123 = i32x4.add(vacc3x0123, i32x4.dot_i16x8_s(va, vb0123));
    vacc3x4567 = i32x4.add(vacc3x4567, i32x4.dot_i16x8_s(va, vb4567));
    w += 32; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
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

// One row of the 4x8 tile: the same sums.
// @ts-ignore: decorator
@inline function qgemm_1x8_simd(nc: i32, KP: i32, a0: usize, w: usize, req: usize, j: i32, N: i32, c0: usize): void {
  let vacc0x0123 = v128.load(w), vacc0x4567 = v128.load(w, 16);
  let vacc1x0123 = i32x4.splat(0), vacc1x4567 = i32x4.splat(0);
  w += 32;
  let p = 0;
  // two independent sums (even and odd pairs) for the adds' latency; integer adds commute exactly
  for (; p + 2 <= KP; p += 2) {
    const va0 = v128.load32_splat(a0), va1 = v128.load32_splat(a0, 4);
    vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va0, v128.load(w)));
    vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va0, v128.load(w, 16)));
    vacc1x0123 = i32x4.add(vacc1x0123, i32x4.dot_i16x8_s(va1, v128.load(w, 32)));
    vacc1x4567 = i32x4.add(vacc1x4567, i32x4.dot_i16x8_s(va1, v128.load(w, 48)));
    w += 64; a0 += 8;
  }
  if (p < KP) {
    const va0 = v128.load32_splat(a0);
    vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va0, v128.load(w)));
    vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va0, v128.load(w, 16)));
  }
  vacc0x0123 = i32x4.add(vacc0x0123, vacc1x0123);
  vacc0x4567 = i32x4.add(vacc0x4567, vacc1x4567);
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
      let wp = w + 32 + (<usize>jj << 2);
      for (let k = 0; k < K; k += 2) {
        acc += <i32>load<i16>(ar + (<usize>k << 1)) * <i32>load<i16>(wp);
        if (k + 1 < K) acc += <i32>load<i16>(ar + (<usize>k << 1), 2) * <i32>load<i16>(wp, 2);
        wp += 32;
      }
      const jB = <usize>jj << 2;
      store<i8>(cr + <usize>jj, <i8>requant1(acc, load<i32>(pm + jB), load<i32>(pp + jB), lo, hi, zp));
    }
  }
}

// dst i16 (n) <- src int8 (n).
// @ts-ignore: decorator
@inline function widen(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) v128.store(dst + (<usize>i << 1), v128.load8x8_s(src + <usize>i));
  }
  for (; i < n; i++) store<i16>(dst + (<usize>i << 1), <i16>load<i8>(src + <usize>i));
}

// dst i16 (n) <- v.
// @ts-ignore: decorator
@inline function fill16(dst: usize, v: i32, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vv = i16x8.splat(<i16>v);
    for (; i + 8 <= n; i += 8) v128.store(dst + (<usize>i << 1), vv);
  }
  for (; i < n; i++) store<i16>(dst + (<usize>i << 1), <i16>v);
}

// cols i16 (mb, KH*S2) <- patches of output pixels m0 .. m0+mb of image img (S2: KW*C rounded up to even,
// as qconv2d_pack); taps in the padding read za.
// A window row inside the image (dilation 1) is KW*C contiguous bytes: one widening copy.
function qim2col(cols: usize, img: usize, m0: i32, mb: i32, geom: usize, za: i32): void {
  const g = geometry(geom);
  const C = g.C, H = g.H, W = g.W, KH = g.KH, KW = g.KW, DH = g.DH, DW = g.DW, OW = g.OW;
  const span = KW * C;
  let oh = m0 / OW;
  let ow = m0 - oh * OW;
  for (let m = 0; m < mb; m++) {
    const ih0 = oh * g.SH - g.PT, iw0 = ow * g.SW - g.PL;
    const whole = DW == 1 && iw0 >= 0 && iw0 + KW <= W;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * DH;
      if (ih < 0 || ih >= H) {
        fill16(cols, za, span);
      } else if (whole) {
        widen(cols, img + <usize>(ih * W + iw0) * C, span);
      } else {
        for (let kw = 0; kw < KW; kw++) {
          const iw = iw0 + kw * DW;
          const dst = cols + (<usize>(kw * C) << 1);
          if (iw >= 0 && iw < W) widen(dst, img + <usize>(ih * W + iw) * C, C);
          else fill16(dst, za, C);
        }
      }
      if (span & 1) store<i16>(cols + (<usize>span << 1), 0); // the zero row's tap
      cols += <usize>(span + (span & 1)) << 1;
    }
    if (++ow == OW) { ow = 0; oh++; }
  }
}

// The direct path: when a window row is KW*C contiguous input values (dilation 1 along W), the image is
// widened to i16 once, with its padding (taps outside read za) as rows and columns of its own, and the
// tile reads every pixel's window rows from it: KH runs of S2/2 pairs, no im2col. An odd row's last
// pair reads one value past it (the next column, hence one more padded column) times the zero row.
// @ts-ignore: decorator
@inline function direct(g: Geometry2d): bool {
  return g.DW == 1;
}

// Rows and columns of the padded image the direct path reads: as far as the last window reaches.
// @ts-ignore: decorator
@inline function padded_h(g: Geometry2d): i32 {
  return (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
}
// @ts-ignore: decorator
@inline function padded_w(g: Geometry2d): i32 {
  return (g.OW - 1) * g.SW + g.KW + ((g.KW * g.C) & 1);
}

// Bytes of qconv2d_forward's scratch (per task) for blocks of MB output pixels: the padded i16 image on
// the direct path, else MB im2col rows (with the 2 bytes an odd KH*KW*C's last pair reads past them).
export function qconv2d_scratch_size(geom: usize, MB: i32): i32 {
  const g = geometry(geom);
  const n = direct(g)
    ? ((<i64>padded_h(g) * <i64>padded_w(g) * <i64>g.C) << 1) + 4
    : ((<i64>MB * <i64>g.KH * <i64>(g.KW * g.C + ((g.KW * g.C) & 1))) << 1) + 4;
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// pad i16 (Hp, Wp, C) <- img int8 (H, W, C) shifted by (PT, PL), za outside the image.
function qpad_widen(pad: usize, img: usize, g: Geometry2d, za: i32): void {
  const C = g.C, Hp = padded_h(g), Wp = padded_w(g);
  const left = min(g.PL, Wp);
  const width = max(0, min(g.W, Wp - g.PL)); // image columns the windows reach
  const right = Wp - left - width;
  for (let r = 0; r < Hp; r++) {
    const ih = r - g.PT;
    if (ih < 0 || ih >= g.H) {
      fill16(pad, za, Wp * C);
    } else {
      fill16(pad, za, left * C);
      widen(pad + (<usize>(left * C) << 1), img + <usize>(ih * g.W) * C, width * C);
      fill16(pad + (<usize>((left + width) * C) << 1), za, right * C);
    }
    pad += <usize>(Wp * C) << 1;
  }
}

// One 4x8 tile of the direct path: rows are output pixels whose windows start at a0..a3 in the padded
// image, KH runs of SP pairs each, rs bytes apart; rows past mr alias the previous one.
// @ts-ignore: decorator
@inline function qconv_4x8_simd(mr: i32, nc: i32, KH: i32, SP: i32, rs: usize, a0: usize, a1: usize, a2: usize,
  a3: usize, w: usize, req: usize, j: i32, N: i32, c0: usize, ldc: usize): void {
  let c1 = c0 + ldc;
  if (mr < 2) { a1 = a0; c1 = c0; }
  let c2 = c1 + ldc;
  if (mr <= 2) { a2 = a1; c2 = c1; }
  let c3 = c2 + ldc;
  if (mr != 4) { a3 = a2; c3 = c2; }
  let vacc0x0123 = v128.load(w), vacc0x4567 = v128.load(w, 16);
  let vacc1x0123 = vacc0x0123, vacc1x4567 = vacc0x4567;
  let vacc2x0123 = vacc0x0123, vacc2x4567 = vacc0x4567;
  let vacc3x0123 = vacc0x0123, vacc3x4567 = vacc0x4567;
  w += 32;
  for (let kh = 0; kh < KH; kh++) {
    let b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    for (let p = 0; p < SP; p++) {
      const vb0123 = v128.load(w), vb4567 = v128.load(w, 16);
      let va = v128.load32_splat(b0);
      vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va, vb0123));
      vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va, vb4567));
      va = v128.load32_splat(b1);
      vacc1x0123 = i32x4.add(vacc1x0123, i32x4.dot_i16x8_s(va, vb0123));
      vacc1x4567 = i32x4.add(vacc1x4567, i32x4.dot_i16x8_s(va, vb4567));
      va = v128.load32_splat(b2);
      vacc2x0123 = i32x4.add(vacc2x0123, i32x4.dot_i16x8_s(va, vb0123));
      vacc2x4567 = i32x4.add(vacc2x4567, i32x4.dot_i16x8_s(va, vb4567));
      va = v128.load32_splat(b3);
      vacc3x0123 = i32x4.add(vacc3x0123, i32x4.dot_i16x8_s(va, vb0123));
      vacc3x4567 = i32x4.add(vacc3x4567, i32x4.dot_i16x8_s(va, vb4567));
      w += 32; b0 += 4; b1 += 4; b2 += 4; b3 += 4;
    }
    a0 += rs; a1 += rs; a2 += rs; a3 += rs;
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

// One output pixel's nc channels of the direct path without SIMD (the scalar build's path).
// @ts-ignore: decorator
@inline function qconv_1xn_scalar(nc: i32, KH: i32, span: i32, rs: usize, a: usize, w: usize, req: usize, j: i32,
  N: i32, c: usize): void {
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req) + (<usize>j << 2), pp = req_pow(req, N) + (<usize>j << 2);
  for (let jj = 0; jj < nc; jj++) {
    let acc = load<i32>(w + (<usize>jj << 2));
    let wp = w + 32 + (<usize>jj << 2);
    let ar = a;
    for (let kh = 0; kh < KH; kh++) {
      for (let k = 0; k < span; k += 2) {
        acc += <i32>load<i16>(ar + (<usize>k << 1)) * <i32>load<i16>(wp);
        acc += <i32>load<i16>(ar + (<usize>k << 1), 2) * <i32>load<i16>(wp, 2);
        wp += 32;
      }
      ar += rs;
    }
    const jB = <usize>jj << 2;
    store<i8>(c + <usize>jj, <i8>requant1(acc, load<i32>(pm + jB), load<i32>(pp + jB), lo, hi, zp));
  }
}

// Byte address in the padded image (Wp columns) of output pixel m's window.
// @ts-ignore: decorator
@inline function window_at(pad: usize, g: Geometry2d, Wp: i32, m: i32): usize {
  const oh = m / g.OW, ow = m - oh * g.OW;
  return pad + (<usize>((oh * g.SH * Wp + ow * g.SW) * g.C) << 1);
}

// Output pixels p0 .. p1-1 of one image on the direct path (pad: the padded i16 image).
function qconv_direct(o: usize, pad: usize, w: usize, req: usize, g: Geometry2d, p0: i32, p1: i32): void {
  const C = g.C, K = g.K, Wp = padded_w(g);
  const span = g.KW * C + ((g.KW * C) & 1); // with the zero row's tap
  const rs = <usize>(g.DH * Wp * C) << 1;
  const panel: usize = 32 + (<usize>((g.KH * span) >> 1) << 5);
  // Small weights (all panels within 16 KB, as 1x1 layers over few channels have): four pixels at a time
  // through every panel, so the widened image is read once; else panel by panel (one panel stays in L1
  // while the pixels go by). Tiles' rows past the last pixel alias the one before (never read).
  const pixelsFirst = ASC_FEATURE_SIMD && <usize>((K + 7) >> 3) * panel <= 16384;
  const J = pixelsFirst ? 1 : (K + 7) >> 3;
  for (let jo = 0; jo < J; jo++) {
    for (let m = p0; m < p1; m += 4) {
      const mr = min(4, p1 - m);
      if (ASC_FEATURE_SIMD) {
        const a0 = window_at(pad, g, Wp, m), a1 = window_at(pad, g, Wp, m + 1);
        const a2 = window_at(pad, g, Wp, m + 2), a3 = window_at(pad, g, Wp, m + 3);
        const j0 = pixelsFirst ? 0 : jo << 3, j1 = pixelsFirst ? K : min(K, j0 + 8);
        let wq = w + <usize>(j0 >> 3) * panel;
        for (let j = j0; j < j1; j += 8) {
          qconv_4x8_simd(mr, min(8, K - j), g.KH, span >> 1, rs, a0, a1, a2, a3, wq, req, j, K, o + <usize>m * K + <usize>j, <usize>K);
          wq += panel;
        }
      } else {
        const j = jo << 3, wq = w + <usize>jo * panel;
        for (let r = 0; r < mr; r++)
          qconv_1xn_scalar(min(8, K - j), g.KH, span, rs, window_at(pad, g, Wp, m + r), wq, req, j, K, o + <usize>(m + r) * K + <usize>j);
      }
    }
  }
}

// out int8 (N, OH, OW, K) <- conv of inp int8 (N, H, W, C) (zero point za) with w = qconv2d_pack of the
// (KH, KW*C, K) weight (za folded in); scratch: qconv2d_scratch_size(geom, MB) bytes; groups must be 1.
// Only output pixels p0 .. p1-1 of each image (every pixel is computed on its own, so a cut of the
// pixels gives the same bits: this lets a batch of one use several threads).
export function qconv2d_forward(out: usize, inp: usize, w: usize, req: usize, scratch: usize, geom: usize, N: i32,
  MB: i32, za: i32, p0: i32, p1: i32): void {
  const g = geometry(geom);
  const KK = g.KH * (g.KW * g.C + ((g.KW * g.C) & 1));
  const inImg = <usize>g.H * g.W * g.C, outImg = <usize>g.OH * g.OW * g.K;
  const dir = direct(g);
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * inImg, o = out + <usize>n * outImg;
    if (dir) {
      qpad_widen(scratch, img, g, za);
      qconv_direct(o, scratch, w, req, g, p0, p1);
      continue;
    }
    for (let m0 = p0; m0 < p1; m0 += MB) {
      const mb = min(MB, p1 - m0);
      qim2col(scratch, img, m0, mb, geom, za);
      qgemm(o + <usize>m0 * g.K, scratch, w, req, mb, g.K, KK, KK << 1, g.K);
    }
  }
}
