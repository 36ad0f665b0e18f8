// The ONNX fixtures exported by scripts/fixtures/export_onnx.py (PyTorch's torch.onnx.export, random
// weights): each .onnx file with a reference input and PyTorch's output for it (raw float32); and the
// builder of the small hand-written graphs the operator tests check against onnxruntime-node.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/onnx');

export interface Fixture {
  name: string;
  path: string;
  opset: number;
  bytes: Uint8Array;
  input: Float32Array;
  inputShape: number[];
  output: Float32Array;
  outputShape: number[];
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Record<
  string,
  { file: string; opset: number; inputShape: number[]; outputShape: number[] }
>;

const f32 = (p: string) => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Fixture names whose files are present (the full-width ResNet-18 is regenerated, not committed); the
 * 224×224 models (`export_onnx.py --zoo224`) are the bench's, too large for the test suite.
 */
export const fixtureNames = Object.keys(manifest).filter(
  (n) => !n.endsWith('_224') && existsSync(join(FIXTURES, manifest[n].file)),
);

export function fixture(name: string): Fixture {
  const m = manifest[name];
  const path = join(FIXTURES, m.file);
  return {
    name,
    path,
    opset: m.opset,
    bytes: new Uint8Array(readFileSync(path)),
    input: f32(join(FIXTURES, `${name}.input.bin`)),
    inputShape: m.inputShape,
    output: f32(join(FIXTURES, `${name}.output.bin`)),
    outputShape: m.outputShape,
  };
}

/** onnxruntime-node's output for one input (single-threaded: the machine is shared). */
export async function runOrt(model: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, shape) });
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

/** max |a - b|, and the largest |b| (the tolerance scales with it). */
export function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; scale: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0,
    scale = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { max, scale };
}

/** An attribute of a hand-written node: ints, int, floats, float or string. */
export type Attr = Record<string, unknown>;
export const ints = (name: string, v: number[]): Attr => ({ name, type: 7, ints: v });
export const int = (name: string, v: number): Attr => ({ name, type: 2, i: v });
export const floats = (name: string, v: number[]): Attr => ({ name, type: 6, floats: v });
export const float = (name: string, v: number): Attr => ({ name, type: 1, f: v });
export const str = (name: string, v: string): Attr => ({ name, type: 3, s: new TextEncoder().encode(v) });

/** A node of {@link opGraph}: node i writes t{i} (the last one y) unless it names its outputs. */
export interface OpNode {
  op: string;
  in: string[];
  out?: string[];
  attrs?: Attr[];
}

/**
 * A ModelProto of `nodes` from float input x [N, ...shape] to y, with `inits` as initializers (before
 * IR 4, opset < 9, they are listed as graph inputs too, as such files have them).
 */
export function opGraph(
  nodes: OpNode[],
  shape: number[],
  inits: Array<Record<string, unknown>>,
  opset = 13,
  name = 'ops',
): Uint8Array {
  const tensorType = (elem: unknown, dims: Array<Record<string, unknown>>) => ({
    tensor_type: { elem_type: elem, shape: { dim: dims } },
  });
  const obj = {
    ir_version: opset < 9 ? 3 : 8,
    opset_import: [{ domain: '', version: opset }],
    graph: {
      name,
      node: nodes.map((n, i) => ({
        op_type: n.op,
        name: `${n.op.toLowerCase()}_${i}`,
        input: n.in,
        output: n.out ?? [i === nodes.length - 1 ? 'y' : `t${i}`],
        attribute: n.attrs ?? [],
      })),
      initializer: inits,
      input: [
        { name: 'x', type: tensorType(1, [{ dim_param: 'N' }, ...shape.map((d) => ({ dim_value: d }))]) },
        ...(opset < 9
          ? inits.map((t) => ({
              name: t.name,
              type: tensorType(
                t.data_type,
                (t.dims as number[]).map((d) => ({ dim_value: d })),
              ),
            }))
          : []),
      ],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
  const T = onnxType('ModelProto');
  const err = T.verify(obj);
  if (err) throw new Error(err);
  return T.encode(T.fromObject(obj)).finish();
}
