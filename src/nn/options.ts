// Checks of the option objects the model methods take. Every option is checked for type, integer-ness
// and range before any work starts, and an unknown option name is an error (as Keras raises on an
// unrecognised keyword argument) so a misspelt option is never silently ignored.
import { show } from '../show.js';
import { MAX_TENSOR_BYTES } from '../tensor.js';
import type { Layer } from './layer.js';

/** Returns null when `v` is acceptable, else what it should have been ("a positive integer"). */
export type Check = (v: unknown) => string | null;

/** Option name → check; a missing or `undefined` option is always accepted (the default applies). */
export type Spec = Record<string, Check>;

/** Throws unless `args` is undefined or a plain object whose options all pass `spec`. */
export function checkOptions(what: string, args: unknown, spec: Spec, argName = 'options'): void {
  if (args === undefined) return;
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new Error(`${what}: ${argName} must be an object, got ${show(args)}`);
  }
  for (const [key, v] of Object.entries(args)) {
    const check = spec[key];
    if (!check) {
      throw new Error(`${what}: unknown option ${show(key)} (known: ${Object.keys(spec).join(', ')})`);
    }
    if (v === undefined) continue;
    const want = check(v);
    if (want !== null) throw new Error(`${what}: ${key} must be ${want}, got ${show(v)}`);
  }
}

/** Throws unless `v` passes `check`; for positional arguments. */
export function checkArg(what: string, name: string, v: unknown, check: Check): void {
  const want = check(v);
  if (want !== null) throw new Error(`${what}: ${name} must be ${want}, got ${show(v)}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export const positiveInt: Check = (v) => (isInt(v) && v >= 1 && v <= 2 ** 31 - 1 ? null : 'a positive integer');
export const nonNegativeInt: Check = (v) => (isInt(v) && v >= 0 && v <= 2 ** 31 - 1 ? null : 'a non-negative integer');
/** Seeds: any integer a 32-bit generator can take (negative ones wrap, as in NumPy's legacy seeding). */
export const seedInt: Check = (v) => (isInt(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? null : 'an integer');
export const bool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
export const func: Check = (v) => (typeof v === 'function' ? null : 'a function');
export const str: Check = (v) => (typeof v === 'string' ? null : 'a string');

/** One of the given values (compared with ===). */
export function oneOf(...values: unknown[]): Check {
  return (v) => (values.includes(v) ? null : `one of ${values.map((x) => show(x)).join(', ')}`);
}

/** A number in [lo, hi) (or [lo, hi] when `hiClosed`). */
export function numberIn(lo: number, hi: number, hiClosed = false): Check {
  return (v) =>
    typeof v === 'number' && v >= lo && (hiClosed ? v <= hi : v < hi)
      ? null
      : `a number in [${lo}, ${hi}${hiClosed ? ']' : ')'}`;
}

/** Either check passes (e.g. a function or null). */
export function or(a: Check, b: Check): Check {
  return (v) => {
    const x = a(v);
    if (x === null) return null;
    const y = b(v);
    return y === null ? null : `${x} or ${y}`;
  };
}

export const nullValue: Check = (v) => (v === null ? null : 'null');

/** An AbortSignal (or anything with a boolean `aborted`, as in browsers and Node). */
export const abortSignal: Check = (v) =>
  v !== null && typeof v === 'object' && typeof (v as { aborted?: unknown }).aborted === 'boolean'
    ? null
    : 'an AbortSignal';

/** An array of exactly two items, e.g. validationData [x, y]. */
export const pairOf: Check = (v) => (Array.isArray(v) && v.length === 2 ? null : 'an array [x, y]');

/** An object whose own options pass `spec` (nested: callbacks). */
export function objectOf(spec: Spec): Check {
  return (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'an object';
    for (const [key, x] of Object.entries(v)) {
      if (!spec[key]) return `an object with only ${Object.keys(spec).join(', ')} (not ${show(key)})`;
      if (x === undefined) continue;
      const want = spec[key](x);
      if (want !== null) return `an object whose ${key} is ${want} (${key} is ${show(x)})`;
    }
    return null;
  };
}

/** An array whose items all pass `item`. */
export function arrayOf(item: Check, what: string): Check {
  return (v) => (Array.isArray(v) && v.every((x) => item(x) === null) ? null : `an array of ${what}`);
}

/** The options of each model method. */
export const BATCH_OPTIONS: Spec = { batchSize: positiveInt };

export const FIT_OPTIONS: Spec = {
  epochs: nonNegativeInt,
  batchSize: positiveInt,
  validationData: pairOf,
  validationSplit: numberIn(0, 1),
  learningRateSchedule: func,
  shuffle: bool,
  seed: seedInt,
  // Checked by fit with checkCallbacks (callbacks.ts imports this module, so not here).
  callbacks: () => null,
  progressInterval: (v) => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? null : 'a number of seconds > 0'),
  verbose: oneOf(0, 1, 2),
  signal: abortSignal,
  initialEpoch: nonNegativeInt,
  print: func,
};

export const COMPILE_OPTIONS: Spec = {
  // The values themselves are checked by compile, which names the supported choices.
  optimizer: () => null,
  loss: () => null,
  metrics: arrayOf(str, 'metric names'),
  labelSmoothing: () => null,
  fromLogits: () => null,
};

export const MODEL_OPTIONS: Spec = {
  layers: (v) => (Array.isArray(v) ? null : 'an array of layers'),
  name: str,
  seed: seedInt,
};

/**
 * Returns `out` after checking that one example of the layer's output and each of its weights fit in
 * wasm memory, so an absurd inputShape is a clear error at build instead of a RangeError deep inside.
 */
export function checkLayerSize(layer: Layer, input: readonly number[], out: number[]): number[] {
  const check = (what: string, shape: readonly number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n * 4 > MAX_TENSOR_BYTES) {
      throw new Error(
        `${layer.name}: ${what} of shape [${shape}] has ${n} floats (${((n * 4) / 2 ** 30).toFixed(1)} GiB); ` +
          'wasm memory holds at most 4 GiB (use a smaller inputShape or more pooling)',
      );
    }
  };
  check('one example of the input', input);
  check('one example of the output', out);
  for (const [name, shape] of [...layer.weightShapes(input), ...layer.stateShapes(input)])
    check(`the weight ${name}`, shape);
  return out;
}

/**
 * Throws when a layer config has an option the layer does not know (a misspelt `activaton` would
 * otherwise be ignored and the default used) or a name that is not a string. Values are checked by
 * the layer itself.
 */
export function checkLayerOptions(what: string, cfg: unknown, keys: readonly string[]): void {
  const spec: Spec = { name: str, inputShape: () => null, trainable: () => null };
  for (const k of keys) spec[k] = () => null;
  checkOptions(what, cfg, spec, 'its config');
}
