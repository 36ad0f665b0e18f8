// Export of quantized models as QDQ ONNX (src/formats/onnx/emit/quant.ts): sn.quantize a small CNN (conv relu,
// depthwise relu6, max pool, dense relu, dense linear), toONNX, run in onnxruntime-node with its graph
// optimizations (QDQ fused into ORT's int8 kernels) and without (float reference): the outputs are simdnet's
// exactly (both requantize with a float32 scale and round half to even). Importing the exported file gives back the int8 layers with bit-identical predictions. Weight-only
// ('float32') models match ORT to float tolerance.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import type { QuantizedLayerConfig } from '../../src/quant/layers.js';

let model: sn.Model;
const live: sn.Model[] = [];

function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

const SHAPE = [8, 8, 2];
const N = 16;
const x = uniform(N * 128, -1, 1, 11);

beforeAll(async () => {
  await sn.ready();
  const L = sn.layers;
  model = sn.sequential({
    seed: 5,
    layers: [
      L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: SHAPE }),
      new sn.DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 12, activation: 'relu' }),
      L.dense({ units: 4 }),
    ],
  });
  model.build();
});
afterAll(() => {
  for (const m of live) m.dispose();
  model.dispose();
});

function quantized(activations: 'int8' | 'float32'): sn.Model {
  const cal = sn.tensor(uniform(64 * 128, -1, 1, 3), [64, ...SHAPE]);
  const q = sn.quantize(model, { calibration: cal, activations });
  cal.dispose();
  live.push(q);
  return q;
}

async function ort1(bytes: Uint8Array, optimized: boolean, v = x, shape = [N, ...SHAPE]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimized ? 'all' : 'disabled',
  });
  const out = await s.run({ input: new ort.Tensor('float32', v, shape) });
  await s.release();
  return Float32Array.from(out.output!.data as Float32Array);
}

function predict(m: sn.Model, v = x, shape = [N, ...SHAPE]): Float32Array {
  const y = m.predict(sn.tensor(v, shape)) as sn.Tensor;
  const d = Float32Array.from(y.dataSync());
  y.dispose();
  return d;
}

describe('toONNX of quantized models (QDQ) vs onnxruntime-node', () => {
  it("activations 'int8': ORT's outputs exactly, optimized and reference", async () => {
    const q = quantized('int8');
    const last = q.layers.at(-1)!.getConfig() as unknown as QuantizedLayerConfig;
    expect(q.layers.at(-1)!.className).toBe('QuantizedDense');
    const step = last.outputScale!;
    const bytes = await sn.toONNX(q);
    const y = predict(q);
    const lines: string[] = [];
    for (const optimized of [true, false]) {
      const o = await ort1(bytes, optimized);
      expect(o.length).toBe(y.length);
      let worst = 0,
        off = 0;
      for (let i = 0; i < y.length; i++) {
        const d = Math.abs(y[i]! - o[i]!) / step;
        worst = Math.max(worst, d);
        if (d > 0.5) off++;
      }
      lines.push(
        `ORT ${optimized ? 'optimized' : 'reference'}: max ${worst.toFixed(3)} steps, ${off} of ${y.length} off`,
      );
      expect(worst).toBe(0);
      expect(off).toBe(0);
    }
    console.log(`quantize -> toONNX -> onnxruntime-node, output step ${step}:\n  ${lines.join('\n  ')}`);
    // the outputs vary: the comparison is not between constants
    expect(new Set(Array.from(y)).size).toBeGreaterThan(8);
  });

  it('the exported file imports back as the int8 layers, with the same predictions', async () => {
    const q = quantized('int8');
    const back = await sn.loadONNX(await sn.toONNX(q));
    live.push(back);
    const classes = back.layers.map((l) => l.className);
    for (const c of ['QuantizedConv2D', 'QuantizedDepthwiseConv2D', 'QuantizedDense'])
      expect(classes.filter((k) => k === c).length).toBe(c === 'QuantizedDense' ? 2 : 1);
    expect(classes).not.toContain('FakeQuant');
    expect(Array.from(predict(back))).toEqual(Array.from(predict(q)));
  });

  it("activations 'float32' (weight-only): ORT matches to float tolerance", async () => {
    const q = quantized('float32');
    const bytes = await sn.toONNX(q);
    const y = predict(q);
    for (const optimized of [true, false]) {
      const o = await ort1(bytes, optimized);
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - o[i]!));
      expect(worst).toBeLessThan(1e-4);
    }
  });
});

describe('imported quantized graphs export again (FakeQuant as QuantizeLinear / DequantizeLinear / Cast)', () => {
  // fixture, input shape, output step
  for (const [name, shape, step] of [
    ['fq_u8', [2, 64], 0.25],
    ['q_s8_int_output', [2, 64], 1],
    ['qdq_conv_u8_sigmoid', [2, 3, 9, 9], 0.0471],
    ['qdq_conv_u8_relu', [2, 3, 9, 9], 0.0471],
    ['qlinear_conv_u8_chain', [2, 3, 9, 9], 0.061],
  ] as const)
    it(`${name}: ORT on the exported file gives simdnet's output exactly`, async () => {
      const file = new Uint8Array(readFileSync(join(__dirname, '..', 'fixtures', 'qdq', `${name}.onnx`)));
      const m = await sn.loadONNX(file);
      live.push(m);
      const n = shape.reduce((a, b) => a * b, 1);
      const v = uniform(n, -40 * step, 40 * step, name.length);
      const y = predict(m, v, [...shape]);
      const o = await ort1(await sn.toONNX(m), true, v, [...shape]);
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - o[i]!) / step);
      expect(o.length).toBe(y.length);
      expect(worst).toBe(0);
    });
});
