// Checks of the option objects the model methods take. Every option is checked for type, integer-ness
// and range before any work starts, and an unknown option name is an error (as Keras raises on an
// unrecognised keyword argument) so a misspelt option is never silently ignored.
import { show } from '../show.js';
import { MAX_TENSOR_BYTES } from '../tensor.js';
import { type ActivationName, type InitializerName, type Layer, checkActivation } from './layer.js';
import { pair as geomPair, posInt as geomPosInt } from '../geom.js';

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
    // Own keys only: a config key like "__proto__" or "toString" must not find Object.prototype's.
    const check = Object.hasOwn(spec, key) ? spec[key] : undefined;
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
export const isBool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
export const func: Check = (v) => (typeof v === 'function' ? null : 'a function');
export const str: Check = (v) => (typeof v === 'string' ? null : 'a string');

/** One of the given values (compared with ===). */
export function isOneOf(...values: unknown[]): Check {
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
      if (!Object.hasOwn(spec, key)) return `an object with only ${Object.keys(spec).join(', ')} (not ${show(key)})`;
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
  shuffle: isBool,
  seed: seedInt,
  // Checked by fit with checkCallbacks (callbacks.ts imports this module, so not here).
  callbacks: () => null,
  progressInterval: (v) => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? null : 'a number of seconds > 0'),
  verbose: isOneOf(0, 1, 2),
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

// Layer option specs. Each layer class declares its options once, as `static readonly options = {
// units: posInt(), useBias: bool(true), ... }`: readOptions checks a config against it (unknown names,
// then each value in the spec's order), applies the defaults and returns the typed values, and
// layerConfig turns those values back into the saved config, so a layer's options are written once.

/** One layer option: how a raw value is checked and kept, and how it is saved. */
export interface LayerOption<T> {
  /**
   * The value kept for the raw option `v` (undefined when absent); throws naming `what` and `key`.
   * `read` holds the options read so far (those before this one in the spec), for defaults that
   * follow another option (pooling strides default to the pool size).
   */
  read(v: unknown, what: string, key: string, read: Record<string, unknown>): T;
  /** The value as saved by getConfig (default: the value kept). */
  save?(v: T): unknown;
  /**
   * Saved only when it differs from this value, and then after the other options, so the configs
   * saved before the option existed keep their bytes (Conv2D's dilationRate and groups).
   */
  savedUnless?: unknown;
}

/** Option name → option, in the order they are checked and saved. */
export type LayerOptions = Record<string, LayerOption<unknown>>;

/** The values readOptions returns for a spec. */
export type OptionValues<S> = { -readonly [K in keyof S]: S[K] extends LayerOption<infer T> ? T : never };

/** An option whose absent (or null) value takes `def`, when given; any other value goes to `check`. */
function option<T>(check: (v: unknown, what: string, key: string) => T, def?: T): LayerOption<T> {
  return { read: (v, what, key) => (v == null && def !== undefined ? def : check(v, what, key)) };
}

/** An option checked and kept by `read` as is (absent and null values included). */
export function custom<T>(
  read: (v: unknown, what: string, key: string, read: Record<string, unknown>) => T,
  save?: (v: T) => unknown,
): LayerOption<T> {
  return save ? { read, save } : { read };
}

/** Quotes the choices as messages name them: 'a' or 'b', or one of 'a', 'b', 'c'. */
function choices(values: readonly unknown[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length === 2 ? `${q[0]} or ${q[1]}` : `one of ${q.join(', ')}`;
}

/** A positive integer (units, filters), default `def` if given. */
export function posInt(def?: number): LayerOption<number> {
  return option((v, what, key) => geomPosInt(v, what, key), def);
}

/** true or false, default `def`. */
export function bool(def: boolean): LayerOption<boolean> {
  return option((v, what, key) => {
    if (typeof v !== 'boolean') throw new Error(`${what}: ${key} must be true or false, got ${show(v)}`);
    return v;
  }, def);
}

/** One of `values` (strings), default `def` if given. */
export function oneOf<T extends string>(values: readonly T[], def?: T): LayerOption<T> {
  return option((v, what, key) => {
    if (!(values as readonly unknown[]).includes(v))
      throw new Error(`${what}: ${key} must be ${choices(values)}, got ${show(v)}`);
    return v as T;
  }, def);
}

/** A number passing `ok`, described by `want` in the error ("a number in [0, 1)"); default `def` if given. */
export function num(want: string, ok: (x: number) => boolean, def?: number): LayerOption<number> {
  return option((v, what, key) => {
    if (typeof v !== 'number' || !ok(v)) throw new Error(`${what}: ${key} must be ${want}, got ${show(v)}`);
    return v;
  }, def);
}

/** A finite number, default `def` if given (null: absent means none). */
export function finite<D extends number | null>(def?: D): LayerOption<number | D> {
  return option<number | D>((v, what, key) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`${what}: ${key} must be a finite number, got ${show(v)}`);
    return v;
  }, def);
}

/** An integer passing `ok` (axes), described by `want` in the error; default `def` if given. */
export function int(def?: number, want = 'an integer', ok: (x: number) => boolean = () => true): LayerOption<number> {
  return num(want, (x) => Number.isInteger(x) && ok(x), def);
}

/** The activation of a layer, 'linear' when absent. */
export function activation(): LayerOption<ActivationName> {
  return custom((v, what) => checkActivation(v, what));
}

const INITIALIZERS: readonly InitializerName[] = ['glorotUniform', 'heUniform', 'zeros', 'ones'];

/** A weight initializer, default `def`; a wrong name is refused as at build ("unknown initializer"). */
export function initializer(def: InitializerName): LayerOption<InitializerName> {
  return option((v, what) => {
    if (!(INITIALIZERS as readonly unknown[]).includes(v))
      throw new Error(`${what}: unknown initializer ${show(v)} (use 'glorotUniform', 'heUniform', 'zeros' or 'ones')`);
    return v as InitializerName;
  }, def);
}

/** A size n or [rows, cols] of positive integers, kept as a pair; default `def` if given. */
export function pair(
  def?: number | [number, number] | ((read: Record<string, unknown>) => unknown),
): LayerOption<[number, number]> {
  return custom((v, what, key, read) => {
    const d = typeof def === 'function' ? def(read) : def;
    return geomPair((v == null && d !== undefined ? d : v) as number, what, key);
  });
}

/** `opt`, saved only when not `unless` (see {@link LayerOption.savedUnless}). */
export function savedUnless<T>(opt: LayerOption<T>, unless: unknown): LayerOption<T> {
  return { ...opt, savedUnless: unless };
}

/**
 * Checks a layer config against `spec` and returns the option values: an unknown name is refused as
 * {@link checkLayerOptions} does, then each option is read in the spec's order (its check, its default).
 */
export function readOptions<S extends LayerOptions>(spec: S, cfg: unknown, what: string): OptionValues<S> {
  checkLayerOptions(what, cfg, Object.keys(spec));
  const c = (cfg ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(spec)) out[key] = o.read(c[key], what, key, out);
  return out as OptionValues<S>;
}

/**
 * The saved config of `layer` (its getConfig): the option values in the spec's order (those saved
 * only when not at their default last), then name and, unless `inputShape` is false (merge layers),
 * inputShape. `values` defaults to the layer itself, for layers that keep each option in a field of its name.
 */
export function layerConfig<S extends LayerOptions>(
  layer: Layer,
  spec: S,
  values: object = layer,
  inputShape = true,
): OptionValues<S> & { name: string; inputShape?: number[] } {
  const v = values as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const late: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(spec)) {
    const saved = o.save ? o.save(v[key]) : v[key];
    if (!('savedUnless' in o)) out[key] = saved;
    else if (JSON.stringify(saved) !== JSON.stringify(o.savedUnless)) late[key] = saved;
  }
  Object.assign(out, late, { name: layer.name });
  if (inputShape) out.inputShape = layer.inputShape ?? undefined;
  return out as OptionValues<S> & { name: string; inputShape?: number[] };
}

/** The options every layer takes besides its own (see the {@link Layer} constructor). */
export interface LayerCommon {
  /** Input shape without the batch axis, for the first layer of a model. */
  inputShape?: number[];
  /** Layer name (default: given by the model). */
  name?: string;
  /** false freezes the layer (default true). */
  trainable?: boolean;
}
