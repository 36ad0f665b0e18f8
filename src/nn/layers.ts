// Keras layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
// Flatten, Dense, Dropout, Activation, LeakyReLU (BatchNormalization lives in batchnorm.ts, the
// convolutions — Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose — in convolutional.ts).
// Each is parameters + a one-line call into ops/ (tinygrad's nn style); factories in `layers.*`.
import type { Tensor } from '../tensor.js';
import { maxPool2d, avgPool2d, globalAvgPool2d, globalMaxPool2d } from '../ops/pool2d.js';
import { leakyRelu } from '../ops/act.js';
import { BatchNormalization, type BatchNormalizationConfig } from './batchnorm.js';
import { Conv2D, convolutionalLayers } from './convolutional.js';
import type {
  Conv2DConfig,
  Conv2DTransposeConfig,
  DepthwiseConv2DConfig,
  SeparableConv2DConfig,
} from './convolutional.js';
import { dense } from '../ops/dense.js';
import { mul, reshape } from '../ops/elementwise.js';
import { windowGeometry } from '../geom.js';
import {
  type ActivationName,
  type CallArgs,
  type InitializerName,
  Layer,
  type WeightSpec,
  applyActivation,
} from './layer.js';
import { tensor } from '../tensor.js';
import { mergeLayers } from './merge.js';
import { reshapingLayers } from './reshaping.js';
import { preprocessingLayers } from './preprocessing.js';
import { show } from '../show.js';
import {
  type OptionValues,
  activation,
  bool,
  custom,
  initializer,
  layerConfig,
  num,
  oneOf,
  pair,
  posInt,
  readOptions,
  savedUnless,
  type LayerCommon,
} from './options.js';

function expectRank(s: readonly number[], rank: number, what: string, desc: string): void {
  if (s.length !== rank) throw new Error(`${what}: expected input of shape ${desc} (without batch), got [${s}]`);
}

/** Options of the pooling layers. */
export interface Pooling2DConfig extends LayerCommon {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
}

abstract class Pooling2D extends Layer {
  /** Strides default to the pool size. */
  static readonly options = {
    poolSize: pair(2),
    strides: pair((read) => read.poolSize),
    padding: oneOf(['valid', 'same'], 'valid'),
  };
  readonly cfg: OptionValues<typeof Pooling2D.options>;
  constructor(cfg: Pooling2DConfig = {}) {
    super(cfg ?? {});
    this.cfg = readOptions(Pooling2D.options, cfg, this.className);
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 3, this.name || this.className, '[height, width, channels]');
    const g = windowGeometry(
      this.name || this.className,
      s[0],
      s[1],
      ...this.cfg.poolSize,
      ...this.cfg.strides,
      this.cfg.padding,
    );
    return [g.OH, g.OW, s[2]];
  }
  getConfig() {
    return layerConfig(this, Pooling2D.options, this.cfg);
  }
}

/** Max pooling, as keras.layers.MaxPooling2D (strides default to the pool size). */
export class MaxPooling2D extends Pooling2D {
  static readonly className = 'MaxPooling2D';
  call(x: Tensor): Tensor {
    return maxPool2d(x, { ...this.cfg, name: this.name, skipFiniteCheck: true });
  }
}

/** Average pooling (padding not counted), as keras.layers.AveragePooling2D. */
export class AveragePooling2D extends Pooling2D {
  static readonly className = 'AveragePooling2D';
  call(x: Tensor): Tensor {
    return avgPool2d(x, { ...this.cfg, name: this.name, skipFiniteCheck: true });
  }
}

/** Options of the global pooling layers. */
export interface GlobalPooling2DConfig extends LayerCommon {
  /** Keep height and width as size-1 axes: [1, 1, C] instead of [C] (Keras keepdims; default false). */
  keepdims?: boolean;
}

abstract class GlobalPooling2D extends Layer {
  static readonly options = { keepdims: savedUnless(bool(false), false) };
  readonly keepdims: boolean;
  constructor(cfg: GlobalPooling2DConfig = {}) {
    super(cfg ?? {});
    this.keepdims = readOptions(GlobalPooling2D.options, cfg ?? {}, this.className).keepdims;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 3, this.name || this.className, '[height, width, channels]');
    return this.keepdims ? [1, 1, s[2]] : [s[2]];
  }
  /** y (N, C) as (N, 1, 1, C) when keepdims. */
  protected shaped(y: Tensor): Tensor {
    return this.keepdims ? reshape(y, [y.shape[0], 1, 1, y.shape[1]]) : y;
  }
  getConfig() {
    return layerConfig(this, GlobalPooling2D.options);
  }
}

/** Mean over height and width, [N, H, W, C] -> [N, C], as keras.layers.GlobalAveragePooling2D. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  static readonly className = 'GlobalAveragePooling2D';
  call(x: Tensor): Tensor {
    return this.shaped(globalAvgPool2d(x, { name: this.name, skipFiniteCheck: true }));
  }
}

/** Max over height and width, [N, H, W, C] -> [N, C], as keras.layers.GlobalMaxPooling2D. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  static readonly className = 'GlobalMaxPooling2D';
  call(x: Tensor): Tensor {
    return this.shaped(globalMaxPool2d(x, { name: this.name, skipFiniteCheck: true }));
  }
}

/** Flattens all axes but the batch axis. */
export class Flatten extends Layer {
  static readonly className = 'Flatten';
  static readonly options = {};
  constructor(cfg: { inputShape?: number[]; name?: string } = {}) {
    readOptions(Flatten.options, cfg, 'Flatten');
    super(cfg);
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [s.reduce((a, b) => a * b, 1)];
  }
  call(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], -1]);
  }
  getConfig() {
    return layerConfig(this, Flatten.options);
  }
}

/** Options of {@link Dense}. */
export interface DenseConfig extends LayerCommon {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** Fully connected layer, as keras.layers.Dense (input must be flat: [features]). */
export class Dense extends Layer {
  static readonly className = 'Dense';
  static readonly options = {
    units: posInt(),
    activation: activation(),
    useBias: bool(true),
    kernelInitializer: initializer('glorotUniform'),
    biasInitializer: initializer('zeros'),
  };
  readonly cfg: OptionValues<typeof Dense.options>;
  constructor(cfg: DenseConfig) {
    const c = readOptions(Dense.options, cfg, 'Dense');
    super(cfg);
    this.cfg = c;
  }
  get activation() {
    return this.cfg.activation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 1, this.name || 'Dense', '[features] (add a Flatten layer before Dense)');
    return [this.cfg.units];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const fans = { fanIn: s[0], fanOut: this.cfg.units };
    const w: WeightSpec[] = [
      { suffix: 'kernel', shape: [s[0], this.cfg.units], init: this.cfg.kernelInitializer, ...fans },
    ];
    if (this.cfg.useBias) w.push({ suffix: 'bias', shape: [this.cfg.units], init: this.cfg.biasInitializer, ...fans });
    return w;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const act = this.cfg.activation;
    const y = dense(x, this.weights[0].value, {
      bias: this.weights[1]?.value ?? null,
      activation: act === 'relu' ? 'relu' : 'linear',
      name: this.name,
      skipFiniteCheck: true,
    });
    return act === 'relu' ? y : applyActivation(y, act, args);
  }
  getConfig() {
    return layerConfig(this, Dense.options, this.cfg);
  }
}

/** Dropout: in training, zeroes each value with probability `rate` and scales the rest by 1/(1-rate). */
export class Dropout extends Layer {
  static readonly className = 'Dropout';
  static readonly options = { rate: num('a number in [0, 1)', (x) => x >= 0 && x < 1) };
  readonly rate: number;
  constructor(cfg: { rate: number; inputShape?: number[]; name?: string }) {
    const { rate } = readOptions(Dropout.options, cfg, 'Dropout');
    super(cfg);
    this.rate = rate;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training || this.rate === 0) return x;
    // The mask is data (drawn from the seeded RNG), the multiply is an op on the tape.
    const keepScale = 1 / (1 - this.rate);
    const m = new Float32Array(x.size);
    for (let i = 0; i < m.length; i++) m[i] = args.rng.uniform() < this.rate ? 0 : keepScale;
    return mul(x, tensor(m, x.shape));
  }
  getConfig() {
    return layerConfig(this, Dropout.options);
  }
}

/** A standalone activation, as keras.layers.Activation. */
export class Activation extends Layer {
  static readonly className = 'Activation';
  static readonly options = { activation: activation() };
  readonly act: ActivationName;
  constructor(cfg: { activation: ActivationName; inputShape?: number[]; name?: string }) {
    const c = readOptions(Activation.options, cfg, 'Activation');
    super(cfg);
    this.act = c.activation;
  }
  get activation() {
    return this.act;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor, args: CallArgs): Tensor {
    return applyActivation(x, this.act, args);
  }
  getConfig() {
    return layerConfig(this, Activation.options);
  }
}

/** Options of {@link LeakyReLU}. */
export interface LeakyReLUConfig extends LayerCommon {
  /** Slope for x <= 0 (Keras 3 calls it negative_slope); default 0.3 as Keras. */
  alpha?: number;
}

/** x > 0 ? x : alpha * x, as keras.layers.LeakyReLU (alpha 0.3). */
export class LeakyReLU extends Layer {
  static readonly className = 'LeakyReLU';
  static readonly options = { alpha: num('a non-negative number', (x) => Number.isFinite(x) && x >= 0, 0.3) };
  readonly alpha: number;
  constructor(cfg: LeakyReLUConfig = {}) {
    const { alpha } = readOptions(LeakyReLU.options, cfg, 'LeakyReLU');
    super(cfg ?? {});
    this.alpha = alpha;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return leakyRelu(x, this.alpha);
  }
  getConfig() {
    return layerConfig(this, LeakyReLU.options);
  }
}

/** Options of {@link Pool2D}. */
export interface Pool2DConfig extends LayerCommon {
  mode: 'max' | 'avg';
  poolSize: number | [number, number];
  strides?: number | [number, number];
  /** Pixels [[top, bottom], [left, right]], excluded from the max and from the average's divisor. */
  padding?: [[number, number], [number, number]];
}

/** Explicit pads [[top, bottom], [left, right]] of non-negative integers (a copy); none when absent. */
function explicitPads(v: unknown, what: string, key: string): [[number, number], [number, number]] {
  const p = (v ?? [
    [0, 0],
    [0, 0],
  ]) as number[][];
  const ok =
    Array.isArray(p) &&
    p.length === 2 &&
    p.every((q) => Array.isArray(q) && q.length === 2 && q.every((x) => Number.isInteger(x) && x >= 0));
  if (!ok)
    throw new Error(`${what}: ${key} must be [[top, bottom], [left, right]] of non-negative integers, got ${show(p)}`);
  return [
    [p[0][0], p[0][1]],
    [p[1][0], p[1][1]],
  ];
}

/** Max or average pooling with explicit pads on each side (ONNX MaxPool / AveragePool pads, ceil_mode). */
export class Pool2D extends Layer {
  static readonly className = 'Pool2D';
  /** Strides default to the pool size, padding to none. */
  static readonly options = {
    mode: oneOf(['max', 'avg']),
    poolSize: pair(),
    strides: pair((read) => read.poolSize),
    padding: custom((v, what, key) => explicitPads(v, what, key)),
  };
  readonly mode: 'max' | 'avg';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: [[number, number], [number, number]];
  constructor(cfg: Pool2DConfig) {
    super(cfg ?? {});
    const c = readOptions(Pool2D.options, cfg, 'Pool2D');
    this.mode = c.mode;
    this.poolSize = c.poolSize;
    this.strides = c.strides;
    this.padding = c.padding;
  }
  get defaultName() {
    return this.mode === 'max' ? 'max_pool2d' : 'avg_pool2d';
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Pool2D';
    if (s.length !== 3) throw new Error(`${what}: expected input of shape [H, W, C] (without batch), got [${s}]`);
    const g = windowGeometry(what, s[0], s[1], ...this.poolSize, ...this.strides, this.padding);
    return [g.OH, g.OW, s[2]];
  }
  call(x: Tensor, _args: CallArgs): Tensor {
    const opts = { poolSize: this.poolSize, strides: this.strides, padding: this.padding, name: this.name };
    return this.mode === 'max' ? maxPool2d(x, opts) : avgPool2d(x, opts);
  }
  getConfig() {
    return layerConfig(this, Pool2D.options);
  }
}

/** Keras-style factories, spelled as tfjs' `tf.layers`: `layers.conv2d({...})`, `layers.dense({...})`, ... */
export const layers = {
  ...convolutionalLayers,
  maxPooling2d: (cfg?: Pooling2DConfig) => new MaxPooling2D(cfg),
  averagePooling2d: (cfg?: Pooling2DConfig) => new AveragePooling2D(cfg),
  flatten: (cfg?: { inputShape?: number[]; name?: string }) => new Flatten(cfg),
  dense: (cfg: DenseConfig) => new Dense(cfg),
  dropout: (cfg: { rate: number; inputShape?: number[]; name?: string }) => new Dropout(cfg),
  activation: (cfg: { activation: ActivationName; inputShape?: number[]; name?: string }) => new Activation(cfg),
  leakyReLU: (cfg?: LeakyReLUConfig) => new LeakyReLU(cfg),
  batchNormalization: (cfg?: BatchNormalizationConfig) => new BatchNormalization(cfg),
  globalAveragePooling2d: (cfg?: GlobalPooling2DConfig) => new GlobalAveragePooling2D(cfg),
  globalMaxPooling2d: (cfg?: GlobalPooling2DConfig) => new GlobalMaxPooling2D(cfg),
  /** @deprecated tfjs spells it `globalAveragePooling2d`; this alias goes in the next release. */
  globalAveragePooling2D: (cfg?: GlobalPooling2DConfig) => new GlobalAveragePooling2D(cfg),
  /** @deprecated tfjs spells it `globalMaxPooling2d`; this alias goes in the next release. */
  globalMaxPooling2D: (cfg?: GlobalPooling2DConfig) => new GlobalMaxPooling2D(cfg),
  ...mergeLayers,
  ...reshapingLayers,
  ...preprocessingLayers,
};

export { BatchNormalization, Conv2D };
export { DepthwiseConv2D, SeparableConv2D, Conv2DTranspose } from './convolutional.js';
export type {
  BatchNormalizationConfig,
  Conv2DConfig,
  Conv2DTransposeConfig,
  DepthwiseConv2DConfig,
  SeparableConv2DConfig,
};
