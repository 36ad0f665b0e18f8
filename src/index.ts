// simdnet: convolutional neural networks for TypeScript on WebAssembly SIMD kernels.
// `await ready()` once, then tensors, functional ops with tfjs-style gradients, layers and models.
export { ready, getEngine, simdSupported, wasmBytes, setThreads, getThreads, shutdown, sharedMemorySupported, hardwareThreads } from './wasm/bindings.js';
export type { Build, Engine, ReadyOptions, KernelExports } from './wasm/bindings.js';
export { getArena, Arena } from './wasm/arena.js';
export { Tensor, tensor, zeros, scalar, tidy, keep } from './tensor.js';
export type { DType } from './tensor.js';
export { grads, valueAndGrads, noGrad, Tape } from './autograd.js';
export { outSize, samePadding, resolvePadding, windowGeometry } from './geom.js';
export type { Padding, Pad } from './geom.js';
export { conv2d } from './ops/conv2d.js';
export type { Conv2dOptions } from './ops/conv2d.js';
export { setConvAlgorithm, getConvAlgorithm } from './ops/winograd.js';
export type { ConvAlgorithm, WinogradTile } from './ops/winograd.js';
export { maxPool2d, avgPool2d, globalAvgPool2d, globalMaxPool2d } from './ops/pool2d.js';
export type { Pool2dOptions } from './ops/pool2d.js';
export { matMul, dense } from './ops/dense.js';
export { relu, sigmoid, tanh, elu, leakyRelu, gelu, softmax, softmaxCrossEntropy } from './ops/act.js';
export { batchNorm } from './ops/batchnorm.js';
export type { BatchNormOptions } from './ops/batchnorm.js';
export { add, sub, mul, div, sum, mean, reshape } from './ops/elementwise.js';
export { SGD } from './optim/sgd.js';
export type { SGDConfig } from './optim/sgd.js';
export { Adam } from './optim/adam.js';
export type { AdamConfig } from './optim/adam.js';
export { RMSprop } from './optim/rmsprop.js';
export type { RMSpropConfig } from './optim/rmsprop.js';
export { Optimizer } from './optim/optimizer.js';
export * as schedules from './optim/schedules.js';
export type { LearningRateSchedule, StepDecayConfig, CosineDecayConfig } from './optim/schedules.js';
export { Layer } from './nn/layer.js';
export type { Weight, StateWeight, CallArgs, ActivationName, InitializerName } from './nn/layer.js';
export { layers, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout,
  Activation, LeakyReLU, BatchNormalization } from './nn/layers.js';
export type { Conv2DConfig, DenseConfig, Pooling2DConfig, LeakyReLUConfig, BatchNormalizationConfig } from './nn/layers.js';
export { Sequential } from './nn/sequential.js';
export type { CompileArgs, FitArgs, History, Callbacks, Logs } from './nn/sequential.js';
export type { Data, LossName } from './nn/data.js';
export { loadModel, saveModel, FORMAT_VERSION } from './nn/serialize.js';
export { Rng } from './rng.js';

import { Sequential } from './nn/sequential.js';
import type { Layer as L } from './nn/layer.js';
/** tfjs-style factory: `sn.sequential({layers: [...]})`. */
export function sequential(cfg?: { layers?: L[]; name?: string; seed?: number }): Sequential { return new Sequential(cfg); }
export { seedModel } from './nn/presets.js';
