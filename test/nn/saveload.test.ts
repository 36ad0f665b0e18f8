// The model file: save → load round trips (bit-identical predictions, exact resumption of training),
// clear errors for damaged or foreign files that never touch a model in memory, a corruption fuzz,
// and the Node file helpers.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { loadModelFile, saveModelFile } from '../../src/node/model.js';
import { makeRng } from '../helpers/check.js';
import { crc32 } from '../../src/formats/simdnet/crc32.js';
import { encodeSimdnet } from '../../src/io/simdnet.js';
import { bars, tinyModel, weightArrays, weightsHash } from './fixtures.js';

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

const data = bars(2000, 5);
const probeX = bars(12, 99).x;

// model -> its predictions on probeX as a plain array
function predictions(m: sn.Model): Float32Array {
  const p = m.predict(probeX);
  const v = p.dataSync() as Float32Array;
  p.dispose();
  return v;
}

// A trained, compiled (Adam) model with optimizer state, and its file.
async function trainedModel(seed = 3): Promise<{ model: sn.Sequential; file: Uint8Array }> {
  const model = track(tinyModel(seed));
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(
    { data: data.x.data.subarray(0, 64 * 64), shape: [64, 8, 8, 1] },
    { data: data.labels.data.subarray(0, 64), shape: [64] },
    { epochs: 1, batchSize: 16, verbose: 0 },
  );
  return { model, file: new Uint8Array(model.save()) };
}

// file bytes -> its parts: version, JSON header (parsed), float blob bytes (without the checksum)
function splitFile(file: Uint8Array): { version: number; header: any; blob: Uint8Array } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hlen = dv.getUint32(12, true);
  return {
    version: dv.getUint32(8, true),
    header: JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen))),
    blob: file.slice(16 + hlen, dv.getUint32(8, true) >= 2 ? file.length - 4 : file.length),
  };
}

// parts -> file bytes with the same layout (magic, version, padded header length, header, blob) and,
// from version 2, a valid checksum: so the edited content, not the checksum, is what the loader judges
function joinFile(parts: { version: number; header: unknown; blob: Uint8Array }): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(parts.header));
  const padded = Math.ceil(json.length / 4) * 4;
  const body = 16 + padded + parts.blob.length;
  const out = new Uint8Array(body + (parts.version >= 2 ? 4 : 0));
  out.set(new TextEncoder().encode('SIMDNET\0'), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, parts.version, true);
  dv.setUint32(12, padded, true);
  out.fill(0x20, 16, 16 + padded);
  out.set(json, 16);
  out.set(parts.blob, 16 + padded);
  if (parts.version >= 2) dv.setUint32(body, crc32(out.subarray(0, body)), true);
  return out;
}

// a version-2 file with its checksum recomputed after an edit of its bytes
function reseal(file: Uint8Array): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  dv.setUint32(file.length - 4, crc32(file.subarray(0, file.length - 4)), true);
  return file;
}

// file with the header edited by `edit`
function editHeader(file: Uint8Array, edit: (h: any) => void): Uint8Array {
  const parts = splitFile(file);
  edit(parts.header);
  return joinFile(parts);
}

describe('round trip', () => {
  it('save → loadModel → predict is bit-identical, with architecture and compile state restored', async () => {
    const { model, file } = await trainedModel();
    const loaded = track(sn.loadModel(file.buffer as ArrayBuffer));
    expect(predictions(loaded)).toEqual(predictions(model));
    expect(loaded.summary(null)).toBe(model.summary(null));
    expect(weightsHash(loaded)).toBe(weightsHash(model));
    expect(loaded.seed).toBe(model.seed);
    expect(loaded.loss).toBe('sparseCategoricalCrossentropy');
    expect(loaded.metrics).toEqual(['accuracy']);
    expect(loaded.optimizer?.className).toBe('Adam');
    expect(loaded.optimizer?.getConfig()).toEqual(model.optimizer?.getConfig());
    expect(loaded.optimizer?.iterations).toBe(4);
    // Our re-encoder reproduces the writer's layout exactly (so edited files below differ only where edited).
    expect(joinFile(splitFile(file))).toEqual(file);
    // A Uint8Array view at an offset into a bigger buffer loads too.
    const big = new Uint8Array(file.length + 8);
    big.set(file, 3);
    const fromView = track(sn.loadModel(big.subarray(3, 3 + file.length)));
    expect(predictions(fromView)).toEqual(predictions(model));
  });

  it('an uncompiled model saves and loads without compile state', () => {
    const m = track(tinyModel(8));
    m.build();
    const loaded = track(sn.loadModel(m.save()));
    expect(loaded.optimizer).toBeNull();
    expect(loaded.loss).toBeNull();
    expect(predictions(loaded)).toEqual(predictions(m));
    expect(() => loaded.trainOnBatch(probeX, { data: new Float32Array(12), shape: [12] })).toThrow(/compile/);
  });

  it('SGD with momentum (and its velocity) round-trips', async () => {
    const m = track(tinyModel(9));
    m.compile({
      optimizer: new sn.SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
      loss: 'categoricalCrossentropy',
    });
    const x = { data: data.x.data.subarray(0, 32 * 64), shape: [32, 8, 8, 1] };
    const y = { data: data.oneHot.data.subarray(0, 32 * 3), shape: [32, 3] };
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const loaded = track(sn.loadModel(m.save()));
    expect(loaded.optimizer).toBeInstanceOf(sn.SGD);
    expect(loaded.optimizer?.getConfig()).toEqual({ learningRate: 0.05, momentum: 0.9, nesterov: true });
    // Same next steps from the same state (velocity included).
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(weightsHash(loaded)).toBe(weightsHash(m));
  });

  // Model A fits 2 epochs of 500 steps; model B fits 1, is saved and loaded as C (not recompiled,
  // no seed), and C fits 1 more: A and C must be bit-identical.
  async function resume(fitArgs: sn.FitArgs): Promise<void> {
    const make = () => track(tinyModel(41, [sn.layers.dropout({ rate: 0.2 })]));
    const a = make();
    a.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    let stepsA = 0;
    const ha = await a.fit(data.x, data.labels, {
      ...fitArgs,
      epochs: 2,
      callbacks: {
        onBatchEnd: () => {
          stepsA++;
        },
      },
    });
    expect(stepsA).toBe(1000);

    const b = make();
    b.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await b.fit(data.x, data.labels, { ...fitArgs, epochs: 1 });
    expect(weightsHash(b)).not.toBe(weightsHash(a));
    const c = track(sn.loadModel(b.save()));
    expect(c.optimizer?.iterations).toBe(500);
    // No compile, no seed: the loader restored optimizer state and the training RNG.
    const hc = await c.fit(data.x, data.labels, { ...fitArgs, epochs: 1, initialEpoch: 1 });
    expect(c.optimizer?.iterations).toBe(1000);
    expect(hc.epoch).toEqual([1]);
    expect(weightsHash(c)).toBe(weightsHash(a));
    const wa = weightArrays(a),
      wc = weightArrays(c);
    wa.forEach((w, i) => expect(wc[i]).toEqual(w));
    expect(hc.history.loss[0]).toBe(ha.history.loss[1]);
  }

  it('exact resume: 2 epochs (1,000 steps) = 1 epoch, save, load, 1 more epoch', async () => {
    await resume({ batchSize: 4, verbose: 0 });
  });

  it('exact resume without shuffling (optimizer state and dropout RNG restored)', async () => {
    await resume({ batchSize: 4, verbose: 0, shuffle: false });
  });
});

describe('IO handlers', () => {
  it("model.save(handler) hands over the model's artifacts, the very ones the .simdnet bytes hold", async () => {
    const { model, file } = await trainedModel(4);
    let got: sn.ModelArtifacts | null = null;
    const handler: sn.IOHandler<string> = {
      save(a) {
        got = a;
        return 'stored';
      },
    };
    expect(model.save(handler)).toBe('stored');
    const a = got! as sn.ModelArtifacts;
    const { header } = splitFile(file);
    expect(a.name).toBe(header.name);
    expect(a.seed).toBe(header.seed);
    expect(a.layers).toEqual(header.layers);
    expect(a.compile).toEqual(header.compile);
    expect(a.rng).toEqual(header.rng);
    expect(a.weights.map((w) => [w.name, w.shape])).toEqual(header.weights.map((w: any) => [w.name, w.shape]));
    expect(a.weights.map((w) => [...w.values])).toEqual(model.params().map((p) => [...p.value.view()]));
    expect(a.optimizerState!.iterations).toBe(header.optimizerState.iterations);
    expect(Object.keys(a.optimizerState!.slots)).toEqual(Object.keys(header.optimizerState.slots));
    // a handler that writes the .simdnet bytes itself gives model.save()'s bytes
    expect(new Uint8Array(model.save({ save: (x) => encodeSimdnet(x) }))).toEqual(file);
    expect(new Uint8Array(sn.saveModel(model))).toEqual(file);
  });

  it('a disposed model refuses save(handler) without calling the handler', () => {
    const m = tinyModel(9);
    m.build();
    m.dispose();
    let called = false;
    expect(() =>
      m.save({
        save: () => {
          called = true;
        },
      }),
    ).toThrow('save: the model sequential was disposed');
    expect(called).toBe(false);
  });
});

describe('loader errors leave the model in memory untouched', () => {
  let ref: sn.Sequential;
  let file: Uint8Array;
  let refPredictions: Float32Array;
  let refHash: string;
  beforeAll(async () => {
    ({ model: ref, file } = await trainedModel(4));
    refPredictions = predictions(ref);
    refHash = weightsHash(ref);
  });

  // file, pattern -> loadModel throws a plain Error whose message starts 'loadModel:' and matches;
  // the arena neither grows nor leaks, and the existing model is unchanged
  function expectLoadError(bytes: Uint8Array, re: RegExp): string {
    const arena = adv.getArena();
    const hw = arena.highWaterMark,
      liveBytes = arena.liveBytes;
    let err: unknown = null;
    try {
      track(sn.loadModel(bytes));
    } catch (e) {
      err = e;
    }
    expect(err, 'loadModel did not throw').toBeInstanceOf(Error);
    const e = err as Error;
    expect(Object.getPrototypeOf(e), `${e.name}: ${e.message}`).toBe(Error.prototype);
    expect(e.message).toMatch(/^loadModel: /);
    expect(e.message).toMatch(re);
    expect(arena.highWaterMark, 'arena grew').toBe(hw);
    expect(arena.liveBytes, 'arena leaked').toBe(liveBytes);
    expect(predictions(ref)).toEqual(refPredictions);
    expect(weightsHash(ref)).toBe(refHash);
    return e.message;
  }

  it('truncated files', () => {
    const hlen = new DataView(file.buffer).getUint32(12, true);
    const cuts = [
      0,
      1,
      7,
      8,
      12,
      15,
      16,
      17,
      40,
      16 + hlen - 1,
      16 + hlen + 1,
      16 + hlen + 6,
      file.length - 3,
      file.length - 1,
    ];
    for (const cut of cuts) expectLoadError(file.slice(0, cut), /truncated/);
  });

  it('a file truncated at a float boundary inside the weight data says it is truncated', () => {
    const hlen = new DataView(file.buffer).getUint32(12, true);
    // Cut at the start of the weight data, in the middle, and 4 bytes short of the end.
    for (const cut of [16 + hlen, 16 + hlen + 4 * 20, file.length - 4])
      expectLoadError(file.slice(0, cut), /truncated/);
  });

  it('trailing bytes after the weight data', () => {
    const longer = new Uint8Array(file.length + 8);
    longer.set(file);
    expectLoadError(longer, /file is corrupt: its CRC-32 is [0-9a-f]{8} but the file says 00000000/);
    const parts = splitFile(file);
    expectLoadError(
      joinFile({ ...parts, blob: Uint8Array.from([...parts.blob, 0, 0, 0, 0, 0, 0, 0, 0]) }),
      /header accounts for/,
    );
  });

  it('wrong magic number, and foreign files', () => {
    const bad = file.slice();
    bad[0] = 0x73; // 's'
    expectLoadError(bad, /not a simdnet model file \(wrong magic number\)/);
    const png = new Uint8Array(64);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expectLoadError(png, /wrong magic number/);
    expectLoadError(new TextEncoder().encode(JSON.stringify(splitFile(file).header)), /wrong magic number/);
    expect(() => sn.loadModel('SIMDNET' as unknown as Uint8Array)).toThrow(
      /^loadModel: expected an ArrayBuffer or Uint8Array/,
    );
  });

  it('newer format version', () => {
    const bad = file.slice();
    bad[8] = sn.FORMAT_VERSION + 1;
    expectLoadError(
      bad,
      new RegExp(`format version ${sn.FORMAT_VERSION + 1} is newer than this simdnet reads \\(${sn.FORMAT_VERSION}\\)`),
    );
    bad[8] = 0;
    expectLoadError(bad, /invalid format version 0/);
  });

  it('header length that is not a multiple of 4 or beyond the file', () => {
    const bad = file.slice();
    new DataView(bad.buffer).setUint32(12, 6, true);
    expectLoadError(bad, /file is corrupt/);
    expectLoadError(reseal(bad), /header length 6 is invalid/);
    new DataView(bad.buffer).setUint32(12, 0xfffffff0, true);
    expectLoadError(reseal(bad), /header length \d+ is invalid/);
    new DataView(bad.buffer).setUint32(12, file.length, true);
    expectLoadError(reseal(bad), /truncated \(header needs/);
  });

  it('header claiming a huge weight fails before allocating', () => {
    const huge = editHeader(file, (h) => {
      const w = h.weights.find((x: any) => x.name === 'dense/kernel');
      w.shape = [100000, 100000];
      w.length = 100000 * 100000;
    });
    expectLoadError(huge, /file is truncated: the header describes \d+ floats/);
    // A huge input shape: every weight still fits, the activations would not.
    const wide = editHeader(file, (h) => {
      h.layers[0].config.inputShape = [100000, 100000, 1];
    });
    expectLoadError(wide, /(input shape|input of shape) \[100000,100000,1\] (is too large|has 10000000000 floats)/);
    // An input under the limit whose first layer's output is over it.
    const deep = editHeader(file, (h) => {
      h.layers[0].config.inputShape = [8000, 8000, 1];
    });
    expectLoadError(deep, /layer conv2d output \[7998,7998,4\] is too large/);
  });

  it('weights that do not fit the architecture', () => {
    const filters = editHeader(file, (h) => {
      h.layers[0].config.filters = 5;
    });
    expectLoadError(
      filters,
      /weight 0 is conv2d\/kernel \[3,3,1,4\] but the architecture needs conv2d\/kernel \[3,3,1,5\]/,
    );
    const units = editHeader(file, (h) => {
      h.layers[h.layers.length - 1].config.units = 4;
    });
    expectLoadError(units, /architecture needs dense\/kernel \[36,4\]/);
    const noBias = editHeader(file, (h) => {
      h.layers[0].config.useBias = false;
    });
    expectLoadError(noBias, /the architecture has 3 weight arrays but the file holds 4/);
    const renamed = editHeader(file, (h) => {
      h.layers[0].config.name = 'conv';
    });
    expectLoadError(renamed, /weight 0 is conv2d\/kernel .* but the architecture needs conv\/kernel/);
    const shape = editHeader(file, (h) => {
      h.weights[0].shape = [9, 4];
    });
    expectLoadError(shape, /weight 0 is conv2d\/kernel \[9,4\] but the architecture needs conv2d\/kernel \[3,3,1,4\]/);
    const count = editHeader(file, (h) => {
      h.weights[0].shape = [3, 3, 1, 5];
    });
    expectLoadError(count, /weight conv2d\/kernel has shape \[3,3,1,5\] but 36 values/);
  });

  it('bad layer configs and unknown classes in the header', () => {
    expectLoadError(
      editHeader(file, (h) => {
        h.layers[1].className = 'Lambda';
      }),
      /layer 1 has unknown class "Lambda"/,
    );
    // Prototype members are not classes: the registry is a Map.
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expectLoadError(
        editHeader(file, (h) => {
          h.layers[1].className = name;
        }),
        new RegExp(`layer 1 has unknown class "${name}"`),
      );
    }
    expectLoadError(
      editHeader(file, (h) => {
        h.layers[0].config.padding = 'full';
      }),
      /layer 0 \(Conv2D\): Conv2D: padding must be 'valid' or 'same'/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.layers = [];
      }),
      /no layers|architecture has 0 weight arrays/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.format = 'keras';
      }),
      /header does not describe a simdnet model/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.compile.loss = 'mse';
      }),
      /loss must be/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.compile.optimizer.className = 'Adagrad';
      }),
      /unknown optimizer "Adagrad"/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.optimizerState.iterations = -1;
      }),
      /optimizer iterations -1 is invalid/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.rng.train = [1, 2, 3];
      }),
      /rng state/i,
    );
    expectLoadError(
      editHeader(file, (h) => {
        delete h.rng;
      }),
      /RNG state missing/,
    );
    expectLoadError(
      editHeader(file, (h) => {
        h.optimizerState.slots['conv2d/kernel'][0].length = 35;
      }),
      /(header accounts for|optimizer state of conv2d\/kernel)/,
    );
    const parts = splitFile(file);
    const notJson = joinFile(parts);
    notJson[16] = 0x7b + 1;
    expectLoadError(notJson, /file is corrupt/);
    expectLoadError(reseal(notJson), /header is not valid JSON/);
  });

  // Checked like everything else in the header: a 'loadModel:' error, not the optimizer's own.
  it.each([
    [
      'beta1 2',
      (c: any) => {
        c.beta1 = 2;
      },
      /beta1/,
    ],
    [
      'learningRate -1',
      (c: any) => {
        c.learningRate = -1;
      },
      /learningRate/,
    ],
  ])('an invalid optimizer config in the header (%s) is a loadModel error', (_name, edit, re) => {
    expectLoadError(
      editHeader(file, (h) => edit(h.compile.optimizer.config)),
      re,
    );
  });

  it('a null optimizer config in the header is a loadModel error (not a TypeError)', () => {
    expectLoadError(
      editHeader(file, (h) => {
        h.compile.optimizer.config = null;
      }),
      /optimizer/,
    );
  });

  it('fuzz: 300 random corruptions load or fail with a loadModel error, never anything else', () => {
    const rng = makeRng(20240611);
    const hlen = new DataView(file.buffer).getUint32(12, true);
    const arena = adv.getArena();
    const liveBefore = arena.liveBytes;
    const unexpected: string[] = [];
    const outcomes = { loaded: 0, rejected: 0 };
    for (let t = 0; t < 300; t++) {
      let bytes: Uint8Array;
      let what: string;
      const kind = t % 3;
      if (kind === 2) {
        const cut = Math.floor(rng.next() * file.length);
        bytes = file.slice(0, cut);
        what = `truncate at ${cut}`;
      } else {
        bytes = file.slice();
        const region = kind === 0 ? 16 + hlen : file.length;
        const flips = 1 + Math.floor(rng.next() * 3);
        const at: number[] = [];
        for (let f = 0; f < flips; f++) {
          const i = Math.floor(rng.next() * region);
          bytes[i] ^= 1 + Math.floor(rng.next() * 255);
          at.push(i);
        }
        what = `${kind === 0 ? 'header' : 'file'} flips at ${at}`;
      }
      try {
        sn.loadModel(bytes).dispose();
        outcomes.loaded++;
      } catch (e) {
        outcomes.rejected++;
        const ok =
          e instanceof Error && Object.getPrototypeOf(e) === Error.prototype && e.message.startsWith('loadModel:');
        if (!ok) unexpected.push(`${what}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
    expect(unexpected, unexpected.slice(0, 5).join('\n')).toEqual([]);
    expect(outcomes.loaded + outcomes.rejected).toBe(300);
    expect(outcomes.rejected).toBeGreaterThan(150);
    expect(arena.liveBytes, 'failed loads leaked memory').toBe(liveBefore);
    expect(predictions(ref)).toEqual(refPredictions);
  });
});

describe('Node file helpers', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'simdnet-saveload-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('saveModelFile → loadModelFile round-trips, leaving no temp file', async () => {
    const { model } = await trainedModel(6);
    const path = join(dir, 'model.simdnet');
    await saveModelFile(model, path);
    expect(await readdir(dir)).toEqual(['model.simdnet']);
    const loaded = track(await loadModelFile(path));
    expect(predictions(loaded)).toEqual(predictions(model));
    expect(loaded.optimizer?.iterations).toBe(model.optimizer?.iterations);
  });

  it('a missing path and a damaged file give errors naming the path', async () => {
    const missing = join(dir, 'nope', 'missing.simdnet');
    await expect(loadModelFile(missing)).rejects.toThrow(`cannot read model file ${missing}`);
    const damaged = join(dir, 'damaged.simdnet');
    await writeFile(damaged, new Uint8Array([1, 2, 3]));
    await expect(loadModelFile(damaged)).rejects.toThrow(`${damaged}: loadModel: file is truncated`);
  });
});
