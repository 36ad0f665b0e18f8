// Shared fixtures of the model-API tests: a seeded synthetic image problem, a tiny CNN and a weight hash.
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';

export interface Problem {
  /** Images [n, size, size, 1]. */
  x: { data: Float32Array; shape: number[] };
  /** Class indices [n]. */
  labels: { data: Float32Array; shape: number[] };
  /** One-hot labels [n, 3]. */
  oneHot: { data: Float32Array; shape: number[] };
}

// n, seed -> n noisy 8x8 images of 3 classes: 0 horizontal bar, 1 vertical bar, 2 diagonal
// (either direction), each at a random place, plus uniform noise in [-noise, noise].
export function bars(n: number, seed: number, noise = 0.3, size = 8): Problem {
  const rng = makeRng(seed);
  const x = new Float32Array(n * size * size);
  const labels = new Float32Array(n);
  const oneHot = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    oneHot[i * 3 + c] = 1;
    const img = x.subarray(i * size * size, (i + 1) * size * size);
    for (let p = 0; p < img.length; p++) img[p] = rng.uniform(-noise, noise);
    const at = Math.floor(rng.next() * size);
    const flip = rng.next() < 0.5;
    for (let t = 0; t < size; t++) {
      if (c === 0) img[at * size + t] += 1;
      else if (c === 1) img[t * size + at] += 1;
      else img[t * size + (flip ? size - 1 - t : t)] += 1;
    }
  }
  return {
    x: { data: x, shape: [n, size, size, 1] },
    labels: { data: labels, shape: [n] },
    oneHot: { data: oneHot, shape: [n, 3] },
  };
}

/** Examples [start, start + n) of a bars problem (images and class indices). */
export function barRows(p: Problem, start: number, n: number) {
  const px = p.x.shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    x: { data: p.x.data.slice(start * px, (start + n) * px), shape: [n, ...p.x.shape.slice(1)] },
    labels: { data: p.labels.data.slice(start, start + n), shape: [n] },
  };
}

// seed -> input 8x8x1 → conv 4 3x3 relu → maxpool 2 → flatten → dense 3 softmax (151 parameters)
export function tinyModel(seed?: number, extra: sn.Layer[] = []): sn.Sequential {
  const L = sn.layers;
  return sn.sequential({
    seed,
    layers: [
      L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      ...extra,
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

// model -> FNV-1a (32-bit) over the little-endian float32 bytes of every weight array, as 8 hex digits
export function weightsHash(model: sn.Model): string {
  let h = 0x811c9dc5;
  for (const t of model.getWeights()) {
    const f = t.dataSync() as Float32Array;
    t.dispose();
    const bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

// model -> copies of all weights as plain Float32Arrays
export function weightArrays(model: sn.Model): Float32Array[] {
  return model.getWeights().map((t) => {
    const a = t.dataSync() as Float32Array;
    t.dispose();
    return a;
  });
}
