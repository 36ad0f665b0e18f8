// Activations and the fused softmax + categorical cross-entropy loss. exp/log/tanh/erfc are
// AssemblyScript's own (NativeMath, assembly/erf.ts) so every engine gives the same bits — JS
// Math.exp may differ between engines. sigmoid, tanh, elu and gelu are evaluated in f64 and rounded
// once. Layouts: element-wise ones over n values; x (R, K) rows of logits for softmax.
// Backward functions ACCUMULATE into d*; the caller zeroes.

import { relu1, relu4 } from "../simd";
import { erfc } from "../erf";

// out (n) = max(inp, 0); out may alias inp.
export function relu_forward(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, relu4(v128.load(inp + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, relu1(load<f32>(inp + o)));
  }
}

// dinp (n) += dout where y > 0 (y = the relu output, or its input: same sign test).
export function relu_backward(dinp: usize, dout: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = v128.and(v128.load(dout + o), f32x4.gt(v128.load(y + o), zero));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g: f32 = load<f32>(y + o) > 0 ? load<f32>(dout + o) : 0;
    store<f32>(dinp + o, load<f32>(dinp + o) + g);
  }
}

// out (R, K) = softmax of each row, stable (the row max is subtracted before exp).
export function softmax_forward(out: usize, x: usize, R: i32, K: i32): void {
  for (let r = 0; r < R; r++) {
    const xr = x + (<usize>(r * K) << 2);
    const yr = out + (<usize>(r * K) << 2);
    let m = load<f32>(xr);
    for (let k = 1; k < K; k++) m = max(m, load<f32>(xr + (<usize>k << 2)));
    let s: f64 = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(<f64>(load<f32>(xr + (<usize>k << 2)) - m));
      store<f32>(yr + (<usize>k << 2), <f32>e);
      s += e;
    }
    const inv = 1.0 / s;
    for (let k = 0; k < K; k++) {
      const p = yr + (<usize>k << 2);
      store<f32>(p, <f32>(<f64>load<f32>(p) * inv));
    }
  }
}

// dx (R, K) += y * (dy - sum(dy * y)) for each row, y = softmax output.
export function softmax_backward(dx: usize, dy: usize, y: usize, R: i32, K: i32): void {
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * K) << 2;
    let dot: f64 = 0;
    for (let k = 0; k < K; k++) dot += <f64>load<f32>(dy + o + (<usize>k << 2)) * <f64>load<f32>(y + o + (<usize>k << 2));
    for (let k = 0; k < K; k++) {
      const p = o + (<usize>k << 2);
      const g = <f64>load<f32>(y + p) * (<f64>load<f32>(dy + p) - dot);
      store<f32>(dx + p, load<f32>(dx + p) + <f32>g);
    }
  }
}

// probs (R, K) = softmax(logits); returns the mean over rows of -sum_k labels * log softmax.
// log softmax = (x - max) - log(sum exp(x - max)) never takes the log of a rounded-to-zero prob.
export function softmax_xent_forward(probs: usize, logits: usize, labels: usize, R: i32, K: i32): f64 {
  softmax_forward(probs, logits, R, K);
  let total: f64 = 0;
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * K) << 2;
    let m = load<f32>(logits + o);
    for (let k = 1; k < K; k++) m = max(m, load<f32>(logits + o + (<usize>k << 2)));
    let s: f64 = 0;
    for (let k = 0; k < K; k++) s += Math.exp(<f64>(load<f32>(logits + o + (<usize>k << 2)) - m));
    const lse = Math.log(s);
    let row: f64 = 0;
    for (let k = 0; k < K; k++) {
      const y = <f64>load<f32>(labels + o + (<usize>k << 2));
      if (y != 0) row -= y * (<f64>(load<f32>(logits + o + (<usize>k << 2)) - m) - lse);
    }
    total += row;
  }
  return total / <f64>R;
}

// dlogits (R, K) += (probs - labels) * scale; scale = dLoss / R for the mean over rows.
export function softmax_xent_backward(dlogits: usize, probs: usize, labels: usize, R: i32, K: i32, scale: f32): void {
  const n = R * K;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dlogits + o, load<f32>(dlogits + o) + (load<f32>(probs + o) - load<f32>(labels + o)) * scale);
  }
}

// out (n) = 1 / (1 + exp(-x)), in the form that never overflows exp.
export function sigmoid_forward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    let y: f64;
    if (x >= 0) y = 1.0 / (1.0 + Math.exp(-x));
    else { const e = Math.exp(x); y = e / (1.0 + e); }
    store<f32>(out + o, <f32>y);
  }
}

// dinp (n) += dout * y * (1 - y), y = the sigmoid output.
export function sigmoid_backward(dinp: usize, dout: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const one = f32x4.splat(1);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const vy = v128.load(y + o);
      const g = f32x4.mul(v128.load(dout + o), f32x4.mul(vy, f32x4.sub(one, vy)));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const vy = load<f32>(y + o);
    store<f32>(dinp + o, load<f32>(dinp + o) + load<f32>(dout + o) * (vy * (1 - vy)));
  }
}

// out (n) = tanh(x)
export function tanh_forward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, <f32>Math.tanh(<f64>load<f32>(inp + o)));
  }
}

// dinp (n) += dout * (1 - y^2), y = the tanh output.
export function tanh_backward(dinp: usize, dout: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const one = f32x4.splat(1);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const vy = v128.load(y + o);
      const g = f32x4.mul(v128.load(dout + o), f32x4.sub(one, f32x4.mul(vy, vy)));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const vy = load<f32>(y + o);
    store<f32>(dinp + o, load<f32>(dinp + o) + load<f32>(dout + o) * (1 - vy * vy));
  }
}

// out (n) = x > 0 ? x : alpha * (exp(x) - 1)   (Keras ELU; expm1 keeps small |x| exact)
export function elu_forward(out: usize, inp: usize, n: i32, alpha: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    store<f32>(out + o, x > 0 ? x : <f32>(<f64>alpha * Math.expm1(<f64>x)));
  }
}

// dinp (n) += x > 0 ? dout : dout * alpha * exp(x), x = the elu input.
export function elu_backward(dinp: usize, dout: usize, inp: usize, n: i32, alpha: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    const d = load<f32>(dout + o);
    const g: f32 = x > 0 ? d : <f32>(<f64>d * <f64>alpha * Math.exp(<f64>x));
    store<f32>(dinp + o, load<f32>(dinp + o) + g);
  }
}

// out (n) = x > 0 ? x : alpha * x   (Keras LeakyReLU, alpha = negative_slope)
export function leaky_relu_forward(out: usize, inp: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0), va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      v128.store(out + o, v128.bitselect(x, f32x4.mul(x, va), f32x4.gt(x, zero)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    store<f32>(out + o, x > 0 ? x : x * alpha);
  }
}

// dinp (n) += x > 0 ? dout : alpha * dout, x = the leaky relu input.
export function leaky_relu_backward(dinp: usize, dout: usize, inp: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0), va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const d = v128.load(dout + o);
      const g = v128.bitselect(d, f32x4.mul(d, va), f32x4.gt(v128.load(inp + o), zero));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(dout + o);
    store<f32>(dinp + o, load<f32>(dinp + o) + (load<f32>(inp + o) > 0 ? d : d * alpha));
  }
}

const SQRT1_2: f64 = 0.70710678118654752440;
const INV_SQRT_2PI: f64 = 0.39894228040143267794;

// out (n) = x * Phi(x) = 0.5 * x * erfc(-x / sqrt 2): the exact GELU (Keras gelu, approximate=False),
// written with erfc so the negative tail keeps its relative precision.
export function gelu_forward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    store<f32>(out + o, <f32>(0.5 * x * erfc(-x * SQRT1_2)));
  }
}

// dinp (n) += dout * (Phi(x) + x * phi(x)), x = the gelu input, phi the standard normal density.
export function gelu_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    const dy = 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    store<f32>(dinp + o, load<f32>(dinp + o) + <f32>(<f64>load<f32>(dout + o) * dy));
  }
}
