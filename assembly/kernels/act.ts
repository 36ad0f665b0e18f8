// Activations and the fused softmax + categorical cross-entropy loss. exp/log are AssemblyScript's
// own (NativeMath) so every engine gives the same bits — JS Math.exp may differ between engines.
// Layouts: x (R, K) rows of logits. Backward functions ACCUMULATE into d*; the caller zeroes.

import { relu1, relu4 } from "../simd";

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
