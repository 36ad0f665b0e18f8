// A small convolutional encoder-decoder that learns to denoise MNIST digits: conv + maxPooling down
// to 7x7, back up with conv2dTranspose (stride 2) and upSampling2d, a concatenated skip from the
// encoder at each scale (U-Net style), a linear output and loss 'meanSquaredError' against the
// clean digit. Prints the loss falling, checks save -> load bit-identical, exports ONNX, and writes
// an SVG with rows of noisy / denoised / clean digits.
//
//   npm run build && node examples/denoise.mjs [--train=2000] [--test=200] [--epochs=1] [--noise=0.4]
//       [--svg=denoise.svg] [--out=denoise.onnx]
//
// Options also come from env: SIMDNET_EXAMPLE_TRAIN=500 etc. `main(opts)` does the same from code.
import { writeFile } from 'node:fs/promises';
import * as sn from 'simdnet';
// The SVG helpers of the run reports; they are not in the package's exports, so taken from the build.
import { esc, svgOpen } from '../dist/report/svg.js';
import { isMain, mnistSubset, options, saveLoadCheck, trainAndReport } from './shared.mjs';

const L = sn.layers;
const DEFAULTS = {
  train: 2000,
  test: 200,
  epochs: 1,
  batchSize: 32,
  lr: 0.003,
  noise: 0.4,
  seed: 1,
  show: 10,
  svg: 'denoise.svg',
  out: '',
  data: '',
};

/**
 * 28 -> conv 16 -> pool -> 14 -> conv 32 -> pool -> 7 -> conv 32 -> transposed conv to 14 (+ skip)
 * -> upsample to 28 (+ skip) -> 1 channel.
 */
export function buildDenoiser({ seed = 1 } = {}) {
  const conv = (filters, name, activation = 'relu') =>
    L.conv2d({ filters, kernelSize: 3, padding: 'same', activation, name });
  const input = sn.input({ shape: [28, 28, 1], name: 'noisy' });
  const e1 = conv(16, 'enc1').apply(input); // 28x28x16
  const e2 = conv(32, 'enc2').apply(L.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(e1)); // 14x14x32
  const mid = conv(32, 'mid').apply(L.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(e2)); // 7x7x32
  const u2 = L.conv2dTranspose({
    filters: 32,
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    activation: 'relu',
    name: 'up2',
  }).apply(mid); // 14x14x32
  const d2 = conv(16, 'dec2').apply(L.concatenate({ name: 'skip2' }).apply([u2, e2])); // 14x14x16
  const u1 = L.upSampling2d({ size: 2, name: 'up1' }).apply(d2); // 28x28x16
  const d1 = conv(16, 'dec1').apply(L.concatenate({ name: 'skip1' }).apply([u1, e1])); // 28x28x16
  // A linear output: with a sigmoid, one short epoch of meanSquaredError drove the output to all
  // black (sigmoid saturated, the loss stuck at the mean square of the clean digits); the SVG clamps.
  const output = conv(1, 'clean', 'linear').apply(d1);
  return sn.model({ inputs: input, outputs: output, seed, name: 'denoiser' });
}

/** clean + N(0, sigma^2) per pixel, clipped to [0, 1]; seeded so that runs repeat. */
export function addNoise(clean, sigma, seed) {
  const rng = new sn.Rng(seed);
  const out = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) {
    // Box-Muller from two uniforms in (0, 1].
    const g = Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
    out[i] = Math.min(1, Math.max(0, clean[i] + sigma * g));
  }
  return out;
}

/** One <rect> per pixel with ink; the background is black. */
function digit(img, off, x0, y0, s) {
  const out = [];
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = img[off + y * 28 + x];
      const g = v > 0 ? (v >= 1 ? 255 : Math.round(v * 255)) : 0;
      if (g > 0) {
        out.push(`<rect x="${x0 + x * s}" y="${y0 + y * s}" width="${s}" height="${s}" fill="rgb(${g},${g},${g})"/>`);
      }
    }
  }
  return out.join('');
}

/** Rows noisy / denoised / clean of the first `count` images, each row labelled. */
export function denoiseSvg(noisy, denoised, clean, count, scale = 3) {
  const cell = 28 * scale + 6,
    labelW = 80,
    rows = [
      ['noisy', noisy],
      ['denoised', denoised],
      ['clean', clean],
    ];
  const width = labelW + count * cell,
    height = rows.length * cell + 6;
  const parts = [
    svgOpen(width, height, 'MNIST digits: noisy, denoised by the model, clean'),
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  rows.forEach(([name, imgs], r) => {
    const y0 = 6 + r * cell;
    parts.push(`<text x="4" y="${y0 + cell / 2}">${esc(name)}</text>`);
    for (let i = 0; i < count; i++) {
      const x0 = labelW + i * cell;
      const frame = `<rect x="${x0}" y="${y0}" width="${28 * scale}" height="${28 * scale}" fill="black"/>`;
      parts.push(`<g class="${esc(name)}">${frame}${digit(imgs, i * 784, x0, y0, scale)}</g>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Builds and trains the denoiser, checks it and writes the SVG (unless svg is '').
 * @param opts any of train, test, epochs, batchSize, lr, noise, seed, show, svg, out, data, quiet
 * @returns losses, the model, the saved bytes, the ONNX bytes, the noisy test batch, its prediction and the SVG
 */
export async function main(opts = {}, argv = []) {
  const { quiet, ...given } = opts;
  const o = options(DEFAULTS, given, argv);
  const log = quiet ? () => {} : (s) => console.log(s);
  await sn.ready();
  const data = await mnistSubset(o.train, o.test, o.data);
  const shape = (n) => [n, 28, 28, 1];
  const x = { data: addNoise(data.train.images, o.noise, o.seed), shape: shape(data.train.count) };
  const y = { data: data.train.images, shape: shape(data.train.count) };
  const xTest = { data: addNoise(data.test.images, o.noise, o.seed + 1), shape: shape(data.test.count) };
  const yTest = { data: data.test.images, shape: shape(data.test.count) };
  const model = buildDenoiser({ seed: o.seed });
  if (!quiet) model.summary();
  model.compile({ optimizer: new sn.Adam({ learningRate: o.lr }), loss: 'meanSquaredError' });
  // What doing nothing scores: the noisy input itself against the clean digit.
  let identity = 0;
  for (let i = 0; i < xTest.data.length; i++) identity += (xTest.data[i] - yTest.data[i]) ** 2;
  identity /= xTest.data.length;
  log(`mean squared error of the noisy test input itself: ${identity.toFixed(4)}`);
  const t0 = performance.now();
  const losses = await trainAndReport(model, x, y, xTest, yTest, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    log,
  });
  const seconds = (performance.now() - t0) / 1000;
  log(`trained in ${seconds.toFixed(1)} s; test mean squared error ${losses.after.toFixed(4)}`);
  const saved = saveLoadCheck(model, xTest, log);
  const onnx = await sn.toONNX(model);
  if (o.out) await writeFile(o.out, onnx);
  log(`ONNX: ${onnx.byteLength} bytes${o.out ? ` written to ${o.out}` : ''}`);
  saved.loaded.dispose();
  const show = Math.min(o.show, data.test.count);
  const svg = denoiseSvg(xTest.data, saved.prediction, yTest.data, show);
  if (o.svg) {
    await writeFile(o.svg, svg);
    log(`wrote ${o.svg}`);
  }
  return { ...losses, identity, model, saved: saved.bytes, onnx, x: xTest, prediction: saved.prediction, svg };
}

if (isMain(import.meta.url)) await main({}, process.argv.slice(2));
