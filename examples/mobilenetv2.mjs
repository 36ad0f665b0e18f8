// MobileNetV2-style inverted residual blocks with the functional API: 1x1 expansion conv, depthwise
// 3x3 conv, ReLU6 after both, a linear 1x1 bottleneck (no activation), BatchNormalization after each
// conv, and a residual add when the block keeps the shape. Same flow as resnet.mjs: trains on an
// MNIST subset, prints the loss falling and the test accuracy, save -> load bit-identical, ONNX export.
//
//   npm run build && node examples/mobilenetv2.mjs [--train=2000] [--test=500] [--epochs=1] [--out=mnv2.onnx]
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
  expansion: 4,
  seed: 1,
  out: '',
  data: '',
};

/** BatchNormalization then ReLU6 (the layer form: reLU({ maxValue: 6 })), or nothing after BN for linear. */
function bn(x, relu6, name) {
  const b = L.batchNormalization({ momentum: BN_MOMENTUM, name: `${name}_bn` }).apply(x);
  return relu6 ? L.reLU({ maxValue: 6, name: `${name}_relu6` }).apply(b) : b;
}

/**
 * expand (1x1, channels x expansion) -> depthwise 3x3 (stride) -> project (1x1, linear). The projection
 * has no activation: MobileNetV2's point is that a relu on the thin bottleneck would lose information.
 */
function invertedResidual(x, filters, strides, expansion, name) {
  const inChannels = x.shape[x.shape.length - 1];
  let h = x;
  if (expansion !== 1) {
    h = bn(
      L.conv2d({ filters: inChannels * expansion, kernelSize: 1, useBias: false, name: `${name}_expand` }).apply(h),
      true,
      `${name}_expand`,
    );
  }
  h = bn(
    L.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false, name: `${name}_dw` }).apply(h),
    true,
    `${name}_dw`,
  );
  h = bn(
    L.conv2d({ filters, kernelSize: 1, useBias: false, name: `${name}_project` }).apply(h),
    false,
    `${name}_project`,
  );
  return strides === 1 && inChannels === filters ? L.add({ name: `${name}_add` }).apply([x, h]) : h;
}

/** 28x28x1 -> stem conv (stride 2, 14x14) -> inverted residual blocks (7x7) -> 1x1 head -> GAP -> softmax. */
export function buildMobileNetV2({ expansion = 4, seed = 1, classes = 10 } = {}) {
  const input = sn.input({ shape: [28, 28, 1], name: 'input' });
  let x = bn(
    L.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }).apply(input),
    true,
    'stem',
  );
  // [filters, stride, expansion]: the first block has expansion 1, as in the paper.
  const blocks = [
    [8, 1, 1],
    [16, 2, expansion],
    [16, 1, expansion],
    [24, 1, expansion],
    [24, 1, expansion],
  ];
  blocks.forEach(([f, s, t], i) => {
    x = invertedResidual(x, f, s, t, `block${i + 1}`);
  });
  x = bn(L.conv2d({ filters: 64, kernelSize: 1, useBias: false, name: 'head' }).apply(x), true, 'head');
  const pooled = L.globalAveragePooling2d({ name: 'gap' }).apply(x);
  const output = L.dense({ units: classes, activation: 'softmax', name: 'logits' }).apply(pooled);
  return sn.model({ inputs: input, outputs: output, seed, name: 'mobilenetv2' });
}

/**
 * Builds, trains and checks the model.
 * @param opts any of train, test, epochs, batchSize, lr, expansion, seed, out (ONNX path), data (MNIST dir), quiet
 * @returns losses, test accuracy, the model, the saved bytes, the ONNX bytes and a test batch with its prediction
 */
export async function main(opts = {}, argv = []) {
  const { quiet, ...given } = opts;
  const o = options(DEFAULTS, given, argv);
  const log = quiet ? () => {} : (s) => console.log(s);
  await sn.ready();
  const data = await mnistSubset(o.train, o.test, o.data);
  const model = buildMobileNetV2({ expansion: o.expansion, seed: o.seed, classes: data.numClasses });
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
