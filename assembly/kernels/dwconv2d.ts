// Depthwise 2-D convolution (Keras DepthwiseConv2D), forward and backward, channels on the SIMD axis.
// Layouts: inp (N, H, W, C), weight (KH, KW, C, M) — Keras' layout, i.e. (KH, KW, K) with K = C*M and
// output channel j = c*M + m reading input channel c = j / M — bias (K), out (N, OH, OW, K).
// Geometry2d: C input channels, K = C*M output channels, S strides, PT/PL padding, D dilation.
//
// Not im2col + GEMM: each output channel has only KH*KW multiply-adds, so the work is a stream over
// the image. As in XNNPACK's f32-dwconv microkernels, a tile of channels of one output pixel sits in
// registers while the taps go by: per tap one load of input and one of weights per vector, no scratch.
// Taps that fall into the padding are skipped (never multiplied by a zero).
// Every output value is bias + tap0 + tap1 + ... in (kh, kw) order with mul-then-add, the same in the
// SIMD and scalar builds (lanes are independent), so both give the same bits. Depth multipliers > 1
// take a scalar loop in both builds (input channel j / M varies across a vector's lanes).
// Backward functions ACCUMULATE into dinp / dweight; the caller zeroes them once per step.

import { geometry, Geometry2d } from "../geometry";
import { act1, act4, madd } from "../simd";
import { bias_backward } from "./elementwise";

// First tap index t in [0, T) with base + t*D >= 0 (base may be negative).
// @ts-ignore: decorator
@inline function first_tap(base: i32, D: i32): i32 {
  return base < 0 ? (D - 1 - base) / D : 0;
}

// One past the last tap t with base + t*D < n.
// @ts-ignore: decorator
@inline function end_tap(base: i32, D: i32, n: i32, T: i32): i32 {
  const r = n - base;
  return r <= 0 ? 0 : min(T, (r + D - 1) / D);
}

// Output channels c0 .. C-1 (multiple-of-4 blocks first, then single lanes) of one pixel, depth multiplier 1.
// xp0/wp0: input at the first valid tap / its weight, both at channel 0; taps kh in [kh0, kh1),
// kw in [kw0, kw1); rx/cx: byte steps of x per kernel row / column, rw: byte step of w per kernel row.
// @ts-ignore: decorator
@inline function pixel_m1(o: usize, xp0: usize, wp0: usize, bias: usize, C: i32, nh: i32, nw: i32,
  rx: usize, cx: usize, rw: usize, cw: usize, relu: i32, c0: i32): void {
  let c = c0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; c + 16 <= C; c += 16) {
      const off = <usize>c << 2;
      let a0 = z, a1 = z, a2 = z, a3 = z;
      if (bias != 0) {
        a0 = v128.load(bias + off); a1 = v128.load(bias + off, 16);
        a2 = v128.load(bias + off, 32); a3 = v128.load(bias + off, 48);
      }
      let xr = xp0 + off, wr = wp0 + off;
      for (let i = 0; i < nh; i++) {
        let xp = xr, wp = wr;
        for (let j = 0; j < nw; j++) {
          a0 = madd(v128.load(xp), v128.load(wp), a0);
          a1 = madd(v128.load(xp, 16), v128.load(wp, 16), a1);
          a2 = madd(v128.load(xp, 32), v128.load(wp, 32), a2);
          a3 = madd(v128.load(xp, 48), v128.load(wp, 48), a3);
          xp += cx; wp += cw;
        }
        xr += rx; wr += rw;
      }
      if (relu) { a0 = act4(a0, relu); a1 = act4(a1, relu); a2 = act4(a2, relu); a3 = act4(a3, relu); }
      v128.store(o + off, a0); v128.store(o + off, a1, 16);
      v128.store(o + off, a2, 32); v128.store(o + off, a3, 48);
    }
    for (; c + 4 <= C; c += 4) {
      const off = <usize>c << 2;
      let a0 = bias != 0 ? v128.load(bias + off) : z;
      let xr = xp0 + off, wr = wp0 + off;
      for (let i = 0; i < nh; i++) {
        let xp = xr, wp = wr;
        for (let j = 0; j < nw; j++) {
          a0 = madd(v128.load(xp), v128.load(wp), a0);
          xp += cx; wp += cw;
        }
        xr += rx; wr += rw;
      }
      v128.store(o + off, act4(a0, relu));
    }
  }
  for (; c < C; c++) {
    const off = <usize>c << 2;
    let a: f32 = bias != 0 ? load<f32>(bias + off) : 0;
    let xr = xp0 + off, wr = wp0 + off;
    for (let i = 0; i < nh; i++) {
      let xp = xr, wp = wr;
      for (let j = 0; j < nw; j++) {
        a = load<f32>(xp) * load<f32>(wp) + a;
        xp += cx; wp += cw;
      }
      xr += rx; wr += rw;
    }
    store<f32>(o + off, act1(a, relu));
  }
}

// Two horizontally adjacent output pixels (stride 1, no dilation, depth multiplier 1, all KW taps
// inside the image for both): pixel 1's tap kw reads pixel 0's tap kw+1, so each input vector is
// loaded once for both and each weight vector once for both — half the loads of pixel_m1. Every
// value is summed in the same order as pixel_m1, so the bits are the same; channels not in an 8-wide
// tile go through pixel_m1's loops. o: pixel 0's output (pixel 1's follows at +C floats).
// @ts-ignore: decorator
@inline function pixel2_m1(o: usize, xp0: usize, wp0: usize, bias: usize, C: i32, nh: i32, KW: i32,
  rx: usize, rw: usize, relu: i32): i32 {
  const step = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; c + 8 <= C; c += 8) {
      const off = <usize>c << 2;
      let p0 = z, p1 = z;
      if (bias != 0) { p0 = v128.load(bias + off); p1 = v128.load(bias + off, 16); }
      let q0 = p0, q1 = p1;
      let xr = xp0 + off, wr = wp0 + off;
      for (let i = 0; i < nh; i++) {
        let xp = xr, wp = wr;
        let x0 = v128.load(xp), x1 = v128.load(xp, 16);
        for (let j = 0; j < KW; j++) {
          xp += step;
          const y0 = v128.load(xp), y1 = v128.load(xp, 16);
          const w0 = v128.load(wp), w1 = v128.load(wp, 16);
          p0 = madd(x0, w0, p0); p1 = madd(x1, w1, p1);
          q0 = madd(y0, w0, q0); q1 = madd(y1, w1, q1);
          x0 = y0; x1 = y1;
          wp += step;
        }
        xr += rx; wr += rw;
      }
      if (relu) { p0 = act4(p0, relu); p1 = act4(p1, relu); q0 = act4(q0, relu); q1 = act4(q1, relu); }
      v128.store(o + off, p0); v128.store(o + off, p1, 16);
      v128.store(o + step + off, q0); v128.store(o + step + off, q1, 16);
    }
  }
  return c;
}

// The same for depth multiplier M > 1: output channel j reads input channel j / M.
function pixel_mx(o: usize, xp0: usize, wp0: usize, bias: usize, C: i32, M: i32, nh: i32, nw: i32,
  rx: usize, cx: usize, rw: usize, cw: usize, relu: i32): void {
  for (let c = 0; c < C; c++) {
    for (let m = 0; m < M; m++) {
      const j = c * M + m;
      let a: f32 = bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
      let xr = xp0 + (<usize>c << 2), wr = wp0 + (<usize>j << 2);
      for (let i = 0; i < nh; i++) {
        let xp = xr, wp = wr;
        for (let t = 0; t < nw; t++) {
          a = load<f32>(xp) * load<f32>(wp) + a;
          xp += cx; wp += cw;
        }
        xr += rx; wr += rw;
      }
      store<f32>(o + (<usize>j << 2), act1(a, relu));
    }
  }
}

// out rows r0 .. r1-1 of each of the N images = dwconv(inp, weight) + bias (bias may be 0), then the
// activation `relu` (0 none, 1 relu, 2 relu6).
// Every output value is computed on its own, so cutting images into row ranges gives the same bits
// (this is what lets a batch of 1 use several threads).
export function dwconv2d_forward(out: usize, inp: usize, weight: usize, bias: usize, geom: usize,
  N: i32, relu: i32, r0: i32, r1: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW;
  const M = K / C;
  const cx = <usize>(g.DW * C) << 2, rx = <usize>(g.DH * W * C) << 2;
  const cw = <usize>K << 2, rw = <usize>(KW * K) << 2;
  // Pairs of neighbouring output pixels share their input loads (pixel2_m1) when they are neighbours
  // in the input too; only the SIMD build has a tile for it.
  const pairs = ASC_FEATURE_SIMD && M == 1 && g.SW == 1 && g.DW == 1 && C >= 8;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * H * W * C) << 2);
    const oimg = out + (<usize>(n * OH * OW * K) << 2);
    for (let oh = r0; oh < r1; oh++) {
      const ih0 = oh * g.SH - g.PT;
      const kh0 = first_tap(ih0, g.DH), kh1 = end_tap(ih0, g.DH, H, KH);
      const nh = max(0, kh1 - kh0);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * g.SW - g.PL;
        if (pairs && iw0 >= 0 && iw0 + KW + 1 <= W && ow + 1 < OW && nh > 0) {
          // Both pixels ow, ow+1 see all KW taps: the two-pixel path, then pixel_m1 for the channels left.
          const o = oimg + (<usize>((oh * OW + ow) * K) << 2);
          const xp0 = img + (<usize>(((ih0 + kh0 * g.DH) * W + iw0) * C) << 2);
          const wp0 = weight + (<usize>(kh0 * KW * K) << 2);
          const c0 = pixel2_m1(o, xp0, wp0, bias, C, nh, KW, rx, rw, relu);
          if (c0 < C) {
            pixel_m1(o, xp0, wp0, bias, C, nh, KW, rx, cx, rw, cw, relu, c0);
            pixel_m1(o + (<usize>K << 2), xp0 + cx, wp0, bias, C, nh, KW, rx, cx, rw, cw, relu, c0);
          }
          ow++;
          continue;
        }
        const kw0 = first_tap(iw0, g.DW), kw1 = end_tap(iw0, g.DW, W, KW);
        const nw = nh > 0 ? max(0, kw1 - kw0) : 0;
        const o = oimg + (<usize>((oh * OW + ow) * K) << 2);
        // Pointers at the first valid tap; never dereferenced when there is none (nh or nw = 0).
        const ih = ih0 + kh0 * g.DH, iw = iw0 + kw0 * g.DW;
        const xp0 = nw > 0 ? img + (<usize>((ih * W + iw) * C) << 2) : img;
        const wp0 = weight + (<usize>((kh0 * KW + kw0) * K) << 2);
        if (M == 1) pixel_m1(o, xp0, wp0, bias, C, nh, nw, rx, cx, rw, cw, relu, 0);
        else pixel_mx(o, xp0, wp0, bias, C, M, nh, nw, rx, cx, rw, cw, relu);
      }
    }
  }
}

// dinp (N,H,W,C) += the input gradient, gathered per input pixel: dx(ih, iw, c) = sum over the taps
// (kh, kw) whose output pixel (ih + PT - kh*DH) / SH, (iw + PL - kw*DW) / SW exists, in (kh, kw) order,
// of dy(oh, ow, c*M+m) * w(kh, kw, c*M+m) (m inner). Gathering keeps the sum in registers; images
// are independent, so shards of images write disjoint slices of dinp.
export function dwconv2d_backward_input(dinp: usize, dout: usize, weight: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW;
  const SH = g.SH, SW = g.SW, DH = g.DH, DW = g.DW;
  const M = K / C;
  // With stride 1 or dilation 1 (always so for Keras layers) the taps reaching an output form an
  // arithmetic progression along each axis, found without a division per tap: then the gather is
  // pixel_m1's loop, accumulating onto dx, walking dy backwards as the taps go forwards.
  const walk = M == 1 && (SH == 1 || DH == 1) && (SW == 1 || DW == 1);
  const rowB = <isize>(OW * C) << 2, tapB = <isize>C << 2;
  for (let n = 0; n < N; n++) {
    const dimg = dinp + (<usize>(n * H * W * C) << 2);
    const doimg = dout + (<usize>(n * OH * OW * K) << 2);
    for (let ih = 0; ih < H; ih++) {
      const ph = ih + g.PT;
      const kh0 = tap_first(ph, KH, SH, DH, OH), nh = tap_count(ph, KH, SH, DH, OH, kh0);
      const oh0 = (ph - kh0 * DH) / SH;
      const dkh = SH == 1 ? 1 : SH, doh = SH == 1 ? DH : 1;
      for (let iw = 0; iw < W; iw++) {
        const d = dimg + (<usize>((ih * W + iw) * C) << 2);
        if (walk) {
          const pw = iw + g.PL;
          const kw0 = tap_first(pw, KW, SW, DW, OW), nw = nh > 0 ? tap_count(pw, KW, SW, DW, OW, kw0) : 0;
          const ow0 = (pw - kw0 * DW) / SW;
          const dkw = SW == 1 ? 1 : SW, dow = SW == 1 ? DW : 1;
          const yp = nw > 0 ? doimg + (<usize>((oh0 * OW + ow0) * C) << 2) : doimg;
          const wp = weight + (<usize>((kh0 * KW + kw0) * C) << 2);
          pixel_m1(d, yp, wp, d, C, nh, nw, <usize>(-(<isize>doh) * rowB), <usize>(-(<isize>dow) * tapB),
            <usize>(dkh * KW * C) << 2, <usize>(dkw * C) << 2, 0, 0);
        } else if (M == 1) {
          gather_m1(d, doimg, weight, C, ph, iw + g.PL, KH, KW, SH, SW, DH, DW, OH, OW);
        } else {
          gather_mx(d, doimg, weight, C, M, ph, iw + g.PL, KH, KW, SH, SW, DH, DW, OH, OW);
        }
      }
    }
  }
}

// First tap t whose output (p - t*D) / S exists, when S == 1 or D == 1 (p >= 0); KH if none.
// S == 1: outputs p - t*D, need p - t*D <= O-1. D == 1: t ≡ p (mod S), and (p - t) / S <= O-1.
// @ts-ignore: decorator
@inline function tap_first(p: i32, T: i32, S: i32, D: i32, O: i32): i32 {
  if (S == 1) {
    const over = p - (O - 1);
    return over <= 0 ? 0 : (over + D - 1) / D;
  }
  let t = p % S;
  const o = (p - t) / S;
  if (o > O - 1) t += (o - (O - 1)) * S;
  return t;
}

// Number of taps from t0 on (step 1 with S == 1, step S with D == 1) whose output is >= 0 and t < T.
// @ts-ignore: decorator
@inline function tap_count(p: i32, T: i32, S: i32, D: i32, O: i32, t0: i32): i32 {
  if (t0 >= T) return 0;
  if (S == 1) return max(0, min(T - 1, p / D) - t0 + 1);
  // outputs (p - t0)/S, one less per tap: at most that + 1 taps, and t0 + i*S < T.
  return min((T - 1 - t0) / S + 1, (p - t0) / S + 1);
}

// Output pixel of tap t along one axis for padded input coordinate p, or -1 when there is none.
// @ts-ignore: decorator
@inline function tap_out(p: i32, t: i32, D: i32, S: i32, O: i32): i32 {
  const q = p - t * D;
  if (q < 0) return -1;
  const o = q / S;
  return o * S == q && o < O ? o : -1;
}

// Byte address of element (r, q, 0) of a (rows, Q, C) array at p.
// @ts-ignore: decorator
@inline function at3(p: usize, r: i32, q: i32, Q: i32, C: i32): usize {
  return p + (<usize>((r * Q + q) * C) << 2);
}

// @ts-ignore: decorator
@inline function gather_m1(d: usize, dy: usize, w: usize, C: i32, ph: i32, pw: i32, KH: i32, KW: i32,
  SH: i32, SW: i32, DH: i32, DW: i32, OH: i32, OW: i32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 16 <= C; c += 16) {
      const off = <usize>c << 2;
      let a0 = v128.load(d + off), a1 = v128.load(d + off, 16), a2 = v128.load(d + off, 32), a3 = v128.load(d + off, 48);
      for (let kh = 0; kh < KH; kh++) {
        const oh = tap_out(ph, kh, DH, SH, OH);
        if (oh < 0) continue;
        for (let kw = 0; kw < KW; kw++) {
          const ow = tap_out(pw, kw, DW, SW, OW);
          if (ow < 0) continue;
          const yp = at3(dy, oh, ow, OW, C) + off, wp = at3(w, kh, kw, KW, C) + off;
          a0 = madd(v128.load(yp), v128.load(wp), a0);
          a1 = madd(v128.load(yp, 16), v128.load(wp, 16), a1);
          a2 = madd(v128.load(yp, 32), v128.load(wp, 32), a2);
          a3 = madd(v128.load(yp, 48), v128.load(wp, 48), a3);
        }
      }
      v128.store(d + off, a0); v128.store(d + off, a1, 16); v128.store(d + off, a2, 32); v128.store(d + off, a3, 48);
    }
    for (; c + 4 <= C; c += 4) {
      const off = <usize>c << 2;
      let a0 = v128.load(d + off);
      for (let kh = 0; kh < KH; kh++) {
        const oh = tap_out(ph, kh, DH, SH, OH);
        if (oh < 0) continue;
        for (let kw = 0; kw < KW; kw++) {
          const ow = tap_out(pw, kw, DW, SW, OW);
          if (ow < 0) continue;
          a0 = madd(v128.load(at3(dy, oh, ow, OW, C) + off), v128.load(at3(w, kh, kw, KW, C) + off), a0);
        }
      }
      v128.store(d + off, a0);
    }
  }
  for (; c < C; c++) {
    const off = <usize>c << 2;
    let a = load<f32>(d + off);
    for (let kh = 0; kh < KH; kh++) {
      const oh = tap_out(ph, kh, DH, SH, OH);
      if (oh < 0) continue;
      for (let kw = 0; kw < KW; kw++) {
        const ow = tap_out(pw, kw, DW, SW, OW);
        if (ow < 0) continue;
        a = load<f32>(at3(dy, oh, ow, OW, C) + off) * load<f32>(at3(w, kh, kw, KW, C) + off) + a;
      }
    }
    store<f32>(d + off, a);
  }
}

function gather_mx(d: usize, dy: usize, w: usize, C: i32, M: i32, ph: i32, pw: i32, KH: i32, KW: i32,
  SH: i32, SW: i32, DH: i32, DW: i32, OH: i32, OW: i32): void {
  const K = C * M;
  for (let c = 0; c < C; c++) {
    const off = <usize>c << 2;
    let a = load<f32>(d + off);
    for (let kh = 0; kh < KH; kh++) {
      const oh = tap_out(ph, kh, DH, SH, OH);
      if (oh < 0) continue;
      for (let kw = 0; kw < KW; kw++) {
        const ow = tap_out(pw, kw, DW, SW, OW);
        if (ow < 0) continue;
        const yp = dy + (<usize>((oh * OW + ow) * K + c * M) << 2);
        const wp = w + (<usize>((kh * KW + kw) * K + c * M) << 2);
        for (let m = 0; m < M; m++) a = load<f32>(yp + (<usize>m << 2)) * load<f32>(wp + (<usize>m << 2)) + a;
      }
    }
    store<f32>(d + off, a);
  }
}

// dweight (KH,KW,K) += sum over the N images and their output pixels (in order) of x * dy;
// dbias (K) += column sums of dout (skipped when dbias == 0). Each (tap, channel tile) keeps its sum
// in registers over the whole shard; the order per weight is image, oh, ow in both builds.
export function dwconv2d_backward_weight(dweight: usize, dbias: usize, dout: usize, inp: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW;
  const M = K / C;
  for (let kh = 0; kh < KH; kh++) {
    // Output rows [oh0, oh1) see input row oh*SH - PT + kh*DH inside the image.
    const bh = kh * g.DH - g.PT;
    const oh0 = first_tap(bh, g.SH), oh1 = end_tap(bh, g.SH, H, OH);
    for (let kw = 0; kw < KW; kw++) {
      const bw = kw * g.DW - g.PL;
      const ow0 = first_tap(bw, g.SW), ow1 = end_tap(bw, g.SW, W, OW);
      const dwp = dweight + (<usize>((kh * KW + kw) * K) << 2);
      if (oh1 <= oh0 || ow1 <= ow0) continue;
      if (M == 1) tap_grad_m1(dwp, dout, inp, g, N, bh, bw, oh0, oh1, ow0, ow1);
      else tap_grad_mx(dwp, dout, inp, g, N, M, bh, bw, oh0, oh1, ow0, ow1);
    }
  }
  if (dbias != 0) bias_backward(dbias, dout, N * OH * OW, K);
}

// Byte address of element (n, r, q, 0) of an (N, R, Q, C) array at p.
// @ts-ignore: decorator
@inline function at4(p: usize, n: i32, r: i32, q: i32, R: i32, Q: i32, C: i32): usize {
  return p + (<usize>(((n * R + r) * Q + q) * C) << 2);
}

// @ts-ignore: decorator
@inline function tap_grad_m1(dwp: usize, dout: usize, inp: usize, g: Geometry2d, N: i32, bh: i32, bw: i32,
  oh0: i32, oh1: i32, ow0: i32, ow1: i32): void {
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW;
  const sx = <usize>(g.SW * C) << 2, sy = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 16 <= C; c += 16) {
      const off = <usize>c << 2;
      let a0 = v128.load(dwp + off), a1 = v128.load(dwp + off, 16);
      let a2 = v128.load(dwp + off, 32), a3 = v128.load(dwp + off, 48);
      for (let n = 0; n < N; n++) {
        for (let oh = oh0; oh < oh1; oh++) {
          let xp = at4(inp, n, oh * g.SH + bh, ow0 * g.SW + bw, H, W, C) + off;
          let yp = at4(dout, n, oh, ow0, OH, OW, C) + off;
          for (let ow = ow0; ow < ow1; ow++) {
            a0 = madd(v128.load(xp), v128.load(yp), a0);
            a1 = madd(v128.load(xp, 16), v128.load(yp, 16), a1);
            a2 = madd(v128.load(xp, 32), v128.load(yp, 32), a2);
            a3 = madd(v128.load(xp, 48), v128.load(yp, 48), a3);
            xp += sx; yp += sy;
          }
        }
      }
      v128.store(dwp + off, a0); v128.store(dwp + off, a1, 16); v128.store(dwp + off, a2, 32); v128.store(dwp + off, a3, 48);
    }
    for (; c + 4 <= C; c += 4) {
      const off = <usize>c << 2;
      let a0 = v128.load(dwp + off);
      for (let n = 0; n < N; n++) {
        for (let oh = oh0; oh < oh1; oh++) {
          let xp = at4(inp, n, oh * g.SH + bh, ow0 * g.SW + bw, H, W, C) + off;
          let yp = at4(dout, n, oh, ow0, OH, OW, C) + off;
          for (let ow = ow0; ow < ow1; ow++) {
            a0 = madd(v128.load(xp), v128.load(yp), a0);
            xp += sx; yp += sy;
          }
        }
      }
      v128.store(dwp + off, a0);
    }
  }
  for (; c < C; c++) {
    const off = <usize>c << 2;
    let a = load<f32>(dwp + off);
    for (let n = 0; n < N; n++) {
      for (let oh = oh0; oh < oh1; oh++) {
        let xp = at4(inp, n, oh * g.SH + bh, ow0 * g.SW + bw, H, W, C) + off;
        let yp = at4(dout, n, oh, ow0, OH, OW, C) + off;
        for (let ow = ow0; ow < ow1; ow++) {
          a = load<f32>(xp) * load<f32>(yp) + a;
          xp += sx; yp += sy;
        }
      }
    }
    store<f32>(dwp + off, a);
  }
}

function tap_grad_mx(dwp: usize, dout: usize, inp: usize, g: Geometry2d, N: i32, M: i32, bh: i32, bw: i32,
  oh0: i32, oh1: i32, ow0: i32, ow1: i32): void {
  const H = g.H, W = g.W, C = g.C, K = g.K, OH = g.OH, OW = g.OW;
  const sx = <usize>(g.SW * C) << 2, sy = <usize>K << 2;
  for (let j = 0; j < K; j++) {
    const c = j / M;
    let a = load<f32>(dwp + (<usize>j << 2));
    for (let n = 0; n < N; n++) {
      for (let oh = oh0; oh < oh1; oh++) {
        let xp = at4(inp, n, oh * g.SH + bh, ow0 * g.SW + bw, H, W, C) + (<usize>c << 2);
        let yp = at4(dout, n, oh, ow0, OH, OW, K) + (<usize>j << 2);
        for (let ow = ow0; ow < ow1; ow++) {
          a = load<f32>(xp) * load<f32>(yp) + a;
          xp += sx; yp += sy;
        }
      }
    }
    store<f32>(dwp + (<usize>j << 2), a);
  }
}
