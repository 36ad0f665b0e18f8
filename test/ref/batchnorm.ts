// Batch normalization reference, float64, over the last axis. x (R, C): R rows (N·H·W for NHWC, N
// for [N, F]) of C channels; gamma, beta, mean, variance (C). Keras BatchNormalization semantics.

export interface BatchNormResult {
  out: Float64Array;
  /** The statistics used: batch ones in training (variance biased, ÷R), the moving ones otherwise. */
  mean: Float64Array;
  variance: Float64Array;
}

// x (R,C) -> out (R,C) = (x - mean) / sqrt(variance + eps) * gamma + beta
// training: mean/variance of the batch; else the given moving ones. gamma/beta null = 1 / 0.
export function batchNormForward(
  x: ArrayLike<number>,
  R: number,
  C: number,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  eps: number,
  training: boolean,
  movingMean?: ArrayLike<number>,
  movingVariance?: ArrayLike<number>,
): BatchNormResult {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  if (training) {
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) mean[c]! += x[r * C + c]!;
    for (let c = 0; c < C; c++) mean[c]! /= R;
    // Biased variance: divide by R, not R - 1 (Keras 3, and what normalizes the batch).
    for (let r = 0; r < R; r++)
      for (let c = 0; c < C; c++) {
        const d = x[r * C + c]! - mean[c]!;
        variance[c]! += d * d;
      }
    for (let c = 0; c < C; c++) variance[c]! /= R;
  } else {
    for (let c = 0; c < C; c++) {
      mean[c] = movingMean![c]!;
      variance[c] = movingVariance![c]!;
    }
  }
  const out = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const xhat = (x[r * C + c]! - mean[c]!) / Math.sqrt(variance[c]! + eps);
      out[r * C + c] = xhat * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
    }
  }
  return { out, mean, variance };
}

// dout, x (R,C) -> dx (R,C), dgamma, dbeta (C). In training the batch mean and variance depend on x:
//   dx = gamma * invstd * (dout - mean_r(dout) - xhat * mean_r(dout * xhat))
// in inference they are constants: dx = gamma * invstd * dout.
export function batchNormBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  R: number,
  C: number,
  gamma: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
  training: boolean,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(R * C);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const invstd = 1 / Math.sqrt(variance[c]! + eps);
    let sdy = 0,
      sdyx = 0;
    for (let r = 0; r < R; r++) {
      const i = r * C + c;
      sdy += dout[i]!;
      sdyx += dout[i]! * (x[i]! - mean[c]!) * invstd;
    }
    dgamma[c] = sdyx;
    dbeta[c] = sdy;
    const k = (gamma ? gamma[c]! : 1) * invstd;
    for (let r = 0; r < R; r++) {
      const i = r * C + c;
      const xhat = (x[i]! - mean[c]!) * invstd;
      dx[i] = training ? k * (dout[i]! - sdy / R - (xhat * sdyx) / R) : k * dout[i]!;
    }
  }
  return { dx, dgamma, dbeta };
}

// moving, batch (C) -> moving * momentum + batch * (1 - momentum)
export function updateMoving(moving: ArrayLike<number>, batch: ArrayLike<number>, momentum: number): Float64Array {
  return Float64Array.from(moving, (m, c) => m * momentum + batch[c]! * (1 - momentum));
}
