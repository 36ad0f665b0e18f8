// tfjs-layers files made to hurt the loader: configs whose layers need far more memory than the file
// holds, manifests over the budget, prototype member names, non-finite weights (float32, float16,
// affine-quantised), arguments nested 100,000 deep, long graphs listed backwards. Each ends, within a
// time and memory bound, in a refusal naming what is wrong, or in a model that predicts correctly.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { float32ToFloat16 } from '../../src/formats/float16.js';
import { loadLayersModelFile } from '../../src/node/index.js';
import { expectLoad, expectRefusal, predictFinite, tally } from './hostile-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'simdnet-hostile-tfjs-'));
beforeAll(async () => {
  await sn.ready();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  console.log(
    `hostile tfjs: ${tally.cases} cases, ${tally.refused} refused, ${tally.loaded} loaded correctly; ` +
      `slowest ${tally.slowest.what} ${tally.slowest.ms.toFixed(0)} ms`,
  );
});

type Obj = Record<string, unknown>;

/** A Sequential Dense(4 -> units) config with its manifest specs and weight bytes. */
function dense(units: number, declared = 3, values?: Float32Array) {
  const art = {
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [{ class_name: 'Dense', config: { name: 'd', units, batch_input_shape: [null, 4], use_bias: false } }],
      },
    },
    weightSpecs: [{ name: 'd/kernel', shape: [4, declared], dtype: 'float32' }],
    weightData: (values ?? Float32Array.from({ length: 4 * declared }, (_, i) => i / 10)).buffer,
  };
  return art as unknown as sn.LayersModelArtifacts;
}

/** Tensor ids are sequential: nothing allocated between two probes means their ids are adjacent. */
const probe = () => {
  const t = sn.zeros([1]);
  t.dispose();
  return t.id;
};

describe('nothing is allocated before the file is checked', () => {
  it('a Dense of 8e6 units with 12 weights in the manifest is refused before its layer allocates', async () => {
    const before = probe();
    await expectRefusal(
      'Dense 8e6',
      () => sn.loadLayersModel(dense(8e6)),
      /weight d\/kernel has shape \[4,3\], the layer needs \[4,8000000\]/,
      { ms: 1000 },
    );
    expect(probe()).toBe(before + 1);
  });

  it('layers needing more than 2^28 elements or the budget are refused, however the manifest matches', async () => {
    await expectRefusal(
      'Dense 1e9',
      () => sn.loadLayersModel(dense(1e9)),
      /d: the weight kernel of shape \[4,1000000000\] has 4000000000 floats/,
    );
    await expectRefusal(
      'Dense over maxBytes',
      () => sn.loadLayersModel(dense(1000), undefined, { maxBytes: 4000 }),
      /weight d\/kernel would have shape \[4,3\]|layer weight d\/kernel would have shape \[4,1000\], 16000 bytes .* past the budget of 4000 bytes/,
    );
  });

  it('a manifest declaring 1.5 GiB of weights is refused before any shard is read', async () => {
    const a = dense(3) as unknown as Obj;
    const json = {
      modelTopology: a.modelTopology,
      weightsManifest: [
        {
          paths: ['missing.bin'],
          weights: ['a', 'b', 'c'].map((l) => ({ name: `${l}/kernel`, shape: [2 ** 27], dtype: 'float32' })),
        },
      ],
    };
    writeFileSync(join(root, 'huge.json'), JSON.stringify(json));
    await expectRefusal(
      'manifest 1.5 GiB',
      () => loadLayersModelFile(join(root, 'huge.json')),
      /weight c\/kernel would have shape \[134217728\], 536870912 bytes \(512 MiB\), past the budget of 1073741824 bytes \(1024 MiB\) \(1073741824 bytes \(1024 MiB\) already held/,
    );
    const many = {
      ...json,
      weightsManifest: [{ paths: Array.from({ length: 5000 }, (_, i) => `s${i}.bin`), weights: [] }],
    };
    writeFileSync(join(root, 'many.json'), JSON.stringify(many));
    await expectRefusal(
      '5000 shards',
      () => loadLayersModelFile(join(root, 'many.json')),
      /names 5000 shard files, more than 4096/,
    );
  });

  it('a layer whose output would pass 2^28 values per sample (UpSampling2D by 5000) is refused at load', async () => {
    const a = {
      modelTopology: {
        class_name: 'Sequential',
        config: {
          layers: [
            {
              class_name: 'UpSampling2D',
              config: { name: 'up', size: [5000, 5000], batch_input_shape: [null, 4, 4, 1] },
            },
          ],
        },
      },
      weightSpecs: [],
    };
    await expectRefusal(
      'UpSampling2D 5000',
      () => sn.loadLayersModel(a as never),
      /layer up would output shape \[20000,20000,1\], 400000000 values per sample, more than 268435456/,
    );
  });

  it('a model.json that is a device is refused', async () => {
    await expectRefusal('model.json = /dev/zero', () => loadLayersModelFile('/dev/zero'), /not a regular file/);
  });
});

describe('names that are members of Object.prototype', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('class_name %s', async (cls) => {
    const a = dense(3) as unknown as { modelTopology: { config: { layers: Obj[] } } };
    a.modelTopology.config.layers[0]!.class_name = cls;
    await expectRefusal(
      `class ${cls}`,
      () => sn.loadLayersModel(a as never),
      new RegExp(`${cls}.*unsupported layer class`),
    );
  });

  it('layer and weight names like __proto__ load as plain names', async () => {
    const a = dense(3) as unknown as {
      modelTopology: { config: { layers: Array<{ config: Obj }> } };
      weightSpecs: Obj[];
    };
    a.modelTopology.config.layers[0]!.config.name = '__proto__';
    a.weightSpecs[0]!.name = '__proto__/kernel';
    const m = await expectLoad('layer __proto__', async () => sn.loadLayersModel(a as never));
    expect(m.layers.map((l) => l.name)).toContain('__proto__');
    expect(Array.from(predictFinite(m, new Float32Array([1, 0, 0, 0]), [1, 4])).map((v) => Math.round(v * 10))).toEqual(
      [0, 1, 2],
    );
    m.dispose();
  });
});

describe('non-finite weights are refused with the weight named', () => {
  it('NaN and Infinity float32 weights; allowNonFinite loads them', async () => {
    const v = Float32Array.from({ length: 12 }, (_, i) => i);
    v[5] = Number.NaN;
    await expectRefusal(
      'float32 NaN',
      () => sn.loadLayersModel(dense(3, 3, v)),
      /weight d\/kernel holds NaN at index 5/,
    );
    v[5] = Number.NEGATIVE_INFINITY;
    await expectRefusal(
      'float32 -Inf',
      () => sn.loadLayersModel(dense(3, 3, v)),
      /weight d\/kernel holds -Infinity at index 5/,
    );
    const m = await expectLoad('float32 -Inf allowed', async () =>
      sn.loadLayersModel(dense(3, 3, v), undefined, { allowNonFinite: true }),
    );
    m.dispose();
  });

  it('float16 Inf and uint8 codes whose scale overflows are refused', async () => {
    const a = dense(3) as unknown as { weightSpecs: Obj[]; weightData: ArrayBuffer };
    const half = Array.from({ length: 12 }, (_, i) => float32ToFloat16(i / 10));
    half[2] = 0x7c00;
    a.weightSpecs[0]!.quantization = { dtype: 'float16' };
    a.weightData = new Uint16Array(half).buffer;
    await expectRefusal(
      'float16 Inf',
      () => sn.loadLayersModel(a as never),
      /weight d\/kernel holds Infinity at index 2/,
    );
    a.weightSpecs[0]!.quantization = { dtype: 'uint8', scale: 3e38, min: 0 };
    a.weightData = new Uint8Array(12).fill(255).buffer;
    await expectRefusal(
      'uint8 overflow',
      () => sn.loadLayersModel(a as never),
      /weight d\/kernel holds Infinity at index 0/,
    );
  });
});

describe('deep and long topologies', () => {
  /** A Keras 3 functional model: input -> `n` ReLU layers listed last-first -> output. */
  function reluChain(n: number, nest = 1): Obj {
    const tensorRef = (name: string): unknown => {
      let v: unknown = { class_name: '__keras_tensor__', config: { keras_history: [name, 0, 0] } };
      for (let i = 1; i < nest; i++) v = [v];
      return v;
    };
    const layers: Obj[] = [{ class_name: 'InputLayer', config: { name: 'in', batch_shape: [null, 3] } }];
    for (let i = n - 1; i >= 0; i--) {
      layers.push({
        class_name: 'ReLU',
        config: { name: `r${i}` },
        inbound_nodes: [{ args: [tensorRef(i === 0 ? 'in' : `r${i - 1}`)], kwargs: {} }],
      });
    }
    return {
      modelTopology: {
        class_name: 'Functional',
        module: 'keras',
        config: { name: 'f', layers, input_layers: [['in', 0, 0]], output_layers: [[`r${n - 1}`, 0, 0]] },
      },
      weightSpecs: [],
    };
  }
  const x = new Float32Array([-1, 0.5, 2]);

  it('Keras 3 arguments nested 100,000 deep are refused without a stack overflow', async () => {
    await expectRefusal(
      'nested 100k',
      () => sn.loadLayersModel(reluChain(2, 100000) as never),
      /nested more than 64 levels deep/,
    );
  });

  it('2,000 layers listed last-first load in linear time and predict', async () => {
    const m = await expectLoad('2k reversed chain', async () => sn.loadLayersModel(reluChain(2000) as never));
    expect(Array.from(predictFinite(m, x, [1, 3]))).toEqual([0, 0.5, 2]);
    m.dispose();
  });

  it('20,000 unnamed layers of one class in a Sequential are named in linear time, as the model names them', async () => {
    const seq = (n: number, name?: string) => ({
      modelTopology: {
        class_name: 'Sequential',
        config: {
          layers: Array.from({ length: n }, (_, i) => ({
            class_name: 'ReLU',
            config: i === 0 ? { batch_input_shape: [null, 3] } : i === 2 && name ? { name } : {},
          })),
        },
      },
      weightSpecs: [],
    });
    const small = sn.loadLayersModel(seq(5, 'mine') as never);
    const direct = new sn.Sequential({
      layers: [
        new sn.ReLU({ inputShape: [3] }),
        new sn.ReLU(),
        new sn.ReLU({ name: 'mine' }),
        new sn.ReLU(),
        new sn.ReLU(),
      ],
    });
    expect(small.layers.map((l) => l.name)).toEqual(direct.layers.map((l) => l.name));
    expect(small.layers.map((l) => l.name)).toEqual(['re_lu', 're_lu_1', 'mine', 're_lu_3', 're_lu_4']);
    small.dispose();
    direct.dispose();
    expect(() => sn.loadLayersModel(seq(5, 're_lu_3') as never)).toThrow(/a layer named re_lu_3 already exists/);
    const m = await expectLoad('20k unnamed', async () => sn.loadLayersModel(seq(20000) as never), { ms: 20000 });
    expect(m.layers[m.layers.length - 1]!.name).toBe('re_lu_19999');
    expect(Array.from(predictFinite(m, x, [1, 3]))).toEqual([0, 0.5, 2]);
    m.dispose();
    await expectRefusal(
      '70k layers',
      () => sn.loadLayersModel(seq(70000) as never),
      /the model has 70000 layers, more than 32768/,
    );
  }, 60_000);

  it('20,000 layers listed last-first: loaded and predicting (the graph walk is iterative)', async () => {
    const m = await expectLoad('20k reversed chain', async () => sn.loadLayersModel(reluChain(20000) as never), {
      ms: 20000,
    });
    expect(Array.from(predictFinite(m, x, [1, 3]))).toEqual([0, 0.5, 2]);
    m.dispose();
  }, 60_000);
});
