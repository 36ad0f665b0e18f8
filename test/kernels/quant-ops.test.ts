// The int8 ops of src/ops/quant.ts against the integer references of test/ref/quant.ts, bit for bit, in
// every build: quantize/dequantize (per tensor int8/uint8, per-channel weights), qdense, qconv2d (im2col,
// 1x1, strides, 'same' padding, relu/relu6 clamps, uint8 input) and qdepthwiseConv2d (batch 1 cut into row
// ranges); their dequantized outputs stay within a few quantization steps of the float32 ops; and on the
// threads build the same bits at 1, 2 and 4 threads.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import {
  dequantize,
  qdepthwiseConv2d,
  type QConvOptions,
  type QTensor,
  quantize,
  quantizeWeights,
  quantParams,
} from '../../src/ops/quant.js';
import { qconv2d, qdense } from '../../src/ops/qgemm.js';
import { makeRng } from '../helpers/check.js';
import {
  dequantizeRef,
  qconv2dAccRef,
  type QGeom,
  qgemmAccRef,
  requantScaleRef,
  quantizeRef,
  type ReqRef,
  requantizeRef,
  roundHalfEven,
} from '../ref/quant.js';
import { build, rand, sameBitsAcrossThreads, seedOf } from './harness.js';

const ints = (q: QTensor) => Int32Array.from(q.values());

// The requantization and int32 bias the ops should derive, computed here from the scales.
function reqOf(x: QTensor, w: QTensor, K: number, outScale: number, zp: number, qmin: number, qmax: number): ReqRef {
  const scale = Array.from({ length: K }, (_, c) =>
    requantScaleRef(x.scale[0]!, w.scale[w.scale.length > 1 ? c : 0]!, outScale),
  );
  return { scale, zp, qmin, qmax };
}
const biasOf = (b: Float32Array, x: QTensor, w: QTensor) =>
  Int32Array.from(b, (v, c) => roundHalfEven(v / (x.scale[0]! * w.scale[w.scale.length > 1 ? c : 0]!)));

// x as int8 values with its zero point (uint8 shifted down by 128, as the ops take it).
function asInt8(x: QTensor): [Int32Array, number] {
  const v = ints(x);
  return x.dtype === 'int8' ? [v, x.zeroPoint[0]!] : [v.map((q) => q - 128), x.zeroPoint[0]! - 128];
}

describe('quantize / dequantize ops', () => {
  it('per tensor int8 and uint8 from quantParams; per-channel weights; dequantize', () => {
    const rng = makeRng(seedOf('quant ops quantize'));
    const data = rand(rng, 2 * 5 * 7, -1.5, 3);
    const x = sn.tensor(data, [2, 5, 7]);
    for (const dtype of ['int8', 'uint8'] as const) {
      const p = quantParams(-1.5, 3, dtype);
      const q = quantize(x, p);
      const [qmin, qmax] = dtype === 'int8' ? [-128, 127] : [0, 255];
      expect(ints(q)).toEqual(quantizeRef(data, [p.scale], [p.zeroPoint], qmin, qmax));
      const back = dequantize(q);
      expect(back.dataSync()).toEqual(dequantizeRef(ints(q), [p.scale], [p.zeroPoint]));
      // within half a step of the input (no value is clipped: the range covers the data)
      const err = Math.max(...Array.from(back.dataSync(), (v, i) => Math.abs(v - data[i]!)));
      expect(err).toBeLessThanOrEqual(p.scale / 2 + 1e-6);
      q.dispose();
      back.dispose();
    }
    const w = quantizeWeights(x);
    expect(w.scale.length).toBe(7);
    const scales = Array.from({ length: 7 }, (_, c) => {
      let m = 0;
      for (let i = c; i < data.length; i += 7) m = Math.max(m, Math.abs(data[i]!));
      return Math.fround(m / 127);
    });
    expect(Array.from(w.scale)).toEqual(scales);
    expect(ints(w)).toEqual(quantizeRef(data, scales, new Array(7).fill(0), -127, 127));
    w.dispose();
    x.dispose();
  });
});

interface QCase {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  S: number;
  padding: 'same' | 'valid';
  activation: 'linear' | 'relu' | 'relu6';
  dtype: 'int8' | 'uint8';
}

// x, w, bias as floats, quantized: x per tensor over its range, w per channel.
function operands(
  name: string,
  xShape: number[],
  wShape: number[],
  K: number,
  dtype: 'int8' | 'uint8',
  channels?: number,
) {
  const rng = makeRng(seedOf(name));
  const xs = xShape.reduce((a, b) => a * b, 1),
    ws = wShape.reduce((a, b) => a * b, 1);
  const xf = sn.tensor(rand(rng, xs, -1, 2), xShape),
    wf = sn.tensor(rand(rng, ws, -0.5, 0.5), wShape),
    bf = sn.tensor(rand(rng, K, -0.3, 0.3), [K]);
  const x = quantize(xf, quantParams(-1, 2, dtype));
  const w = quantizeWeights(wf, channels);
  return { xf, wf, bf, x, w };
}

function geomOf(c: QCase): QGeom {
  const same = c.padding === 'same';
  const OH = same ? Math.ceil(c.H / c.S) : Math.floor((c.H - c.KH) / c.S) + 1,
    OW = same ? Math.ceil(c.W / c.S) : Math.floor((c.W - c.KW) / c.S) + 1;
  const PT = same ? Math.floor(Math.max((OH - 1) * c.S + c.KH - c.H, 0) / 2) : 0,
    PL = same ? Math.floor(Math.max((OW - 1) * c.S + c.KW - c.W, 0) / 2) : 0;
  return { H: c.H, W: c.W, C: c.C, K: c.K, KH: c.KH, KW: c.KW, SH: c.S, SW: c.S, PT, PL, OH, OW };
}

function clampOf(act: string, outScale: number, zp: number): [number, number] {
  return [
    act === 'linear' ? -128 : Math.max(-128, zp),
    act === 'relu6' ? Math.min(127, zp + Math.round(6 / outScale)) : 127,
  ];
}

const CONV_CASES: QCase[] = [
  { N: 2, H: 6, W: 5, C: 3, K: 5, KH: 3, KW: 3, S: 1, padding: 'same', activation: 'linear', dtype: 'int8' },
  { N: 1, H: 7, W: 7, C: 8, K: 9, KH: 3, KW: 3, S: 2, padding: 'same', activation: 'relu', dtype: 'uint8' },
  { N: 5, H: 4, W: 4, C: 17, K: 8, KH: 1, KW: 1, S: 1, padding: 'valid', activation: 'relu6', dtype: 'int8' },
  { N: 3, H: 9, W: 8, C: 4, K: 7, KH: 5, KW: 3, S: 1, padding: 'valid', activation: 'relu6', dtype: 'uint8' },
];

describe('qconv2d and qdepthwiseConv2d', () => {
  for (const c of CONV_CASES) {
    const name = `x=[${c.N},${c.H},${c.W},${c.C}] f=[${c.KH},${c.KW},${c.C},${c.K}] s=${c.S} ${c.padding} ${c.activation} ${c.dtype}`;
    it(`qconv2d ${name}`, () => {
      const { xf, wf, bf, x, w } = operands(name, [c.N, c.H, c.W, c.C], [c.KH, c.KW, c.C, c.K], c.K, c.dtype);
      const [outScale, outZeroPoint] = [0.02, -9];
      const opts: QConvOptions = {
        strides: c.S,
        padding: c.padding,
        activation: c.activation,
        bias: bf,
        outScale,
        outZeroPoint,
      };
      const y = qconv2d(x, w, opts);
      const [xv, za] = asInt8(x);
      const [qmin, qmax] = clampOf(c.activation, outScale, outZeroPoint);
      const acc = qconv2dAccRef(xv, ints(w), biasOf(bf.dataSync() as Float32Array, x, w), geomOf(c), c.N, za);
      expect(ints(y)).toEqual(requantizeRef(acc, c.K, reqOf(x, w, c.K, outScale, outZeroPoint, qmin, qmax)));
      // the float32 convolution of the dequantized operands, within 1.5 output steps
      const [xd, wd] = [dequantize(x), dequantize(w)];
      const act = c.activation === 'linear' ? undefined : c.activation;
      const yf = sn.conv2d(xd, wd, { strides: c.S, padding: c.padding, bias: bf, activation: act }).dataSync();
      const yd = dequantize(y).dataSync();
      const lo = (qmin - outZeroPoint) * outScale,
        hi = (qmax - outZeroPoint) * outScale;
      yd.forEach((v, i) => {
        expect(Math.abs(v - Math.min(hi, Math.max(lo, yf[i]!))), `output ${i}`).toBeLessThanOrEqual(1.5 * outScale);
      });
      for (const t of [xf, wf, bf, x, w, y, xd, wd]) t.dispose();
    });
  }

  for (const [N, H, C, S, padding] of [
    [1, 9, 13, 1, 'same'],
    [5, 6, 8, 2, 'same'],
    [2, 7, 21, 1, 'valid'],
  ] as const) {
    const name = `x=[${N},${H},${H},${C}] f=[3,3,${C},1] s=${S} ${padding}`;
    it(`qdepthwiseConv2d ${name}`, () => {
      const { xf, wf, bf, x, w } = operands(name, [N, H, H, C], [3, 3, C, 1], C, 'int8', C);
      const [outScale, outZeroPoint] = [0.015, 4];
      const y = qdepthwiseConv2d(x, w, { strides: S, padding, bias: bf, activation: 'relu', outScale, outZeroPoint });
      const g = geomOf({ N, H, W: H, C, K: C, KH: 3, KW: 3, S, padding, activation: 'relu', dtype: 'int8' });
      const acc = qconv2dAccRef(
        ints(x),
        ints(w),
        biasOf(bf.dataSync() as Float32Array, x, w),
        g,
        N,
        x.zeroPoint[0]!,
        true,
      );
      expect(ints(y)).toEqual(requantizeRef(acc, C, reqOf(x, w, C, outScale, outZeroPoint, outZeroPoint, 127)));
      for (const t of [xf, wf, bf, x, w, y]) t.dispose();
    });
  }
});

describe('qdense', () => {
  for (const [N, IN, OUT] of [
    [1, 7, 3],
    [4, 8, 8],
    [13, 33, 17],
  ] as const)
    it(`x=[${N},${IN}] w=[${IN},${OUT}]`, () => {
      const { xf, wf, bf, x, w } = operands(`qdense ${N} ${IN} ${OUT}`, [N, IN], [IN, OUT], OUT, 'int8');
      const y = qdense(x, w, { bias: bf, outScale: 0.03, outZeroPoint: 2 });
      const acc = qgemmAccRef(
        ints(x),
        ints(w),
        biasOf(bf.dataSync() as Float32Array, x, w),
        N,
        OUT,
        IN,
        x.zeroPoint[0]!,
      );
      expect(ints(y)).toEqual(requantizeRef(acc, OUT, reqOf(x, w, OUT, 0.03, 2, -128, 127)));
      for (const t of [xf, wf, bf, x, w, y]) t.dispose();
    });
});

describe.runIf(build === 'threads')('int8 ops: the same bits at 1, 2 and 4 threads', () => {
  it('qconv2d x=[4,16,16,16] and x=[1,24,24,16] 3x3, qdense x=[64,256] w=[256,64], qdepthwiseConv2d x=[1,48,48,32]', async () => {
    const conv = operands('threads conv', [4, 16, 16, 16], [3, 3, 16, 16], 16, 'int8');
    const conv1 = operands('threads conv batch 1', [1, 24, 24, 16], [3, 3, 16, 16], 16, 'int8');
    const dense = operands('threads dense', [64, 256], [256, 64], 64, 'int8');
    const dw = operands('threads dw', [1, 48, 48, 32], [3, 3, 32, 1], 32, 'int8', 32);
    const run = (): Float32Array[] => {
      const ys = [
        qconv2d(conv.x, conv.w, { padding: 'same', bias: conv.bf, outScale: 0.05 }),
        qconv2d(conv1.x, conv1.w, { padding: 'same', bias: conv1.bf, outScale: 0.05, activation: 'relu6' }),
        qdense(dense.x, dense.w, { bias: dense.bf, outScale: 0.1, activation: 'relu' }),
        qdepthwiseConv2d(dw.x, dw.w, { padding: 'same', bias: dw.bf, outScale: 0.02, outZeroPoint: -3 }),
      ];
      const out = ys.map((y) => Float32Array.from(y.values()));
      for (const y of ys) y.dispose();
      return out;
    };
    await sameBitsAcrossThreads(run);
    for (const o of [conv, conv1, dense, dw]) for (const t of Object.values(o)) t.dispose();
  });
});
