// Kernels of the merge layers: element-wise add / sub / mul / max / min of two tensors with full
// (numpy) broadcasting, and the row copies of concatenate. Broadcasting is by strides: `dims` is the
// output shape (rank i32s), `as`/`bs` the element strides of a and b per output axis, 0 along a
// broadcast axis. Backward ACCUMULATES into da/db (either may be 0); a broadcast operand's gradient
// is summed over the repeated positions in output index order, so every build gives the same bits.

export const MERGE_ADD: i32 = 0;
export const MERGE_SUB: i32 = 1;
export const MERGE_MUL: i32 = 2;
export const MERGE_MAX: i32 = 3;
export const MERGE_MIN: i32 = 4;

// @ts-ignore: decorator
@inline function apply(op: i32, x: f32, y: f32): f32 {
  if (op == MERGE_ADD) return x + y;
  if (op == MERGE_SUB) return x - y;
  if (op == MERGE_MUL) return x * y;
  // Ties pick x (the gradient goes to x as well); same selection as f32x4.pmax/pmin below.
  if (op == MERGE_MAX) return y > x ? y : x;
  return y < x ? y : x;
}

// @ts-ignore: decorator
@inline function dim(p: usize, i: i32): i32 { return load<i32>(p + (<usize>i << 2)); }

// Element offset of output row r (all axes but the last) in an operand with strides st.
// @ts-ignore: decorator
@inline function rowOffset(r: i32, dims: usize, st: usize, rank: i32): i32 {
  let rem = r, off = 0;
  for (let d = rank - 2; d >= 0; d--) {
    const n = dim(dims, d);
    off += (rem % n) * dim(st, d);
    rem /= n;
  }
  return off;
}

// out (prod dims) = a op b, broadcast by strides.
export function merge_binary_forward(out: usize, a: usize, b: usize, dims: usize, as: usize, bs: usize, rank: i32, op: i32): void {
  const inner = dim(dims, rank - 1), sa = dim(as, rank - 1), sb = dim(bs, rank - 1);
  let outer = 1;
  for (let d = 0; d < rank - 1; d++) outer *= dim(dims, d);
  let o: usize = out;
  for (let r = 0; r < outer; r++) {
    const ao = rowOffset(r, dims, as, rank), bo = rowOffset(r, dims, bs, rank);
    const pa = a + (<usize>ao << 2), pb = b + (<usize>bo << 2);
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      if (sa == 1 && (sb == 1 || sb == 0)) {
        const ys = f32x4.splat(load<f32>(pb));
        for (; i + 4 <= inner; i += 4) {
          const x = v128.load(pa + (<usize>i << 2));
          const y = sb == 1 ? v128.load(pb + (<usize>i << 2)) : ys;
          let v: v128;
          if (op == MERGE_ADD) v = f32x4.add(x, y);
          else if (op == MERGE_SUB) v = f32x4.sub(x, y);
          else if (op == MERGE_MUL) v = f32x4.mul(x, y);
          else if (op == MERGE_MAX) v = f32x4.pmax(x, y);
          else v = f32x4.pmin(x, y);
          v128.store(o + (<usize>i << 2), v);
        }
      }
    }
    for (; i < inner; i++) {
      const x = load<f32>(pa + (<usize>(i * sa) << 2));
      const y = load<f32>(pb + (<usize>(i * sb) << 2));
      store<f32>(o + (<usize>i << 2), apply(op, x, y));
    }
    o += <usize>inner << 2;
  }
}

// Gradients of out = a op b (same broadcasting): da +=, db += (each may be 0).
export function merge_binary_backward(da: usize, db: usize, dout: usize, a: usize, b: usize, dims: usize, as: usize, bs: usize,
  rank: i32, op: i32): void {
  const inner = dim(dims, rank - 1), sa = dim(as, rank - 1), sb = dim(bs, rank - 1);
  let outer = 1;
  for (let d = 0; d < rank - 1; d++) outer *= dim(dims, d);
  let g: usize = dout;
  for (let r = 0; r < outer; r++) {
    const ao = rowOffset(r, dims, as, rank), bo = rowOffset(r, dims, bs, rank);
    for (let i = 0; i < inner; i++) {
      const gi = load<f32>(g + (<usize>i << 2));
      const oa = <usize>(ao + i * sa) << 2, ob = <usize>(bo + i * sb) << 2;
      const x = load<f32>(a + oa), y = load<f32>(b + ob);
      let gx: f32, gy: f32;
      if (op == MERGE_ADD) { gx = gi; gy = gi; }
      else if (op == MERGE_SUB) { gx = gi; gy = -gi; }
      else if (op == MERGE_MUL) { gx = gi * y; gy = gi * x; }
      else if (op == MERGE_MAX) { const tx = x >= y; gx = tx ? gi : 0; gy = tx ? 0 : gi; }
      else { const tx = x <= y; gx = tx ? gi : 0; gy = tx ? 0 : gi; }
      if (da != 0) store<f32>(da + oa, load<f32>(da + oa) + gx);
      if (db != 0) store<f32>(db + ob, load<f32>(db + ob) + gy);
    }
    g += <usize>inner << 2;
  }
}

// Concatenate: rows of src (outer x inner) go to columns [offset, offset + inner) of out (outer x outInner).
export function concat_forward(out: usize, src: usize, outer: i32, inner: i32, outInner: i32, offset: i32): void {
  for (let r = 0; r < outer; r++) {
    memory.copy(out + (<usize>(r * outInner + offset) << 2), src + (<usize>(r * inner) << 2), <usize>inner << 2);
  }
}

// dsrc (outer x inner) += the matching columns of dout (outer x outInner).
export function concat_backward(dsrc: usize, dout: usize, outer: i32, inner: i32, outInner: i32, offset: i32): void {
  for (let r = 0; r < outer; r++) {
    const d = dsrc + (<usize>(r * inner) << 2), s = dout + (<usize>(r * outInner + offset) << 2);
    for (let i = 0; i < inner; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  }
}
