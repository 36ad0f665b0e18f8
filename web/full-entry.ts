// The full browser bundle (dist/simdnet.full.js, `simdnet/full`): everything in simdnet that runs in
// a browser — training included — plus the IDX/MNIST decoder. Used by the training page's worker.
// Only the ONNX exporter is left out (it needs protobufjs): `sn.toONNX(model)` rejects here.
export * from '../src/index.js';
// The training page builds the CLI's preset models (the seed article's CNN).
export { seedModel, presetModel, presetTraining, PRESETS } from '../src/cli/presets.js';
export { decodeMnist, parseIdx, readIdx, gunzip, isGzip, oneHot, MNIST_FILE_NAMES } from '../src/data/idx.js';
export type { MnistData, MnistSplit, MnistFiles, IdxFile } from '../src/data/idx.js';
