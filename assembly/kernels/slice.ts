// A contiguous range [begin, begin + M) of the middle axis of x viewed as (outer, N, inner): ONNX Slice
// with step 1 and each output of Split. Pure copies (forward) and adds (backward), so bit-exact.
//   slice_forward:  out (outer, M, inner) = inp[:, begin:begin+M, :]        inp (outer, N, inner)
//   slice_backward: dinp[:, begin:begin+M, :] += dout                         (ACCUMULATES)
import { add_into } from "./elementwise";

export function slice_forward(out: usize, inp: usize, outer: i32, N: i32, inner: i32, begin: i32, M: i32): void {
  const row = <usize>(M * inner) << 2;
  for (let o = 0; o < outer; o++) {
    const src = inp + (<usize>(o * N + begin) * <usize>inner << 2);
    memory.copy(out + <usize>o * row, src, row);
  }
}

export function slice_backward(dinp: usize, dout: usize, outer: i32, N: i32, inner: i32, begin: i32, M: i32): void {
  const n = M * inner;
  for (let o = 0; o < outer; o++) {
    add_into(dinp + (<usize>(o * N + begin) * <usize>inner << 2), dout + (<usize>o * <usize>n << 2), n);
  }
}
