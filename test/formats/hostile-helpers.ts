// Shared by the hostile-file tests: a ModelProto builder, and `expectRefusal`/`expectLoad`, which run one
// case under a time and memory bound and record its outcome (refused / loaded) for the suite's tally.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';

export interface NodeSpec {
  op: string;
  name?: string;
  inputs: string[];
  outputs: string[];
  attrs?: Array<Record<string, unknown>>;
}

export const f32raw = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
export const i64raw = (v: number[]) => new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer);

/** An int attribute, a list of ints, a float, or a tensor attribute. */
export const attrInt = (name: string, i: number) => ({ name, type: 2, i });
export const attrInts = (name: string, ints: number[]) => ({ name, type: 7, ints });
export const attrTensor = (name: string, t: Record<string, unknown>) => ({ name, type: 4, t });

/** A TensorProto: float32 (type 1) from numbers, or int64 (7). */
export function tensor(name: string, dims: number[], values: number[], dataType = 1): Record<string, unknown> {
  return { name, dims, data_type: dataType, raw_data: dataType === 7 ? i64raw(values) : f32raw(values) };
}

/** A ModelProto: input x [N, ...inShape] float32, the nodes and initializers, output `out`. */
export function onnxModel(
  nodes: NodeSpec[],
  opts: { opset?: number; inits?: Array<Record<string, unknown>>; out?: string; inShape?: number[] } = {},
): Uint8Array {
  const dims = [{ dim_param: 'N' }, ...(opts.inShape ?? [2, 4, 4]).map((d) => ({ dim_value: d }))];
  const obj = {
    ir_version: 8,
    opset_import: [{ domain: '', version: opts.opset ?? 13 }],
    graph: {
      name: 'g',
      node: nodes.map((n) => ({
        op_type: n.op,
        name: n.name ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: n.attrs ?? [],
      })),
      initializer: opts.inits ?? [],
      input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: dims } } } }],
      output: [{ name: opts.out ?? 'out', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
  const T = onnxType('ModelProto');
  return T.encode(T.fromObject(obj)).finish();
}

/** Outcomes of every case run through expectRefusal / expectLoad / classify, for the suite's counts. */
export const tally = { cases: 0, refused: 0, loaded: 0, slowest: { ms: 0, what: '' } };

/** What a JavaScript or V8 failure says: never a refusal's words, even wrapped in a loader's prefix. */
export const CRASH =
  /Cannot read prop|is not a function|is not iterable|is not a constructor|Invalid typed array|Invalid array length|call stack|out of memory|of undefined|of null/;

/** Time (ms) and memory (bytes of ArrayBuffers + heap) each case may take. */
export const CASE_MS = 5000;
export const CASE_BYTES = 512 * 2 ** 20;

const mem = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/**
 * Runs `load`, which must refuse with an Error matching `what` (never a TypeError, RangeError or wasm
 * trap), within CASE_MS and CASE_BYTES. Returns the message.
 */
export async function expectRefusal(
  label: string,
  load: () => Promise<unknown> | unknown,
  what: RegExp,
  limits: { ms?: number } = {},
): Promise<string> {
  const m0 = mem();
  const t0 = performance.now();
  let err: unknown;
  try {
    const m = await load();
    if (m instanceof sn.Model) m.dispose();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  tally.cases++;
  if (ms > tally.slowest.ms) tally.slowest = { ms, what: label };
  expect(err, `${label}: loaded instead of being refused`).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(TypeError);
  expect(err).not.toBeInstanceOf(RangeError);
  expect(err).not.toBeInstanceOf(WebAssembly.RuntimeError);
  const msg = (err as Error).message;
  expect(msg, label).toMatch(what);
  expect(msg, label).not.toMatch(CRASH);
  expect(ms, `${label}: took ${ms.toFixed(0)} ms`).toBeLessThan(limits.ms ?? CASE_MS);
  expect(mem() - m0, `${label}: memory`).toBeLessThan(CASE_BYTES);
  tally.refused++;
  return msg;
}

/** Runs `load`, which must give a model, within the time and memory bounds; returns it (caller disposes). */
export async function expectLoad<M extends sn.Model>(
  label: string,
  load: () => Promise<M>,
  limits: { ms?: number } = {},
): Promise<M> {
  const m0 = mem();
  const t0 = performance.now();
  const m = await load();
  const ms = performance.now() - t0;
  tally.cases++;
  if (ms > tally.slowest.ms) tally.slowest = { ms, what: label };
  expect(ms, `${label}: took ${ms.toFixed(0)} ms`).toBeLessThan(limits.ms ?? CASE_MS);
  expect(mem() - m0, `${label}: memory`).toBeLessThan(CASE_BYTES);
  tally.loaded++;
  return m;
}

/** Predicts `x` (float32, with batch) and returns the values; every one must be finite. */
export function predictFinite(m: sn.Model, x: Float32Array, shape: number[]): Float32Array {
  const t = sn.tensor(x, shape);
  const y = m.predict(t) as sn.Tensor;
  const v = Float32Array.from(y.dataSync());
  t.dispose();
  y.dispose();
  expect(v.every(Number.isFinite)).toBe(true);
  return v;
}

/**
 * Loads, then predicts `x` when a model comes out. `mustRefuse`: the mutation made a weight non-finite.
 * Checks the bounds and the kind of error; returns the outcome for the tally.
 */
export async function run(
  load: () => Promise<sn.Model> | sn.Model,
  prefix: RegExp,
  x: { data: Float32Array; shape: number[] },
  mustRefuse: boolean,
): Promise<'refused' | 'loaded'> {
  const m0 = mem();
  const t0 = performance.now();
  let outcome: 'refused' | 'loaded';
  try {
    const m = await load();
    try {
      expect(mustRefuse, 'a non-finite weight was loaded').toBe(false);
      // A mutation may change the input shape legitimately: predict on x's values repeated to fit it,
      // unless one sample or the weights would be huge (a valid model within the budget that the case
      // need not run: its weights alone may take a good part of wasm memory).
      const per = m.inputShape.reduce((a, b) => a * b, 1);
      const { weights, state } = m.weightSpecs();
      const params = [...weights, ...state].reduce((a, w) => a + w.shape.reduce((p, d) => p * d, 1), 0);
      if (per <= 2 ** 16 && params <= 2 ** 22) {
        const n = x.shape[0]!;
        const data = Float32Array.from({ length: n * per }, (_, i) => x.data[i % x.data.length]!);
        const y = m.predict(sn.tensor(data, [n, ...m.inputShape])) as sn.Tensor;
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
    } finally {
      m.dispose();
    }
    outcome = 'loaded';
  } catch (e) {
    if ((e as Error).message === 'a non-finite weight was loaded') throw e;
    expect(e).toBeInstanceOf(Error);
    for (const K of [TypeError, RangeError, WebAssembly.RuntimeError]) expect(e).not.toBeInstanceOf(K);
    const msg = (e as Error).message;
    expect(msg).toMatch(prefix);
    // A crash wrapped in the loader's prefix is still a crash.
    expect(msg).not.toMatch(CRASH);
    if (process.env.SHOW_FUZZ) console.log(msg.slice(0, 200));
    outcome = 'refused';
  }
  const ms = performance.now() - t0;
  tally.cases++;
  tally[outcome]++;
  if (ms > tally.slowest.ms) tally.slowest = { ms, what: '' };
  expect(ms).toBeLessThan(CASE_MS);
  expect(mem() - m0).toBeLessThan(CASE_BYTES);
  return outcome;
}

/** Values an attacker writes into a config or manifest. */
export const HOSTILE: unknown[] = [
  -1,
  0,
  1.5,
  8e6,
  2 ** 31,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  null,
  '__proto__',
  'constructor',
  'toString',
  'channels_first',
  '',
  [],
  {},
  [1e9, 1e9],
  [0, 0],
  { __proto__: { units: 1e9 } },
];

/** Every [container, key] of a JSON-like value, in a fixed order. */
export function slots(v: unknown, out: Array<[Record<string, unknown> | unknown[], string | number]> = []) {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots(x, out);
    }
  return out;
}
