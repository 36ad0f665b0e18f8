// Keras layers that move, resize or rescale values without weights: ZeroPadding2D, Cropping2D,
// UpSampling2D, Reshape, Permute, and the activation layers ReLU (max value, negative slope,
// threshold) and Softmax (any axis). Each is a shape check at build time and one call into ops/.
// Shapes exclude the batch axis; images are [height, width, channels].
import type { Tensor } from '../tensor.js';
import { cropping2d, sides2d, zeroPadding2d, type Sides2d } from '../ops/pad2d.js';
import { upSampling2d, type Interpolation } from '../ops/resize.js';
import { checkPermutation, permute } from '../ops/permute.js';
import { reluArgs, reluGeneral, softmax } from '../ops/act.js';
import { reshape } from '../ops/elementwise.js';
import { type ActivationName, type CallArgs, Layer } from './layer.js';
import { show } from '../show.js';
import { nonBatchAxis, sliceAxis } from '../ops/slice.js';
import { type LayerOption, custom, int, layerConfig, oneOf, pair, readOptions, type LayerCommon } from './options.js';

/** Sides n, [rows, cols] or [[top, bottom], [left, right]] of non-negative integers; default `def`. */
const sides = (def: number): LayerOption<Sides2d> => custom((v, what, key) => sides2d(v ?? def, what, key));

/** One of ReLU's bounds, checked as the op checks it (maxValue: null or Infinity for none). */
const reluBound = (i: 0 | 1 | 2): LayerOption<number> => custom((v, what, key) => reluArgs({ [key]: v }, what)[i]);

/** A number kept as given, for options checked together afterwards. */
const given = custom((v) => v as number);

function expectImage(s: readonly number[], what: string): void {
  if (s.length !== 3) {
    throw new Error(`${what}: expected input of shape [height, width, channels] (without batch), got [${s}]`);
  }
}

/** Options of {@link ZeroPadding2D}. */
export interface ZeroPadding2DConfig extends LayerCommon {
  /** n (every side), [rows, cols] (symmetric) or [[top, bottom], [left, right]]; default 1. */
  padding?: number | [number, number] | Sides2d;
}

/** Adds rows and columns of zeros around each image, as keras.layers.ZeroPadding2D. */
export class ZeroPadding2D extends Layer {
  static readonly className = 'ZeroPadding2D';
  static readonly options = { padding: sides(1) };
  readonly padding: Sides2d;
  constructor(cfg: ZeroPadding2DConfig = {}) {
    super(cfg ?? {});
    this.padding = readOptions(ZeroPadding2D.options, cfg, 'ZeroPadding2D').padding;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectImage(s, this.name || 'ZeroPadding2D');
    const [[t, b], [l, r]] = this.padding;
    return [s[0] + t + b, s[1] + l + r, s[2]];
  }
  call(x: Tensor): Tensor {
    return zeroPadding2d(x, this.padding, this.name);
  }
  getConfig() {
    return layerConfig(this, ZeroPadding2D.options);
  }
}

/** Options of {@link Cropping2D}. */
export interface Cropping2DConfig extends LayerCommon {
  /** n (every side), [rows, cols] (symmetric) or [[top, bottom], [left, right]]; default 0. */
  cropping?: number | [number, number] | Sides2d;
}

/** Removes rows and columns at the edges of each image, as keras.layers.Cropping2D. */
export class Cropping2D extends Layer {
  static readonly className = 'Cropping2D';
  static readonly options = { cropping: sides(0) };
  readonly cropping: Sides2d;
  constructor(cfg: Cropping2DConfig = {}) {
    super(cfg ?? {});
    this.cropping = readOptions(Cropping2D.options, cfg, 'Cropping2D').cropping;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Cropping2D';
    expectImage(s, what);
    const [[t, b], [l, r]] = this.cropping;
    if (t + b >= s[0] || l + r >= s[1]) {
      throw new Error(`${what}: cropping [[${t},${b}],[${l},${r}]] leaves nothing of an input of shape [${s}]`);
    }
    return [s[0] - t - b, s[1] - l - r, s[2]];
  }
  call(x: Tensor): Tensor {
    return cropping2d(x, this.cropping, this.name);
  }
  getConfig() {
    return layerConfig(this, Cropping2D.options);
  }
}

/** Options of {@link UpSampling2D}. */
export interface UpSampling2DConfig extends LayerCommon {
  /** Integer factors [rows, cols] or n for both; default 2. */
  size?: number | [number, number];
  /** 'nearest' (default) or 'bilinear' (TF resize with half-pixel centers, as tf.keras). */
  interpolation?: Interpolation;
}

/** Repeats (nearest) or interpolates (bilinear) each image up by integer factors, as keras.layers.UpSampling2D. */
export class UpSampling2D extends Layer {
  static readonly className = 'UpSampling2D';
  static readonly options = { size: pair(2), interpolation: oneOf<Interpolation>(['nearest', 'bilinear'], 'nearest') };
  readonly size: [number, number];
  readonly interpolation: Interpolation;
  constructor(cfg: UpSampling2DConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(UpSampling2D.options, cfg, 'UpSampling2D');
    this.size = c.size;
    this.interpolation = c.interpolation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectImage(s, this.name || 'UpSampling2D');
    return [s[0] * this.size[0], s[1] * this.size[1], s[2]];
  }
  call(x: Tensor): Tensor {
    return upSampling2d(x, this.size, this.interpolation, this.name);
  }
  getConfig() {
    return layerConfig(this, UpSampling2D.options);
  }
}

/** Options of {@link Reshape}. */
export interface ReshapeConfig extends LayerCommon {
  /** Output shape without the batch axis; one entry may be -1 (inferred). */
  targetShape: number[];
}

/** Gives each sample a new shape of the same size, as keras.layers.Reshape. */
export class Reshape extends Layer {
  static readonly className = 'Reshape';
  static readonly options = {
    targetShape: custom((t, what, key) => {
      if (
        !Array.isArray(t) ||
        t.length === 0 ||
        t.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)) ||
        t.filter((d) => d === -1).length > 1
      ) {
        throw new Error(`${what}: ${key} must be positive integers with at most one -1, got ${show(t)}`);
      }
      return [...t] as number[];
    }),
  };
  readonly targetShape: number[];
  constructor(cfg: ReshapeConfig) {
    super(cfg ?? {});
    this.targetShape = readOptions(Reshape.options, cfg, 'Reshape').targetShape;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const size = s.reduce((a, b) => a * b, 1);
    const known = this.targetShape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const out = [...this.targetShape];
    const u = out.indexOf(-1);
    if (u >= 0 && size % known === 0) out[u] = size / known;
    if (out.reduce((a, b) => a * b, 1) !== size) {
      throw new Error(
        `${this.name || 'Reshape'}: cannot reshape an input of shape [${s}] (${size} values per sample) ` +
          `to targetShape [${this.targetShape}]`,
      );
    }
    return out;
  }
  call(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], ...this.targetShape]);
  }
  getConfig() {
    return layerConfig(this, Reshape.options);
  }
}

/** Options of {@link Permute}. */
export interface PermuteConfig extends LayerCommon {
  /** The input axis (1-based, batch excluded, as Keras) that becomes each output axis. */
  dims: number[];
}

/** Reorders the axes of each sample, as keras.layers.Permute (dims are 1-based). */
export class Permute extends Layer {
  static readonly className = 'Permute';
  static readonly options = {
    dims: custom((d, what, key) => {
      if (!Array.isArray(d) || d.length === 0)
        throw new Error(`${what}: ${key} must be a non-empty array, got ${show(d)}`);
      checkPermutation(d, d.length, what, 1);
      // The permute kernel takes up to 8 axes, the batch included.
      if (d.length > 7) throw new Error(`${what}: at most 7 axes (without batch) can be permuted, got dims ${show(d)}`);
      return [...d] as number[];
    }),
  };
  readonly dims: number[];
  constructor(cfg: PermuteConfig) {
    super(cfg ?? {});
    this.dims = readOptions(Permute.options, cfg, 'Permute').dims;
  }
  computeOutputShape(s: readonly number[]): number[] {
    if (this.dims.length !== s.length) {
      throw new Error(
        `${this.name || 'Permute'}: dims [${this.dims}] permute ${this.dims.length} axes ` +
          `but the input has shape [${s}] ` +
          `(${s.length} axes without batch)`,
      );
    }
    return this.dims.map((d) => s[d - 1]);
  }
  call(x: Tensor): Tensor {
    return permute(x, [0, ...this.dims], this.name);
  }
  getConfig() {
    return layerConfig(this, Permute.options);
  }
}

/** Options of {@link ReLU} (Keras names and defaults). */
export interface ReLUConfig extends LayerCommon {
  /** Upper bound of the output; default none (null). 6 gives ReLU6. */
  maxValue?: number | null;
  /** Slope below the threshold; default 0. */
  negativeSlope?: number;
  /** Default 0. */
  threshold?: number;
}

/** x > threshold ? min(x, maxValue) : negativeSlope * (x - threshold), as keras.layers.ReLU. */
export class ReLU extends Layer {
  static readonly className = 'ReLU';
  /** maxValue Infinity (none) is kept as null. */
  static readonly options = {
    maxValue: custom((v, what, key) => {
      const m = reluBound(0).read(v, what, key, {});
      return m === Infinity ? null : m;
    }),
    negativeSlope: reluBound(1),
    threshold: reluBound(2),
  };
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;
  constructor(cfg: ReLUConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(ReLU.options, cfg, 'ReLU');
    this.maxValue = c.maxValue;
    this.negativeSlope = c.negativeSlope;
    this.threshold = c.threshold;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return reluGeneral(x, { maxValue: this.maxValue, negativeSlope: this.negativeSlope, threshold: this.threshold });
  }
  getConfig() {
    return layerConfig(this, ReLU.options);
  }
}

/** Options of {@link Softmax}. */
export interface SoftmaxConfig extends LayerCommon {
  /** Axis of the whole tensor (batch is 0), negative from the end; default -1. */
  axis?: number;
}

/**
 * Softmax along one axis, as keras.layers.Softmax. Over the last axis it counts as the model's softmax
 * activation (fused with a categorical cross-entropy loss when last).
 */
export class Softmax extends Layer {
  static readonly className = 'Softmax';
  static readonly options = { axis: int(-1) };
  readonly axis: number;
  constructor(cfg: SoftmaxConfig = {}) {
    super(cfg ?? {});
    this.axis = readOptions(Softmax.options, cfg, 'Softmax').axis;
  }
  /** 'softmax' when the axis is the last one (known once built), else 'linear'. */
  get activation(): ActivationName {
    const r = this.inputShape ? this.inputShape.length + 1 : null;
    return this.axis === -1 || (r !== null && this.axis === r - 1) ? 'softmax' : 'linear';
  }
  computeOutputShape(s: readonly number[]): number[] {
    const r = s.length + 1;
    if (this.axis < -r || this.axis >= r) {
      throw new Error(
        `${this.name || 'Softmax'}: axis ${this.axis} is out of range for an input of shape [${s}] ` +
          `(rank ${r} with the batch axis)`,
      );
    }
    return [...s];
  }
  call(x: Tensor, args: CallArgs): Tensor {
    if (args.logits && this.activation === 'softmax') return x;
    return softmax(x, this.axis);
  }
  getConfig() {
    return layerConfig(this, Softmax.options);
  }
}

/** Options of {@link Slice}. */
export interface SliceConfig extends LayerCommon {
  /** Axis of the whole tensor (batch is 0, which cannot be sliced); negative from the end. */
  axis: number;
  begin: number;
  end: number;
}

/** A contiguous range of one axis (ONNX Slice with step 1, and each output of Split). */
export class Slice extends Layer {
  static readonly className = 'Slice';
  /** Checked together: one message names all three. */
  static readonly options = { axis: given, begin: given, end: given };
  readonly axis: number;
  readonly begin: number;
  readonly end: number;
  constructor(cfg: SliceConfig) {
    super(cfg ?? {});
    const { axis, begin, end } = readOptions(Slice.options, cfg, 'Slice');
    if (![axis, begin, end].every(Number.isInteger) || begin < 0 || end <= begin) {
      throw new Error(
        `Slice: axis, begin, end must be integers with 0 <= begin < end, got ${show({ axis, begin, end })}`,
      );
    }
    this.axis = axis;
    this.begin = begin;
    this.end = end;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Slice';
    const a = nonBatchAxis(this.axis, s.length + 1, what);
    if (this.end > s[a - 1]) throw new Error(`${what}: end ${this.end} is beyond axis ${a} of input [${s}]`);
    const out = [...s];
    out[a - 1] = this.end - this.begin;
    return out;
  }
  call(x: Tensor): Tensor {
    return sliceAxis(x, this.axis, this.begin, this.end, this.name || 'Slice');
  }
  getConfig() {
    return layerConfig(this, Slice.options);
  }
}

/** Factories, merged into `layers`. */
export const reshapingLayers = {
  zeroPadding2d: (cfg?: ZeroPadding2DConfig) => new ZeroPadding2D(cfg),
  cropping2D: (cfg?: Cropping2DConfig) => new Cropping2D(cfg),
  upSampling2d: (cfg?: UpSampling2DConfig) => new UpSampling2D(cfg),
  reshape: (cfg: ReshapeConfig) => new Reshape(cfg),
  permute: (cfg: PermuteConfig) => new Permute(cfg),
  reLU: (cfg?: ReLUConfig) => new ReLU(cfg),
  softmax: (cfg?: SoftmaxConfig) => new Softmax(cfg),
  /** @deprecated tfjs spells it {@link reshapingLayers.zeroPadding2d}; this alias goes in the next release. */
  zeroPadding2D: (cfg?: ZeroPadding2DConfig) => new ZeroPadding2D(cfg),
  /** @deprecated tfjs spells it {@link reshapingLayers.upSampling2d}; this alias goes in the next release. */
  upSampling2D: (cfg?: UpSampling2DConfig) => new UpSampling2D(cfg),
};
