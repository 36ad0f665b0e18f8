// Node-only helpers (file system). Import from 'simdnet/node'.
export { saveModelFile, loadModelFile } from './model.js';
export { loadIdxDir, defaultMnistDir } from './data.js';
export { loadLayersModelFile, saveLayersModelFile } from './layers-file.js';
export type { LoadIdxOptions } from './data.js';
export type { MnistData, MnistSplit } from '../data/idx.js';
export { loadONNXFile } from './onnx.js';
export { ModelCheckpoint, CSVLogger, formatPath } from './callbacks.js';
export type { ModelCheckpointConfig, CSVLoggerConfig } from './callbacks.js';
