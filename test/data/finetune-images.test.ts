// The fine-tune page's pixel code (web/finetune-images.ts) in Node: the resize reproduces an image of
// the same size exactly, constants and linear ramps (symmetric taps), shrinks by 2 with the (1, 3, 3, 1)/8
// triangle taps, crops the centre to the model's aspect ratio; normalisation and its inputs.
import { describe, expect, it } from 'vitest';
import {
  IMAGENET,
  type Rgba,
  centreCrop,
  normalise,
  parseTriple,
  resizeRgb,
  toBatch,
} from '../../web/finetune-images.js';

function image(w: number, h: number, f: (x: number, y: number, c: number) => number): Rgba {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 4 + c] = f(x, y, c);
      data[(y * w + x) * 4 + 3] = 255;
    }
  return { data, width: w, height: h };
}

describe('finetune-images', () => {
  it('an image of the output size comes back unchanged', () => {
    const img = image(13, 9, (x, y, c) => (x * 31 + y * 17 + c * 101) % 256);
    const out = resizeRgb(img, 13, 9);
    for (let i = 0; i < 13 * 9; i++) for (let c = 0; c < 3; c++) expect(out[i * 3 + c]).toBe(img.data[i * 4 + c]);
  });

  it('constants stay constant when shrinking and when enlarging, at any ratio', () => {
    const img = image(37, 23, (_x, _y, c) => [200, 17, 99][c]);
    for (const [w, h] of [
      [7, 5],
      [112, 112],
      [36, 11],
    ]) {
      const out = resizeRgb(img, w, h);
      for (let i = 0; i < w * h; i++)
        for (let c = 0; c < 3; c++) expect(out[i * 3 + c]).toBeCloseTo([200, 17, 99][c], 10);
    }
  });

  it('halving uses the taps (1, 3, 3, 1) / 8; a linear ramp is kept away from the edges', () => {
    const img = image(16, 2, (x, _y, c) => (c === 0 ? (x * x) % 256 : x * 10));
    const out = resizeRgb(img, 8, 1);
    for (let i = 1; i < 7; i++) {
      const p = (j: number) => (j * j) % 256;
      const want = (p(2 * i - 1) + 3 * p(2 * i) + 3 * p(2 * i + 1) + p(2 * i + 2)) / 8;
      expect(out[i * 3]).toBeCloseTo(want, 10);
      expect(out[i * 3 + 1]).toBeCloseTo(10 * (2 * i + 0.5), 10); // the ramp at the output pixel's centre
    }
    // At the edge the taps are clipped and renormalised: (3 p0 + 3 p1 + p2) / 7.
    expect(out[1]).toBeCloseTo((0 + 30 + 20) / 7, 10);
  });

  it('crops the centre to the output aspect ratio', () => {
    expect(centreCrop(200, 100, 50, 50)).toEqual({ x: 50, y: 0, w: 100, h: 100 });
    expect(centreCrop(100, 300, 112, 112)).toEqual({ x: 0, y: 100, w: 100, h: 100 });
    expect(centreCrop(120, 90, 4, 3)).toEqual({ x: 0, y: 0, w: 120, h: 90 });
    // Left and right thirds of a 300×100 image are red, the middle blue: a square output is blue inside.
    const img = image(300, 100, (x, _y, c) => (x >= 100 && x < 200 ? [0, 0, 255][c] : [255, 0, 0][c]));
    const out = resizeRgb(img, 20, 20);
    for (let y = 0; y < 20; y++)
      for (let x = 1; x < 19; x++) {
        expect(out[(y * 20 + x) * 3]).toBeCloseTo(0, 10);
        expect(out[(y * 20 + x) * 3 + 2]).toBeCloseTo(255, 10);
      }
  });

  it('normalises with mean/std, to [0, 1], or to grey; toBatch lays images out NHWC', () => {
    const rgb = Float64Array.from([255, 0, 51, 0, 255, 255]);
    const n = normalise(rgb, 3, IMAGENET);
    const want = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225, -0.485 / 0.229];
    want.forEach((v, i) => expect(n[i]).toBeCloseTo(v, 6));
    expect(Array.from(normalise(rgb, 3, { ...IMAGENET, mode: 'unit' }))).toEqual(
      Array.from(Float32Array.from([1, 0, 0.2, 0, 1, 1])),
    );
    expect(normalise(rgb, 1, { ...IMAGENET, mode: 'unit' })[1]).toBeCloseTo(0.587 + 0.114, 6);
    expect(() => normalise(rgb, 2, IMAGENET)).toThrow(/1 or 3 channels, got 2/);

    const a = image(2, 2, () => 255);
    const b = image(2, 2, () => 0);
    const x = toBatch([a, b], [2, 2, 3], { ...IMAGENET, mode: 'unit' });
    expect(Array.from(x)).toEqual([...new Array(12).fill(1), ...new Array(12).fill(0)]);
  });

  it('refuses bad sizes and bad mean/std text, naming the field', () => {
    expect(() => resizeRgb({ data: new Uint8Array(15), width: 2, height: 2 }, 4, 4)).toThrow(/16 bytes\), got 15/);
    expect(() =>
      resizeRgb(
        image(2, 2, () => 0),
        0,
        4,
      ),
    ).toThrow(/positive integers, got 0×4/);
    expect(parseTriple(' 0.5,0.25 ; 1 ', 'mean', false)).toEqual([0.5, 0.25, 1]);
    expect(() => parseTriple('0.5, 0.2', 'mean', false)).toThrow(/mean: expected three numbers/);
    expect(() => parseTriple('0.5, x, 1', 'std', true)).toThrow(/std: expected three numbers/);
    expect(() => parseTriple('0.5, 0, 1', 'std', true)).toThrow(/std: every value must be above 0/);
  });
});
