// References, float64, for upsampling NHWC images by integer factors (SH, SW).
// nearest: out[oh, ow] = x[floor(oh / SH), floor(ow / SW)].
// bilinear, half-pixel centers (TF resize, tf.keras UpSampling2D): source y = (oh + 0.5) * H / OH - 0.5
// clamped at 0; rows floor(y) and floor(y) + 1 (clamped to H - 1) weighted 1 - fy and fy; same along x.
// Each backward is the transpose of the forward's linear map.

// (o, input size, output size) -> [i0, i1, weight of i1]
function taps(o: number, n: number, on: number): [number, number, number] {
  const s = Math.max((o + 0.5) * (n / on) - 0.5, 0);
  const i0 = Math.floor(s);
  return [i0, Math.min(i0 + 1, n - 1), s - i0];
}

// Calls f(outIndex, inIndex, weight) for every term of the forward linear map.
function terms(
  N: number,
  H: number,
  W: number,
  C: number,
  SH: number,
  SW: number,
  mode: 'nearest' | 'bilinear',
  f: (o: number, i: number, wgt: number) => void,
): void {
  const OH = H * SH,
    OW = W * SW;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const o = ((n * OH + oh) * OW + ow) * C;
        const at = (h: number, w: number) => ((n * H + h) * W + w) * C;
        if (mode === 'nearest') {
          for (let c = 0; c < C; c++) f(o + c, at(Math.floor(oh / SH), Math.floor(ow / SW)) + c, 1);
          continue;
        }
        const [h0, h1, fy] = taps(oh, H, OH),
          [w0, w1, fx] = taps(ow, W, OW);
        for (let c = 0; c < C; c++) {
          f(o + c, at(h0, w0) + c, (1 - fy) * (1 - fx));
          f(o + c, at(h0, w1) + c, (1 - fy) * fx);
          f(o + c, at(h1, w0) + c, fy * (1 - fx));
          f(o + c, at(h1, w1) + c, fy * fx);
        }
      }
    }
  }
}

// x (N,H,W,C) -> (N, H*SH, W*SW, C)
export function upsample(
  x: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  SH: number,
  SW: number,
  mode: 'nearest' | 'bilinear',
): Float64Array {
  const out = new Float64Array(N * H * SH * W * SW * C);
  terms(N, H, W, C, SH, SW, mode, (o, i, w) => {
    out[o] += w * x[i]!;
  });
  return out;
}

// dout (N, H*SH, W*SW, C) -> dx (N,H,W,C)
export function upsampleBackward(
  dout: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  SH: number,
  SW: number,
  mode: 'nearest' | 'bilinear',
): Float64Array {
  const dx = new Float64Array(N * H * W * C);
  terms(N, H, W, C, SH, SW, mode, (o, i, w) => {
    dx[i] += w * dout[o]!;
  });
  return dx;
}
