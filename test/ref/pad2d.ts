// References, float64, for zero padding and cropping of NHWC images. x is (N, H, W, C); sides are
// [[top, bottom], [left, right]]. Each backward is the adjoint of its forward (the other operation).

export type Sides = [[number, number], [number, number]];

// x (N,H,W,C) -> (N, H+t+b, W+l+r, C) with zeros around
export function zeroPad(
  x: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  [[t, b], [l, r]]: Sides,
): Float64Array {
  const OH = H + t + b,
    OW = W + l + r;
  const out = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        for (let c = 0; c < C; c++) out[((n * OH + h + t) * OW + w + l) * C + c] = x[((n * H + h) * W + w) * C + c]!;
      }
    }
  }
  return out;
}

// x (N,H,W,C) -> (N, H-t-b, W-l-r, C), the middle
export function crop(
  x: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  [[t, b], [l, r]]: Sides,
): Float64Array {
  const OH = H - t - b,
    OW = W - l - r;
  const out = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < OH; h++) {
      for (let w = 0; w < OW; w++) {
        for (let c = 0; c < C; c++) out[((n * OH + h) * OW + w) * C + c] = x[((n * H + h + t) * W + w + l) * C + c]!;
      }
    }
  }
  return out;
}

// dout (N, H+t+b, W+l+r, C) -> dx (N,H,W,C): the gradient of zeroPad is the crop of dout
export function zeroPadBackward(
  dout: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  s: Sides,
): Float64Array {
  return crop(dout, N, H + s[0][0] + s[0][1], W + s[1][0] + s[1][1], C, s);
}

// dout (N, H-t-b, W-l-r, C) -> dx (N,H,W,C): the gradient of crop is dout padded with zeros
export function cropBackward(
  dout: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  s: Sides,
): Float64Array {
  return zeroPad(dout, N, H - s[0][0] - s[0][1], W - s[1][0] - s[1][1], C, s);
}
