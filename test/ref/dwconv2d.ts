// Depthwise 2-D convolution reference (Keras DepthwiseConv2D), float64.
// x (N,H,W,C), w (KH,KW,C,M), b (C*M), out (N,OH,OW,C*M) with output channel c*M + m.
import { outSize, type Pad } from './geom.js';

export interface DwDims {
  N: number;
  H: number;
  W: number;
  C: number;
  M: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  pad: Pad;
}

export function dwOut(d: DwDims): { OH: number; OW: number } {
  return {
    OH: outSize(d.H, (d.KH - 1) * d.DH + 1, d.SH, d.pad.top, d.pad.bottom),
    OW: outSize(d.W, (d.KW - 1) * d.DW + 1, d.SW, d.pad.left, d.pad.right),
  };
}

// f(xi, wi, oi) for every multiply-add, straight from the definition.
function dwTaps(d: DwDims, f: (xi: number, wi: number, oi: number) => void): void {
  const { N, H, W, C, M, KH, KW, SH, SW, DH, DW, pad } = d;
  const { OH, OW } = dwOut(d);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          for (let m = 0; m < M; m++) {
            const oi = ((n * OH + oh) * OW + ow) * C * M + c * M + m;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * SH - pad.top + kh * DH;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * SW - pad.left + kw * DW;
                if (iw < 0 || iw >= W) continue;
                f(((n * H + ih) * W + iw) * C + c, ((kh * KW + kw) * C + c) * M + m, oi);
              }
            }
          }
        }
      }
    }
  }
}

export function dwconv2dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  d: DwDims,
): { out: Float64Array; OH: number; OW: number } {
  const { OH, OW } = dwOut(d);
  const K = d.C * d.M;
  const out = new Float64Array(d.N * OH * OW * K);
  if (b) for (let i = 0; i < out.length; i++) out[i] = b[i % K]!;
  dwTaps(d, (xi, wi, oi) => {
    out[oi]! += x[xi]! * w[wi]!;
  });
  return { out, OH, OW };
}

export function dwconv2dBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  d: DwDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const K = d.C * d.M;
  const dx = new Float64Array(d.N * d.H * d.W * d.C);
  const dw = new Float64Array(d.KH * d.KW * K);
  const db = new Float64Array(K);
  for (let i = 0; i < dout.length; i++) db[i % K]! += dout[i]!;
  dwTaps(d, (xi, wi, oi) => {
    dx[xi]! += dout[oi]! * w[wi]!;
    dw[wi]! += dout[oi]! * x[xi]!;
  });
  return { dx, dw, db };
}
