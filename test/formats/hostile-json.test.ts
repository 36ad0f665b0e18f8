// The architecture JSON (`modelFromJSON`, the CLI's `--model FILE.json`) as an attacker writes it:
// prototype names as classes, layers whose weights pass the budget, outputs of absurd size, long and
// deep structures, non-finite values and hostile values anywhere (fast-check, seeded). Every case ends
// in one Error that starts with "modelFromJSON:" or in a model that predicts finite values, within the
// time and memory bound of hostile-helpers.ts, and nothing is allocated before the check.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { MAX_NODES } from '../../src/formats/limits.js';
import { HOSTILE, expectLoad, expectRefusal, predictFinite, run, slots, tally } from './hostile-helpers.js';

beforeAll(async () => {
  await sn.ready();
});
afterAll(() => {
  console.log(
    `hostile JSON: ${tally.cases} cases, ${tally.refused} refused, ${tally.loaded} loaded correctly; ` +
      `slowest ${tally.slowest.what} ${tally.slowest.ms.toFixed(0)} ms`,
  );
});

type Json = ReturnType<typeof JSON.parse>;
const sequential = (layers: Json[]): Json => ({
  format: 'simdnet-architecture',
  className: 'Sequential',
  name: 's',
  layers,
});
const dense = (units: unknown, inputShape?: unknown) => ({
  className: 'Dense',
  config: { units, ...(inputShape === undefined ? {} : { inputShape }) },
});
const PREFIX = /^modelFromJSON: /;

describe('class names and keys that are members of Object.prototype', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('class %s is unknown', async (c) => {
    await expectRefusal(
      `class ${c}`,
      () => sn.modelFromJSON(sequential([{ className: c, config: {} }])),
      /modelFromJSON: layer 0 has unknown class/,
    );
  });

  it('a "__proto__" key in a config is an unknown option and pollutes nothing', async () => {
    const text = `{"format":"simdnet-architecture","className":"Sequential","name":"s","layers":[{"className":"Dense","config":{"units":2,"inputShape":[3],"__proto__":{"polluted":1,"units":1e9}}}]}`;
    await expectRefusal('__proto__ key', () => sn.modelFromJSON(text), /unknown option "__proto__"/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('nothing is allocated before the architecture is checked', () => {
  it('a Dense of 8e6 units is refused with the weight shape, before it exists', async () => {
    const msg = await expectRefusal(
      'Dense 8e6',
      () => sn.modelFromJSON(sequential([dense(8e6, [3000])])),
      /modelFromJSON: .*kernel.*\[3000,8000000\]/,
    );
    expect(msg).toMatch(/GiB/);
  });

  it('weights over the byte budget are refused, naming the weight and the budget; maxBytes raises it', async () => {
    // 300 × 1000 floats = 1.2 MB of kernel: past a 1 MB budget, within the default.
    const json = sequential([dense(1000, [300])]);
    const msg = await expectRefusal(
      'budget',
      () => sn.modelFromJSON(json, { maxBytes: 2 ** 20 }),
      /modelFromJSON: layer weight dense\/kernel would have shape \[300,1000\].*past the budget of 1048576 bytes/,
    );
    expect(msg).toMatch(/maxBytes/);
    const m = await expectLoad('within default budget', async () => sn.modelFromJSON(json, { seed: 1 }));
    predictFinite(m, new Float32Array(600).fill(0.5), [2, 300]);
    m.dispose();
  });

  it('a bad maxBytes is refused by name', () => {
    expect(() => sn.modelFromJSON(sequential([dense(2, [3])]), { maxBytes: -1 })).toThrow(
      /modelFromJSON: maxBytes must be a positive number of bytes, got -1/,
    );
  });

  it('an output of more than 2^28 values per sample (UpSampling2D by 5000) is refused at build', async () => {
    const json = sequential([{ className: 'UpSampling2D', config: { size: [5000, 5000], inputShape: [4, 4, 1] } }]);
    await expectRefusal('UpSampling2D 5000', () => sn.modelFromJSON(json), /modelFromJSON: .*(2\^28|268435456|GiB)/);
  });
});

describe('long and deep structures', () => {
  it(`more than ${MAX_NODES} layers are refused at once`, async () => {
    const layers: Json[] = [dense(2, [2])];
    for (let i = 0; i < MAX_NODES + 1; i++) layers.push({ className: 'ReLU', config: {} });
    await expectRefusal(
      'too many layers',
      () => sn.modelFromJSON(sequential(layers)),
      new RegExp(`modelFromJSON: ${MAX_NODES + 2} layers, more than the ${MAX_NODES}`),
    );
  });

  it('20,000 unnamed layers of one class are built and named in linear time and predict', async () => {
    const layers: Json[] = [dense(2, [2])];
    for (let i = 0; i < 20000; i++) layers.push({ className: 'ReLU', config: {} });
    const m = await expectLoad('20,000 layers', async () => sn.modelFromJSON(sequential(layers), { seed: 2 }));
    expect(m.layers.at(-1)!.name).toBe('re_lu_19999');
    predictFinite(m, Float32Array.of(1, -1), [1, 2]);
    m.dispose();
  });

  it('JSON nested 200,000 deep and configs nested 100,000 deep are refused without a stack overflow', async () => {
    await expectRefusal(
      'deep text',
      () => sn.modelFromJSON('['.repeat(200000) + ']'.repeat(200000)),
      /modelFromJSON: (expected|not valid JSON)/,
    );
    let deep: Json = {};
    for (let i = 0; i < 100000; i++) deep = { a: deep };
    await expectRefusal(
      'deep config',
      () => sn.modelFromJSON(sequential([{ className: 'Dense', config: { units: 2, inputShape: [3], deep } }])),
      /modelFromJSON: layer 0 \(Dense\): .*unknown option "deep"/,
    );
  });

  it('a functional graph with a cycle or a reference to a missing layer is refused', async () => {
    const inp = sn.input({ shape: [4] });
    const a = sn.layers.dense({ units: 4 }).apply(inp);
    const b = sn.layers.dense({ units: 4 }).apply(a);
    const m = sn.model({ inputs: inp, outputs: b });
    const base = JSON.parse(m.toJSON());
    m.dispose();
    const cyc = structuredClone(base);
    cyc.graph.layers[1].inboundNodes = [[[cyc.graph.layers[2].name, 0, 0]]];
    await expectRefusal('cycle', () => sn.modelFromJSON(cyc), PREFIX);
    const missing = structuredClone(base);
    missing.graph.layers[2].inboundNodes = [[['nowhere', 0, 0]]];
    await expectRefusal('missing', () => sn.modelFromJSON(missing), /modelFromJSON: .*nowhere/);
  });
});

describe('non-finite and out-of-range values', () => {
  const cases: Array<[string, Json]> = [
    ['units NaN', dense(Number.NaN, [3])],
    ['units Infinity', dense(Number.POSITIVE_INFINITY, [3])],
    ['inputShape NaN', dense(2, [Number.NaN])],
    ['inputShape negative', dense(2, [-3])],
    ['dropout rate NaN', { className: 'Dropout', config: { rate: Number.NaN, inputShape: [3] } }],
    ['leaky alpha Infinity', { className: 'LeakyReLU', config: { alpha: Number.POSITIVE_INFINITY, inputShape: [3] } }],
    ['BN epsilon NaN', { className: 'BatchNormalization', config: { epsilon: Number.NaN, inputShape: [3] } }],
    ['BN momentum 2', { className: 'BatchNormalization', config: { momentum: 2, inputShape: [3] } }],
  ];
  it.each(cases)('%s is refused with the layer named', async (label, layer) => {
    await expectRefusal(label, () => sn.modelFromJSON(sequential([layer])), /modelFromJSON: layer 0 \(\w+\): /);
  });
});

describe('the architecture of a CNN, mutated', () => {
  let base: Json;
  beforeAll(() => {
    const l = sn.layers;
    const m = sn.sequential({
      layers: [
        l.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [6, 6, 2] }),
        l.batchNormalization(),
        l.maxPooling2d({ poolSize: 2 }),
        l.flatten(),
        l.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    base = JSON.parse(m.toJSON());
    m.dispose();
  });
  const x = { data: Float32Array.from({ length: 2 * 72 }, (_, i) => ((i * 7) % 13) / 13 - 0.5), shape: [2, 6, 6, 2] };

  it('hostile values anywhere: one refusal naming the loader, or a model with finite predictions', async () => {
    const outcomes: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(HOSTILE.length - 1), async (at, h) => {
        const json = structuredClone(base);
        const all = slots(json);
        const [obj, key] = all[at % all.length]!;
        (obj as Record<string | number, unknown>)[key] = structuredClone(HOSTILE[h]);
        outcomes.push(await run(() => sn.modelFromJSON(json, { seed: 5 }), PREFIX, x, false));
      }),
      { numRuns: 150, seed: 31 },
    );
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(50);
    expect(outcomes.filter((o) => o === 'loaded').length).toBeGreaterThan(0);
  });
});
