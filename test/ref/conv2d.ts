// 2-D convolution references (cross-correlation, zero padding), float64.
// x is NHWC (N,H,W,C); w is (KH,KW,C,K) as in Keras; b is (K); out is (N,OH,OW,K).
import { outSize, type Pad } from './geom.js';

// x (N,H,W,C), w (KH,KW,C,K), b (K) or null -> out (N,OH,OW,K), optionally relu'd
export function conv2dForward(
  x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null,
  N: number, H: number, W: number, C: number, K: number,
  KH: number, KW: number, SH: number, SW: number, pad: Pad, relu = false,
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
  dout: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>,
  N: number, H: number, W: number, C: number, K: number,
  KH: number, KW: number, SH: number, SW: number, pad: Pad,
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
