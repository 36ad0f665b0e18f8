// The int8 path of an imported float ONNX graph, as torch.onnx.export writes one in eval mode (BatchNorm folded,
// Conv and Relu / Clip(0, 6) as separate nodes, explicit pads): sn.loadONNX, sn.quantize, toONNX (QDQ), and
// that file run by simdnet (sn.loadONNX again) and by onnxruntime-node. The graph has what MobileNetV2 and
// ResNet-18 need: a convolution with Clip(0, 6), a stride-2 depthwise one with Relu, a 1x1 projection, a
// residual Add with Relu after it, GlobalAveragePool, Flatten and Gemm. The Relu / Clip after a convolution
// become the int8 layers' activations; the re-imported QDQ file predicts exactly as the quantized model, and
// so does ORT on it (both requantize with a float32 scale, rounding half to even).
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import type { QuantizedLayerConfig } from '../../src/quant/layers.js';
import { makeRng } from '../helpers/check.js';
import { int, ints, opGraph } from './fixtures.js';

const live: sn.Model[] = [];
beforeAll(async () => {
  await sn.ready();
});
afterAll(() => {
  for (const m of live) m.dispose();
});

const rng = makeRng(31);
const init = (name: string, dims: number[], lo = -0.5, hi = 0.5) => ({
  name,
  dims,
  data_type: 1,
  float_data: Array.from(
    rng.fill(
      dims.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  ),
});
const scalar = (name: string, v: number) => ({ name, dims: [], data_type: 1, float_data: [v] });

const SHAPE = [4, 10, 10];
const PIX = 400;
const bytes = opGraph(
  [
    { op: 'Conv', in: ['x', 'w0', 'b0'], attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] },
    { op: 'Clip', in: ['t0', 'zero', 'six'] },
    {
      op: 'Conv',
      in: ['t1', 'wd', 'bd'],
      attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2]), int('group', 8)],
    },
    { op: 'Relu', in: ['t2'] },
    { op: 'Conv', in: ['t3', 'w1', 'b1'], attrs: [ints('kernel_shape', [1, 1])] },
    { op: 'Add', in: ['t4', 't3'] },
    { op: 'Relu', in: ['t5'] },
    { op: 'GlobalAveragePool', in: ['t6'] },
    { op: 'Flatten', in: ['t7'] },
    { op: 'Gemm', in: ['t8', 'wg', 'bg'], attrs: [int('transB', 1)] },
  ],
  SHAPE,
  [
    init('w0', [8, 4, 3, 3]),
    init('b0', [8], 0, 0.5),
    scalar('zero', 0),
    scalar('six', 6),
    init('wd', [8, 1, 3, 3], -1, 1),
    init('bd', [8], -0.2, 0.2),
    init('w1', [8, 8, 1, 1]),
    init('b1', [8], -0.1, 0.1),
    init('wg', [5, 8], -1, 1),
    init('bg', [5], -0.1, 0.1),
  ],
  13,
  'qdq_imported',
);

const N = 16;
const x = Float32Array.from(rng.fill(N * PIX, -1, 1));

function predict(m: sn.Model): Float32Array {
  const p = m.predict({ data: x, shape: [N, ...SHAPE] }, { batchSize: N });
  const d = Float32Array.from(p.dataSync());
  p.dispose();
  return d;
}

async function ortRun(file: Uint8Array, optimized: boolean): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: optimized ? 'all' : 'disabled',
  });
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [N, ...SHAPE]) });
  await s.release();
  return Float32Array.from(out[s.outputNames[0]!]!.data as Float32Array);
}

describe('imported float graph -> quantize -> QDQ file -> simdnet and onnxruntime-node', () => {
  it('Relu / Clip fused, the QDQ file imports back exactly, ORT gives the same outputs', async () => {
    const float = await sn.loadONNX(bytes);
    live.push(float);
    const cal = sn.tensor(Float32Array.from(rng.fill(32 * PIX, -1, 1)), [32, ...SHAPE]);
    const q = sn.quantize(float, { calibration: cal, activations: 'int8', batchSize: 8 });
    cal.dispose();
    live.push(q);
    const acts = (m: sn.Model) =>
      m.layers.filter((l) => l.className.startsWith('Quantized')).map((l) => `${l.className}:${l.activation}`);
    const want = [
      'QuantizedConv2D:relu6',
      'QuantizedDepthwiseConv2D:relu',
      'QuantizedConv2D:linear',
      'QuantizedDense:linear',
    ];
    expect(acts(q)).toEqual(want);
    // the Relu after the Add stays (it reads a float sum)
    expect(q.layers.filter((l) => ['ReLU', 'Activation'].includes(l.className))).toHaveLength(1);

    const qdq = await sn.toONNX(q);
    const back = await sn.loadONNX(qdq);
    live.push(back);
    expect(acts(back)).toEqual(want);
    const y = predict(q);
    expect(Array.from(predict(back))).toEqual(Array.from(y));

    const step = (q.layers.at(-1)!.getConfig() as unknown as QuantizedLayerConfig).outputScale!;
    for (const optimized of [true, false]) {
      const o = await ortRun(qdq, optimized);
      expect(o.length).toBe(y.length);
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - o[i]!) / step);
      expect(worst).toBe(0);
    }
    // and int8 stays near the float model (the comparison is not between constants); measured 0.11 of the
    // largest logit: eight channels and 32 calibration images leave coarse steps, a wrong layout gives ~1
    const f = predict(float);
    let top = 0,
      d = 0;
    for (let i = 0; i < f.length; i++) {
      top = Math.max(top, Math.abs(f[i]!));
      d = Math.max(d, Math.abs(f[i]! - y[i]!));
    }
    expect(new Set(Array.from(y)).size).toBeGreaterThan(N);
    expect(d).toBeLessThan(0.2 * top);
  });
});
