// Activations and the fused softmax + categorical cross-entropy loss. Layouts: element-wise ones over n
// values; x (R, K) rows of logits for softmax. Backward functions ACCUMULATE into d*; the caller zeroes.
// sigmoid, swish, tanh, elu, erf and both gelus are evaluated in f64 and rounded once, with our own exp,
// expm1 and erfc (assembly/erf.ts): 4 values per step as two f64x2 halves in the SIMD builds and the same
// IEEE operations one value at a time in the scalar build, so every build gives the same bits (JS Math.exp
// may differ between engines); see map_fwd. The softmaxes use NativeMath's exp / log.

import { relu1, relu4 } from "../simd";
import {
  ERF_FAST, erfbig1, erfbig2, erfcx1, erfcx2, erfF1, erfF2, erfG1, erfG2, expm1neg1, expm1neg2, expneg1, expneg2,
  expsq1, expsq2, withsign1, withsign2,
} from "../erf";

// dinp[o] += g (4 lanes / 1 lane): the accumulating store every backward kernel ends with.
// @ts-ignore: decorator
@inline function acc4(dinp: usize, o: usize, g: v128): void {
  v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
}

// @ts-ignore: decorator
@inline function acc1(dinp: usize, o: usize, g: f32): void {
  store<f32>(dinp + o, load<f32>(dinp + o) + g);
}

// The low / high two f32 lanes of v as f64x2, and two f64x2 rounded back into one f32x4.
// @ts-ignore: decorator
@inline function lo2(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

// @ts-ignore: decorator
@inline function hi2(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 2, 3));
}

// @ts-ignore: decorator
@inline function pack2(a: v128, b: v128): v128 {
  return v128.shuffle<i64>(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 2);
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

const SQRT1_2: f64 = 0.70710678118654752440;
const INV_SQRT_2PI: f64 = 0.39894228040143267794;
const TWO_OVER_SQRT_PI: f64 = 1.12837916709551257390;
const SQRT_2_OVER_PI: f64 = 0.79788456080286535588;
const GELU_TANH_C: f64 = 0.044715;
const GELU_TANH_C3: f64 = 3.0 * 0.044715;

// The element-wise maps, by code (a compile-time constant at every call, so each kernel keeps only its own).
const SIGMOID = 0, SWISH = 1, GELU = 2, GELU_TANH = 3, ERF = 4, TANH = 5, ELU = 6;

// Forward in f64, 1 lane; alpha is ELU's. The formulas:
//   gelu      x Φ(x), Φ(x) = erfc(|x|/√2) / 2 for x < 0 (so the negative tail keeps its relative precision),
//             1 - erfc(|x|/√2) / 2 else; erfc(a) = exp(-a²) h(a) (assembly/erf.ts).
//   gelu tanh x sigmoid(2u), u = √(2/π) (x + 0.044715 x³): 0.5 x (1 + tanh u) without its cancellation.
//   tanh      ±(-m / (2 + m)), m = expm1(-2|x|): relative precision near 0 too.
//   elu       x > 0 ? x : alpha expm1(x).
// @ts-ignore: decorator
@inline function fwd1(op: i32, x: f64, alpha: f64): f64 {
  if (op == SIGMOID) return sigmoidf1(x);
  if (op == SWISH) return x * sigmoidf1(x);
  if (op == GELU) {
    const a = abs(x) * SQRT1_2;
    const hE = 0.5 * (expsq1(a) * erfcx1(a));
    return x * (x < 0 ? hE : 1.0 - hE);
  }
  if (op == GELU_TANH) return x * sigmoidf1(2.0 * (SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)));
  if (op == ERF) return erfbig1(x);
  if (op == TANH) {
    const m = expm1neg1(-2.0 * abs(x));
    return withsign1((0.0 - m) / (2.0 + m), x);
  }
  return x > 0 ? x : alpha * expm1neg1(x);
}

// fwd1 on 2 lanes: the same operations in the same order.
// @ts-ignore: decorator
@inline function fwd2(op: i32, x: v128, alpha: f64): v128 {
  if (op == SIGMOID) return sigmoidf2(x);
  if (op == SWISH) return f64x2.mul(x, sigmoidf2(x));
  if (op == GELU) {
    const a = f64x2.mul(f64x2.abs(x), f64x2.splat(SQRT1_2));
    const hE = f64x2.mul(f64x2.splat(0.5), f64x2.mul(expsq2(a), erfcx2(a)));
    const phi = v128.bitselect(hE, f64x2.sub(f64x2.splat(1.0), hE), f64x2.lt(x, f64x2.splat(0)));
    return f64x2.mul(x, phi);
  }
  if (op == GELU_TANH) {
    const x3 = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_C), x), x), x);
    const u = f64x2.mul(f64x2.splat(SQRT_2_OVER_PI), f64x2.add(x, x3));
    return f64x2.mul(x, sigmoidf2(f64x2.mul(f64x2.splat(2.0), u)));
  }
  if (op == ERF) return erfbig2(x);
  if (op == TANH) {
    const m = expm1neg2(f64x2.mul(f64x2.splat(-2.0), f64x2.abs(x)));
    return withsign2(f64x2.div(f64x2.sub(f64x2.splat(0), m), f64x2.add(f64x2.splat(2.0), m)), x);
  }
  const neg = f64x2.mul(f64x2.splat(alpha), expm1neg2(x));
  return v128.bitselect(x, neg, f64x2.gt(x, f64x2.splat(0)));
}

// dout * f'(x) in f64, 1 lane (SWISH, GELU, GELU_TANH, ERF, ELU). The derivatives:
//   swish     s (1 + x (1 - s)), s = sigmoid(x)
//   gelu      Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π): the same exp(-a²) as Φ's erfc
//   gelu tanh s + 2 x s (1 - s) u', s = sigmoid(2u), u' = √(2/π) (1 + 3 * 0.044715 x²)
//   erf       2/√π exp(-x²)
//   elu       x > 0 ? 1 : alpha exp(x)
// @ts-ignore: decorator
@inline function bwd1(op: i32, d: f64, x: f64, alpha: f64): f64 {
  if (op == SWISH) {
    const s = sigmoidf1(x);
    return d * s * (1.0 + x * (1.0 - s));
  }
  if (op == GELU) {
    const a = abs(x) * SQRT1_2;
    const e = expsq1(a);
    const hE = 0.5 * (e * erfcx1(a));
    return d * ((x < 0 ? hE : 1.0 - hE) + x * INV_SQRT_2PI * e);
  }
  if (op == GELU_TANH) {
    const s = sigmoidf1(2.0 * (SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)));
    const du = SQRT_2_OVER_PI * (1.0 + GELU_TANH_C3 * x * x);
    return d * (s + 2.0 * x * s * (1.0 - s) * du);
  }
  if (op == ERF) return d * TWO_OVER_SQRT_PI * expsq1(abs(x));
  return x > 0 ? d : d * alpha * expneg1(x);
}

// bwd1 on 2 lanes: the same operations in the same order.
// @ts-ignore: decorator
@inline function bwd2(op: i32, d: v128, x: v128, alpha: f64): v128 {
  const one = f64x2.splat(1.0);
  if (op == SWISH) {
    const s = sigmoidf2(x);
    return f64x2.mul(f64x2.mul(d, s), f64x2.add(one, f64x2.mul(x, f64x2.sub(one, s))));
  }
  if (op == GELU) {
    const a = f64x2.mul(f64x2.abs(x), f64x2.splat(SQRT1_2));
    const e = expsq2(a);
    const hE = f64x2.mul(f64x2.splat(0.5), f64x2.mul(e, erfcx2(a)));
    const phi = v128.bitselect(hE, f64x2.sub(one, hE), f64x2.lt(x, f64x2.splat(0)));
    return f64x2.mul(d, f64x2.add(phi, f64x2.mul(f64x2.mul(x, f64x2.splat(INV_SQRT_2PI)), e)));
  }
  if (op == GELU_TANH) {
    const x3 = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_C), x), x), x);
    const u = f64x2.mul(f64x2.splat(SQRT_2_OVER_PI), f64x2.add(x, x3));
    const s = sigmoidf2(f64x2.mul(f64x2.splat(2.0), u));
    const x2 = f64x2.mul(f64x2.mul(f64x2.splat(GELU_TANH_C3), x), x);
    const du = f64x2.mul(f64x2.splat(SQRT_2_OVER_PI), f64x2.add(one, x2));
    const t = f64x2.mul(f64x2.mul(f64x2.mul(f64x2.mul(f64x2.splat(2.0), x), s), f64x2.sub(one, s)), du);
    return f64x2.mul(d, f64x2.add(s, t));
  }
  if (op == ERF) return f64x2.mul(f64x2.mul(d, f64x2.splat(TWO_OVER_SQRT_PI)), expsq2(f64x2.abs(x)));
  const neg = f64x2.mul(f64x2.mul(d, f64x2.splat(alpha)), expneg2(x));
  return v128.bitselect(d, neg, f64x2.gt(x, f64x2.splat(0)));
}

// The fast paths of GELU (forward and backward) and ERF for |x| < fast_bound: polynomials in u = z², no exp
// and no table (assembly/erf.ts's F and G): with z = x/√2, Φ(x) = 1/2 + z F(z²), d/dx x Φ(x) = 1/2 + z G(z²),
// and erf(x) = 2x F(x²). At |x| = 2, Φ(x) = 0.023 comes from 1/2 - 0.477: the cancellation costs a factor 21
// of relative error, on a polynomial good to 2^-53 absolute. Beyond (and NaN), fwd1 / bwd1.
// @ts-ignore: decorator
@inline function fast_bound(op: i32): f32 {
  return op == GELU ? <f32>2.0 : op == ERF ? <f32>ERF_FAST : <f32>0.0;
}

// @ts-ignore: decorator
@inline function fast_fwd1(op: i32, x: f64): f64 {
  if (op == ERF) return 2.0 * x * erfF1(x * x);
  const z = x * SQRT1_2;
  return x * (0.5 + z * erfF1(z * z));
}

// @ts-ignore: decorator
@inline function fast_fwd2(op: i32, x: v128): v128 {
  if (op == ERF) return f64x2.mul(f64x2.mul(f64x2.splat(2.0), x), erfF2(f64x2.mul(x, x)));
  const z = f64x2.mul(x, f64x2.splat(SQRT1_2));
  return f64x2.mul(x, f64x2.add(f64x2.splat(0.5), f64x2.mul(z, erfF2(f64x2.mul(z, z)))));
}

// GELU only.
// @ts-ignore: decorator
@inline function fast_bwd1(d: f64, x: f64): f64 {
  const z = x * SQRT1_2;
  return d * (0.5 + z * erfG1(z * z));
}

// @ts-ignore: decorator
@inline function fast_bwd2(d: v128, x: v128): v128 {
  const z = f64x2.mul(x, f64x2.splat(SQRT1_2));
  return f64x2.mul(d, f64x2.add(f64x2.splat(0.5), f64x2.mul(z, erfG2(f64x2.mul(z, z)))));
}

// The first c (1 .. 3) f32 values at p, the rest 0 / stored back: the last, partial group of 4.
// @ts-ignore: decorator
@inline function load_part(p: usize, c: i32): v128 {
  let v = v128.load32_zero(p);
  if (c > 1) v = v128.load32_lane(p + 4, v, 1);
  if (c > 2) v = v128.load32_lane(p + 8, v, 2);
  return v;
}

// @ts-ignore: decorator
@inline function store_part(p: usize, v: v128, c: i32): void {
  v128.store32_lane(p, v, 0);
  if (c > 1) v128.store32_lane(p + 4, v, 1);
  if (c > 2) v128.store32_lane(p + 8, v, 2);
}

// 2 values (f64x2) of a kernel with a fast path, in a group of 4 not all inside its bound: each lane by the
// path its own value chooses (fast inside, general outside). Functions, not inlined: one copy of the general
// path in the module instead of two per kernel; they run only for groups with a value outside the bound.
// @ts-ignore: decorator
@inline function mixed_fwd2(op: i32, x: v128): v128 {
  const m = f64x2.lt(f64x2.abs(x), f64x2.splat(<f64>fast_bound(op)));
  const g = fwd2(op, x, 0);
  return v128.any_true(m) ? v128.bitselect(fast_fwd2(op, x), g, m) : g;
}

function gelu_fwd_mixed(x: v128): v128 {
  return mixed_fwd2(GELU, x);
}

function erf_fwd_mixed(x: v128): v128 {
  return mixed_fwd2(ERF, x);
}

function gelu_bwd_mixed(d: v128, x: v128): v128 {
  const m = f64x2.lt(f64x2.abs(x), f64x2.splat(<f64>fast_bound(GELU)));
  const g = bwd2(GELU, d, x, 0);
  return v128.any_true(m) ? v128.bitselect(fast_bwd2(d, x), g, m) : g;
}

// f(x) for 4 values, each in f64 and rounded once.
// @ts-ignore: decorator
@inline function fwd4(op: i32, v: v128, alpha: f64): v128 {
  const bound = fast_bound(op);
  if (bound > 0) {
    if (i32x4.all_true(f32x4.lt(f32x4.abs(v), f32x4.splat(bound)))) {
      return pack2(fast_fwd2(op, lo2(v)), fast_fwd2(op, hi2(v)));
    }
    if (op == GELU) return pack2(gelu_fwd_mixed(lo2(v)), gelu_fwd_mixed(hi2(v)));
    return pack2(erf_fwd_mixed(lo2(v)), erf_fwd_mixed(hi2(v)));
  }
  return pack2(fwd2(op, lo2(v), alpha), fwd2(op, hi2(v), alpha));
}

// dout * f'(x) for 4 values, each in f64 and rounded once.
// @ts-ignore: decorator
@inline function bwd4(op: i32, d: v128, x: v128, alpha: f64): v128 {
  if (op == GELU) {
    if (i32x4.all_true(f32x4.lt(f32x4.abs(x), f32x4.splat(fast_bound(GELU))))) {
      return pack2(fast_bwd2(lo2(d), lo2(x)), fast_bwd2(hi2(d), hi2(x)));
    }
    return pack2(gelu_bwd_mixed(lo2(d), lo2(x)), gelu_bwd_mixed(hi2(d), hi2(x)));
  }
  return pack2(bwd2(op, lo2(d), lo2(x), alpha), bwd2(op, hi2(d), hi2(x), alpha));
}

// out (n) = f(x) in f64, rounded once: 4 values at a time as two f64x2 halves in the SIMD builds (the last
// 1 .. 3 values as a group padded with zeros, so no other copy of the code); one at a time in the scalar
// build. Where there is a fast path, each value takes it exactly when |x| < fast_bound in every build, so
// every value gets the same bits in every build.
// @ts-ignore: decorator
@inline function map_fwd(out: usize, inp: usize, n: i32, op: i32, alpha: f64): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      const c = n - i;
      const r = fwd4(op, c >= 4 ? v128.load(inp + o) : load_part(inp + o, c), alpha);
      if (c >= 4) v128.store(out + o, r);
      else store_part(out + o, r, c);
    }
  } else {
    const bound = fast_bound(op);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      const x = load<f32>(inp + o);
      store<f32>(out + o, <f32>(abs(x) < bound ? fast_fwd1(op, <f64>x) : fwd1(op, <f64>x, alpha)));
    }
  }
}

// dinp (n) += dout * f'(x), x the input: dout * f'(x) in f64, rounded once, accumulated in f32; grouped as
// in map_fwd.
// @ts-ignore: decorator
@inline function map_bwd(dinp: usize, dout: usize, inp: usize, n: i32, op: i32, alpha: f64): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      const c = n - i;
      const d = c >= 4 ? v128.load(dout + o) : load_part(dout + o, c);
      const g = bwd4(op, d, c >= 4 ? v128.load(inp + o) : load_part(inp + o, c), alpha);
      if (c >= 4) acc4(dinp, o, g);
      else store_part(dinp + o, f32x4.add(load_part(dinp + o, c), g), c);
    }
  } else {
    const bound: f32 = op == GELU ? fast_bound(GELU) : 0;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      const x = load<f32>(inp + o), d = <f64>load<f32>(dout + o);
      acc1(dinp, o, <f32>(abs(x) < bound ? fast_bwd1(d, <f64>x) : bwd1(op, d, <f64>x, alpha)));
    }
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
  map_fwd(out, inp, n, SIGMOID, 0);
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
  map_fwd(out, inp, n, TANH, 0);
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
  map_fwd(out, inp, n, ELU, <f64>alpha);
}

// dinp (n) += x > 0 ? dout : dout * alpha * exp(x), x = the elu input.
export function elu_backward(dinp: usize, dout: usize, inp: usize, n: i32, alpha: f32): void {
  map_bwd(dinp, dout, inp, n, ELU, <f64>alpha);
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

// out (n) = x * Phi(x) = 0.5 * x * erfc(-x / sqrt 2): the exact GELU (Keras gelu, approximate=False).
export function gelu_forward(out: usize, inp: usize, n: i32): void {
  map_fwd(out, inp, n, GELU, 0);
}

// dinp (n) += dout * (Phi(x) + x * phi(x)), x = the gelu input, phi the standard normal density.
export function gelu_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  map_bwd(dinp, dout, inp, n, GELU, 0);
}

// out (n) = erf(x) (ONNX Erf), evaluated in f64 and rounded once.
export function erf_forward(out: usize, inp: usize, n: i32): void {
  map_fwd(out, inp, n, ERF, 0);
}

// dinp (n) += dout * 2/sqrt(pi) * exp(-x^2), x = the erf input.
export function erf_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  map_bwd(dinp, dout, inp, n, ERF, 0);
}

// out (n) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh GELU (PyTorch
// approximate='tanh', Keras approximate=True), as x * sigmoid(2u) (see fwd1).
export function gelu_tanh_forward(out: usize, inp: usize, n: i32): void {
  map_fwd(out, inp, n, GELU_TANH, 0);
}

// dinp (n) += dout * (s + 2 x s (1 - s) u'), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
export function gelu_tanh_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  map_bwd(dinp, dout, inp, n, GELU_TANH, 0);
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
  map_fwd(out, inp, n, SWISH, 0);
}

// dinp (n) += dout * s * (1 + x (1 - s)), s = sigmoid(x), x = the input.
export function swish_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  map_bwd(dinp, dout, inp, n, SWISH, 0);
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
