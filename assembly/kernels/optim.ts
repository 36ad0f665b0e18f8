// Optimizer steps, in place on the parameters, with Keras semantics. Moments whose magnitude drops
// below the smallest normal f32 are flushed to zero: wasm has no flush-to-zero mode and subnormal
// arithmetic runs 10x+ slower.

// @ts-ignore: decorator
@inline function flush(x: f32): f32 {
  return abs(x) < <f32>1.17549435e-38 ? 0 : x;
}

// SGD: momentum 0 -> p -= lr*g; else v = momentum*v - lr*g; p += v (nesterov: p += momentum*v - lr*g).
export function sgd_step(param: usize, grad: usize, velocity: usize, n: i32, lr: f32, momentum: f32, nesterov: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o);
    const p = load<f32>(param + o);
    if (momentum == 0) {
      store<f32>(param + o, p - lr * g);
    } else {
      const v = flush(momentum * load<f32>(velocity + o) - lr * g);
      store<f32>(velocity + o, v);
      store<f32>(param + o, nesterov ? p + (momentum * v - lr * g) : p + v);
    }
  }
}

// Adam (Keras): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= alpha * m / (sqrt(v) + eps) with alpha = lr * sqrt(1 - b2^t) / (1 - b1^t), t the 1-based step.
// alpha is computed here, in wasm, because JS Math.pow is not guaranteed identical across engines.
export function adam_step(param: usize, grad: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, t: i32): void {
  const alpha = <f32>(<f64>lr * Math.sqrt(1 - Math.pow(<f64>beta2, <f64>t)) / (1 - Math.pow(<f64>beta1, <f64>t)));
  const c1: f32 = 1 - beta1;
  const c2: f32 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o);
    const mi = flush(beta1 * load<f32>(m + o) + c1 * g);
    const vi = flush(beta2 * load<f32>(v + o) + c2 * (g * g));
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(param + o, load<f32>(param + o) - alpha * mi / (Mathf.sqrt(vi) + eps));
  }
}

// RMSprop (Keras 3): v = rho v + (1-rho) g^2; centered: a = rho a + (1-rho) g, denom = v - a^2 + eps,
// else denom = v + eps; inc = lr g / sqrt(denom); momentum > 0: m = momentum m + inc, p -= m; else
// p -= inc. rho arrives as f64 so 1 - rho is rounded from the exact difference, as Keras computes it.
// velocity (n) always; mom (n) only when momentum > 0; avg (n) only when centered (else 0).
export function rmsprop_step(param: usize, grad: usize, velocity: usize, mom: usize, avg: usize, n: i32,
  lr: f32, rho: f64, momentum: f32, eps: f32, centered: i32): void {
  const r = <f32>rho;
  const c = <f32>(1.0 - rho);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o);
    const v = flush(r * load<f32>(velocity + o) + c * (g * g));
    store<f32>(velocity + o, v);
    let denom: f32;
    if (centered) {
      const a = flush(r * load<f32>(avg + o) + c * g);
      store<f32>(avg + o, a);
      denom = v - a * a + eps;
    } else {
      denom = v + eps;
    }
    const inc = lr * g / Mathf.sqrt(denom);
    if (momentum > 0) {
      const m = flush(momentum * load<f32>(mom + o) + inc);
      store<f32>(mom + o, m);
      store<f32>(param + o, load<f32>(param + o) - m);
    } else {
      store<f32>(param + o, load<f32>(param + o) - inc);
    }
  }
}

// Learning-rate schedules, evaluated here so every engine gives the same bits (JS Math.pow/cos may
// differ between engines). step is the 0-based optimizer step (or an epoch, for per-epoch use).

// initial * factor^floor(step / dropEvery), rounded to f32
export function lr_step_decay(initial: f64, factor: f64, dropEvery: i32, step: i32): f32 {
  return <f32>(initial * Math.pow(factor, <f64>(step / dropEvery)));
}

// Keras CosineDecay: initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decaySteps) / decaySteps)) + alpha)
export function lr_cosine_decay(initial: f64, alpha: f64, decaySteps: i32, step: i32): f32 {
  const done = <f64>min(step, decaySteps) / <f64>decaySteps;
  const cosine = 0.5 * (1.0 + Math.cos(Math.PI * done));
  return <f32>(initial * ((1.0 - alpha) * cosine + alpha));
}

// AdamW (Keras): decoupled weight decay p -= lr * wd * p, then the Adam step above (the decay never
// enters m or v). One pass instead of a decay pass plus adam_step: the parameters are read once.
export function adamw_step(param: usize, grad: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32,
  eps: f32, wd: f32, t: i32): void {
  const alpha = <f32>(<f64>lr * Math.sqrt(1 - Math.pow(<f64>beta2, <f64>t)) / (1 - Math.pow(<f64>beta1, <f64>t)));
  const c1: f32 = 1 - beta1;
  const c2: f32 = 1 - beta2;
  const decay: f32 = lr * wd;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o);
    const mi = flush(beta1 * load<f32>(m + o) + c1 * g);
    const vi = flush(beta2 * load<f32>(v + o) + c2 * (g * g));
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const p = load<f32>(param + o);
    store<f32>(param + o, (p - decay * p) - alpha * mi / (Mathf.sqrt(vi) + eps));
  }
}

// One annealing phase of PyTorch's OneCycleLR: from start to end as pct goes 0 -> 1, along a half
// cosine (cosine != 0: end + (start - end) / 2 * (1 + cos(pi * pct))) or a straight line.
export function lr_anneal(start: f64, end: f64, pct: f64, cosine: i32): f32 {
  if (cosine) return <f32>(end + (start - end) / 2.0 * (Math.cos(Math.PI * pct) + 1.0));
  return <f32>((end - start) * pct + start);
}
