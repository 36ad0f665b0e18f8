// Keras layers: Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
// Flatten, Dense, Dropout, Activation, LeakyReLU (BatchNormalization lives in batchnorm.ts).
// Each is parameters + a one-line call into ops/ (tinygrad's nn style); factories in `layers.*`.
import { Tensor } from '../tensor.js';
import { Rng } from '../rng.js';
import { conv2d } from '../ops/conv2d.js';
import { expectConvAlgorithm, expectWinogradTile, type ConvAlgorithm, type WinogradTile } from '../ops/winograd.js';
import { maxPool2d, avgPool2d, globalAvgPool2d, globalMaxPool2d } from '../ops/pool2d.js';
import { leakyRelu } from '../ops/act.js';
import { BatchNormalization, BatchNormalizationConfig } from './batchnorm.js';
import { dense } from '../ops/dense.js';
import { mul, reshape } from '../ops/elementwise.js';
import { pair, windowGeometry } from '../geom.js';
import { ActivationName, CallArgs, InitializerName, Layer, applyActivation, checkActivation, initialize } from './layer.js';
import { tensor } from '../tensor.js';

function posInt(v: unknown, what: string, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${what}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function expectRank(s: readonly number[], rank: number, what: string, desc: string): void {
  if (s.length !== rank) throw new Error(`${what}: expected input of shape ${desc} (without batch), got [${s}]`);
}

/** Options of {@link Conv2D}. */
export interface Conv2DConfig {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  /** How the convolution is computed (saved with the model); default: the one of setConvAlgorithm. */
  algorithm?: ConvAlgorithm;
  /** Winograd tile m of F(m x m, 3x3), 2 or 4 (saved with the model); default: the one of setConvAlgorithm. */
  winogradTile?: WinogradTile;
  inputShape?: number[];
  name?: string;
}

/** 2-D convolution layer (channels last), as keras.layers.Conv2D. */
export class Conv2D extends Layer {
  readonly cfg: Required<Omit<Conv2DConfig, 'inputShape' | 'name' | 'algorithm' | 'winogradTile'>>
    & Pick<Conv2DConfig, 'algorithm' | 'winogradTile'>;
  constructor(cfg: Conv2DConfig) {
    super(cfg);
    const what = 'Conv2D';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    this.cfg = {
      filters: posInt(cfg.filters, what, 'filters'),
      kernelSize: pair(cfg.kernelSize, what, 'kernelSize'),
      strides: pair(cfg.strides ?? 1, what, 'strides'),
      padding: cfg.padding ?? 'valid',
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      kernelInitializer: cfg.kernelInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
      algorithm: cfg.algorithm === undefined ? undefined : expectConvAlgorithm(cfg.algorithm, what),
      winogradTile: cfg.winogradTile === undefined ? undefined : expectWinogradTile(cfg.winogradTile, what),
    };
    if (this.cfg.padding !== 'valid' && this.cfg.padding !== 'same') throw new Error(`${what}: padding must be 'valid' or 'same', got ${JSON.stringify(cfg.padding)}`);
  }
  get className() { return 'Conv2D'; }
  get defaultName() { return 'conv2d'; }
  get activation() { return this.cfg.activation; }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 3, this.name || 'Conv2D', '[height, width, channels]');
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const [SH, SW] = this.cfg.strides as [number, number];
    const g = windowGeometry(this.name || 'Conv2D', s[0], s[1], KH, KW, SH, SW, this.cfg.padding);
    return [g.OH, g.OW, this.cfg.filters];
  }
  weightShapes(s: readonly number[]): Array<[string, number[]]> {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const w: Array<[string, number[]]> = [['kernel', [KH, KW, s[2], this.cfg.filters]]];
    if (this.cfg.useBias) w.push(['bias', [this.cfg.filters]]);
    return w;
  }
  protected buildWeights(s: readonly number[], rng: Rng): void {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const C = s[2], K = this.cfg.filters;
    this.addWeight('kernel', initialize(this.cfg.kernelInitializer, [KH, KW, C, K], KH * KW * C, KH * KW * K, rng, this.name));
    if (this.cfg.useBias) this.addWeight('bias', initialize(this.cfg.biasInitializer, [K], KH * KW * C, KH * KW * K, rng, this.name));
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const act = this.cfg.activation;
    const y = conv2d(x, this.weights[0].value, {
      strides: this.cfg.strides, padding: this.cfg.padding, bias: this.weights[1]?.value ?? null,
      activation: act === 'relu' ? 'relu' : 'linear', algorithm: this.cfg.algorithm, winogradTile: this.cfg.winogradTile,
      name: this.name, skipFiniteCheck: true,
    });
    return act === 'relu' ? y : applyActivation(y, act, args);
  }
  getConfig() { return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Options of the pooling layers. */
export interface Pooling2DConfig {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  inputShape?: number[];
  name?: string;
}

abstract class Pooling2D extends Layer {
  readonly cfg: { poolSize: [number, number]; strides: [number, number]; padding: 'valid' | 'same' };
  constructor(cfg: Pooling2DConfig = {}) {
    super(cfg);
    const what = (this as unknown as { className: string }).className;
    const poolSize = pair(cfg.poolSize ?? 2, what, 'poolSize');
    this.cfg = { poolSize, strides: pair(cfg.strides ?? poolSize, what, 'strides'), padding: cfg.padding ?? 'valid' };
    if (this.cfg.padding !== 'valid' && this.cfg.padding !== 'same') throw new Error(`${what}: padding must be 'valid' or 'same', got ${JSON.stringify(cfg.padding)}`);
  }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 3, this.name || this.className, '[height, width, channels]');
    const g = windowGeometry(this.name || this.className, s[0], s[1], ...this.cfg.poolSize, ...this.cfg.strides, this.cfg.padding);
    return [g.OH, g.OW, s[2]];
  }
  getConfig() { return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Max pooling, as keras.layers.MaxPooling2D (strides default to the pool size). */
export class MaxPooling2D extends Pooling2D {
  get className() { return 'MaxPooling2D'; }
  get defaultName() { return 'max_pooling2d'; }
  call(x: Tensor): Tensor { return maxPool2d(x, { ...this.cfg, name: this.name, skipFiniteCheck: true }); }
}

/** Average pooling (padding not counted), as keras.layers.AveragePooling2D. */
export class AveragePooling2D extends Pooling2D {
  get className() { return 'AveragePooling2D'; }
  get defaultName() { return 'average_pooling2d'; }
  call(x: Tensor): Tensor { return avgPool2d(x, { ...this.cfg, name: this.name, skipFiniteCheck: true }); }
}

abstract class GlobalPooling2D extends Layer {
  constructor(cfg: { inputShape?: number[]; name?: string } = {}) { super(cfg); }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 3, this.name || this.className, '[height, width, channels]');
    return [s[2]];
  }
  getConfig() { return { name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Mean over height and width, [N, H, W, C] -> [N, C], as keras.layers.GlobalAveragePooling2D. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  get className() { return 'GlobalAveragePooling2D'; }
  get defaultName() { return 'global_average_pooling2d'; }
  call(x: Tensor): Tensor { return globalAvgPool2d(x, { name: this.name, skipFiniteCheck: true }); }
}

/** Max over height and width, [N, H, W, C] -> [N, C], as keras.layers.GlobalMaxPooling2D. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  get className() { return 'GlobalMaxPooling2D'; }
  get defaultName() { return 'global_max_pooling2d'; }
  call(x: Tensor): Tensor { return globalMaxPool2d(x, { name: this.name, skipFiniteCheck: true }); }
}

/** Flattens all axes but the batch axis. */
export class Flatten extends Layer {
  constructor(cfg: { inputShape?: number[]; name?: string } = {}) { super(cfg); }
  get className() { return 'Flatten'; }
  get defaultName() { return 'flatten'; }
  computeOutputShape(s: readonly number[]): number[] { return [s.reduce((a, b) => a * b, 1)]; }
  call(x: Tensor): Tensor { return reshape(x, [x.shape[0], -1]); }
  getConfig() { return { name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Options of {@link Dense}. */
export interface DenseConfig {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  inputShape?: number[];
  name?: string;
}

/** Fully connected layer, as keras.layers.Dense (input must be flat: [features]). */
export class Dense extends Layer {
  readonly cfg: Required<Omit<DenseConfig, 'inputShape' | 'name'>>;
  constructor(cfg: DenseConfig) {
    super(cfg);
    const what = 'Dense';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    this.cfg = {
      units: posInt(cfg.units, what, 'units'),
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      kernelInitializer: cfg.kernelInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
    };
  }
  get className() { return 'Dense'; }
  get defaultName() { return 'dense'; }
  get activation() { return this.cfg.activation; }
  computeOutputShape(s: readonly number[]): number[] {
    expectRank(s, 1, this.name || 'Dense', '[features] (add a Flatten layer before Dense)');
    return [this.cfg.units];
  }
  weightShapes(s: readonly number[]): Array<[string, number[]]> {
    const w: Array<[string, number[]]> = [['kernel', [s[0], this.cfg.units]]];
    if (this.cfg.useBias) w.push(['bias', [this.cfg.units]]);
    return w;
  }
  protected buildWeights(s: readonly number[], rng: Rng): void {
    const IN = s[0], OUT = this.cfg.units;
    this.addWeight('kernel', initialize(this.cfg.kernelInitializer, [IN, OUT], IN, OUT, rng, this.name));
    if (this.cfg.useBias) this.addWeight('bias', initialize(this.cfg.biasInitializer, [OUT], IN, OUT, rng, this.name));
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const act = this.cfg.activation;
    const y = dense(x, this.weights[0].value, {
      bias: this.weights[1]?.value ?? null, activation: act === 'relu' ? 'relu' : 'linear', name: this.name, skipFiniteCheck: true,
    });
    return act === 'relu' ? y : applyActivation(y, act, args);
  }
  getConfig() { return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Dropout: in training, zeroes each value with probability `rate` and scales the rest by 1/(1-rate). */
export class Dropout extends Layer {
  readonly rate: number;
  constructor(cfg: { rate: number; inputShape?: number[]; name?: string }) {
    super(cfg);
    if (!cfg || typeof cfg.rate !== 'number' || !(cfg.rate >= 0 && cfg.rate < 1)) {
      throw new Error(`Dropout: rate must be a number in [0, 1), got ${JSON.stringify(cfg?.rate)}`);
    }
    this.rate = cfg.rate;
  }
  get className() { return 'Dropout'; }
  get defaultName() { return 'dropout'; }
  computeOutputShape(s: readonly number[]): number[] { return [...s]; }
  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training || this.rate === 0) return x;
    // The mask is data (drawn from the seeded RNG), the multiply is an op on the tape.
    const keepScale = 1 / (1 - this.rate);
    const m = new Float32Array(x.size);
    for (let i = 0; i < m.length; i++) m[i] = args.rng.uniform() < this.rate ? 0 : keepScale;
    return mul(x, tensor(m, x.shape));
  }
  getConfig() { return { rate: this.rate, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** A standalone activation, as keras.layers.Activation. */
export class Activation extends Layer {
  readonly act: ActivationName;
  constructor(cfg: { activation: ActivationName; inputShape?: number[]; name?: string }) {
    super(cfg);
    this.act = checkActivation(cfg?.activation, 'Activation');
  }
  get className() { return 'Activation'; }
  get defaultName() { return 'activation'; }
  get activation() { return this.act; }
  computeOutputShape(s: readonly number[]): number[] { return [...s]; }
  call(x: Tensor, args: CallArgs): Tensor { return applyActivation(x, this.act, args); }
  getConfig() { return { activation: this.act, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Options of {@link LeakyReLU}. */
export interface LeakyReLUConfig {
  /** Slope for x <= 0 (Keras 3 calls it negative_slope); default 0.3 as Keras. */
  alpha?: number;
  inputShape?: number[];
  name?: string;
}

/** x > 0 ? x : alpha * x, as keras.layers.LeakyReLU (alpha 0.3). */
export class LeakyReLU extends Layer {
  readonly alpha: number;
  constructor(cfg: LeakyReLUConfig = {}) {
    super(cfg ?? {});
    const alpha = cfg?.alpha ?? 0.3;
    if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) {
      throw new Error(`LeakyReLU: alpha must be a non-negative number, got ${JSON.stringify(cfg?.alpha)}`);
    }
    this.alpha = alpha;
  }
  get className() { return 'LeakyReLU'; }
  get defaultName() { return 'leaky_re_lu'; }
  computeOutputShape(s: readonly number[]): number[] { return [...s]; }
  call(x: Tensor): Tensor { return leakyRelu(x, this.alpha); }
  getConfig() { return { alpha: this.alpha, name: this.name, inputShape: this.inputShape ?? undefined }; }
}

/** Layer classes by Keras class name (for loading saved models). */
export const layerClasses: Record<string, new (cfg: any) => Layer> = {
  Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout,
  Activation, LeakyReLU, BatchNormalization,
};

/** Keras-style factories: `layers.conv2d({...})`, `layers.dense({...})`, ... */
export const layers = {
  conv2d: (cfg: Conv2DConfig) => new Conv2D(cfg),
  maxPooling2d: (cfg?: Pooling2DConfig) => new MaxPooling2D(cfg),
  averagePooling2d: (cfg?: Pooling2DConfig) => new AveragePooling2D(cfg),
  flatten: (cfg?: { inputShape?: number[]; name?: string }) => new Flatten(cfg),
  dense: (cfg: DenseConfig) => new Dense(cfg),
  dropout: (cfg: { rate: number; inputShape?: number[]; name?: string }) => new Dropout(cfg),
  activation: (cfg: { activation: ActivationName; inputShape?: number[]; name?: string }) => new Activation(cfg),
  leakyReLU: (cfg?: LeakyReLUConfig) => new LeakyReLU(cfg),
  batchNormalization: (cfg?: BatchNormalizationConfig) => new BatchNormalization(cfg),
  globalAveragePooling2D: (cfg?: { inputShape?: number[]; name?: string }) => new GlobalAveragePooling2D(cfg),
  globalMaxPooling2D: (cfg?: { inputShape?: number[]; name?: string }) => new GlobalMaxPooling2D(cfg),
  /** Alias of globalAveragePooling2D, spelled like maxPooling2d. */
  globalAveragePooling2d: (cfg?: { inputShape?: number[]; name?: string }) => new GlobalAveragePooling2D(cfg),
  /** Alias of globalMaxPooling2D, spelled like maxPooling2d. */
  globalMaxPooling2d: (cfg?: { inputShape?: number[]; name?: string }) => new GlobalMaxPooling2D(cfg),
};

export { BatchNormalization };
export type { BatchNormalizationConfig };
