// The augmentation layers (RandomTranslation, RandomRotation, RandomZoom, RandomContrast) in models:
// identity outside training, Keras' geometry (shift direction, counter-clockwise rotation, zoom about
// the centre), seeded reproducibility, fresh transforms per batch, the same bits at 1 and 2 threads,
// save/load, ONNX export as identity, and argument errors.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { bars, tinyModel, weightsHash } from './fixtures.js';
import { affineRef } from '../ref/augment.js';
import { expectClose } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

const L = sn.layers;
const data = bars(96, 13);

// A 28 x 28 "digit": a ring and a bar, values in [0, 1], distinct enough to see any misplaced pixel.
function digit(): Float32Array {
  const img = new Float32Array(28 * 28);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const r = Math.hypot(y - 12, x - 14);
      img[y * 28 + x] =
        Math.max(0, 1 - Math.abs(r - 6) / 2) + (x === 20 && y > 4 && y < 24 ? 0.5 : 0) + (y * 28 + x) / 1e4;
    }
  return img;
}

const call = (layer: sn.Layer, x: sn.Tensor, training: boolean, rng = new sn.Rng(1)) => {
  if (!layer.built) layer.build(x.shape.slice(1), rng);
  return layer.call(x, { training, rng });
};

describe('augmentation layers', () => {
  it('are the identity outside training: predict and evaluate equal the model without them', async () => {
    const aug = [
      L.randomTranslation({ heightFactor: 0.2, widthFactor: 0.2, inputShape: [8, 8, 1] }),
      L.randomRotation({ factor: 0.1 }),
      L.randomZoom({ heightFactor: 0.2 }),
      L.randomContrast({ factor: 0.3 }),
    ];
    const a = track(sn.sequential({ seed: 5, layers: [...aug, ...tinyModel(5).layers] }));
    const b = track(tinyModel(5));
    for (const m of [a, b])
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const pa = a.predict(data.x),
      pb = b.predict(data.x);
    expect(Array.from(pa.dataSync())).toEqual(Array.from(pb.dataSync()));
    expect(a.evaluate(data.x, data.labels)).toEqual(b.evaluate(data.x, data.labels));
    pa.dispose();
    pb.dispose();
    const x = sn.tensor(digit(), [1, 28, 28, 1]);
    for (const l of aug) expect(call(l, x, false)).toBe(x);
    x.dispose();
  });

  it('translate a 28 x 28 image by the drawn fraction: [0.25, 0.25] of the height is 7 rows down, [-0.5, -0.5] of the width 14 columns left', () => {
    const img = digit();
    const x = sn.tensor(img, [1, 28, 28, 1]);
    const layer = L.randomTranslation({
      heightFactor: [0.25, 0.25],
      widthFactor: [-0.5, -0.5],
      fillMode: 'constant',
      fillValue: -1,
    });
    const y = call(layer, x, true).dataSync();
    for (let r = 0; r < 28; r++)
      for (let c = 0; c < 28; c++) {
        const want = r - 7 >= 0 && c + 14 < 28 ? img[(r - 7) * 28 + c + 14] : -1;
        if (y[r * 28 + c] !== want) throw new Error(`pixel (${r}, ${c}) is ${y[r * 28 + c]}, want ${want}`);
      }
    x.dispose();
  });

  it('rotation by a quarter turn is counter-clockwise (the top-right corner goes to the top left)', () => {
    const img = digit();
    const x = sn.tensor(img, [1, 28, 28, 1]);
    const layer = L.randomRotation({ factor: [0.25, 0.25], interpolation: 'nearest', fillMode: 'constant' });
    const y = call(layer, x, true).dataSync();
    // out(r, c) = in(c, 27 - r)
    for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) expect(y[r * 28 + c]).toBe(img[c * 28 + 27 - r]);
    x.dispose();
  });

  it('zoom about the centre: heightFactor -0.5 (zoom in 2x) samples (0.5 y + 6.75, 0.5 x + 6.75); width follows height', () => {
    const img = digit();
    const x = sn.tensor(img, [1, 28, 28, 1]);
    const layer = L.randomZoom({ heightFactor: [-0.5, -0.5] });
    const y = call(layer, x, true).dataSync();
    expectClose(y, affineRef(img, [0.5, 0, 6.75, 0, 0.5, 6.75], 1, 28, 28, 1, 'bilinear', 'reflect', 0), {
      atol: 1e-6,
      rtol: 0,
    });
    // The drawn matrices, one per image, follow Keras' formula.
    const m = layer.matrices(new sn.Rng(3), 2, 10, 20);
    expect(Array.from(m)).toEqual([0.5, 0, 4.75, 0, 0.5, 2.25, 0.5, 0, 4.75, 0, 0.5, 2.25]);
    x.dispose();
  });

  it('contrast scales the deviation from the channel mean by a factor in [1 - lower, 1 + upper]', () => {
    const layer = L.randomContrast({ factor: [0.5, 0.25], valueRange: [0, 1] });
    const f = layer.factors(new sn.Rng(9), 500);
    expect(Math.min(...f)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...f)).toBeLessThan(1.25);
    expect(Math.max(...f) - Math.min(...f)).toBeGreaterThan(0.7);
  });

  it('draw new transforms on every call, the same ones for the same generator state and seed, others for another seed', () => {
    const x = sn.tensor(digit(), [2, 28, 14, 1]);
    const mk = (seed?: number) => L.randomRotation({ factor: 0.2, seed });
    const rng = new sn.Rng(4);
    const a = mk(1);
    const y1 = call(a, x, true, rng).dataSync().slice();
    const y2 = call(a, x, true, rng).dataSync().slice();
    expect(y1).not.toEqual(y2);
    const again = call(mk(1), x, true, new sn.Rng(4)).dataSync().slice();
    expect(again).toEqual(y1);
    const other = call(mk(2), x, true, new sn.Rng(4)).dataSync().slice();
    expect(other).not.toEqual(y1);
    x.dispose();
  });

  // seed, layer seed, threads -> weights hash after 2 epochs with augmentation
  async function trained(seed: number, layerSeed?: number, threads = 1): Promise<string> {
    await sn.setThreads(threads);
    const m = track(
      sn.sequential({
        seed,
        layers: [
          L.randomTranslation({ heightFactor: 0.2, widthFactor: 0.2, seed: layerSeed, inputShape: [8, 8, 1] }),
          L.randomRotation({ factor: 0.05, seed: layerSeed }),
          L.randomZoom({ heightFactor: 0.1, widthFactor: 0.2, seed: layerSeed }),
          L.randomContrast({ factor: 0.2, valueRange: [-1, 1], seed: layerSeed }),
          ...tinyModel(seed).layers,
        ],
      }),
    );
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(data.x, data.labels, { epochs: 2, batchSize: 16, verbose: 0 });
    return weightsHash(m);
  }

  it('a seeded fit is reproducible, depends on the layer seed, and has the same bits at 1 and 2 threads', async () => {
    const h = await trained(3, 7);
    expect(await trained(3, 7)).toBe(h);
    expect(await trained(3, 8)).not.toBe(h);
    expect(await trained(3, 7, 2)).toBe(h);
    await sn.setThreads(1);
  });

  it('save and load keep every option; ONNX export skips them (same bytes as without)', async () => {
    const aug = () => [
      L.randomTranslation({
        heightFactor: [-0.1, 0.2],
        widthFactor: 0.3,
        fillMode: 'nearest',
        interpolation: 'nearest',
        seed: 4,
        inputShape: [8, 8, 1],
      }),
      L.randomRotation({ factor: [0, 0.1], fillMode: 'constant', fillValue: 0.5 }),
      L.randomZoom({ heightFactor: 0.1, widthFactor: [-0.2, 0] }),
      L.randomContrast({ factor: 0.3, seed: 2 }),
    ];
    const m = track(sn.sequential({ seed: 2, layers: [...aug(), ...tinyModel(2).layers] }));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const back = track(sn.loadModel(m.save()));
    expect(back.layers.map((l) => [l.className, l.getConfig()])).toEqual(
      m.layers.map((l) => [l.className, l.getConfig()]),
    );
    const plain = track(tinyModel(2));
    plain.build();
    expect(Buffer.from(await sn.toONNX(m)).equals(Buffer.from(await sn.toONNX(plain)))).toBe(true);
  });

  it('bad arguments and misuse give clear errors', async () => {
    expect(() => L.randomTranslation({ heightFactor: 1.5, widthFactor: 0 })).toThrow(
      /heightFactor must lie in \[-1, 1\], got 1.5/,
    );
    expect(() => L.randomTranslation({ heightFactor: -0.1, widthFactor: 0 })).toThrow(
      /heightFactor must be a non-negative number or \[lower, upper\], got -0.1/,
    );
    expect(() => L.randomTranslation({ heightFactor: 0.1 } as never)).toThrow(
      /widthFactor must be a number or \[lower, upper\], got undefined/,
    );
    expect(() => L.randomRotation({ factor: [0.2, 0.1] })).toThrow(/factor has lower bound 0.2 above upper bound 0.1/);
    expect(() => L.randomRotation({ factor: 0.1, fillMode: 'mirror' as never })).toThrow(
      /fillMode must be one of 'constant', 'nearest', 'reflect', 'wrap', got "mirror"/,
    );
    expect(() => L.randomRotation({ factor: 0.1, interpolation: 'cubic' as never })).toThrow(
      /interpolation must be 'bilinear' or 'nearest'/,
    );
    expect(() => L.randomRotation({ factor: 0.1, seed: 1.5 })).toThrow(/seed must be an integer, got 1.5/);
    expect(() => L.randomZoom({ heightFactor: 0.1, widthFactr: 0.1 } as never)).toThrow(/unknown option "widthFactr"/);
    expect(() => L.randomContrast({ factor: 1.5 })).toThrow(/factor must be a number in \[0, 1\]/);
    expect(() => L.randomContrast(undefined as never)).toThrow(
      /RandomContrast: expected a config object \{factor, \.\.\.\}/,
    );
    expect(() => sn.sequential({ layers: [L.randomZoom({ heightFactor: 0.1, inputShape: [64] })] }).build()).toThrow(
      /expected input of shape \[height, width, channels\] \(without batch\), got \[64\]/,
    );
    // After a layer with weights there is no gradient to pass back: fit says so instead of training wrongly.
    const m = track(
      sn.sequential({
        seed: 1,
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', inputShape: [8, 8, 1] }),
          L.randomRotation({ factor: 0.1 }),
          L.flatten(),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(data.x, data.labels, { epochs: 1, verbose: 0 })).rejects.toThrow(
      /random_rotation: has no gradient .* put augmentation layers before any layer with weights/,
    );
  });
});
