// Element-wise layers with parameters, in the general forms ONNX operators have: PRelu (a trainable
// slope), Clip, ScaledElu (Elu with alpha, Selu), HardSigmoid with ONNX's alpha/beta, LogSoftmax and
// Affine (x * a + b with constant tensors: Mul/Add/Sub/Div by an initializer), GELU with its
// approximate option (PyTorch nn.GELU, ONNX Gelu) and Erf. Each is a thin call into the differentiable
// ops: all math runs in wasm. (Keras' ReLU and Softmax are in reshaping.ts.)
import { type Tensor, zeros } from '../tensor.js';
import type { Rng } from '../rng.js';
import { add, mul } from '../ops/elementwise.js';
import { broadcastBinary, broadcastShapes } from '../ops/merge.js';
import { elu, erf, gelu, logSoftmax, relu, reluGeneral } from '../ops/act.js';
import { nonBatchAxis } from '../ops/slice.js';
import { Layer } from './layer.js';
import { show } from '../show.js';
import { bool, custom, finite, int, layerConfig, readOptions, type LayerCommon } from './options.js';

const isShape = (s: unknown): s is number[] =>
  Array.isArray(s) && s.length > 0 && s.every((d) => Number.isInteger(d) && d >= 1);

/** A shape of positive integers (a copy); null when absent if `orNull`. */
function shapeOption(orNull: boolean) {
  return custom((s, what, key): number[] | null => {
    if (orNull && s == null) return null;
    if (!isShape(s))
      throw new Error(`${what}: ${key} must be positive integers${orNull ? ' or null' : ''}, got ${show(s)}`);
    return [...s];
  });
}

/** Checks that a parameter of `shape` broadcasts against input `s` without changing its shape. */
function expectBroadcastsInto(shape: readonly number[], s: readonly number[], what: string, name: string): void {
  const b = broadcastShapes(shape, s);
  if (!b || b.join() !== s.join()) {
    throw new Error(`${what}: ${name} of shape [${shape}] does not broadcast over an input of shape [${s}]`);
  }
}

/** Options of {@link PRelu}. */
export interface PReluConfig extends LayerCommon {
  /** Shape of the slope (without batch), broadcast over the input, e.g. [1, 1, C] for one per channel. */
  alphaShape: number[];
}

/** ONNX PRelu: x for x ≥ 0, alpha·x below, with a trainable alpha broadcast over the input. */
export class PRelu extends Layer {
  static readonly className = 'PRelu';
  static readonly options = { alphaShape: shapeOption(false) };
  readonly alphaShape: number[];
  constructor(cfg: PReluConfig) {
    super(cfg ?? {});
    this.alphaShape = readOptions(PRelu.options, cfg, 'PRelu').alphaShape!;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectBroadcastsInto(this.alphaShape, s, this.name || 'PRelu', 'alpha');
    return [...s];
  }
  weightShapes(): Array<[string, number[]]> {
    return [['alpha', [...this.alphaShape]]];
  }
  protected buildWeights(_s: readonly number[], _rng: Rng): void {
    // PyTorch's default slope.
    const a = zeros(this.alphaShape);
    a.view().fill(0.25);
    this.addWeight('alpha', a);
  }
  call(x: Tensor): Tensor {
    // relu(x) - alpha * relu(-x)
    const neg = relu(mul(x, -1));
    return broadcastBinary('sub', relu(x), broadcastBinary('mul', neg, this.weights[0].value));
  }
  getConfig() {
    return layerConfig(this, PRelu.options);
  }
}

/** Options of {@link Clip}: bounds, null for none. */
export interface ClipConfig extends LayerCommon {
  min?: number | null;
  max?: number | null;
}

/** ONNX Clip: min(max(x, min), max) with constant bounds (either may be absent). */
export class Clip extends Layer {
  static readonly className = 'Clip';
  static readonly options = { min: finite(null), max: finite(null) };
  readonly min: number | null;
  readonly max: number | null;
  constructor(cfg: ClipConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(Clip.options, cfg, 'Clip');
    this.min = c.min;
    this.max = c.max;
    if (this.min !== null && this.max !== null && !(this.max >= this.min)) {
      throw new Error(`Clip: max (${this.max}) must be at least min (${this.min})`);
    }
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    const lo = this.min,
      hi = this.max;
    if (lo !== null && hi !== null) return add(reluGeneral(add(x, -lo), { maxValue: hi - lo }), lo);
    if (lo !== null) return add(relu(add(x, -lo)), lo);
    if (hi !== null) return add(mul(relu(add(mul(x, -1), hi)), -1), hi);
    return mul(x, 1);
  }
  getConfig() {
    return layerConfig(this, Clip.options);
  }
}

/** Options of {@link ScaledElu}. */
export interface ScaledEluConfig extends LayerCommon {
  alpha?: number;
  scale?: number;
}

/** scale · elu(x, alpha): ONNX Elu (scale 1) and Selu (its alpha and gamma). */
export class ScaledElu extends Layer {
  static readonly className = 'ScaledElu';
  static readonly options = { alpha: finite(1), scale: finite(1) };
  readonly alpha: number;
  readonly scale: number;
  constructor(cfg: ScaledEluConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(ScaledElu.options, cfg, 'ScaledElu');
    this.alpha = c.alpha;
    this.scale = c.scale;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    const y = elu(x, this.alpha);
    return this.scale === 1 ? y : mul(y, this.scale);
  }
  getConfig() {
    return layerConfig(this, ScaledElu.options);
  }
}

/** Options of {@link HardSigmoid}. */
export interface HardSigmoidConfig extends LayerCommon {
  alpha?: number;
  beta?: number;
}

/** ONNX HardSigmoid: max(0, min(1, alpha·x + beta)); defaults alpha 0.2, beta 0.5 as ONNX. */
export class HardSigmoid extends Layer {
  static readonly className = 'HardSigmoid';
  static readonly options = { alpha: finite(0.2), beta: finite(0.5) };
  readonly alpha: number;
  readonly beta: number;
  constructor(cfg: HardSigmoidConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(HardSigmoid.options, cfg, 'HardSigmoid');
    this.alpha = c.alpha;
    this.beta = c.beta;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return reluGeneral(add(mul(x, this.alpha), this.beta), { maxValue: 1 });
  }
  getConfig() {
    return layerConfig(this, HardSigmoid.options);
  }
}

/** Options of {@link LogSoftmax}. */
export interface LogSoftmaxConfig extends LayerCommon {
  /** Axis of the whole tensor (batch is 0), negative from the end; default -1. */
  axis?: number;
}

/** ONNX LogSoftmax along one axis. */
export class LogSoftmax extends Layer {
  static readonly className = 'LogSoftmax';
  static readonly options = { axis: int(-1) };
  readonly axis: number;
  constructor(cfg: LogSoftmaxConfig = {}) {
    super(cfg ?? {});
    this.axis = readOptions(LogSoftmax.options, cfg, 'LogSoftmax').axis;
  }
  computeOutputShape(s: readonly number[]): number[] {
    nonBatchAxis(this.axis, s.length + 1, this.name || 'LogSoftmax');
    return [...s];
  }
  call(x: Tensor): Tensor {
    return logSoftmax(x, this.axis, this.name || 'LogSoftmax');
  }
  getConfig() {
    return layerConfig(this, LogSoftmax.options);
  }
}

/** Options of {@link Affine}. */
export interface AffineConfig extends LayerCommon {
  /** Shape (without batch) of the factor a, broadcast over the input; null for none (a = 1). */
  scaleShape?: number[] | null;
  /** Shape of the offset b; null for none (b = 0). */
  offsetShape?: number[] | null;
}

/**
 * x · a + b with constant (non-trainable, saved) tensors a and b broadcast over the input: ONNX
 * Mul / Add / Sub / Div of a value by an initializer. The values are state, set after building.
 */
export class Affine extends Layer {
  static readonly className = 'Affine';
  static readonly options = { scaleShape: shapeOption(true), offsetShape: shapeOption(true) };
  readonly scaleShape: number[] | null;
  readonly offsetShape: number[] | null;
  constructor(cfg: AffineConfig) {
    super(cfg ?? {});
    const c = readOptions(Affine.options, cfg, 'Affine');
    this.scaleShape = c.scaleShape;
    this.offsetShape = c.offsetShape;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Affine';
    if (this.scaleShape) expectBroadcastsInto(this.scaleShape, s, what, 'scale');
    if (this.offsetShape) expectBroadcastsInto(this.offsetShape, s, what, 'offset');
    return [...s];
  }
  stateShapes(): Array<[string, number[]]> {
    const out: Array<[string, number[]]> = [];
    if (this.scaleShape) out.push(['scale', [...this.scaleShape]]);
    if (this.offsetShape) out.push(['offset', [...this.offsetShape]]);
    return out;
  }
  protected buildWeights(): void {
    if (this.scaleShape) {
      const a = zeros(this.scaleShape);
      a.view().fill(1);
      this.addState('scale', a);
    }
    if (this.offsetShape) this.addState('offset', zeros(this.offsetShape));
  }
  call(x: Tensor): Tensor {
    let y = x,
      i = 0;
    if (this.scaleShape) y = broadcastBinary('mul', y, this.stateWeights[i++].value);
    if (this.offsetShape) y = broadcastBinary('add', y, this.stateWeights[i].value);
    return y === x ? mul(x, 1) : y;
  }
  getConfig() {
    return layerConfig(this, Affine.options);
  }
}

/** Options of {@link GELU}. */
export interface GELUConfig extends LayerCommon {
  /**
   * false (default): the exact 0.5·x·(1 + erf(x/√2)); true: the tanh approximation. Keras'
   * `gelu(x, approximate)` argument; PyTorch's nn.GELU(approximate='none' | 'tanh') is false | true.
   */
  approximate?: boolean;
}

/**
 * GELU as a layer, for the form a Keras `activation: 'gelu'` string cannot name: PyTorch's
 * nn.GELU(approximate='tanh') and ONNX Gelu. The exact one is the same op as `activation: 'gelu'`.
 */
export class GELU extends Layer {
  static readonly className = 'GELU';
  static readonly options = { approximate: bool(false) };
  readonly approximate: boolean;
  constructor(cfg: GELUConfig = {}) {
    super(cfg ?? {});
    this.approximate = readOptions(GELU.options, cfg, 'GELU').approximate;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
  getConfig() {
    return layerConfig(this, GELU.options);
  }
}

/** ONNX Erf: the error function, element-wise. */
export class Erf extends Layer {
  static readonly className = 'Erf';
  static readonly options = {};
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return erf(x);
  }
  getConfig() {
    return layerConfig(this, Erf.options);
  }
}
