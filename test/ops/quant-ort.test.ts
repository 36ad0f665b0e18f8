// The int8 convolution against onnxruntime-node's QLinearConv (int8 x, int8 weights per output channel,
// int32 bias) on the same integers. The two differ only in requantization: onnxruntime (MLAS) multiplies
// the accumulator by the float32 scale x_scale * w_scale[c] / y_scale and rounds half to even; simdnet
// uses TFLite's fixed-point multiplier and shift (ties of the final shift away from zero). So outputs
// agree exactly except where acc * scale lies within rounding error of a half: there they differ by one
// step. Checked: onnxruntime equals that float32 rule exactly (a TS model of it), and simdnet is within
// one step of onnxruntime on a small fraction of the outputs.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { qtensor } from '../../src/ops/quant.js';
import { qconv2d } from '../../src/ops/qgemm.js';
import { makeRng } from '../helpers/check.js';
import { qconv2dAccRef, roundHalfEven } from '../ref/quant.js';

beforeAll(async () => {
  await sn.ready();
});

const INT8 = 3,
  INT32 = 6,
  FLOAT = 1;
const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const init = (name: string, type: number, dims: number[], data: ArrayBufferView) => ({
  name,
  data_type: type,
  dims,
  raw_data: raw(data),
});

// A one-node QLinearConv model: input x int8 (N, C, H, W), output y int8.
function qlinearConv(
  xShape: number[],
  w: Int8Array,
  wShape: number[],
  bias: Int32Array,
  s: { x: number; xz: number; w: Float32Array; y: number; yz: number },
  attrs: { pads: number[]; strides: number[] },
): Uint8Array {
  const K = wShape[0]!;
  const valueInfo = (name: string, shape: number[] | null) => ({
    name,
    type: {
      tensor_type: { elem_type: INT8, ...(shape ? { shape: { dim: shape.map((d) => ({ dim_value: d })) } } : {}) },
    },
  });
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  const graph = {
    name: 'qconv',
    node: [
      {
        op_type: 'QLinearConv',
        input: ['x', 'x_scale', 'x_zp', 'w', 'w_scale', 'w_zp', 'y_scale', 'y_zp', 'b'],
        output: ['y'],
        attribute: [ints('kernel_shape', wShape.slice(2)), ints('pads', attrs.pads), ints('strides', attrs.strides)],
      },
    ],
    initializer: [
      init('x_scale', FLOAT, [], Float32Array.of(s.x)),
      init('x_zp', INT8, [], Int8Array.of(s.xz)),
      init('w', INT8, wShape, w),
      init('w_scale', FLOAT, [K], s.w),
      init('w_zp', INT8, [K], new Int8Array(K)),
      init('y_scale', FLOAT, [], Float32Array.of(s.y)),
      init('y_zp', INT8, [], Int8Array.of(s.yz)),
      init('b', INT32, [K], bias),
    ],
    input: [valueInfo('x', xShape)],
    output: [valueInfo('y', null)],
  };
  const Model = onnxType('ModelProto');
  const obj = { ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph };
  const err = Model.verify(obj);
  if (err) throw new Error(err);
  return Model.encode(Model.fromObject(obj)).finish();
}

// NHWC <-> NCHW of an int array.
function toNCHW(v: ArrayLike<number>, N: number, H: number, W: number, C: number): Int8Array {
  const out = new Int8Array(v.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = v[((n * H + h) * W + w) * C + c]!;
  return out;
}

describe('qconv2d vs onnxruntime QLinearConv', () => {
  for (const [N, H, W, C, K, KH, S, P] of [
    [2, 9, 8, 5, 7, 3, 1, 1],
    [1, 12, 12, 16, 24, 3, 2, 1],
    [3, 6, 6, 32, 16, 1, 1, 0],
  ] as const)
    it(`x=[${N},${H},${W},${C}] f=[${KH},${KH},${C},${K}] s=${S} p=${P}`, async () => {
      const rng = makeRng(N * 1000 + C);
      const ints = (n: number, lo: number, hi: number) =>
        Int32Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));
      const x = ints(N * H * W * C, -128, 127),
        wk = ints(KH * KH * C * K, -127, 127), // (KH, KW, C, K)
        bias = ints(K, -2000, 2000);
      const scales = {
        x: 0.037,
        xz: -5,
        w: Float32Array.from({ length: K }, () => rng.uniform(0.002, 0.01)),
        y: 0.21,
        yz: 3,
      };
      const qx = qtensor(x, [N, H, W, C], { scale: scales.x, zeroPoint: scales.xz });
      const qw = qtensor(wk, [KH, KH, C, K], { scale: Array.from(scales.w) });
      // the bias as float32 values that quantize back to exactly `bias` at x.scale * w.scale[c]
      const bf = sn.tensor(
        Float32Array.from(bias, (b, c) => b * scales.x * scales.w[c]!),
        [K],
      );
      const y = qconv2d(qx, qw, { padding: P, strides: S, bias: bf, outScale: scales.y, outZeroPoint: scales.yz });
      const ours = Int32Array.from(y.values());
      const OH = Math.floor((H + 2 * P - KH) / S) + 1,
        OW = Math.floor((W + 2 * P - KH) / S) + 1;
      // onnxruntime, NCHW
      const wOIHW = new Int8Array(K * C * KH * KH);
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KH; kw++)
          for (let c = 0; c < C; c++)
            for (let k = 0; k < K; k++)
              wOIHW[((k * C + c) * KH + kh) * KH + kw] = wk[((kh * KH + kw) * C + c) * K + k]!;
      const model = qlinearConv([N, C, H, W], wOIHW, [K, C, KH, KH], bias, scales, {
        pads: [P, P, P, P],
        strides: [S, S],
      });
      const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const out = await s.run({ x: new ort.Tensor('int8', toNCHW(x, N, H, W, C), [N, C, H, W]) });
      await s.release();
      const theirsNCHW = out.y!.data as Int8Array;
      const theirs = new Int32Array(ours.length);
      for (let n = 0; n < N; n++)
        for (let h = 0; h < OH; h++)
          for (let w = 0; w < OW; w++)
            for (let k = 0; k < K; k++)
              theirs[((n * OH + h) * OW + w) * K + k] = theirsNCHW[((n * K + k) * OH + h) * OW + w]!;
      // onnxruntime's rule, modelled: float32 acc times the float32 scale, rounded half to even
      const acc = qconv2dAccRef(
        x,
        wk,
        bias,
        { H, W, C, K, KH, KW: KH, SH: S, SW: S, PT: P, PL: P, OH, OW },
        N,
        scales.xz,
      );
      const f = Math.fround;
      const model32 = Int32Array.from(acc, (a, i) => {
        const scale = f(f(f(scales.x) * scales.w[i % K]!) / f(scales.y));
        return Math.min(127, Math.max(-128, roundHalfEven(f(f(a) * scale)) + scales.yz));
      });
      expect(theirs, 'onnxruntime = float32 requantization, half to even').toEqual(model32);
      let differ = 0;
      ours.forEach((v, i) => {
        expect(Math.abs(v - theirs[i]!), `output ${i}: simdnet ${v}, onnxruntime ${theirs[i]}`).toBeLessThanOrEqual(1);
        if (v !== theirs[i]) differ++;
      });
      expect(differ / ours.length, `${differ} of ${ours.length} outputs differ by one step`).toBeLessThan(0.02);
      for (const t of [qx, qw, bf, y]) t.dispose();
    });
});
