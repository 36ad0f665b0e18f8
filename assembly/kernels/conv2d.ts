// 2-D convolution (cross-correlation, zero padding) as im2col + GEMM, forward and backward.
// Layouts: inp (N, H, W, C), weight (KH, KW, C/G, K) — Keras' layout, so weight is already the
// (KH*KW*C, K) GEMM matrix when G = 1 — out (N, OH, OW, K). S = strides, PT/PL = top/left padding,
// D = dilation, G = groups; all of these but N come in one Geometry2d struct (`geom`, assembly/geometry.ts).
// Groups: group g maps input channels [g*Cg, (g+1)*Cg) to output channels [g*Kg, (g+1)*Kg)
// (Cg = C/G, Kg = K/G), as one GEMM per group over its own im2col block, writing its column slice of
// the output rows (ldc = K). Its weights are columns g*Kg.. of the (KH*KW*Cg, K) kernel matrix.
// im2col works on a block of MB output pixels at a time (never the whole image or batch), so the
// `cols` scratch (MB, KH*KW*C) stays in cache between being written and read by the GEMM:
//
//   cols row m (output pixel oh,ow):  [ x(ih0,iw0,0..C) | x(ih0,iw0+1,0..C) | ... ]   KH*KW taps of C,
//                                      zeros for taps that fall into the padding
//
// Backward functions ACCUMULATE into dinp / dweight / dbias; the caller zeroes them once per step.

import { gemm, pack_b, pack_b_size, act_flags, GEMM_ACC } from "./gemm";
import { geometry, Geometry2d } from "../geometry";
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

// The general im2col, for dilation > 1 or groups > 1: channels c0 .. c0+Cg of every tap, one span
// per tap (with dilation the taps of a kernel row are no longer neighbours). With `scatter` it is
// col2im instead: each span is added back onto its image pixel (taps in the padding are skipped).
// scatter is a constant at both call sites, so each inlines to its own loop.
// @ts-ignore: decorator
@inline function window_spans(cols: usize, img: usize, m0: i32, mb: i32, g: Geometry2d, c0: i32, Cg: i32,
  scatter: bool): void {
  const W = g.W, H = g.H, C = g.C, KH = g.KH, KW = g.KW, OW = g.OW;
  const tapB = <usize>Cg << 2;
  for (let m = m0; m < m0 + mb; m++) {
    const oh = m / OW;
    const ow = m - oh * OW;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * g.SH - g.PT + kh * g.DH;
      for (let kw = 0; kw < KW; kw++) {
        const iw = ow * g.SW - g.PL + kw * g.DW;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
          const px = img + (<usize>((ih * W + iw) * C + c0) << 2);
          if (scatter) add_into(px, cols, Cg);
          else copy_span(cols, px, tapB);
        } else if (!scatter) {
          zero_span(cols, tapB);
        }
        cols += tapB;
      }
    }
  }
}

function im2col_g(cols: usize, img: usize, m0: i32, mb: i32, g: Geometry2d, c0: i32, Cg: i32): void {
  window_spans(cols, img, m0, mb, g, c0, Cg, false);
}

function col2im_g(dimg: usize, dcols: usize, m0: i32, mb: i32, g: Geometry2d, c0: i32, Cg: i32): void {
  window_spans(dcols, dimg, m0, mb, g, c0, Cg, true);
}

// cols <- the im2col block of group gi: the span-copy fast path when there is nothing to generalize.
// @ts-ignore: decorator
@inline function im2col_any(cols: usize, img: usize, m0: i32, mb: i32, g: Geometry2d, gi: i32): void {
  if (g.DH == 1 && g.DW == 1 && g.G == 1) {
    im2col(cols, img, m0, mb, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OW);
  } else {
    const Cg = g.C / g.G;
    im2col_g(cols, img, m0, mb, g, gi * Cg, Cg);
  }
}

// 1x1, stride 1, no padding: the image already is the im2col matrix (rows of C, group slices at c0).
// @ts-ignore: decorator
@inline function is_direct(g: Geometry2d): bool {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 && g.OH == g.H && g.OW == g.W;
}

// wpack (G * pack_b_size(KH*KW*C/G, K/G) floats) <- the weights (and bias, or 0) of every group packed for the forward GEMM, group after group.
export function conv2d_pack_weights(wpack: usize, weight: usize, bias: usize, geom: usize): void {
  const g = geometry(geom);
  const G = g.G, Kg = g.K / G, KK = g.KH * g.KW * (g.C / G);
  const packB = <usize>pack_b_size(KK, Kg) << 2;
  for (let gi = 0; gi < G; gi++) {
    const off = <usize>(gi * Kg) << 2;
    pack_b(wpack + <usize>gi * packB, weight + off, bias != 0 ? bias + off : 0, KK, Kg, g.K, 1);
  }
}

// out rows m0 .. m0+mb of one image from packed weights (all groups).
// @ts-ignore: decorator
@inline function forward_rows(oimg: usize, img: usize, wpack: usize, cols: usize, g: Geometry2d, m0: i32, mb: i32,
  direct: bool, flags: i32): void {
  const G = g.G, C = g.C, K = g.K, Cg = C / G, Kg = K / G, KK = g.KH * g.KW * Cg;
  const packB = <usize>pack_b_size(KK, Kg) << 2;
  const o = oimg + (<usize>(m0 * K) << 2);
  for (let gi = 0; gi < G; gi++) {
    const wp = wpack + <usize>gi * packB;
    const oc = o + (<usize>(gi * Kg) << 2);
    if (direct) {
      gemm(oc, img + (<usize>(m0 * C + gi * Cg) << 2), wp, mb, Kg, Cg, C, 1, K, flags);
    } else {
      im2col_any(cols, img, m0, mb, g, gi);
      gemm(oc, cols, wp, mb, Kg, KK, KK, 1, K, flags);
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

// out (N,OH,OW,K) = conv(inp, weight) + bias, then the activation `relu` (0 none, 1 relu, 2 relu6).
// wpack: G * pack_b_size(KH*KW*C/G, K/G) floats of scratch; cols: MB*KH*KW*C/G floats of scratch.
export function conv2d_forward(out: usize, inp: usize, weight: usize, bias: usize, wpack: usize, cols: usize,
  geom: usize, N: i32, MB: i32, relu: i32): void {
  conv2d_pack_weights(wpack, weight, bias, geom);
  conv2d_forward_packed(out, inp, wpack, cols, geom, N, MB, relu);
}

// conv2d_forward with the weights (and bias) already in wpack, packed by conv2d_pack_weights: what an
// inference plan runs, packing once for every call and every shard.
export function conv2d_forward_packed(out: usize, inp: usize, wpack: usize, cols: usize,
  geom: usize, N: i32, MB: i32, relu: i32): void {
  const g = geometry(geom);
  const flags = act_flags(relu);
  const direct = is_direct(g);
  const M = g.OH * g.OW;
  // The direct path needs no blocking: the GEMM streams the image itself.
  const step = direct ? M : MB;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * g.H * g.W * g.C) << 2);
    const oimg = out + (<usize>(n * M * g.K) << 2);
    for (let m0 = 0; m0 < M; m0 += step) forward_rows(oimg, img, wpack, cols, g, m0, min(step, M - m0), direct, flags);
  }
}

// Output pixels m0 .. m1-1 of ONE image, weights already packed by conv2d_pack_weights.
// Every output element is its own dot product in k order, so cutting an image into pixel ranges
// gives the bits of conv2d_forward: this lets a batch of 1 run on several threads.
export function conv2d_forward_pixels(out: usize, inp: usize, wpack: usize, cols: usize,
  geom: usize, MB: i32, relu: i32, m0: i32, m1: i32): void {
  const g = geometry(geom);
  const flags = act_flags(relu);
  const direct = is_direct(g);
  for (let m = m0; m < m1; m += MB) forward_rows(out, inp, wpack, cols, g, m, min(MB, m1 - m), direct, flags);
}

// dinp (N,H,W,C) += col2im(dout · weightᵀ), group by group.
// wpack: G * pack_b_size(K/G, KH*KW*C/G) floats; dcols: MB*KH*KW*C/G.
export function conv2d_backward_input(dinp: usize, dout: usize, weight: usize, wpack: usize, dcols: usize,
  geom: usize, N: i32, MB: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW, G = g.G;
  const Cg = C / G, Kg = K / G;
  const KK = KH * KW * Cg;
  const plain = g.DH == 1 && g.DW == 1 && G == 1;
  const packB = <usize>pack_b_size(Kg, KK) << 2;
  // weight_gᵀ (Kg, KK): element (k, j) is weight[j*K + gi*Kg + k].
  for (let gi = 0; gi < G; gi++) pack_b(wpack + <usize>gi * packB, weight + (<usize>(gi * Kg) << 2), 0, Kg, KK, 1, K);
  const M = OH * OW;
  for (let n = 0; n < N; n++) {
    const dimg = dinp + (<usize>(n * H * W * C) << 2);
    const doimg = dout + (<usize>(n * M * K) << 2);
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      for (let gi = 0; gi < G; gi++) {
        gemm(dcols, doimg + (<usize>(m0 * K + gi * Kg) << 2), wpack + <usize>gi * packB, mb, KK, Kg, K, 1, KK, 0);
        if (plain) col2im(dimg, dcols, m0, mb, H, W, C, KH, KW, SH, SW, PT, PL, OW);
        else col2im_g(dimg, dcols, m0, mb, g, gi * Cg, Cg);
      }
    }
  }
}

// dweight (KH,KW,C/G,K) += colsᵀ · dout, image by image, block by block and group by group in a
// fixed order; dbias (K) += column sums of dout (skipped when dbias == 0).
// cols: MB*KH*KW*C/G floats; dpack: pack_b_size(MB, K/G) floats.
export function conv2d_backward_weight(dweight: usize, dbias: usize, dout: usize, inp: usize, cols: usize, dpack: usize,
  geom: usize, N: i32, MB: i32): void {
  const g = geometry(geom);
  const K = g.K, G = g.G, Kg = K / G;
  const KK = g.KH * g.KW * (g.C / G);
  const M = g.OH * g.OW;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * g.H * g.W * g.C) << 2);
    const doimg = dout + (<usize>(n * M * K) << 2);
    for (let m0 = 0; m0 < M; m0 += MB) {
      const mb = min(MB, M - m0);
      for (let gi = 0; gi < G; gi++) {
        im2col_any(cols, img, m0, mb, g, gi);
        pack_b(dpack, doimg + (<usize>(m0 * K + gi * Kg) << 2), 0, mb, Kg, K, 1);
        // A = colsᵀ (KK, mb): element (i, p) at cols[p*KK + i] -> rsa = 1, csa = KK.
        gemm(dweight + (<usize>(gi * Kg) << 2), cols, dpack, KK, Kg, mb, 1, KK, K, GEMM_ACC);
      }
    }
  }
  if (dbias != 0) bias_backward(dbias, dout, N * M, K);
}
