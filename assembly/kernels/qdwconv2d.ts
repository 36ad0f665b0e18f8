// int8 depthwise 2-D convolution, depth multiplier 1: out int8 (N, OH, OW, C) = requant(bias + sum over
// the taps inside the image of (x - za) * w), x int8 (N, H, W, C) with zero point za, w int8 (KH, KW, C)
// symmetric per channel, bias i32 (C) or 0, req: requantization block of C channels (quant.ts).
//
// The zero point is folded into the bias once per call (qdwconv2d_pack):
//   bias + sum_inside (x - za) * w  =  bias' + sum_all x' * w,   bias' = bias - za * sum_all w,
// with x' = x inside the image and x' = za on a tap in the padding (it reads a row of za bytes), so no tap
// subtracts anything and every pixel runs the same multiply-adds. Both sides are equal modulo 2^32,
// which is all i32 arithmetic keeps: the same bits as summing (x - za) * w directly.
// Taps go in pairs through i32x4.dot_i16x8_s: per channel, (x_t, x_t+1) . (w_t, w_t+1), with the weights
// widened to i16 and interleaved by the pack (an odd last tap pairs with a weight of 0): one multiply
// instruction per two taps of four channels.
// 3x3 windows (SIMD) run a whole output row per block of 8 channels with the block's weights in locals
// (row3); kernel rows in the padding read a za row as wide as the row's input columns, and only the border
// columns swap their outside tap columns for it pixel by pixel. Long stride-1 rows pair the taps down the
// columns instead, so that each input column is loaded and interleaved once for the three pixels reading it.
// Other windows, and the scalar build, take the pixels with every tap inside (interior) and the others
// (border: taps addressed one by one) apart.
// Integer sums are exact, so the SIMD and scalar builds and any cut into row ranges give the same bits.

import { geometry, Geometry2d } from "../geometry";
import { req_mult, req_pow, requant1, requant4 } from "./quant";

// The per-call block `pack`, for C channels (CB = C rounded up to 8) and T = KH*KW taps (P = ceil(T/2) pairs):
//   bias'   i32 (CB)                 bias - za * sum of the channel's weights (0 past C)
//   weights i16 (CB/8, P, 16)        per block of 8 channels and pair of taps (2p, 2p+1): channels 0-3 then
//                                    4-7, each channel's two taps side by side (dot_i16x8_s operand order)
//   za row  u8 (Z)                   what a tap in the padding reads: za over the input columns one output
//                                    row spans, (OW-1)*SW + (KW-1)*DW + 1 pixels (rounded up to 16 bytes)
//   3x3 only: i16 (CB/8, 12, 8)      the weights paired down the columns for row3's stride-1 rows:
//                                    (row 0, row 1) of kernel columns 0, 1, 2 (channels 0-3, 4-7 each),
//                                    then (row 2, weight 0) of the same
// @ts-ignore: decorator
@inline function packed_w(pack: usize, C: i32): usize {
  return pack + (<usize>((C + 7) & ~7) << 2);
}

// @ts-ignore: decorator
@inline function za_row(pack: usize, C: i32, P: i32): usize {
  const CB = (C + 7) & ~7;
  return pack + (<usize>CB << 2) + (<usize>(CB >> 3) * P << 5);
}

// i16 index of tap t of channel c in the packed weights.
// @ts-ignore: decorator
@inline function w_index(c: i32, t: i32, P: i32): usize {
  return <usize>((((c >> 3) * P + (t >> 1)) << 4) + (((c & 7) >> 2) << 3) + ((c & 3) << 1) + (t & 1));
}

// @ts-ignore: decorator
@inline function za_bytes(g: Geometry2d): i32 {
  return (((g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1) * g.C + 15) & ~15;
}

// Bytes of the pack for the geometry `geom`.
export function qdwconv2d_pack_bytes(geom: usize): i32 {
  const g = geometry(geom);
  const CB = (g.C + 7) & ~7;
  return (CB << 2) + (CB >> 3) * ((g.KH * g.KW + 1) >> 1) * 32 + za_bytes(g) + (g.KH == 3 && g.KW == 3 ? CB * 24 : 0);
}

// 3x3 windows: the weights again, paired down the columns (rows 0 and 1; row 2 with 0), 12 vectors a block.
// @ts-ignore: decorator
@inline function col_w(pack: usize, g: Geometry2d): usize {
  return za_row(pack, g.C, 5) + <usize>za_bytes(g);
}

// Fills the pack (layout above) from w int8 (KH, KW, C), bias i32 (C) or 0 and the zero point za.
export function qdwconv2d_pack(pack: usize, w: usize, bias: usize, za: i32, geom: usize): void {
  const g = geometry(geom);
  const C = g.C, T = g.KH * g.KW;
  const CB = (C + 7) & ~7, P = (T + 1) >> 1;
  const wp = packed_w(pack, C);
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const one = i16x8.splat(1), vza = i32x4.splat(za);
    for (; c + 8 <= C; c += 8) {
      let wq = wp + (<usize>(c >> 3) * P << 5);
      let s0 = i32x4.splat(0), s1 = s0;
      for (let t = 0; t < T; t += 2) {
        const xa = v128.load8x8_s(w + <usize>(t * C + c));
        const xb = t + 1 < T ? v128.load8x8_s(w + <usize>((t + 1) * C + c)) : i16x8.splat(0);
        const l = lo(xa, xb), h = hi(xa, xb);
        v128.store(wq, l); v128.store(wq, h, 16);
        s0 = i32x4.add(s0, i32x4.dot_i16x8_s(l, one)); s1 = i32x4.add(s1, i32x4.dot_i16x8_s(h, one));
        wq += 32;
      }
      let b0 = i32x4.splat(0), b1 = b0;
      if (bias != 0) { b0 = v128.load(bias + (<usize>c << 2)); b1 = v128.load(bias + (<usize>c << 2), 16); }
      v128.store(pack + (<usize>c << 2), i32x4.sub(b0, i32x4.mul(vza, s0)));
      v128.store(pack + (<usize>c << 2), i32x4.sub(b1, i32x4.mul(vza, s1)), 16);
    }
  }
  for (; c < CB; c++) {
    let s = 0;
    for (let t = 0; t < P * 2; t++) {
      const v = c < C && t < T ? <i32>load<i8>(w + <usize>(t * C + c)) : 0;
      s += v;
      store<i16>(wp + (w_index(c, t, P) << 1), <i16>v);
    }
    const b = c < C && bias != 0 ? load<i32>(bias + (<usize>c << 2)) : 0;
    store<i32>(pack + (<usize>c << 2), c < C ? b - za * s : 0);
  }
  memory.fill(za_row(pack, C, P), <u8>za, <usize>za_bytes(g));
  if (ASC_FEATURE_SIMD && g.KH == 3 && g.KW == 3) {
    const cw = col_w(pack, g);
    for (let c = 0; c + 8 <= C; c += 8) {
      const q = cw + (<usize>c * 24);
      for (let kw = 0; kw < 3; kw++) {
        const x0 = v128.load8x8_s(w + <usize>(kw * C + c)), x1 = v128.load8x8_s(w + <usize>((3 + kw) * C + c));
        const x2 = v128.load8x8_s(w + <usize>((6 + kw) * C + c)), z = i16x8.splat(0);
        v128.store(q + <usize>kw * 32, lo(x0, x1)); v128.store(q + <usize>kw * 32, hi(x0, x1), 16);
        v128.store(q + <usize>kw * 32, lo(x2, z), 96); v128.store(q + <usize>kw * 32, hi(x2, z), 112);
      }
    }
  }
}

// Taps (x_a, x_b) of channels 0-3 / 4-7 of two 8-channel i16 vectors, interleaved for dot_i16x8_s.
// @ts-ignore: decorator
@inline function lo(a: v128, b: v128): v128 {
  return v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
}

// @ts-ignore: decorator
@inline function hi(a: v128, b: v128): v128 {
  return v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
}

// Address of channel 0 of tap (ih, iw), or of the za row when the tap is in the padding.
// @ts-ignore: decorator
@inline function tap(img: usize, zr: usize, ih: i32, iw: i32, H: i32, W: i32, C: i32): usize {
  return <u32>ih < <u32>H && <u32>iw < <u32>W ? img + <usize>((ih * W + iw) * C) : zr;
}

// Rows r0 .. r1-1 of each of the N output images (a cut of the rows gives the same bits).
// pack: qdwconv2d_pack's block for this weight, bias and input zero point.
export function qdwconv2d_forward(out: usize, inp: usize, pack: usize, req: usize, geom: usize, N: i32,
  r0: i32, r1: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, OW = g.OW, SW = g.SW, DW = g.DW;
  // Output columns [owL, owR) have every tap column inside the image.
  const owL = min(OW, (g.PL + SW - 1) / SW);
  const span = W - 1 + g.PL - (KW - 1) * DW;
  const owR = span < 0 ? owL : max(owL, min(OW, span / SW + 1));
  // 3x3 windows (SIMD): row3 takes whole rows, border pixels too.
  const k3 = ASC_FEATURE_SIMD && KH == 3 && KW == 3;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * H * W * C;
    const oimg = out + <usize>n * g.OH * OW * C;
    for (let oh = r0; oh < r1; oh++) {
      const ih0 = oh * g.SH - g.PT;
      const o = oimg + <usize>oh * OW * C;
      if (k3) {
        row3(o, img, pack, req, g, ih0, owL, owR);
        continue;
      }
      let a = 0, b = 0;
      if (ih0 >= 0 && ih0 + (KH - 1) * g.DH < H) { a = owL; b = owR; }
      for (let ow = 0; ow < a; ow++) border(o + <usize>ow * C, img, pack, req, g, ih0, ow * SW - g.PL);
      if (a < b) {
        const x0 = img + <usize>(ih0 * W + a * SW - g.PL) * C;
        interior(o + <usize>a * C, x0, pack, req, g, b - a);
      }
      for (let ow = b; ow < OW; ow++) border(o + <usize>ow * C, img, pack, req, g, ih0, ow * SW - g.PL);
    }
  }
}

// One output pixel whose window starts at input (ih0, iw0), some taps maybe in the padding.
function border(o: usize, img: usize, pack: usize, req: usize, g: Geometry2d, ih0: i32, iw0: i32): void {
  const H = g.H, W = g.W, C = g.C, KW = g.KW, DH = g.DH, DW = g.DW, T = g.KH * KW;
  const P = (T + 1) >> 1;
  const zr = za_row(pack, C, P), wp = packed_w(pack, C);
  const zp = load<i32>(req), lo_ = load<i32>(req, 4) - zp, hi_ = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, C);
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo_), vhi = i32x4.splat(hi_);
    for (; c + 8 <= C; c += 8) {
      const cB = <usize>c << 2, cc = <usize>c;
      let acc0 = v128.load(pack + cB), acc1 = v128.load(pack + cB, 16);
      let wq = wp + (<usize>(c >> 3) * P << 5);
      let kh = 0, kw = 0;
      for (let t = 0; t < T; t += 2) {
        const pa = tap(img, zr, ih0 + kh * DH, iw0 + kw * DW, H, W, C);
        if (++kw == KW) { kw = 0; kh++; }
        let pb = pa;
        if (t + 1 < T) {
          pb = tap(img, zr, ih0 + kh * DH, iw0 + kw * DW, H, W, C);
          if (++kw == KW) { kw = 0; kh++; }
        }
        const xa = v128.load8x8_s(pa + cc), xb = v128.load8x8_s(pb + cc);
        acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(lo(xa, xb), v128.load(wq)));
        acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(hi(xa, xb), v128.load(wq, 16)));
        wq += 32;
      }
      const r0 = requant4(acc0, v128.load(pm + cB), v128.load(pp + cB), vlo, vhi, vzp);
      const r1 = requant4(acc1, v128.load(pm + cB, 16), v128.load(pp + cB, 16), vlo, vhi, vzp);
      v128.store64_lane(o + cc, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0)), 0);
    }
  }
  if (c < C) scalar(o, img, pack, req, g, ih0, iw0, c);
}

// Channels c0 .. C-1 of one output pixel, one at a time (the scalar build: all of them).
function scalar(o: usize, img: usize, pack: usize, req: usize, g: Geometry2d, ih0: i32, iw0: i32, c0: i32): void {
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, DH = g.DH, DW = g.DW;
  const P = (KH * KW + 1) >> 1;
  const zr = za_row(pack, C, P), wp = packed_w(pack, C);
  const zp = load<i32>(req), lo_ = load<i32>(req, 4) - zp, hi_ = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, C);
  for (let c = c0; c < C; c++) {
    const cB = <usize>c << 2;
    let acc = load<i32>(pack + cB);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const x = <i32>load<i8>(tap(img, zr, ih0 + kh * DH, iw0 + kw * DW, H, W, C) + <usize>c);
        acc += x * <i32>load<i16>(wp + (w_index(c, kh * KW + kw, P) << 1));
      }
    }
    store<i8>(o + <usize>c, <i8>requant1(acc, load<i32>(pm + cB), load<i32>(pp + cB), lo_, hi_, zp));
  }
}

// One output pixel of a 3x3 window, channels c .. c+7 (the eight bytes in the low half), with its taps at
// e0 .. e8, the block's paired weights w0 .. w9, bias' b0/b1, requantization m/p 0/1.
// @ts-ignore: decorator
@inline function tile3(e0: usize, e1: usize, e2: usize, e3: usize, e4: usize, e5: usize, e6: usize, e7: usize,
  e8: usize, w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, w8: v128, w9: v128,
  b0: v128, b1: v128, m0: v128, m1: v128, p0: v128, p1: v128, vlo: v128, vhi: v128, vzp: v128): v128 {
  let xa = v128.load8x8_s(e0), xb = v128.load8x8_s(e1);
  let a0 = i32x4.add(b0, i32x4.dot_i16x8_s(lo(xa, xb), w0));
  let a1 = i32x4.add(b1, i32x4.dot_i16x8_s(hi(xa, xb), w1));
  xa = v128.load8x8_s(e2); xb = v128.load8x8_s(e3);
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo(xa, xb), w2));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hi(xa, xb), w3));
  xa = v128.load8x8_s(e4); xb = v128.load8x8_s(e5);
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo(xa, xb), w4));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hi(xa, xb), w5));
  xa = v128.load8x8_s(e6); xb = v128.load8x8_s(e7);
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo(xa, xb), w6));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hi(xa, xb), w7));
  xa = v128.load8x8_s(e8);
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo(xa, xa), w8));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hi(xa, xa), w9));
  const r0 = requant4(a0, m0, p0, vlo, vhi, vzp), r1 = requant4(a1, m1, p1, vlo, vhi, vzp);
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0));
}

// acc + the dot products of a column's interleaved (row 0, row 1) and (row 2, row 2) vectors a, b with the
// column-paired weights at q and q + 96.
// @ts-ignore: decorator
@inline function col2(acc: v128, a: v128, b: v128, q: usize): v128 {
  return i32x4.add(i32x4.add(acc, i32x4.dot_i16x8_s(a, v128.load(q))), i32x4.dot_i16x8_s(b, v128.load(q, 96)));
}

// One row of output pixels of a 3x3 window, the first tap of each in input row ih0; columns [owL, owR) have
// all their taps inside the image columns. A kernel row in the top or bottom padding reads the za row (as
// wide as the input columns of an output row); a tap column left or right of the image reads it too, swapped
// in pixel by pixel for the border columns. Per block of 8 channels, the block's ten weight vectors and
// requantization parameters are loaded once for the row.
function row3(o: usize, img: usize, pack: usize, req: usize, g: Geometry2d, ih0: i32, owL: i32, owR: i32): void {
  const H = g.H, W = g.W, C = g.C, DH = g.DH, DW = g.DW, SW = g.SW, OW = g.OW, PL = g.PL;
  const sx = <usize>(SW * C), cx = <usize>(DW * C), cx2 = cx << 1;
  const zr = za_row(pack, C, 5);
  const ih1 = ih0 + DH, ih2 = ih1 + DH;
  // Row pointers at output column 0 (input column -PL: maybe left of the image, never read there).
  const q0 = <u32>ih0 < <u32>H ? img + <usize>(ih0 * W - PL) * C : zr;
  const q1 = <u32>ih1 < <u32>H ? img + <usize>(ih1 * W - PL) * C : zr;
  const q2 = <u32>ih2 < <u32>H ? img + <usize>(ih2 * W - PL) * C : zr;
  const wp = packed_w(pack, C);
  const zp = load<i32>(req), lo_ = load<i32>(req, 4) - zp, hi_ = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, C);
  let c = 0;
  if (ASC_FEATURE_SIMD) for (; c + 8 <= C; c += 8) {
    const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo_), vhi = i32x4.splat(hi_);
    const cB = <usize>c << 2, cc = <usize>c;
    const b0 = v128.load(pack + cB), b1 = v128.load(pack + cB, 16);
    const m0 = v128.load(pm + cB), m1 = v128.load(pm + cB, 16);
    const p0 = v128.load(pp + cB), p1 = v128.load(pp + cB, 16);
    const wb = wp + (<usize>c << 2) * 5;
    const w0 = v128.load(wb), w1 = v128.load(wb, 16), w2 = v128.load(wb, 32), w3 = v128.load(wb, 48);
    const w4 = v128.load(wb, 64), w5 = v128.load(wb, 80), w6 = v128.load(wb, 96), w7 = v128.load(wb, 112);
    const w8 = v128.load(wb, 128), w9 = v128.load(wb, 144);
    const z = zr + cc;
    // border columns: a tap column outside the image reads the za row
    for (let m = 0; m < OW; m++) {
      if (m == owL) m = owR;
      if (m >= OW) break;
      const iw = m * SW - PL, d = <usize>m * sx + cc;
      const f0 = <u32>iw < <u32>W, f1 = <u32>(iw + DW) < <u32>W, f2 = <u32>(iw + 2 * DW) < <u32>W;
      const y0 = q0 + d, y1 = q1 + d, y2 = q2 + d;
      const r = tile3(f0 ? y0 : z, f1 ? y0 + cx : z, f2 ? y0 + cx2 : z, f0 ? y1 : z, f1 ? y1 + cx : z,
        f2 ? y1 + cx2 : z, f0 ? y2 : z, f1 ? y2 + cx : z, f2 ? y2 + cx2 : z,
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, b0, b1, m0, m1, p0, p1, vlo, vhi, vzp);
      v128.store64_lane(o + <usize>m * C + cc, r, 0);
    }
    const d = <usize>owL * sx + cc;
    let y0 = q0 + d, y1 = q1 + d, y2 = q2 + d, op = o + <usize>owL * C + cc;
    let m = owL;
    if (SW == 1 && DW == 1 && owR - owL >= 16) {
      // Stride 1: pixel m+1's tap columns are pixel m's shifted by one. Taps paired down the columns (rows
      // 0-1, row 2 alone: 6 dot products a pixel instead of 5), each input column is loaded and interleaved
      // once and feeds the three pixels that read it: pa (pixel m, finished by this column), qa (m+1), then
      // a new one (m+2); ~10% faster than tile3 on rows of 56 and more, slower on short ones (the start-up).
      const vw = col_w(pack, g) + (<usize>c * 24);
      let x0 = v128.load8x8_s(y0), x1 = v128.load8x8_s(y1), x2 = v128.load8x8_s(y2);
      let A = lo(x0, x1), A1 = hi(x0, x1), B = lo(x2, x2), B1 = hi(x2, x2);
      let pa0 = col2(b0, A, B, vw);
      let pa1 = col2(b1, A1, B1, vw + 16);
      x0 = v128.load8x8_s(y0 + cx); x1 = v128.load8x8_s(y1 + cx); x2 = v128.load8x8_s(y2 + cx);
      A = lo(x0, x1); A1 = hi(x0, x1); B = lo(x2, x2); B1 = hi(x2, x2);
      pa0 = col2(pa0, A, B, vw + 32);
      pa1 = col2(pa1, A1, B1, vw + 48);
      let qa0 = col2(b0, A, B, vw);
      let qa1 = col2(b1, A1, B1, vw + 16);
      let e0 = y0 + cx2, e1 = y1 + cx2, e2 = y2 + cx2;
      for (; m < owR; m++) {
        x0 = v128.load8x8_s(e0); x1 = v128.load8x8_s(e1); x2 = v128.load8x8_s(e2);
        A = lo(x0, x1); A1 = hi(x0, x1); B = lo(x2, x2); B1 = hi(x2, x2);
        pa0 = col2(pa0, A, B, vw + 64);
        pa1 = col2(pa1, A1, B1, vw + 80);
        const r0 = requant4(pa0, m0, p0, vlo, vhi, vzp), r1 = requant4(pa1, m1, p1, vlo, vhi, vzp);
        v128.store64_lane(op, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0)), 0);
        pa0 = col2(qa0, A, B, vw + 32);
        pa1 = col2(qa1, A1, B1, vw + 48);
        qa0 = col2(b0, A, B, vw);
        qa1 = col2(b1, A1, B1, vw + 16);
        e0 += cx; e1 += cx; e2 += cx; op += <usize>C;
      }
    }
    for (; m < owR; m++) {
      const r = tile3(y0, y0 + cx, y0 + cx2, y1, y1 + cx, y1 + cx2, y2, y2 + cx, y2 + cx2,
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, b0, b1, m0, m1, p0, p1, vlo, vhi, vzp);
      v128.store64_lane(op, r, 0);
      y0 += sx; y1 += sx; y2 += sx; op += <usize>C;
    }
  }
  if (c < C) for (let m = 0; m < OW; m++) scalar(o + <usize>m * C, img, pack, req, g, ih0, m * SW - PL, c);
}

// M output pixels of one row whose windows lie inside the image; o: the first one's output, x: the input at
// its window's first tap (channel 0). Per block of 8 channels, the block's weights are read once for the M.
function interior(o: usize, x: usize, pack: usize, req: usize, g: Geometry2d, M: i32): void {
  const W = g.W, C = g.C, KH = g.KH, KW = g.KW;
  const sx = <usize>(g.SW * C), cx = <usize>(g.DW * C), rx = <usize>(g.DH * W * C);
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const T = KH * KW, P = (T + 1) >> 1;
    const wp = packed_w(pack, C);
    const zp = load<i32>(req), lo_ = load<i32>(req, 4) - zp, hi_ = load<i32>(req, 8) - zp;
    const pm = req_mult(req), pp = req_pow(req, C);
    const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo_), vhi = i32x4.splat(hi_);
    for (; c + 8 <= C; c += 8) {
      const cB = <usize>c << 2, cc = <usize>c;
      const b0 = v128.load(pack + cB), b1 = v128.load(pack + cB, 16);
      const m0 = v128.load(pm + cB), m1 = v128.load(pm + cB, 16);
      const p0 = v128.load(pp + cB), p1 = v128.load(pp + cB, 16);
      const wb = wp + (<usize>(c >> 3) * P << 5);
      let xp = x + cc, op = o + cc;
      {
        for (let m = 0; m < M; m++) {
          let a0 = b0, a1 = b1, wq = wb;
          let kh = 0, kw = 0;
          for (let t = 0; t < T; t += 2) {
            const pa = xp + <usize>kh * rx + <usize>kw * cx;
            if (++kw == KW) { kw = 0; kh++; }
            let pb = pa;
            if (t + 1 < T) {
              pb = xp + <usize>kh * rx + <usize>kw * cx;
              if (++kw == KW) { kw = 0; kh++; }
            }
            const xa = v128.load8x8_s(pa), xb = v128.load8x8_s(pb);
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(lo(xa, xb), v128.load(wq)));
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(hi(xa, xb), v128.load(wq, 16)));
            wq += 32;
          }
          const r0 = requant4(a0, m0, p0, vlo, vhi, vzp), r1 = requant4(a1, m1, p1, vlo, vhi, vzp);
          v128.store64_lane(op, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0)), 0);
          xp += sx; op += <usize>C;
        }
      }
    }
  }
  if (c < C) for (let m = 0; m < M; m++) inside(o + <usize>m * C, x + <usize>m * sx, pack, req, g, c);
}

// Channels c0 .. C-1 of one output pixel whose window lies inside the image, x: its first tap (channel 0).
function inside(o: usize, x: usize, pack: usize, req: usize, g: Geometry2d, c0: i32): void {
  const C = g.C, KH = g.KH, KW = g.KW;
  const cx = <usize>(g.DW * C), rx = <usize>(g.DH * g.W * C);
  const P = (KH * KW + 1) >> 1;
  const wp = packed_w(pack, C);
  const zp = load<i32>(req), lo_ = load<i32>(req, 4) - zp, hi_ = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, C);
  for (let c = c0; c < C; c++) {
    const cB = <usize>c << 2;
    let acc = load<i32>(pack + cB);
    let xr = x + <usize>c;
    for (let kh = 0; kh < KH; kh++) {
      let xq = xr;
      for (let kw = 0; kw < KW; kw++) {
        acc += <i32>load<i8>(xq) * <i32>load<i16>(wp + (w_index(c, kh * KW + kw, P) << 1));
        xq += cx;
      }
      xr += rx;
    }
    store<i8>(o + <usize>c, <i8>requant1(acc, load<i32>(pm + cB), load<i32>(pp + cB), lo_, hi_, zp));
  }
}
