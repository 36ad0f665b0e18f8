// Property-based fuzzing of loadModel (fast-check, fixed seeds, bounded run counts and time): every
// mutated file is refused with a plain 'loadModel:' Error, or loads with exactly the content the file
// holds (saving the loaded model gives back the same bytes); no other exception, no leaked memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { crc32 } from '../../src/formats/simdnet/crc32.js';
import { bars, tinyModel } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

let file: Uint8Array;
let hlen = 0;
const counts: Record<string, { refused: number; identical: number }> = {};
beforeAll(async () => {
  const m = tinyModel(3, [sn.layers.batchNormalization()]);
  m.compile({ optimizer: new sn.SGD({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
  const d = bars(16, 4);
  await m.fit(d.x, d.labels, { batchSize: 8, verbose: 0 });
  file = new Uint8Array(m.save());
  hlen = new DataView(file.buffer).getUint32(12, true);
  m.dispose();
});
afterAll(() => {
  console.log(`loadModel fuzz outcomes: ${JSON.stringify(counts)}`);
});

const reseal = (b: Uint8Array) => {
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
};

// Loads `bytes`; the outcome, after checking the property.
function judge(kind: string, bytes: Uint8Array): 'refused' | 'identical' {
  const c = (counts[kind] ??= { refused: 0, identical: 0 });
  const arena = adv.getArena();
  const live = arena.liveBytes;
  let m: sn.Model;
  try {
    m = sn.loadModel(bytes);
  } catch (e) {
    expect(Object.getPrototypeOf(e), String(e)).toBe(Error.prototype);
    expect((e as Error).message).toMatch(/^loadModel: \S/);
    expect(arena.liveBytes, 'a refused file leaked memory').toBe(live);
    c.refused++;
    return 'refused';
  }
  const again = new Uint8Array(m.save());
  m.dispose();
  expect(Buffer.from(again).equals(Buffer.from(bytes)), `${kind}: loaded content differs from the file`).toBe(true);
  c.identical++;
  return 'identical';
}

const RUN = { seed: 424242, numRuns: 400, interruptAfterTimeLimit: 20_000 };

describe('loadModel fuzz', () => {
  it('byte changes, truncations and insertions anywhere are all refused (the checksum sees them)', () => {
    const n = file.length;
    const mutation = fc.oneof(
      fc
        .array(fc.record({ at: fc.nat({ max: n - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        })
        .map((flips) => {
          const b = file.slice();
          for (const f of flips) b[f.at] ^= f.xor;
          return b;
        }),
      fc.nat({ max: n - 1 }).map((cut) => file.slice(0, cut)),
      fc
        .tuple(fc.nat({ max: n }), fc.uint8Array({ minLength: 1, maxLength: 16 }))
        .map(([at, ins]) => Uint8Array.from([...file.subarray(0, at), ...ins, ...file.subarray(at)])),
    );
    fc.assert(
      fc.property(mutation, (b) => {
        // A xor that cancels itself (two flips of one byte) gives back the file: that one must load as itself.
        const same = b.length === file.length && b.every((v, i) => v === file[i]);
        expect(judge(same ? 'raw-unchanged' : 'raw', b)).toBe(same ? 'identical' : 'refused');
      }),
      RUN,
    );
    expect(counts.raw.refused).toBeGreaterThan(300);
  });

  it('any float of the weight data set to any value (checksum re-sealed): refused, or loaded exactly', () => {
    const floats = (file.length - 4 - 16 - hlen) / 4;
    const value = fc.oneof(fc.float(), fc.constantFrom(NaN, Infinity, -Infinity, -0, -1e-30, 3e38, -3e38));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: floats - 1 }), value), { minLength: 1, maxLength: 3 }), (edits) => {
        const b = file.slice();
        const dv = new DataView(b.buffer);
        for (const [i, v] of edits) dv.setFloat32(16 + hlen + i * 4, v, true);
        judge('floats', reseal(b));
      }),
      RUN,
    );
    expect(counts.floats.refused).toBeGreaterThan(0);
    expect(counts.floats.identical).toBeGreaterThan(0);
  });

  it('any header value replaced by any JSON value (checksum re-sealed): refused, or loaded exactly', () => {
    const header = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen)));
    // Every path to a leaf or a sub-object of the header.
    const paths: Array<Array<string | number>> = [];
    const walk = (v: unknown, p: Array<string | number>) => {
      if (p.length) paths.push(p);
      if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) walk(x, [...p, Array.isArray(v) ? Number(k) : k]);
    };
    walk(header, []);
    const blob = file.subarray(16 + hlen, file.length - 4);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 }), (path, v) => {
        const h = structuredClone(header);
        let o = h;
        for (const k of path.slice(0, -1)) o = o[k];
        o[path[path.length - 1]] = v;
        const json = new TextEncoder().encode(JSON.stringify(h));
        const padded = Math.ceil(json.length / 4) * 4;
        const b = new Uint8Array(16 + padded + blob.length + 4);
        b.set(file.subarray(0, 12));
        new DataView(b.buffer).setUint32(12, padded, true);
        b.fill(0x20, 16, 16 + padded);
        b.set(json, 16);
        b.set(blob, 16 + padded);
        const kind = 'header';
        const c = (counts[kind] ??= { refused: 0, identical: 0 });
        // A header that loads may be re-serialised differently (key order, number format, padding):
        // then the content, not the bytes, must match: saving twice is stable and weights are the file's.
        const arena = adv.getArena();
        const live = arena.liveBytes;
        let m: sn.Model;
        try {
          m = sn.loadModel(reseal(b));
        } catch (e) {
          expect(Object.getPrototypeOf(e), String(e)).toBe(Error.prototype);
          expect((e as Error).message).toMatch(/^loadModel: \S/);
          expect(arena.liveBytes).toBe(live);
          c.refused++;
          return;
        }
        const once = new Uint8Array(m.save());
        const ws = new Map([...m.params(), ...m.stateWeights()].map((w) => [w.name, Array.from(w.value.dataSync())]));
        m.dispose();
        const m2 = sn.loadModel(once);
        expect(Buffer.from(new Uint8Array(m2.save())).equals(Buffer.from(once))).toBe(true);
        m2.dispose();
        const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
        const named = [...h.weights, ...(h.state ?? [])];
        expect(ws.size).toBe(named.length);
        for (const w of named as Array<{ name: string; offset: number; length: number }>) {
          expect(ws.get(w.name), w.name).toEqual(
            Array.from({ length: w.length }, (_, j) => dv.getFloat32((w.offset + j) * 4, true)),
          );
        }
        c.identical++;
      }),
      RUN,
    );
    expect(counts.header.refused + counts.header.identical).toBeGreaterThan(100);
  });
});
