// The Keras/tfjs weight API of a layer (getWeights, setWeights, trainableWeights, nonTrainableWeights),
// getLayer by a PyTorch state_dict key on an imported ONNX model, that model fine-tuned from its logits
// with no change to its graph, and a frozen BatchNormalization normalizing with its moving statistics in fit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { FIXTURES } from '../onnx/fixtures.js';

await sn.ready();

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M): M => {
  live.push(m);
  return m;
};
afterEach(() => {
  for (const m of live.splice(0)) m.dispose();
});

const L = sn.layers;
const data = (n: number, shape: number[], seed: number) => ({
  data: Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(0.37 * i + seed)),
  shape: [n, ...shape],
});
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

/** conv → BN → flatten → dense (logits), built. */
function small() {
  const conv = L.conv2d({ filters: 2, kernelSize: 3, inputShape: [4, 4, 1], name: 'conv' });
  const bn = L.batchNormalization({ name: 'bn' });
  const dense = L.dense({ units: 3, name: 'top' });
  const m = track(new sn.Sequential({ seed: 2, layers: [conv, bn, L.flatten({ name: 'flat' }), dense] }));
  m.build();
  return { m, conv, bn, dense };
}

describe('layer weight API', () => {
  it('getWeights: parameters then state, as Keras; trainable and non-trainable lists follow trainable', () => {
    const { m, bn, dense } = small();
    expect(bn.getWeights().map((t) => t.shape)).toEqual([[2], [2], [2], [2]]);
    expect(bn.getWeights().map((t) => Array.from(t.dataSync()))).toEqual([
      [1, 1],
      [0, 0],
      [0, 0],
      [1, 1],
    ]);
    expect(bn.trainableWeights.map((w) => w.name)).toEqual(['bn/gamma', 'bn/beta']);
    expect(bn.nonTrainableWeights.map((w) => [w.name, w.trainable])).toEqual([
      ['bn/moving_mean', false],
      ['bn/moving_variance', false],
    ]);
    expect(dense.trainableWeights.map((w) => [w.name, w.shape, w.trainable])).toEqual([
      ['top/kernel', [8, 3], true],
      ['top/bias', [3], true],
    ]);
    bn.trainable = false;
    expect(bn.trainableWeights).toEqual([]);
    expect(bn.nonTrainableWeights.map((w) => w.name)).toEqual([
      'bn/gamma',
      'bn/beta',
      'bn/moving_mean',
      'bn/moving_variance',
    ]);
    // Frozen or not, getWeights keeps its order; model.getWeights is the layers' lists in turn.
    expect(bn.getWeights().map((t) => Array.from(t.dataSync()))[3]).toEqual([1, 1]);
    expect(m.getWeights().length).toBe(2 + 4 + 2);
    expect(L.flatten().getWeights()).toEqual([]);
  });

  it('setWeights replaces the values (predict sees them), checks every shape before writing, and names what is wrong', () => {
    const { m, dense } = small();
    const x = data(2, [4, 4, 1], 1);
    const before = m.predict(x).dataSync().slice();
    const kernel = seq(24, (i) => 0.01 * i - 0.1),
      bias = seq(3, (i) => i);
    // A zero kernel leaves the bias: predict (through its folded plan) sees the new values.
    dense.setWeights([new Float32Array(24), bias]);
    expect(Array.from(m.predict(x).dataSync())).toEqual([0, 1, 2, 0, 1, 2]);
    dense.setWeights([sn.tensor(kernel, [8, 3]), bias]);
    expect(Array.from(dense.getWeights()[0].dataSync())).toEqual(Array.from(kernel));
    expect(Array.from(dense.getWeights()[1].dataSync())).toEqual([0, 1, 2]);
    expect(m.predict(x).dataSync()).not.toEqual(before);
    expect(() =>
      dense.setWeights([
        sn.tensor(kernel, [8, 3]),
        sn.tensor(
          seq(3, () => 7),
          [1, 3],
        ),
      ]),
    ).toThrow('top.setWeights: layer top: weight top/bias has shape [3], got [1,3]');
    // Nothing was written: the bias is still the one set above.
    expect(Array.from(dense.getWeights()[1].dataSync())).toEqual([0, 1, 2]);
    expect(() => dense.setWeights([kernel])).toThrow(
      'top.setWeights: layer top has 2 weights (top/kernel, top/bias), got 1',
    );
    expect(() => dense.setWeights([seq(5, () => 0), bias])).toThrow(
      'top.setWeights: layer top: weight top/kernel has shape [8,3] and needs a Tensor of that shape or 24 float32 values, got 5 values',
    );
    const w = dense.trainableWeights[1];
    w.write(seq(3, () => -1));
    expect(Array.from(w.read().dataSync())).toEqual([-1, -1, -1]);
    expect(() => w.write(sn.tensor([1, 2], [2]))).toThrow(
      'top/bias.write: layer top: weight top/bias has shape [3], got [2]',
    );
    const unbuilt = L.dense({ units: 2, name: 'later' });
    expect(unbuilt.getWeights()).toEqual([]);
    expect(() => unbuilt.setWeights([])).toThrow('later.setWeights: the layer is not built yet');
  });
});

describe('frozen BatchNormalization (trainable = false)', () => {
  it('normalizes with its moving statistics in fit, as Keras 3; unfrozen it uses the batch statistics', () => {
    const { m, bn } = small();
    bn.setWeights([seq(2, (i) => 1.5 - i), seq(2, (i) => 0.2 * i), seq(2, (i) => 0.3 - 0.5 * i), seq(2, (i) => 2 + i)]);
    m.compile({
      optimizer: new sn.SGD({ learningRate: 0.1 }),
      loss: 'sparseCategoricalCrossentropy',
      fromLogits: true,
    });
    const x = data(6, [4, 4, 1], 4),
      y = { data: seq(6, (i) => i % 3), shape: [6] };
    // With no dropout, a training step's loss is the inference loss exactly when BN uses its moving statistics.
    const inference = m.evaluate(x, y, { batchSize: 6 })[0];
    expect(m.trainOnBatch(x, y)[0]).not.toBe(inference);
    bn.setWeights([seq(2, (i) => 1.5 - i), seq(2, (i) => 0.2 * i), seq(2, (i) => 0.3 - 0.5 * i), seq(2, (i) => 2 + i)]);
    bn.trainable = false;
    const frozen = m.evaluate(x, y, { batchSize: 6 })[0];
    const stats = bn.getWeights().map((t) => Array.from(t.dataSync()));
    expect(m.trainOnBatch(x, y)[0]).toBe(frozen);
    // Its moving statistics and parameters do not move.
    expect(bn.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(stats);
  });
});

describe("BatchNormalization's running variance as PyTorch (unbiasedMovingVariance)", () => {
  it('x=[3,2,2,2] momentum 0.9: the moving statistics against float64, unbiased and biased; the output is the same', () => {
    const C = 2,
      n = 12;
    const x = seq(n * C, (i) => Math.sin(1.1 * i + 0.4) * (1 + (i % C)));
    const old = { mean: [0.2, -0.1], variance: [1.5, 0.7] };
    const outs: ArrayLike<number>[] = [];
    for (const unbiased of [true, false]) {
      sn.tidy(() => {
        const mm = sn.tensor(old.mean, [C]),
          mv = sn.tensor(old.variance, [C]);
        const y = sn.batchNorm(sn.tensor(x, [3, 2, 2, C]), {
          training: true,
          momentum: 0.9,
          movingMean: mm,
          movingVariance: mv,
          epsilon: 1e-5,
          unbiasedMovingVariance: unbiased,
        });
        outs.push(y.dataSync().slice());
        for (let c = 0; c < C; c++) {
          let m = 0;
          for (let r = 0; r < n; r++) m += x[r * C + c] / n;
          let ss = 0;
          for (let r = 0; r < n; r++) ss += (x[r * C + c] - m) ** 2;
          const v = ss / (unbiased ? n - 1 : n);
          const wantMean = 0.9 * old.mean[c] + 0.1 * m,
            wantVar = 0.9 * old.variance[c] + 0.1 * v;
          expect(Math.abs(mm.dataSync()[c] - wantMean)).toBeLessThan(1e-6);
          expect(Math.abs(mv.dataSync()[c] - wantVar) / wantVar, `variance ${c}, unbiased ${unbiased}`).toBeLessThan(
            1e-6,
          );
        }
      });
    }
    expect(outs[0]).toEqual(outs[1]);
  });

  it('ONNX import sets it (PyTorch exports momentum 0.1 as 0.9); it is saved only when set', async () => {
    const m = track(await sn.loadONNX(new Uint8Array(readFileSync(join(FIXTURES, 'mnist_cnn.onnx')))));
    const bn = m.getLayer('features.1.weight');
    expect(bn.getConfig()).toMatchObject({ unbiasedMovingVariance: true, momentum: Math.fround(0.9) });
    const back = track(sn.loadModel(m.save()));
    expect(back.getLayer(bn.name).getConfig()).toMatchObject({ unbiasedMovingVariance: true });
    expect(L.batchNormalization().getConfig()).not.toHaveProperty('unbiasedMovingVariance');
    expect(() => L.batchNormalization({ unbiasedMovingVariance: 1 as never })).toThrow(
      'BatchNormalization: unbiasedMovingVariance must be true or false, got 1',
    );
  });
});

describe('an imported PyTorch classifier (mnist_cnn.onnx: conv, BN, pool, dense; ends in logits)', () => {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'mnist_cnn.onnx')));

  it('getLayer finds a layer by its state_dict key; its weights carry the initializer names', async () => {
    const m = track(await sn.loadONNX(bytes));
    const bn = m.getLayer('features.1.running_mean');
    expect(bn.className).toBe('BatchNormalization');
    expect(m.getLayer('features.1.weight')).toBe(bn);
    expect(m.getLayer(bn.name)).toBe(bn);
    expect(bn.trainableWeights.map((w) => w.sourceName)).toEqual(['features.1.weight', 'features.1.bias']);
    expect(bn.nonTrainableWeights.map((w) => w.sourceName)).toEqual([
      'features.1.running_mean',
      'features.1.running_var',
    ]);
    const conv = m.getLayer('features.0.weight');
    expect(conv.trainableWeights.map((w) => w.sourceName)).toEqual(['features.0.weight', 'features.0.bias']);
    expect(() => m.getLayer('features.99.weight')).toThrow(/getLayer: no layer named "features.99.weight"/);
  });

  it("MobileNetV2's head is found by 'classifier.1.weight' and its BN by 'features.1.conv.0.1.running_var'", async () => {
    const m = track(await sn.loadONNX(new Uint8Array(readFileSync(join(FIXTURES, 'mobilenet_v2_w35.onnx')))));
    const head = m.getLayer('classifier.1.weight');
    expect(head.className).toBe('Dense');
    expect(head.trainableWeights.map((w) => w.sourceName)).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    expect(m.getLayer('features.1.conv.0.1.running_var').className).toBe('BatchNormalization');
    for (const l of m.layers) l.trainable = false;
    head.trainable = true;
    expect(m.countTrainableParams()).toBe(head.countParams());
  });

  it('compiles with fromLogits and fine-tunes with no change to its graph; evaluate is the float64 loss of predict', async () => {
    const m = track(await sn.loadONNX(bytes));
    const layers = m.layers.length;
    m.compile({
      optimizer: new sn.SGD({ learningRate: 0.05 }),
      loss: new sn.losses.SparseCategoricalCrossentropy({ fromLogits: true }),
      metrics: ['accuracy'],
    });
    const n = 8;
    const x = data(n, [1, 28, 28], 9),
      y = { data: seq(n, (i) => (i * 3) % 10), shape: [n] };
    const z = m.predict(x).dataSync();
    let want = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(z.subarray(i * 10, i * 10 + 10));
      const mx = Math.max(...row);
      want -= row[y.data[i]] - mx - Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    }
    const [loss] = m.evaluate(x, y);
    expect(Math.abs(loss - want / n) / (want / n)).toBeLessThan(1e-5);
    const h = await m.fit(x, y, { epochs: 6, batchSize: n, verbose: 0 });
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
    expect(m.evaluate(x, y)[0]).toBeLessThan(loss);
    expect(m.layers.length).toBe(layers);
  });
});
