// ONNX's own backend node tests (Debian's libonnx-testdata: one folder per test, model.onnx and
// test_data_set_*/{input,output}_*.pb) run through sn.loadONNX. Every test whose operators the
// importer accepts is imported and run on each data set, and compared with the stored outputs at the
// tolerance of onnx's backend runner (rtol 1e-3, atol 1e-7). Each ends passed, refused with a clear
// error (an unsupported attribute value, shape or input), or FAILED: a wrong value, a wrong shape, or
// a crash that is no clear error. Graph inputs after the first are weights fed at run time; they
// become initializers from the data set, as an exported model carries them.
import type protobuf from 'protobufjs';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { SUPPORTED_OPS } from '../../src/formats/onnx/import.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';

const ROOT = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
const NODE_TESTS = join(ROOT, 'node');
const present = existsSync(NODE_TESTS);
if (!present && !process.env.CI)
  console.warn(
    `ONNX conformance skipped: ${NODE_TESTS} is missing (apt-get install -y libonnx-testdata; in CI it runs)`,
  );

/** The fewest tests of each suite that must pass: the counts reached, so a regression cannot hide. */
const MIN_PASSED: Record<string, number> = {
  node: 160,
  'pytorch-converted': 58,
  'pytorch-operator': 12,
  simple: 1,
};

/**
 * Wrong results or crashes not yet fixed, each with where the fix belongs. The test fails when one of
 * them starts passing or being refused (remove it here) as much as when a new one appears.
 */
const KNOWN_FAILED: Record<string, string> = {};
const RTOL = 1e-3;
const ATOL = 1e-7;

interface Tensor {
  name: string;
  dims: number[];
  data: Float64Array;
}
type Msg = Record<string, unknown>;

const TensorProto = onnxType('TensorProto');
const ModelProto = onnxType('ModelProto');

/** The value of IEEE half-precision bits `h`. */
function half(h: number): number {
  const e = (h >> 10) & 31,
    f = h & 1023,
    s = h >> 15 ? -1 : 1;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (e ? (1 + f / 1024) * 2 ** (e - 15) : (f / 1024) * 2 ** -14);
}

/** A TensorProto's values as numbers (the element types the node tests use for inputs and outputs). */
function decodeTensor(bytes: Uint8Array): Tensor {
  const t = TensorProto.toObject(TensorProto.decode(bytes), { longs: Number }) as Msg;
  const dims = ((t.dims as number[]) ?? []).map(Number);
  const n = dims.reduce((a, d) => a * d, 1);
  const raw = t.raw_data as Uint8Array | undefined;
  const dt = (t.data_type as number) ?? 0;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const read: Record<number, [number, (o: number) => number, string]> = {
    1: [4, (o) => view!.getFloat32(o, true), 'float_data'],
    2: [1, (o) => view!.getUint8(o), 'int32_data'],
    3: [1, (o) => view!.getInt8(o), 'int32_data'],
    4: [2, (o) => view!.getUint16(o, true), 'int32_data'],
    5: [2, (o) => view!.getInt16(o, true), 'int32_data'],
    6: [4, (o) => view!.getInt32(o, true), 'int32_data'],
    7: [8, (o) => Number(view!.getBigInt64(o, true)), 'int64_data'],
    9: [1, (o) => view!.getUint8(o), 'int32_data'],
    10: [2, (o) => half(view!.getUint16(o, true)), 'int32_data'],
    11: [8, (o) => view!.getFloat64(o, true), 'double_data'],
    12: [4, (o) => view!.getUint32(o, true), 'uint64_data'],
    13: [8, (o) => Number(view!.getBigUint64(o, true)), 'uint64_data'],
  };
  const r = read[dt];
  if (!r) throw new Error(`the test data has element type ${dt}, which this test does not read`);
  const data = view
    ? Float64Array.from({ length: n }, (_, i) => r[1](i * r[0]))
    : Float64Array.from(((t[r[2]] as number[]) ?? []).map((v) => (dt === 10 ? half(Number(v)) : Number(v))));
  return { name: (t.name as string) ?? '', dims, data };
}

interface Case {
  name: string;
  ops: string[];
  model: Uint8Array;
  sets: string[];
}

function cases(suite: string): Case[] {
  return readdirSync(suite)
    .sort()
    .flatMap((name) => {
      const dir = join(suite, name);
      if (!existsSync(join(dir, 'model.onnx'))) return [];
      const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
      const m = ModelProto.decode(model) as unknown as { graph?: { node?: Msg[] } };
      const ops = (m.graph?.node ?? []).map((n) =>
        n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : String(n.op_type),
      );
      const sets = readdirSync(dir)
        .filter((d) => d.startsWith('test_data_set_'))
        .sort()
        .map((d) => join(dir, d));
      return sets.length > 0 ? [{ name, ops, model, sets }] : [];
    });
}

const files = (dir: string, prefix: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => new Uint8Array(readFileSync(join(dir, f))));

/**
 * The model with graph inputs from `fed` on turned into initializers holding this data set's values
 * (fed = 1: input 0 is the model input, the rest weights; fed = all: every input is a model input).
 */
function withConstants(model: Uint8Array, inputs: Uint8Array[], fed: number): Uint8Array {
  const m = ModelProto.decode(model) as unknown as { graph: { input: Msg[]; initializer: Msg[] } };
  const g = m.graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  g.input
    .filter((i) => !inits.has(i.name))
    .forEach((vi, k) => {
      if (k < fed) return;
      const t = TensorProto.decode(inputs[k]) as unknown as Msg;
      t.name = vi.name;
      g.initializer.push(t);
    });
  return ModelProto.encode(m as unknown as protobuf.Message).finish();
}

type Outcome = { kind: 'passed' } | { kind: 'refused' | 'FAILED'; why: string };

/** JavaScript's own errors, even when the importer passes them on under its prefix. */
const CRASH =
  /Cannot read propert|is not a function|is not defined|is not iterable|Maximum call stack|RuntimeError|unreachable|out of bounds|Invalid array length|internal:/;

/** Whether an error is a clear refusal: the importer's or predict's own message naming what was wrong. */
const clear = (e: unknown) =>
  e instanceof Error && !(e instanceof TypeError) && /^(loadONNX|predict)\b/.test(e.message) && !CRASH.test(e.message);

const describeError = (e: unknown) =>
  e instanceof Error ? (clear(e) ? e.message : (e.stack ?? e.message)) : String(e);

function compare(got: sn.Tensor, want: Tensor, k: number): string | null {
  if (got.shape.join() !== want.dims.join()) return `output ${k} has shape [${got.shape}], expected [${want.dims}]`;
  const a = got.view();
  for (let i = 0; i < a.length; i++) {
    const r = want.data[i];
    if (Number.isNaN(r) && Number.isNaN(a[i])) continue;
    if (!(Math.abs(a[i] - r) <= ATOL + RTOL * Math.abs(r)))
      return `output ${k}[${i}] is ${a[i]}, expected ${r} (shape [${want.dims}])`;
  }
  return null;
}

/** One data set with the first `fed` graph inputs fed at run time. */
async function runSet(c: Case, set: string, fed: number): Promise<Outcome> {
  const inputs = files(set, 'input_');
  const fail = (e: unknown, stage: string): Outcome =>
    clear(e) ? { kind: 'refused', why: describeError(e) } : { kind: 'FAILED', why: `${stage}: ${describeError(e)}` };
  let m: sn.Model;
  try {
    m = await sn.loadONNX(withConstants(c.model, inputs, fed));
  } catch (e) {
    return fail(e, 'import crashed');
  }
  let ys: sn.Tensor[] = [];
  try {
    const xs = inputs.slice(0, fed).map(decodeTensor);
    const outputs = files(set, 'output_').map(decodeTensor);
    try {
      ys = m.predict(xs.map((x) => sn.tensor(Float32Array.from(x.data), x.dims)));
    } catch (e) {
      return fail(e, 'predict crashed');
    }
    if (ys.length !== outputs.length)
      return { kind: 'FAILED', why: `${ys.length} outputs, ${outputs.length} expected` };
    for (let k = 0; k < ys.length; k++) {
      const bad = compare(ys[k], outputs[k], k);
      if (bad) return { kind: 'FAILED', why: `${set.slice(set.lastIndexOf('/') + 1)}: ${bad}` };
    }
    return { kind: 'passed' };
  } finally {
    for (const y of ys) y.dispose();
    m.dispose();
  }
}

/**
 * A test passes when every data set does. Its extra inputs are first taken as weights (constants);
 * if that is refused, as model inputs (Add of two values, Concat, ...).
 */
async function runCase(c: Case): Promise<Outcome> {
  const attempt = async (fed: number): Promise<Outcome> => {
    for (const set of c.sets) {
      const r = await runSet(c, set, fed);
      if (r.kind !== 'passed') return r;
    }
    return { kind: 'passed' };
  };
  const first = await attempt(1);
  const n = files(c.sets[0], 'input_').length;
  if (first.kind !== 'refused' || n < 2) return first;
  const all = await attempt(n);
  return all.kind === 'refused' ? first : all;
}

describe.skipIf(!present && !process.env.CI)('ONNX backend tests', () => {
  beforeAll(async () => {
    await sn.ready();
  });

  for (const [suite, min] of Object.entries(MIN_PASSED)) {
    it(`every ${suite} test of accepted operators passes or is refused with a clear error`, async () => {
      if (!present) throw new Error(`${NODE_TESTS} is missing: install libonnx-testdata (CI installs it in .ci/run)`);
      const all = cases(join(ROOT, suite));
      const accepted = all.filter((c) => c.ops.length > 0 && c.ops.every((op) => SUPPORTED_OPS.has(op)));
      const results = new Map<string, Outcome>();
      for (const c of accepted) results.set(c.name, await runCase(c));
      const of = (k: Outcome['kind']) => [...results].filter(([, r]) => r.kind === k);
      const passed = of('passed'),
        refused = of('refused'),
        failed = of('FAILED');
      const lines = [
        `ONNX ${suite} tests: ${all.length} in all, ${accepted.length} of accepted operators: ` +
          `${passed.length} passed, ${refused.length} refused, ${failed.length} FAILED`,
        ...refused.map(([n, r]) => `  refused ${n}: ${'why' in r ? r.why : ''}`),
        ...failed.map(([n, r]) => `  FAILED ${n}: ${'why' in r ? r.why : ''}`),
      ];
      console.log(lines.join('\n'));
      const unexpected = failed.filter(([n]) => !(n in KNOWN_FAILED));
      expect(unexpected.map(([n, r]) => `${n}: ${'why' in r ? r.why : ''}`)).toEqual([]);
      const known = Object.keys(KNOWN_FAILED).filter((n) => all.some((c) => c.name === n));
      expect(failed.map(([n]) => n)).toEqual(known.sort());
      expect(passed.length).toBeGreaterThanOrEqual(min);
    });
  }
});
