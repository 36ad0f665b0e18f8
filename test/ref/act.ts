// Activation and loss references, float64.
import { erf } from './activations.js';

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
  logits: ArrayLike<number>,
  labelsOneHot: ArrayLike<number>,
  rows: number,
  cols: number,
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

// Keras ReLU: x > t ? min(x, maxValue) : slope * (x - t)
export function reluGeneral(x: ArrayLike<number>, maxValue: number, slope: number, t: number): Float64Array {
  return Float64Array.from(x, (v) => (v > t ? Math.min(v, maxValue) : slope * (v - t)));
}

export function reluGeneralBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  maxValue: number,
  slope: number,
  t: number,
): Float64Array {
  return Float64Array.from(x, (v, i) => dout[i]! * (v > t ? (v < maxValue ? 1 : 0) : slope));
}

// Keras 3 hard_sigmoid: relu6(x + 3) / 6
export function hardSigmoid(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.min(Math.max(v + 3, 0), 6) / 6);
}

export function hardSigmoidBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (v > -3 && v < 3 ? dout[i]! / 6 : 0));
}

// Keras 3 hard_swish: x * relu6(x + 3) / 6
export function hardSwish(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6);
}

export function hardSwishBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => dout[i]! * (v <= -3 ? 0 : v >= 3 ? 1 : (2 * v + 3) / 6));
}

// swish / silu: x * sigmoid(x)
export function swish(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v / (1 + Math.exp(-v)));
}

export function swishBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const s = 1 / (1 + Math.exp(-v));
    return dout[i]! * (s + v * s * (1 - s));
  });
}

// x viewed as (outer, K, inner) -> softmax along K
export function softmaxAxis(x: ArrayLike<number>, outer: number, K: number, inner: number): Float64Array {
  const out = new Float64Array(outer * K * inner);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const at = (k: number) => (a * K + k) * inner + b;
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, x[at(k)]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(x[at(k)]! - max);
      for (let k = 0; k < K; k++) out[at(k)] = Math.exp(x[at(k)]! - max) / sum;
    }
  }
  return out;
}

// dout, x (outer, K, inner) -> dx = y * (dout - sum_k dout * y) along K
export function softmaxAxisBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  outer: number,
  K: number,
  inner: number,
): Float64Array {
  const y = softmaxAxis(x, outer, K, inner);
  const dx = new Float64Array(y.length);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const at = (k: number) => (a * K + k) * inner + b;
      let dot = 0;
      for (let k = 0; k < K; k++) dot += dout[at(k)]! * y[at(k)]!;
      for (let k = 0; k < K; k++) dx[at(k)] = y[at(k)]! * (dout[at(k)]! - dot);
    }
  }
  return dx;
}

// x viewed as (outer, K, inner) -> log softmax along K: log of the softmax reference (x - max - log sum exp)
export function logSoftmaxAxis(x: ArrayLike<number>, outer: number, K: number, inner: number): Float64Array {
  return softmaxAxis(x, outer, K, inner).map(Math.log);
}

// dout, x (outer, K, inner) -> dx = dout - softmax(x) * sum_k dout along K
export function logSoftmaxAxisBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  outer: number,
  K: number,
  inner: number,
): Float64Array {
  const p = softmaxAxis(x, outer, K, inner);
  const dx = new Float64Array(p.length);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const at = (k: number) => (a * K + k) * inner + b;
      let s = 0;
      for (let k = 0; k < K; k++) s += dout[at(k)]!;
      for (let k = 0; k < K; k++) dx[at(k)] = dout[at(k)]! - p[at(k)]! * s;
    }
  }
  return dx;
}

// GELU, tanh approximation (PyTorch approximate='tanh'): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const geluTanhInner = (v: number) => SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
export function geluTanh(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(geluTanhInner(v))));
}

// d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) u', t = tanh(u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
export function geluTanhBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(geluTanhInner(v));
    const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
    return dout[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
  });
}

// erf element-wise, by the series / continued fraction of ./activations.ts
export function erfAll(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, erf);
}

// d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
export function erfBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (dout[i]! * 2 * Math.exp(-v * v)) / Math.sqrt(Math.PI));
}
