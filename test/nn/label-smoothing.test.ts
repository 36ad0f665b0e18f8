// compile({labelSmoothing}): the loss and its gradient against a float64 reference of Keras'
// smoothed categorical cross-entropy, for one-hot and sparse labels, and through save/load.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';

await sn.ready();

const N = 6,
  D = 5,
  K = 4;
const x = Float32Array.from({ length: N * D }, (_, i) => Math.sin(1.7 * i + 0.3));
const labels = [0, 3, 1, 2, 3, 1];
const W = Float32Array.from({ length: D * K }, (_, i) => 0.4 * Math.cos(0.9 * i));
const b = Float32Array.from({ length: K }, (_, i) => 0.1 * i - 0.15);

/** float64: the mean smoothed cross-entropy of softmax(xW + b), and its gradient in W and b. */
function reference(a: number) {
  let loss = 0;
  const gW = new Float64Array(D * K),
    gb = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    const z = Array.from({ length: K }, (_, k) => {
      let s = b[k];
      for (let d = 0; d < D; d++) s += x[n * D + d] * W[d * K + k];
      return s;
    });
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((acc, v) => acc + Math.exp(v - mx), 0));
    for (let k = 0; k < K; k++) {
      const y = (k === labels[n] ? 1 - a : 0) + a / K;
      const p = Math.exp(z[k] - lse);
      loss -= y * (z[k] - lse);
      gb[k] += (p - y) / N;
      for (let d = 0; d < D; d++) gW[d * K + k] += (x[n * D + d] * (p - y)) / N;
    }
  }
  return { loss: loss / N, gW, gb };
}

function makeModel(a: number, sparse: boolean) {
  const m = new sn.Sequential({
    seed: 1,
    layers: [sn.layers.dense({ units: K, activation: 'softmax', inputShape: [D] })],
  });
  m.compile({
    optimizer: new sn.SGD({ learningRate: 1 }),
    loss: sparse ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy',
    labelSmoothing: a,
  });
  m.setWeights([W, b]);
  return m;
}

const yData = (sparse: boolean) =>
  sparse
    ? { data: Float32Array.from(labels), shape: [N] }
    : {
        data: Float32Array.from({ length: N * K }, (_, i) => (labels[Math.floor(i / K)] === i % K ? 1 : 0)),
        shape: [N, K],
      };

describe('label smoothing', () => {
  for (const sparse of [false, true]) {
    for (const a of [0, 0.1, 0.35]) {
      it(`${sparse ? 'sparse' : 'one-hot'} labels, labelSmoothing ${a}: loss and gradient vs float64`, () => {
        const ref = reference(a);
        const m = makeModel(a, sparse);
        const xd = { data: x, shape: [N, D] };
        const [loss, acc] = m.evaluate(xd, yData(sparse));
        expect(Math.abs(loss - ref.loss), `loss ${loss} vs ${ref.loss}`).toBeLessThan(2e-6);
        // Accuracy compares against the labels, not the smoothed targets.
        const plain = makeModel(0, sparse);
        expect(acc).toBe(plain.evaluate(xd, yData(sparse))[1]);
        plain.dispose();
        // SGD with lr 1: the step is minus the gradient.
        const [l2] = m.trainOnBatch(xd, yData(sparse));
        expect(Math.abs(l2 - ref.loss)).toBeLessThan(2e-6);
        const [W2, b2] = m.getWeights().map((t) => t.dataSync());
        for (let i = 0; i < D * K; i++) expect(Math.abs(W[i] - W2[i] - ref.gW[i]), `dW[${i}]`).toBeLessThan(2e-6);
        for (let k = 0; k < K; k++) expect(Math.abs(b[k] - b2[k] - ref.gb[k]), `db[${k}]`).toBeLessThan(2e-6);
        m.dispose();
      });
    }
  }

  it('smoothing changes the loss (the reference is not flat in a)', () => {
    expect(Math.abs(reference(0.35).loss - reference(0).loss)).toBeGreaterThan(0.05);
  });

  it('is saved with the model and refused where it has no meaning', () => {
    const m = makeModel(0.2, true);
    const back = sn.loadModel(m.save());
    expect(back.labelSmoothing).toBe(0.2);
    const xd = { data: x, shape: [N, D] };
    expect(back.evaluate(xd, yData(true))[0]).toBe(m.evaluate(xd, yData(true))[0]);
    back.dispose();
    // A model without smoothing writes no key (its files are what they were).
    const plain = makeModel(0, true);
    const header = new TextDecoder().decode(new Uint8Array(plain.save()).subarray(16, 2000));
    expect(header).not.toContain('labelSmoothing');
    plain.dispose();
    expect(() => m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', labelSmoothing: 1 })).toThrow(
      /labelSmoothing must be a number in \[0, 1\), got 1/,
    );
    expect(() => m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', labelSmoothing: 0.1 })).toThrow(
      /labelSmoothing applies to the cross-entropies only/,
    );
    m.dispose();
  });
});
