// int8 max pooling (assembly/kernels/qpool2d.ts, src/ops/qpool2d.ts) against a plain loop over the windows,
// and against float max pooling of the dequantized values (the identity the int8 chains rely on), for
// 'valid', 'same' and explicit padding, strides, windows over padding, channel tails and batches cut
// into row ranges; the same bytes at 1, 2 and 4 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import type { Padding } from '../../src/geom.js';
import { maxPool2d } from '../../src/ops/pool2d.js';
import { qmaxPool2d } from '../../src/ops/qpool2d.js';
import { dequantize, qtensor } from '../../src/ops/quant.js';
import { makeRng } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});
afterAll(async () => {
  await sn.setThreads(1);
});

const ints = (seed: number, n: number, lo: number, hi: number) => {
  const r = makeRng(seed);
  return Int32Array.from({ length: n }, () => lo + Math.floor(r.next() * (hi - lo + 1)));
};

// out[n, oh, ow, c] = max over the in-image pixels of the window
function ref(
  x: Int32Array,
  [N, H, W, C]: number[],
  k: [number, number],
  s: [number, number],
  p: [number, number],
  out: [number, number],
) {
  const [OH, OW] = out;
  const y = new Int32Array(N * OH * OW * C);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let c = 0; c < C; c++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let i = 0; i < k[0]; i++)
            for (let j = 0; j < k[1]; j++) {
              const ih = oh * s[0] - p[0] + i,
                iw = ow * s[1] - p[1] + j;
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x[((n * H + ih) * W + iw) * C + c]!);
            }
          y[((n * OH + oh) * OW + ow) * C + c] = m;
        }
  return y;
}

type Case = [string, number[], [number, number], [number, number], Padding, [number, number], [number, number]];
const CASES: Case[] = [
  ['2x2 valid, C=16', [1, 6, 6, 16], [2, 2], [2, 2], 'valid', [0, 0], [3, 3]],
  ['2x2 valid, odd size, C=35', [2, 7, 5, 35], [2, 2], [2, 2], 'valid', [0, 0], [3, 2]],
  ['3x3 s2 same, C=19', [2, 9, 8, 19], [3, 3], [2, 2], 'same', [1, 0], [5, 4]],
  [
    '3x3 s2 explicit 1 (ResNet stem), C=64',
    [1, 11, 11, 64],
    [3, 3],
    [2, 2],
    [
      [1, 1],
      [1, 1],
    ],
    [1, 1],
    [6, 6],
  ],
  [
    '3x2 s1 lopsided, C=3',
    [3, 5, 6, 3],
    [3, 2],
    [1, 1],
    [
      [2, 0],
      [0, 1],
    ],
    [2, 0],
    [5, 6],
  ],
];

describe('qmaxPool2d', () => {
  for (const [name, shape, k, s, padding, p, out] of CASES) {
    it(`${name}: the int8 window maxima, and float max pooling of the dequantized values`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      // extremes included: a window of -128 only, and saturating 127s
      const v = ints(name.length, size, -128, 127);
      for (let i = 0; i < size; i += 37) v[i] = i % 2 ? 127 : -128;
      const x = qtensor(v, shape, { scale: 0.037, zeroPoint: -7 });
      const y = qmaxPool2d(x, { poolSize: k, strides: s, padding });
      expect(y.shape).toEqual([shape[0], ...out, shape[3]]);
      expect(Int32Array.from(y.values())).toEqual(ref(v, shape, k, s, p, out));
      expect(Array.from(y.scale)).toEqual(Array.from(x.scale));
      expect(Array.from(y.zeroPoint)).toEqual([-7]);
      const xf = dequantize(x);
      const viaFloat = maxPool2d(xf, { poolSize: k, strides: s, padding });
      const yf = dequantize(y);
      expect(Array.from(yf.dataSync())).toEqual(Array.from(viaFloat.dataSync()));
      for (const t of [x, y, xf, viaFloat, yf]) t.dispose();
    });
  }

  it('uint8 input: the same real values (int8 shifted by 128)', () => {
    const shape = [1, 6, 6, 20];
    const v = ints(3, 720, 0, 255);
    const x = qtensor(v, shape, { scale: 0.5, zeroPoint: 200, dtype: 'uint8' });
    const y = qmaxPool2d(x, { poolSize: 2 });
    expect(y.dtype).toBe('int8');
    expect(Array.from(y.zeroPoint)).toEqual([72]);
    const want = ref(
      Int32Array.from(v, (q) => q - 128),
      shape,
      [2, 2],
      [2, 2],
      [0, 0],
      [3, 3],
    );
    expect(Int32Array.from(y.values())).toEqual(want);
    x.dispose();
    y.dispose();
  });

  it('refuses a padding as wide as the window, naming it', () => {
    const x = qtensor(new Array(32).fill(0), [1, 4, 4, 2], { scale: 1 });
    expect(() =>
      qmaxPool2d(x, {
        poolSize: 2,
        padding: [
          [2, 0],
          [0, 0],
        ],
        name: 'pool',
      }),
    ).toThrow(/pool: padding \[\[2,0\],\[0,0\]\] must be smaller than the 2x2 window/);
    x.dispose();
  });

  it('the same bytes at 1, 2 and 4 threads (batch 1 cut into row ranges, batch 9 into shards)', async () => {
    for (const shape of [
      [1, 33, 31, 24],
      [9, 12, 12, 16],
    ]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = qtensor(ints(size, size, -128, 127), shape, { scale: 0.1 });
      const got: number[][] = [];
      for (const T of [1, 2, 4]) {
        await sn.setThreads(T);
        const y = qmaxPool2d(x, { poolSize: 3, strides: 2, padding: 'same' });
        got.push(Array.from(y.values()));
        y.dispose();
      }
      expect(got[1]).toEqual(got[0]);
      expect(got[2]).toEqual(got[0]);
      x.dispose();
    }
    await sn.setThreads(1);
  });
});
