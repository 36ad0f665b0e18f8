// Optimizer step references with Keras 3 semantics; all updates are in place, float64.

// p, g, v (same length); v is the velocity buffer -> updates p (and v when momentum != 0)
export function sgdStep(
  p: Float64Array,
  g: ArrayLike<number>,
  v: Float64Array,
  lr: number,
  momentum = 0,
  nesterov = false,
): void {
  for (let i = 0; i < p.length; i++) {
    if (momentum === 0) {
      // Keras skips the velocity entirely here, so v is left untouched.
      p[i]! -= lr * g[i]!;
      continue;
    }
    v[i] = momentum * v[i]! - lr * g[i]!;
    // Nesterov looks ahead along the *updated* velocity.
    p[i]! += nesterov ? momentum * v[i]! - lr * g[i]! : v[i]!;
  }
}

// p, g, m, v (same length); t is the 1-based step count -> updates p, m, v
export function adamStep(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  lr = 0.001,
  beta1 = 0.9,
  beta2 = 0.999,
  eps = 1e-7,
): void {
  // Keras folds both bias corrections into the step size, so eps is added
  // to the *uncorrected* sqrt(v) (this differs slightly from the paper).
  const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * gi;
    v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
    p[i]! -= (alpha * m[i]!) / (Math.sqrt(v[i]!) + eps);
  }
}

// AdamW (Keras): p -= lr * wd * p, then the Adam step of adamStep; same arguments plus wd.
export function adamwStep(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  lr: number,
  wd: number,
  beta1 = 0.9,
  beta2 = 0.999,
  eps = 1e-7,
): void {
  for (let i = 0; i < p.length; i++) p[i]! -= lr * wd * p[i]!;
  adamStep(p, g, m, v, t, lr, beta1, beta2, eps);
}
