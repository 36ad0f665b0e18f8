// conv2d and pooling on a 4x4 single-channel image whose results are worked out by hand, through the
// public functional API (test/ref/gradcheck.test.ts checks the float64 reference on the same image).
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';

const input = [
  [0, 1, 2, 4],
  [3, 0, -1, 5],
  [-2, 0, 1, 3],
  [1, 0, 9, 0],
];
const kernel = [
  [0, 2, 1],
  [1, 3, 2],
  [2, 0, -1],
];

beforeAll(async () => {
  await sn.ready();
});

const x4 = () => sn.tensor(input.flat(), [1, 4, 4, 1]);
const k3 = () => sn.tensor(kernel.flat(), [3, 3, 1, 1]);

describe('conv2d and pooling on a 4x4 image, results worked out by hand', () => {
  it('3x3 cross-correlation, valid → [[0,12],[-8,12]]', () => {
    const y = sn.conv2d(x4(), k3());
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(y.dataSync())).toEqual([0, 12, -8, 12]);
  });
  it('padding 1 → 4x4 whose centre is the valid result', () => {
    const y = sn.conv2d(x4(), k3(), { padding: 1 });
    expect(y.shape).toEqual([1, 4, 4, 1]);
    const d = y.dataSync();
    expect([d[5], d[6], d[9], d[10]]).toEqual([0, 12, -8, 12]);
  });
  it('padding 1, stride 3 → 2x2', () => {
    const y = sn.conv2d(x4(), k3(), { padding: 1, strides: 3 });
    expect(y.shape).toEqual([1, 2, 2, 1]);
  });
  it('3x3 max pooling, stride 1 → [[3,5],[9,9]]', () => {
    const y = sn.maxPool2d(x4(), { poolSize: 3, strides: 1 });
    expect(Array.from(y.dataSync())).toEqual([3, 5, 9, 9]);
  });
  it('2x2 average pooling, stride 2 → [[1,2.5],[-0.25,3.25]]', () => {
    const y = sn.avgPool2d(x4(), { poolSize: 2, strides: 2 });
    expect(Array.from(y.dataSync())).toEqual([1, 2.5, -0.25, 3.25]);
  });
});
