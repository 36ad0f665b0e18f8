// Node-only helpers (file system). Import from 'simdnet/node'.
export { saveModelFile, loadModelFile } from './model.js';
export { loadIdxDir, defaultMnistDir } from './data.js';
export { loadONNXFile } from './onnx.js';
