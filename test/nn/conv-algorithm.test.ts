// Conv2D's `algorithm` / `winogradTile` config (saved with the model) and sn.setConvAlgorithm in training:
// 'auto' (Winograd F(2x2, 3x3) on the 3x3 stride-1 layers) trains like 'direct'.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { bars, weightArrays } from './fixtures.js';

beforeAll(async () => {
  await sn.ready({ build: 'simd' });
});
afterEach(() => sn.setConvAlgorithm('direct', { winogradTile: null }));

const L = sn.layers;
// input 8x8x1 -> conv 8 3x3 same relu -> conv 8 3x3 same relu -> maxpool 2 -> flatten -> dense 3 softmax
function model(conv: Pick<sn.Conv2DConfig, 'algorithm' | 'winogradTile'> = {}): sn.Sequential {
  return sn.sequential({
    seed: 3,
    layers: [
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1], ...conv }),
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', ...conv }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

async function train(m: sn.Sequential): Promise<{ loss: number[]; acc: number; w: Float32Array[] }> {
  const data = bars(300, 17);
  const test = bars(150, 18);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const x = sn.tensor(data.x.data, data.x.shape),
    y = sn.tensor(data.labels.data, data.labels.shape);
  const tx = sn.tensor(test.x.data, test.x.shape),
    ty = sn.tensor(test.labels.data, test.labels.shape);
  const h = await m.fit(x, y, { epochs: 6, batchSize: 20, verbose: 0, seed: 5 });
  const [, acc] = m.evaluate(tx, ty);
  const out = { loss: h.history.loss, acc, w: weightArrays(m) };
  for (const t of [x, y, tx, ty]) t.dispose();
  m.dispose();
  return out;
}

describe('conv algorithm selection in models', () => {
  it("training with 'auto' (F(2,3)) or F(4,3) stays within rounding of 'direct'", async () => {
    const direct = await train(model());
    sn.setConvAlgorithm('auto');
    const auto = await train(model());
    const f4 = await train(model({ algorithm: 'winograd', winogradTile: 4 }));
    expect(direct.loss.at(-1)!).toBeLessThan(0.7 * direct.loss[0]!); // it does learn
    for (const [name, r] of [
      ['auto', auto],
      ['F(4,3)', f4],
    ] as const) {
      // A different rounding (<= 1e-6 relative per op, test/kernels/winograd.test.ts) must not change
      // what is learnt: after 90 Adam steps the epoch losses agree to 1e-5 (measured: ~3e-8 for both
      // tiles) and the weights to 1e-4.
      r.loss.forEach((l, i) => expect(Math.abs(l - direct.loss[i]!), `${name} epoch ${i} loss`).toBeLessThan(1e-5));
      expect(Math.abs(r.acc - direct.acc), `${name} test accuracy`).toBeLessThanOrEqual(1 / 150);
      let worst = 0;
      r.w.forEach((a, i) =>
        a.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - direct.w[i]![j]!));
        }),
      );
      expect(worst, `${name} weights`).toBeLessThan(1e-4);
      expect(worst, `${name} took another path than 'direct'`).toBeGreaterThan(0);
    }
  });

  it('the layer config is saved with the model and used after loading', () => {
    const m = model({ algorithm: 'winograd', winogradTile: 4 });
    m.build();
    const x = sn.tensor(bars(4, 1).x.data, [4, 8, 8, 1]);
    const y = m.predict(x);
    const back = sn.loadModel(sn.saveModel(m));
    const conv = back.layers[0] as sn.Conv2D;
    expect(conv.cfg.algorithm).toBe('winograd');
    expect(conv.cfg.winogradTile).toBe(4);
    const y2 = back.predict(x);
    expect(Array.from(y2.dataSync())).toEqual(Array.from(y.dataSync()));
    // without the option nothing new is saved
    expect(JSON.stringify(model().layers[0]!.getConfig())).not.toMatch(/algorithm|winogradTile/);
    for (const t of [x, y, y2]) t.dispose();
    m.dispose();
    back.dispose();
  });

  it('bad algorithm or tile in a layer config is a clear error', () => {
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, algorithm: 'fft' as never })).toThrow(
      /Conv2D: algorithm must be one of 'auto', 'direct', 'winograd', got "fft"/,
    );
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, winogradTile: 6 as never })).toThrow(
      /Conv2D: winogradTile must be 2 or 4, got 6/,
    );
  });
});
