// Backward compatibility of the model file: version-1 files, written before layer state
// (BatchNormalization), RMSprop and the checksum existed, still load, and a model without state
// saves the same bytes as then except for the version number and the CRC-32 that version 2 appends.
// The files are literals recorded from the earlier code (compat-files.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { FILE_TRAINED, FILE_UNTRAINED, PRED_TRAINED } from './compat-files.js';
import { crc32 } from '../../src/formats/simdnet/crc32.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
});

const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// A version-1 file -> the bytes this build saves for the same model: the version field and the
// header's "version" set to 2 (same length, so the layout is unchanged) and the CRC-32 appended.
function asVersion2(v1: Uint8Array): Uint8Array {
  const out = new Uint8Array(v1.length + 4);
  out.set(v1);
  const dv = new DataView(out.buffer);
  expect(dv.getUint32(8, true)).toBe(1);
  dv.setUint32(8, 2, true);
  const hlen = dv.getUint32(12, true);
  const header = new TextDecoder().decode(out.subarray(16, 16 + hlen));
  expect(header.startsWith('{"format":"simdnet-model","version":1,')).toBe(true);
  out.set(new TextEncoder().encode('{"format":"simdnet-model","version":2,'), 16);
  dv.setUint32(v1.length, crc32(out.subarray(0, v1.length)), true);
  return out;
}

// The models the literals were made from.
function compatModel(): sn.Sequential {
  const L = sn.layers;
  return sn.sequential({
    seed: 11,
    name: 'compat',
    layers: [
      L.conv2d({ filters: 2, kernelSize: 2, activation: 'relu', inputShape: [3, 3, 1] }),
      L.averagePooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}
const X = { data: Float32Array.from({ length: 4 * 9 }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [4, 3, 3, 1] };
const Y = { data: Float32Array.from([0, 1, 2, 1]), shape: [4] };

describe('model files from before layer state and RMSprop', () => {
  it('both files still load, and the trained one predicts exactly what it predicted then', () => {
    const a = track(sn.loadModel(fromB64(FILE_UNTRAINED)));
    expect(a.optimizer).toBeInstanceOf(sn.Adam);
    expect(a.stateWeights()).toEqual([]);
    const b = track(sn.loadModel(fromB64(FILE_TRAINED)));
    expect(b.optimizer!.iterations).toBe(2);
    expect(b.optimizer!.getConfig()).toEqual({ learningRate: 0.1, momentum: 0.9, nesterov: false });
    const p = b.predict(X);
    // Recorded on the threads build; simd gives the same bits, scalar may differ in the last bits.
    const got = Array.from(p.dataSync());
    p.dispose();
    got.forEach((v, i) => expect(Math.abs(v - PRED_TRAINED[i]), `pred ${i}`).toBeLessThan(1e-6));
    if (sn.getEngine().build !== 'scalar') expect(got).toEqual(PRED_TRAINED);
  });

  it('loading and saving again reproduces both files byte for byte (as version 2: new version, checksum appended)', () => {
    for (const f of [FILE_UNTRAINED, FILE_TRAINED]) {
      const bytes = fromB64(f);
      const m = track(sn.loadModel(bytes));
      const again = new Uint8Array(m.save());
      expect(again).toEqual(asVersion2(bytes));
      expect(new Uint8Array(track(sn.loadModel(again)).save())).toEqual(again);
    }
  });

  it('the same models built now save the same bytes (no "state" key, same layout)', () => {
    const a = track(compatModel());
    a.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    expect(new Uint8Array(a.save())).toEqual(asVersion2(fromB64(FILE_UNTRAINED)));
    const b = track(compatModel());
    b.compile({ optimizer: new sn.SGD({ learningRate: 0.1, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy' });
    b.trainOnBatch(X, Y);
    b.trainOnBatch(X, Y);
    const now = new Uint8Array(b.save());
    const then = asVersion2(fromB64(FILE_TRAINED));
    // The header (architecture, weight table, optimizer, RNG) is identical on every build; the
    // floats too, except on the scalar build whose sums may round differently.
    const hlen = new DataView(then.buffer).getUint32(12, true);
    expect(now.subarray(0, 16 + hlen)).toEqual(then.subarray(0, 16 + hlen));
    if (sn.getEngine().build !== 'scalar') expect(now).toEqual(then);
  });
});

describe('optimizer state that does not fit the optimizer', () => {
  it('an Adam file relabelled RMSprop (2 slot arrays per weight, RMSprop keeps 1) is a clear loadModel error', () => {
    const m = track(compatModel());
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(X, Y);
    const file = new Uint8Array(m.save());
    const hlen = new DataView(file.buffer).getUint32(12, true);
    const h = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen)));
    h.compile.optimizer = {
      className: 'RMSprop',
      config: { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
    };
    const json = new TextEncoder().encode(JSON.stringify(h));
    const padded = Math.ceil(json.length / 4) * 4;
    const out = new Uint8Array(16 + padded + file.length - 16 - hlen);
    out.set(file.subarray(0, 16));
    new DataView(out.buffer).setUint32(12, padded, true);
    out.fill(0x20, 16, 16 + padded);
    out.set(json, 16);
    out.set(file.subarray(16 + hlen), 16 + padded);
    // Re-seal: the checksum must pass so that the optimizer check is the one that refuses the file.
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
    const live0 = adv.getArena().liveBytes;
    expect(() => sn.loadModel(out)).toThrow(
      /loadModel: optimizer state of conv2d\/kernel has 2 arrays but RMSprop with this config keeps 1/,
    );
    expect(adv.getArena().liveBytes).toBe(live0);
  });
});
