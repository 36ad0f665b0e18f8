// simdnet: convolutional neural networks for TypeScript on WebAssembly SIMD kernels.
// `await ready()` once, then tensors, functional ops with tfjs-style gradients, layers and models.
// The engine underneath (arena, tape, thread pool, kernel table, geometry) is `simdnet/advanced`.
export {
  ready,
  getEngine,
  simdSupported,
  setThreads,
  getThreads,
  shutdown,
  sharedMemorySupported,
  hardwareThreads,
  MAX_THREADS,
} from './wasm/bindings.js';
export type { Build, Engine, ReadyOptions } from './wasm/bindings.js';
export { Tensor, tensor, zeros, scalar, tidy, keep } from './tensor.js';
export type { DType, Nested } from './tensor.js';
export { grads, valueAndGrads, noGrad } from './autograd.js';
export type { Padding } from './geom.js';
export { conv2d } from './ops/conv2d.js';
export type { Conv2dOptions } from './ops/conv2d.js';
export { depthwiseConv2d } from './ops/dwconv2d.js';
export type { DepthwiseConv2dOptions } from './ops/dwconv2d.js';
export { conv2dTranspose } from './ops/conv2dtranspose.js';
export type { Conv2dTransposeOptions } from './ops/conv2dtranspose.js';
export { setConvAlgorithm, getConvAlgorithm } from './ops/winograd.js';
export type { ConvAlgorithm, WinogradTile } from './ops/winograd.js';
export { maxPool2d, avgPool2d, globalAvgPool2d, globalMaxPool2d } from './ops/pool2d.js';
export type { Pool2dOptions } from './ops/pool2d.js';
export { matMul, dense } from './ops/dense.js';
export type { DenseOptions } from './ops/dense.js';
export {
  relu,
  sigmoid,
  tanh,
  elu,
  leakyRelu,
  gelu,
  erf,
  softmax,
  logSoftmax,
  softmaxCrossEntropy,
  reluGeneral,
  relu6,
  hardSigmoid,
  hardSwish,
  swish,
} from './ops/act.js';
export type { ReluOptions } from './ops/act.js';
export { zeroPadding2d, cropping2d } from './ops/pad2d.js';
export type { Sides2d } from './ops/pad2d.js';
export { upSampling2d } from './ops/resize.js';
export type { Interpolation } from './ops/resize.js';
export { permute } from './ops/permute.js';
export { affineTransform, adjustContrast } from './ops/augment.js';
export type { AffineTransformOptions, FillMode, AugmentInterpolation } from './ops/augment.js';
export { batchNorm } from './ops/batchnorm.js';
export type { BatchNormOptions } from './ops/batchnorm.js';
export { add, sub, mul, div, sum, mean, reshape } from './ops/elementwise.js';
export { SGD } from './optim/sgd.js';
export type { SGDConfig } from './optim/sgd.js';
export { Adam } from './optim/adam.js';
export type { AdamConfig } from './optim/adam.js';
export { AdamW } from './optim/adamw.js';
export type { AdamWConfig } from './optim/adamw.js';
export { RMSprop } from './optim/rmsprop.js';
export type { RMSpropConfig } from './optim/rmsprop.js';
export { Optimizer } from './optim/optimizer.js';
export type { ParamGrad, OptimizerState } from './optim/optimizer.js';
export * as schedules from './optim/schedules.js';
export type { LearningRateSchedule, StepDecayConfig, CosineDecayConfig, OneCycleConfig } from './optim/schedules.js';
export { Layer } from './nn/layer.js';
export type {
  Weight,
  StateWeight,
  LayerWeight,
  CallArgs,
  ActivationName,
  InitializerName,
  WeightSpec,
} from './nn/layer.js';
export { layers } from './nn/layers.js';
// Every layer class (Conv2D, Dense, BatchNormalization, ...), as listed once in nn/classes.ts.
export * from './nn/classes.js';
export type { LayerClassName } from './nn/registry.js';
export type { MergeConfig, ConcatenateConfig } from './nn/merge.js';
export type {
  Conv2DConfig,
  DenseConfig,
  Pooling2DConfig,
  LeakyReLUConfig,
  BatchNormalizationConfig,
  GlobalPooling2DConfig,
} from './nn/layers.js';
export type {
  ZeroPadding2DConfig,
  Cropping2DConfig,
  UpSampling2DConfig,
  ReshapeConfig,
  PermuteConfig,
  ReLUConfig,
  SoftmaxConfig,
} from './nn/reshaping.js';
export type {
  PReluConfig,
  ClipConfig,
  ScaledEluConfig,
  HardSigmoidConfig,
  LogSoftmaxConfig,
  AffineConfig,
  GELUConfig,
} from './nn/activations.js';
export type { SliceConfig } from './nn/reshaping.js';
export type { Pool2DConfig } from './nn/layers.js';
export type { LayerNormalizationConfig } from './nn/layernorm.js';
export type {
  Factor,
  RandomAffineCommon,
  RandomTranslationConfig,
  RandomRotationConfig,
  RandomZoomConfig,
  RandomContrastConfig,
} from './nn/preprocessing.js';
export type { DepthwiseConv2DConfig, SeparableConv2DConfig, Conv2DTransposeConfig } from './nn/convolutional.js';
export { Model, Sequential, model } from './nn/model.js';
export type { CompileArgs, FitArgs, History, Callbacks, Logs, ModelArgs } from './nn/model.js';
export { BaseCallback, Callback, EarlyStopping, ReduceLROnPlateau, TerminateOnNaN } from './nn/callbacks.js';
export type {
  FitParams,
  MonitorMode,
  EarlyStoppingConfig,
  ReduceLROnPlateauConfig,
  CallbackFunctions,
  TrainingModel,
} from './nn/callbacks.js';
export { SymbolicTensor, MergeLayer, input } from './nn/layer.js';
export type { LayerNode } from './nn/layer.js';
export type { Data, LossName } from './nn/data.js';
export { loadModel, saveModel, FORMAT_VERSION, modelToJSON, modelFromJSON } from './formats/simdnet/serialize.js';
export type { ModelJSON } from './formats/simdnet/serialize.js';
export type {
  IOHandler,
  ModelArtifacts,
  NamedArray,
  LayerEntry,
  GraphConfig,
  NodeRef,
  CompileConfig,
} from './io/artifacts.js';
export type { SaveOptions, WeightDtype } from './io/simdnet.js';
export type { ToONNXOptions } from './formats/onnx/export.js';
export {
  loadLayersModel,
  loadLayersModelURL,
  saveLayersModel,
  layersModelJSON,
  weightSpecBytes,
} from './formats/tfjs/layers-format.js';
export type {
  LayersModelArtifacts,
  LayersModelJSON,
  LayersWeightSpec,
  LayersWeightData,
  SaveLayersOptions,
  LoadLayersOptions,
  LoadLayersURLOptions,
} from './formats/tfjs/layers-format.js';
export type { LoadONNXOptions } from './formats/onnx/import.js';
export { meanSquaredError, meanAbsoluteError, binaryCrossentropy, sigmoidCrossEntropy } from './ops/loss.js';
// Keras' loss objects for compile (sn.losses.SparseCategoricalCrossentropy, ...) and tf.losses-style functions.
export * as losses from './nn/losses.js';
export type { CrossentropyConfig } from './nn/losses.js';
export { maximum, minimum, concat, broadcastBinary } from './ops/merge.js';
export { Rng } from './rng.js';
export { quantizeModel as quantize } from './quant/quantize.js';
export type { QuantizeOptions } from './quant/quantize.js';

import { Sequential } from './nn/model.js';
import type { Layer as L } from './nn/layer.js';
import type { Model as M } from './nn/model.js';
import type { ToONNXOptions } from './formats/onnx/export.js';
import type { LoadONNXOptions } from './formats/onnx/import.js';
/**
 * The model as ONNX bytes (opset 13, NHWC inputs); see onnx/export.ts. Async because the exporter
 * and its protobuf library are loaded only when asked for.
 */
export async function toONNX(model: M, opts?: ToONNXOptions): Promise<Uint8Array> {
  if (model?.isDisposed) throw new Error(`toONNX: the model ${model.name} was disposed; create or load a new model`);
  const { toONNX: exportONNX } = await import('./formats/onnx/export.js');
  return exportONNX(model, opts);
}
/**
 * Imports an ONNX CNN (the bytes of a .onnx file from torch.onnx.export or tf2onnx, opsets 1–21) as
 * a functional Model that predicts, fits, saves and exports; see onnx/import.ts. The model takes its
 * input as the file declares it (NCHW for PyTorch) unless `opts.inputLayout` is 'nhwc'. Async: the
 * importer and its protobuf library load only when asked for.
 */
export async function loadONNX(bytes: Uint8Array | ArrayBuffer, opts?: LoadONNXOptions): Promise<M> {
  const { loadONNX: importONNX } = await import('./formats/onnx/import.js');
  return importONNX(bytes, opts);
}
/** tfjs-style factory: `sn.sequential({layers: [...]})`. */
export function sequential(cfg?: { layers?: L[]; name?: string; seed?: number }): Sequential {
  return new Sequential(cfg);
}
