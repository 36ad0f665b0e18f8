// int8 depthwise 2-D convolution, depth multiplier 1: out int8 (N, OH, OW, C) = requant(bias + sum over
// the taps inside the image of (x - za) * w), x int8 (N, H, W, C) with zero point za, w int8 (KH, KW, C)
// symmetric per channel, bias i32 (C) or 0, req: requantization block of C channels (quant.ts).
// Taps in the padding are skipped (the same as reading za). Eight channels of one output pixel sit in
// two i32x4 accumulators while the taps go by: x - za and w widened to i16, i32x4.extmul_*_i16x8_s.
// Integer sums are exact, so the SIMD and scalar builds and any cut into row ranges give the same bits.

import { geometry } from "../geometry";
import { req_mult, req_pow, requant1, requant4 } from "./quant";

// Rows r0 .. r1-1 of each of the N output images (a cut of the rows gives the same bits).
export function qdwconv2d_forward(out: usize, inp: usize, w: usize, bias: usize, req: usize, geom: usize, N: i32,
  za: i32, r0: i32, r1: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KW = g.KW, OW = g.OW;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * H * W * C;
    const oimg = out + <usize>n * g.OH * OW * C;
    for (let oh = r0; oh < r1; oh++) {
      const ih0 = oh * g.SH - g.PT;
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * g.SW - g.PL;
        pixel(oimg + <usize>(oh * OW + ow) * C, img, w, bias, req, C, H, W, g.KH, KW, ih0, iw0, g.DH, g.DW, za);
      }
    }
  }
}

// All C channels of one output pixel whose window starts at input (ih0, iw0).
// @ts-ignore: decorator
@inline function pixel(o: usize, img: usize, w: usize, bias: usize, req: usize, C: i32, H: i32, W: i32, KH: i32,
  KW: i32, ih0: i32, iw0: i32, DH: i32, DW: i32, za: i32): void {
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, C);
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const vza = i16x8.splat(<i16>za);
    const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
    for (; c + 8 <= C; c += 8) {
      const cB = <usize>c << 2;
      let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0);
      if (bias != 0) { acc0 = v128.load(bias + cB); acc1 = v128.load(bias + cB, 16); }
      for (let kh = 0; kh < KH; kh++) {
        const ih = ih0 + kh * DH;
        if (ih < 0 || ih >= H) continue;
        for (let kw = 0; kw < KW; kw++) {
          const iw = iw0 + kw * DW;
          if (iw < 0 || iw >= W) continue;
          const x = i16x8.sub(v128.load8x8_s(img + <usize>(ih * W + iw) * C + c), vza);
          const wv = v128.load8x8_s(w + <usize>(kh * KW + kw) * C + c);
          acc0 = i32x4.add(acc0, i32x4.extmul_low_i16x8_s(x, wv));
          acc1 = i32x4.add(acc1, i32x4.extmul_high_i16x8_s(x, wv));
        }
      }
      const r0 = requant4(acc0, v128.load(pm + cB), v128.load(pp + cB), vlo, vhi, vzp);
      const r1 = requant4(acc1, v128.load(pm + cB, 16), v128.load(pp + cB, 16), vlo, vhi, vzp);
      v128.store64_lane(o + <usize>c, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0)), 0);
    }
  }
  for (; c < C; c++) {
    const cB = <usize>c << 2;
    let acc = bias != 0 ? load<i32>(bias + cB) : 0;
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * DH;
      if (ih < 0 || ih >= H) continue;
      for (let kw = 0; kw < KW; kw++) {
        const iw = iw0 + kw * DW;
        if (iw < 0 || iw >= W) continue;
        acc += (<i32>load<i8>(img + <usize>(ih * W + iw) * C + c) - za) * <i32>load<i8>(w + <usize>(kh * KW + kw) * C + c);
      }
    }
    store<i8>(o + <usize>c, <i8>requant1(acc, load<i32>(pm + cB), load<i32>(pp + cB), lo, hi, zp));
  }
}
