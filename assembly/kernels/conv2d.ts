// 2-D convolution (cross-correlation, zero padding) as im2col + GEMM, forward and backward.
// Layouts: inp (N, H, W, C), weight (KH, KW, C, K) — Keras' layout, so weight is already the
// (KH*KW*C, K) GEMM matrix — out (N, OH, OW, K). S = strides, PT/PL = top/left padding; all of these
// but N come in one Geometry2d struct (`geom`, assembly/geometry.ts).
// im2col works on a block of MB output pixels at a time (never the whole image or batch), so the
// `cols` scratch (MB, KH*KW*C) stays in cache between being written and read by the GEMM:
//
//   cols row m (output pixel oh,ow):  [ x(ih0,iw0,0..C) | x(ih0,iw0+1,0..C) | ... ]   KH*KW taps of C,
//                                      zeros for taps that fall into the padding
//
// Backward functions ACCUMULATE into dinp / dweight / dbias; the caller zeroes them once per step.

import { gemm, pack_b, GEMM_ACC, GEMM_RELU } from "./gemm";
import { geometry } from "../geometry";
import { add_into, bias_backward } from "./elementwise";

// cols (MB, KH*KW*C) <- patches of output pixels m0 .. m0+mb of image `img`.
// Within one kernel row kh the KW taps are neighbouring pixels, i.e. one contiguous span of KW*C
// floats of the image (less what falls into the left/right padding), so each (pixel, kh) is one
// span copy plus zero fills, not KW small copies (for C = 1 those were 4-byte memory.copy calls).
function im2col(cols: usize, img: usize, m0: i32, mb: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OW: i32): void {
  const rowB = <usize>C << 2;
  const spanB = <usize>KW * rowB;
  for (let m = m0; m < m0 + mb; m++) {
    const oh = m / OW;
    const ow = m - oh * OW;
    const iw0 = ow * SW - PL;
    // taps kw in [lo, hi) fall inside the image
    const lo = max(0, -iw0);
    const hi = min(KW, W - iw0);
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * SH - PT + kh;
      if (ih < 0 || ih >= H || lo >= hi) {
        zero_span(cols, spanB);
      } else {
        if (lo > 0) zero_span(cols, <usize>lo * rowB);
        copy_span(cols + <usize>lo * rowB, img + (<usize>(ih * W + iw0 + lo) * rowB), <usize>(hi - lo) * rowB);
        if (hi < KW) zero_span(cols + <usize>hi * rowB, <usize>(KW - hi) * rowB);
      }
      cols += spanB;
    }
  }
}

// dimg += scatter of dcols (MB, KH*KW*C) back onto the image; taps in the padding are dropped.
function col2im(dimg: usize, dcols: usize, m0: i32, mb: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OW: i32): void {
  const rowB = <usize>C << 2;
  for (let m = m0; m < m0 + mb; m++) {
    const oh = m / OW;
    const ow = m - oh * OW;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * SH - PT + kh;
      for (let kw = 0; kw < KW; kw++) {
        const iw = ow * SW - PL + kw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
          add_into(dimg + (<usize>(ih * W + iw) * rowB), dcols, C);
        }
        dcols += rowB;
      }
    }
  }
}

// memory.copy/fill become calls out of wasm in V8 (~4 ns each), too dear for spans of a few dozen
// bytes, so spans are moved with v128 loads/stores (unaligned is fine in wasm) and a 4-byte tail.
// Both builds move the same bytes; only the move width differs.
// @ts-ignore: decorator
@inline function copy_span(dst: usize, src: usize, bytes: usize): void {
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) {
    for (; o + 16 <= bytes; o += 16) v128.store(dst + o, v128.load(src + o));
  }
  for (; o < bytes; o += 4) store<u32>(dst + o, load<u32>(src + o));
}

// @ts-ignore: decorator
@inline function zero_span(dst: usize, bytes: usize): void {
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const z = i32x4.splat(0);
    for (; o + 16 <= bytes; o += 16) v128.store(dst + o, z);
  }
  for (; o < bytes; o += 4) store<u32>(dst + o, 0);
}

// out (N,OH,OW,K) = conv(inp, weight) + bias, relu if `relu`.
// wpack: pack_b_size(KH*KW*C, K) floats of scratch; cols: MB*KH*KW*C floats of scratch.
export function conv2d_forward(out: usize, inp: usize, weight: usize, bias: usize, wpack: usize, cols: usize,
  geom: usize, N: i32, MB: i32, relu: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  const KK = KH * KW * C;
  pack_b(wpack, weight, bias, KK, K, K, 1);
  const flags = relu ? GEMM_RELU : 0;
  // 1x1, stride 1, no padding: the image already is the im2col matrix.
  const direct = KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W;
  const M = OH * OW;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * H * W * C) << 2);
    const oimg = out + (<usize>(n * M * K) << 2);
    if (direct) {
      gemm(oimg, img, wpack, M, K, KK, KK, 1, K, flags);
      continue;
    }
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      im2col(cols, img, m0, mb, H, W, C, KH, KW, SH, SW, PT, PL, OW);
      gemm(oimg + (<usize>(m0 * K) << 2), cols, wpack, mb, K, KK, KK, 1, K, flags);
    }
  }
}

// Output pixels m0 .. m1-1 of ONE image, weights already packed into wpack by pack_b(weight, bias).
// Every output element is its own dot product in k order, so cutting an image into pixel ranges
// gives the bits of conv2d_forward: this lets a batch of 1 run on several threads.
export function conv2d_forward_pixels(out: usize, inp: usize, wpack: usize, cols: usize,
  geom: usize, MB: i32, relu: i32, m0: i32, m1: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  const KK = KH * KW * C;
  const flags = relu ? GEMM_RELU : 0;
  const direct = KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W;
  for (let m = m0; m < m1; m += MB) {
    const mb = min(MB, m1 - m);
    const o = out + (<usize>(m * K) << 2);
    if (direct) {
      gemm(o, inp + (<usize>(m * KK) << 2), wpack, mb, K, KK, KK, 1, K, flags);
    } else {
      im2col(cols, inp, m, mb, H, W, C, KH, KW, SH, SW, PT, PL, OW);
      gemm(o, cols, wpack, mb, K, KK, KK, 1, K, flags);
    }
  }
}

// dinp (N,H,W,C) += col2im(dout · weightᵀ).  wpack: pack_b_size(K, KH*KW*C); dcols: MB*KH*KW*C.
export function conv2d_backward_input(dinp: usize, dout: usize, weight: usize, wpack: usize, dcols: usize,
  geom: usize, N: i32, MB: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  const KK = KH * KW * C;
  // weightᵀ (K, KK): element (k, j) of weightᵀ is weight[j*K + k].
  pack_b(wpack, weight, 0, K, KK, 1, K);
  const M = OH * OW;
  for (let n = 0; n < N; n++) {
    const dimg = dinp + (<usize>(n * H * W * C) << 2);
    const doimg = dout + (<usize>(n * M * K) << 2);
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      gemm(dcols, doimg + (<usize>(m0 * K) << 2), wpack, mb, KK, K, K, 1, KK, 0);
      col2im(dimg, dcols, m0, mb, H, W, C, KH, KW, SH, SW, PT, PL, OW);
    }
  }
}

// dweight (KH,KW,C,K) += colsᵀ · dout, image by image and block by block in a fixed order;
// dbias (K) += column sums of dout (skipped when dbias == 0).
// cols: MB*KH*KW*C floats; dpack: pack_b_size(MB, K) floats.
export function conv2d_backward_weight(dweight: usize, dbias: usize, dout: usize, inp: usize, cols: usize, dpack: usize,
  geom: usize, N: i32, MB: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  const KK = KH * KW * C;
  const M = OH * OW;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * H * W * C) << 2);
    const doimg = dout + (<usize>(n * M * K) << 2);
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      im2col(cols, img, m0, mb, H, W, C, KH, KW, SH, SW, PT, PL, OW);
      pack_b(dpack, doimg + (<usize>(m0 * K) << 2), 0, mb, K, K, 1);
      // A = colsᵀ (KK, mb): element (i, p) at cols[p*KK + i] -> rsa = 1, csa = KK.
      gemm(dweight, cols, dpack, KK, K, mb, 1, KK, K, GEMM_ACC);
    }
  }
  if (dbias != 0) bias_backward(dbias, dout, N * M, K);
}
