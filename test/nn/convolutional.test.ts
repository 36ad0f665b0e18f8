// The convolution layers of src/nn/convolutional.ts in models: Keras shapes and parameter counts,
// build-time errors naming the layer and the shapes, save/load round trips, bit-identical training at
// 1, 2 and 4 threads, and tfjs-layers (tfjs-backend-cpu) as a second forward oracle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng } from '../helpers/check.js';
import { bars, weightArrays, weightsHash } from './fixtures.js';

const L = sn.layers;
beforeAll(async () => {
  await sn.ready();
});
const live: sn.Model[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};

// 8x8x1 -> conv 8x8x4 -> depthwise M=2 8x8x8 -> grouped dilated conv 8x8x4 -> separable s2 3x3x4
// -> transpose s2 6x6x3 -> dense 3.
function convNet(seed: number): sn.Sequential {
  return sn.sequential({
    seed,
    layers: [
      L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
      L.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'relu' }),
      L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, groups: 2, activation: 'tanh' }),
      L.separableConv2d({ filters: 4, kernelSize: 3, strides: 2, depthMultiplier: 1, activation: 'relu' }),
      L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu' }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

describe('convolution layers in a model', () => {
  it("output shapes and parameter counts are Keras'", () => {
    const m = track(convNet(1));
    m.build();
    expect(m.shapes()).toEqual([[8, 8, 4], [8, 8, 8], [8, 8, 4], [3, 3, 4], [6, 6, 3], [108], [3]]);
    // conv 3*3*1*4+4; depthwise 3*3*4*2+8; grouped 3*3*(8/2)*4+4; separable 3*3*4*1 + 1*1*4*4 + 4;
    // transpose 3*3*3*4+3; dense 108*3+3.
    expect(m.layers.map((l) => l.countParams())).toEqual([40, 80, 148, 56, 111, 0, 327]);
    expect(m.layers[1]!.weights.map((w) => [w.name.split('/').pop(), w.value.shape])).toEqual([
      ['depthwise_kernel', [3, 3, 4, 2]],
      ['bias', [8]],
    ]);
    expect(m.layers[3]!.weights.map((w) => [w.name.split('/').pop(), w.value.shape])).toEqual([
      ['depthwise_kernel', [3, 3, 4, 1]],
      ['pointwise_kernel', [1, 1, 4, 4]],
      ['bias', [4]],
    ]);
    expect(m.layers[4]!.weights.map((w) => [w.name.split('/').pop(), w.value.shape])).toEqual([
      ['kernel', [3, 3, 3, 4]],
      ['bias', [3]],
    ]);
    expect(m.layers.map((l) => l.name).slice(0, 5)).toEqual([
      'conv2d',
      'depthwise_conv2d',
      'conv2d_1',
      'separable_conv2d',
      'conv2d_transpose',
    ]);
  });

  it('bad configurations fail at build time naming the layer and the shapes', () => {
    const g = track(
      sn.sequential({
        layers: [L.conv2d({ filters: 4, kernelSize: 3, groups: 4, inputShape: [8, 8, 6], name: 'grp' })],
      }),
    );
    expect(() => g.build()).toThrow(
      /grp: groups = 4 must divide the input channels, got input shape \[8,8,6\] \(6 channels\)/,
    );
    expect(() => L.conv2d({ filters: 6, kernelSize: 3, groups: 4 })).toThrow(
      /Conv2D: filters \(6\) must be divisible by groups \(4\)/,
    );
    expect(() => L.conv2d({ filters: 4, kernelSize: 3, strides: 2, dilationRate: 2 })).toThrow(
      /strides \[2,2\] > 1 cannot be combined with dilationRate \[2,2\]/,
    );
    expect(() => L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 0 })).toThrow(
      /DepthwiseConv2D: depthMultiplier must be a positive integer, got 0/,
    );
    expect(() => L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, outputPadding: 2 })).toThrow(
      /outputPadding \[2,2\] must be non-negative integers smaller than the strides \[2,2\]/,
    );
    const d = track(
      sn.sequential({
        layers: [L.depthwiseConv2d({ kernelSize: 5, dilationRate: 2, inputShape: [6, 6, 3], name: 'dw' })],
      }),
    );
    expect(() => d.build()).toThrow(/dw: a 9x9 window .* does not fit a 6x6 input/);
    const r = track(
      sn.sequential({ layers: [L.separableConv2d({ filters: 2, kernelSize: 3, inputShape: [6, 6], name: 'sep' })] }),
    );
    expect(() => r.build()).toThrow(
      /sep: expected input of shape \[height, width, channels\] \(without batch\), got \[6,6\]/,
    );
  });

  it('save -> load: bit-identical predictions and weights', () => {
    const m = track(convNet(3));
    m.build();
    const x = makeRng(4).fill(5 * 64, -1, 1);
    const p = m.predict({ data: Float32Array.from(x), shape: [5, 8, 8, 1] });
    const loaded = track(sn.loadModel(m.save()));
    const q = loaded.predict({ data: Float32Array.from(x), shape: [5, 8, 8, 1] });
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
    expect(weightsHash(loaded)).toBe(weightsHash(m));
    expect(loaded.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
    p.dispose();
    q.dispose();
  });
});

describe('determinism across thread counts', () => {
  const data = bars(96, 12);
  async function train(threads: number): Promise<string> {
    await sn.setThreads(threads);
    const m = track(convNet(7));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(data.x, data.labels, { epochs: 1, batchSize: 12, verbose: 0 });
    return weightsHash(m);
  }
  afterAll(async () => {
    await sn.setThreads(2);
  });

  it('identical weights after 8 Adam steps with 1, 2 and 4 threads', async () => {
    const one = await train(1);
    expect(await train(2)).toBe(one);
    expect(await train(4)).toBe(one);
    const init = track(convNet(7));
    init.build();
    expect(weightsHash(init)).not.toBe(one);
  });

  it('batch-1 predictions (row-split depthwise, pixel-split conv) match batched ones bit for bit', async () => {
    await sn.setThreads(2);
    const m = track(convNet(8));
    m.build();
    const x = Float32Array.from(makeRng(2).fill(3 * 64, -1, 1));
    const all = m.predict({ data: x, shape: [3, 8, 8, 1] });
    for (let i = 0; i < 3; i++) {
      const one = m.predict({ data: x.slice(i * 64, (i + 1) * 64), shape: [1, 8, 8, 1] });
      expect(Array.from(one.dataSync())).toEqual(Array.from(all.dataSync().subarray(i * 3, i * 3 + 3)));
      one.dispose();
    }
    all.dispose();
  });
});

describe('tfjs-layers (tfjs-backend-cpu) as a second oracle', () => {
  let tf: typeof import('@tensorflow/tfjs-core');
  let tfl: typeof import('@tensorflow/tfjs-layers');
  beforeAll(async () => {
    tf = await import('@tensorflow/tfjs-core');
    tfl = await import('@tensorflow/tfjs-layers');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  });

  // The same layer in both libraries with simdnet's weights; forward outputs compared.
  function compare(ours: sn.Layer, theirs: (inputShape: number[]) => unknown, inShape: number[], n = 2): void {
    ours.inputShape = [...inShape];
    const m = track(sn.sequential({ seed: 5, layers: [ours] }));
    m.build();
    const x = Float32Array.from(
      makeRng(inShape.length * 100 + inShape[2]!).fill(n * inShape.reduce((a, b) => a * b, 1), -1, 1),
    );
    const y = m.predict({ data: x, shape: [n, ...inShape] });
    const tm = tfl.sequential({ layers: [theirs(inShape) as never] });
    const ws = weightArrays(m);
    expect(tm.getWeights().map((w) => w.shape)).toEqual(
      m.getWeights().map((w) => {
        const s = [...w.shape];
        w.dispose();
        return s;
      }),
    );
    tm.setWeights(ws.map((w, i) => tf.tensor(w, tm.getWeights()[i]!.shape)));
    const ty = tm.predict(tf.tensor(x, [n, ...inShape])) as import('@tensorflow/tfjs-core').Tensor;
    expect(y.shape).toEqual(ty.shape);
    expectClose(y.dataSync(), ty.dataSync() as Float32Array, { atol: 2e-5, rtol: 1e-5, label: ours.className });
    y.dispose();
    ty.dispose();
  }

  it('depthwiseConv2d: 3x3 / 5x5, strides 1 and 2, same and valid, depth multipliers 1 and 2', () => {
    for (const [k, s, p, M, C] of [
      [3, 1, 'same', 1, 17],
      [5, 2, 'same', 2, 5],
      [3, 2, 'valid', 1, 32],
      [3, 1, 'valid', 2, 3],
    ] as const) {
      compare(
        L.depthwiseConv2d({ kernelSize: k, strides: s, padding: p, depthMultiplier: M, biasInitializer: 'heUniform' }),
        (inputShape) =>
          tfl.layers.depthwiseConv2d({ inputShape, kernelSize: k, strides: s, padding: p, depthMultiplier: M }),
        [9, 10, C],
      );
    }
  });

  // tfjs-layers' DepthwiseConv2D drops dilationRate (its output shape is the undilated one), so the
  // dilated cases are checked against tfjs-core's ops.
  it('depthwiseConv2d and conv2d with dilation: against tf.depthwiseConv2d / tf.conv2d', () => {
    const x = Float32Array.from(makeRng(31).fill(2 * 10 * 11 * 6, -1, 1));
    const cases = [
      {
        ours: L.depthwiseConv2d({
          kernelSize: 3,
          padding: 'same',
          dilationRate: 2,
          depthMultiplier: 2,
          inputShape: [10, 11, 6],
        }),
        theirs: (xt: never, w: never) => tf.depthwiseConv2d(xt, w, 1, 'same', 'NHWC', 2),
      },
      {
        ours: L.depthwiseConv2d({
          kernelSize: [3, 2],
          padding: 'valid',
          dilationRate: [2, 3],
          inputShape: [10, 11, 6],
        }),
        theirs: (xt: never, w: never) => tf.depthwiseConv2d(xt, w, 1, 'valid', 'NHWC', [2, 3]),
      },
      {
        ours: L.conv2d({ filters: 5, kernelSize: 3, padding: 'same', dilationRate: [2, 3], inputShape: [10, 11, 6] }),
        theirs: (xt: never, w: never) => tf.conv2d(xt, w, 1, 'same', 'NHWC', [2, 3]),
      },
    ];
    for (const c of cases) {
      const m = track(sn.sequential({ seed: 6, layers: [c.ours] }));
      m.build();
      const [w, b] = weightArrays(m);
      const y = m.predict({ data: x, shape: [2, 10, 11, 6] });
      const wShape = [...c.ours.weights[0]!.value.shape];
      const ty = tf.add(c.theirs(tf.tensor(x, [2, 10, 11, 6]) as never, tf.tensor(w!, wShape) as never), tf.tensor(b!));
      expect(y.shape).toEqual(ty.shape);
      expectClose(y.dataSync(), ty.dataSync() as Float32Array, { atol: 2e-5, rtol: 1e-5, label: c.ours.className });
      y.dispose();
      ty.dispose();
    }
  });

  it('separableConv2d', () => {
    compare(
      L.separableConv2d({
        filters: 7,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        depthMultiplier: 2,
        biasInitializer: 'heUniform',
      }),
      (inputShape) =>
        tfl.layers.separableConv2d({
          inputShape,
          filters: 7,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          depthMultiplier: 2,
        }),
      [9, 9, 5],
    );
  });

  it('conv2dTranspose: strides 1 and 2, same and valid, kernel smaller than the stride', () => {
    for (const [k, s, p] of [
      [3, 2, 'same'],
      [3, 2, 'valid'],
      [4, 2, 'same'],
      [2, 3, 'valid'],
      [3, 1, 'same'],
      [5, 2, 'valid'],
    ] as const) {
      compare(
        L.conv2dTranspose({ filters: 6, kernelSize: k, strides: s, padding: p, biasInitializer: 'heUniform' }),
        (inputShape) => tfl.layers.conv2dTranspose({ inputShape, filters: 6, kernelSize: k, strides: s, padding: p }),
        [5, 4, 3],
      );
    }
  });
});
