// Model-file integrity: the CRC-32 refuses any damaged byte before the file is used (the error says
// the file is corrupt, and the file helpers name the file), and values no trained model can hold
// (non-finite weights, negative variances, overlapping slices, a dead RNG, absurd step counts) are
// refused in files of every version.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { crc32 } from '../../src/formats/simdnet/crc32.js';
import { loadModelFile, saveModelFile } from '../../src/node/model.js';
import { makeRng } from '../helpers/check.js';
import { bars, tinyModel } from './fixtures.js';
import { FILE_TRAINED } from './compat-files.js';

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

const data = bars(32, 8);

// A trained model with BatchNormalization (moving statistics) and Adam state, and its file.
async function bnModel(): Promise<Uint8Array> {
  const m = track(tinyModel(5, [sn.layers.batchNormalization()]));
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await m.fit(data.x, data.labels, { batchSize: 8, verbose: 0 });
  return new Uint8Array(m.save());
}

type Parts = { version: number; header: any; blob: Uint8Array };
function split(file: Uint8Array): Parts {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hlen = dv.getUint32(12, true);
  const version = dv.getUint32(8, true);
  return {
    version,
    header: JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen))),
    blob: file.slice(16 + hlen, version >= 2 ? file.length - 4 : file.length),
  };
}
// parts -> bytes, sealed with a valid checksum from version 2 on
function join2(p: Parts): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(p.header));
  const padded = Math.ceil(json.length / 4) * 4;
  const body = 16 + padded + p.blob.length;
  const out = new Uint8Array(body + (p.version >= 2 ? 4 : 0));
  out.set(new TextEncoder().encode('SIMDNET\0'));
  const dv = new DataView(out.buffer);
  dv.setUint32(8, p.version, true);
  dv.setUint32(12, padded, true);
  out.fill(0x20, 16, 16 + padded);
  out.set(json, 16);
  out.set(p.blob, 16 + padded);
  if (p.version >= 2) dv.setUint32(body, crc32(out.subarray(0, body)), true);
  return out;
}
const edited = (file: Uint8Array, edit: (p: Parts) => void) => {
  const p = split(file);
  edit(p);
  return join2(p);
};
const setFloat = (p: Parts, index: number, v: number) => new DataView(p.blob.buffer).setFloat32(index * 4, v, true);

function loadError(bytes: Uint8Array): string {
  const live0 = adv.getArena().liveBytes;
  try {
    sn.loadModel(bytes).dispose();
  } catch (e) {
    expect(Object.getPrototypeOf(e)).toBe(Error.prototype);
    expect(adv.getArena().liveBytes, 'a refused file allocated memory').toBe(live0);
    return (e as Error).message;
  }
  return '(loaded)';
}

describe('checksum', () => {
  it('crc32 agrees with zlib on random data', () => {
    const rng = makeRng(7);
    for (const n of [0, 1, 3, 255, 4096]) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 256));
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });

  it('float32 files are written as format version 2 with a valid CRC-32 at the end', async () => {
    const file = await bnModel();
    const dv = new DataView(file.buffer);
    expect(sn.FORMAT_VERSION).toBe(3);
    expect(dv.getUint32(8, true)).toBe(2);
    expect(dv.getUint32(file.length - 4, true)).toBe(zlibCrc32(file.subarray(0, file.length - 4)));
  });

  it('every one of 300 single-byte changes is refused as corrupt (or truncated): none loads changed', async () => {
    const file = await bnModel();
    const rng = makeRng(31337);
    const counts = { corrupt: 0, other: 0, loaded: 0 };
    const others: string[] = [];
    for (let t = 0; t < 300; t++) {
      const bytes = file.slice();
      // Every region: header prefix, JSON, weights, optimizer moments, the checksum itself.
      const at = Math.floor(rng.next() * file.length);
      bytes[at] ^= 1 + Math.floor(rng.next() * 255);
      const msg = loadError(bytes);
      if (msg === '(loaded)') counts.loaded++;
      else if (msg.startsWith('loadModel: file is corrupt: its CRC-32 is')) counts.corrupt++;
      else {
        counts.other++;
        others.push(`byte ${at}: ${msg}`);
      }
    }
    expect(counts.loaded).toBe(0);
    // Only the magic number and the version field are read before the checksum (and name themselves).
    for (const o of others)
      expect(o).toMatch(
        /^byte ([0-9]|1[01]): loadModel: (not a simdnet model file|format version|invalid format version)/,
      );
    expect(counts.corrupt + counts.other).toBe(300);
    expect(counts.corrupt).toBeGreaterThan(280);
  });

  it('a dropped compile section (optimizer state would vanish) is refused as corrupt', async () => {
    const file = await bnModel();
    const p = split(file);
    p.header.compile = null;
    p.header.optimizerState = null;
    // Re-written without the section but with the original checksum, as a damaged copy would be.
    const unsealed = join2(p);
    new DataView(unsealed.buffer).setUint32(
      unsealed.length - 4,
      new DataView(file.buffer).getUint32(file.length - 4, true),
      true,
    );
    expect(loadError(unsealed)).toMatch(/^loadModel: file is corrupt/);
  });

  it('loadModelFile names the file in the corrupt error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'simdnet-integrity-'));
    try {
      const m = track(tinyModel(2));
      const path = join(dir, 'model.simdnet');
      await saveModelFile(m, path);
      const bytes = await readFile(path);
      bytes[bytes.length - 20] ^= 0x40;
      await writeFile(path, bytes);
      await expect(loadModelFile(path)).rejects.toThrow(`${path}: loadModel: file is corrupt: its CRC-32 is`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('value checks (files with a valid checksum, and version-1 files)', () => {
  it('NaN and Infinity in weights, state or optimizer moments are refused, naming the array and index', async () => {
    const file = await bnModel();
    const p0 = split(file);
    const w = p0.header.weights[2];
    expect(loadError(edited(file, (p) => setFloat(p, w.offset + 1, NaN)))).toBe(
      `loadModel: weight ${w.name} holds NaN at index 1`,
    );
    expect(loadError(edited(file, (p) => setFloat(p, w.offset, -Infinity)))).toBe(
      `loadModel: weight ${w.name} holds -Infinity at index 0`,
    );
    const mean = p0.header.state.find((s: any) => s.name.endsWith('moving_mean'));
    expect(loadError(edited(file, (p) => setFloat(p, mean.offset + 2, Infinity)))).toBe(
      `loadModel: state ${mean.name} holds Infinity at index 2`,
    );
    const [name, slots] = Object.entries(p0.header.optimizerState.slots)[0] as [string, any[]];
    expect(loadError(edited(file, (p) => setFloat(p, slots[0].offset, NaN)))).toBe(
      `loadModel: optimizer state 0 of ${name} holds NaN at index 0`,
    );
  });

  it('a negative moving variance or Adam second moment is refused; a negative mean or first moment is not', async () => {
    const file = await bnModel();
    const p0 = split(file);
    const v = p0.header.state.find((s: any) => s.name.endsWith('moving_variance'));
    expect(loadError(edited(file, (p) => setFloat(p, v.offset, -0.5)))).toBe(
      `loadModel: state ${v.name} holds -0.5 at index 0, but it cannot be negative`,
    );
    const mean = p0.header.state.find((s: any) => s.name.endsWith('moving_mean'));
    expect(loadError(edited(file, (p) => setFloat(p, mean.offset, -0.5)))).toBe('(loaded)');
    const [name, slots] = Object.entries(p0.header.optimizerState.slots)[0] as [string, any[]];
    expect(loadError(edited(file, (p) => setFloat(p, slots[1].offset + 3, -1)))).toBe(
      `loadModel: optimizer state 1 of ${name} holds -1 at index 3, but it cannot be negative`,
    );
    expect(loadError(edited(file, (p) => setFloat(p, slots[0].offset + 3, -1)))).toBe('(loaded)');
  });

  it('overlapping weight slices are refused', async () => {
    const file = await bnModel();
    // The bias pointed into the kernel: the total is unchanged and every slice is in bounds, so only
    // the overlap tells (the bias' own floats would be read by no one).
    const bad = edited(file, (p) => {
      p.header.weights[1].offset = p.header.weights[0].offset + 2;
    });
    expect(loadError(bad)).toBe(
      'loadModel: weight conv2d/kernel and weight conv2d/bias overlap in the weight data (damaged file)',
    );
  });

  it('an all-zero RNG state, absurd iterations and optimizer state without compile are refused', async () => {
    const file = await bnModel();
    expect(
      loadError(
        edited(file, (p) => {
          p.header.rng.train = [0, 0, 0, 0];
        }),
      ),
    ).toBe('loadModel: RNG state train is all zeros (not a state the generator can have)');
    for (const it of [2 ** 31, 1e300, 2 ** 53]) {
      expect(
        loadError(
          edited(file, (p) => {
            p.header.optimizerState.iterations = it;
          }),
        ),
      ).toBe(`loadModel: optimizer iterations ${it} is invalid (an integer in [0, 2147483646])`);
    }
    expect(
      loadError(
        edited(file, (p) => {
          p.header.compile = null;
        }),
      ),
    ).toBe('loadModel: optimizer state without a compile section (damaged file)');
    expect(() => new sn.Rng(1).setState([0, 0, 0, 0])).toThrow(/all zeros/);
  });

  it('version-1 files (no checksum) still load, and get the same value checks', () => {
    const v1 = Uint8Array.from(atob(FILE_TRAINED), (c) => c.charCodeAt(0));
    expect(loadError(v1)).toBe('(loaded)');
    const p0 = split(v1);
    expect(p0.version).toBe(1);
    expect(loadError(edited(v1, (p) => setFloat(p, 0, NaN)))).toBe(
      `loadModel: weight ${p0.header.weights[0].name} holds NaN at index 0`,
    );
  });
});
