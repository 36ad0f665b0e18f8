// The tfjs-layers model format: what `tensorflowjs_converter --input_format keras` writes for a Keras
// model and what tfjs' `model.save` produces. A Keras model config (Sequential or functional, Keras 2
// or Keras 3 spellings) plus named weights in one byte blob (float32, or the converter's uint8/uint16
// affine and float16 quantisations). Loading builds a simdnet Model from simdnet's own layers and
// fills its weights by layer name + weight role; saving writes the same format for tf.loadLayersModel.
// Everything is checked before a model is made, and every problem of a kind is reported in one error.
//
// This module is the format's public face. The parts: artifacts.ts (the objects tfjs hands and takes),
// layers.ts (each layer class read and written, one table entry per class), keras-config.ts (config
// field readers and writers), topology.ts (Sequential and functional topologies), weights.ts (weight
// bytes), read.ts and write.ts (load and save).
export type {
  LayersWeightSpec,
  LayersWeightData,
  LayersModelArtifacts,
  LayersModelJSON,
  SaveLayersOptions,
  LoadLayersOptions,
  LoadLayersURLOptions,
} from './artifacts.js';
export { loadLayersModel, loadLayersModelURL } from './read.js';
export { saveLayersModel, layersModelJSON } from './write.js';
export { weightSpecBytes, checkSpec, checkSpecs } from './weights.js';
export { limitsOf, DEFAULT_MAX_BYTES } from '../limits.js';
