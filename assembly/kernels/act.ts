// Activations and the fused softmax + categorical cross-entropy loss. exp/log/tanh/erfc are
// AssemblyScript's own (NativeMath, assembly/erf.ts) so every engine gives the same bits — JS
// Math.exp may differ between engines; sigmoid and swish forward use our own exp (expneg1/expneg2).
// sigmoid, swish, tanh, elu, erf and both gelus are evaluated in f64 and rounded once. Layouts:
// element-wise ones over n values; x (R, K) rows of logits for softmax.
// Backward functions ACCUMULATE into d*; the caller zeroes.

import { relu1, relu4 } from "../simd";
import { erfc } from "../erf";

// dinp[o] += g (4 lanes / 1 lane): the accumulating store every backward kernel ends with.
// @ts-ignore: decorator
@inline function acc4(dinp: usize, o: usize, g: v128): void {
  v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
}

// @ts-ignore: decorator
@inline function acc1(dinp: usize, o: usize, g: f32): void {
  store<f32>(dinp + o, load<f32>(dinp + o) + g);
}

// 1 / (1 + exp(-x)) in the form that never overflows exp.
// @ts-ignore: decorator
@inline function sigmoid64(x: f64): f64 {
  let y: f64;
  if (x >= 0) y = 1.0 / (1.0 + Math.exp(-x));
  else { const e = Math.exp(x); y = e / (1.0 + e); }
  return y;
}

// e^a for a <= 0 (or NaN) by our own f64 exp, the same IEEE operations in the scalar and 2-lane forms so
// every build gives the same bits: a = k ln2 + r (k rounded by the 1.5 * 2^52 trick, which also leaves k in
// the low bits; ln2 in two parts keeps r exact), e^r by Taylor to degree 13 (|r| <= ln2/2: truncation < 2^-57),
// 2^k put into the exponent bits. a < -708 gives 0 (exp's own result rounds to 0 in f32 there anyway).
const LN2_HI: f64 = 6.93147180369123816490e-1; // 32 bits: k * LN2_HI is exact
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.44269504088896338700;
const MAGIC: f64 = 6755399441055744.0; // 1.5 * 2^52
const EXP_MIN: f64 = -708.0;

// @ts-ignore: decorator
@inline function exp_poly1(r: f64): f64 {
  // Estrin: shorter dependency chains than Horner, the same operations in both forms.
  const r2 = r * r, r4 = r2 * r2;
  const q0 = (1.0 + r) + (0.5 + r * (1.0 / 6.0)) * r2;
  const q1 = (1.0 / 24.0 + r * (1.0 / 120.0)) + (1.0 / 720.0 + r * (1.0 / 5040.0)) * r2;
  const q2 = (1.0 / 40320.0 + r * (1.0 / 362880.0)) + (1.0 / 3628800.0 + r * (1.0 / 39916800.0)) * r2;
  const q3 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  return (q0 + q1 * r4) + (q2 + q3 * r4) * (r4 * r4);
}

// @ts-ignore: decorator
@inline function expneg1(a: f64): f64 {
  const t = a * INV_LN2 + MAGIC;
  const k = t - MAGIC;
  const r = (a - k * LN2_HI) - k * LN2_LO;
  const s = reinterpret<f64>((reinterpret<i64>(t) - reinterpret<i64>(MAGIC) + 1023) << 52);
  return a < EXP_MIN ? 0.0 : exp_poly1(r) * s;
}

// c0 + c1 r (2 lanes)
// @ts-ignore: decorator
@inline function lin2(c0: f64, c1: f64, r: v128): v128 {
  return f64x2.add(f64x2.splat(c0), f64x2.mul(r, f64x2.splat(c1)));
}

// a + b * m (2 lanes)
// @ts-ignore: decorator
@inline function mad2(a: v128, b: v128, m: v128): v128 {
  return f64x2.add(a, f64x2.mul(b, m));
}

// @ts-ignore: decorator
@inline function exp_poly2(r: v128): v128 {
  const r2 = f64x2.mul(r, r), r4 = f64x2.mul(r2, r2);
  const q0 = mad2(lin2(1.0, 1.0, r), lin2(0.5, 1.0 / 6.0, r), r2);
  const q1 = mad2(lin2(1.0 / 24.0, 1.0 / 120.0, r), lin2(1.0 / 720.0, 1.0 / 5040.0, r), r2);
  const q2 = mad2(lin2(1.0 / 40320.0, 1.0 / 362880.0, r), lin2(1.0 / 3628800.0, 1.0 / 39916800.0, r), r2);
  const q3 = lin2(1.0 / 479001600.0, 1.0 / 6227020800.0, r);
  return mad2(mad2(q0, q1, r4), mad2(q2, q3, r4), f64x2.mul(r4, r4));
}

// @ts-ignore: decorator
@inline function expneg2(a: v128): v128 {
  const t = f64x2.add(f64x2.mul(a, f64x2.splat(INV_LN2)), f64x2.splat(MAGIC));
  const k = f64x2.sub(t, f64x2.splat(MAGIC));
  const r = f64x2.sub(f64x2.sub(a, f64x2.mul(k, f64x2.splat(LN2_HI))), f64x2.mul(k, f64x2.splat(LN2_LO)));
  const ki = i64x2.sub(t, i64x2.splat(reinterpret<i64>(MAGIC)));
  const s = i64x2.shl(i64x2.add(ki, i64x2.splat(1023)), 52);
  return v128.andnot(f64x2.mul(exp_poly2(r), s), f64x2.lt(a, f64x2.splat(EXP_MIN)));
}

// sigmoid in f64 (1 lane / 2 lanes): x >= 0: 1 / (1 + e^-x), else e^x / (1 + e^x), e = expneg(-|x|).
// @ts-ignore: decorator
@inline function sigmoidf1(x: f64): f64 {
  const e = expneg1(-abs(x));
  return (x >= 0 ? 1.0 : e) / (1.0 + e);
}

// @ts-ignore: decorator
@inline function sigmoidf2(x: v128): v128 {
  const e = expneg2(f64x2.neg(f64x2.abs(x)));
  const one = f64x2.splat(1.0);
  return f64x2.div(v128.bitselect(one, e, f64x2.ge(x, f64x2.splat(0))), f64x2.add(one, e));
}

// out (n) = sigmoid(x) or x * sigmoid(x) (swish), 4 values at a time as two f64x2 halves, rounded once.
// @ts-ignore: decorator
@inline function sigmoid_map(out: usize, inp: usize, n: i32, swish: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(inp + o);
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 2, 3));
      let a = sigmoidf2(lo);
      let b = sigmoidf2(hi);
      if (swish) { a = f64x2.mul(lo, a); b = f64x2.mul(hi, b); }
      v128.store(out + o, v128.shuffle<i64>(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 2));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    const s = sigmoidf1(x);
    store<f32>(out + o, <f32>(swish ? x * s : s));
  }
}

// Softmax of the K values at xr, xr + step, ... into yr (same stride): the row max is subtracted
// before exp, the sum is in f64.
// @ts-ignore: decorator
@inline function softmax_line(yr: usize, xr: usize, K: i32, step: usize): void {
  let m = load<f32>(xr);
  for (let k = 1; k < K; k++) m = max(m, load<f32>(xr + <usize>k * step));
  let s: f64 = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(<f64>(load<f32>(xr + <usize>k * step) - m));
    store<f32>(yr + <usize>k * step, <f32>e);
    s += e;
  }
  const inv = 1.0 / s;
  for (let k = 0; k < K; k++) {
    const p = yr + <usize>k * step;
    store<f32>(p, <f32>(<f64>load<f32>(p) * inv));
  }
}

// dx += y * (dy - sum(dy * y)) along one line of K values at byte offset base, stride step.
// @ts-ignore: decorator
@inline function softmax_grad_line(dx: usize, dy: usize, y: usize, base: usize, K: i32, step: usize): void {
  let dot: f64 = 0;
  for (let k = 0; k < K; k++) {
    const p = base + <usize>k * step;
    dot += <f64>load<f32>(dy + p) * <f64>load<f32>(y + p);
  }
  for (let k = 0; k < K; k++) {
    const p = base + <usize>k * step;
    const g = <f64>load<f32>(y + p) * (<f64>load<f32>(dy + p) - dot);
    store<f32>(dx + p, load<f32>(dx + p) + <f32>g);
  }
}

// v where x > 0, else v * alpha: leaky relu's output (v = x) and its gradient (v = dy).
// @ts-ignore: decorator
@inline function leaky4(v: v128, x: v128, va: v128): v128 {
  return v128.bitselect(v, f32x4.mul(v, va), f32x4.gt(x, f32x4.splat(0)));
}

// @ts-ignore: decorator
@inline function leaky1(v: f32, x: f32, alpha: f32): f32 {
  return x > 0 ? v : v * alpha;
}

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
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g: f32 = load<f32>(y + o) > 0 ? load<f32>(dout + o) : 0;
    acc1(dinp, o, g);
  }
}

// out (R, K) = softmax of each row, stable (the row max is subtracted before exp).
export function softmax_forward(out: usize, x: usize, R: i32, K: i32): void {
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * K) << 2;
    softmax_line(out + o, x + o, K, 4);
  }
}

// dx (R, K) += y * (dy - sum(dy * y)) for each row, y = softmax output.
export function softmax_backward(dx: usize, dy: usize, y: usize, R: i32, K: i32): void {
  for (let r = 0; r < R; r++) softmax_grad_line(dx, dy, y, <usize>(r * K) << 2, K, 4);
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
  sigmoid_map(out, inp, n, false);
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
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const vy = load<f32>(y + o);
    acc1(dinp, o, load<f32>(dout + o) * (vy * (1 - vy)));
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
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const vy = load<f32>(y + o);
    acc1(dinp, o, load<f32>(dout + o) * (1 - vy * vy));
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
    acc1(dinp, o, g);
  }
}

// out (n) = x > 0 ? x : alpha * x   (Keras LeakyReLU, alpha = negative_slope)
export function leaky_relu_forward(out: usize, inp: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      v128.store(out + o, leaky4(x, x, va));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    store<f32>(out + o, leaky1(x, x, alpha));
  }
}

// dinp (n) += x > 0 ? dout : alpha * dout, x = the leaky relu input.
export function leaky_relu_backward(dinp: usize, dout: usize, inp: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      acc4(dinp, o, leaky4(v128.load(dout + o), v128.load(inp + o), va));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    acc1(dinp, o, leaky1(load<f32>(dout + o), load<f32>(inp + o), alpha));
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
    acc1(dinp, o, <f32>(<f64>load<f32>(dout + o) * dy));
  }
}

const TWO_OVER_SQRT_PI: f64 = 1.12837916709551257390;
const SQRT_2_OVER_PI: f64 = 0.79788456080286535588;
const GELU_TANH_C: f64 = 0.044715;

// erf(x) in f64. For |x| < 1 the Maclaurin series 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
// a fixed 22 terms (the last is below 1e-21 at |x| = 1), which keeps the relative precision near 0
// that 1 - erfc(x) would lose; beyond, 1 - erfc(|x|) (erf >= 0.84 there: no cancellation to fear).
// @ts-ignore: decorator
@inline function erf64(x: f64): f64 {
  const a = Math.abs(x);
  if (a >= 1.0) {
    const r = 1.0 - erfc(a);
    return x < 0 ? -r : r;
  }
  const z = x * x;
  let term = x, sum = x;
  for (let n = 1; n < 22; n++) {
    term *= -z / <f64>n;
    sum += term / <f64>(2 * n + 1);
  }
  return TWO_OVER_SQRT_PI * sum;
}

// out (n) = erf(x) (ONNX Erf), evaluated in f64 and rounded once.
export function erf_forward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, <f32>erf64(<f64>load<f32>(inp + o)));
  }
}

// dinp (n) += dout * 2/sqrt(pi) * exp(-x^2), x = the erf input.
export function erf_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    acc1(dinp, o, <f32>(<f64>load<f32>(dout + o) * TWO_OVER_SQRT_PI * Math.exp(-x * x)));
  }
}

// out (n) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh GELU (PyTorch
// approximate='tanh', Keras approximate=True). 1 + tanh(u) = 2 sigmoid(2u), so it is x * sigmoid(2u),
// which keeps the negative tail's relative precision; in f64, rounded once.
export function gelu_tanh_forward(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    store<f32>(out + o, <f32>(x * sigmoid64(2.0 * u)));
  }
}

// dinp (n) += dout * (s + 2 x s (1 - s) u'), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
export function gelu_tanh_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
    const s = sigmoid64(2.0 * u);
    const du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x);
    acc1(dinp, o, <f32>(<f64>load<f32>(dout + o) * (s + 2.0 * x * s * (1.0 - s) * du)));
  }
}

// Keras ReLU with all its arguments (max_value, negative_slope, threshold >= 0); relu6 is (6, 0, 0):
//   out = x > t ? min(x, maxv) : slope * (x - t)
// "+ 0" turns the -0 of slope 0 times a negative into +0, as Keras' relu gives. pmin/pmax and the
// scalar selects are the same comparisons, so both builds give the same bits. maxv may be +Infinity.
export function relu_general_forward(out: usize, inp: usize, n: i32, maxv: f32, slope: f32, t: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vm = f32x4.splat(maxv), vs = f32x4.splat(slope), vt = f32x4.splat(t), zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      const neg = f32x4.add(f32x4.mul(vs, f32x4.sub(x, vt)), zero);
      v128.store(out + o, v128.bitselect(f32x4.pmin(x, vm), neg, f32x4.gt(x, vt)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    store<f32>(out + o, x > t ? (maxv < x ? maxv : x) : slope * (x - t) + <f32>0);
  }
}

// dinp (n) += dout * (x > t ? (x < maxv ? 1 : 0) : slope), x = the input.
export function relu_general_backward(dinp: usize, dout: usize, inp: usize, n: i32, maxv: f32, slope: f32, t: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vm = f32x4.splat(maxv), vs = f32x4.splat(slope), vt = f32x4.splat(t);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o), d = v128.load(dout + o);
      const pos = v128.and(d, f32x4.lt(x, vm));
      const g = v128.bitselect(pos, f32x4.mul(d, vs), f32x4.gt(x, vt));
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o), d = load<f32>(dout + o);
    const g: f32 = x > t ? (x < maxv ? d : 0) : d * slope;
    acc1(dinp, o, g);
  }
}

// relu6(x + 3) in f32 (1 lane / 4 lanes), the common part of hard sigmoid and hard swish.
// @ts-ignore: decorator
@inline function relu6p3(x: f32): f32 {
  const a = x + <f32>3;
  // The selects of f32x4.pmax(0, a) and f32x4.pmin(6, b), so -0 and NaN come out as in the SIMD loops.
  const b: f32 = <f32>0 < a ? a : <f32>0;
  return b < <f32>6 ? b : <f32>6;
}

// @ts-ignore: decorator
@inline function relu6p3x4(x: v128): v128 {
  return f32x4.pmin(f32x4.splat(6), f32x4.pmax(f32x4.splat(0), f32x4.add(x, f32x4.splat(3))));
}

// out (n) = relu6(x + 3) / 6: Keras 3's hard_sigmoid (Keras 2 and tfjs use clip(0.2 x + 0.5, 0, 1)).
export function hard_sigmoid_forward(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const six = f32x4.splat(6);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.div(relu6p3x4(v128.load(inp + o)), six));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, relu6p3(load<f32>(inp + o)) / <f32>6);
  }
}

// dinp (n) += dout / 6 where -3 < x < 3, x = the input.
export function hard_sigmoid_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const three = f32x4.splat(3), m3 = f32x4.splat(-3), six = f32x4.splat(6);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      const inside = v128.and(f32x4.gt(x, m3), f32x4.lt(x, three));
      const g = v128.and(f32x4.div(v128.load(dout + o), six), inside);
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    const g: f32 = x > <f32>-3 && x < <f32>3 ? load<f32>(dout + o) / <f32>6 : 0;
    acc1(dinp, o, g);
  }
}

// out (n) = x * relu6(x + 3) / 6: Keras 3's hard_swish (MobileNetV3), in that order of rounding.
export function hard_swish_forward(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const six = f32x4.splat(6);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      v128.store(out + o, f32x4.div(f32x4.mul(x, relu6p3x4(x)), six));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o);
    store<f32>(out + o, (x * relu6p3(x)) / <f32>6);
  }
}

// dinp (n) += dout * (x <= -3 ? 0 : x >= 3 ? 1 : (2x + 3) / 6), x = the input; at the kinks the
// one-sided values TF's relu6 gradient gives (it is 0 at 0 and 6).
export function hard_swish_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const three = f32x4.splat(3), m3 = f32x4.splat(-3), six = f32x4.splat(6), two = f32x4.splat(2);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(inp + o), d = v128.load(dout + o);
      const mid = f32x4.div(f32x4.mul(d, f32x4.add(f32x4.mul(two, x), three)), six);
      const g = v128.bitselect(d, v128.and(mid, f32x4.gt(x, m3)), f32x4.ge(x, three));
      acc4(dinp, o, g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const x = load<f32>(inp + o), d = load<f32>(dout + o);
    const g: f32 = x >= <f32>3 ? d : x > <f32>-3 ? (d * (<f32>2 * x + <f32>3)) / <f32>6 : 0;
    acc1(dinp, o, g);
  }
}

// out (n) = x * sigmoid(x) (swish / silu), in f64 with the overflow-free sigmoid, rounded once.
export function swish_forward(out: usize, inp: usize, n: i32): void {
  sigmoid_map(out, inp, n, true);
}

// dinp (n) += dout * s * (1 + x (1 - s)), s = sigmoid(x), x = the input.
export function swish_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const x = <f64>load<f32>(inp + o);
    const s = sigmoid64(x);
    acc1(dinp, o, <f32>(<f64>load<f32>(dout + o) * s * (1.0 + x * (1.0 - s))));
  }
}

// Softmax along the middle axis of x (outer, K, inner), stable, sums in f64 as softmax_forward:
// Keras Softmax(axis) for an axis that is not the last (inner = product of the axes after it).
export function softmax_axis_forward(out: usize, x: usize, outer: i32, K: i32, inner: i32): void {
  const step = <usize>inner << 2;
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const base = <usize>(a * K * inner + b) << 2;
      softmax_line(out + base, x + base, K, step);
    }
  }
}

// dx (outer, K, inner) += y * (dy - sum_k(dy * y)) along the middle axis, y = the softmax output.
export function softmax_axis_backward(dx: usize, dy: usize, y: usize, outer: i32, K: i32, inner: i32): void {
  const step = <usize>inner << 2;
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) softmax_grad_line(dx, dy, y, <usize>(a * K * inner + b) << 2, K, step);
  }
}

// Log-softmax along the middle axis of x (outer, K, inner): x - m - log(sum_k exp(x - m)), m the line's
// max; exp, log and the sum in f64 (ONNX LogSoftmax, torch.log_softmax). K = inner = 1 per line is fine.
export function log_softmax_axis_forward(out: usize, x: usize, outer: i32, K: i32, inner: i32): void {
  const step = <usize>inner << 2;
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const base = <usize>(a * K * inner + b) << 2;
      const xr = x + base, yr = out + base;
      let m = load<f32>(xr);
      for (let k = 1; k < K; k++) m = max(m, load<f32>(xr + <usize>k * step));
      let s: f64 = 0;
      for (let k = 0; k < K; k++) s += Math.exp(<f64>(load<f32>(xr + <usize>k * step) - m));
      const lse = <f64>m + Math.log(s);
      for (let k = 0; k < K; k++) {
        const o = <usize>k * step;
        store<f32>(yr + o, <f32>(<f64>load<f32>(xr + o) - lse));
      }
    }
  }
}

// dx (outer, K, inner) += dy - exp(y) * sum_k(dy) along the middle axis, y = the log-softmax output.
export function log_softmax_axis_backward(dx: usize, dy: usize, y: usize, outer: i32, K: i32, inner: i32): void {
  const step = <usize>inner << 2;
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      const base = <usize>(a * K * inner + b) << 2;
      let s: f64 = 0;
      for (let k = 0; k < K; k++) s += <f64>load<f32>(dy + base + <usize>k * step);
      for (let k = 0; k < K; k++) {
        const p = base + <usize>k * step;
        const g = <f64>load<f32>(dy + p) - Math.exp(<f64>load<f32>(y + p)) * s;
        store<f32>(dx + p, load<f32>(dx + p) + <f32>g);
      }
    }
  }
}
