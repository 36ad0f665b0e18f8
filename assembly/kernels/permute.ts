// Axis permutation (Keras Permute, ONNX Transpose) of a tensor of rank R <= 8 as a strided copy.
// meta (i32, 2R): the output's dims d[0..R) then, per output axis k, the stride s[k] (in floats) of
// the input axis that becomes axis k. out is contiguous:
//   out[i_0, ..., i_{R-1}] = inp[sum_k i_k * s[k]].
// The last output axis is the inner loop; when its stride is 1 (the channels stay last) the inner
// run is a contiguous copy (SIMD), otherwise a gather. The outer index is decoded by div/mod once
// per inner run. Backward ACCUMULATES into dinp (each element is hit exactly once); the caller zeroes.

// Input offset (floats) of the first element of inner run `row` (index over all but the last axis).
// @ts-ignore: decorator
@inline function rowOffset(row: i32, meta: usize, R: i32): i32 {
  let off = 0, r = row;
  for (let k = R - 2; k >= 0; k--) {
    const d = load<i32>(meta + (<usize>k << 2));
    off += (r % d) * load<i32>(meta + (<usize>(R + k) << 2));
    r /= d;
  }
  return off;
}

// out (dims) = inp permuted (see above).
export function permute_forward(out: usize, inp: usize, meta: usize, R: i32): void {
  const inner = load<i32>(meta + (<usize>(R - 1) << 2));
  const st = load<i32>(meta + (<usize>(2 * R - 1) << 2));
  let rows = 1;
  for (let k = 0; k < R - 1; k++) rows *= load<i32>(meta + (<usize>k << 2));
  for (let row = 0; row < rows; row++) {
    const src = inp + (<usize>rowOffset(row, meta, R) << 2);
    const dst = out + (<usize>(row * inner) << 2);
    if (st == 1) {
      memory.copy(dst, src, <usize>inner << 2);
    } else {
      for (let i = 0; i < inner; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>(i * st) << 2)));
    }
  }
}

// dinp (input shape) += dout (dims) permuted back.
export function permute_backward(dinp: usize, dout: usize, meta: usize, R: i32): void {
  const inner = load<i32>(meta + (<usize>(R - 1) << 2));
  const st = load<i32>(meta + (<usize>(2 * R - 1) << 2));
  let rows = 1;
  for (let k = 0; k < R - 1; k++) rows *= load<i32>(meta + (<usize>k << 2));
  for (let row = 0; row < rows; row++) {
    const dst = dinp + (<usize>rowOffset(row, meta, R) << 2);
    const src = dout + (<usize>(row * inner) << 2);
    let i = 0;
    if (st == 1) {
      if (ASC_FEATURE_SIMD) {
        for (; i + 4 <= inner; i += 4) {
          const o = <usize>i << 2;
          v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
        }
      }
      for (; i < inner; i++) {
        const o = <usize>i << 2;
        store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
      }
    } else {
      for (; i < inner; i++) {
        const p = dst + (<usize>(i * st) << 2);
        store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
      }
    }
  }
}
