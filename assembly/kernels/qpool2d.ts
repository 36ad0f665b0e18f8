// int8 max pooling: out int8 (N, OH, OW, C) = the largest of each window of inp int8 (N, H, W, C), padded
// positions left out (Keras / ONNX semantics; the caller guarantees every window holds an image pixel).
// Dequantization, (q - zp) * scale with scale > 0, is monotonic, so the float max pooling of dequantized
// values is the dequantization of this one, exactly: int8 chains pool without leaving int8.
// 16 channels a step with i8x16.max_s; the rest one by one. Integer maxima: every build gives the same bytes.

import { geometry } from "../geometry";

// Output rows r0 .. r1-1 of each of the N images (a cut of the rows gives the same bytes).
export function qmaxpool2d_forward(out: usize, inp: usize, geom: usize, N: i32, r0: i32, r1: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * H * W * C;
    for (let oh = r0; oh < r1; oh++) {
      const h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + KH, H);
      let o = out + (<usize>(n * OH + oh) * OW) * C;
      for (let ow = 0; ow < OW; ow++) {
        const w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + KW, W);
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          for (; c + 16 <= C; c += 16) {
            let m = i8x16.splat(-128);
            for (let ih = h0; ih < h1; ih++) {
              let p = img + <usize>(ih * W + w0) * C + c;
              for (let iw = w0; iw < w1; iw++) {
                m = i8x16.max_s(m, v128.load(p));
                p += <usize>C;
              }
            }
            v128.store(o + <usize>c, m);
          }
        }
        for (; c < C; c++) {
          let m: i32 = -128;
          for (let ih = h0; ih < h1; ih++)
            for (let iw = w0; iw < w1; iw++) m = max(m, <i32>load<i8>(img + <usize>(ih * W + iw) * C + c));
          store<i8>(o + <usize>c, <i8>m);
        }
        o += <usize>C;
      }
    }
  }
}
