// The tfjs-layers model format: models built and saved by tfjs-layers itself load in simdnet with
// tfjs-backend-cpu's predictions, simdnet's saves load back in tfjs-layers, quantised weights decode as
// tfjs decodes them, Keras 3 topologies load, and bad files fail with one clear error.
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/formats/float16.js';
import { makeRng } from '../helpers/check.js';

type TF = typeof import('@tensorflow/tfjs-core');
type TFL = typeof import('@tensorflow/tfjs-layers');
type TModel = import('@tensorflow/tfjs-layers').LayersModel;
let tf: TF;
let tfl: TFL;
const L = () => tfl.layers;

beforeAll(async () => {
  await sn.ready();
  tf = await import('@tensorflow/tfjs-core');
  tfl = await import('@tensorflow/tfjs-layers');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});
const live: sn.Model[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};

/** What tfjs' model.save hands its IO handler. */
async function tfjsArtifacts(m: TModel): Promise<sn.LayersModelArtifacts> {
  let art: sn.LayersModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      art = a as unknown as sn.LayersModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return art!;
}

/** Random weights for a tfjs model: positive moving variances and gammas near 1, so BN matters. */
function randomizeTfjs(m: TModel, seed: number): void {
  const rng = makeRng(seed);
  m.setWeights(
    m.weights.map((w) => {
      const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
      const role = w.originalName.split('/').pop()!;
      const ranges: Record<string, [number, number]> = {
        moving_variance: [0.3, 2],
        gamma: [0.5, 1.5],
        moving_mean: [-1, 1],
      };
      const [lo, hi] = ranges[role] ?? [-0.6, 0.6];
      return tf.tensor(Float32Array.from(rng.fill(n, lo, hi)), w.shape as number[]);
    }),
  );
}

function input(shape: number[], seed: number): Float32Array {
  return Float32Array.from(
    makeRng(seed).fill(
      shape.reduce((a, b) => a * b, 1),
      -1,
      1,
    ),
  );
}

/** max |a - b| / max |b|: the agreement figure the tests bound. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0,
    m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  expect(m).toBeGreaterThan(0);
  expect(Number.isFinite(d)).toBe(true);
  return d / m;
}

function snPredict(m: sn.Model, x: Float32Array, shape: number[]): Float32Array {
  const y = m.predict({ data: x, shape });
  const v = Float32Array.from(y.dataSync());
  y.dispose();
  return v;
}
function tfPredict(m: TModel, x: Float32Array, shape: number[]): Float32Array {
  const t = tf.tensor(x, shape);
  const y = m.predict(t) as import('@tensorflow/tfjs-core').Tensor;
  const v = y.dataSync() as Float32Array;
  t.dispose();
  y.dispose();
  return v;
}

// A Sequential CNN: conv, pool, dilated conv, BN, leaky relu, padding, average pool, transposed conv,
// cropping, reshape, permute, flatten, dropout, dense.
function tfjsSequential(): TModel {
  const l = L();
  return tfl.sequential({
    layers: [
      l.conv2d({ inputShape: [12, 12, 2], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      l.maxPooling2d({ poolSize: 2 }),
      l.conv2d({ filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }),
      l.batchNormalization({ epsilon: 1e-3 }),
      l.leakyReLU({ alpha: 0.1 }),
      l.zeroPadding2d({
        padding: [
          [1, 0],
          [0, 1],
        ],
      }),
      l.averagePooling2d({ poolSize: 2, strides: 1 }),
      l.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      l.cropping2D({
        cropping: [
          [1, 1],
          [2, 0],
        ],
      }),
      l.reshape({ targetShape: [10, 30] }),
      l.permute({ dims: [2, 1] }),
      l.flatten(),
      l.dropout({ rate: 0.3 }),
      l.dense({ units: 4, activation: 'softmax' }),
    ],
  });
}

// A functional model: conv + BN, a depthwise branch with BN and a separable branch, added; upsampling,
// concatenation with a 1x1 conv branch, multiply, global pooling, dense.
function tfjsFunctional(): TModel {
  const l = L();
  const x = tfl.input({ shape: [10, 10, 3] });
  let h = l.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as never;
  h = l.batchNormalization().apply(h) as never;
  h = l.activation({ activation: 'relu' }).apply(h) as never;
  let a = l.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(h) as never;
  a = l.batchNormalization().apply(a) as never;
  const b = l.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'elu' }).apply(h) as never;
  let s = l.add().apply([a, b]) as never;
  s = l.reLU({ maxValue: 6 }).apply(s) as never;
  s = l.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', activation: 'sigmoid' }).apply(s) as never;
  const u = l.upSampling2d({ size: [2, 2] }).apply(s) as never;
  const c = l.conv2d({ filters: 2, kernelSize: 1 }).apply(u) as never;
  let m = l.concatenate().apply([u, c]) as never;
  m = l.multiply().apply([m, m]) as never;
  const g = l.globalAveragePooling2d({}).apply(m) as never;
  const y = l.dense({ units: 5 }).apply(g) as never;
  return tfl.model({ inputs: x, outputs: y });
}

describe('tfjs-layers models load in simdnet', () => {
  it('a Sequential CNN saved by tfjs-layers predicts as tfjs-backend-cpu', async () => {
    const tm = tfjsSequential();
    randomizeTfjs(tm, 1);
    const m = track(sn.loadLayersModel(await tfjsArtifacts(tm)));
    expect(m.isSequential).toBe(true);
    expect(m.layers.map((l) => l.className)).toEqual([
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'BatchNormalization',
      'LeakyReLU',
      'ZeroPadding2D',
      'AveragePooling2D',
      'Conv2DTranspose',
      'Cropping2D',
      'Reshape',
      'Permute',
      'Flatten',
      'Dropout',
      'Dense',
    ]);
    const x = input([3, 12, 12, 2], 2);
    const err = relErr(snPredict(m, x, [3, 12, 12, 2]), tfPredict(tm, x, [3, 12, 12, 2]));
    expect(err).toBeLessThan(1e-5);
    tm.dispose();
  });

  it('a functional model with BN, depthwise and separable convs and merges predicts as tfjs-backend-cpu', async () => {
    const tm = tfjsFunctional();
    randomizeTfjs(tm, 3);
    const art = await tfjsArtifacts(tm);
    const m = track(sn.loadLayersModel(art));
    expect(m.isSequential).toBe(false);
    const x = input([2, 10, 10, 3], 4);
    const want = tfPredict(tm, x, [2, 10, 10, 3]);
    expect(relErr(snPredict(m, x, [2, 10, 10, 3]), want)).toBeLessThan(1e-5);
    // The moving statistics are used: resetting them changes the output.
    const bn = m.layers.find((l) => l.className === 'BatchNormalization')!;
    bn.stateWeights[1]!.value.view().fill(1);
    expect(relErr(snPredict(m, x, [2, 10, 10, 3]), want)).toBeGreaterThan(1e-3);
    tm.dispose();
  });

  it('model.json form (manifest + bytes), the converter wrapper, ":0" names and outer scopes load', async () => {
    const tm = tfjsSequential();
    randomizeTfjs(tm, 5);
    const art = await tfjsArtifacts(tm);
    const json = sn.layersModelJSON(art, ['group1-shard1of1.bin']);
    const x = input([2, 12, 12, 2], 6);
    const want = tfPredict(tm, x, [2, 12, 12, 2]);
    const a = track(sn.loadLayersModel(json, new Uint8Array(art.weightData as ArrayBuffer)));
    expect(relErr(snPredict(a, x, [2, 12, 12, 2]), want)).toBeLessThan(1e-5);
    // What tensorflowjs_converter writes for a Keras 2 .h5: {model_config, keras_version, backend}.
    const wrapped = {
      modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: art.modelTopology },
      weightSpecs: art.weightSpecs!.map((s) => ({ ...s, name: `outer/${s.name}:0` })),
      weightData: [(art.weightData as ArrayBuffer).slice(0, 100), (art.weightData as ArrayBuffer).slice(100)],
    };
    const b = track(sn.loadLayersModel(wrapped));
    expect(relErr(snPredict(b, x, [2, 12, 12, 2]), want)).toBeLessThan(1e-5);
    tm.dispose();
  });

  it('Keras 2 spellings (InputLayer entry, BN axis as a list); trainable false is kept and saved', async () => {
    const tm = tfjsSequential();
    randomizeTfjs(tm, 41);
    const art = await tfjsArtifacts(tm);
    const topo = JSON.parse(JSON.stringify(art.modelTopology));
    const layers = topo.config.layers;
    delete layers[0].config.batch_input_shape;
    layers.unshift({
      class_name: 'InputLayer',
      config: {
        batch_input_shape: [null, 12, 12, 2],
        dtype: 'float32',
        sparse: false,
        ragged: false,
        name: 'conv2d_input',
      },
    });
    layers[4].config.axis = [3];
    layers[1].config.trainable = false;
    layers[1].config.groups = 1;
    const m = track(sn.loadLayersModel({ ...art, modelTopology: { ...topo, keras_version: '2.15.0' } }));
    expect(m.layers.length).toBe(14);
    expect(m.layers[0]!.trainable).toBe(false);
    expect(m.countTrainableParams()).toBe(m.countParams() - 6 * 2 * 9 - 6 - 2 * 5);
    const x = input([2, 12, 12, 2], 42);
    expect(relErr(snPredict(m, x, [2, 12, 12, 2]), tfPredict(tm, x, [2, 12, 12, 2]))).toBeLessThan(1e-5);
    const saved = sn.saveLayersModel(m).modelTopology as {
      config: { layers: Array<{ config: { trainable: boolean } }> };
    };
    expect(saved.config.layers.map((l) => l.config.trainable)).toEqual([false, ...new Array(13).fill(true)]);
    tm.dispose();
  });

  it('a loaded model fine-tunes: a few steps lower the loss', async () => {
    const tm = tfjsFunctional();
    randomizeTfjs(tm, 7);
    const m = track(sn.loadLayersModel(await tfjsArtifacts(tm)));
    tm.dispose();
    m.compile({ optimizer: new sn.Adam({ learningRate: 0.01 }), loss: 'meanSquaredError' });
    const x = { data: input([16, 10, 10, 3], 8), shape: [16, 10, 10, 3] };
    const y = { data: input([16, 5], 9), shape: [16, 5] };
    const before = m.evaluate(x, y)[0]!;
    for (let i = 0; i < 8; i++) m.trainOnBatch(x, y);
    const after = m.evaluate(x, y)[0]!;
    expect(after).toBeLessThan(before * 0.9);
    // And the fine-tuned model saves and reloads in simdnet's own format.
    const again = track(sn.loadModel(m.save()));
    expect(relErr(snPredict(again, x.data, x.shape), snPredict(m, x.data, x.shape))).toBe(0);
  });
});

describe('saveLayersModel', () => {
  it('a model loaded from tfjs saves back to tfjs-layers with the same predictions', async () => {
    const tm = tfjsFunctional();
    randomizeTfjs(tm, 11);
    const m = track(sn.loadLayersModel(await tfjsArtifacts(tm)));
    const back = await tfl.loadLayersModel(tf.io.fromMemory(sn.saveLayersModel(m) as never));
    const x = input([2, 10, 10, 3], 12);
    const want = tfPredict(tm, x, [2, 10, 10, 3]);
    expect(relErr(tfPredict(back, x, [2, 10, 10, 3]), want)).toBeLessThan(1e-6);
    tm.dispose();
    back.dispose();
  });

  it('a simdnet-built Sequential and functional model load in tfjs-layers and predict the same', async () => {
    const l = sn.layers;
    const seq = track(
      sn.sequential({
        seed: 3,
        layers: [
          l.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 2] }),
          l.batchNormalization(),
          l.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, activation: 'swish' }),
          l.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'gelu' }),
          l.cropping2D({
            cropping: [
              [1, 0],
              [0, 1],
            ],
          }),
          l.reshape({ targetShape: [11, 33] }),
          l.permute({ dims: [2, 1] }),
          l.flatten(),
          l.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    seq.build();
    const bn = seq.layers[1]!;
    bn.stateWeights[0]!.value.view().set([0.5, -0.3, 0.2, 0.1]);
    bn.stateWeights[1]!.value.view().set([1.7, 0.4, 0.9, 2.5]);
    const xi = sn.input({ shape: [6, 6, 3] });
    const c1 = l.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(xi);
    const c2 = l.conv2d({ filters: 3, kernelSize: 1, activation: 'tanh' }).apply(xi);
    const mx = l.maximum().apply([c1, c2]);
    const av = l.average().apply([mx, c2]);
    const p = l.globalMaxPooling2D().apply(l.softmax().apply(av));
    const fn = track(sn.model({ inputs: xi, outputs: l.dense({ units: 2, activation: 'sigmoid' }).apply(p), seed: 4 }));
    for (const [m, shape] of [
      [seq, [2, 8, 8, 2]],
      [fn, [2, 6, 6, 3]],
    ] as const) {
      const t = await tfl.loadLayersModel(tf.io.fromMemory(sn.saveLayersModel(m) as never));
      const x = input([...shape], 13);
      expect(relErr(tfPredict(t, x, [...shape]), snPredict(m, x, [...shape]))).toBeLessThan(1e-5);
      t.dispose();
    }
  });

  it('refuses, in one error, what tfjs-layers cannot represent', () => {
    const l = sn.layers;
    const m = track(
      sn.sequential({
        layers: [
          l.conv2d({ filters: 4, kernelSize: 3, groups: 2, inputShape: [6, 6, 4], name: 'grouped' }),
          l.depthwiseConv2d({ kernelSize: 3, dilationRate: 2, padding: 'same', name: 'dilated' }),
          l.activation({ activation: 'hardSigmoid', name: 'hs' }),
        ],
      }),
    );
    let msg = '';
    try {
      sn.saveLayersModel(m);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/tfjs-layers cannot represent/);
    expect(msg).toMatch(/Conv2D "grouped": grouped convolution/);
    expect(msg).toMatch(/DepthwiseConv2D "dilated": .*dilation/);
    expect(msg).toMatch(/Activation "hs": activation "hardSigmoid"/);
  });
});

describe('quantised weights', () => {
  it('uint8, uint16 and float16 weights dequantise as tfjs decodes them, within half a step', async () => {
    const tm = tfjsFunctional();
    randomizeTfjs(tm, 21);
    const art = await tfjsArtifacts(tm);
    const f32 = new Float32Array(art.weightData as ArrayBuffer);
    const parts: Uint8Array[] = [];
    const bounds: number[] = [];
    let at = 0;
    const specs = art.weightSpecs!.map((s, i) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const w = f32.subarray(at, at + n);
      at += n;
      const kind = ['uint8', 'uint16', 'float16'][i % 3]!;
      if (kind === 'float16') {
        const u = new Uint16Array(n);
        for (let j = 0; j < n; j++) u[j] = float32ToFloat16(w[j]!);
        parts.push(new Uint8Array(u.buffer));
        bounds.push(2 ** -11); // relative, for normal halves
        return { ...s, quantization: { dtype: 'float16' } };
      }
      let lo = Infinity,
        hi = -Infinity;
      for (const v of w) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const levels = kind === 'uint8' ? 255 : 65535;
      const scale = (hi - lo) / levels || 1;
      const codes = kind === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
      for (let j = 0; j < n; j++) codes[j] = Math.round((w[j]! - lo) / scale);
      parts.push(new Uint8Array(codes.buffer));
      bounds.push(scale / 2);
      return { ...s, quantization: { dtype: kind, scale, min: lo } };
    });
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const m = track(
      sn.loadLayersModel({ modelTopology: art.modelTopology, weightSpecs: specs, weightData: bytes.buffer }),
    );
    const decoded = tf.io.decodeWeights(bytes.buffer, specs as never);
    const mine = new Map<string, Float32Array>();
    for (const l of m.layers) for (const w of [...l.weights, ...l.stateWeights]) mine.set(w.name, w.value.view());
    at = 0;
    specs.forEach((s, i) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const orig = f32.subarray(at, at + n);
      at += n;
      const got = mine.get(s.name)!;
      const theirs = decoded[s.name]!.dataSync();
      for (let j = 0; j < n; j++) {
        // tfjs computes code * scale + min in float32 too: equal up to one rounding.
        expect(Math.abs(got[j]! - theirs[j]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(theirs[j]!)));
        const b = s.quantization.dtype === 'float16' ? bounds[i]! * Math.abs(orig[j]!) + 2 ** -24 : bounds[i]! * 1.0001;
        expect(Math.abs(got[j]! - orig[j]!)).toBeLessThanOrEqual(b + 1e-7);
      }
    });
    // The quantised model still predicts close to the float one.
    const x = input([2, 10, 10, 3], 22);
    expect(relErr(snPredict(m, x, [2, 10, 10, 3]), tfPredict(tm, x, [2, 10, 10, 3]))).toBeLessThan(0.05);
    tm.dispose();
  });

  it('saveLayersModel({quantize}) writes what tfjs-layers loads; both dequantise alike, within half a step', async () => {
    const tm = tfjsFunctional();
    randomizeTfjs(tm, 61);
    const m = track(sn.loadLayersModel(await tfjsArtifacts(tm)));
    const float = new Map(
      m.layers.flatMap((l) => [...l.weights, ...l.stateWeights]).map((w) => [w.name, w.value.view()]),
    );
    // A zero weight stays exactly zero.
    const dense = m.layers.find((l) => l.className === 'Dense')!;
    dense.weights[1]!.value.view()[0] = 0;
    const x = input([2, 10, 10, 3], 62);
    const exact = snPredict(m, x, [2, 10, 10, 3]);
    const figures: Record<string, number> = {};
    for (const quantize of ['uint8', 'uint16', 'float16'] as const) {
      const a = sn.saveLayersModel(m, { quantize });
      const bytes = (a.weightData as ArrayBuffer).byteLength;
      expect(bytes).toBe(m.countParams() * (quantize === 'uint8' ? 1 : 2));
      const q = track(sn.loadLayersModel(a));
      const t = await tfl.loadLayersModel(tf.io.fromMemory(a as never));
      // simdnet and tfjs run the same dequantised weights.
      const ours = snPredict(q, x, [2, 10, 10, 3]);
      expect(relErr(ours, tfPredict(t, x, [2, 10, 10, 3]))).toBeLessThan(1e-5);
      figures[quantize] = relErr(ours, exact);
      for (const l of q.layers) {
        for (const w of [...l.weights, ...l.stateWeights]) {
          const spec = a.weightSpecs!.find((s) => s.name === w.name)!;
          const orig = float.get(w.name)!;
          const got = w.value.view();
          for (let j = 0; j < got.length; j++) {
            const bound =
              spec.quantization!.dtype === 'float16'
                ? 2 ** -11 * Math.abs(orig[j]!) + 2 ** -25
                : (spec.quantization!.scale! / 2) * (1 + 1e-6) + 1e-7;
            expect(Math.abs(got[j]! - orig[j]!)).toBeLessThanOrEqual(bound);
            if (orig[j] === 0) expect(got[j]).toBe(0);
          }
        }
      }
      t.dispose();
    }
    // Coarser codes, larger (but still small) output error.
    expect(figures.uint8!).toBeLessThan(0.05);
    expect(figures.uint16!).toBeLessThan(figures.uint8!);
    expect(figures.float16!).toBeLessThan(5e-3);
    expect(() => sn.saveLayersModel(m, { quantize: 'int4' as never })).toThrow(/quantize must be 'uint8'/);
    tm.dispose();
  });

  it('float16 decoding is exact for every half, and encoding rounds to nearest', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = float16ToFloat32(h);
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nan ? !Number.isNaN(v) : float32ToFloat16(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    // Against the bit layout: sign, 5 exponent bits (bias 15), 10 fraction bits.
    expect(float16ToFloat32(0x3555)).toBe((1 + 0x155 / 1024) * 2 ** -2);
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(float32ToFloat16(1e6)).toBe(0x7c00);
  });

  it('int32 weights decode as integers; float32 weights at unaligned offsets decode too', async () => {
    const tm = tfl.sequential({ layers: [L().dense({ inputShape: [3], units: 2 })] });
    const art = await tfjsArtifacts(tm);
    const kernel = Int32Array.from([1, -2, 3, -4, 5, 6]);
    const bias = Int32Array.from([7, -8]);
    const bytes = new Uint8Array(32);
    bytes.set(new Uint8Array(kernel.buffer), 0);
    bytes.set(new Uint8Array(bias.buffer), 24);
    const m = track(
      sn.loadLayersModel({
        modelTopology: art.modelTopology,
        weightSpecs: art.weightSpecs!.map((s) => ({ ...s, dtype: 'int32' })),
        weightData: bytes,
      }),
    );
    const ws = m.getWeights();
    expect(Array.from(ws[0]!.dataSync())).toEqual([1, -2, 3, -4, 5, 6]);
    expect(Array.from(ws[1]!.dataSync())).toEqual([7, -8]);
    for (const w of ws) w.dispose();
    // A float32 weight after a 6-byte uint8 one starts unaligned.
    const mixed = new Uint8Array(14);
    mixed.set([10, 20, 30, 40, 50, 60], 0);
    new DataView(mixed.buffer).setFloat32(6, 0.1, true);
    new DataView(mixed.buffer).setFloat32(10, -3.5, true);
    const u = track(
      sn.loadLayersModel({
        modelTopology: art.modelTopology,
        weightSpecs: [
          { ...art.weightSpecs![0]!, quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
          art.weightSpecs![1]!,
        ],
        weightData: mixed,
      }),
    );
    const uw = u.getWeights();
    expect(Array.from(uw[0]!.dataSync())).toEqual([4, 9, 14, 19, 24, 29]);
    expect(Array.from(uw[1]!.dataSync())).toEqual([Math.fround(0.1), -3.5]);
    for (const w of uw) w.dispose();
    tm.dispose();
  });
});

describe('Keras 3 topologies', () => {
  const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

  /** Specs and bytes for the weights of a tfjs model, named as Keras writes them (layer/role). */
  function weightsOf(tm: TModel): { weightSpecs: sn.LayersWeightSpec[]; weightData: ArrayBuffer } {
    const vals = tm.weights.map((w) => w.read().dataSync() as Float32Array);
    const data = new Float32Array(vals.reduce((a, v) => a + v.length, 0));
    let at = 0;
    for (const v of vals) {
      data.set(v, at);
      at += v.length;
    }
    return {
      weightSpecs: tm.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: 'float32' })),
      weightData: data.buffer,
    };
  }

  it('a Keras 3 functional model (keras_history nodes, dtype policies, batch_shape) predicts as tfjs', () => {
    // The same graph in tfjs-layers under the same names; Keras 3's hard_sigmoid relu6(x+3)/6 applied after.
    const l = L();
    const x = tfl.input({ shape: [8, 8, 3], name: 'input_layer' });
    const c = l.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv2d' }).apply(x) as never;
    const b = l.batchNormalization({ name: 'batch_normalization' }).apply(c) as never;
    const r = l.reLU({ maxValue: 6, name: 're_lu' }).apply(b) as never;
    const d = l
      .depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'depthwise_conv2d' })
      .apply(r) as never;
    const a = l.add({ name: 'add' }).apply([r, d]) as never;
    const k = l.leakyReLU({ alpha: 0.2, name: 'leaky_re_lu' }).apply(a) as never;
    const g = l.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(k) as never;
    const o = l.dense({ units: 3, name: 'dense' }).apply(l.dropout({ rate: 0.25, name: 'dropout' }).apply(g) as never);
    const tm = tfl.model({ inputs: x, outputs: o as never });
    randomizeTfjs(tm, 31);
    const m = track(sn.loadLayersModel({ modelTopology: fixture('keras3-functional.json'), ...weightsOf(tm) }));
    expect(m.layers.map((q) => q.name)).toContain('depthwise_conv2d');
    const xin = input([3, 8, 8, 3], 32);
    const want = tfPredict(tm, xin, [3, 8, 8, 3]).map((v) => Math.min(Math.max(v + 3, 0), 6) / 6);
    expect(relErr(snPredict(m, xin, [3, 8, 8, 3]), want)).toBeLessThan(1e-5);
    tm.dispose();
  });

  it('a Keras 3 Sequential model (InputLayer entry, build_input_shape) predicts as tfjs', () => {
    const l = L();
    const tm = tfl.sequential({
      layers: [
        l.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'conv2d_1' }),
        l.maxPooling2d({ poolSize: 2, name: 'max_pooling2d' }),
        l.flatten({ name: 'flatten' }),
        l.dense({ units: 2, activation: 'softmax', name: 'dense_1' }),
      ],
    });
    randomizeTfjs(tm, 33);
    const m = track(sn.loadLayersModel({ modelTopology: fixture('keras3-sequential.json'), ...weightsOf(tm) }));
    expect(m.isSequential).toBe(true);
    expect(m.inputShape).toEqual([6, 6, 2]);
    const xin = input([4, 6, 6, 2], 34);
    expect(relErr(snPredict(m, xin, [4, 6, 6, 2]), tfPredict(tm, xin, [4, 6, 6, 2]))).toBeLessThan(1e-5);
    tm.dispose();
  });

  it('grouped and dilated convolutions, dilated depthwise, keepdims and Softmax map to the same simdnet layers', () => {
    const k = (class_name: string, config: Record<string, unknown>) => ({ module: 'keras.layers', class_name, config });
    const topo = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'g',
        layers: [
          k('InputLayer', { batch_shape: [null, 9, 9, 4], dtype: 'float32', name: 'in' }),
          k('Conv2D', {
            name: 'grp',
            filters: 6,
            kernel_size: [3, 3],
            groups: 2,
            dilation_rate: [2, 2],
            padding: 'same',
          }),
          k('DepthwiseConv2D', { name: 'dw', kernel_size: [3, 3], dilation_rate: [2, 2], depth_multiplier: 1 }),
          k('GlobalMaxPooling2D', { name: 'gmp', keepdims: true, data_format: 'channels_last' }),
          k('Flatten', { name: 'fl' }),
          k('Softmax', { name: 'sm', axis: -1 }),
        ],
      },
    };
    const l = sn.layers;
    const native = track(
      sn.sequential({
        seed: 8,
        layers: [
          l.conv2d({
            name: 'grp',
            filters: 6,
            kernelSize: 3,
            groups: 2,
            dilationRate: 2,
            padding: 'same',
            inputShape: [9, 9, 4],
          }),
          l.depthwiseConv2d({ name: 'dw', kernelSize: 3, dilationRate: 2 }),
          l.globalMaxPooling2D({ name: 'gmp', keepdims: true }),
          l.flatten({ name: 'fl' }),
          l.softmax({ name: 'sm' }),
        ],
      }),
    );
    native.build();
    const ws = native.layers.flatMap((q) => q.weights);
    for (const w of ws) w.value.view().set(makeRng(w.value.size).fill(w.value.size, -1, 1));
    const data = new Float32Array(ws.reduce((a, w) => a + w.value.size, 0));
    let at = 0;
    for (const w of ws) {
      data.set(w.value.view(), at);
      at += w.value.size;
    }
    const weightSpecs = ws.map((w) => ({ name: w.name, shape: [...w.value.shape], dtype: 'float32' }));
    const m = track(sn.loadLayersModel({ modelTopology: topo, weightSpecs, weightData: data.buffer }));
    expect(m.layers.map((q) => q.getConfig())).toEqual(native.layers.map((q) => q.getConfig()));
    const x = input([2, 9, 9, 4], 51);
    expect(snPredict(m, x, [2, 9, 9, 4])).toEqual(snPredict(native, x, [2, 9, 9, 4]));
  });

  it("Keras 2 / tfjs hard_sigmoid is refused (it is not Keras 3's)", async () => {
    const tm = tfl.sequential({ layers: [L().dense({ inputShape: [3], units: 2, activation: 'hardSigmoid' })] });
    const art = await tfjsArtifacts(tm);
    expect(() => sn.loadLayersModel(art)).toThrow(/hard_sigmoid' of Keras 2/);
    tm.dispose();
  });
});

describe('errors', () => {
  const seqTopology = (layers: unknown[]) => ({ class_name: 'Sequential', config: { name: 's', layers } });
  const entry = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

  it('lists every unsupported layer class and option in one error', () => {
    const topo = seqTopology([
      entry('Conv2D', {
        name: 'c1',
        filters: 2,
        kernel_size: [3, 3],
        batch_input_shape: [null, 8, 8, 1],
        data_format: 'channels_first',
      }),
      entry('Conv3D', { name: 'c3', filters: 2 }),
      entry('LSTM', { name: 'rnn', units: 4 }),
      entry('Dense', { name: 'd', units: 2, activation: 'selu' }),
      entry('Conv2D', { name: 'ok', filters: 2, kernel_size: 3 }),
    ]);
    let msg = '';
    try {
      sn.loadLayersModel({ modelTopology: topo, weightSpecs: [], weightData: new ArrayBuffer(0) });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/4 problems/);
    expect(msg).toMatch(/Conv2D "c1": data_format "channels_first" is not supported/);
    expect(msg).toMatch(/Conv3D "c3": unsupported layer class/);
    expect(msg).toMatch(/LSTM "rnn": unsupported layer class/);
    expect(msg).toMatch(/Dense "d": activation "selu" is not supported/);
    expect(msg).not.toMatch(/"ok"/);
  });

  it('a class_name or activation named after an Object member is an ordinary unsupported one', () => {
    const topo = seqTopology([
      entry('Dense', { name: 'd0', units: 2, batch_input_shape: [null, 4] }),
      entry('constructor', { name: 'a' }),
      entry('__proto__', { name: 'b' }),
      entry('toString', { name: 'c' }),
      entry('hasOwnProperty', { name: 'd' }),
      entry('Dense', { name: 'e', units: 2, activation: 'constructor' }),
      entry('Dense', { name: 'f', units: 2, activation: '__proto__' }),
    ]);
    let msg = '';
    try {
      sn.loadLayersModel({ modelTopology: topo, weightSpecs: [], weightData: new ArrayBuffer(0) });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/6 problems/);
    expect(msg).toMatch(/constructor "a": unsupported layer class/);
    expect(msg).toMatch(/__proto__ "b": unsupported layer class/);
    expect(msg).toMatch(/toString "c": unsupported layer class/);
    expect(msg).toMatch(/hasOwnProperty "d": unsupported layer class/);
    expect(msg).toMatch(/Dense "e": activation "constructor" is not supported/);
    expect(msg).toMatch(/Dense "f": activation "__proto__" is not supported/);
  });

  it('malformed topologies fail with a clear error', () => {
    const bad = (modelTopology: unknown) => () =>
      sn.loadLayersModel({ modelTopology: modelTopology as never, weightSpecs: [], weightData: new ArrayBuffer(0) });
    expect(bad(null)).toThrow(/modelTopology must be an object/);
    expect(bad({ config: {} })).toThrow(/no class_name/);
    expect(bad({ class_name: 'Sequential', config: { layers: [] } })).toThrow(/non-empty "layers"/);
    expect(bad(seqTopology([{ config: {} }]))).toThrow(/a layer entry has no class_name/);
    expect(bad(seqTopology([entry('Dense', { units: 2 })]))).toThrow(/no input shape/);
    expect(bad({ class_name: 'Foo', config: {} })).toThrow(/Sequential, Functional or Model, got "Foo"/);
    const fn = (layers: unknown[], out = ['d', 0, 0]) => ({
      class_name: 'Functional',
      config: { name: 'f', layers, input_layers: [['in', 0, 0]], output_layers: [out] },
    });
    const inp = {
      name: 'in',
      class_name: 'InputLayer',
      config: { batch_input_shape: [null, 4], name: 'in' },
      inbound_nodes: [],
    };
    const dense = (src: string) => ({
      name: 'd',
      class_name: 'Dense',
      config: { name: 'd', units: 2 },
      inbound_nodes: [[[src, 0, 0, {}]]],
    });
    expect(bad(fn([inp, dense('nowhere')]))).toThrow(/takes input from unknown layer "nowhere"/);
    expect(bad(fn([inp, dense('in')], ['d', 3, 0]))).toThrow(/output \["d",3,0\] is not a node/);
    expect(bad(fn([inp, { ...dense('in'), inbound_nodes: 'x' }]))).toThrow(/inbound_nodes must be a list/);
    const unknownSize = { ...inp, config: { batch_input_shape: [null, null, 3], name: 'in' } };
    expect(bad(fn([unknownSize, dense('in')]))).toThrow(/must have fixed positive sizes/);
  });

  it('graph models, nested models and shapes that do not fit say what is wrong', () => {
    const load = (a: unknown) => () => sn.loadLayersModel(a as sn.LayersModelArtifacts);
    expect(load({ format: 'graph-model', modelTopology: { node: [] } })).toThrow(/tfjs graph model/);
    const inner = { class_name: 'Sequential', config: { name: 'inner', layers: [] } };
    expect(
      load({
        modelTopology: seqTopology([
          entry('Flatten', { name: 'f', batch_input_shape: [null, 2, 2, 1] }),
          { ...inner, config: { ...inner.config, name: 'inner' } },
        ]),
      }),
    ).toThrow(/Sequential "inner": nested models are not supported/);
    // Keras' Dense applies to the last axis of any rank; simdnet's needs a Flatten first.
    expect(
      load({ modelTopology: seqTopology([entry('Dense', { name: 'd3', units: 2, batch_input_shape: [null, 4, 3] })]) }),
    ).toThrow(/loadLayersModel: d3: expected input of shape \[features\]/);
  });

  it('weights: missing, unmatched, wrong shape and wrong total size are named', async () => {
    const tm = tfl.sequential({ layers: [L().dense({ inputShape: [3], units: 2, name: 'dd' })] });
    const art = await tfjsArtifacts(tm);
    const [k, b] = art.weightSpecs!;
    const data = art.weightData as ArrayBuffer;
    const load = (weightSpecs: sn.LayersWeightSpec[], weightData: ArrayBuffer) => () =>
      sn.loadLayersModel({ modelTopology: art.modelTopology, weightSpecs, weightData });
    expect(load([k!], data.slice(0, 24))).toThrow(/weight dd\/bias is missing/);
    expect(load([k!, { ...b!, name: 'other/bias' }], data)).toThrow(/weight other\/bias matches no weight/);
    expect(load([{ ...k!, shape: [2, 3] }, b!], data)).toThrow(
      /weight dd\/kernel has shape \[2,3\], the layer needs \[3,2\]/,
    );
    expect(load([k!, b!], data.slice(0, 28))).toThrow(/describe 32 bytes but the weight data has 28/);
    expect(load([k!, { ...b!, dtype: 'string' }], data)).toThrow(/dtype "string"/);
    // Optimizer weights and extra state of other roles are skipped.
    const extra = new Uint8Array(36);
    extra.set(new Uint8Array(data), 0);
    const m = track(
      sn.loadLayersModel({
        modelTopology: art.modelTopology,
        weightSpecs: [k!, b!, { name: 'dropout/seed_generator_state', shape: [1], dtype: 'int32' }],
        weightData: extra,
      }),
    );
    expect(m.countParams()).toBe(8);
    tm.dispose();
  });
});
