// Cross-entropy from logits: compile({ fromLogits }) and Keras' loss objects train a model that ends in
// logits exactly as the same model ending in softmax (the same fused kernel); the binary loss on
// logits against its float64 reference; the tfjs-style functions of sn.losses against float64 and
// finite differences; accuracy on logits; the refusals.
import { afterEach, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, numericGrad } from '../helpers/check.js';
import * as ref from '../ref/act.js';
import { bceLogits } from '../ref/loss.js';

await sn.ready();

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M): M => {
  live.push(m);
  return m;
};
afterEach(() => {
  for (const m of live.splice(0)) m.dispose();
});

const N = 12,
  D = 5,
  K = 4;
const X = { data: Float32Array.from({ length: N * D }, (_, i) => Math.sin(1.3 * i + 0.2)), shape: [N, D] };
const labels = Float32Array.from({ length: N }, (_, i) => (i * 7) % K);
const sparseY = { data: labels, shape: [N] };
const oneHotY = {
  data: Float32Array.from({ length: N * K }, (_, i) => (labels[Math.floor(i / K)] === i % K ? 1 : 0)),
  shape: [N, K],
};

/** A tiny classifier; with `softmax` false it outputs logits. The same seed gives the same weights. */
function classifier(softmax: boolean, units = K) {
  return track(
    new sn.Sequential({
      seed: 3,
      layers: [
        sn.layers.dense({ units: 8, activation: 'tanh', inputShape: [D] }),
        sn.layers.dense({ units, activation: softmax ? (units === 1 ? 'sigmoid' : 'softmax') : 'linear' }),
      ],
    }),
  );
}

const flat = (m: sn.Model) => m.getWeights().flatMap((t) => Array.from(t.dataSync()));

describe('fromLogits: a model ending in logits trains as the same model ending in softmax', () => {
  const cases: Array<[string, (fromLogits: boolean) => sn.CompileArgs['loss'], typeof sparseY]> = [
    ['sparseCategoricalCrossentropy, compile option', () => 'sparseCategoricalCrossentropy', sparseY],
    ['categoricalCrossentropy, compile option', () => 'categoricalCrossentropy', oneHotY],
    [
      'SparseCategoricalCrossentropy object',
      (fromLogits) => new sn.losses.SparseCategoricalCrossentropy({ fromLogits }),
      sparseY,
    ],
    [
      'CategoricalCrossentropy object, labelSmoothing 0.1',
      (fromLogits) => new sn.losses.CategoricalCrossentropy({ fromLogits, labelSmoothing: 0.1 }),
      oneHotY,
    ],
  ];
  for (const [name, loss, Y] of cases) {
    it(`${name}: the same losses, accuracies and weights, bit for bit`, async () => {
      const probs = classifier(true),
        logits = classifier(false);
      const l0 = loss(false),
        l1 = loss(true);
      const opt = () => new sn.SGD({ learningRate: 0.3 });
      probs.compile({ optimizer: opt(), loss: l0, metrics: ['accuracy'] });
      logits.compile({
        optimizer: opt(),
        loss: l1,
        metrics: ['accuracy'],
        ...(typeof l1 === 'string' ? { fromLogits: true } : {}),
      });
      expect(logits.fromLogits).toBe(true);
      const fit = { epochs: 3, batchSize: 4, seed: 5, verbose: 0 };
      const [h0, h1] = [await probs.fit(X, Y, fit), await logits.fit(X, Y, fit)];
      expect(h1.history.loss).toEqual(h0.history.loss);
      expect(h1.history.accuracy).toEqual(h0.history.accuracy);
      expect(h0.history.loss[2]).toBeLessThan(h0.history.loss[0]);
      expect(flat(logits)).toEqual(flat(probs));
      expect(logits.evaluate(X, Y)).toEqual(probs.evaluate(X, Y));
      expect(logits.trainOnBatch(X, Y)).toEqual(probs.trainOnBatch(X, Y));
    });
  }

  it('binaryCrossentropy from logits: the float64 loss and gradient of sigmoid cross-entropy; accuracy as on probabilities', () => {
    const Y = { data: Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0)), shape: [N, 1] };
    const logits = classifier(false, 1),
      probs = classifier(true, 1);
    logits.compile({
      optimizer: new sn.SGD({ learningRate: 1 }),
      loss: new sn.losses.BinaryCrossentropy({ fromLogits: true }),
      metrics: ['binaryAccuracy'],
    });
    probs.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const z = logits.predict(X);
    const want = bceLogits(z.dataSync(), Y.data);
    z.dispose();
    const [loss, acc] = logits.evaluate(X, Y);
    expect(Math.abs(loss - want.loss)).toBeLessThan(1e-6);
    // Probabilities away from the clip: the clipped loss on sigmoid outputs is the same number.
    const [pl, pacc] = probs.evaluate(X, Y);
    expect(Math.abs(pl - loss)).toBeLessThan(1e-5);
    expect(acc).toBe(pacc);
    // SGD with lr 1: the bias moves by minus its gradient, the mean of sigmoid(z) - y.
    const b0 = logits.getWeights()[3].dataSync()[0];
    logits.trainOnBatch(X, Y);
    const db = want.dp.reduce((a, v) => a + v, 0);
    expect(Math.abs(b0 - logits.getWeights()[3].dataSync()[0] - db)).toBeLessThan(1e-6);
  });

  it('binary label smoothing trains against (1 - a) y + a / 2 and keeps the accuracy of the labels', () => {
    const Y = { data: Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0)), shape: [N, 1] };
    const a = 0.2;
    const m = classifier(false, 1);
    m.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', fromLogits: true, labelSmoothing: a });
    const plain = classifier(false, 1);
    plain.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', fromLogits: true });
    const z = m.predict(X);
    const want = bceLogits(
      z.dataSync(),
      Y.data.map((v) => v * (1 - a) + a / 2),
    );
    z.dispose();
    const [loss, acc] = m.evaluate(X, Y);
    expect(Math.abs(loss - want.loss)).toBeLessThan(1e-6);
    expect(acc).toBe(plain.evaluate(X, Y)[1]);
  });
});

describe('fromLogits is saved with the model', () => {
  it('save → load keeps it and resumes bit for bit; a model without it writes no key', async () => {
    const m = classifier(false);
    m.compile({
      optimizer: new sn.SGD({ learningRate: 0.2 }),
      loss: 'sparseCategoricalCrossentropy',
      fromLogits: true,
    });
    await m.fit(X, sparseY, { epochs: 1, batchSize: 4, verbose: 0 });
    const back = track(sn.loadModel(m.save()));
    expect(back.fromLogits).toBe(true);
    expect(back.trainOnBatch(X, sparseY)).toEqual(m.trainOnBatch(X, sparseY));
    expect(flat(back)).toEqual(flat(m));
    const plain = classifier(true);
    plain.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    expect(new TextDecoder().decode(new Uint8Array(plain.save()).subarray(16, 2000))).not.toContain('fromLogits');
  });
});

describe('compile refuses what fromLogits cannot mean', () => {
  it('names the option, the layer or the loss', () => {
    const soft = classifier(true);
    expect(() => soft.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', fromLogits: true })).toThrow(
      /fromLogits is true but the last layer dense_1 ends with a softmax/,
    );
    const lin = classifier(false);
    expect(() => lin.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' })).toThrow(
      /compiles with fromLogits: true/,
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: 'meanSquaredError', fromLogits: true })).toThrow(
      'compile: fromLogits applies to the cross-entropies only, not to meanSquaredError',
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', fromLogits: 1 as never })).toThrow(
      'compile: fromLogits must be true or false, got 1',
    );
    const obj = new sn.losses.SparseCategoricalCrossentropy({ fromLogits: true, labelSmoothing: 0.1 });
    expect(() => lin.compile({ optimizer: 'sgd', loss: obj, labelSmoothing: 0.2 })).toThrow(
      "compile: labelSmoothing 0.2 differs from the loss object's 0.1; give it once",
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: obj, fromLogits: false })).toThrow(
      "compile: fromLogits false differs from the loss object's true; give it once",
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: obj, metrics: ['categoricalAccuracy'] })).toThrow(
      "compile: metric 'categoricalAccuracy' goes with categoricalCrossentropy, not with sparseCategoricalCrossentropy",
    );
    lin.compile({ optimizer: 'sgd', loss: obj, metrics: ['sparseCategoricalAccuracy'] });
    expect([lin.loss, lin.fromLogits, lin.labelSmoothing, lin.metrics]).toEqual([
      'sparseCategoricalCrossentropy',
      true,
      0.1,
      ['accuracy'],
    ]);
    expect(() => new sn.losses.BinaryCrossentropy({ fromLogit: true } as never)).toThrow(
      'BinaryCrossentropy: unknown option "fromLogit" (known: fromLogits, labelSmoothing)',
    );
    expect(() => new sn.losses.MeanSquaredError({ fromLogits: true } as never)).toThrow(
      'MeanSquaredError: takes no options',
    );
  });
});

describe('sn.losses functions (tf.losses style)', () => {
  const R = 5,
    C = 6;
  const z = Float32Array.from({ length: R * C }, (_, i) => 3 * Math.sin(2.1 * i + 1));
  const cls = [2, 0, 5, 3, 3];
  const hot = Float32Array.from({ length: R * C }, (_, i) => (cls[Math.floor(i / C)] === i % C ? 1 : 0));

  it(`softmaxCrossEntropy and sparseSoftmaxCrossEntropy x=[${R},${C}]: the float64 loss and gradient, checked by finite differences`, () => {
    const want = ref.softmaxCrossEntropy(z, hot, R, C);
    const num = numericGrad((q) => ref.softmaxCrossEntropy(q, hot, R, C).loss, Float64Array.from(z));
    expectClose(want.dlogits, num, { atol: 1e-8, rtol: 1e-5, label: 'reference gradient' });
    sn.tidy(() => {
      const zt = sn.tensor(z, [R, C]);
      for (const f of [
        (q: sn.Tensor) => sn.losses.softmaxCrossEntropy(sn.tensor(hot, [R, C]), q),
        (q: sn.Tensor) => sn.losses.sparseSoftmaxCrossEntropy(sn.tensor(Float32Array.from(cls), [R]), q),
        (q: sn.Tensor) =>
          new sn.losses.SparseCategoricalCrossentropy({ fromLogits: true }).call(
            sn.tensor(Float32Array.from(cls), [R, 1]),
            q,
          ),
      ]) {
        const { value, grads } = sn.valueAndGrads(f)([zt]);
        expect(Math.abs(value.dataSync()[0] - want.loss)).toBeLessThan(1e-6);
        expectClose(grads[0].dataSync(), want.dlogits, { atol: 1e-7, rtol: 1e-5, label: 'dlogits' });
      }
    });
  });

  it('labelSmoothing a: the loss against (1 - a) · onehot + a / classes', () => {
    const a = 0.25;
    const smooth = hot.map((v) => v * (1 - a) + a / C);
    const want = ref.softmaxCrossEntropy(z, smooth, R, C);
    sn.tidy(() => {
      const zt = sn.tensor(z, [R, C]);
      const got = sn.losses.softmaxCrossEntropy(sn.tensor(hot, [R, C]), zt, { labelSmoothing: a });
      expect(Math.abs(got.dataSync()[0] - want.loss)).toBeLessThan(1e-6);
      const obj = new sn.losses.CategoricalCrossentropy({ fromLogits: true, labelSmoothing: a });
      expect(obj.call(sn.tensor(hot, [R, C]), zt).dataSync()[0]).toBe(got.dataSync()[0]);
    });
  });

  it('sigmoidCrossEntropy, meanSquaredError, absoluteDifference; errors name the function and the value', () => {
    const y = Float32Array.from({ length: R * C }, (_, i) => (i % 4) / 3);
    sn.tidy(() => {
      const zt = sn.tensor(z, [R, C]),
        yt = sn.tensor(y, [R, C]);
      expect(Math.abs(sn.losses.sigmoidCrossEntropy(yt, zt).dataSync()[0] - bceLogits(z, y).loss)).toBeLessThan(1e-6);
      expect(new sn.losses.BinaryCrossentropy({ fromLogits: true }).call(yt, zt).dataSync()[0]).toBe(
        sn.losses.sigmoidCrossEntropy(yt, zt).dataSync()[0],
      );
      expect(sn.losses.meanSquaredError(yt, zt).dataSync()[0]).toBe(sn.meanSquaredError(yt, zt).dataSync()[0]);
      expect(sn.losses.absoluteDifference(yt, zt).dataSync()[0]).toBe(sn.meanAbsoluteError(yt, zt).dataSync()[0]);
      expect(() => sn.losses.sparseSoftmaxCrossEntropy(sn.tensor([0, 1, 6, 0, 0], [R]), zt)).toThrow(
        'losses.sparseSoftmaxCrossEntropy: label 6 of row 2 is not a class index in [0, 6)',
      );
      expect(() => sn.losses.softmaxCrossEntropy(yt, zt, { labelSmoothing: 1 })).toThrow(
        'losses.softmaxCrossEntropy: labelSmoothing must be a number in [0, 1), got 1',
      );
      expect(() => new sn.losses.CategoricalCrossentropy().call(yt, zt)).toThrow(/pass logits with fromLogits: true/);
      expect(() => sn.losses.sigmoidCrossEntropy(yt, zt, yt as never)).toThrow(
        'losses.sigmoidCrossEntropy: per-example weights are not supported (the mean is taken); options are {labelSmoothing}',
      );
      expect(() => sn.losses.softmaxCrossEntropy(yt, zt, { fromLogits: true } as never)).toThrow(
        'losses.softmaxCrossEntropy: unknown option "fromLogits" (known: labelSmoothing)',
      );
    });
  });
});
