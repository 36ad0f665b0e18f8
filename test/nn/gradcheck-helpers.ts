// Finite-difference gradient checks of whole models through the library's own training step
// (STYLE tier 4: float32, h = 1e-2, relative error < 1e-2). The loss is the *training-mode* loss —
// the layers are called with training: true, so BatchNormalization uses batch statistics, as in the
// step whose gradients are checked. Shared by the test/nn model tests.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng, relErr } from '../helpers/check.js';
import { weightArrays } from './fixtures.js';

const H = 1e-2;
const MAX_REL = 1e-2;
// Gradients smaller than this are compared absolutely: float32 rounding of the loss (~1e-7) over 2h.
const ABS_FLOOR = 2e-4;

type Host = { data: Float32Array; shape: number[] };

// model, x, y -> mean cross-entropy of a training-mode forward pass (nothing recorded)
export function trainingLoss(model: sn.Sequential, x: Host, y: Host): number {
  return sn.tidy(() =>
    sn.noGrad(() => {
      let h = sn.tensor(x.data, x.shape);
      const n = model.layers.length;
      model.layers.forEach((l, i) => {
        h = l.call(h, { training: true, rng: new sn.Rng(1), logits: i === n - 1 });
      });
      return sn.softmaxCrossEntropy(sn.tensor(y.data, y.shape), h).dataSync()[0];
    }),
  );
}

// Compares the tape's gradient w.r.t. ~20 elements of every weight array with central differences.
export function gradCheckTraining(model: sn.Sequential, x: Host, y: Host, seed: number): void {
  model.compile({ optimizer: new sn.SGD({ learningRate: 1e-9 }), loss: 'categoricalCrossentropy' });
  const saved = weightArrays(model);
  model.trainOnBatch(x, y);
  const params = model.params();
  const analytic = params.map((p) => p.grad.dataSync() as Float32Array);
  // Undo the (negligible) step so the differences are taken at the point of the gradient.
  model.setWeights(saved);
  const rng = makeRng(seed);
  let checked = 0,
    large = 0;
  const failures: string[] = [];
  params.forEach((p, pi) => {
    const n = p.value.size;
    const picks =
      n <= 20 ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: 20 }, () => Math.floor(rng.next() * n));
    for (const j of picks) {
      const old = p.value.view()[j];
      p.value.view()[j] = old + H;
      const fp = trainingLoss(model, x, y);
      p.value.view()[j] = old - H;
      const fm = trainingLoss(model, x, y);
      p.value.view()[j] = old;
      const num = (fp - fm) / (2 * H);
      const a = analytic[pi][j];
      checked++;
      if (Math.abs(a) > 1e-3) large++;
      if (!(Math.abs(a - num) <= ABS_FLOOR || relErr(a, num) < MAX_REL))
        failures.push(`${p.name}[${j}]: tape ${a}, numeric ${num}, rel ${relErr(a, num).toExponential(2)}`);
    }
  });
  expect(failures, failures.slice(0, 8).join('\n')).toEqual([]);
  // Not vacuous: most sampled gradients are well above the absolute floor.
  expect(large).toBeGreaterThan(checked / 2);
}

// One-hot labels for N examples over K classes, class (7i + 1) % K.
export function oneHot(N: number, K: number): Host {
  const d = new Float32Array(N * K);
  for (let i = 0; i < N; i++) d[i * K + ((i * 7 + 1) % K)] = 1;
  return { data: d, shape: [N, K] };
}
