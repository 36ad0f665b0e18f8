// Element-wise loss references, float64 (Keras semantics: the mean over every element).

export const EPSILON = 1e-7;

// p, y (same length) -> mean (p - y)^2 and its gradient w.r.t. p
export function mse(p: ArrayLike<number>, y: ArrayLike<number>): { loss: number; dp: Float64Array } {
  const n = p.length,
    dp = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = p[i]! - y[i]!;
    s += d * d;
    dp[i] = (2 * d) / n;
  }
  return { loss: s / n, dp };
}

// p, y -> mean |p - y| and its gradient (sign, 0 at a tie)
export function mae(p: ArrayLike<number>, y: ArrayLike<number>): { loss: number; dp: Float64Array } {
  const n = p.length,
    dp = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = p[i]! - y[i]!;
    s += Math.abs(d);
    dp[i] = Math.sign(d) / n;
  }
  return { loss: s / n, dp };
}

// p (probabilities), y in [0, 1] -> mean binary cross-entropy with p clipped to [eps, 1 - eps], gradient 0 where clipped.
// The clip bounds are float32 values, as in Keras on float32 tensors (1 - 1e-7 rounds to 0.99999988).
export function bce(p: ArrayLike<number>, y: ArrayLike<number>, eps = EPSILON): { loss: number; dp: Float64Array } {
  const n = p.length,
    dp = new Float64Array(n);
  const lo = Math.fround(eps),
    hi = Math.fround(1 - lo);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const q = Math.min(hi, Math.max(lo, p[i]!)),
      t = y[i]!;
    s -= t * Math.log(q) + (1 - t) * Math.log(1 - q);
    dp[i] = p[i]! < lo || p[i]! > hi ? 0 : (-t / q + (1 - t) / (1 - q)) / n;
  }
  return { loss: s / n, dp };
}

// x (logits), y in [0, 1] -> mean binary cross-entropy of sigmoid(x), written plainly with log1p (no
// cancellation for large |x|), and its gradient sigmoid(x) - y.
export function bceLogits(x: ArrayLike<number>, y: ArrayLike<number>): { loss: number; dp: Float64Array } {
  const n = x.length,
    dp = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i]!,
      t = y[i]!;
    // -t log(sigmoid v) - (1 - t) log(1 - sigmoid v), with log(sigmoid v) = -log1p(exp(-v)).
    s +=
      v >= 0
        ? t * Math.log1p(Math.exp(-v)) + (1 - t) * (v + Math.log1p(Math.exp(-v)))
        : t * (Math.log1p(Math.exp(v)) - v) + (1 - t) * Math.log1p(Math.exp(v));
    dp[i] = (1 / (1 + Math.exp(-v)) - t) / n;
  }
  return { loss: s / n, dp };
}
