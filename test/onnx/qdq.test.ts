// Quantized ONNX import (QDQ and QOperator graphs of test/fixtures/qdq, written by scripts/fixtures/qdq.py)
// against onnxruntime-node, in quantization steps of the output: ORT with its graph optimizations (it fuses
// QDQ into its own int8 kernels, as deployed) and without (the float reference semantics of the graph).
// int8 chains must become Quantized* layers, the others compute in float between FakeQuant layers; both
// give ORT's outputs exactly (the int8 layers requantize as ORT's MLAS does: float32 scale, round half to
// even), at rounding edges (exact half steps, saturation) too.
// Unsupported attributes and types are refused by name; a file's own 'simdnet:' attributes are ignored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';

const DIR = join(__dirname, '..', 'fixtures', 'qdq');
const bytes = (name: string) => new Uint8Array(readFileSync(join(DIR, `${name}.onnx`)));

beforeAll(async () => {
  await sn.ready();
});

/** Seeded uniform values in [lo, hi). */
function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

async function runOrt(file: Uint8Array, x: Float32Array, shape: number[], optimized: boolean): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimized ? 'all' : 'disabled',
  });
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
  await s.release();
  return Float32Array.from(out[s.outputNames[0]!]!.data as ArrayLike<number>);
}

function runSn(m: sn.Model, x: Float32Array, shape: number[]): Float32Array {
  const y = m.predict(sn.tensor(x, shape)) as sn.Tensor;
  const d = Float32Array.from(y.dataSync());
  y.dispose();
  return d;
}

/** max |a - b| / step. */
function steps(a: ArrayLike<number>, b: ArrayLike<number>, step: number): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / step);
  return Math.round(m * 1000) / 1000;
}

const layerClasses = (m: sn.Model) => m.layers.map((l) => l.className);

// name, input shape, output step (y_scale), the path, input range (wide enough to saturate), and the
// requantizations on the way.
const CASES: Array<[string, number[], number, 'int8' | 'float', number, number]> = [
  ['qdq_conv_u8_relu', [2, 3, 9, 9], 0.0471, 'int8', 3, 1],
  ['qdq_conv_s8_linear', [2, 3, 9, 9], 0.0471, 'int8', 3, 1],
  ['qdq_dwconv_s8_relu6', [2, 5, 9, 9], 0.0471, 'int8', 3, 1],
  ['qdq_gemm_u8_relu', [16, 16], 0.043, 'int8', 4, 1],
  ['qdq_matmul_s8', [16, 16], 0.043, 'int8', 4, 1],
  ['qdq_pool_chain', [2, 3, 8, 8], 0.05, 'int8', 2.6, 2],
  ['qlinear_conv_u8', [2, 3, 9, 9], 0.061, 'int8', 2.5, 1],
  ['qlinear_conv_u8_chain', [2, 3, 9, 9], 0.061, 'int8', 2.5, 2],
  ['qlinear_matmul_s8', [16, 16], 0.09, 'int8', 3.5, 1],
  ['qdq_conv_u8_sigmoid', [2, 3, 9, 9], 0.0471, 'float', 3, 1],
  ['qdq_conv_asym_weights', [2, 3, 9, 9], 0.0471, 'float', 3, 1],
  ['qlinear_conv_u8_weights', [2, 3, 9, 9], 0.061, 'float', 2.5, 1],
];

const measured: string[] = [];

describe('quantized ONNX graphs vs onnxruntime-node', () => {
  for (const [name, shape, step, path, range, requants] of CASES) {
    it(`${name}: ${path} path, ${requants} requantization(s), ORT's outputs exactly (optimized and reference)`, async () => {
      const file = bytes(name);
      const m = await sn.loadONNX(file);
      const classes = layerClasses(m);
      const int8 = classes.filter((c) => c.startsWith('Quantized'));
      if (path === 'int8') expect(int8.length).toBeGreaterThan(0);
      else {
        expect(int8).toEqual([]);
        expect(classes).toContain('FakeQuant');
      }
      const x = uniform(
        shape.reduce((a, b) => a * b, 1),
        -range,
        range,
        name.length * 7919,
      );
      const y = runSn(m, x, shape);
      const [fast, ref] = [await runOrt(file, x, shape, true), await runOrt(file, x, shape, false)];
      const [dFast, dRef] = [steps(y, fast, step), steps(y, ref, step)];
      const off = (o: Float32Array) => y.filter((v, i) => Math.abs(v - o[i]!) > step / 2).length;
      measured.push(
        `${name} (${path}): max ${dFast} steps vs ORT optimized (${off(fast)} of ${y.length} values off), ` +
          `${dRef} vs ORT reference (${off(ref)} off)`,
      );
      expect(dFast).toBe(0);
      expect(dRef).toBe(0);
      // the outputs are not all zero or saturated: the comparison sees the requantization
      expect(new Set(Array.from(y)).size).toBeGreaterThan(10);
      m.dispose();
    });
  }

  it('prints the measured differences', () => {
    console.log(`QDQ import, max |simdnet - ORT| in output steps:\n  ${measured.join('\n  ')}`);
    expect(measured.length).toBe(CASES.length);
  });
});

describe('rounding edges: exact half steps and saturation match ORT exactly', () => {
  // x = (k + 1/2) * scale exactly (scales are powers of two) for k across and beyond the range.
  const halves = (scale: number) => Float32Array.from({ length: 64 }, (_, i) => (i * 9 - 300 + 0.5) * scale);
  for (const [name, scale] of [
    ['fq_u8', 0.25],
    ['fq_s8', 0.5],
    ['q_s8_int_output', 0.125],
  ] as const) {
    it(`${name}: ties to even, saturation`, async () => {
      const file = bytes(name);
      const m = await sn.loadONNX(file);
      expect(layerClasses(m)).toContain('FakeQuant');
      const x = halves(scale);
      const y = runSn(m, x, [1, 64]);
      expect(Array.from(y)).toEqual(Array.from(await runOrt(file, x, [1, 64], false)));
      expect(Array.from(y)).toEqual(Array.from(await runOrt(file, x, [1, 64], true)));
      // both saturation ends are reached
      const lo = Math.min(...y),
        hi = Math.max(...y);
      expect(y.filter((v) => v === lo).length).toBeGreaterThan(1);
      expect(y.filter((v) => v === hi).length).toBeGreaterThan(1);
      m.dispose();
    });
  }
});

describe('imported quantized models save and load as themselves', () => {
  for (const name of ['qdq_conv_u8_sigmoid', 'qdq_pool_chain', 'q_s8_int_output'])
    it(name, async () => {
      const m = await sn.loadONNX(bytes(name));
      const back = sn.loadModel(sn.saveModel(m));
      expect(layerClasses(back)).toEqual(layerClasses(m));
      const shape = [2, ...m.inputs[0]!.shape];
      const x = uniform(
        shape.reduce((a, b) => a * b, 1),
        -3,
        3,
        5,
      );
      expect(Array.from(runSn(back, x, shape))).toEqual(Array.from(runSn(m, x, shape)));
      m.dispose();
      back.dispose();
    });
});

describe("a file's own 'simdnet:' attributes change nothing", () => {
  it('QLinearConv marked as a fused Gemm with relu6 imports as the plain QLinearConv', async () => {
    const T = onnxType('ModelProto');
    const msg = T.decode(bytes('qlinear_conv_u8')) as unknown as {
      graph: { node: Array<{ op_type: string; attribute: unknown[] }> };
    };
    const node = msg.graph.node.find((n) => n.op_type === 'QLinearConv')!;
    const enc = (v: string) => new TextEncoder().encode(v);
    node.attribute.push(
      { name: 'simdnet:fused_op', type: 3, s: enc('Gemm') },
      { name: 'simdnet:activation', type: 3, s: enc('relu6') },
    );
    const marked = await sn.loadONNX(T.encode(msg as never).finish());
    const plain = await sn.loadONNX(bytes('qlinear_conv_u8'));
    expect(layerClasses(marked)).toEqual(layerClasses(plain));
    const x = uniform(2 * 3 * 81, -2.5, 2.5, 3);
    expect(Array.from(runSn(marked, x, [2, 3, 9, 9]))).toEqual(Array.from(runSn(plain, x, [2, 3, 9, 9])));
    marked.dispose();
    plain.dispose();
  });
});

describe('refusals name the node, attribute and value', () => {
  for (const [name, msg] of [
    ['refuse_axis', /QuantizeLinear.*scale has 3 values \(attribute axis 1\).*per tensor/],
    ['refuse_saturate', /QuantizeLinear.*attribute saturate 0 is not supported/],
    ['refuse_block_size', /QuantizeLinear.*attribute block_size 2 is not supported/],
    ['refuse_int16', /QuantizeLinear.*zero point is int16; only int8 and uint8/],
    ['refuse_float8', /initializer 'zp8' has element type 17, which the importer does not read/],
    ['refuse_qlinearadd', /unsupported operator.*com\.microsoft\.QLinearAdd/],
  ] as const)
    it(name, async () => {
      await expect(sn.loadONNX(bytes(name))).rejects.toThrow(msg);
    });
});
