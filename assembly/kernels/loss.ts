// Element-wise losses (Keras): mean squared error, mean absolute error, binary cross-entropy on
// probabilities clipped to [eps, 1 - eps], and on logits with the sigmoid fused. Forward returns the SUM over the n elements, accumulated
// in f64 in index order (the op divides by n); backward ACCUMULATES scale * d(term)/dp into dp, with
// scale = dloss / n.

// sum (p - y)^2
export function mse_forward(p: usize, y: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = <f64>(load<f32>(p + o) - load<f32>(y + o));
    s += d * d;
  }
  return s;
}

export function mse_backward(dp: usize, p: usize, y: usize, n: i32, scale: f32): void {
  const s2: f32 = scale * 2;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dp + o, load<f32>(dp + o) + s2 * (load<f32>(p + o) - load<f32>(y + o)));
  }
}

// sum |p - y|
export function mae_forward(p: usize, y: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    s += Math.abs(<f64>(load<f32>(p + o) - load<f32>(y + o)));
  }
  return s;
}

// d|p - y|/dp = sign(p - y), 0 where p == y (as TensorFlow's sign).
export function mae_backward(dp: usize, p: usize, y: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(p + o) - load<f32>(y + o);
    const g: f32 = d > 0 ? scale : d < 0 ? -scale : 0;
    store<f32>(dp + o, load<f32>(dp + o) + g);
  }
}

// sum -(y log(q) + (1 - y) log(1 - q)), q = clip(p, eps, 1 - eps) in f32 as Keras, logs in f64.
export function bce_forward(p: usize, y: usize, n: i32, eps: f32): f64 {
  const hi: f32 = 1 - eps;
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const q = <f64>max(eps, min(hi, load<f32>(p + o)));
    const t = <f64>load<f32>(y + o);
    s -= t * Math.log(q) + (1 - t) * Math.log(1 - q);
  }
  return s;
}

// Zero gradient where p is clipped (outside [eps, 1 - eps], as clip_by_value), else (q - y) / (q (1 - q)).
export function bce_backward(dp: usize, p: usize, y: usize, n: i32, eps: f32, scale: f32): void {
  const hi: f32 = 1 - eps;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const q = load<f32>(p + o);
    if (q < eps || q > hi) continue;
    const t = <f64>load<f32>(y + o), qd = <f64>q;
    const g = (-t / qd + (1 - t) / (1 - qd)) * <f64>scale;
    store<f32>(dp + o, load<f32>(dp + o) + <f32>g);
  }
}

// sum max(x, 0) - x y + log(1 + exp(-|x|)) over logits x: binary cross-entropy of sigmoid(x), fused
// (TF's sigmoid_cross_entropy_with_logits); exp never overflows and no log of a rounded-to-0 prob, in f64.
export function bce_logits_forward(x: usize, y: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o), t = <f64>load<f32>(y + o);
    s += max(v, 0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
  }
  return s;
}

// dx += scale * (sigmoid(x) - y), the sigmoid in its overflow-free form, in f64.
export function bce_logits_backward(dx: usize, x: usize, y: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = <f64>load<f32>(x + o);
    const e = Math.exp(-Math.abs(v));
    const sg = v >= 0 ? 1 / (1 + e) : e / (1 + e);
    store<f32>(dx + o, load<f32>(dx + o) + <f32>((sg - <f64>load<f32>(y + o)) * <f64>scale));
  }
}
