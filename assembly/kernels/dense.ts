// Dense (fully connected) layer and plain matrix products, all through the packed GEMM.
// Layouts: inp (N, IN), weight (IN, OUT) (Keras' layout), bias (OUT), out (N, OUT).
// Backward functions ACCUMULATE into dinp / dweight / dbias; the caller zeroes them once per step.
// matMul a (M, K) · b (K, N) is dense with N=M rows, IN=K, OUT=N and no bias.

import { gemm, pack_b, GEMM_ACC, GEMM_RELU } from "./gemm";
import { bias_backward } from "./elementwise";
import { madd, relu1, relu4 } from "../simd";

// out = inp · weight + bias (bias may be 0), relu if `relu`. wpack: pack_b_size(IN, OUT) floats.
export function dense_forward(out: usize, inp: usize, weight: usize, bias: usize, wpack: usize, N: i32, IN: i32, OUT: i32, relu: i32): void {
  pack_b(wpack, weight, bias, IN, OUT, OUT, 1);
  gemm(out, inp, wpack, N, OUT, IN, IN, 1, OUT, relu ? GEMM_RELU : 0);
}

// The same as dense_forward for a few rows (N < 4), straight from the unpacked weight: packing
// would copy all of it for one row, and the 4-row GEMM tile would compute each row four times.
// Each output is bias + x0*w0 + x1*w1 + ... in k order, mul then add, as in gemm: the same bits.
export function dense_forward_rows(out: usize, inp: usize, weight: usize, bias: usize, N: i32, IN: i32, OUT: i32, relu: i32): void {
  const ldw = <usize>OUT << 2;
  for (let r = 0; r < N; r++) {
    const x = inp + (<usize>(r * IN) << 2);
    const o = out + (<usize>(r * OUT) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // 16 columns per pass: four accumulators, one pass over the weight rows.
      for (; j + 16 <= OUT; j += 16) {
        const jB = <usize>j << 2;
        let a0 = bias != 0 ? v128.load(bias + jB) : f32x4.splat(0);
        let a1 = bias != 0 ? v128.load(bias + jB, 16) : f32x4.splat(0);
        let a2 = bias != 0 ? v128.load(bias + jB, 32) : f32x4.splat(0);
        let a3 = bias != 0 ? v128.load(bias + jB, 48) : f32x4.splat(0);
        let w = weight + jB;
        for (let p = 0; p < IN; p++) {
          const xv = v128.load32_splat(x + (<usize>p << 2));
          a0 = madd(xv, v128.load(w), a0);
          a1 = madd(xv, v128.load(w, 16), a1);
          a2 = madd(xv, v128.load(w, 32), a2);
          a3 = madd(xv, v128.load(w, 48), a3);
          w += ldw;
        }
        if (relu) { a0 = relu4(a0); a1 = relu4(a1); a2 = relu4(a2); a3 = relu4(a3); }
        v128.store(o + jB, a0); v128.store(o + jB, a1, 16); v128.store(o + jB, a2, 32); v128.store(o + jB, a3, 48);
      }
      for (; j + 4 <= OUT; j += 4) {
        const jB = <usize>j << 2;
        let a0 = bias != 0 ? v128.load(bias + jB) : f32x4.splat(0);
        let w = weight + jB;
        for (let p = 0; p < IN; p++) {
          a0 = madd(v128.load32_splat(x + (<usize>p << 2)), v128.load(w), a0);
          w += ldw;
        }
        if (relu) a0 = relu4(a0);
        v128.store(o + jB, a0);
      }
    }
    for (; j < OUT; j++) {
      const jB = <usize>j << 2;
      let acc: f32 = bias != 0 ? load<f32>(bias + jB) : 0;
      let w = weight + jB;
      for (let p = 0; p < IN; p++) {
        acc = acc + load<f32>(x + (<usize>p << 2)) * load<f32>(w);
        w += ldw;
      }
      if (relu) acc = relu1(acc);
      store<f32>(o + jB, acc);
    }
  }
}

// dinp (N, IN) += dout · weightᵀ. wpack: pack_b_size(OUT, IN) floats.
export function dense_backward_input(dinp: usize, dout: usize, weight: usize, wpack: usize, N: i32, IN: i32, OUT: i32): void {
  pack_b(wpack, weight, 0, OUT, IN, 1, OUT);
  gemm(dinp, dout, wpack, N, IN, OUT, OUT, 1, IN, GEMM_ACC);
}

// dweight (IN, OUT) += inpᵀ · dout; dbias (OUT) += column sums of dout (skipped when 0).
// dpack: pack_b_size(N, OUT) floats.
export function dense_backward_weight(dweight: usize, dbias: usize, dout: usize, inp: usize, dpack: usize, N: i32, IN: i32, OUT: i32): void {
  pack_b(dpack, dout, 0, N, OUT, OUT, 1);
  // A = inpᵀ (IN, N): element (i, p) at inp[p*IN + i] -> rsa = 1, csa = IN.
  gemm(dweight, inp, dpack, IN, OUT, N, 1, IN, OUT, GEMM_ACC);
  if (dbias != 0) bias_backward(dbias, dout, N, OUT);
}
