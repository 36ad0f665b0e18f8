// 2-D max and average pooling references, float64, NHWC, per channel.
// Padding pixels never take part: they cannot win a max and are not counted in an average (Keras/TF).
import { outSize, type Pad } from './geom.js';

// x (N,H,W,C) -> out (N,OH,OW,C), argmax (N,OH,OW,C) flat index into x of each winner
// A window lying wholly in padding (possible only with explicit padding >= kernel) yields -Infinity and argmax -1.
export function maxPoolForward(
  x: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  pad: Pad,
): { out: Float64Array; argmax: Int32Array; OH: number; OW: number } {
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  const out = new Float64Array(N * OH * OW * C);
  const argmax = new Int32Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let bestIdx = -1;
          // Row-major scan with strict '>' so ties go to the first pixel seen.
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - pad.top + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - pad.left + kw;
              if (iw < 0 || iw >= W) continue;
              const xi = ((n * H + ih) * W + iw) * C + c;
              if (x[xi]! > best) {
                best = x[xi]!;
                bestIdx = xi;
              }
            }
          }
          const oi = ((n * OH + oh) * OW + ow) * C + c;
          out[oi] = best;
          argmax[oi] = bestIdx;
        }
      }
    }
  }
  return { out, argmax, OH, OW };
}

// dout (N,OH,OW,C), argmax (N,OH,OW,C), xSize = N*H*W*C -> dx (N,H,W,C)
export function maxPoolBackward(dout: ArrayLike<number>, argmax: ArrayLike<number>, xSize: number): Float64Array {
  const dx = new Float64Array(xSize);
  // Overlapping windows can share a winner, so accumulate.
  for (let i = 0; i < dout.length; i++) {
    const xi = argmax[i]!;
    if (xi >= 0) dx[xi]! += dout[i]!;
  }
  return dx;
}

// x (N,H,W,C) -> out (N,OH,OW,C), mean over the in-bounds pixels of each window
// A window lying wholly in padding yields 0.
export function avgPoolForward(
  x: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  pad: Pad,
): { out: Float64Array; OH: number; OW: number } {
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  const out = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let sum = 0;
          let count = 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - pad.top + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - pad.left + kw;
              if (iw < 0 || iw >= W) continue;
              sum += x[((n * H + ih) * W + iw) * C + c]!;
              count++;
            }
          }
          out[((n * OH + oh) * OW + ow) * C + c] = count > 0 ? sum / count : 0;
        }
      }
    }
  }
  return { out, OH, OW };
}

// dout (N,OH,OW,C) -> dx (N,H,W,C); each in-bounds pixel of a window gets dout / count
export function avgPoolBackward(
  dout: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  pad: Pad,
): Float64Array {
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        // The divisor depends only on the window's overlap with the image, not on c.
        const h0 = Math.max(oh * SH - pad.top, 0);
        const h1 = Math.min(oh * SH - pad.top + KH, H);
        const w0 = Math.max(ow * SW - pad.left, 0);
        const w1 = Math.min(ow * SW - pad.left + KW, W);
        if (h1 <= h0 || w1 <= w0) continue; // wholly in padding: forward output was a constant 0
        const count = (h1 - h0) * (w1 - w0);
        for (let c = 0; c < C; c++) {
          const g = dout[((n * OH + oh) * OW + ow) * C + c]! / count;
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) {
              dx[((n * H + ih) * W + iw) * C + c]! += g;
            }
          }
        }
      }
    }
  }
  return dx;
}
