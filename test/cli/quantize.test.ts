// `simdnet quantize` end to end on a small CNN trained for two epochs on 1,000 MNIST images: accuracy
// before and after as the figures say (the written file reloads to the same accuracy), file sizes as
// on disk, the int8 file about a quarter of the float32 weights; missing data and bad flags give one
// clear line. And `train --weight-dtype float16` writes a half-precision model.simdnet.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sn from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { parseTrainArgs } from '../../src/cli/args.js';
import { defaultMnistDir, loadIdxDir } from '../../src/node/data.js';
import { loadModelFile, saveModelFile } from '../../src/node/model.js';

let dir = '';
let modelPath = '';
let test: { x: sn.Tensor; labels: Uint8Array | Float32Array };

async function run(args: string[]): Promise<string[]> {
  const logs: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => {
    logs.push(a.join(' '));
  });
  try {
    expect(await main(args)).toBe(0);
  } finally {
    log.mockRestore();
  }
  return logs;
}

function accuracy(m: sn.Model): number {
  const p = m.predict(test.x) as sn.Tensor;
  const v = p.dataSync();
  p.dispose();
  let right = 0;
  for (let i = 0; i < test.labels.length; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (v[i * 10 + c]! > v[i * 10 + best]!) best = c;
    if (best === test.labels[i]) right++;
  }
  return right / test.labels.length;
}

beforeAll(async () => {
  await sn.ready();
  dir = await mkdtemp(join(tmpdir(), 'simdnet-quantize-'));
  const d = await loadIdxDir(defaultMnistDir(), { trainLimit: 1000, testLimit: 500 });
  const L = sn.layers;
  const m = sn.sequential({
    seed: 2,
    layers: [
      L.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 128, activation: 'relu' }),
      L.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: new sn.Adam({ learningRate: 0.003 }), loss: 'sparseCategoricalCrossentropy' });
  await m.fit(
    { data: d.train.images, shape: [1000, 28, 28, 1] },
    { data: d.train.labels, shape: [1000] },
    {
      epochs: 2,
      batchSize: 16,
      verbose: 0,
    },
  );
  modelPath = join(dir, 'm.simdnet');
  await saveModelFile(m, modelPath);
  m.dispose();
  test = { x: sn.tensor(d.test.images, [500, 28, 28, 1]), labels: d.test.labels };
}, 60_000);
afterAll(async () => {
  test?.x.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('simdnet quantize', () => {
  it('reports accuracy before and after and the sizes, and writes a quantized model about ¼ of float32', async () => {
    const out = join(dir, 'm.int8.simdnet');
    const lines = await run([
      'quantize',
      '--model',
      modelPath,
      '--calibration',
      '200',
      '--test-limit',
      '500',
      '--out',
      out,
      '--json',
    ]);
    const r = JSON.parse(lines.at(-1)!);
    const float = await loadModelFile(modelPath);
    const q = await loadModelFile(out);
    try {
      expect(r.calibration_images).toBe(200);
      expect(r.test_examples).toBe(500);
      expect(r.accuracy_before).toBe(accuracy(float));
      expect(r.accuracy_before).toBeGreaterThan(0.8);
      // The file reloads as the model that was measured.
      expect(r.accuracy_after).toBe(accuracy(q));
      expect(Math.abs(r.accuracy_after - r.accuracy_before)).toBeLessThanOrEqual(0.02);
      expect(q.layers.map((l) => l.className).filter((c) => c !== 'InputLayer')).toEqual([
        'QuantizedConv2D',
        'MaxPooling2D',
        'QuantizedConv2D',
        'MaxPooling2D',
        'Flatten',
        'QuantizedDense',
        'QuantizedDense',
      ]);
      expect(r.model_bytes).toBe((await stat(modelPath)).size);
      expect(r.out_bytes).toBe((await stat(out)).size);
      expect(r.float32_weights_bytes).toBe(float.save({ includeOptimizer: false }).byteLength);
      // The model file holds Adam's two slots besides the weights: about 3× the float32 weights.
      expect(r.model_bytes / r.float32_weights_bytes).toBeGreaterThan(2.9);
      expect(r.ratio).toBe(r.out_bytes / r.float32_weights_bytes);
      expect(r.ratio).toBeLessThan(0.3);
    } finally {
      float.dispose();
      q.dispose();
    }
  }, 30_000);

  it('prints the figures as text; --activations float32 keeps float compute', async () => {
    const out = join(dir, 'm.w8.simdnet');
    const lines = await run([
      'quantize',
      '--model',
      modelPath,
      '--calibration',
      '50',
      '--test-limit',
      '200',
      '--activations',
      'float32',
      '--out',
      out,
    ]);
    expect(lines[0]).toMatch(/^calibrated on 50 training images \(activations float32\) in [\d.]+ s$/);
    expect(lines[1]).toMatch(/^test accuracy on 200 images: [\d.]+% float → [\d.]+% quantized$/);
    expect(lines[2]).toContain(`${modelPath} ${(await stat(modelPath)).size} bytes`);
    expect(lines[2]).toContain(`${out} ${(await stat(out)).size} bytes`);
    expect(lines[3]).toBe(`wrote ${out}`);
    const q = await loadModelFile(out);
    const first = q.layers.find((l) => l.className === 'QuantizedConv2D') as unknown as {
      cfg: { activations: string };
    };
    expect(first.cfg.activations).toBe('float32');
    q.dispose();
  }, 30_000);

  it('missing data and bad flags: one clear line, nothing written', async () => {
    const out = join(dir, 'never.simdnet');
    const missing = join(dir, 'no-such-dir');
    const err = await main(['quantize', '--model', modelPath, '--out', out, '--data', missing]).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe(`quantize: no MNIST data: MNIST data directory ${missing} does not exist`);
    const cases: Array<[string[], string]> = [
      [['--out', out], 'quantize: --model FILE is required'],
      [['--model', modelPath], 'quantize: --out FILE is required'],
      [['--model', modelPath, '--out', modelPath], 'is the --model file'],
      [['--model', modelPath, '--out', out, '--calibration', '0'], '--calibration must be an integer from 1 to 60000'],
      [['--model', modelPath, '--out', out, '--activations', 'int4'], '--activations must be one of int8, float32'],
      [['--model', join(dir, 'none.simdnet'), '--out', out], 'cannot read model file'],
    ];
    for (const [args, msg] of cases) await expect(main(['quantize', ...args]), msg).rejects.toThrow(msg);
    await expect(stat(out)).rejects.toThrow();
  });
});

describe('simdnet train --weight-dtype', () => {
  it('is parsed and checked', () => {
    expect(parseTrainArgs([], 1).weightDtype).toBe('float32');
    expect(parseTrainArgs(['--weight-dtype', 'float16'], 1).weightDtype).toBe('float16');
    expect(() => parseTrainArgs(['--weight-dtype', 'half'], 1)).toThrow(
      '--weight-dtype must be one of float32, float16, int8, got "half"',
    );
  });

  it('float16 writes model.simdnet with half-precision weights', async () => {
    const out = join(dir, 'run16');
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await run([
        'train',
        '--model',
        'fast',
        '--train-limit',
        '200',
        '--test-limit',
        '0',
        '--epochs',
        '1',
        '--out',
        out,
        '--weight-dtype',
        'float16',
      ]);
    } finally {
      err.mockRestore();
    }
    const bytes = await readFile(join(out, 'model.simdnet'));
    expect(bytes.readUInt32LE(8)).toBe(3);
    const hlen = bytes.readUInt32LE(12);
    const header = JSON.parse(bytes.subarray(16, 16 + hlen).toString());
    expect(header.weights.every((w: { dtype: string }) => w.dtype === 'float16')).toBe(true);
    (await loadModelFile(join(out, 'model.simdnet'))).dispose();
  }, 30_000);
});
