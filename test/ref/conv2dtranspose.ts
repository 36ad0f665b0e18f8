// Transposed 2-D convolution reference (Keras Conv2DTranspose), float64, written as a scatter from
// its definition: input pixel (ih, iw) adds x * w to output pixel (ih*S - pad + kh*D, iw*S - pad + kw*D).
// x (N,H,W,C), w (KH,KW,F,C) (Keras' layout), b (F), out (N,OH,OW,F).

export interface TrDims {
  N: number;
  H: number;
  W: number;
  C: number;
  F: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  padding: 'valid' | 'same';
  outputPadding: [number, number] | null;
}

// Keras' deconv_output_length and the top/left padding TensorFlow's conv2d_transpose uses.
export function trAxis(n: number, k: number, s: number, d: number, padding: 'valid' | 'same', op: number | null) {
  const ke = k + (k - 1) * (d - 1);
  let out: number;
  if (op === null) out = padding === 'valid' ? n * s + Math.max(ke - s, 0) : n * s;
  else out = (n - 1) * s + ke - 2 * (padding === 'same' ? Math.floor(ke / 2) : 0) + op;
  let before = 0;
  if (padding === 'same') before = Math.floor(Math.max((n - 1) * s + ke - out, 0) / 2);
  return { out, before };
}

export function trOut(d: TrDims) {
  const h = trAxis(d.H, d.KH, d.SH, d.DH, d.padding, d.outputPadding ? d.outputPadding[0] : null);
  const w = trAxis(d.W, d.KW, d.SW, d.DW, d.padding, d.outputPadding ? d.outputPadding[1] : null);
  return { OH: h.out, OW: w.out, PT: h.before, PL: w.before };
}

function trTaps(d: TrDims, f: (xi: number, wi: number, oi: number) => void): void {
  const { N, H, W, C, F, KH, KW, SH, SW, DH, DW } = d;
  const { OH, OW, PT, PL } = trOut(d);
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      for (let iw = 0; iw < W; iw++) {
        for (let kh = 0; kh < KH; kh++) {
          const oh = ih * SH - PT + kh * DH;
          if (oh < 0 || oh >= OH) continue;
          for (let kw = 0; kw < KW; kw++) {
            const ow = iw * SW - PL + kw * DW;
            if (ow < 0 || ow >= OW) continue;
            for (let f0 = 0; f0 < F; f0++) {
              for (let c = 0; c < C; c++) {
                f(
                  ((n * H + ih) * W + iw) * C + c,
                  ((kh * KW + kw) * F + f0) * C + c,
                  ((n * OH + oh) * OW + ow) * F + f0,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dTransposeForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  d: TrDims,
): { out: Float64Array; OH: number; OW: number } {
  const { OH, OW } = trOut(d);
  const out = new Float64Array(d.N * OH * OW * d.F);
  if (b) for (let i = 0; i < out.length; i++) out[i] = b[i % d.F]!;
  trTaps(d, (xi, wi, oi) => {
    out[oi]! += x[xi]! * w[wi]!;
  });
  return { out, OH, OW };
}

export function conv2dTransposeBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  d: TrDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(d.N * d.H * d.W * d.C);
  const dw = new Float64Array(d.KH * d.KW * d.F * d.C);
  const db = new Float64Array(d.F);
  for (let i = 0; i < dout.length; i++) db[i % d.F]! += dout[i]!;
  trTaps(d, (xi, wi, oi) => {
    dx[xi]! += dout[oi]! * w[wi]!;
    dw[wi]! += dout[oi]! * x[xi]!;
  });
  return { dx, dw, db };
}
