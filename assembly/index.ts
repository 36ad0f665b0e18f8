// The one asc entry: every kernel the TypeScript side calls, in one module over one imported memory.
// Kernels never allocate: TypeScript owns all memory from heap_base() upward (src/wasm/arena.ts).

export { pack_b_size, pack_b, gemm } from "./kernels/gemm";
export { conv2d_forward, conv2d_backward_input, conv2d_backward_weight, bias_backward } from "./kernels/conv2d";
export { dense_forward, dense_backward_input, dense_backward_weight } from "./kernels/dense";
export { maxpool2d_forward, maxpool2d_backward, avgpool2d_forward, avgpool2d_backward } from "./kernels/pool2d";
export { relu_forward, relu_backward, softmax_forward, softmax_backward, softmax_xent_forward, softmax_xent_backward } from "./kernels/act";
export { sgd_step, adam_step } from "./kernels/optim";
export { binary_forward, binary_backward, sum_all, add_scalar, add_into, scale, find_nonfinite } from "./kernels/elementwise";

// First byte TypeScript may use; static data of this module lies below it.
export function heap_base(): usize {
  return __heap_base;
}
