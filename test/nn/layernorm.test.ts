// The LayerNormalization layer: forward against tfjs-layers' layerNormalization on the CPU backend (an
// independent oracle) with trained-looking gamma and beta, for the channel axis and the whole sample;
// weight shapes, config round trip through the registry, a training step and save / load with the same
// predictions; export to ONNX (run by onnxruntime-node) and to tfjs-layers (loaded by tfjs-layers);
// errors that name the layer and the axis.
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { createLayer } from '../../src/nn/registry.js';
import { expectClose, makeRng } from '../helpers/check.js';
import { runOrt } from '../onnx/fixtures.js';

beforeAll(async () => {
  await sn.ready();
  await tfc.setBackend('cpu');
});

const INPUT = [4, 5, 6];

describe('LayerNormalization', () => {
  for (const axis of [-1, [1, 2, 3], [-2, -1]] as const) {
    it(`axis=${JSON.stringify(axis)} matches tfjs-layers with the same gamma and beta`, () => {
      const rng = makeRng(17);
      const n = 3 * INPUT.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: n }, () => rng.uniform(-1, 3));
      const ln = new sn.LayerNormalization({ axis: axis as number | number[], epsilon: 1e-3, inputShape: INPUT });
      const m = sn.sequential({ layers: [ln] });
      m.build();
      const [g, b] = ln.weights.map((w) => w.value);
      const gv = Float32Array.from({ length: g!.size }, () => rng.uniform(0.5, 1.5));
      const bv = Float32Array.from({ length: b!.size }, () => rng.uniform(-0.5, 0.5));
      g!.view().set(gv);
      b!.view().set(bv);
      const y = m.predict(sn.tensor(x, [3, ...INPUT])) as sn.Tensor;
      const tl = tfl.layers.layerNormalization({ axis: axis as number | number[], epsilon: 1e-3 });
      const ty = tl.apply(tfc.tensor(x, [3, ...INPUT])) as tfc.Tensor;
      tl.setWeights([tfc.tensor(gv, [...g!.shape]), tfc.tensor(bv, [...b!.shape])]);
      const want = (tl.apply(tfc.tensor(x, [3, ...INPUT])) as tfc.Tensor).dataSync() as Float32Array;
      ty.dispose();
      expect(y.shape).toEqual([3, ...INPUT]);
      expectClose(y.dataSync(), want, { atol: 1e-5, rtol: 1e-5, label: `LayerNormalization axis ${axis}` });
      m.dispose();
    });
  }

  it('weights have the normalized axes shape; config round trip through the registry', () => {
    const ln = new sn.LayerNormalization({ axis: [-2, -1], center: false });
    expect(ln.weightShapes(INPUT)).toEqual([['gamma', [5, 6]]]);
    expect(ln.defaultName).toBe('layer_normalization');
    const copy = createLayer('LayerNormalization', ln.getConfig(), 'test');
    expect(copy.getConfig()).toEqual(ln.getConfig());
  });

  it('trains (the loss falls) and saves / loads with bit-identical predictions', async () => {
    const m = sn.sequential({
      layers: [
        sn.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [6, 6, 2] }),
        new sn.LayerNormalization({}),
        sn.layers.flatten(),
        sn.layers.dense({ units: 3, activation: 'softmax' }),
      ],
      seed: 3,
    });
    m.compile({ optimizer: new sn.Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const rng = makeRng(5);
    const x = sn.tensor(
      Float32Array.from({ length: 8 * 72 }, () => rng.uniform(0, 1)),
      [8, 6, 6, 2],
    );
    const y = sn.tensor(
      Float32Array.from({ length: 8 }, (_, i) => i % 3),
      [8],
    );
    const first = m.trainOnBatch(x, y)[0]!;
    let last = first;
    for (let i = 0; i < 20; i++) last = m.trainOnBatch(x, y)[0]!;
    expect(last).toBeLessThan(first);
    const again = sn.loadModel(m.save());
    const a = (m.predict(x) as sn.Tensor).dataSync();
    const b = (again.predict(x) as sn.Tensor).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    m.dispose();
    again.dispose();
  });

  // A small CNN with LayerNormalization over the channels and over the whole [H, W, C] sample.
  const cnn = (seed: number) => {
    const rng = makeRng(seed);
    const m = sn.sequential({
      layers: [
        sn.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [7, 6, 2] }),
        new sn.LayerNormalization({}),
        sn.layers.conv2d({ filters: 3, kernelSize: 2 }),
        new sn.LayerNormalization({ axis: [1, 2, 3], epsilon: 1e-5 }),
        sn.layers.flatten(),
        sn.layers.dense({ units: 5 }),
      ],
      seed,
    });
    m.build();
    for (const l of m.layers)
      for (const w of l.weights) w.value.view().set(w.value.dataSync().map(() => rng.uniform(-1, 1)));
    const x = Float32Array.from({ length: 3 * 84 }, () => rng.uniform(-2, 2));
    return { m, x, shape: [3, 7, 6, 2] };
  };

  it('exports to ONNX (opset 13 pattern) and onnxruntime-node gives the same predictions', async () => {
    const { m, x, shape } = cnn(31);
    const want = (m.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync();
    const got = await runOrt(await sn.toONNX(m), x, shape);
    expectClose(got, want, { atol: 1e-5, rtol: 1e-5, label: 'onnxruntime vs simdnet' });
    m.dispose();
  });

  it('saves as tfjs-layers; tfjs-layers and simdnet load it with the same predictions', async () => {
    const { m, x, shape } = cnn(32);
    const want = (m.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync();
    const art = sn.saveLayersModel(m);
    const back = sn.loadLayersModel(art);
    expect(Array.from((back.predict(sn.tensor(x, shape)) as sn.Tensor).dataSync())).toEqual(Array.from(want));
    const t = await tfl.loadLayersModel(tfc.io.fromMemory(art as never));
    const ty = t.predict(tfc.tensor(x, shape)) as tfc.Tensor;
    expectClose(ty.dataSync() as Float32Array, want, { atol: 1e-5, rtol: 1e-5, label: 'tfjs-layers vs simdnet' });
    m.dispose();
    back.dispose();
  });

  it('bad options and axes name the layer', () => {
    expect(() => new sn.LayerNormalization({ epsilon: -1 })).toThrow(
      /LayerNormalization: epsilon must be a positive number/,
    );
    expect(() => new sn.LayerNormalization({ axis: [] })).toThrow(/axis must be an integer or a non-empty list/);
    const ln = new sn.LayerNormalization({ axis: 1, name: 'ln' });
    expect(() => ln.computeOutputShape(INPUT)).toThrow(
      /ln: axis 1 must name the trailing non-batch axes of input \[None, 4,5,6\]/,
    );
  });
});
