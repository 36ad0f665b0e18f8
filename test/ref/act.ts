// Activation and loss references, float64.

// x (any shape) -> max(x, 0), same shape
export function relu(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
  return out;
}

// dout, x (same shape; x is the relu *input*) -> dx = dout where x > 0, else 0
export function reluBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i]! > 0 ? dout[i]! : 0;
  return dx;
}

// x (rows,cols) -> row-wise softmax (rows,cols)
export function softmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    // Subtracting the row max keeps exp() from overflowing; the result is unchanged.
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, x[r * cols + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[r * cols + j]! - max);
      out[r * cols + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) out[r * cols + j]! /= sum;
  }
  return out;
}

// logits (rows,cols), labelsOneHot (rows,cols) -> loss (mean over rows), probs (rows,cols), dlogits (rows,cols)
export function softmaxCrossEntropy(
  logits: ArrayLike<number>, labelsOneHot: ArrayLike<number>, rows: number, cols: number,
): { loss: number; probs: Float64Array; dlogits: Float64Array } {
  const probs = softmax(logits, rows, cols);
  const dlogits = new Float64Array(rows * cols);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    // log softmax = x - max - log(sum exp(x - max)), computed directly so a
    // probability that underflows to 0 still gives a finite log.
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, logits[r * cols + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logits[r * cols + j]! - max);
    const logSum = Math.log(sum);
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const y = labelsOneHot[i]!;
      if (y !== 0) loss -= y * (logits[i]! - max - logSum);
      dlogits[i] = (probs[i]! - y) / rows;
    }
  }
  return { loss: loss / rows, probs, dlogits };
}
