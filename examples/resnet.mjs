// A small ResNet built with the functional API (sn.input, layer.apply, sn.model): a stem conv, three
// stages of residual blocks whose first block halves the size with a projection shortcut (1x1 conv,
// stride 2), BatchNormalization after every conv, global average pooling and a dense softmax.
// Trains on an MNIST subset, prints the loss falling and the test accuracy, checks that save ->
// load predicts bit-identical values, and exports ONNX.
//
//   npm run build && node examples/resnet.mjs [--train=2000] [--test=500] [--epochs=1] [--out=resnet.onnx]
//
// Options also come from env: SIMDNET_EXAMPLE_TRAIN=500 etc. `main(opts)` does the same from code.
import { writeFile } from 'node:fs/promises';
import * as sn from 'simdnet';
import { images, isMain, mnistSubset, oneHot, options, saveLoadCheck, trainAndReport } from './shared.mjs';

const L = sn.layers;
// Keras' 0.99 needs hundreds of steps before the moving statistics (used by evaluate/predict) forget
// their initial values; one short epoch is tens of steps, so the moving averages follow faster.
const BN_MOMENTUM = 0.9;
const DEFAULTS = {
  train: 2000,
  test: 500,
  epochs: 1,
  batchSize: 32,
  lr: 0.003,
  width: 8,
  blocks: 1,
  seed: 1,
  out: '',
  data: '',
};

/** conv -> BatchNormalization (-> relu): the conv has no bias, BatchNormalization's beta plays its part. */
function convBn(x, filters, kernelSize, strides, relu, name) {
  const c = L.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, name: `${name}_conv` }).apply(x);
  const b = L.batchNormalization({ momentum: BN_MOMENTUM, name: `${name}_bn` }).apply(c);
  return relu ? L.activation({ activation: 'relu', name: `${name}_relu` }).apply(b) : b;
}

/**
 * A basic residual block: two 3x3 convs plus the shortcut, then relu. When the block changes the
 * size or the channel count, the shortcut is a 1x1 conv with the same stride (a projection).
 */
function residualBlock(x, filters, strides, name) {
  const inChannels = x.shape[x.shape.length - 1];
  const h = convBn(convBn(x, filters, 3, strides, true, `${name}_a`), filters, 3, 1, false, `${name}_b`);
  const shortcut = strides !== 1 || inChannels !== filters ? convBn(x, filters, 1, strides, false, `${name}_proj`) : x;
  const sum = L.add({ name: `${name}_add` }).apply([h, shortcut]);
  return L.activation({ activation: 'relu', name: `${name}_out` }).apply(sum);
}

/** 28x28x1 -> stem (width) -> stage 1 (width, 28x28) -> stage 2 (2 width, 14x14) -> stage 3 (4 width, 7x7) -> 10. */
export function buildResNet({ width = 8, blocks = 1, seed = 1, classes = 10 } = {}) {
  const input = sn.input({ shape: [28, 28, 1], name: 'input' });
  let x = convBn(input, width, 3, 1, true, 'stem');
  [width, 2 * width, 4 * width].forEach((filters, stage) => {
    for (let b = 0; b < blocks; b++) {
      // Stage 1 keeps the stem's size; stages 2 and 3 halve it in their first block.
      x = residualBlock(x, filters, stage > 0 && b === 0 ? 2 : 1, `s${stage + 1}b${b + 1}`);
    }
  });
  const pooled = L.globalAveragePooling2d({ name: 'gap' }).apply(x);
  const output = L.dense({ units: classes, activation: 'softmax', name: 'logits' }).apply(pooled);
  return sn.model({ inputs: input, outputs: output, seed, name: 'resnet' });
}

/**
 * Builds, trains and checks the model.
 * @param opts any of train, test, epochs, batchSize, lr, width, blocks, seed, out (ONNX path), data (MNIST dir),
 *   quiet; the rest come from env / argv / defaults
 * @returns losses, test accuracy, the model, the saved bytes, the ONNX bytes and a test batch with its prediction
 */
export async function main(opts = {}, argv = []) {
  const { quiet, ...given } = opts;
  const o = options(DEFAULTS, given, argv);
  const log = quiet ? () => {} : (s) => console.log(s);
  await sn.ready();
  const data = await mnistSubset(o.train, o.test, o.data);
  const model = buildResNet({ width: o.width, blocks: o.blocks, seed: o.seed, classes: data.numClasses });
  if (!quiet) model.summary();
  const optimizer = new sn.Adam({ learningRate: o.lr });
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = images(data.train),
    y = oneHot(data.train.labels, data.numClasses);
  const xTest = images(data.test),
    yTest = oneHot(data.test.labels, data.numClasses);
  const t0 = performance.now();
  const losses = await trainAndReport(model, x, y, xTest, yTest, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    log,
  });
  const [testLoss, testAccuracy] = model.evaluate(xTest, yTest);
  log(
    `trained in ${((performance.now() - t0) / 1000).toFixed(1)} s; test loss ${testLoss.toFixed(4)}, ` +
      `test accuracy ${(100 * testAccuracy).toFixed(1)}% on ${data.test.count} images`,
  );
  const saved = saveLoadCheck(model, xTest, log);
  const onnx = await sn.toONNX(model);
  if (o.out) await writeFile(o.out, onnx);
  log(`ONNX: ${onnx.byteLength} bytes${o.out ? ` written to ${o.out}` : ''}`);
  saved.loaded.dispose();
  return { ...losses, testLoss, testAccuracy, model, saved: saved.bytes, onnx, x: xTest, prediction: saved.prediction };
}

if (isMain(import.meta.url)) await main({}, process.argv.slice(2));
