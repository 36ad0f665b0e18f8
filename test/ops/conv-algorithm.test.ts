// Which algorithm conv2d runs: the default 'direct', 'auto' (Winograd F(4,3) / F(4,5) in training and
// inference, F(2,3) on small outputs, direct where Winograd does not pay), a named tile, and the
// process-wide setConvAlgorithm; each path is told apart by its rounding (same bits as the path named).
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng, type Rng } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});

const rand = (rng: Rng, n: number): Float32Array => Float32Array.from(rng.fill(n, -1, 1));

describe('conv2d algorithm selection', () => {
  it("'auto': tile 4 in training and inference, F(2,3) on small outputs, direct where Winograd does not pay; setConvAlgorithm", () => {
    const rng = makeRng(21);
    const x = sn.tensor(rand(rng, 2 * 8 * 8 * 8), [2, 8, 8, 8]);
    const x4 = sn.tensor(rand(rng, 2 * 4 * 4 * 8), [2, 4, 4, 8]);
    const xThin = sn.tensor(rand(rng, 2 * 8 * 8 * 4), [2, 8, 8, 4]);
    const w3 = sn.tensor(rand(rng, 9 * 8 * 8), [3, 3, 8, 8]),
      w5 = sn.tensor(rand(rng, 25 * 8 * 8), [5, 5, 8, 8]),
      wThin = sn.tensor(rand(rng, 9 * 4 * 8), [3, 3, 4, 8]);
    const bits = (w: sn.Tensor, o: sn.Conv2dOptions, input = x) =>
      Array.from(sn.tidy(() => sn.conv2d(input, w, { padding: 'same', ...o }).dataSync()));
    // the forward output while a gradient is recorded (the training path)
    const trainBits = (w: sn.Tensor, o: sn.Conv2dOptions) => {
      let out: number[] = [];
      sn.valueAndGrads((ww) => {
        const y = sn.conv2d(x, ww, { padding: 'same', ...o });
        out = Array.from(y.dataSync());
        return sn.sum(y);
      })([w]).grads.forEach((g) => g.dispose());
      return out;
    };
    const f2 = bits(w3, { algorithm: 'winograd', winogradTile: 2 });
    const f4 = bits(w3, { algorithm: 'winograd', winogradTile: 4 });
    const direct = bits(w3, { algorithm: 'direct' });
    // the three paths round differently, so the checks below can tell them apart
    expect(f2).not.toEqual(direct);
    expect(f4).not.toEqual(direct);
    expect(f4).not.toEqual(f2);
    expect(bits(w3, {})).toEqual(direct); // the default is 'direct'
    expect(bits(w3, { algorithm: 'auto' })).toEqual(f4);
    expect(trainBits(w3, { algorithm: 'auto' })).toEqual(f4); // F(4,3) in training too (>= 6 pixels a side)
    expect(trainBits(w3, { algorithm: 'direct' })).toEqual(direct);
    // 5x5: F(4,5) in inference and in training
    const d5 = bits(w5, { algorithm: 'direct' });
    expect(bits(w5, { algorithm: 'auto' })).toEqual(bits(w5, { algorithm: 'winograd', winogradTile: 4 }));
    expect(bits(w5, { algorithm: 'auto' })).not.toEqual(d5);
    expect(trainBits(w5, { algorithm: 'auto' })).toEqual(trainBits(w5, { algorithm: 'winograd', winogradTile: 4 }));
    expect(trainBits(w5, { algorithm: 'auto' })).not.toEqual(d5);
    // outputs under 6 pixels a side: F(2,3); under 8 channels: direct; stride 2: direct
    expect(bits(w3, { algorithm: 'auto' }, x4)).toEqual(bits(w3, { algorithm: 'winograd', winogradTile: 2 }, x4));
    expect(bits(wThin, { algorithm: 'auto' }, xThin)).toEqual(bits(wThin, { algorithm: 'direct' }, xThin));
    expect(bits(w3, { algorithm: 'auto', strides: 2 })).toEqual(bits(w3, { algorithm: 'direct', strides: 2 }));
    // a named tile replaces auto's choice of m
    expect(bits(w3, { algorithm: 'auto', winogradTile: 2 })).toEqual(f2);
    try {
      sn.setConvAlgorithm('winograd', { winogradTile: 4 });
      expect(sn.getConvAlgorithm()).toEqual({ algorithm: 'winograd', winogradTile: 4 });
      expect(bits(w3, {})).toEqual(f4);
      expect(bits(w3, { algorithm: 'direct' })).toEqual(direct); // the call's own choice wins
      sn.setConvAlgorithm('auto', { winogradTile: 2 });
      expect(bits(w3, {})).toEqual(f2);
      sn.setConvAlgorithm('auto', { winogradTile: null });
      expect(sn.getConvAlgorithm()).toEqual({ algorithm: 'auto', winogradTile: undefined });
      expect(bits(w3, {})).toEqual(f4);
      sn.setConvAlgorithm('winograd');
      expect(bits(w3, {})).toEqual(f2); // 'winograd' without a tile: F(2,3)
    } finally {
      sn.setConvAlgorithm('direct', { winogradTile: null });
    }
    for (const t of [x, x4, xThin, w3, w5, wThin]) t.dispose();
  });
});
