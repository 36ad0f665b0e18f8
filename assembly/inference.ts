// The inference module: the kernels a forward pass, predict and evaluate call, for the browser inference
// bundle (dist/simdnet.browser.js), which embeds it instead of assembly/index.ts's full module. The same
// sources, so the same bits; without the gradients, optimizer steps and augmentation it is about two
// thirds the size. Calling a kernel it leaves out gets an error naming it (src/wasm/bindings.ts).
// Left out: every *_backward* but conv2d_backward_input (Conv2DTranspose's forward), winograd_weight_grad,
// the optimizer steps and learning-rate schedules, augment_*, and batchnorm_update_moving.

export { pack_b_size, pack_b, gemm } from "./kernels/gemm";
export { conv2d_forward, conv2d_forward_packed, conv2d_forward_pixels, conv2d_backward_input, conv2d_pack_weights } from
  "./kernels/conv2d";
export { dwconv2d_forward } from "./kernels/dwconv2d";
export { dense_forward, dense_forward_rows } from "./kernels/dense";
export { maxpool2d_forward, avgpool2d_forward, global_avgpool2d_forward, global_maxpool2d_forward } from
  "./kernels/pool2d";
export { relu_forward, softmax_forward, softmax_xent_forward, sigmoid_forward, tanh_forward, elu_forward,
  leaky_relu_forward, gelu_forward, relu_general_forward, erf_forward, gelu_tanh_forward, hard_sigmoid_forward,
  hard_swish_forward, swish_forward, softmax_axis_forward, log_softmax_axis_forward } from "./kernels/act";
export { pad2d_forward } from "./kernels/pad2d";
export { resize_nearest_forward, resize_bilinear_forward } from "./kernels/resize";
export { permute_forward } from "./kernels/permute";
export { slice_forward } from "./kernels/slice";
export { layernorm_forward } from "./kernels/layernorm";
export { batchnorm_stats_sum, batchnorm_stats_sqdev, batchnorm_stats_reduce, batchnorm_invstd, batchnorm_forward }
  from "./kernels/batchnorm";
export { binary_forward, sum_all, add_scalar, add_into, scale, find_nonfinite, zero_fill, copy_into } from
  "./kernels/elementwise";
export { merge_binary_forward, concat_forward } from "./kernels/merge";
export { mse_forward, mae_forward, bce_forward, bce_logits_forward } from "./kernels/loss";
export { winograd_pack_size, winograd_weight_work, winograd_forward_work, winograd_weight, winograd_forward } from
  "./kernels/winograd";
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
