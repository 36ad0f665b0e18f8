// 2-D convolution references (cross-correlation, zero padding), float64.
// x is NHWC (N,H,W,C); w is (KH,KW,C,K) as in Keras; b is (K); out is (N,OH,OW,K).
import { outSize, type Pad } from './geom.js';

// x (N,H,W,C), w (KH,KW,C,K), b (K) or null -> out (N,OH,OW,K), optionally relu'd
export function conv2dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  N: number,
  H: number,
  W: number,
  C: number,
  K: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  pad: Pad,
  relu = false,
): { out: Float64Array; OH: number; OW: number } {
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  const out = new Float64Array(N * OH * OW * K);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let k = 0; k < K; k++) {
          let sum = b ? b[k]! : 0;
          for (let kh = 0; kh < KH; kh++) {
            // Input row under this tap; rows that fall in the padding contribute zero.
            const ih = oh * SH - pad.top + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - pad.left + kw;
              if (iw < 0 || iw >= W) continue;
              for (let c = 0; c < C; c++) {
                sum += x[((n * H + ih) * W + iw) * C + c]! * w[((kh * KW + kw) * C + c) * K + k]!;
              }
            }
          }
          out[((n * OH + oh) * OW + ow) * K + k] = relu && sum < 0 ? 0 : sum;
        }
      }
    }
  }
  return { out, OH, OW };
}

// dout (N,OH,OW,K), x (N,H,W,C), w (KH,KW,C,K) -> dx (N,H,W,C), dw (KH,KW,C,K), db (K)
// dout must already carry any activation mask (e.g. from reluBackward).
export function conv2dBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  K: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  pad: Pad,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  const dx = new Float64Array(N * H * W * C);
  const dw = new Float64Array(KH * KW * C * K);
  const db = new Float64Array(K);
  // Same loop nest as the forward pass: every multiply-add there sends
  // d * (the other factor) back to each of its two inputs.
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let k = 0; k < K; k++) {
          const d = dout[((n * OH + oh) * OW + ow) * K + k]!;
          db[k]! += d;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - pad.top + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - pad.left + kw;
              if (iw < 0 || iw >= W) continue;
              for (let c = 0; c < C; c++) {
                const xi = ((n * H + ih) * W + iw) * C + c;
                const wi = ((kh * KW + kw) * C + c) * K + k;
                dx[xi]! += d * w[wi]!;
                dw[wi]! += d * x[xi]!;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
}

/** Geometry of the general reference: dilation D and groups G (w is (KH, KW, C/G, K)). */
export interface ConvDims {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  G: number;
  pad: Pad;
}

// Output size of a dilated window: the effective kernel spans (k-1)*d+1 pixels.
export function convGeneralOut(d: ConvDims): { OH: number; OW: number } {
  return {
    OH: outSize(d.H, (d.KH - 1) * d.DH + 1, d.SH, d.pad.top, d.pad.bottom),
    OW: outSize(d.W, (d.KW - 1) * d.DW + 1, d.SW, d.pad.left, d.pad.right),
  };
}

// Calls f(xi, wi, oi) for every multiply-add of the dilated, grouped convolution (x, w, out indices):
// the one loop nest behind both the forward and the backward reference.
function convTaps(d: ConvDims, f: (xi: number, wi: number, oi: number) => void): void {
  const { N, H, W, C, K, KH, KW, SH, SW, DH, DW, G, pad } = d;
  const { OH, OW } = convGeneralOut(d);
  const Cg = C / G,
    Kg = K / G;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let k = 0; k < K; k++) {
          const g = Math.floor(k / Kg);
          const oi = ((n * OH + oh) * OW + ow) * K + k;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - pad.top + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - pad.left + kw * DW;
              if (iw < 0 || iw >= W) continue;
              for (let c = 0; c < Cg; c++) {
                f(((n * H + ih) * W + iw) * C + g * Cg + c, ((kh * KW + kw) * Cg + c) * K + k, oi);
              }
            }
          }
        }
      }
    }
  }
}

// x (N,H,W,C), w (KH,KW,C/G,K), b (K) or null -> out (N,OH,OW,K): Keras Conv2D with dilation_rate and groups.
export function conv2dGeneralForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  d: ConvDims,
): { out: Float64Array; OH: number; OW: number } {
  const { OH, OW } = convGeneralOut(d);
  const out = new Float64Array(d.N * OH * OW * d.K);
  if (b) for (let i = 0; i < out.length; i++) out[i] = b[i % d.K]!;
  convTaps(d, (xi, wi, oi) => {
    out[oi]! += x[xi]! * w[wi]!;
  });
  return { out, OH, OW };
}

// dout (N,OH,OW,K) -> dx, dw, db of conv2dGeneralForward.
export function conv2dGeneralBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  d: ConvDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(d.N * d.H * d.W * d.C);
  const dw = new Float64Array(d.KH * d.KW * (d.C / d.G) * d.K);
  const db = new Float64Array(d.K);
  for (let i = 0; i < dout.length; i++) db[i % d.K]! += dout[i]!;
  convTaps(d, (xi, wi, oi) => {
    dx[xi]! += dout[oi]! * w[wi]!;
    dw[wi]! += dout[oi]! * x[xi]!;
  });
  return { dx, dw, db };
}
