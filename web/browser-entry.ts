// The browser bundle (dist/simdnet.browser.js, `simdnet/browser`): the inference subset of simdnet —
// engine start-up, tensors, the ops a forward pass needs, layers, Model and Sequential
// (predict/evaluate), the functional API (input, model) and loadModel. The wasm kernels are embedded; nothing here reaches Node built-ins or the ONNX exporter.
export {
  ready,
  getEngine,
  simdSupported,
  setThreads,
  getThreads,
  shutdown,
  sharedMemorySupported,
  hardwareThreads,
} from '../src/wasm/bindings.js';
export type { Build, Engine, ReadyOptions } from '../src/wasm/bindings.js';
export { Tensor, tensor, zeros, scalar, tidy, keep } from '../src/tensor.js';
export type { DType } from '../src/tensor.js';
export { noGrad } from '../src/autograd.js';
export { conv2d } from '../src/ops/conv2d.js';
export { maxPool2d, avgPool2d } from '../src/ops/pool2d.js';
export { matMul, dense } from '../src/ops/dense.js';
export { relu, softmax } from '../src/ops/act.js';
export { add, sub, mul, div, sum, mean, reshape } from '../src/ops/elementwise.js';
export { Layer, SymbolicTensor, input } from '../src/nn/layer.js';
export { layers } from '../src/nn/layers.js';
export * from '../src/nn/classes.js';
export { Model, Sequential, model } from '../src/nn/model.js';
export type { Data } from '../src/nn/data.js';
export { loadModel, FORMAT_VERSION } from '../src/formats/simdnet/serialize.js';
