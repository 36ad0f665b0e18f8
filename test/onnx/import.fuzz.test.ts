// Fuzzing the ONNX importer with the real fixture files: truncated files, flipped bytes and structural
// mutations of the decoded graph (renamed inputs that dangle or make cycles, wrong dims, wrong
// attribute values, swapped op types). Every outcome must be a Model that predicts finite values or
// one Error starting "loadONNX:" — never a hang, a wasm trap, a TypeError or a silent NaN.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { type Fixture, fixture } from './fixtures.js';

let fixtures: Fixture[] = [];
beforeAll(async () => {
  await sn.ready();
  fixtures = [fixture('lenet5_op11'), fixture('opzoo_op17')];
});

/** Imports `bytes`; if that works, predicts the fixture's input. Returns what happened. */
const seen: string[] = [];
async function outcome(bytes: Uint8Array, f: Fixture): Promise<'model' | 'error'> {
  let m: sn.Model;
  try {
    m = await sn.loadONNX(bytes);
    seen.push('model');
  } catch (e) {
    seen.push((e as Error).message);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(WebAssembly.RuntimeError);
    expect((e as Error).message).toMatch(/^loadONNX: \S/);
    return 'error';
  }
  try {
    const shape = [1, ...m.inputShape];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = sn.tensor(f.input.length >= n ? f.input.subarray(0, n) : new Float32Array(n).fill(0.5), shape);
    const y = m.predict(x) as sn.Tensor;
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    x.dispose();
    y.dispose();
  } finally {
    m.dispose();
  }
  return 'model';
}

interface Msg {
  graph: {
    node: Array<{
      input: string[];
      output: string[];
      op_type: string;
      attribute: Array<{ ints?: number[]; i?: number }>;
    }>;
    initializer: Array<{ dims: number[]; name: string }>;
  };
}

const T = () => onnxType('ModelProto');

describe('loadONNX fuzz', () => {
  it('truncated files', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1 }), fc.double({ min: 0, max: 1, noNaN: true }), async (k, frac) => {
        const f = fixtures[k];
        await outcome(f.bytes.subarray(0, Math.floor(frac * f.bytes.length)), f);
      }),
      { numRuns: 40, seed: 11 },
    );
    expect(seen.filter((s) => s !== 'model').length).toBeGreaterThan(10);
  }, 60_000);

  it('flipped bytes', async () => {
    seen.length = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        async (k, flips) => {
          const f = fixtures[k];
          const b = f.bytes.slice();
          // Mostly in the graph structure (the first and last few KB), where a flip changes meaning.
          for (const [p, v] of flips) {
            const region = p < 0.5 ? Math.floor(p * 2 * 4000) : b.length - 1 - Math.floor((p - 0.5) * 2 * 4000);
            b[Math.min(Math.max(region, 0), b.length - 1)] = v;
          }
          await outcome(b, f);
        },
      ),
      { numRuns: 60, seed: 12 },
    );
  }, 60_000);

  it('structural mutations of the decoded graph', async () => {
    seen.length = 0;
    const ops = ['Relu', 'Conv', 'Gemm', 'Reshape', 'Concat', 'MaxPool', 'Transpose', 'Add', 'Flatten', 'Split'];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: -3, max: 70000 }),
        async (k, a, c, kind, v) => {
          const f = fixtures[k];
          const m = T().decode(f.bytes) as unknown as Msg;
          const nodes = m.graph.node;
          const node = nodes[a % nodes.length];
          const names = nodes.flatMap((n) => n.output);
          if (kind === 0 && node.input.length > 0) node.input[c % node.input.length] = names[c % names.length];
          else if (kind === 1) {
            const init = m.graph.initializer[c % m.graph.initializer.length];
            if (init.dims.length > 0) init.dims[c % init.dims.length] = v;
          } else if (kind === 2) {
            const at = node.attribute[c % Math.max(node.attribute.length, 1)];
            if (at?.ints && at.ints.length > 0) at.ints[c % at.ints.length] = v;
            else if (at) at.i = v;
          } else if (kind === 3) node.op_type = ops[c % ops.length];
          else node.input[c % Math.max(node.input.length, 1)] = `missing_${v}`;
          await outcome(
            T()
              .encode(m as never)
              .finish(),
            f,
          );
        },
      ),
      { numRuns: 80, seed: 13 },
    );
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    const errors = seen.filter((s) => s !== 'model');
    expect(errors.length).toBeGreaterThan(5);
    expect(seen.length - errors.length).toBeGreaterThan(5);
    if (process.env.SHOW_FUZZ) console.log([...new Set(errors.map((e) => e.slice(0, 140)))].join('\n'));
  }, 90_000);
});
