// Keras convolution layers: Conv2D (dilated, grouped), DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.
// Channels last; weights in Keras' layout and under Keras' names, so getWeights/setWeights line up with
// tfjs-layers and Keras. Each is parameters + calls into ops/ (conv2d, depthwiseConv2d, conv2dTranspose).
import {
  type OptionValues,
  activation,
  bool,
  custom,
  initializer,
  oneOf,
  pair,
  posInt,
  readOptions,
  layerConfig,
  savedUnless,
  type LayerCommon,
} from './options.js';
import type { Tensor } from '../tensor.js';
import { conv2d } from '../ops/conv2d.js';
import { expectConvAlgorithm, expectWinogradTile, type ConvAlgorithm, type WinogradTile } from '../ops/winograd.js';
import { depthwiseConv2d } from '../ops/dwconv2d.js';
import { conv2dTranspose } from '../ops/conv2dtranspose.js';
import { conv2dTransposeShape, convGeometry, type ConvWindowOptions } from '../geom.js';
import {
  type ActivationName,
  type CallArgs,
  type InitializerName,
  Layer,
  type WeightSpec,
  applyActivation,
} from './layer.js';

// Keras refuses strides > 1 together with a dilation > 1 (the taps would skip whole strides).
function checkStridesDilation(s: [number, number], d: [number, number], what: string): void {
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) {
    throw new Error(`${what}: strides [${s}] > 1 cannot be combined with dilationRate [${d}] > 1`);
  }
}

/** The window options every convolution layer shares, in the order they are checked and saved. */
const WINDOW = {
  kernelSize: pair(),
  strides: pair(1),
  padding: oneOf(['valid', 'same'], 'valid'),
  dilationRate: custom((v, what, key, read) => {
    const d = pair(1).read(v, what, key, read);
    checkStridesDilation(read.strides as [number, number], d, what);
    return d;
  }),
};

/** The options after the window of the layers with one kernel and a bias (Conv2D, Conv2DTranspose). */
const KERNEL_BIAS = {
  activation: activation(),
  useBias: bool(true),
  kernelInitializer: initializer('glorotUniform'),
  biasInitializer: initializer('zeros'),
};

function expectImage(s: readonly number[], what: string): void {
  if (s.length !== 3)
    throw new Error(`${what}: expected input of shape [height, width, channels] (without batch), got [${s}]`);
}

/** Output height and width of a convolution layer's window over an input of shape [H, W, C], checked. */
function windowOutput(
  what: string,
  s: readonly number[],
  cfg: { kernelSize: unknown; strides: unknown; dilationRate: unknown; padding: 'valid' | 'same' },
): [number, number] {
  expectImage(s, what);
  const [KH, KW] = cfg.kernelSize as [number, number];
  const g = convGeometry(what, s[0], s[1], KH, KW, cfg as ConvWindowOptions);
  return [g.OH, g.OW];
}

// The conv ops fuse relu into their output store; any other activation runs after them.
function withActivation(act: ActivationName, args: CallArgs, conv: (fused: 'linear' | 'relu') => Tensor): Tensor {
  const y = conv(act === 'relu' ? 'relu' : 'linear');
  return act === 'relu' ? y : applyActivation(y, act, args);
}

/** Options of {@link Conv2D}. */
export interface Conv2DConfig extends LayerCommon {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  /** Spacing of the kernel taps (Keras dilation_rate); default 1. Not with strides > 1. */
  dilationRate?: number | [number, number];
  /** Channel groups (Keras groups): input channels and filters must be divisible by it; default 1. */
  groups?: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  /** How the convolution is computed (saved with the model); default: the one of setConvAlgorithm. */
  algorithm?: ConvAlgorithm;
  /** Winograd output tile m, 2 or 4 (see WinogradTile; saved with the model); default: the one of setConvAlgorithm. */
  winogradTile?: WinogradTile;
}

/** 2-D convolution layer (channels last), as keras.layers.Conv2D; kernel (KH, KW, C/groups, filters). */
export class Conv2D extends Layer {
  static readonly className = 'Conv2D';
  /**
   * A plain convolution saves neither dilationRate nor groups (nor the algorithm, when undefined), so
   * it saves the bytes it always did.
   */
  static readonly options = {
    filters: posInt(),
    ...WINDOW,
    dilationRate: savedUnless(WINDOW.dilationRate, [1, 1]),
    groups: savedUnless(posInt(1), 1),
    ...KERNEL_BIAS,
    algorithm: custom((v, what) => (v === undefined ? undefined : expectConvAlgorithm(v, what))),
    winogradTile: custom((v, what) => (v === undefined ? undefined : expectWinogradTile(v, what))),
  };
  readonly cfg: OptionValues<typeof Conv2D.options>;
  constructor(cfg: Conv2DConfig) {
    const c = readOptions(Conv2D.options, cfg, 'Conv2D');
    super(cfg);
    const what = 'Conv2D';
    this.cfg = c;
    if (this.cfg.filters % this.cfg.groups !== 0) {
      throw new Error(`${what}: filters (${this.cfg.filters}) must be divisible by groups (${this.cfg.groups})`);
    }
  }
  get activation() {
    return this.cfg.activation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Conv2D';
    expectImage(s, what);
    const G = this.cfg.groups;
    if (s[2] % G !== 0) {
      throw new Error(
        `${what}: groups = ${G} must divide the input channels, got input shape [${s}] (${s[2]} channels) ` +
          `and ${this.cfg.filters} filters`,
      );
    }
    const [OH, OW] = windowOutput(what, s, this.cfg);
    return [OH, OW, this.cfg.filters];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const Cg = s[2] / this.cfg.groups,
      K = this.cfg.filters;
    const fans = { fanIn: KH * KW * Cg, fanOut: KH * KW * K };
    const w: WeightSpec[] = [{ suffix: 'kernel', shape: [KH, KW, Cg, K], init: this.cfg.kernelInitializer, ...fans }];
    if (this.cfg.useBias) w.push({ suffix: 'bias', shape: [K], init: this.cfg.biasInitializer, ...fans });
    return w;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    return withActivation(this.cfg.activation, args, (activation) =>
      conv2d(x, this.weights[0].value, {
        strides: this.cfg.strides,
        padding: this.cfg.padding,
        dilationRate: this.cfg.dilationRate,
        groups: this.cfg.groups,
        bias: this.weights[1]?.value ?? null,
        activation,
        name: this.name,
        skipFiniteCheck: true,
        algorithm: this.cfg.algorithm,
        winogradTile: this.cfg.winogradTile,
      }),
    );
  }
  getConfig() {
    return layerConfig(this, Conv2D.options, this.cfg);
  }
}

/** Options of {@link DepthwiseConv2D}. */
export interface DepthwiseConv2DConfig extends LayerCommon {
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  /** Filters per input channel; output channels = C * depthMultiplier (channel c*M + m). Default 1. */
  depthMultiplier?: number;
  dilationRate?: number | [number, number];
  activation?: ActivationName;
  useBias?: boolean;
  depthwiseInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** Depthwise 2-D convolution, as keras.layers.DepthwiseConv2D; weight `depthwise_kernel` (KH, KW, C, M). */
export class DepthwiseConv2D extends Layer {
  static readonly className = 'DepthwiseConv2D';
  static readonly options = {
    ...WINDOW,
    depthMultiplier: posInt(1),
    activation: activation(),
    useBias: bool(true),
    depthwiseInitializer: initializer('glorotUniform'),
    biasInitializer: initializer('zeros'),
  };
  readonly cfg: OptionValues<typeof DepthwiseConv2D.options>;
  constructor(cfg: DepthwiseConv2DConfig) {
    const c = readOptions(DepthwiseConv2D.options, cfg, 'DepthwiseConv2D');
    super(cfg);
    this.cfg = c;
  }
  get activation() {
    return this.cfg.activation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'DepthwiseConv2D';
    const [OH, OW] = windowOutput(what, s, this.cfg);
    return [OH, OW, s[2] * this.cfg.depthMultiplier];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const C = s[2],
      M = this.cfg.depthMultiplier;
    // Keras' fans for a (KH, KW, C, M) kernel: receptive field times the last two axes.
    const fans = { fanIn: KH * KW * C, fanOut: KH * KW * M };
    const w: WeightSpec[] = [
      { suffix: 'depthwise_kernel', shape: [KH, KW, C, M], init: this.cfg.depthwiseInitializer, ...fans },
    ];
    if (this.cfg.useBias) w.push({ suffix: 'bias', shape: [C * M], init: this.cfg.biasInitializer, ...fans });
    return w;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    return withActivation(this.cfg.activation, args, (activation) =>
      depthwiseConv2d(x, this.weights[0].value, {
        strides: this.cfg.strides,
        padding: this.cfg.padding,
        dilationRate: this.cfg.dilationRate,
        bias: this.weights[1]?.value ?? null,
        activation,
        name: this.name,
        skipFiniteCheck: true,
      }),
    );
  }
  getConfig() {
    return layerConfig(this, DepthwiseConv2D.options, this.cfg);
  }
}

/** Options of {@link SeparableConv2D}. */
export interface SeparableConv2DConfig extends LayerCommon {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  dilationRate?: number | [number, number];
  depthMultiplier?: number;
  activation?: ActivationName;
  useBias?: boolean;
  depthwiseInitializer?: InitializerName;
  pointwiseInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/**
 * Depthwise then pointwise (1x1) convolution, as keras.layers.SeparableConv2D: weights
 * `depthwise_kernel` (KH, KW, C, M), `pointwise_kernel` (1, 1, C*M, filters), `bias` (filters).
 */
export class SeparableConv2D extends Layer {
  static readonly className = 'SeparableConv2D';
  static readonly options = {
    filters: posInt(),
    ...WINDOW,
    depthMultiplier: posInt(1),
    activation: activation(),
    useBias: bool(true),
    depthwiseInitializer: initializer('glorotUniform'),
    pointwiseInitializer: initializer('glorotUniform'),
    biasInitializer: initializer('zeros'),
  };
  readonly cfg: OptionValues<typeof SeparableConv2D.options>;
  constructor(cfg: SeparableConv2DConfig) {
    const c = readOptions(SeparableConv2D.options, cfg, 'SeparableConv2D');
    super(cfg);
    this.cfg = c;
  }
  get activation() {
    return this.cfg.activation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'SeparableConv2D';
    const [OH, OW] = windowOutput(what, s, this.cfg);
    return [OH, OW, this.cfg.filters];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const C = s[2],
      M = this.cfg.depthMultiplier,
      F = this.cfg.filters;
    const w: WeightSpec[] = [
      {
        suffix: 'depthwise_kernel',
        shape: [KH, KW, C, M],
        init: this.cfg.depthwiseInitializer,
        fanIn: KH * KW * C,
        fanOut: KH * KW * M,
      },
      {
        suffix: 'pointwise_kernel',
        shape: [1, 1, C * M, F],
        init: this.cfg.pointwiseInitializer,
        fanIn: C * M,
        fanOut: F,
      },
    ];
    if (this.cfg.useBias)
      w.push({ suffix: 'bias', shape: [F], init: this.cfg.biasInitializer, fanIn: C * M, fanOut: F });
    return w;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const d = depthwiseConv2d(x, this.weights[0].value, {
      strides: this.cfg.strides,
      padding: this.cfg.padding,
      dilationRate: this.cfg.dilationRate,
      name: this.name,
      skipFiniteCheck: true,
    });
    // 1x1, stride 1: conv2d's direct path (the depthwise output is already the GEMM's A matrix).
    return withActivation(this.cfg.activation, args, (activation) =>
      conv2d(d, this.weights[1].value, {
        bias: this.weights[2]?.value ?? null,
        activation,
        name: this.name,
        skipFiniteCheck: true,
      }),
    );
  }
  getConfig() {
    return layerConfig(this, SeparableConv2D.options, this.cfg);
  }
}

/** Options of {@link Conv2DTranspose}. */
export interface Conv2DTransposeConfig extends LayerCommon {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  /** Extra output rows/columns (each < its stride), or null (default) for Keras' rule. */
  outputPadding?: number | [number, number] | null;
  dilationRate?: number | [number, number];
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** Conv2DTranspose's outputPadding as a pair, each below its stride; null (Keras' rule) when absent. */
function outputPadding(op: unknown, s: [number, number], what: string, key: string): [number, number] | null {
  if (op == null) return null;
  const p = (Array.isArray(op) ? [op[0], op[1]] : [op, op]) as [number, number];
  p.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= s[i])
      throw new Error(`${what}: ${key} [${p}] must be non-negative integers smaller than the strides [${s}]`);
  });
  return p;
}

/** Transposed convolution, as keras.layers.Conv2DTranspose; kernel (KH, KW, filters, C). */
export class Conv2DTranspose extends Layer {
  static readonly className = 'Conv2DTranspose';
  static readonly options = {
    filters: posInt(),
    ...WINDOW,
    outputPadding: custom((op, what, key, read) => outputPadding(op, read.strides as [number, number], what, key)),
    ...KERNEL_BIAS,
  };
  readonly cfg: OptionValues<typeof Conv2DTranspose.options>;
  constructor(cfg: Conv2DTransposeConfig) {
    const c = readOptions(Conv2DTranspose.options, cfg, 'Conv2DTranspose');
    super(cfg);
    this.cfg = c;
  }
  get activation() {
    return this.cfg.activation;
  }
  private opts() {
    return {
      strides: this.cfg.strides,
      padding: this.cfg.padding,
      dilationRate: this.cfg.dilationRate,
      outputPadding: this.cfg.outputPadding as [number, number] | null,
    };
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'Conv2DTranspose';
    expectImage(s, what);
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const t = conv2dTransposeShape(s[0], s[1], KH, KW, this.opts(), `${what} (input shape [${s}])`);
    return [t.OH, t.OW, this.cfg.filters];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const [KH, KW] = this.cfg.kernelSize as [number, number];
    const C = s[2],
      F = this.cfg.filters;
    // Keras' fans read the kernel (KH, KW, F, C) as (..., in, out): fan_in KH*KW*F, fan_out KH*KW*C.
    const fans = { fanIn: KH * KW * F, fanOut: KH * KW * C };
    const w: WeightSpec[] = [{ suffix: 'kernel', shape: [KH, KW, F, C], init: this.cfg.kernelInitializer, ...fans }];
    if (this.cfg.useBias) w.push({ suffix: 'bias', shape: [F], init: this.cfg.biasInitializer, ...fans });
    return w;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const y = conv2dTranspose(x, this.weights[0].value, {
      ...this.opts(),
      bias: this.weights[1]?.value ?? null,
      name: this.name,
      skipFiniteCheck: true,
    });
    return applyActivation(y, this.cfg.activation, args);
  }
  getConfig() {
    return layerConfig(this, Conv2DTranspose.options, this.cfg);
  }
}

/** Factories of the convolution layers (merged into `layers`). */
export const convolutionalLayers = {
  conv2d: (cfg: Conv2DConfig) => new Conv2D(cfg),
  depthwiseConv2d: (cfg: DepthwiseConv2DConfig) => new DepthwiseConv2D(cfg),
  separableConv2d: (cfg: SeparableConv2DConfig) => new SeparableConv2D(cfg),
  conv2dTranspose: (cfg: Conv2DTransposeConfig) => new Conv2DTranspose(cfg),
};
