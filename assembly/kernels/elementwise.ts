// Element-wise arithmetic, reductions and buffer helpers used by the functional ops and autograd.
// Broadcasting is "b repeats": out[i] = a[i] op b[i % nb] with nb dividing n (nb = 1 is a scalar,
// nb = last dims is a bias). Backward functions ACCUMULATE into d*; the caller zeroes.

export const OP_ADD: i32 = 0;
export const OP_SUB: i32 = 1;
export const OP_MUL: i32 = 2;
export const OP_DIV: i32 = 3;

// @ts-ignore: decorator
@inline function apply(op: i32, x: f32, y: f32): f32 {
  if (op == OP_ADD) return x + y;
  if (op == OP_SUB) return x - y;
  if (op == OP_MUL) return x * y;
  return x / y;
}

// @ts-ignore: decorator
@inline function apply4(op: i32, x: v128, y: v128): v128 {
  if (op == OP_ADD) return f32x4.add(x, y);
  if (op == OP_SUB) return f32x4.sub(x, y);
  if (op == OP_MUL) return f32x4.mul(x, y);
  return f32x4.div(x, y);
}

// out = a op b over n / nb rows of nb values (nb a multiple of 4); inlined with a constant op, one loop per op.
// @ts-ignore: decorator
@inline function binary_rows(out: usize, a: usize, b: usize, n: i32, nb: i32, swap: i32, op: i32): void {
  for (let r = 0; r < n; r += nb) {
    const ar = a + (<usize>r << 2), orow = out + (<usize>r << 2);
    for (let j = 0; j < nb; j += 4) {
      const jB = <usize>j << 2;
      const x = v128.load(ar + jB), y = v128.load(b + jB);
      v128.store(orow + jB, swap ? apply4(op, y, x) : apply4(op, x, y));
    }
  }
}

// out (n) = a op b; `swap` computes b op a instead (when the repeating operand is the left one).
export function binary_forward(out: usize, a: usize, b: usize, n: i32, nb: i32, op: i32, swap: i32): void {
  // whole rows of nb values, 4 at a time (the same IEEE operation per value as the scalar loop)
  if (ASC_FEATURE_SIMD && (nb & 3) == 0 && n % nb == 0) {
    if (op == OP_ADD) binary_rows(out, a, b, n, nb, swap, OP_ADD);
    else if (op == OP_SUB) binary_rows(out, a, b, n, nb, swap, OP_SUB);
    else if (op == OP_MUL) binary_rows(out, a, b, n, nb, swap, OP_MUL);
    else binary_rows(out, a, b, n, nb, swap, OP_DIV);
    return;
  }
  let j = 0;
  for (let i = 0; i < n; i++) {
    const x = load<f32>(a + (<usize>i << 2));
    const y = load<f32>(b + (<usize>j << 2));
    store<f32>(out + (<usize>i << 2), swap ? apply(op, y, x) : apply(op, x, y));
    if (++j == nb) j = 0;
  }
}

// Gradients of out = a op b (same broadcasting; `swap` as above): da (n) +=, db (nb) += (each may be 0).
export function binary_backward(da: usize, db: usize, dout: usize, a: usize, b: usize, n: i32, nb: i32, op: i32, swap: i32): void {
  let j = 0;
  for (let i = 0; i < n; i++) {
    const g = load<f32>(dout + (<usize>i << 2));
    const x = load<f32>(a + (<usize>i << 2));
    const y = load<f32>(b + (<usize>j << 2));
    // l and r are the left and right operands of the op as computed.
    const l = swap ? y : x, r = swap ? x : y;
    let gl: f32, gr: f32;
    if (op == OP_ADD) { gl = g; gr = g; }
    else if (op == OP_SUB) { gl = g; gr = -g; }
    else if (op == OP_MUL) { gl = g * r; gr = g * l; }
    else { gl = g / r; gr = -g * l / (r * r); }
    const ga = swap ? gr : gl, gb = swap ? gl : gr;
    if (da != 0) store<f32>(da + (<usize>i << 2), load<f32>(da + (<usize>i << 2)) + ga);
    if (db != 0) store<f32>(db + (<usize>j << 2), load<f32>(db + (<usize>j << 2)) + gb);
    if (++j == nb) j = 0;
  }
}

// Sum of n floats, accumulated in f64 in index order.
export function sum_all(x: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += <f64>load<f32>(x + (<usize>i << 2));
  return s;
}

// d (n) += value
export function add_scalar(d: usize, value: f32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(d + o, load<f32>(d + o) + value);
  }
}

// dst (n) += src (n). Inlined where kernels call it (col2im, bias sums); also exported for the ops.
// @ts-ignore: decorator
@inline export function add_into(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// dbias (K) += sum over rows of dout (R, K), rows in order (the bias gradient of conv2d and dense).
export function bias_backward(dbias: usize, dout: usize, R: i32, K: i32): void {
  for (let r = 0; r < R; r++) {
    add_into(dbias, dout + (<usize>(r * K) << 2), K);
  }
}

// x (n) *= s
export function scale(x: usize, s: f32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * s);
  }
}

// Index of the first NaN or ±Infinity in x (n), or -1.
export function find_nonfinite(x: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (!(v - v == 0)) return i;
  }
  return -1;
}

// dst[0..n) <- src[0..n) (n floats): one native memory.copy, so that a copy between tensors is a
// kernel call like any other (predict's kernel traces replay kernel calls only).
export function copy_into(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

// bytes at p <- 0. The arena zeroes every block it hands out; a JS TypedArray.fill over a shared
// memory takes V8's slow element-by-element path, while this is one native memory.fill.
export function zero_fill(p: usize, bytes: usize): void {
  memory.fill(p, 0, bytes);
}
