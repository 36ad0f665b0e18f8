// The tfjs-layers format on disk and over HTTP: model.json + weight shards written by simdnet and by
// hand (several shards, as tensorflowjs_converter splits them) load back; a missing or short shard is
// an error naming the file. Also shared layers and several inputs and outputs, from tfjs-layers.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { loadLayersModelFile, saveLayersModelFile } from '../../src/node/index.js';
import { makeRng } from '../helpers/check.js';

const dir = mkdtempSync(join(tmpdir(), 'simdnet-tfjs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await sn.ready();
});
const live: sn.Model[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};

function net(seed: number): sn.Model {
  const l = sn.layers;
  const x = sn.input({ shape: [6, 6, 2] });
  const a = l.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
  const b = l
    .batchNormalization()
    .apply(l.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(x));
  const c = l.concatenate().apply([a, b]);
  const y = l.dense({ units: 4 }).apply(l.flatten().apply(l.maxPooling2d({ poolSize: 2 }).apply(c)));
  const m = sn.model({ inputs: x, outputs: y, seed });
  m.build();
  const bn = m.getLayer(b.node.layer.name);
  bn.stateWeights[0]!.value.view().set([0.3, -0.2, 0.1, 0.5]);
  bn.stateWeights[1]!.value.view().set([0.5, 2, 1.3, 0.8]);
  return m;
}
const x = Float32Array.from(makeRng(1).fill(3 * 72, -1, 1));
function predict(m: sn.Model): Float32Array {
  const y = m.predict({ data: x, shape: [3, 6, 6, 2] });
  const v = Float32Array.from(y.dataSync());
  y.dispose();
  return v;
}

describe('model.json files', () => {
  it('saveLayersModelFile writes model.json + group1-shard1of1.bin that load back the same', async () => {
    const m = track(net(1));
    const path = await saveLayersModelFile(m, join(dir, 'one'));
    expect(path).toBe(join(dir, 'one', 'model.json'));
    const json = JSON.parse(readFileSync(path, 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['group1-shard1of1.bin']);
    expect(readFileSync(join(dir, 'one', 'group1-shard1of1.bin')).length).toBe(m.countParams() * 4);
    const back = track(await loadLayersModelFile(path));
    expect(predict(back)).toEqual(predict(m));
  });

  it('weights over several shards and groups load; a missing or short shard names the file', async () => {
    const m = track(net(2));
    const a = sn.saveLayersModel(m);
    const bytes = new Uint8Array(a.weightData as ArrayBuffer);
    const specs = a.weightSpecs!;
    // Group 1: the first two weights over two shards; group 2: the rest in one shard.
    const cut = sn.weightSpecBytes(specs[0]!) + sn.weightSpecBytes(specs[1]!);
    const d = join(dir, 'shards');
    await saveLayersModelFile(m, d);
    writeFileSync(join(d, 'group1-shard1of2.bin'), bytes.subarray(0, 50));
    writeFileSync(join(d, 'group1-shard2of2.bin'), bytes.subarray(50, cut));
    writeFileSync(join(d, 'group2-shard1of1.bin'), bytes.subarray(cut));
    const json = {
      ...sn.layersModelJSON(a, []),
      weightsManifest: [
        { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: specs.slice(0, 2) },
        { paths: ['group2-shard1of1.bin'], weights: specs.slice(2) },
      ],
    };
    writeFileSync(join(d, 'model.json'), JSON.stringify(json));
    const back = track(await loadLayersModelFile(join(d, 'model.json')));
    expect(predict(back)).toEqual(predict(m));
    truncateSync(join(d, 'group2-shard1of1.bin'), 10);
    await expect(loadLayersModelFile(join(d, 'model.json'))).rejects.toThrow(
      /group2-shard1of1\.bin holds 10 bytes, the manifest's weights of group 1 need/,
    );
    rmSync(join(d, 'group1-shard2of2.bin'));
    await expect(loadLayersModelFile(join(d, 'model.json'))).rejects.toThrow(
      /cannot read weight shard .*group1-shard2of2\.bin/,
    );
    await expect(loadLayersModelFile(join(d, 'nothing.json'))).rejects.toThrow(
      /cannot read tfjs model .*nothing\.json/,
    );
    writeFileSync(join(d, 'bad.json'), '{"modelTopology": {}}');
    await expect(loadLayersModelFile(join(d, 'bad.json'))).rejects.toThrow(/bad\.json: no weightsManifest/);
  });

  it('loadLayersModelURL fetches model.json and its shards relative to it', async () => {
    const m = track(net(3));
    const a = sn.saveLayersModel(m);
    const files: Record<string, ArrayBuffer | string> = {
      'https://example.test/models/cnn/model.json': JSON.stringify(sn.layersModelJSON(a, ['w.bin'])),
      'https://example.test/models/cnn/w.bin': a.weightData as ArrayBuffer,
    };
    const fake = (async (u: string) => {
      const body = files[u];
      return body === undefined ? new Response('no', { status: 404, statusText: 'Not Found' }) : new Response(body);
    }) as unknown as typeof fetch;
    const back = track(await sn.loadLayersModelURL('https://example.test/models/cnn/model.json', fake));
    expect(predict(back)).toEqual(predict(m));
    delete files['https://example.test/models/cnn/w.bin'];
    await expect(sn.loadLayersModelURL('https://example.test/models/cnn/model.json', fake)).rejects.toThrow(
      /https:\/\/example\.test\/models\/cnn\/w\.bin answered 404/,
    );
  });
});

describe('graphs from tfjs-layers', () => {
  it('a shared layer (two nodes) and a model of two inputs and two outputs load with tfjs predictions', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const tfl = await import('@tensorflow/tfjs-layers');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const i1 = tfl.input({ shape: [5, 5, 2] });
    const i2 = tfl.input({ shape: [5, 5, 2] });
    const shared = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' });
    const a = shared.apply(i1) as never;
    const b = shared.apply(i2) as never;
    const mx = tfl.layers.maximum().apply([a, b]) as never;
    const av = tfl.layers.average().apply([a, b]) as never;
    const o1 = tfl.layers.globalMaxPooling2d({}).apply(mx) as never;
    const o2 = tfl.layers.dense({ units: 2 }).apply(tfl.layers.flatten().apply(av) as never) as never;
    const tm = tfl.model({ inputs: [i1, i2], outputs: [o1, o2] });
    const rng = makeRng(9);
    tm.setWeights(
      tm.weights.map((w) =>
        tf.tensor(
          Float32Array.from(
            rng.fill(
              (w.shape as number[]).reduce((p, q) => p * q, 1),
              -1,
              1,
            ),
          ),
          w.shape as number[],
        ),
      ),
    );
    let art: sn.LayersModelArtifacts | undefined;
    await tm.save(
      tf.io.withSaveHandler(async (x) => {
        art = x as unknown as sn.LayersModelArtifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const m = track(sn.loadLayersModel(art!));
    const x1 = Float32Array.from(makeRng(10).fill(2 * 50, -1, 1));
    const x2 = Float32Array.from(makeRng(11).fill(2 * 50, -1, 1));
    const ours = m.predict([
      { data: x1, shape: [2, 5, 5, 2] },
      { data: x2, shape: [2, 5, 5, 2] },
    ]);
    const theirs = tm.predict([
      tf.tensor(x1, [2, 5, 5, 2]),
      tf.tensor(x2, [2, 5, 5, 2]),
    ]) as import('@tensorflow/tfjs-core').Tensor[];
    expect(ours.length).toBe(2);
    ours.forEach((o, k) => {
      const t = theirs[k]!.dataSync();
      const mag = Math.max(...Array.from(t, Math.abs));
      expect(mag).toBeGreaterThan(0);
      const err = Math.max(...Array.from(o.dataSync(), (v, j) => Math.abs(v - t[j]!)));
      expect(err / mag).toBeLessThan(1e-5);
      o.dispose();
    });
    // The shared conv is one layer with one set of weights, applied twice.
    const conv = m.layers.filter((l) => l.className === 'Conv2D');
    expect(conv.length).toBe(1);
    expect(conv[0]!.inboundNodes.length).toBe(2);
    tm.dispose();
  });
});
