// Slice of the middle axis of x viewed as (outer, N, inner): out = x[:, begin:begin+M, :].
export function slice(x: ArrayLike<number>, outer: number, N: number, inner: number, begin: number, M: number) {
  const out = new Float64Array(outer * M * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < M; j++) {
      for (let i = 0; i < inner; i++) out[(o * M + j) * inner + i] = x[(o * N + begin + j) * inner + i]!;
    }
  }
  return out;
}

// dx = dout scattered back into the range, zero elsewhere.
export function sliceBackward(
  dout: ArrayLike<number>,
  outer: number,
  N: number,
  inner: number,
  begin: number,
  M: number,
) {
  const dx = new Float64Array(outer * N * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < M; j++) {
      for (let i = 0; i < inner; i++) dx[(o * N + begin + j) * inner + i] = dout[(o * M + j) * inner + i]!;
    }
  }
  return dx;
}
