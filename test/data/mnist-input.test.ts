// toMnistInput, shared by the CLI's predict and the draw page: real MNIST digits rendered large, off
// centre and dark on light come back close to the digits themselves.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadIdxDir, defaultMnistDir } from '../../src/node/data.js';
import { borderMean, toMnistInput, type Grey } from '../../src/data/mnist-input.js';
import * as web from '../../web/mnist-input.js';
import type { MnistSplit } from '../../src/data/idx.js';

let test: MnistSplit;
beforeAll(async () => {
  test = (await loadIdxDir(defaultMnistDir(), { trainLimit: 0, testLimit: 40 })).test;
});

const digit = (i: number) => test.images.subarray(i * 784, (i + 1) * 784);

// 28x28 digit -> a W x H canvas with the digit scaled by `scale` (bilinear) at (ox, oy), optionally dark on light
export function render(
  px: Float32Array,
  scale: number,
  W: number,
  H: number,
  ox: number,
  oy: number,
  darkOnLight: boolean,
): Grey {
  const data = new Float32Array(W * H);
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= 28 || y >= 28 ? 0 : px[y * 28 + x]);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = (x - ox + 0.5) / scale - 0.5,
        sy = (y - oy + 0.5) / scale - 0.5;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy),
        fx = sx - x0,
        fy = sy - y0;
      const v =
        (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
        (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      data[y * W + x] = darkOnLight ? 1 - v : v;
    }
  }
  return { width: W, height: H, data };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0,
    mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma,
      db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('toMnistInput', () => {
  it('is the one function the draw page uses', () => {
    expect(web.toMnistInput).toBe(toMnistInput);
  });

  it('40 MNIST digits rendered 5x larger, off centre, dark on light, come back close to the originals', () => {
    const cors: number[] = [];
    for (let i = 0; i < 40; i++) {
      const big = render(digit(i), 5, 260, 200, 10 + ((i * 7) % 90), 5 + ((i * 11) % 50), true);
      expect(borderMean(big)).toBeGreaterThan(0.5);
      const x = toMnistInput(big)!;
      expect(x).toHaveLength(784);
      cors.push(correlation(x, digit(i)));
    }
    cors.sort((a, b) => a - b);
    // Measured: worst 0.76 (thin strokes, where one pixel of shift costs most), median 0.97, 36 of 40
    // above 0.9. The bounds leave room for rounding differences, not for a wrong pipeline (< 0.5).
    expect(cors[0]).toBeGreaterThan(0.7);
    expect(cors[20]).toBeGreaterThan(0.95);
    expect(cors.filter((c) => c > 0.85).length).toBeGreaterThanOrEqual(35);
  });

  it('the whole-image resize it replaced does much worse on the same renderings', () => {
    // A digit in a corner of a big canvas, shrunk as a whole, barely overlaps the original.
    const big = render(digit(0), 3, 280, 280, 0, 0, false);
    const whole = new Float32Array(784);
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        let s = 0;
        for (let dy = 0; dy < 10; dy++)
          for (let dx = 0; dx < 10; dx++) s += big.data[(y * 10 + dy) * 280 + x * 10 + dx];
        whole[y * 28 + x] = s / 100;
      }
    expect(correlation(whole, digit(0))).toBeLessThan(0.5);
    expect(correlation(toMnistInput(big)!, digit(0))).toBeGreaterThan(0.85);
  });

  it('a blank image gives null; the size option scales the field and the 20/28 box', () => {
    expect(toMnistInput({ width: 5, height: 5, data: new Float32Array(25) })).toBeNull();
    expect(toMnistInput({ width: 5, height: 5, data: new Float32Array(25).fill(1) })).toBeNull();
    const x = toMnistInput(render(digit(1), 2, 80, 80, 10, 10, false), { size: 14 })!;
    expect(x).toHaveLength(196);
    expect(() => toMnistInput({ width: 2, height: 2, data: new Float32Array(3) })).toThrow(/2x2 with 3/);
  });
});
