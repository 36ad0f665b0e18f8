// Dense (fully connected) layer and plain matrix products, all through the packed GEMM.
// Layouts: inp (N, IN), weight (IN, OUT) (Keras' layout), bias (OUT), out (N, OUT).
// Backward functions ACCUMULATE into dinp / dweight / dbias; the caller zeroes them once per step.
// matMul a (M, K) · b (K, N) is dense with N=M rows, IN=K, OUT=N and no bias.

import { gemm, pack_b, GEMM_ACC, GEMM_RELU } from "./gemm";
import { bias_backward } from "./conv2d";

// out = inp · weight + bias (bias may be 0), relu if `relu`. wpack: pack_b_size(IN, OUT) floats.
export function dense_forward(out: usize, inp: usize, weight: usize, bias: usize, wpack: usize, N: i32, IN: i32, OUT: i32, relu: i32): void {
  pack_b(wpack, weight, bias, IN, OUT, OUT, 1);
  gemm(out, inp, wpack, N, OUT, IN, IN, 1, OUT, relu ? GEMM_RELU : 0);
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
