// Every option of every model method is checked (type, integer-ness, range) before any work, with an
// error naming the method, the option and the value; a disposed model refuses to be used; tidy()
// frees what predict and getWeights return when the caller drops it.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { show } from '../../src/show.js';
import {
  bool,
  custom,
  finite,
  int,
  layerConfig,
  num,
  oneOf,
  pair,
  posInt,
  readOptions,
  savedUnless,
} from '../../src/nn/options.js';
import { layerClassNames, layerClass } from '../../src/nn/registry.js';
import { bars, tinyModel, weightsHash } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterEach(() => {
  while (live.length) {
    const m = live.pop()!;
    if (!m.isDisposed) m.dispose();
  }
});

const data = bars(12, 3);
const compiled = () => {
  const m = track(tinyModel(2));
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
};
type AnyArgs = Record<string, unknown>;

describe('predict / evaluate batchSize', () => {
  // Each of these used to hang (0: an endless loop) or give NaN rows / a wrong loss (strings).
  const bad: unknown[] = [0, -1, 1.5, '2', '1', NaN, Infinity, null, true, 2 ** 40];
  for (const b of bad) {
    it(`batchSize ${show(b)} is refused by predict and evaluate, naming the value`, () => {
      const m = compiled();
      const hash = weightsHash(m);
      const text = `batchSize must be a positive integer, got ${show(b)}`;
      expect(() => m.predict(data.x, { batchSize: b } as AnyArgs)).toThrow(`predict: ${text}`);
      expect(() => m.evaluate(data.x, data.labels, { batchSize: b } as AnyArgs)).toThrow(`evaluate: ${text}`);
      expect(weightsHash(m)).toBe(hash);
    });
  }

  it('valid batch sizes give the same rows as one batch (the check refuses nothing valid)', () => {
    const m = compiled();
    const all = m.predict(data.x, { batchSize: 12 });
    for (const b of [1, 5, 100]) {
      const p = m.predict(data.x, { batchSize: b });
      expect(Array.from(p.dataSync())).toEqual(Array.from(all.dataSync()));
      p.dispose();
    }
    all.dispose();
    const [l1] = m.evaluate(data.x, data.labels, { batchSize: 1 });
    const [l12] = m.evaluate(data.x, data.labels, { batchSize: 12 });
    expect(Math.abs(l1 - l12)).toBeLessThan(1e-5);
  });

  it('unknown option names and non-object options are refused', () => {
    const m = compiled();
    expect(() => m.predict(data.x, { batch_size: 4 } as AnyArgs)).toThrow(
      /predict: unknown option "batch_size" \(known: batchSize\)/,
    );
    expect(() => m.evaluate(data.x, data.labels, 4 as unknown as AnyArgs)).toThrow(
      'evaluate: options must be an object, got 4',
    );
  });
});

describe('fit options', () => {
  const cases: Array<[string, unknown, string]> = [
    ['epochs', '2', 'a non-negative integer'],
    ['epochs', -1, 'a non-negative integer'],
    ['epochs', NaN, 'a non-negative integer'],
    ['batchSize', '8', 'a positive integer'],
    ['batchSize', 0, 'a positive integer'],
    ['validationSplit', '0.2', 'a number in [0, 1)'],
    ['validationSplit', 1, 'a number in [0, 1)'],
    ['validationSplit', NaN, 'a number in [0, 1)'],
    ['validationData', 'x', 'an array [x, y]'],
    ['learningRateSchedule', 0.1, 'a function'],
    ['shuffle', 'false', 'true or false'],
    ['shuffle', 0, 'true or false'],
    ['seed', '1', 'an integer'],
    ['seed', 1.5, 'an integer'],
    ['verbose', 3, 'one of 0, 1, 2'],
    ['verbose', '0', 'one of 0, 1, 2'],
    ['signal', {}, 'an AbortSignal'],
    ['initialEpoch', -2, 'a non-negative integer'],
    ['initialEpoch', Infinity, 'a non-negative integer'],
    ['print', 'stdout', 'a function'],
    ['callbacks', 1, 'a list of Callback objects or an object of functions (onEpochEnd, onBatchEnd, ...)'],
  ];
  for (const [name, value, want] of cases) {
    it(`${name}: ${show(value)} is refused before any step`, async () => {
      const m = compiled();
      const hash = weightsHash(m);
      await expect(m.fit(data.x, data.labels, { verbose: 0, [name]: value } as AnyArgs)).rejects.toThrow(
        `fit: ${name} must be ${want}, got ${show(value)}`,
      );
      expect(m.optimizer!.iterations).toBe(0);
      expect(weightsHash(m)).toBe(hash);
    });
  }

  it('callbacks that are not functions, unknown callbacks and unknown options are refused', async () => {
    const m = compiled();
    await expect(m.fit(data.x, data.labels, { verbose: 0, callbacks: { onBatchEnd: 1 } } as AnyArgs)).rejects.toThrow(
      /fit: callbacks must be a list of Callback objects or an object of functions .*; onBatchEnd is 1, got/,
    );
    await expect(
      m.fit(data.x, data.labels, { verbose: 0, callbacks: { onStepEnd: () => {} } } as AnyArgs),
    ).rejects.toThrow(
      /fit: callbacks must be a list of Callback objects or an object of functions .*; "onStepEnd" is not a hook/,
    );
    await expect(
      m.fit(data.x, data.labels, { verbose: 0, callbacks: [{ onEpochEnd: () => {} }] } as AnyArgs),
    ).rejects.toThrow(/fit: callbacks must be a list of Callback objects/);
    await expect(m.fit(data.x, data.labels, { verbose: 0, epoch: 3 } as AnyArgs)).rejects.toThrow(
      /fit: unknown option "epoch"/,
    );
    expect(m.optimizer!.iterations).toBe(0);
  });

  it('valid options still train (undefined means the default)', async () => {
    const m = compiled();
    const h = await m.fit(data.x, data.labels, {
      epochs: 1,
      batchSize: 4,
      verbose: 0,
      shuffle: false,
      seed: -3,
      initialEpoch: 0,
      validationSplit: 0.25,
      callbacks: { onBatchEnd: () => {} },
      signal: new AbortController().signal,
      print: () => {},
      learningRateSchedule: undefined,
    });
    expect(h.epoch).toEqual([0]);
    expect(m.optimizer!.iterations).toBe(3);
  });
});

describe('other methods', () => {
  it('constructor, setSeed, summary and compile check their arguments', () => {
    expect(() => sn.sequential({ seed: '1' } as AnyArgs)).toThrow('Sequential: seed must be an integer, got "1"');
    expect(() => sn.sequential({ seed: NaN } as AnyArgs)).toThrow('Sequential: seed must be an integer, got NaN');
    expect(() => sn.sequential({ name: 3 } as AnyArgs)).toThrow('Sequential: name must be a string, got 3');
    expect(() => sn.sequential({ layer: [] } as AnyArgs)).toThrow(/Sequential: unknown option "layer"/);
    const m = track(tinyModel());
    expect(() => m.setSeed(Infinity)).toThrow('setSeed: seed must be an integer, got Infinity');
    expect(() => m.summary('yes' as unknown as null)).toThrow('summary: print must be a function or null, got "yes"');
    expect(() =>
      m.compile({
        optimizer: 'adam',
        loss: 'sparseCategoricalCrossentropy',
        metrics: 'accuracy',
      } as unknown as sn.CompileArgs),
    ).toThrow('compile: metrics must be an array of metric names, got "accuracy"');
    expect(() =>
      m.compile({
        optimizer: 'adam',
        loss: 'sparseCategoricalCrossentropy',
        metric: ['accuracy'],
      } as unknown as sn.CompileArgs),
    ).toThrow(/compile: unknown option "metric"/);
    expect(m.isBuilt).toBe(false);
  });
});

describe('a disposed model', () => {
  it('refuses every method with an error naming it, instead of rebuilding random weights', async () => {
    const m = compiled();
    m.dispose();
    const msg = (what: string) => `${what}: the model sequential was disposed; create or load a new model`;
    expect(() => m.predict(data.x)).toThrow(msg('predict'));
    expect(() => m.evaluate(data.x, data.labels)).toThrow(msg('evaluate'));
    await expect(m.fit(data.x, data.labels, { verbose: 0 })).rejects.toThrow(msg('fit'));
    expect(() => m.trainOnBatch(data.x, data.labels)).toThrow(msg('trainOnBatch'));
    expect(() => m.save()).toThrow(msg('save'));
    await expect(sn.toONNX(m)).rejects.toThrow(msg('toONNX'));
    expect(() => m.getWeights()).toThrow(msg('getWeights'));
    expect(() => m.setWeights([])).toThrow(msg('setWeights'));
    expect(() => m.summary(null)).toThrow(msg('summary'));
    expect(() => m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' })).toThrow(msg('compile'));
    expect(() => m.countParams()).toThrow(msg('build'));
    expect(() => m.add(sn.layers.flatten())).toThrow(msg('Sequential.add'));
    expect(m.isBuilt).toBe(false);
    expect(m.isDisposed).toBe(true);
    expect(() => m.dispose()).not.toThrow();
  });
});

describe('tidy()', () => {
  it('frees what predict and getWeights return when the callback drops it', () => {
    const m = compiled();
    const arena = adv.getArena();
    const one = { data: data.x.data.slice(0, 64), shape: [1, 8, 8, 1] };
    sn.tidy(() => {
      m.predict(one);
      m.getWeights();
    });
    const before = arena.liveBytes;
    for (let i = 0; i < 20; i++)
      sn.tidy(() => {
        m.predict(one);
      });
    for (let i = 0; i < 20; i++)
      sn.tidy(() => {
        m.getWeights();
      });
    expect(arena.liveBytes - before).toBe(0);
    // What the callback returns survives, and outside any tidy the caller owns the result.
    const kept = sn.tidy(() => m.predict(one));
    expect(kept.isDisposed).toBe(false);
    const ws = m.getWeights();
    expect(ws.every((w) => !w.isDisposed)).toBe(true);
    expect(arena.liveBytes - before).toBeGreaterThan(0);
    kept.dispose();
    ws.forEach((w) => w.dispose());
    expect(arena.liveBytes).toBe(before);
  });
});

describe('layer configs', () => {
  it('a misspelt or unknown option is refused, naming the layer and the option; a non-string name too', () => {
    const L = sn.layers;
    expect(() => L.dense({ units: 3, activaton: 'relu' } as unknown as sn.DenseConfig)).toThrow(
      /^Dense: unknown option "activaton" \(known: name, inputShape, trainable, units, activation,/,
    );
    expect(() => L.conv2d({ filters: 2, kernel_size: 3 } as unknown as sn.Conv2DConfig)).toThrow(
      /^Conv2D: unknown option "kernel_size"/,
    );
    expect(() => L.maxPooling2d({ pool_size: 2 } as AnyArgs)).toThrow(/^MaxPooling2D: unknown option "pool_size"/);
    expect(() => L.flatten({ inputshape: [2] } as AnyArgs)).toThrow(/^Flatten: unknown option "inputshape"/);
    expect(() => L.batchNormalization({ eps: 1e-3 } as AnyArgs)).toThrow(/^BatchNormalization: unknown option "eps"/);
    expect(() => L.dropout({ rate: 0.5, seed: 1 } as AnyArgs as { rate: number })).toThrow(
      /^Dropout: unknown option "seed"/,
    );
    expect(() => L.dense({ units: 3, name: 7 } as unknown as sn.DenseConfig)).toThrow(
      'Dense: name must be a string, got 7',
    );
    expect(() => L.globalMaxPooling2D({ keep_dims: true } as AnyArgs)).toThrow(
      /^GlobalMaxPooling2D: unknown option "keep_dims"/,
    );
  });
});

describe('layer option specs', () => {
  const spec = {
    units: posInt(),
    poolSize: pair(2),
    strides: pair((read) => read.poolSize),
    padding: oneOf(['valid', 'same'], 'valid'),
    useBias: bool(true),
    rate: num('a number in [0, 1)', (x) => x >= 0 && x < 1, 0),
    axis: int(-1),
    low: finite(null),
    groups: savedUnless(posInt(1), 1),
    seed: custom(
      (v): number | null => (v == null ? null : (v as number)),
      (v) => v ?? undefined,
    ),
  };

  it('readOptions applies defaults (absent or null), normalises, and lets a default follow an earlier option', () => {
    expect(readOptions(spec, { units: 3, poolSize: [2, 3], low: null }, 'T')).toEqual({
      units: 3,
      poolSize: [2, 3],
      strides: [2, 3],
      padding: 'valid',
      useBias: true,
      rate: 0,
      axis: -1,
      low: null,
      groups: 1,
      seed: null,
    });
    expect(
      readOptions(spec, { units: 1, poolSize: 4, strides: 1, padding: 'same', useBias: false }, 'T'),
    ).toMatchObject({ poolSize: [4, 4], strides: [1, 1], padding: 'same', useBias: false });
  });

  it('readOptions refuses unknown names as checkLayerOptions does, then each bad value naming layer, option and value', () => {
    expect(() => readOptions(spec, { units: 1, unit: 2 }, 'T')).toThrow(
      'T: unknown option "unit" (known: name, inputShape, trainable, units, poolSize, strides, padding, useBias, rate, axis, low, groups, seed)',
    );
    expect(() => readOptions(spec, null, 'T')).toThrow('T: its config must be an object, got null');
    expect(() => readOptions(spec, { units: 1, name: 7 }, 'T')).toThrow('T: name must be a string, got 7');
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, 'T: units must be a positive integer, got undefined'],
      [{ units: 0 }, 'T: units must be a positive integer, got 0'],
      [{ units: 1, poolSize: [1, 2, 3] }, 'T: poolSize must be a number or [rows, cols], got [1,2,3]'],
      [{ units: 1, padding: 'full' }, `T: padding must be 'valid' or 'same', got "full"`],
      [{ units: 1, useBias: 1 }, 'T: useBias must be true or false, got 1'],
      [{ units: 1, rate: 1 }, 'T: rate must be a number in [0, 1), got 1'],
      [{ units: 1, axis: 0.5 }, 'T: axis must be an integer, got 0.5'],
      [{ units: 1, low: Infinity }, 'T: low must be a finite number, got Infinity'],
    ];
    for (const [cfg, msg] of bad) expect(() => readOptions(spec, cfg, 'T'), msg).toThrow(msg);
    expect(() => readOptions({ m: oneOf(['a', 'b', 'c']) }, { m: 'd' }, 'T')).toThrow(
      `T: m must be one of 'a', 'b', 'c', got "d"`,
    );
  });

  it('layerConfig saves the values in spec order, those saved unless at their default last, then name and inputShape', () => {
    const layer = new sn.Flatten({ name: 'f', inputShape: [2] });
    const values = readOptions(spec, { units: 2, groups: 2, seed: 5 }, 'T');
    expect(Object.keys(layerConfig(layer, spec, values))).toEqual([
      'units',
      'poolSize',
      'strides',
      'padding',
      'useBias',
      'rate',
      'axis',
      'low',
      'seed',
      'groups',
      'name',
      'inputShape',
    ]);
    const plain = layerConfig(layer, spec, readOptions(spec, { units: 2 }, 'T'), false);
    expect('groups' in plain).toBe(false);
    expect('inputShape' in plain).toBe(false);
    expect(plain.seed).toBeUndefined();
    expect(plain.name).toBe('f');
  });

  it('every layer class with an options spec rebuilds from its own config to the same config', () => {
    const needs: Record<string, Record<string, unknown>> = {
      Dense: { units: 2 },
      Conv2D: { filters: 2, kernelSize: 3, dilationRate: 2, groups: 2 },
      DepthwiseConv2D: { kernelSize: 3 },
      SeparableConv2D: { filters: 2, kernelSize: 3 },
      Conv2DTranspose: { filters: 2, kernelSize: 3, strides: 2, outputPadding: 1 },
      Dropout: { rate: 0.5 },
      Activation: { activation: 'relu' },
      Pool2D: { mode: 'max', poolSize: 2 },
      Reshape: { targetShape: [-1] },
      Permute: { dims: [2, 1] },
      Slice: { axis: 1, begin: 0, end: 1 },
      PRelu: { alphaShape: [1] },
      RandomTranslation: { heightFactor: 0.1, widthFactor: 0.2 },
      RandomRotation: { factor: 0.1 },
      RandomZoom: { heightFactor: 0.1 },
      RandomContrast: { factor: 0.1 },
    };
    let n = 0;
    for (const name of layerClassNames) {
      const C = layerClass(name) as unknown as { options?: object; new (cfg: unknown): sn.Layer };
      if (!C.options) continue;
      const cfg = needs[name] ?? {};
      const c = new C(cfg).getConfig();
      expect(JSON.stringify(new C(JSON.parse(JSON.stringify(c))).getConfig()), name).toBe(JSON.stringify(c));
      n++;
    }
    expect(n).toBeGreaterThanOrEqual(30);
  });
});
