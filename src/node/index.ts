// Node-only helpers (file system). Import from 'simdnet/node'.
export { saveModelFile, loadModelFile } from './model.js';
export { loadIdxDir, defaultMnistDir } from './data.js';
export { ModelCheckpoint, CSVLogger, formatPath } from './callbacks.js';
export type { ModelCheckpointConfig, CSVLoggerConfig } from './callbacks.js';
