// ONNX export checked against onnxruntime-node: the exported graph, run by ORT on the same inputs,
// must give simdnet's predict() output (max |difference| <= 1e-4, same argmax): the seed model after
// a few Adam steps on real MNIST, small models covering the other layer options, and the CLI.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { loadIdxDir, defaultMnistDir } from '../../src/node/data.js';
import { saveModelFile } from '../../src/node/model.js';
import { main } from '../../src/cli/main.js';
import type { MnistData } from '../../src/data/idx.js';
import { seedModel } from '../../src/cli/presets.js';

const TOL = 1e-4;
let dir = '';
let mnist: MnistData;

beforeAll(async () => {
  await sn.ready();
  dir = await mkdtemp(join(tmpdir(), 'simdnet-onnx-'));
  mnist = await loadIdxDir(defaultMnistDir(), { trainLimit: 512, testLimit: 100 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One ORT session (single thread: the machine is shared). */
function session(model: Uint8Array | string): Promise<ort.InferenceSession> {
  const o: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
}

async function runOrt(
  s: ort.InferenceSession,
  x: Float32Array,
  shape: number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await s.run({ input: new ort.Tensor('float32', x, shape) });
  const y = out.output;
  return { data: y.data as Float32Array, dims: y.dims };
}

function predict(model: sn.Sequential, x: Float32Array, shape: number[]): Float32Array {
  const p = model.predict({ data: x, shape });
  const d = p.dataSync() as Float32Array;
  p.dispose();
  return d;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function argmaxRows(p: ArrayLike<number>, K: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * K < p.length; r++) {
    let b = 0;
    for (let k = 1; k < K; k++) if (p[r * K + k] > p[r * K + b]) b = k;
    out.push(b);
  }
  return out;
}

/** Exports `model`, runs ORT and simdnet on x, checks shapes, tolerance and argmax; returns the max |diff|. */
async function compare(model: sn.Sequential, x: Float32Array, shape: number[], label: string): Promise<number> {
  const bytes = toONNX(model);
  const s = await session(bytes);
  try {
    expect(s.inputNames).toEqual(['input']);
    expect(s.outputNames).toEqual(['output']);
    const got = await runOrt(s, x, shape);
    const want = predict(model, x, shape);
    expect([...got.dims], `${label}: output shape`).toEqual([shape[0], ...model.outputShape]);
    const diff = maxAbsDiff(got.data, want);
    console.log(`onnx ${label}: max |ort - simdnet| = ${diff.toExponential(2)}`);
    expect(diff, `${label}: max |ort - simdnet|`).toBeLessThanOrEqual(TOL);
    const K = model.outputShape[model.outputShape.length - 1];
    expect(argmaxRows(got.data, K), `${label}: argmax`).toEqual(argmaxRows(want, K));
    return diff;
  } finally {
    await s.release();
  }
}

/** Replaces every weight (biases included) with seeded uniform values in [-scale, scale]. */
function randomizeWeights(model: sn.Sequential, seed: number, scale = 0.5): void {
  const rng = new sn.Rng(seed);
  const ws = model.getWeights();
  model.setWeights(ws.map((w) => Float32Array.from({ length: w.size }, () => (2 * rng.uniform() - 1) * scale)));
  ws.forEach((w) => w.dispose());
}

function randomInput(n: number, rowShape: number[], seed: number): { x: Float32Array; shape: number[] } {
  const rng = new sn.Rng(seed);
  const shape = [n, ...rowShape];
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rng.uniform() - 1);
  return { x, shape };
}

describe('toONNX', () => {
  it('the seed model trained on MNIST matches onnxruntime on 100 real test images', async () => {
    const model = seedModel({ seed: 1 });
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const tr = mnist.train;
    const before = model.getWeights().map((w) => {
      const d = w.dataSync();
      w.dispose();
      return d;
    });
    await model.fit(
      { data: tr.images, shape: [tr.count, 28, 28, 1] },
      { data: tr.labels, shape: [tr.count] },
      { epochs: 1, batchSize: 128, verbose: 0, seed: 1 },
    );
    // The weights moved away from their initial values, so the export carries trained values.
    const after = model.getWeights();
    expect(maxAbsDiff(after[0].dataSync(), before[0])).toBeGreaterThan(1e-3);
    after.forEach((w) => w.dispose());

    const te = mnist.test;
    expect(te.count).toBe(100);
    await compare(model, te.images, [te.count, 28, 28, 1], 'seed model, 100 MNIST test images');

    // The graph: NHWC input with a symbolic batch, one transpose in, one back before Flatten.
    const m = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(toONNX(model)), { longs: Number }) as any;
    expect(m.ir_version).toBe(8);
    expect(m.opset_import).toEqual([{ domain: '', version: 13 }]);
    expect(m.graph.input[0].type.tensor_type.shape.dim).toEqual([
      { dim_param: 'N' },
      { dim_value: 28 },
      { dim_value: 28 },
      { dim_value: 1 },
    ]);
    expect(m.graph.output[0].type.tensor_type.shape.dim).toEqual([{ dim_param: 'N' }, { dim_value: 10 }]);
    expect(m.graph.node.map((n: any) => n.op_type)).toEqual([
      'Transpose',
      'Conv',
      'Relu',
      'Conv',
      'Relu',
      'MaxPool',
      'Conv',
      'Relu',
      'Conv',
      'Relu',
      'MaxPool',
      'Transpose',
      'Flatten',
      'Gemm',
      'Relu',
      'Gemm',
      'Softmax',
    ]);
    const conv = m.graph.node[1];
    expect(conv.attribute.find((a: any) => a.name === 'pads').ints).toEqual([2, 2, 2, 2]);
    expect(m.graph.initializer.length).toBe(12);
    model.dispose();
  });

  it("valid padding, stride-2 conv, 'same' average pooling (padding not counted), asymmetric pads, Dense without bias", async () => {
    const L = sn.layers;
    const model = new sn.Sequential({
      seed: 3,
      layers: [
        L.conv2d({
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'valid',
          activation: 'relu',
          inputShape: [9, 11, 3],
        }), // 4x5x4
        L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), // 2x3x4, pads [0,1] x [1,1]
        L.conv2d({ filters: 5, kernelSize: [2, 3], strides: [1, 2], padding: 'same' }), // 2x2x5, pads [0,1] x [1,1]
        L.activation({ activation: 'relu' }),
        L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }), // 2x2x5, pads [0,1] x [0,1]
        L.dropout({ rate: 0.3 }),
        L.flatten(),
        L.dense({ units: 7, useBias: false, activation: 'relu' }),
        L.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    randomizeWeights(model, 11);
    const { x, shape } = randomInput(16, [9, 11, 3], 12);
    await compare(model, x, shape, 'small conv model');

    // count_include_pad matters here: an AveragePool counting the padding gives different values.
    const m = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(toONNX(model)), { longs: Number }) as any;
    const avg = m.graph.node.find((n: any) => n.op_type === 'AveragePool');
    expect(avg.attribute.find((a: any) => a.name === 'pads').ints).toEqual([0, 1, 1, 1]);
    expect(avg.attribute.find((a: any) => a.name === 'count_include_pad').i).toBe(0);
    const dense = m.graph.node.filter((n: any) => n.op_type === 'Gemm');
    expect(dense[0].input.length).toBe(2);
    expect(m.graph.node.some((n: any) => n.op_type === 'Dropout')).toBe(false);
    model.dispose();
  });

  it('a model ending in a convolution keeps its NHWC output; softmax over channels', async () => {
    const L = sn.layers;
    const model = new sn.Sequential({
      seed: 5,
      layers: [
        L.maxPooling2d({ poolSize: 2, padding: 'same', inputShape: [7, 6, 2] }),
        L.conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'softmax' }),
      ],
    });
    randomizeWeights(model, 13);
    const { x, shape } = randomInput(5, [7, 6, 2], 14);
    await compare(model, x, shape, 'conv output model');
    model.dispose();
  });

  it('a dense-only model on flat input (no transposes)', async () => {
    const L = sn.layers;
    const model = new sn.Sequential({
      seed: 6,
      layers: [
        L.dense({ units: 8, inputShape: [6] }),
        L.activation({ activation: 'relu' }),
        L.dropout({ rate: 0.5 }),
        L.dense({ units: 3 }),
        L.activation({ activation: 'softmax' }),
      ],
    });
    randomizeWeights(model, 15);
    const { x, shape } = randomInput(9, [6], 16);
    await compare(model, x, shape, 'dense model');
    const m = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(toONNX(model))) as any;
    expect(m.graph.node.some((n: any) => n.op_type === 'Transpose')).toBe(false);
    model.dispose();
  });

  it('a layer without an ONNX equivalent is an error naming it', () => {
    class Scale extends sn.Layer {
      get className() {
        return 'Scale';
      }
      get defaultName() {
        return 'scale';
      }
      computeOutputShape(s: readonly number[]) {
        return [...s];
      }
      call(x: sn.Tensor) {
        return x;
      }
      getConfig() {
        return { name: this.name };
      }
    }
    const model = new sn.Sequential({
      layers: [sn.layers.flatten({ inputShape: [4, 4, 1] }), new Scale({ name: 'my_scale' })],
    });
    expect(() => toONNX(model)).toThrow(
      /layer my_scale \(Scale\) cannot be exported to ONNX; supported layers: Conv2D/,
    );
    expect(() => toONNX(new sn.Sequential())).toThrow(/no layers/);
  });
});

describe('simdnet export', () => {
  it('writes an ONNX file that onnxruntime loads and that matches the model', async () => {
    const model = seedModel({ seed: 2 });
    const modelPath = join(dir, 'model.simdnet');
    const onnxPath = join(dir, 'model.onnx');
    model.build();
    await saveModelFile(model, modelPath);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['export', '--model', modelPath, '--onnx', onnxPath])).toBe(0);
    } finally {
      log.mockRestore();
    }
    const bytes = new Uint8Array(await readFile(onnxPath));
    expect(bytes.length).toBeGreaterThan(484_714 * 4);
    const s = await session(onnxPath);
    try {
      const te = mnist.test;
      const n = 8;
      const x = te.images.subarray(0, n * 28 * 28);
      const got = await runOrt(s, x, [n, 28, 28, 1]);
      expect(maxAbsDiff(got.data, predict(model, x, [n, 28, 28, 1]))).toBeLessThanOrEqual(TOL);
    } finally {
      await s.release();
    }
    await expect(main(['export', '--model', modelPath])).rejects.toThrow(/--onnx/);
    model.dispose();
  });
});
