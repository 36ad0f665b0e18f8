// simdnet train --model PRESET|FILE.json and the architecture flags: what each flag changes, the
// refusal of a kernel that does not fit, --help, and short runs of every preset on small subsets.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sn from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { RUN_FLAGS, parseTrainArgs, runSettings } from '../../src/cli/args.js';
import { augmentAvailable, buildModel } from '../../src/cli/run.js';
import { PRESETS, presetModel } from '../../src/cli/presets.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-presets-'));
  await sn.ready();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [],
    err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const er = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    return { code: await main(args), out, err };
  } finally {
    log.mockRestore();
    er.mockRestore();
  }
}

// The accurate preset as README documents it (augmentation layers, when present, come first).
const ACCURATE_LAYERS = [
  'Conv2D',
  'BatchNormalization',
  'Activation',
  'MaxPooling2D',
  'Conv2D',
  'BatchNormalization',
  'Activation',
  'Conv2D',
  'BatchNormalization',
  'Activation',
  'MaxPooling2D',
  'Flatten',
  'Dense',
  'Dense',
];
const ACCURATE_CONVS = [
  [32, [5, 5], 'valid'],
  [64, [3, 3], 'valid'],
  [64, [3, 3], 'valid'],
];
const ACCURATE_PARAMS = 321866;
const ACCURATE_TRAINING = {
  epochs: 8,
  batchSize: 128,
  optimizer: 'adam',
  lr: 0.005,
  lrSchedule: 'onecycle',
  labelSmoothing: 0.1,
  augment: true,
};

const build = (flags: Record<string, string>) => buildModel(runSettings(flags), [28, 28, 1], 10);
const convs = (m: sn.Model) =>
  m.layers.filter((l) => l.className === 'Conv2D').map((l) => l.getConfig() as never as Record<string, unknown>);

describe('architecture flags', () => {
  it('each preset has its own layers and training defaults', async () => {
    const seed = await build({});
    expect(seed.countParams()).toBe(484714);
    const fast = await build({ model: 'fast' });
    expect(convs(fast).map((c) => [c.filters, c.kernelSize, c.padding])).toEqual([
      [16, [5, 5], 'valid'],
      [32, [3, 3], 'valid'],
    ]);
    const lenet = await build({ model: 'lenet5' });
    expect(lenet.layers.filter((l) => l.className === 'AveragePooling2D')).toHaveLength(2);
    expect(convs(lenet).map((c) => c.activation)).toEqual(['tanh', 'tanh']);
    expect(runSettings({ model: 'fast' })).toMatchObject({
      epochs: 1,
      batchSize: 256,
      lr: 0.01,
      lrSchedule: 'onecycle',
    });
    expect(runSettings({})).toMatchObject({ epochs: 5, batchSize: 128, lr: 0.001, lrSchedule: 'none' });
    for (const m of [seed, fast, lenet]) m.dispose();
  });

  it('--kernel-size, --filters, --padding, --activation, --dropout, --batch-norm rewrite the preset', async () => {
    const m = await build({ model: 'fast', 'kernel-size': '3', padding: 'same', activation: 'gelu' });
    expect(convs(m).map((c) => [c.kernelSize, c.padding, c.activation])).toEqual([
      [[3, 3], 'same', 'gelu'],
      [[3, 3], 'same', 'gelu'],
    ]);
    expect((m.layers.find((l) => l.className === 'Dense')!.getConfig() as { activation: string }).activation).toBe(
      'gelu',
    );
    const widths = async (f: string) => convs(await build({ model: 'seed', filters: f })).map((c) => c.filters);
    expect(await widths('16')).toEqual([16, 16, 32, 32]);
    expect(await widths('0.5x')).toEqual([16, 16, 32, 32]);
    expect(await widths('2x')).toEqual([64, 64, 128, 128]);
    expect(await widths('8/12/16/20')).toEqual([8, 12, 16, 20]);
    const bn = await build({ model: 'fast', 'batch-norm': 'on', dropout: '0.3' });
    expect(bn.layers.map((l) => l.className)).toEqual([
      'Conv2D',
      'BatchNormalization',
      'Activation',
      'MaxPooling2D',
      'Dropout',
      'Conv2D',
      'BatchNormalization',
      'Activation',
      'MaxPooling2D',
      'Dropout',
      'Flatten',
      'Dense',
      'Dropout',
      'Dense',
    ]);
    m.dispose();
    bn.dispose();
  });

  it('bad values and combinations are refused naming the flag, layer and sizes', async () => {
    expect(() => runSettings({ filters: '16/32' })).toThrow(
      /--filters lists 2 widths but preset seed has 4 convolutions/,
    );
    expect(() => runSettings({ filters: 'abc' })).toThrow(/--filters must be a width/);
    expect(() => runSettings({ padding: 'full' })).toThrow(/--padding must be one of valid, same, got "full"/);
    expect(() => runSettings({ activation: 'softmax' })).toThrow(/--activation must be one of relu/);
    expect(() => runSettings({ dropout: '1' })).toThrow(/--dropout must be a number from 0/);
    expect(() => runSettings({ 'lr-schedule': 'exp' })).toThrow(/--lr-schedule must be one of none, onecycle/);
    expect(() => runSettings({ optimizer: 'adagrad' })).toThrow(/--optimizer must be one of adam, adamw, sgd, rmsprop/);
    expect(() => runSettings({ model: 'vgg' })).toThrow(
      /--model must be one of seed, fast, lenet5, accurate or a .json/,
    );
    expect(() => runSettings({ model: 'x.json', 'kernel-size': '3' })).toThrow(/--kernel-size rewrites a preset/);
    await expect(build({ model: 'fast', 'kernel-size': '13' })).rejects.toThrow(
      /layer conv2d_1 \(Conv2D\) has a 13x13 kernel but meets a 8x8 feature map with padding 'valid'/,
    );
    await expect(build({ model: 'lenet5', 'kernel-size': '11', padding: 'valid' })).rejects.toThrow(
      /layer conv2d_1 \(Conv2D\) has a 11x11 kernel but meets a 9x9 feature map/,
    );
    // The CLI refuses it before training: no epoch line, no model written.
    const out = join(dir, 'refused');
    await expect(
      run([
        'train',
        '--model',
        'fast',
        '--kernel-size',
        '13',
        '--train-limit',
        '64',
        '--test-limit',
        '0',
        '--out',
        out,
      ]),
    ).rejects.toThrow(/conv2d_1 \(Conv2D\) has a 13x13 kernel but meets a 8x8 feature map/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('--help documents every run flag', async () => {
    const { out } = await run(['train', '--help']);
    const text = out.join('\n');
    for (const f of RUN_FLAGS) expect(text, f).toContain(`--${f}`);
    for (const p of PRESETS) expect(text).toContain(p);
    expect(parseTrainArgs(['--batch-norm', '--model', 'fast'], 2).model.batchNorm).toBe(true);
  });

  it('accurate: batch norm (momentum 0.9) after each convolution, augmentation on, both switchable off', async () => {
    const m = await build({ model: 'accurate' });
    const names = m.layers.map((l) => l.className);
    const body = augmentAvailable() ? names.slice(names.findIndex((n) => !n.startsWith('Random'))) : names;
    if (augmentAvailable()) expect(names[0]).toMatch(/^Random/);
    expect(body).toEqual(ACCURATE_LAYERS);
    expect(convs(m).map((c) => [c.filters, c.kernelSize, c.padding])).toEqual(ACCURATE_CONVS);
    const bns = m.layers.filter((l) => l.className === 'BatchNormalization');
    expect(bns.map((l) => (l.getConfig() as { momentum: number }).momentum)).toEqual(bns.map(() => 0.9));
    expect(m.countParams()).toBe(ACCURATE_PARAMS);
    expect(runSettings({ model: 'accurate' })).toMatchObject(ACCURATE_TRAINING);
    // Switched off: the plain convolutions of the same widths, nothing in front.
    const plain = await build({ model: 'accurate', 'batch-norm': 'off', augment: 'off' });
    expect(plain.layers.map((l) => l.className)).toEqual(
      ACCURATE_LAYERS.filter((n) => n !== 'BatchNormalization' && n !== 'Activation'),
    );
    expect(parseTrainArgs(['--model', 'accurate', '--no-augment', '--no-batch-norm'], 2)).toMatchObject({
      augment: false,
      model: { batchNorm: false },
    });
    expect(() => parseTrainArgs(['--augment', '--no-augment'], 2)).toThrow(/--augment and --no-augment contradict/);
    // Other presets keep theirs off unless asked.
    expect(runSettings({ model: 'fast' }).augment).toBe(false);
    m.dispose();
    plain.dispose();
  });

  it('--augment is refused unless the augmentation layers exist', async () => {
    if (augmentAvailable()) {
      const m = await build({ model: 'fast', augment: 'on' });
      expect(m.layers[0].className).toMatch(/^Random/);
      m.dispose();
    } else {
      await expect(build({ model: 'fast', augment: 'on' })).rejects.toThrow(/--augment is not available/);
    }
  });
});

describe('short runs', () => {
  const tiny = [
    '--train-limit',
    '512',
    '--test-limit',
    '256',
    '--epochs',
    '1',
    '--batch-size',
    '32',
    '--threads',
    '1',
    '--json',
  ];

  it('every preset trains (fast and lenet5 learn; seed on fewer images), and its JSON trains again', async () => {
    const results: Record<string, { test_accuracy: number; parameters: number; model: string }> = {};
    for (const [p, extra] of [
      ['fast', []],
      ['lenet5', ['--lr', '0.01']],
      ['seed', ['--train-limit', '128', '--test-limit', '64', '--filters', '0.25x']],
    ] as const) {
      const out = join(dir, p);
      const r = await run(['train', '--model', p, ...tiny, ...extra, '--out', out]);
      expect(r.code).toBe(0);
      results[p] = JSON.parse(r.out[r.out.length - 1]);
      expect(results[p].model).toBe(p);
      expect(JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).format).toBe('simdnet-architecture');
    }
    expect(results.fast.test_accuracy).toBeGreaterThan(0.5);
    expect(results.lenet5.test_accuracy).toBeGreaterThan(0.5);
    expect(results.fast.parameters).toBe(212682);
    // The architecture written by a run is a --model of its own: same layers, same parameters.
    const json = join(dir, 'fast', 'model.json');
    const again = await run(['train', '--model', json, ...tiny, '--out', join(dir, 'from-json')]);
    const r = JSON.parse(again.out[again.out.length - 1]);
    expect(r.parameters).toBe(212682);
    expect(r.model).toBe(json);
    // A JSON whose input does not match the data is refused naming both.
    const other = join(dir, 'other.json');
    await writeFile(other, presetModel('fast', { inputShape: [32, 32, 1] }).toJSON());
    await expect(run(['train', '--model', other, ...tiny, '--out', join(dir, 'other')])).rejects.toThrow(
      /maps \[32,32,1\] to \[10\], but the data needs \[28,28,1\] to \[10\]/,
    );
  }, 120_000);

  it('accurate trains on a subset and reports its settings', async () => {
    const out = join(dir, 'accurate');
    const r = await run(['train', '--model', 'accurate', ...tiny, '--out', out]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out[r.out.length - 1]);
    expect(j).toMatchObject({
      model: 'accurate',
      parameters: ACCURATE_PARAMS,
      epochs: 1,
      train_examples: 512,
      test_examples: 256,
      augment: augmentAvailable(),
      label_smoothing: ACCURATE_TRAINING.labelSmoothing,
      lr_schedule: 'onecycle',
    });
    for (const k of ['test_accuracy', 'test_loss', 'seconds', 'wall_seconds', 'cpu_seconds'])
      expect(Number.isFinite(j[k]), k).toBe(true);
    // one short epoch on 512 images only shows the run works; the accuracy target is bench/experiments.mjs's
    expect(j.test_accuracy).toBeGreaterThanOrEqual(0);
    expect(j.test_accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(j.test_loss)).toBe(true);
  }, 60_000);

  it('--optimizer, --lr-schedule and --label-smoothing reach the run', async () => {
    const out = join(dir, 'adamw');
    const r = await run([
      'train',
      '--model',
      'fast',
      '--optimizer',
      'adamw',
      '--lr-schedule',
      'cosine',
      '--label-smoothing',
      '0.2',
      '--filters',
      '0.25x',
      ...tiny,
      '--out',
      out,
    ]);
    const j = JSON.parse(r.out[r.out.length - 1]);
    expect(j).toMatchObject({ optimizer: 'adamw', lr_schedule: 'cosine', label_smoothing: 0.2 });
    const m = sn.loadModel(await readFile(join(out, 'model.simdnet')));
    expect(m.optimizer!.className).toBe('AdamW');
    expect(m.labelSmoothing).toBe(0.2);
    // cosine decays to 0 at the last step: the rate in effect at the end is the last step's, near 0.
    expect(m.optimizer!.learningRate).toBeLessThan(0.001);
    m.dispose();
  }, 60_000);
});
