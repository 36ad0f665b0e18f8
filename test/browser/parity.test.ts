// Node ≡ Chromium: the same model file and images give bit-identical probabilities, and the same seed
// and 20 training steps give bit-identical weights, for the seed model, its int8 quantization (also at
// 1, 2 and 4 threads), and for a functional graph
// (residual add, squeeze-excitation multiply, concatenation), and for the seed model trained with the Winograd
// convolutions ('auto': F(4,5) and F(4,3)) — single-thread 'simd' build on both sides, and the
// 'threads' build (3 threads) in the cross-origin-isolated page. The jobs below run unchanged in both:
// in Node on src/, in the page on dist/simdnet.full.js (loaded by console.html as window.sn).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import * as snNode from '../../src/index.js';
import { parseIdx } from '../../src/data/idx.js';
import { seedModel } from '../../src/cli/presets.js';
import { buildWeb, describeBrowser, launch, newPage, root, startServer, type Server } from './harness.js';
import { readMnist } from './mnist.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The jobs are serialized into the page (Function.prototype.toString), so they stay self-contained:
// no imports, no outer variables; `sn` is the library, `files` raw bytes.
type Lib = typeof snNode & { parseIdx: typeof parseIdx; seedModel: typeof seedModel };
interface Result {
  hash: string;
  build: string;
  threads: number;
  detail: number[];
}

// The seed model on 100 test images; with `int8`, quantized first (calibrated on the next 64 test
// images): integer kernels, so the same bits are expected in every engine and at any thread count.
async function inferenceJob(
  sn: Lib,
  files: { model: Uint8Array; images: Uint8Array; int8?: boolean; threads?: number },
): Promise<Result> {
  if (files.threads) await sn.setThreads(files.threads);
  const n = 100;
  const idx = sn.parseIdx(files.images, 't10k-images-idx3-ubyte');
  const x = new Float32Array((n + 64) * 784);
  for (let i = 0; i < x.length; i++) x[i] = idx.data[i] / 255;
  const float = sn.loadModel(files.model);
  let m = float;
  if (files.int8) {
    const calibration = sn.tensor(x.subarray(n * 784), [64, 28, 28, 1]);
    m = sn.quantize(float, { calibration, activations: 'int8' });
    calibration.dispose();
  }
  const y = m.predict({ data: x.subarray(0, n * 784), shape: [n, 28, 28, 1] }, { batchSize: 32 });
  const out = (y.dataSync() as Float32Array).slice();
  y.dispose();
  if (m !== float) m.dispose();
  float.dispose();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', out));
  const predictions: number[] = [];
  for (let r = 0; r < n; r++) {
    let b = 0;
    for (let k = 1; k < 10; k++) if (out[r * 10 + k] > out[r * 10 + b]) b = k;
    predictions.push(b);
  }
  return {
    hash: Array.from(digest, (v) => v.toString(16).padStart(2, '0')).join(''),
    build: sn.getEngine().build,
    threads: sn.getThreads(),
    detail: predictions,
  };
}

async function trainingJob(
  sn: Lib,
  files: { images: Uint8Array; labels: Uint8Array; algorithm?: 'auto' },
): Promise<Result> {
  const n = 512;
  sn.setConvAlgorithm(files.algorithm ?? 'direct');
  const imgs = sn.parseIdx(files.images, 'train-images-idx3-ubyte');
  const lbls = sn.parseIdx(files.labels, 'train-labels-idx1-ubyte');
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = imgs.data[i] / 255;
  const m = sn.seedModel({ seed: 7 });
  m.compile({
    optimizer: new sn.Adam({ learningRate: 0.001 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const losses: number[] = [];
  let steps = 0;
  // 512 images, batches of 32, shuffled by the seed: 16 steps in epoch 1, stop after 4 of epoch 2.
  await m.fit(
    { data: x, shape: [n, 28, 28, 1] },
    { data: lbls.data.slice(0, n), shape: [n] },
    {
      epochs: 2,
      batchSize: 32,
      seed: 7,
      verbose: 0,
      callbacks: {
        onBatchEnd: (_b, logs) => {
          losses.push(logs.loss);
          return ++steps < 20;
        },
      },
    },
  );
  const params = m.params();
  const total = params.reduce((a, p) => a + p.value.size, 0);
  const all = new Float32Array(total);
  let at = 0;
  for (const p of params) {
    all.set(p.value.view(), at);
    at += p.value.size;
  }
  m.dispose();
  sn.setConvAlgorithm('direct');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return {
    hash: Array.from(digest, (v) => v.toString(16).padStart(2, '0')).join(''),
    build: sn.getEngine().build,
    threads: sn.getThreads(),
    detail: [steps, ...losses],
  };
}

async function graphJob(sn: Lib, files: { images: Uint8Array; labels: Uint8Array }): Promise<Result> {
  const n = 256;
  const imgs = sn.parseIdx(files.images, 'train-images-idx3-ubyte');
  const lbls = sn.parseIdx(files.labels, 'train-labels-idx1-ubyte');
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = imgs.data[i] / 255;
  const L = sn.layers;
  const inp = sn.input({ shape: [28, 28, 1] });
  const stem = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(inp);
  const c = L.batchNormalization().apply(L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(stem));
  const res = L.activation({ activation: 'relu' }).apply(L.add().apply([c, stem]));
  const gate = L.dense({ units: 8, activation: 'sigmoid' }).apply(L.globalAveragePooling2D().apply(res));
  const cat = L.concatenate().apply([L.multiply().apply([res, gate]), L.maximum().apply([stem, c])]);
  const out = L.dense({ units: 10, activation: 'softmax' }).apply(
    L.flatten().apply(L.maxPooling2d({ poolSize: 2 }).apply(cat)),
  );
  const m = sn.model({ inputs: inp, outputs: out, seed: 5 });
  m.compile({ optimizer: new sn.Adam({ learningRate: 0.002 }), loss: 'sparseCategoricalCrossentropy' });
  const losses: number[] = [];
  await m.fit(
    { data: x, shape: [n, 28, 28, 1] },
    { data: lbls.data.slice(0, n), shape: [n] },
    {
      epochs: 1,
      batchSize: 32,
      seed: 5,
      verbose: 0,
      callbacks: {
        onBatchEnd: (_b, logs) => {
          losses.push(logs.loss);
        },
      },
    },
  );
  const ws = m.getWeights();
  const all = new Float32Array(ws.reduce((a, w) => a + w.size, 0));
  let at = 0;
  for (const w of ws) {
    all.set(w.dataSync() as Float32Array, at);
    at += w.size;
    w.dispose();
  }
  m.dispose();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return {
    hash: Array.from(digest, (v) => v.toString(16).padStart(2, '0')).join(''),
    build: sn.getEngine().build,
    threads: sn.getThreads(),
    detail: losses,
  };
}

// Augmentation layers in training: the per-image matrices (rotation uses Math.sin / Math.cos) and the
// resampling kernels must agree bit for bit, so a seeded fit gives the same weights in both.
async function augmentJob(sn: Lib, files: { images: Uint8Array; labels: Uint8Array }): Promise<Result> {
  const n = 256;
  const imgs = sn.parseIdx(files.images, 'train-images-idx3-ubyte');
  const lbls = sn.parseIdx(files.labels, 'train-labels-idx1-ubyte');
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = imgs.data[i] / 255;
  const L = sn.layers;
  const rot = L.randomRotation({ factor: 0.08, fillMode: 'constant' });
  const mats = rot.matrices(new sn.Rng(11), 512, 28, 28);
  const m = sn.sequential({
    seed: 3,
    layers: [
      L.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, fillMode: 'constant', inputShape: [28, 28, 1] }),
      rot,
      L.randomZoom({ heightFactor: 0.1, interpolation: 'nearest' }),
      L.randomContrast({ factor: 0.2, valueRange: [0, 1], seed: 4 }),
      L.conv2d({ filters: 8, kernelSize: 5, strides: 2, activation: 'relu' }),
      L.flatten(),
      L.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: new sn.Adam({ learningRate: 0.002 }), loss: 'sparseCategoricalCrossentropy' });
  const losses: number[] = [];
  await m.fit(
    { data: x, shape: [n, 28, 28, 1] },
    { data: lbls.data.slice(0, n), shape: [n] },
    {
      epochs: 1,
      batchSize: 32,
      seed: 9,
      verbose: 0,
      callbacks: {
        onBatchEnd: (_b, logs) => {
          losses.push(logs.loss);
        },
      },
    },
  );
  const ws = m.getWeights();
  const all = new Float32Array(mats.length + ws.reduce((a, w) => a + w.size, 0));
  all.set(mats);
  let at = mats.length;
  for (const w of ws) {
    all.set(w.dataSync() as Float32Array, at);
    at += w.size;
    w.dispose();
  }
  m.dispose();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return {
    hash: Array.from(digest, (v) => v.toString(16).padStart(2, '0')).join(''),
    build: sn.getEngine().build,
    threads: sn.getThreads(),
    detail: losses,
  };
}

describeBrowser('Node and Chromium compute the same bits', () => {
  let server: Server;
  let browser: Browser;
  const node: {
    inference?: Result;
    int8?: Result;
    training?: Result;
    trainingAuto?: Result;
    graph?: Result;
    augment?: Result;
  } = {};
  const modelBytes = new Uint8Array(readFileSync(join(root, 'web', 'model', 'mnist.simdnet')));

  beforeAll(async () => {
    buildWeb();
    browser = await launch(); // first: it fails at once when Chromium is missing in CI
    server = await startServer();
    await snNode.ready({ build: 'simd' });
    const lib = { ...snNode, parseIdx, seedModel } as Lib;
    node.inference = await inferenceJob(lib, { model: modelBytes, images: readMnist('t10k-images-idx3-ubyte') });
    node.training = await trainingJob(lib, {
      images: readMnist('train-images-idx3-ubyte'),
      labels: readMnist('train-labels-idx1-ubyte'),
    });
    node.graph = await graphJob(lib, {
      images: readMnist('train-images-idx3-ubyte'),
      labels: readMnist('train-labels-idx1-ubyte'),
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A fresh page (fresh module instance) running build `build` of the full bundle. */
  async function page(build: 'simd' | 'threads'): Promise<{ page: Page; errors: string[] }> {
    const p = await newPage(await browser.newContext());
    await p.page.goto(`${server.url}console.html`);
    await p.page.waitForSelector('body[data-ready]');
    if (build === 'threads') expect(await p.page.evaluate(() => crossOriginIsolated)).toBe(true);
    await p.page.evaluate(
      (b) =>
        (window as unknown as { sn: Lib }).sn.ready(
          b === 'threads' ? { build: 'threads', threads: 3 } : { build: 'simd' },
        ),
      build,
    );
    return p;
  }

  async function run(
    p: Page,
    job: 'inference' | 'int8' | 'training' | 'trainingAuto' | 'graph' | 'augment',
    threads?: number,
  ): Promise<Result> {
    const jobs = {
      inference: inferenceJob,
      int8: inferenceJob,
      training: trainingJob,
      trainingAuto: trainingJob,
      graph: graphJob,
      augment: augmentJob,
    };
    const src = jobs[job].toString();
    return p.evaluate(
      async ({ src, job, threads }) => {
        const get = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer());
        const files =
          job === 'inference' || job === 'int8'
            ? {
                model: await get('model/mnist.simdnet'),
                images: await get('data/t10k-images-idx3-ubyte'),
                int8: job === 'int8',
                threads,
              }
            : {
                images: await get('data/train-images-idx3-ubyte'),
                labels: await get('data/train-labels-idx1-ubyte'),
                ...(job === 'trainingAuto' ? { algorithm: 'auto' } : {}),
              };
        // biome-ignore lint/security/noGlobalEval: the job source is this test's own function, sent to the page as text.
        const fn = (0, eval)(`(${src})`);
        return fn((window as unknown as { sn: unknown }).sn, files);
      },
      { src, job, threads },
    );
  }

  it.each(['simd', 'threads'] as const)(
    'inference: 100 MNIST test images, same probabilities bit for bit (%s build in Chromium)',
    async (build) => {
      const { page: p, errors } = await page(build);
      const r = await run(p, 'inference');
      expect(r.build).toBe(build);
      expect(r.threads).toBe(build === 'threads' ? 3 : 1);
      expect(node.inference!.build).toBe('simd');
      expect(r.detail).toEqual(node.inference!.detail);
      expect(r.hash).toBe(node.inference!.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );

  it.each([
    ['simd', 1],
    ['threads', 2],
    ['threads', 4],
  ] as const)(
    'int8: the quantized seed model gives the same outputs bit for bit (%s build, %i threads in Chromium)',
    async (build, threads) => {
      node.int8 ??= await inferenceJob({ ...snNode, parseIdx, seedModel } as Lib, {
        model: modelBytes,
        images: readMnist('t10k-images-idx3-ubyte'),
        int8: true,
      });
      // int8 is not float32 under another name: its outputs differ from the float model's
      expect(node.int8.hash).not.toBe(node.inference!.hash);
      const { page: p, errors } = await page(build);
      const r = await run(p, 'int8', threads);
      expect(r.build).toBe(build);
      expect(r.threads).toBe(threads);
      expect(r.detail).toEqual(node.int8.detail);
      expect(r.hash).toBe(node.int8.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );

  it.each(['simd', 'threads'] as const)(
    'training: same seed, 20 Adam steps on 512 images → identical weights (%s build in Chromium)',
    async (build) => {
      const { page: p, errors } = await page(build);
      const r = await run(p, 'training');
      expect(r.build).toBe(build);
      expect(r.detail[0]).toBe(20);
      expect(r.detail).toEqual(node.training!.detail);
      expect(r.hash).toBe(node.training!.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );

  it.each(['simd', 'threads'] as const)(
    "training with 'auto' (Winograd F(4,5), F(4,3)): 20 Adam steps → identical weights (%s build in Chromium)",
    async (build) => {
      // The Node side runs here, not in beforeAll, to keep the shared hook within its timeout.
      node.trainingAuto ??= await trainingJob({ ...snNode, parseIdx, seedModel } as Lib, {
        images: readMnist('train-images-idx3-ubyte'),
        labels: readMnist('train-labels-idx1-ubyte'),
        algorithm: 'auto',
      });
      // another rounding than 'direct': the comparison below is not the direct run's twice
      expect(node.trainingAuto.hash).not.toBe(node.training!.hash);
      const { page: p, errors } = await page(build);
      const r = await run(p, 'trainingAuto');
      expect(r.build).toBe(build);
      expect(r.detail[0]).toBe(20);
      expect(r.detail).toEqual(node.trainingAuto.detail);
      expect(r.hash).toBe(node.trainingAuto.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );

  it.each(['simd', 'threads'] as const)(
    'graph model: residual / SE / concatenate, 8 Adam steps → identical weights (%s build in Chromium)',
    async (build) => {
      const { page: p, errors } = await page(build);
      const r = await run(p, 'graph');
      expect(r.build).toBe(build);
      expect(r.detail.length).toBe(8);
      expect(r.detail).toEqual(node.graph!.detail);
      expect(r.hash).toBe(node.graph!.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );

  it.each(['simd', 'threads'] as const)(
    'augmentation: seeded rotation matrices and 8 Adam steps through the four augmentation layers → identical weights (%s build in Chromium)',
    async (build) => {
      // The Node side runs here, not in beforeAll, to keep the shared hook within its timeout.
      node.augment ??= await augmentJob({ ...snNode, parseIdx, seedModel } as Lib, {
        images: readMnist('train-images-idx3-ubyte'),
        labels: readMnist('train-labels-idx1-ubyte'),
      });
      const { page: p, errors } = await page(build);
      const r = await run(p, 'augment');
      expect(r.build).toBe(build);
      expect(r.detail.length).toBe(8);
      expect(r.detail).toEqual(node.augment!.detail);
      expect(r.hash).toBe(node.augment!.hash);
      expect(errors).toEqual([]);
      await p.context().close();
    },
  );
});
