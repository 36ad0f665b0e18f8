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
import { pair } from '../geom.js';
import { type ActivationName, type CallArgs, Layer } from './layer.js';
import { show } from '../show.js';
import { nonBatchAxis, sliceAxis } from '../ops/slice.js';

/** Options every layer takes. */
interface Common {
  inputShape?: number[];
  name?: string;
}

function expectImage(s: readonly number[], what: string): void {
  if (s.length !== 3) {
    throw new Error(`${what}: expected input of shape [height, width, channels] (without batch), got [${s}]`);
  }
}

/** Options of {@link ZeroPadding2D}. */
export interface ZeroPadding2DConfig extends Common {
  /** n (every side), [rows, cols] (symmetric) or [[top, bottom], [left, right]]; default 1. */
  padding?: number | [number, number] | Sides2d;
}

/** Adds rows and columns of zeros around each image, as keras.layers.ZeroPadding2D. */
export class ZeroPadding2D extends Layer {
  static readonly className = 'ZeroPadding2D';
  readonly padding: Sides2d;
  constructor(cfg: ZeroPadding2DConfig = {}) {
    super(cfg ?? {});
    this.padding = sides2d(cfg?.padding ?? 1, 'ZeroPadding2D', 'padding');
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
    return { padding: this.padding, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link Cropping2D}. */
export interface Cropping2DConfig extends Common {
  /** n (every side), [rows, cols] (symmetric) or [[top, bottom], [left, right]]; default 0. */
  cropping?: number | [number, number] | Sides2d;
}

/** Removes rows and columns at the edges of each image, as keras.layers.Cropping2D. */
export class Cropping2D extends Layer {
  static readonly className = 'Cropping2D';
  readonly cropping: Sides2d;
  constructor(cfg: Cropping2DConfig = {}) {
    super(cfg ?? {});
    this.cropping = sides2d(cfg?.cropping ?? 0, 'Cropping2D', 'cropping');
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
    return { cropping: this.cropping, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link UpSampling2D}. */
export interface UpSampling2DConfig extends Common {
  /** Integer factors [rows, cols] or n for both; default 2. */
  size?: number | [number, number];
  /** 'nearest' (default) or 'bilinear' (TF resize with half-pixel centers, as tf.keras). */
  interpolation?: Interpolation;
}

/** Repeats (nearest) or interpolates (bilinear) each image up by integer factors, as keras.layers.UpSampling2D. */
export class UpSampling2D extends Layer {
  static readonly className = 'UpSampling2D';
  readonly size: [number, number];
  readonly interpolation: Interpolation;
  constructor(cfg: UpSampling2DConfig = {}) {
    super(cfg ?? {});
    this.size = pair(cfg?.size ?? 2, 'UpSampling2D', 'size');
    const interp = cfg?.interpolation ?? 'nearest';
    if (interp !== 'nearest' && interp !== 'bilinear') {
      throw new Error(
        `UpSampling2D: interpolation must be 'nearest' or 'bilinear', ` + `got ${show(cfg?.interpolation)}`,
      );
    }
    this.interpolation = interp;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectImage(s, this.name || 'UpSampling2D');
    return [s[0] * this.size[0], s[1] * this.size[1], s[2]];
  }
  call(x: Tensor): Tensor {
    return upSampling2d(x, this.size, this.interpolation, this.name);
  }
  getConfig() {
    return {
      size: this.size,
      interpolation: this.interpolation,
      name: this.name,
      inputShape: this.inputShape ?? undefined,
    };
  }
}

/** Options of {@link Reshape}. */
export interface ReshapeConfig extends Common {
  /** Output shape without the batch axis; one entry may be -1 (inferred). */
  targetShape: number[];
}

/** Gives each sample a new shape of the same size, as keras.layers.Reshape. */
export class Reshape extends Layer {
  static readonly className = 'Reshape';
  readonly targetShape: number[];
  constructor(cfg: ReshapeConfig) {
    super(cfg ?? {});
    const t = cfg?.targetShape;
    if (
      !Array.isArray(t) ||
      t.length === 0 ||
      t.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)) ||
      t.filter((d) => d === -1).length > 1
    ) {
      throw new Error(`Reshape: targetShape must be positive integers with at most one -1, got ${show(t)}`);
    }
    this.targetShape = [...t];
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
    return { targetShape: this.targetShape, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link Permute}. */
export interface PermuteConfig extends Common {
  /** The input axis (1-based, batch excluded, as Keras) that becomes each output axis. */
  dims: number[];
}

/** Reorders the axes of each sample, as keras.layers.Permute (dims are 1-based). */
export class Permute extends Layer {
  static readonly className = 'Permute';
  readonly dims: number[];
  constructor(cfg: PermuteConfig) {
    super(cfg ?? {});
    const d = cfg?.dims;
    if (!Array.isArray(d) || d.length === 0) {
      throw new Error(`Permute: dims must be a non-empty array, got ${show(d)}`);
    }
    checkPermutation(d, d.length, 'Permute', 1);
    // The permute kernel takes up to 8 axes, the batch included.
    if (d.length > 7) {
      throw new Error(`Permute: at most 7 axes (without batch) can be permuted, got dims ${show(d)}`);
    }
    this.dims = [...d];
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
    return { dims: this.dims, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link ReLU} (Keras names and defaults). */
export interface ReLUConfig extends Common {
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
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;
  constructor(cfg: ReLUConfig = {}) {
    super(cfg ?? {});
    const [maxv, slope, t] = reluArgs(cfg ?? {}, 'ReLU');
    this.maxValue = maxv === Infinity ? null : maxv;
    this.negativeSlope = slope;
    this.threshold = t;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return reluGeneral(x, { maxValue: this.maxValue, negativeSlope: this.negativeSlope, threshold: this.threshold });
  }
  getConfig() {
    return {
      maxValue: this.maxValue,
      negativeSlope: this.negativeSlope,
      threshold: this.threshold,
      name: this.name,
      inputShape: this.inputShape ?? undefined,
    };
  }
}

/** Options of {@link Softmax}. */
export interface SoftmaxConfig extends Common {
  /** Axis of the whole tensor (batch is 0), negative from the end; default -1. */
  axis?: number;
}

/**
 * Softmax along one axis, as keras.layers.Softmax. Over the last axis it counts as the model's softmax
 * activation (fused with a categorical cross-entropy loss when last).
 */
export class Softmax extends Layer {
  static readonly className = 'Softmax';
  readonly axis: number;
  constructor(cfg: SoftmaxConfig = {}) {
    super(cfg ?? {});
    const a = cfg?.axis ?? -1;
    if (!Number.isInteger(a)) throw new Error(`Softmax: axis must be an integer, got ${show(cfg?.axis)}`);
    this.axis = a;
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
    return { axis: this.axis, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link Slice}. */
export interface SliceConfig {
  inputShape?: number[];
  name?: string;
  trainable?: boolean;
  /** Axis of the whole tensor (batch is 0, which cannot be sliced); negative from the end. */
  axis: number;
  begin: number;
  end: number;
}

/** A contiguous range of one axis (ONNX Slice with step 1, and each output of Split). */
export class Slice extends Layer {
  static readonly className = 'Slice';
  readonly axis: number;
  readonly begin: number;
  readonly end: number;
  constructor(cfg: SliceConfig) {
    super(cfg ?? {});
    const { axis, begin, end } = cfg ?? ({} as SliceConfig);
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
    return {
      axis: this.axis,
      begin: this.begin,
      end: this.end,
      name: this.name,
      inputShape: this.inputShape ?? undefined,
    };
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
