// model.save({ weightDtype }): float16 and int8 weights in the .simdnet file (format version 3),
// dequantized to float32 at load, each value checked against its float64 definition; quantized layers'
// int8 kernels stored as int8 in every mode and reloaded bit for bit; the version-2 fixture still loads;
// and every new header field refused when malformed, naming the array.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { bars } from '../nn/fixtures.js';
import { edited, entry, split } from './simdnet-parts.js';
import { V2_FILE, V2_PRED } from './v2-fixture.js';

beforeAll(async () => {
  await sn.ready();
});
const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => (live.push(m), m);
afterAll(() => {
  for (const m of live) m.dispose();
});

const data = bars(48, 3);
const L = sn.layers;

// conv → batch norm → depthwise conv → pool → dense → dense, trained a little with Adam.
async function trained(): Promise<sn.Model> {
  const m = track(
    sn.sequential({
      seed: 4,
      layers: [
        L.conv2d({ filters: 8, kernelSize: 3, inputShape: [8, 8, 1] }),
        L.batchNormalization(),
        L.activation({ activation: 'relu' }),
        L.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' }),
        L.maxPooling2d({ poolSize: 2 }),
        L.flatten(),
        L.dense({ units: 16, activation: 'relu' }),
        L.dense({ units: 3, activation: 'softmax' }),
      ],
    }),
  );
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await m.fit(data.x, data.labels, { batchSize: 8, epochs: 3, verbose: 0 });
  return m;
}

const load = (b: ArrayBuffer | Uint8Array) => track(sn.loadModel(b));
const arrays = (m: sn.Model) =>
  [...m.params(), ...m.stateWeights()].map((w) => ({ name: w.name, v: Float32Array.from(w.value.dataSync()) }));
const predict = (m: sn.Model) => {
  const y = m.predict(data.x) as sn.Tensor;
  const v = Float32Array.from(y.dataSync());
  y.dispose();
  return v;
};
const valueCount = (m: sn.Model) => arrays(m).reduce((a, w) => a + w.v.length, 0);
const slotValues = (m: sn.Model) =>
  Object.values(m.optimizer!.getState(m.params()).slots)
    .flat()
    .reduce((a, s) => a + s.length, 0);

// Half precision, in float64: the spacing of halves around v (normal and subnormal range).
const halfUlp = (v: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v) || 2 ** -24)), -14) - 10);

describe('weightDtype float16', () => {
  it('stores weights and state as the nearest halves; the optimizer slots stay float32, exact', async () => {
    const m = await trained();
    const f16 = new Uint8Array(m.save({ weightDtype: 'float16' }));
    const p = split(f16);
    expect(p.version).toBe(3);
    for (const e of [...p.header.weights, ...p.header.state]) expect(e.dtype, e.name).toBe('float16');
    // Two bytes per weight and state value, four per optimizer slot value, nothing else.
    expect(p.data.length).toBe(2 * valueCount(m) + 4 * slotValues(m));
    const back = load(f16);
    const orig = arrays(m);
    arrays(back).forEach((w, i) => {
      for (let j = 0; j < w.v.length; j++) {
        const v = orig[i]!.v[j]!,
          h = w.v[j]!;
        const ulp = halfUlp(h);
        expect(Number.isInteger(h / ulp), `${w.name}[${j}] = ${h} is not a half`).toBe(true);
        expect(Math.abs(h - v), `${w.name}[${j}]: ${v} → ${h}`).toBeLessThanOrEqual(Math.min(ulp, halfUlp(v)) / 2);
      }
    });
    const s0 = m.optimizer!.getState(m.params()),
      s1 = back.optimizer!.getState(back.params());
    expect(s1.iterations).toBe(s0.iterations);
    for (const [k, v] of Object.entries(s0.slots)) expect(s1.slots[k]).toEqual(v);
    // Halves re-encode to themselves: the file is stable.
    expect(Buffer.from(back.save({ weightDtype: 'float16' })).equals(Buffer.from(f16))).toBe(true);
  });

  it('keeps an array with a value beyond ±65504 as float32, exactly', async () => {
    const m = await trained();
    const bias = m.layers.at(-1)!.weights[1]!.value;
    bias.view().set([1e5, -2, 0.5]);
    const f = new Uint8Array(m.save({ weightDtype: 'float16' }));
    expect(entry(split(f), m.layers.at(-1)!.weights[1]!.name).dtype).toBe('float32');
    expect(entry(split(f), m.layers.at(-1)!.weights[0]!.name).dtype).toBe('float16');
    const back = load(f);
    expect(Array.from(back.layers.at(-1)!.weights[1]!.value.dataSync())).toEqual([1e5, -2, 0.5]);
  });
});

describe('weightDtype int8', () => {
  it('quantizes kernels per output channel (symmetric), keeps 1-D arrays float32; predictions stay close', async () => {
    const m = await trained();
    const f8 = new Uint8Array(m.save({ weightDtype: 'int8', includeOptimizer: false }));
    const p = split(f8);
    expect(p.version).toBe(3);
    expect(p.header.optimizerState).toBe(null);
    const back = load(f8);
    expect(back.optimizer?.className).toBe('Adam');
    const orig = arrays(m);
    let bytes = 0;
    arrays(back).forEach((w, i) => {
      const e = entry(p, w.name);
      const v = orig[i]!.v;
      if (e.shape.length < 2) {
        expect(e.dtype, w.name).toBe('float32');
        expect(w.v, w.name).toEqual(v);
        bytes += 4 * v.length;
        return;
      }
      bytes += v.length;
      // The output channels: the last axis, except a depthwise kernel's [kh, kw, C, 1], whose channels are axis 2.
      const axis = w.name.endsWith('depthwise_kernel') ? 2 : e.shape.length - 1;
      expect([e.dtype, e.axis], w.name).toEqual(['int8', axis]);
      const C = e.shape[axis],
        inner = e.shape.slice(axis + 1).reduce((a: number, b: number) => a * b, 1);
      const ch = (j: number) => Math.floor(j / inner) % C;
      const max = new Array(C).fill(0);
      v.forEach((x, j) => (max[ch(j)] = Math.max(max[ch(j)], Math.abs(x))));
      expect(e.scale, w.name).toEqual(max.map((a) => Math.fround(a / 127)));
      v.forEach((x, j) => {
        const s = e.scale[ch(j)];
        const q = Math.round(x / s);
        expect(Math.abs(q), `${w.name}[${j}]`).toBeLessThanOrEqual(127);
        expect(w.v[j], `${w.name}[${j}]`).toBe(Math.fround(Math.sign(x) * Math.round(Math.abs(x / s)) * s) + 0);
      });
    });
    expect(p.data.length).toBe(bytes);
    const a = predict(m),
      b = predict(back);
    let agree = 0;
    for (let i = 0; i < a.length; i += 3) {
      const am = [0, 1, 2].reduce((k, c) => (a[i + c]! > a[i + k]! ? c : k), 0);
      const bm = [0, 1, 2].reduce((k, c) => (b[i + c]! > b[i + k]! ? c : k), 0);
      if (am === bm) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(44);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(0.1);
  });

  it('an all-zero kernel channel gets scale 1 and loads as zeros', async () => {
    const m = await trained();
    const k = m.layers.at(-1)!.weights[0]!.value;
    const v = k.view();
    for (let j = 0; j < v.length; j += 3) v[j] = 0; // output channel 0 of dense [16, 3]
    const f = new Uint8Array(m.save({ weightDtype: 'int8' }));
    expect(entry(split(f), 'dense_1/kernel').scale[0]).toBe(1);
    const back = load(f);
    const w = back.layers.at(-1)!.weights[0]!.value.dataSync();
    for (let j = 0; j < w.length; j += 3) expect(w[j]).toBe(0);
  });

  it('refuses to quantize a non-finite weight, naming it', async () => {
    const m = await trained();
    m.layers.at(-1)!.weights[0]!.value.view()[4] = Number.NaN;
    expect(() => m.save({ weightDtype: 'int8' })).toThrow(
      'weight dense_1/kernel holds NaN at index 4: only finite weights can be quantized',
    );
  });
});

describe('quantized models', () => {
  for (const activations of ['int8', 'float32'] as const) {
    it(`(activations ${activations}) store kernel_q as int8 in every mode and reload bit for bit`, async () => {
      const m = await trained();
      const q = track(sn.quantize(m, { calibration: sn.tensor(data.x.data, data.x.shape), activations }));
      const file = new Uint8Array(q.save());
      const p = split(file);
      expect(p.version).toBe(3);
      let bytes = 0;
      for (const w of arrays(q)) {
        const e = entry(p, w.name);
        const int = w.name.endsWith('/kernel_q');
        expect([e.dtype, e.scale], w.name).toEqual([int ? 'int8' : 'float32', undefined]);
        bytes += (int ? 1 : 4) * w.v.length;
      }
      expect(p.data.length).toBe(bytes);
      const back = load(file);
      expect(Buffer.from(predict(back).buffer).equals(Buffer.from(predict(q).buffer))).toBe(true);
      expect(Buffer.from(back.save()).equals(Buffer.from(file))).toBe(true);
      // float16 and int8 modes: the integers stay int8, the rest follows the mode.
      for (const weightDtype of ['float16', 'int8'] as const) {
        const f = split(new Uint8Array(q.save({ weightDtype })));
        for (const e of [...f.header.weights, ...f.header.state]) {
          const want = e.name.endsWith('/kernel_q') ? 'int8' : weightDtype === 'float16' ? 'float16' : 'float32';
          expect([e.dtype, e.scale], e.name).toEqual([want, undefined]);
        }
      }
    });
  }
});

describe('files and options', () => {
  it('the version-2 fixture loads, predicts as when it was saved, and saves back byte for byte', () => {
    const bytes = Buffer.from(V2_FILE, 'base64');
    expect(bytes.readUInt32LE(8)).toBe(2);
    const m = load(bytes);
    const x = bars(4, 9, 0.3, 6).x;
    const y = m.predict(x) as sn.Tensor;
    const got = Array.from(y.dataSync());
    y.dispose();
    got.forEach((v, i) => expect(v).toBeCloseTo(V2_PRED[i]!, 6));
    expect(Buffer.from(m.save()).equals(bytes)).toBe(true);
  });

  it('a float32 save is version 2; options are checked; an IOHandler still receives the artifacts', async () => {
    const m = await trained();
    expect(new DataView(m.save({ weightDtype: 'float32' })).getUint32(8, true)).toBe(2);
    expect(Buffer.from(m.save({})).equals(Buffer.from(m.save()))).toBe(true);
    expect(
      Buffer.from(sn.saveModel(m, { weightDtype: 'float16' })).equals(Buffer.from(m.save({ weightDtype: 'float16' }))),
    ).toBe(true);
    expect(() => m.save({ weightDtype: 'int4' as never })).toThrow(
      'save: weightDtype must be one of float32, float16, int8, got "int4"',
    );
    expect(() => m.save({ dtype: 'int8' } as never)).toThrow('save: unknown option "dtype"');
    expect(() => m.save({ includeOptimizer: 1 } as never)).toThrow(
      'save: includeOptimizer must be true or false, got 1',
    );
    expect(() => m.save(7 as never)).toThrow('save: options must be an object');
    const got = m.save({ save: (a: sn.ModelArtifacts) => a.weights.length });
    expect(got).toBe(m.params().length);
  });
});

// A malformed new field: refused with a loadModel error naming it, before any memory is taken.
function refusal(bytes: Uint8Array): string {
  const before = adv.getArena().liveBytes;
  try {
    sn.loadModel(bytes).dispose();
  } catch (e) {
    expect(Object.getPrototypeOf(e)).toBe(Error.prototype);
    expect(adv.getArena().liveBytes).toBe(before);
    return (e as Error).message;
  }
  return '(loaded)';
}

describe('the loader checks the dtype fields', () => {
  let f8: Uint8Array;
  let f16: Uint8Array;
  beforeAll(async () => {
    const m = await trained();
    f8 = new Uint8Array(m.save({ weightDtype: 'int8' }));
    f16 = new Uint8Array(m.save({ weightDtype: 'float16' }));
  });
  const K = 'dense/kernel';
  const cases: Array<[string, () => Uint8Array, RegExp | string]> = [
    [
      'unknown dtype',
      () => edited(f8, (p) => (entry(p, K).dtype = 'float64')),
      `weight ${K} has dtype "float64"; expected one of float32, float16, int8`,
    ],
    ['no dtype in version 3', () => edited(f8, (p) => delete entry(p, K).dtype), `weight ${K} has dtype undefined`],
    [
      'dtype of another width (byte length mismatch)',
      () => edited(f16, (p) => (entry(p, K).dtype = 'float32')),
      /truncated|points outside|accounts for/,
    ],
    [
      'narrower dtype (bytes left over)',
      () => edited(f16, (p) => (entry(p, K).dtype = 'int8')),
      /accounts for|overlap|scale/,
    ],
    [
      'dtype in a version-2 file',
      // padded to whole floats, so that the container passes and the entry is judged
      () =>
        edited(f16, (p) =>
          Object.assign(p, { version: 2, data: Uint8Array.from({ length: (p.data.length + 3) & ~3 }) }),
        ),
      /has a "dtype", "scale" or "axis" key, which version 2 files do not have/,
    ],
    [
      'scale too large for float32',
      () => edited(f8, (p) => (entry(p, K).scale[0] = 1e39)),
      `weight ${K} has scale 1e+39 at index 0; scales are positive finite numbers`,
    ],
    ['zero scale', () => edited(f8, (p) => (entry(p, K).scale[1] = 0)), `weight ${K} has scale 0 at index 1`],
    ['negative scale', () => edited(f8, (p) => (entry(p, K).scale[1] = -0.5)), `weight ${K} has scale -0.5 at index 1`],
    [
      'non-finite scale (null in JSON)',
      () => edited(f8, (p) => (entry(p, K).scale[2] = null)),
      `weight ${K} has scale null at index 2`,
    ],
    ['string scale', () => edited(f8, (p) => (entry(p, K).scale[0] = '0.1')), `weight ${K} has scale "0.1" at index 0`],
    [
      'one scale too few',
      () => edited(f8, (p) => entry(p, K).scale.pop()),
      `weight ${K} needs 16 scales (one per index of axis 1)`,
    ],
    [
      'axis out of range',
      () => edited(f8, (p) => (entry(p, K).axis = 2)),
      `weight ${K} has quantization axis 2, not an axis of its shape [`,
    ],
    [
      'scale without axis',
      () => edited(f8, (p) => delete entry(p, K).axis),
      `weight ${K} has quantization axis undefined`,
    ],
    [
      'scale on a float16 array',
      () => edited(f16, (p) => Object.assign(entry(p, K), { scale: [1], axis: 0 })),
      `weight ${K} is float16, but only int8 arrays have a "scale" or "axis"`,
    ],
    [
      'dtype on an optimizer slot',
      () => edited(f8, (p) => (p.header.optimizerState.slots[K][0].dtype = 'float16')),
      `optimizer state of ${K} has a "dtype" (it is float32)`,
    ],
    [
      'offset past the data',
      () => edited(f8, (p) => (entry(p, K).offset = p.data.length)),
      `weight ${K} points outside the weight data`,
    ],
    ['one byte cut from the data', () => edited(f8, (p) => (p.data = p.data.slice(0, -1))), /truncated/],
    [
      'one byte added to the data',
      () => edited(f8, (p) => (p.data = Uint8Array.from([...p.data, 0]))),
      /header accounts for/,
    ],
    [
      'a float16 Infinity',
      () => edited(f16, (p) => new DataView(p.data.buffer).setUint16(entry(p, K).offset + 6, 0x7c00, true)),
      `weight ${K} holds Infinity at index 3`,
    ],
    [
      'a float16 NaN',
      () => edited(f16, (p) => new DataView(p.data.buffer).setUint16(entry(p, K).offset, 0xfe00, true)),
      `weight ${K} holds NaN at index 0`,
    ],
  ];
  it.each(cases)('%s', (_, make, want) => {
    const msg = refusal(make());
    expect(msg).toMatch(/^loadModel: /);
    if (typeof want === 'string') expect(msg).toContain(want);
    else expect(msg).toMatch(want);
  });

  it('truncated anywhere: refused', () => {
    for (const cut of [17, 40, f8.length >> 1, f8.length - 5, f8.length - 1])
      expect(refusal(f8.subarray(0, cut))).toMatch(/truncated|corrupt/);
  });
});
