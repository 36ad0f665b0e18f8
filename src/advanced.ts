// simdnet/advanced: the engine under the Keras/tfjs surface, for tools, tests and people writing ops —
// the arena, the tape, the thread pool, the typed kernel table, geometry helpers and the inference
// plan's cache invalidation. Nothing here is needed to build, train, save or import a model.
export { wasmBytes } from './wasm/bindings.js';
export type { KernelExports } from './wasm/bindings.js';
export type { ThreadPool } from './wasm/pool.js';
export type { Task, KernelName } from './wasm/abi.js';
export { getArena, Arena } from './wasm/arena.js';
export { Tape } from './autograd.js';
export type { TapeNode } from './autograd.js';
export { outSize, samePadding, resolvePadding, windowGeometry, convGeometry } from './geom.js';
export type { Padding, Pad, WindowGeometry, ConvGeometry, ConvWindowOptions } from './geom.js';
export { weightsChanged } from './nn/inference.js';
export { sliceAxis } from './ops/slice.js';
export { layerNorm } from './ops/layernorm.js';
export type { LayerNormOptions } from './ops/layernorm.js';
export { layerClass, layerClassNames, createLayer } from './nn/registry.js';
export type { LayerOption, LayerOptions, OptionValues } from './nn/options.js';
export type { LayerClass } from './nn/registry.js';
