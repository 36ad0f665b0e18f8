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
