// Fine-tuning a PyTorch CNN in Node: imports an ONNX file written by torch.onnx.export (the
// MNIST-shaped CNN of test/fixtures/onnx, made by scripts/fixtures/export_onnx.py), freezes it, cuts
// off its 10-class head with the functional API, puts a new head on for a new task (is the digit
// even or odd?), fits it on an MNIST subset, checks save -> load, and exports ONNX again.
//
//   npm run build && node examples/finetune-onnx.mjs [--train=2000] [--test=500] [--epochs=2] [--onnx=FILE]
//
// Options also come from env: SIMDNET_EXAMPLE_TRAIN=500 etc. `main(opts)` does the same from code.
import { fileURLToPath } from 'node:url';
import * as sn from 'simdnet';
import { loadONNXFile } from 'simdnet/node';
import { images, isMain, mnistSubset, oneHot, options, saveLoadCheck, trainAndReport } from './shared.mjs';

const DEFAULTS = {
  train: 2000,
  test: 500,
  epochs: 2,
  batchSize: 32,
  lr: 0.01,
  seed: 1,
  onnx: fileURLToPath(new URL('../test/fixtures/onnx/mnist_cnn.onnx', import.meta.url)),
  data: '',
};

/** Labels of the new task: 1 for an odd digit, 0 for an even one. */
const parity = (labels) => labels.map((d) => d % 2);

/**
 * Imports, fine-tunes and checks the model.
 * @param opts any of train, test, epochs, batchSize, lr, seed, onnx (the file to import), data (MNIST dir), quiet
 * @returns losses, test accuracy, the model, the saved bytes, the ONNX bytes and a test batch with its prediction
 */
export async function main(opts = {}, argv = []) {
  const { quiet, ...given } = opts;
  const o = options(DEFAULTS, given, argv);
  const log = quiet ? () => {} : (s) => console.log(s);
  await sn.ready();
  // MNIST images are channels-last [N, 28, 28, 1]: take them as they are instead of NCHW.
  const base = await loadONNXFile(o.onnx, { inputLayout: 'nhwc' });
  // 1. freeze the imported layers (a frozen BatchNormalization keeps its running statistics)
  for (const l of base.layers) l.trainable = false;
  // 2. cut the head: the features are what the last Flatten makes
  const features = base.layers.filter((l) => l.className === 'Flatten').pop().inboundNodes[0].output;
  // 3. a new head for two classes
  const head = sn.layers.dense({ units: 2, activation: 'softmax', name: 'parity' }).apply(features);
  const model = sn.model({ inputs: base.inputs, outputs: head, seed: o.seed, name: 'parity' });
  if (!quiet) model.summary();
  model.compile({
    optimizer: new sn.Adam({ learningRate: o.lr }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });

  const data = await mnistSubset(o.train, o.test, o.data);
  const x = images(data.train),
    y = oneHot(parity(data.train.labels), 2);
  const xTest = images(data.test),
    yTest = oneHot(parity(data.test.labels), 2);
  const t0 = performance.now();
  // 4. fit
  const losses = await trainAndReport(model, x, y, xTest, yTest, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    log,
  });
  const [testLoss, testAccuracy] = model.evaluate(xTest, yTest);
  log(
    `fine-tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s; test loss ${testLoss.toFixed(4)}, ` +
      `even/odd accuracy ${(100 * testAccuracy).toFixed(1)}% on ${data.test.count} images`,
  );
  // 5. save (and check the reloaded model predicts the same bits), export
  const saved = saveLoadCheck(model, xTest, log);
  const onnx = await sn.toONNX(model);
  log(`ONNX: ${onnx.byteLength} bytes`);
  saved.loaded.dispose();
  return { ...losses, testLoss, testAccuracy, model, saved: saved.bytes, onnx, x: xTest, prediction: saved.prediction };
}

if (isMain(import.meta.url)) await main({}, process.argv.slice(2));
