// Model summary: the seed article's CNN (Keras' numbers), per-layer shapes and parameter counts,
// and the same model assembled with model.add().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { seedModel } from '../../src/cli/presets.js';

beforeAll(async () => {
  await sn.ready();
});

const NAMES = [
  'conv2d',
  'conv2d_1',
  'max_pooling2d',
  'conv2d_2',
  'conv2d_3',
  'max_pooling2d_1',
  'flatten',
  'dense',
  'dense_1',
];
const CLASSES = ['Conv2D', 'Conv2D', 'MaxPooling2D', 'Conv2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense'];
const SHAPES = [[28, 28, 32], [28, 28, 32], [14, 14, 32], [14, 14, 64], [14, 14, 64], [7, 7, 64], [3136], [128], [10]];
const PARAMS = [832, 25632, 0, 18496, 36928, 0, 0, 401536, 1290];
const TOTAL = 484714;

interface Row {
  name: string;
  className: string;
  shape: string;
  params: number;
}

// summary text -> the layer rows and the three totals
function parseSummary(text: string): {
  title: string;
  rows: Row[];
  total: string;
  trainable: string;
  nonTrainable: string;
} {
  const lines = text.split('\n');
  const rows: Row[] = [];
  for (const line of lines) {
    const m = /^ (\S+) \((\w+)\)\s+(\(None(?:, \d+)+\))\s+(\d+)$/.exec(line);
    if (m) rows.push({ name: m[1], className: m[2], shape: m[3], params: Number(m[4]) });
  }
  const pick = (re: RegExp) => lines.map((l) => re.exec(l)?.[1]).find((v) => v !== undefined) ?? '';
  return {
    title: lines[0],
    rows,
    total: pick(/^Total params: ([\d,]+)$/),
    trainable: pick(/^Trainable params: ([\d,]+)$/),
    nonTrainable: pick(/^Non-trainable params: ([\d,]+)$/),
  };
}

const models: sn.Sequential[] = [];
afterAll(() => {
  for (const m of models) m.dispose();
});

describe('seed model summary', () => {
  it('lists every layer with Keras names, output shapes and parameter counts', () => {
    const model = seedModel({ seed: 1 });
    models.push(model);
    let printed = 0;
    const text = model.summary(() => {
      printed++;
    });
    expect(printed).toBe(1);
    const s = parseSummary(text);
    expect(s.title).toBe('Model: "sequential"');
    expect(s.rows.map((r) => r.name)).toEqual(NAMES);
    expect(s.rows.map((r) => r.className)).toEqual(CLASSES);
    expect(s.rows.map((r) => r.shape)).toEqual(SHAPES.map((sh) => `(None, ${sh.join(', ')})`));
    expect(s.rows.map((r) => r.params)).toEqual(PARAMS);
    expect(s.total).toBe('484,714');
    expect(s.trainable).toBe('484,714');
    expect(s.nonTrainable).toBe('0');
    expect(text).toContain('Total params: 484,714');
    // Columns line up: the shape column starts at 33 and the param column at 59, as in Keras.
    const row = text.split('\n').find((l) => l.startsWith(' dense_1 (Dense)'))!;
    expect(row.indexOf('(None, 10)')).toBe(33);
    expect(row.indexOf('1290')).toBe(59);
  });

  it('summary(null) prints nothing and returns the same text', () => {
    const model = seedModel({ seed: 1 });
    models.push(model);
    const seen: string[] = [];
    const a = model.summary((t) => seen.push(t));
    const b = model.summary(null);
    expect(b).toBe(a);
    expect(seen).toEqual([a]);
  });

  it('countParams and each layer computeOutputShape / countParams', () => {
    const model = seedModel({ seed: 2 });
    models.push(model);
    expect(model.countParams()).toBe(TOTAL);
    expect(PARAMS.reduce((a, b) => a + b, 0)).toBe(TOTAL);
    let shape = [28, 28, 1];
    model.layers.forEach((l, i) => {
      expect(l.name).toBe(NAMES[i]);
      expect(l.className).toBe(CLASSES[i]);
      shape = l.computeOutputShape(shape);
      expect(shape, l.name).toEqual(SHAPES[i]);
      expect(l.countParams(), l.name).toBe(PARAMS[i]);
    });
    expect(model.shapes()).toEqual(SHAPES);
    expect(model.outputShape).toEqual([10]);
    // Parameter arrays: conv kernels [KH, KW, C, K] + bias [K], dense [IN, OUT] + bias [OUT].
    expect(model.params().map((p) => [p.name, [...p.value.shape]])).toEqual([
      ['conv2d/kernel', [5, 5, 1, 32]],
      ['conv2d/bias', [32]],
      ['conv2d_1/kernel', [5, 5, 32, 32]],
      ['conv2d_1/bias', [32]],
      ['conv2d_2/kernel', [3, 3, 32, 64]],
      ['conv2d_2/bias', [64]],
      ['conv2d_3/kernel', [3, 3, 64, 64]],
      ['conv2d_3/bias', [64]],
      ['dense/kernel', [3136, 128]],
      ['dense/bias', [128]],
      ['dense_1/kernel', [128, 10]],
      ['dense_1/bias', [10]],
    ]);
  });

  it('the same model built with model.add() gives the same summary', () => {
    const L = sn.layers;
    const model = new sn.Sequential({ seed: 3 });
    models.push(model);
    model.add(L.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }));
    model.add(L.conv2d({ filters: 32, kernelSize: [5, 5], padding: 'same', activation: 'relu' }));
    model.add(L.maxPooling2d({ poolSize: [2, 2] }));
    model.add(new sn.Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(new sn.Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(new sn.MaxPooling2D());
    model.add(new sn.Flatten());
    model.add(new sn.Dense({ units: 128, activation: 'relu' }));
    model.add(L.dense({ units: 10, activation: 'softmax' }));
    const ref = seedModel({ seed: 4 });
    models.push(ref);
    expect(model.summary(null)).toBe(ref.summary(null));
    expect(model.countParams()).toBe(TOTAL);
  });

  it('other input shapes and class counts change the numbers accordingly', () => {
    const model = seedModel({ seed: 5, inputShape: [32, 32, 3], numClasses: 4 });
    models.push(model);
    const s = parseSummary(model.summary(null));
    // conv2d: 5*5*3*32 + 32; dense: 8*8*64*128 + 128; dense_1: 128*4 + 4.
    expect(s.rows.map((r) => r.params)).toEqual([2432, 25632, 0, 18496, 36928, 0, 0, 524416, 516]);
    expect(s.rows[6].shape).toBe('(None, 4096)');
    expect(s.rows[8].shape).toBe('(None, 4)');
    expect(s.total).toBe((2432 + 25632 + 18496 + 36928 + 524416 + 516).toLocaleString('en-US'));
  });

  it('a model with layers after build refuses add(), and duplicate names are refused', () => {
    const model = new sn.Sequential({
      seed: 6,
      layers: [sn.layers.flatten({ inputShape: [2, 2, 1] }), sn.layers.dense({ units: 2, activation: 'softmax' })],
    });
    models.push(model);
    expect(() => model.add(sn.layers.dense({ units: 2, name: 'dense' }))).toThrow(/a layer named dense already exists/);
    model.summary(null);
    expect(() => model.add(sn.layers.dense({ units: 2 }))).toThrow(/already built/);
  });
});
