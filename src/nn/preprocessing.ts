// Keras image augmentation layers: RandomTranslation, RandomRotation, RandomZoom (one random affine
// map per image, resampled by ops/augment.ts affineTransform) and RandomContrast. Active only while
// training (fit, trainOnBatch); identity in predict and evaluate, as Keras' `training` flag, and
// exported to ONNX as identity. No weights, no gradient (their input is data).
//
// Randomness: every training call draws one 32-bit word from the model's training generator (seeded
// by the model's or fit's seed, saved with the model) and mixes in the layer's own `seed`; the
// per-image parameters come from an Rng seeded with that. So a seeded fit is reproducible, each
// batch and epoch gets new transforms, and two layers with different seeds draw differently.
// The matrices are computed once per image in float64 with JS Math and rounded to float32. Translation
// and zoom use only + - * (the same in every engine); rotation uses Math.sin / Math.cos, which V8
// implements with its own fdlibm port, so Node and Chromium agree bit for bit (other engines may
// differ in the last bit of a matrix entry).
import type { Tensor } from '../tensor.js';
import { Rng } from '../rng.js';
import {
  AUGMENT_INTERPOLATIONS,
  type AugmentInterpolation,
  FILL_MODES,
  type FillMode,
  adjustContrast,
  affineTransform,
} from '../ops/augment.js';
import { type CallArgs, Layer } from './layer.js';
import {
  type LayerOption,
  type LayerOptions,
  type OptionValues,
  custom,
  finite,
  layerConfig,
  oneOf,
  readOptions,
  type LayerCommon,
} from './options.js';
import { show } from '../show.js';

/** A fraction f (the range [-f, f], or [1 - f, 1 + f] for contrast) or an explicit [lower, upper]. */
export type Factor = number | [number, number];

/** Options shared by the affine augmentation layers (Keras names and defaults). */
export interface RandomAffineCommon extends LayerCommon {
  /** Points outside the image (default 'reflect'): see {@link FillMode}. */
  fillMode?: FillMode;
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: AugmentInterpolation;
  /** Value read outside the image with fillMode 'constant' (default 0). */
  fillValue?: number;
  /** Mixed into the model's training seed, so layers with different seeds draw differently. */
  seed?: number;
}

/** [lower, upper] of a factor; a single number f gives [-f, f] and must be >= 0. */
function range(v: unknown, what: string, key: string, limit: number | null): [number, number] {
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  let r: [number, number];
  if (ok(v)) {
    if ((v as number) < 0) throw new Error(`${what}: ${key} must be a non-negative number or [lower, upper], got ${v}`);
    r = [-(v as number), v as number];
  } else if (Array.isArray(v) && v.length === 2 && v.every(ok)) {
    r = [v[0], v[1]];
  } else {
    throw new Error(`${what}: ${key} must be a number or [lower, upper], got ${show(v)}`);
  }
  if (r[0] > r[1]) throw new Error(`${what}: ${key} has lower bound ${r[0]} above upper bound ${r[1]}`);
  if (limit !== null && (Math.abs(r[0]) > limit || Math.abs(r[1]) > limit))
    throw new Error(`${what}: ${key} must lie in [-${limit}, ${limit}], got ${show(v)}`);
  return r;
}

function needConfig(cfg: unknown, what: string, keys: string[]): void {
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new Error(`${what}: expected a config object {${keys.join(', ')}, ...}, got ${show(cfg)}`);
}

/** The layer's seed: an integer, or null (saved as absent) when none is given. */
const seed = custom(
  (v, what, key): number | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER)
      throw new Error(`${what}: ${key} must be an integer, got ${show(v)}`);
    return v;
  },
  (v) => v ?? undefined,
);

/** A factor checked by {@link range} (each side within [-limit, limit] when given), kept as given. */
const factor = (limit: number | null): LayerOption<Factor> =>
  custom((v, what, key) => {
    range(v, what, key, limit);
    return v as Factor;
  });

/** The options every affine augmentation layer takes after its factors (Keras' defaults). */
const AFFINE = {
  fillMode: oneOf(FILL_MODES, 'reflect'),
  interpolation: oneOf(AUGMENT_INTERPOLATIONS, 'bilinear'),
  fillValue: finite(0),
  seed,
};

/** Base of the augmentation layers: shape checks, training-only application, the per-call generator. */
abstract class RandomImageLayer extends Layer {
  readonly seed: number | null;
  constructor(cfg: { seed?: number; inputShape?: number[]; name?: string }, seed: number | null) {
    super(cfg);
    this.seed = seed;
  }
  computeOutputShape(s: readonly number[]): number[] {
    if (s.length !== 3)
      throw new Error(
        `${this.name || this.className}: expected input of shape [height, width, channels] (without batch), got [${s}]`,
      );
    return [...s];
  }
  /** A generator for this call: one word of the model's training generator mixed with the layer seed. */
  protected callRng(args: CallArgs): Rng {
    const s = this.seed ?? 0;
    // Math.imul mixes the seed's low and high words into 32 bits; integer arithmetic only.
    const mixed = (args.rng.nextU32() ^ Math.imul((s >>> 0) ^ Math.floor(s / 2 ** 32), 0x9e3779b1)) >>> 0;
    return new Rng(mixed);
  }
  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training) return x;
    return this.augment(x, this.callRng(args));
  }
  protected abstract augment(x: Tensor, rng: Rng): Tensor;
  /** The options of the layer's class, each kept in the field of its name. */
  getConfig() {
    return layerConfig(this, (this.constructor as unknown as { options: LayerOptions }).options);
  }
}

/** Uniform in [lo, hi) from rng (as Keras' uniform(minval, maxval)). */
const draw = (rng: Rng, [lo, hi]: [number, number]) => lo + (hi - lo) * rng.uniform();

abstract class RandomAffine extends RandomImageLayer {
  readonly fillMode: FillMode;
  readonly interpolation: AugmentInterpolation;
  readonly fillValue: number;
  constructor(cfg: RandomAffineCommon, c: OptionValues<typeof AFFINE>) {
    super(cfg, c.seed);
    this.fillMode = c.fillMode;
    this.interpolation = c.interpolation;
    this.fillValue = c.fillValue;
  }
  /** The 6 affine numbers (output pixel -> source point) of one image of height H and width W. */
  protected abstract matrix(rng: Rng, H: number, W: number): number[];
  /** The matrices of a batch of n images, in image order (exposed for tests and tooling). */
  matrices(rng: Rng, n: number, H: number, W: number): Float32Array {
    const m = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) m.set(this.matrix(rng, H, W), i * 6);
    return m;
  }
  protected augment(x: Tensor, rng: Rng): Tensor {
    const [N, H, W] = x.shape;
    return affineTransform(x, this.matrices(rng, N, H, W), {
      interpolation: this.interpolation,
      fillMode: this.fillMode,
      fillValue: this.fillValue,
      name: this.name,
    });
  }
}

/** Options of {@link RandomTranslation}. */
export interface RandomTranslationConfig extends RandomAffineCommon {
  /** Vertical shift as a fraction of the height: f for [-f, f], or [lower, upper], within [-1, 1]. */
  heightFactor: Factor;
  /** Horizontal shift as a fraction of the width, likewise. */
  widthFactor: Factor;
}

/**
 * Shifts each training image by a random fraction of its size, as keras.layers.RandomTranslation
 * (positive factors move the content down / right). Identity outside training.
 */
export class RandomTranslation extends RandomAffine {
  static readonly className = 'RandomTranslation';
  static readonly options = { heightFactor: factor(1), widthFactor: factor(1), ...AFFINE };
  readonly heightFactor: Factor;
  readonly widthFactor: Factor;
  private readonly h: [number, number];
  private readonly w: [number, number];
  constructor(cfg: RandomTranslationConfig) {
    needConfig(cfg, 'RandomTranslation', ['heightFactor', 'widthFactor']);
    const c = readOptions(RandomTranslation.options, cfg, 'RandomTranslation');
    super(cfg, c);
    this.h = range(c.heightFactor, 'RandomTranslation', 'heightFactor', 1);
    this.w = range(c.widthFactor, 'RandomTranslation', 'widthFactor', 1);
    this.heightFactor = c.heightFactor;
    this.widthFactor = c.widthFactor;
  }
  protected matrix(rng: Rng, H: number, W: number): number[] {
    const dy = draw(rng, this.h) * H;
    const dx = draw(rng, this.w) * W;
    return [1, 0, -dx, 0, 1, -dy];
  }
}

/** Options of {@link RandomRotation}. */
export interface RandomRotationConfig extends RandomAffineCommon {
  /** Angle as a fraction of a full turn: f for [-f, f] * 2 pi, or [lower, upper]. */
  factor: Factor;
}

/**
 * Rotates each training image about its centre by a random angle, as keras.layers.RandomRotation
 * (factor 0.1: up to 36 degrees either way; positive angles turn counter-clockwise). Identity outside
 * training.
 */
export class RandomRotation extends RandomAffine {
  static readonly className = 'RandomRotation';
  static readonly options = { factor: factor(null), ...AFFINE };
  readonly factor: Factor;
  private readonly r: [number, number];
  constructor(cfg: RandomRotationConfig) {
    needConfig(cfg, 'RandomRotation', ['factor']);
    const c = readOptions(RandomRotation.options, cfg, 'RandomRotation');
    super(cfg, c);
    this.r = range(c.factor, 'RandomRotation', 'factor', null);
    this.factor = c.factor;
  }
  protected matrix(rng: Rng, H: number, W: number): number[] {
    const a = draw(rng, this.r) * 2 * Math.PI;
    const c = Math.cos(a),
      s = Math.sin(a);
    // tf.keras' rotation about the centre of the pixel grid ((W - 1) / 2, (H - 1) / 2).
    const xo = (W - 1 - (c * (W - 1) - s * (H - 1))) / 2;
    const yo = (H - 1 - (s * (W - 1) + c * (H - 1))) / 2;
    return [c, -s, xo, s, c, yo];
  }
}

/** Options of {@link RandomZoom}. */
export interface RandomZoomConfig extends RandomAffineCommon {
  /** Vertical zoom: f for [-f, f], or [lower, upper], within [-1, 1]; positive zooms out, negative in. */
  heightFactor: Factor;
  /** Horizontal zoom likewise; default: the vertical zoom (aspect ratio kept). */
  widthFactor?: Factor;
}

/**
 * Zooms each training image about its centre by a random factor, as keras.layers.RandomZoom: a
 * factor z scales the sampled region by 1 + z (z > 0 zooms out, z < 0 in). Identity outside training.
 */
export class RandomZoom extends RandomAffine {
  static readonly className = 'RandomZoom';
  /** widthFactor: null (saved as absent) keeps the aspect ratio. */
  static readonly options = {
    heightFactor: factor(1),
    widthFactor: custom(
      (v, what, key): Factor | null => (v == null ? null : factor(1).read(v, what, key, {})),
      (v) => v ?? undefined,
    ),
    ...AFFINE,
  };
  readonly heightFactor: Factor;
  readonly widthFactor: Factor | null;
  private readonly h: [number, number];
  private readonly w: [number, number] | null;
  constructor(cfg: RandomZoomConfig) {
    needConfig(cfg, 'RandomZoom', ['heightFactor']);
    const c = readOptions(RandomZoom.options, cfg, 'RandomZoom');
    super(cfg, c);
    this.h = range(c.heightFactor, 'RandomZoom', 'heightFactor', 1);
    this.w = c.widthFactor === null ? null : range(c.widthFactor, 'RandomZoom', 'widthFactor', 1);
    this.heightFactor = c.heightFactor;
    this.widthFactor = c.widthFactor;
  }
  protected matrix(rng: Rng, H: number, W: number): number[] {
    const zy = 1 + draw(rng, this.h);
    const zx = this.w ? 1 + draw(rng, this.w) : zy;
    return [zx, 0, ((W - 1) / 2) * (1 - zx), 0, zy, ((H - 1) / 2) * (1 - zy)];
  }
}

/** The contrast factors [1 - lower, 1 + upper] of a factor f or [lower, upper], each in [0, 1]. */
function contrastRange(v: unknown, what: string, key: string): [number, number] {
  const [lower, upper] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : [NaN, NaN];
  if (![lower, upper].every((u) => typeof u === 'number' && u >= 0 && u <= 1))
    throw new Error(`${what}: ${key} must be a number in [0, 1] or [lower, upper] in [0, 1], got ${show(v)}`);
  return [1 - lower, 1 + upper];
}

/** Options of {@link RandomContrast}. */
export interface RandomContrastConfig extends LayerCommon {
  /** f (in [0, 1]) for contrast factors in [1 - f, 1 + f], or [lower, upper] for [1 - lower, 1 + upper]. */
  factor: Factor;
  /** Outputs are clipped to this range (default [0, 255], Keras 3). */
  valueRange?: [number, number];
  seed?: number;
}

/**
 * Scales each training image's deviation from its per-channel mean by a random factor, as
 * keras.layers.RandomContrast, then clips to `valueRange`. Identity outside training.
 */
export class RandomContrast extends RandomImageLayer {
  static readonly className = 'RandomContrast';
  static readonly options = {
    factor: custom((v, what, key) => {
      contrastRange(v, what, key);
      return v as Factor;
    }),
    valueRange: custom((v, what, key): [number, number] => {
      const r = v ?? [0, 255];
      if (!Array.isArray(r) || r.length !== 2 || !r.every(Number.isFinite) || !(r[0] < r[1]))
        throw new Error(`${what}: ${key} must be [lo, hi] with lo < hi, got ${show(v)}`);
      return [r[0], r[1]];
    }),
    seed,
  };
  readonly factor: Factor;
  readonly valueRange: [number, number];
  private readonly f: [number, number];
  constructor(cfg: RandomContrastConfig) {
    needConfig(cfg, 'RandomContrast', ['factor']);
    const c = readOptions(RandomContrast.options, cfg, 'RandomContrast');
    super(cfg, c.seed);
    this.f = contrastRange(c.factor, 'RandomContrast', 'factor');
    this.factor = c.factor;
    this.valueRange = c.valueRange;
  }
  /** The contrast factors of a batch of n images, in image order. */
  factors(rng: Rng, n: number): Float32Array {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = draw(rng, this.f);
    return f;
  }
  protected augment(x: Tensor, rng: Rng): Tensor {
    return adjustContrast(x, this.factors(rng, x.shape[0]), this.valueRange, this.name);
  }
}

/** Factories: `layers.randomTranslation({...})`, ... */
export const preprocessingLayers = {
  randomTranslation: (cfg: RandomTranslationConfig) => new RandomTranslation(cfg),
  randomRotation: (cfg: RandomRotationConfig) => new RandomRotation(cfg),
  randomZoom: (cfg: RandomZoomConfig) => new RandomZoom(cfg),
  randomContrast: (cfg: RandomContrastConfig) => new RandomContrast(cfg),
};
