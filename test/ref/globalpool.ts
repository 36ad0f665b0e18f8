// Global pooling references, float64: x (N, HW, C) (an NHWC image with H·W = HW pixels) -> out (N, C).

// x -> mean over the HW pixels of each image and channel
export function globalAvgPoolForward(x: ArrayLike<number>, N: number, HW: number, C: number): Float64Array {
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) out[n * C + c]! += x[(n * HW + p) * C + c]!;
  for (let i = 0; i < out.length; i++) out[i]! /= HW;
  return out;
}

// dout (N, C) -> dx (N, HW, C): every pixel gets dout / HW
export function globalAvgPoolBackward(dout: ArrayLike<number>, N: number, HW: number, C: number): Float64Array {
  const dx = new Float64Array(N * HW * C);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) dx[(n * HW + p) * C + c] = dout[n * C + c]! / HW;
  return dx;
}

// x -> max over pixels, argmax = flat index into x of the first maximum (strict '>')
export function globalMaxPoolForward(
  x: ArrayLike<number>,
  N: number,
  HW: number,
  C: number,
): { out: Float64Array; argmax: Int32Array } {
  const out = new Float64Array(N * C);
  const argmax = new Int32Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let best = -Infinity,
        at = -1;
      for (let p = 0; p < HW; p++) {
        const i = (n * HW + p) * C + c;
        if (x[i]! > best) {
          best = x[i]!;
          at = i;
        }
      }
      out[n * C + c] = best;
      argmax[n * C + c] = at;
    }
  }
  return { out, argmax };
}

// dout (N, C), argmax -> dx (N, HW, C): the gradient goes to the winning pixel only
export function globalMaxPoolBackward(dout: ArrayLike<number>, argmax: ArrayLike<number>, xSize: number): Float64Array {
  const dx = new Float64Array(xSize);
  for (let i = 0; i < dout.length; i++) dx[argmax[i]!]! += dout[i]!;
  return dx;
}
