// RMSprop step and learning-rate schedule references with Keras 3 semantics, float64.

// p, g, v (velocity), m (momentum buffer), a (average gradient): same length, updated in place.
// v = rho v + (1 - rho) g²; centered: a = rho a + (1 - rho) g and denom = v - a² + eps, else v + eps;
// inc = lr g / sqrt(denom); momentum > 0: m = momentum m + inc, p -= m; else p -= inc.
export function rmspropStep(
  p: Float64Array,
  g: ArrayLike<number>,
  v: Float64Array,
  m: Float64Array,
  a: Float64Array,
  lr = 0.001,
  rho = 0.9,
  momentum = 0,
  eps = 1e-7,
  centered = false,
): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    v[i] = rho * v[i]! + (1 - rho) * gi * gi;
    let denom = v[i]! + eps;
    if (centered) {
      a[i] = rho * a[i]! + (1 - rho) * gi;
      denom = v[i]! - a[i]! * a[i]! + eps;
    }
    const inc = (lr * gi) / Math.sqrt(denom);
    if (momentum > 0) {
      m[i] = momentum * m[i]! + inc;
      p[i]! -= m[i]!;
    } else {
      p[i]! -= inc;
    }
  }
}

// initial · factor^floor(step / dropEvery)
export function stepDecay(initial: number, dropEvery: number, factor: number, step: number): number {
  return initial * factor ** Math.floor(step / dropEvery);
}

// Keras CosineDecay: initial · ((1 - alpha) · ½(1 + cos(π min(step, decaySteps)/decaySteps)) + alpha)
export function cosineDecay(initial: number, decaySteps: number, alpha: number, step: number): number {
  const done = Math.min(step, decaySteps) / decaySteps;
  return initial * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * done)) + alpha);
}
