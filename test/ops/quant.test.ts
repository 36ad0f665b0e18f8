// Bad arguments to the 8-bit ops of src/ops/quant.ts: an Error naming the argument and the value, never a
// wasm trap, and no arena leak (checks run before any kernel, so once, not once per build).
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import {
  dequantize,
  qdepthwiseConv2d,
  type QTensor,
  qtensor,
  quantize,
  requantScale,
  quantizeWeights,
  quantParams,
} from '../../src/ops/quant.js';
import { qconv2d, qdense } from '../../src/ops/qgemm.js';
import { expectError } from '../kernels/harness.js';

beforeAll(async () => {
  await sn.ready();
});

const qx = (shape: number[], dtype: 'int8' | 'uint8' = 'int8') =>
  qtensor(new Array(shape.reduce((a, b) => a * b, 1)).fill(dtype === 'int8' ? 3 : 130), shape, {
    scale: 0.05,
    zeroPoint: dtype === 'int8' ? -2 : 128,
    dtype,
  });
const qw = (shape: number[], channels = shape[shape.length - 1]!) =>
  qtensor(new Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape, { scale: new Array(channels).fill(0.01) });

function using(ts: (QTensor | sn.Tensor)[], fn: () => void): void {
  try {
    fn();
  } finally {
    for (const t of ts) t.dispose();
  }
}

describe('quantize, qtensor, quantParams: bad parameters', () => {
  it('scale, zero point, dtype, per-channel count, non-finite input', () => {
    const x = sn.tensor(new Float32Array(12).fill(0.5), [2, 2, 3]);
    using([x], () => {
      expectError(() => quantize(x, { scale: 0 }), /quantize: scale\[0\] must be a positive finite float32, got 0/);
      expectError(() => quantize(x, { scale: Number.NaN }), /scale\[0\] must be a positive finite float32/);
      expectError(
        () => quantize(x, { scale: 0.1, zeroPoint: 200 }),
        /zeroPoint\[0\] must be an integer in \[-128, 127\] for int8, got 200/,
      );
      expectError(() => quantize(x, { scale: 0.1, zeroPoint: -1, dtype: 'uint8' }), /in \[0, 255\] for uint8, got -1/);
      expectError(() => quantize(x, { scale: 0.1, zeroPoint: 1.5 }), /zeroPoint\[0\] must be an integer/);
      expectError(
        () => quantize(x, { scale: 0.1, dtype: 'int4' as never }),
        /dtype must be 'int8' or 'uint8', got "int4"/,
      );
      expectError(
        () => quantize(x, { scale: [0.1, 0.2] }),
        /2 per-channel scales do not match the innermost axes of shape \[2,2,3\]/,
      );
      expectError(() => quantize(x, { scale: [0.1, 0.2, 0.3], zeroPoint: [0, 0] }), /3 scales but 2 zero points/);
      x.view()[4] = Number.POSITIVE_INFINITY;
      expectError(() => quantize(x, { scale: 0.1 }), /quantize: x contains Infinity at flat index 4/);
    });
    expectError(
      () => qtensor([1, 2, 300], [3], { scale: 1 }),
      /qtensor\(\): value at index 2 must be an integer in \[-128, 127\]/,
    );
    expectError(() => qtensor([1, 2], [3], { scale: 1 }), /2 values do not fill shape \[3\]/);
    expectError(() => quantParams(2, 1), /need finite min <= max, got min 2, max 1/);
    expectError(
      () => requantScale(1e30, 1e30, 1e-30, 'qconv2d'),
      /qconv2d: the requantization scale x.scale \* w.scale \/ outScale must be a positive finite float32, got Infinity/,
    );
    expectError(() => dequantize({} as QTensor), /dequantize: q must be a QTensor/);
  });

  it('a disposed QTensor', () => {
    const q = qx([4]);
    q.dispose();
    expectError(() => dequantize(q), /was disposed/);
  });
});

describe('qconv2d, qdepthwiseConv2d, qdense: bad operands and options', () => {
  it('qconv2d', () => {
    const x = qx([1, 5, 5, 3]),
      w = qw([3, 3, 4, 2]),
      w3 = qw([3, 3, 3, 2]),
      wz = qtensor(new Array(54).fill(1), [3, 3, 3, 2], { scale: [0.01, 0.01], zeroPoint: [0, 3] }),
      wu = qtensor(new Array(54).fill(1), [3, 3, 3, 2], { scale: 0.01, dtype: 'uint8' }),
      xc = qtensor(new Array(75).fill(1), [1, 5, 5, 3], { scale: [0.1, 0.1, 0.1] }),
      w7 = qw([7, 7, 3, 2]),
      b = sn.tensor([0.1, 0.2, 0.3], [3]);
    using([x, w, w3, wz, wu, xc, w7, b], () => {
      expectError(() => qconv2d(x, w, { outScale: 0.1 }), /qconv2d: input has 3 channels but the weight expects 4/);
      expectError(() => qconv2d(x, w3, { outScale: 0 }), /qconv2d: outScale must be a positive finite float32, got 0/);
      expectError(
        () => qconv2d(x, w3, { outScale: 0.1, outZeroPoint: 128 }),
        /outZeroPoint must be an integer in \[-128, 127\], got 128/,
      );
      expectError(
        () => qconv2d(x, w3, { outScale: 0.1, activation: 'tanh' as never }),
        /activation must be 'linear', 'relu' or 'relu6', got "tanh"/,
      );
      expectError(
        () => qconv2d(x, w3, { outScale: 0.1, bias: b }),
        /bias has 3 values but there are 2 output channels/,
      );
      expectError(
        () => qconv2d(x, w3, { outScale: 1e-45 }),
        /requantization scale x.scale \* w.scale \/ outScale must be a positive finite float32, got Infinity/,
      );
      expectError(() => qconv2d(x, wz, { outScale: 0.1 }), /weight zeroPoint\[1\] is 3; weights must be symmetric/);
      expectError(() => qconv2d(x, wu, { outScale: 0.1 }), /weight must be int8, got uint8/);
      expectError(() => qconv2d(xc, w3, { outScale: 0.1 }), /input x must be quantized per tensor, got 3 scales/);
      expectError(() => qconv2d(x, w3, { outScale: 0.1, strides: 0 }), /qconv2d: strides/);
      expectError(() => qconv2d(x, w7, { outScale: 0.1 }), /does not fit a 5x5 input/);
      expectError(() => qconv2d(x, w, { outScale: 0.1, name: 'conv_3' }), /^conv_3: input has 3 channels/);
    });
  });

  it('qdepthwiseConv2d and qdense', () => {
    const x = qx([1, 5, 5, 3], 'uint8'),
      wm = qw([3, 3, 3, 2], 6),
      x2 = qx([2, 6]),
      wd = qw([5, 4]),
      wr = qw([6]);
    using([x, wm, x2, wd, wr], () => {
      expectError(() => qdepthwiseConv2d(x, wm, { outScale: 0.1 }), /depth multiplier must be 1, got 2/);
      expectError(() => qdense(x2, wd, { outScale: 0.1 }), /qdense: input has 6 features but the weight expects 5/);
      expectError(() => qdense(x2, wr, { outScale: 0.1 }), /qdense: weight must have rank 2, got shape \[6\]/);
      expectError(() => qdense(x, wd, { outScale: 0.1 }), /qdense: input x must have rank 2, got shape \[1,5,5,3\]/);
    });
  });

  it('quantizeWeights: per-channel scales along the innermost axis, or the channels given', () => {
    const w = sn.tensor(new Float32Array(18).fill(0.25), [3, 3, 2, 1]);
    using([w], () => {
      const q1 = quantizeWeights(w);
      const q2 = quantizeWeights(w, 2);
      expect([q1.scale.length, q2.scale.length]).toEqual([1, 2]);
      expectError(
        () => quantizeWeights(w, 4),
        /4 per-channel scales do not match the innermost axes of shape \[3,3,2,1\]/,
      );
      q1.dispose();
      q2.dispose();
    });
  });
});
