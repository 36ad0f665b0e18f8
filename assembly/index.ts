// The one asc entry: every kernel the TypeScript side calls, in one module over one imported memory.
// Kernels never allocate: TypeScript owns all memory from heap_base() upward (src/wasm/arena.ts).

export { pack_b_size, pack_b, gemm } from "./kernels/gemm";
export { conv2d_forward, conv2d_forward_packed, conv2d_forward_pixels, conv2d_backward_input, conv2d_backward_weight,
  conv2d_pack_weights } from "./kernels/conv2d";
export { dwconv2d_forward, dwconv2d_backward_input, dwconv2d_backward_weight } from "./kernels/dwconv2d";
export { dense_forward, dense_forward_rows, dense_backward_input, dense_backward_weight } from "./kernels/dense";
export { maxpool2d_forward, maxpool2d_backward, avgpool2d_forward, avgpool2d_backward,
  global_avgpool2d_forward, global_avgpool2d_backward, global_maxpool2d_forward } from "./kernels/pool2d";
export { relu_forward, relu_backward, softmax_forward, softmax_backward, softmax_xent_forward, softmax_xent_backward,
  sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward, elu_forward, elu_backward,
  leaky_relu_forward, leaky_relu_backward, gelu_forward, gelu_backward, relu_general_forward, relu_general_backward,
  erf_forward, erf_backward, gelu_tanh_forward, gelu_tanh_backward,
  hard_sigmoid_forward, hard_sigmoid_backward, hard_swish_forward, hard_swish_backward, swish_forward, swish_backward,
  softmax_axis_forward, softmax_axis_backward, log_softmax_axis_forward, log_softmax_axis_backward } from "./kernels/act";
export { pad2d_forward, pad2d_backward } from "./kernels/pad2d";
export { resize_nearest_forward, resize_nearest_backward, resize_bilinear_forward, resize_bilinear_backward } from "./kernels/resize";
export { augment_affine, augment_contrast } from "./kernels/augment";
export { permute_forward, permute_backward } from "./kernels/permute";
export { slice_forward, slice_backward } from "./kernels/slice";
export { layernorm_forward, layernorm_backward } from "./kernels/layernorm";
export { batchnorm_stats_sum, batchnorm_stats_sqdev, batchnorm_stats_reduce, batchnorm_invstd, batchnorm_update_moving,
  batchnorm_forward, batchnorm_backward_sums, batchnorm_backward_reduce, batchnorm_backward_input } from "./kernels/batchnorm";
export { sgd_step, adam_step, adamw_step, rmsprop_step, lr_step_decay, lr_cosine_decay, lr_anneal } from "./kernels/optim";
export { binary_forward, binary_backward, sum_all, add_scalar, add_into, bias_backward, scale, find_nonfinite, zero_fill, copy_into } from "./kernels/elementwise";
export { merge_binary_forward, merge_binary_backward, concat_forward, concat_backward } from "./kernels/merge";
export { mse_forward, mse_backward, mae_forward, mae_backward, bce_forward, bce_backward, bce_logits_forward,
  bce_logits_backward } from "./kernels/loss";

export { winograd_pack_size, winograd_weight_work, winograd_forward_work, winograd_weight, winograd_forward,
  winograd_backward_weight_work, winograd_backward_weight, winograd_weight_grad } from "./kernels/winograd";

export { quantize, dequantize, requantize, requant_size } from "./kernels/quant";
export { qgemm_pack_size, qgemm_pack, qgemm, qwiden, qconv2d_pack_size, qconv2d_pack, qconv2d_scratch_size,
  qconv2d_forward } from "./kernels/qgemm";
export { qdwconv2d_forward, qdwconv2d_pack, qdwconv2d_pack_bytes } from "./kernels/qdwconv2d";
export { qmaxpool2d_forward } from "./kernels/qpool2d";
export { qwinograd_pack_size, qwinograd_pack, qwinograd_scratch_size, qwinograd_forward, qwinograd45_pack_size,
  qwinograd45_pack, qwinograd45_scratch_size, qwinograd45_forward } from "./kernels/qwinograd";

export { geometry2d_bytes } from "./geometry";

// First byte TypeScript may use; static data of this module lies below it.
export function heap_base(): usize {
  return __heap_base;
}
