// model.toJSON() / sn.modelFromJSON(): the architecture alone, for Sequential and functional models.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { presetModel } from '../../src/cli/presets.js';

await sn.ready();
const L = sn.layers;

describe('model.toJSON / modelFromJSON', () => {
  it('a Sequential model round-trips: same layers, configs, shapes and parameter count, new weights', () => {
    const m = presetModel('fast', { batchNorm: true, dropout: 0.25, seed: 4 });
    m.layers[1].trainable = false;
    const json = m.toJSON();
    const back = sn.modelFromJSON(json, { seed: 4 });
    expect(back.toJSON()).toBe(json);
    expect(back.isSequential).toBe(true);
    expect(back.layers.map((l) => l.className)).toEqual(m.layers.map((l) => l.className));
    expect(back.shapes()).toEqual(m.shapes());
    expect(back.countParams()).toBe(m.countParams());
    expect(back.countTrainableParams()).toBe(m.countTrainableParams());
    // Same seed, same initial weights: the JSON holds everything the initialisation depends on.
    const a = m.getWeights().map((t) => Array.from(t.dataSync()));
    const c = back.getWeights().map((t) => Array.from(t.dataSync()));
    expect(c).toEqual(a);
    expect(sn.modelToJSON(m, 2)).toBe(JSON.stringify(JSON.parse(m.toJSON()), null, 2));
    // JSON.stringify(model) embeds the architecture string.
    expect(JSON.parse(JSON.stringify({ m }))).toEqual({ m: m.toJSON() });
    m.dispose();
    back.dispose();
  });

  it('a functional model round-trips with its graph', () => {
    const inp = sn.input({ shape: [8, 8, 1] });
    const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp);
    const c2 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(c1);
    const y = L.dense({ units: 3, activation: 'softmax' }).apply(
      L.flatten().apply(L.add().apply([c1, c2]) as sn.SymbolicTensor),
    );
    const m = sn.model({ inputs: inp, outputs: y as sn.SymbolicTensor, seed: 2 });
    const parsed = JSON.parse(m.toJSON());
    expect(parsed.className).toBe('Functional');
    expect(parsed.graph.layers).toHaveLength(m.layers.length);
    const back = sn.modelFromJSON(parsed, { seed: 2 });
    expect(back.isSequential).toBe(false);
    expect(back.countParams()).toBe(m.countParams());
    const x = { data: Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), shape: [1, 8, 8, 1] };
    expect(Array.from(back.predict(x).dataSync())).toEqual(Array.from(m.predict(x).dataSync()));
    m.dispose();
    back.dispose();
  });

  it('bad JSON is refused naming what is wrong', () => {
    expect(() => sn.modelFromJSON('{')).toThrow(/modelFromJSON: not valid JSON/);
    expect(() => sn.modelFromJSON('{"layers": []}')).toThrow(/simdnet-architecture/);
    const good = JSON.parse(presetModel('fast').toJSON());
    good.layers[0].className = 'Conv9D';
    expect(() => sn.modelFromJSON(good)).toThrow(/modelFromJSON: layer 0 has unknown class "Conv9D"/);
    for (const name of ['__proto__', 'constructor', 'toString']) {
      good.layers[0].className = name;
      expect(() => sn.modelFromJSON(good)).toThrow(new RegExp(`modelFromJSON: layer 0 has unknown class "${name}"`));
    }
    const big = JSON.parse(presetModel('fast').toJSON());
    big.layers[2].config.kernelSize = [13, 13];
    expect(() => sn.modelFromJSON(big)).toThrow(/conv2d_1: a 13x13 window .* does not fit a 12x12 input/);
  });
});
