// Property-based abuse of real model files (fast-check, seeded): a tfjs-layers CNN and the ONNX
// fixtures, mutated the way an attacker would: hostile values at random places of the topology and
// manifest (huge or negative sizes, prototype names, wrong types), NaN/Inf written into weights,
// weights of another element type, folding nodes asking for gigabytes; .simdnet files with float16 and
// int8 weights whose dtype, scale, axis and slice fields get hostile values. Every case ends, within the
// time and memory bound of hostile-helpers.ts, in one Error naming the problem or in a model whose
// predictions are finite; a weight made non-finite is always refused.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { type Fixture, fixture } from '../onnx/fixtures.js';
import { HOSTILE, run, slots, tally } from './hostile-helpers.js';
import { entry, join as joinParts, split } from '../io/simdnet-parts.js';

beforeAll(async () => {
  await sn.ready();
});
afterAll(() => {
  console.log(
    `hostile fuzz: ${tally.cases} cases, ${tally.refused} refused, ${tally.loaded} loaded with finite predictions; ` +
      `slowest ${tally.slowest.ms.toFixed(0)} ms`,
  );
});

describe('tfjs-layers files, mutated', () => {
  let base: sn.LayersModelArtifacts;
  const x = {
    data: Float32Array.from({ length: 2 * 36 * 2 }, (_, i) => ((i * 7) % 13) / 13 - 0.5),
    shape: [2, 6, 6, 2],
  };
  beforeAll(() => {
    const l = sn.layers;
    const inp = sn.input({ shape: [6, 6, 2] });
    const c = l.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp);
    const b = l.batchNormalization().apply(c);
    const y = l
      .dense({ units: 4, activation: 'softmax' })
      .apply(l.flatten().apply(l.maxPooling2d({ poolSize: 2 }).apply(b)));
    const m = sn.model({ inputs: inp, outputs: y, seed: 3 });
    base = sn.saveLayersModel(m);
    m.dispose();
  });
  const copy = () => ({
    ...base,
    modelTopology: structuredClone(base.modelTopology),
    weightSpecs: structuredClone(base.weightSpecs),
    weightData: (base.weightData as ArrayBuffer).slice(0),
  });

  it('hostile values anywhere in the topology and the manifest', async () => {
    const outcomes: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(HOSTILE.length - 1), fc.boolean(), async (at, h, inManifest) => {
        const a = copy();
        const all = slots(inManifest ? a.weightSpecs : a.modelTopology);
        const [obj, key] = all[at % all.length]!;
        (obj as Record<string | number, unknown>)[key] = structuredClone(HOSTILE[h]);
        outcomes.push(await run(() => sn.loadLayersModel(a), /^loadLayersModel: /, x, false));
      }),
      { numRuns: 120, seed: 27 },
    );
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o === 'loaded').length).toBeGreaterThan(5);
  }, 60_000);

  it('NaN/Inf written into the weights (float32 or float16 quantised) is always refused; noise loads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.constantFrom(0x7fc00000, 0x7f800000, 0xff800000, 0),
        fc.boolean(),
        async (at, bits, half) => {
          const a = copy();
          let bytes = new Uint8Array(a.weightData as ArrayBuffer);
          if (half) {
            // Re-encode as float16 the way tfjs' converter does, then poison one value.
            const m = sn.loadLayersModel(a);
            const h = sn.saveLayersModel(m, { quantize: 'float16' });
            m.dispose();
            Object.assign(a, { weightSpecs: h.weightSpecs, weightData: h.weightData });
            bytes = new Uint8Array(a.weightData as ArrayBuffer);
            const i = (at % (bytes.length / 2)) * 2;
            new DataView(bytes.buffer).setUint16(i, bits === 0 ? 0x3c00 : bits === 0xff800000 ? 0xfc00 : 0x7c00, true);
          } else {
            const i = (at % (bytes.length / 4)) * 4;
            new DataView(bytes.buffer).setUint32(i, bits === 0 ? 0x3f000000 : bits, true);
          }
          await run(() => sn.loadLayersModel(a), /^loadLayersModel: weight \S+ holds/, x, bits !== 0);
        },
      ),
      { numRuns: 40, seed: 28 },
    );
  }, 60_000);
});

describe('ONNX files, mutated', () => {
  let fixtures: Fixture[] = [];
  beforeAll(() => {
    fixtures = [fixture('lenet5_op11'), fixture('opzoo_op17')];
  });
  interface Init {
    name: string;
    dims: number[];
    data_type: number;
    raw_data?: Uint8Array;
    float_data?: number[];
  }
  interface Msg {
    graph: {
      node: Array<{
        input: string[];
        output: string[];
        op_type: string;
        name: string;
        attribute: Array<Record<string, unknown>>;
      }>;
      initializer: Init[];
      output: Array<{ name: string }>;
    };
  }
  const T = () => onnxType('ModelProto');
  const xOf = (f: Fixture) => ({ data: f.input, shape: f.inputShape });
  const floatInits = (m: Msg) => m.graph.initializer.filter((t) => t.data_type === 1 && (t.raw_data?.length ?? 0) >= 4);

  it('NaN/Inf in a float initializer is always refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(1),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(0x7fc00000, 0x7f800000, 0xff800000),
        async (k, a, b, bits) => {
          const f = fixtures[k]!;
          const m = T().decode(f.bytes) as unknown as Msg;
          const inits = floatInits(m);
          const t = inits[a % inits.length]!;
          const raw = t.raw_data!.slice();
          new DataView(raw.buffer).setUint32((b % (raw.length / 4)) * 4, bits, true);
          t.raw_data = raw;
          const bytes = T()
            .encode(m as never)
            .finish();
          await run(
            () => sn.loadONNX(bytes),
            /^loadONNX: initializer '.+' holds a NaN or infinite value/,
            xOf(f),
            true,
          );
        },
      ),
      { numRuns: 20, seed: 29 },
    );
  }, 60_000);

  it('hostile dims, element types, attribute values and folding bombs', async () => {
    const outcomes: string[] = [];
    const huge = fc.constantFrom(-1, 0, 3, 1e9, 2 ** 31 - 1, 2 ** 40, 65536);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(1),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 4 }),
        huge,
        async (k, a, c, kind, v) => {
          const f = fixtures[k]!;
          const m = T().decode(f.bytes) as unknown as Msg;
          const g = m.graph;
          const inits = g.initializer;
          const node = g.node[a % g.node.length]!;
          if (kind === 0) {
            const t = inits[a % inits.length]!;
            if (t.dims.length > 0) t.dims[c % t.dims.length] = v;
          } else if (kind === 1) {
            // Another element type over the same bytes: int64/float16/bfloat16/uint8/string.
            inits[a % inits.length]!.data_type = [7, 10, 16, 2, 8, 11][c % 6]!;
          } else if (kind === 2) {
            const at = node.attribute[c % Math.max(node.attribute.length, 1)];
            if (at?.ints && (at.ints as unknown[]).length > 0)
              (at.ints as number[])[c % (at.ints as unknown[]).length] = v;
            else if (at) at.i = v;
          } else if (kind === 3) {
            // A ConstantOfShape of [v, v] added to the graph's output.
            const out = g.output[0]!.name;
            g.node.push(
              { op_type: 'ConstantOfShape', name: 'bomb', input: ['bomb_shape'], output: ['bomb'], attribute: [] },
              { op_type: 'Add', name: 'bomb_add', input: [`${out}_pre`, 'bomb'], output: [out], attribute: [] },
            );
            for (const n of g.node.slice(0, -2)) n.output = n.output.map((o) => (o === out ? `${out}_pre` : o));
            inits.push({
              name: 'bomb_shape',
              dims: [2],
              data_type: 7,
              raw_data: new Uint8Array(new BigInt64Array([BigInt(Math.max(v, 0)), BigInt(Math.max(v, 0))]).buffer),
            });
          } else {
            node.op_type = ['ConstantOfShape', 'Gather', 'Concat', 'Slice', 'Split', 'Unsqueeze', 'Transpose'][c % 7]!;
          }
          const bytes = T()
            .encode(m as never)
            .finish();
          outcomes.push(await run(() => sn.loadONNX(bytes), /^loadONNX: \S/, xOf(f), false));
        },
      ),
      { numRuns: 80, seed: 30 },
    );
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o === 'loaded').length).toBeGreaterThan(5);
  }, 90_000);
});

describe('.simdnet files with float16 and int8 weights, mutated (checksum resealed)', () => {
  const x = { data: Float32Array.from({ length: 2 * 64 }, (_, i) => ((i * 5) % 11) / 11 - 0.5), shape: [2, 8, 8, 1] };
  // [int8 per-channel scales, float16, a quantized model's raw int8 kernel_q]
  let files: Uint8Array[] = [];
  beforeAll(() => {
    const L = sn.layers;
    const m = sn.sequential({
      seed: 6,
      layers: [
        L.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1] }),
        L.batchNormalization(),
        L.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' }),
        L.flatten(),
        L.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(x, { data: new Float32Array([0, 2]), shape: [2] });
    const q = sn.quantize(m, { calibration: sn.tensor(x.data, x.shape) });
    files = [m.save({ weightDtype: 'int8' }), m.save({ weightDtype: 'float16' }), q.save()].map(
      (b) => new Uint8Array(b),
    );
    q.dispose();
    m.dispose();
  });
  const DTYPE_VALUES = ['float32', 'float16', 'int8', 'uint8', 'float64', 'bfloat16', 'INT8'];

  it('hostile values in the dtype, scale, axis, offset and length fields', async () => {
    const outcomes: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(2),
        fc.nat(),
        fc.oneof(fc.constantFrom(...HOSTILE), fc.constantFrom(...DTYPE_VALUES), fc.double()),
        async (f, at, v) => {
          const p = split(files[f]!);
          // The storage fields of every weight and state entry (a missing one gets set), and each scale.
          const fields: Array<[Record<string | number, unknown>, string | number]> = [];
          for (const e of [...p.header.weights, ...(p.header.state ?? [])]) {
            for (const k of ['dtype', 'scale', 'axis', 'offset', 'length']) fields.push([e, k]);
            if (Array.isArray(e.scale)) e.scale.forEach((_: unknown, i: number) => fields.push([e.scale, i]));
          }
          const [obj, key] = fields[at % fields.length]!;
          obj[key] = structuredClone(v);
          const bytes = joinParts(p);
          outcomes.push(await run(() => sn.loadModel(bytes), /^loadModel: \S/, x, false));
        },
      ),
      { numRuns: 150, seed: 31 },
    );
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(100);
    expect(outcomes.filter((o) => o === 'loaded').length).toBeGreaterThan(0);
  }, 60_000);

  it('a scale made non-finite, zero, negative or too large, or a float16 value made Inf/NaN, is always refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.boolean(),
        fc.constantFrom(0, -1, 1e39, -Infinity, Number.NaN, null, '1'),
        fc.constantFrom(0x7c00, 0xfc00, 0x7e00, 0xfe01),
        async (at, half, scale, bits) => {
          const p = split(files[half ? 1 : 0]!);
          const named = p.header.weights.filter((w: { dtype: string }) => w.dtype === (half ? 'float16' : 'int8'));
          const w = named[at % named.length];
          if (half) new DataView(p.data.buffer).setUint16(w.offset + 2 * (at % w.length), bits, true);
          else entry(p, w.name).scale[at % w.scale.length] = scale;
          const bytes = joinParts(p);
          await run(() => sn.loadModel(bytes), new RegExp(`^loadModel: weight ${w.name} (holds|has scale)`), x, true);
        },
      ),
      { numRuns: 60, seed: 32 },
    );
  }, 60_000);

  it('the data cut short or lengthened by a few bytes is always refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(2), fc.integer({ min: -64, max: 8 }), async (f, d) => {
        const p = split(files[f]!);
        const n = p.data.length + (d === 0 ? 1 : d);
        p.data = Uint8Array.from({ length: Math.max(0, n) }, (_, i) => p.data[i] ?? 0);
        const bytes = joinParts(p);
        await run(() => sn.loadModel(bytes), /^loadModel: .*(truncated|accounts for)/, x, true);
      }),
      { numRuns: 40, seed: 33 },
    );
  }, 60_000);
});
