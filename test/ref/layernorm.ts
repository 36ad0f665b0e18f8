// Layer normalization reference in float64: x (R, D) rows, y = (x - mean) / sqrt(var + eps) * gamma + beta
// with each row's mean and biased variance; gamma / beta (D) or null (1 / 0).
export function layerNorm(
  x: ArrayLike<number>,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  R: number,
  D: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(R * D);
  for (let r = 0; r < R; r++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[r * D + d]!;
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[r * D + d]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / D + eps);
    for (let d = 0; d < D; d++) {
      y[r * D + d] = (x[r * D + d]! - mean) * inv * (gamma ? gamma[d]! : 1) + (beta ? beta[d]! : 0);
    }
  }
  return y;
}
