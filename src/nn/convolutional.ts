// Keras convolution layers: Conv2D (dilated, grouped), DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.
// Channels last; weights in Keras' layout and under Keras' names, so getWeights/setWeights line up with
// tfjs-layers and Keras. Each is parameters + calls into ops/ (conv2d, depthwiseConv2d, conv2dTranspose).
import { checkLayerOptions } from './options.js';
import type { Tensor } from '../tensor.js';
import { conv2d } from '../ops/conv2d.js';
import { expectConvAlgorithm, expectWinogradTile, type ConvAlgorithm, type WinogradTile } from '../ops/winograd.js';
import { depthwiseConv2d } from '../ops/dwconv2d.js';
import { conv2dTranspose } from '../ops/conv2dtranspose.js';
import { conv2dTransposeShape, convGeometry, type ConvWindowOptions, pair, posInt } from '../geom.js';
import {
  type ActivationName,
  type CallArgs,
  type InitializerName,
  Layer,
  type WeightSpec,
  applyActivation,
  checkActivation,
} from './layer.js';
import { show } from '../show.js';

function checkPadding(p: unknown, what: string): 'valid' | 'same' {
  const v = p ?? 'valid';
  if (v !== 'valid' && v !== 'same') throw new Error(`${what}: padding must be 'valid' or 'same', got ${show(p)}`);
  return v;
}

// Keras refuses strides > 1 together with a dilation > 1 (the taps would skip whole strides).
function checkStridesDilation(s: [number, number], d: [number, number], what: string): void {
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) {
    throw new Error(`${what}: strides [${s}] > 1 cannot be combined with dilationRate [${d}] > 1`);
  }
}

/** The window options every convolution layer shares, checked once: kernel, strides, padding, dilation. */
function windowOptions(
  cfg: { kernelSize: unknown; strides?: unknown; padding?: unknown; dilationRate?: unknown },
  what: string,
): {
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dilationRate: [number, number];
} {
  const w = {
    kernelSize: pair(cfg.kernelSize as number, what, 'kernelSize'),
    strides: pair((cfg.strides ?? 1) as number, what, 'strides'),
    padding: checkPadding(cfg.padding, what),
    dilationRate: pair((cfg.dilationRate ?? 1) as number, what, 'dilationRate'),
  };
  checkStridesDilation(w.strides, w.dilationRate, what);
  return w;
}

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
export interface Conv2DConfig {
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
  inputShape?: number[];
  name?: string;
}

/** 2-D convolution layer (channels last), as keras.layers.Conv2D; kernel (KH, KW, C/groups, filters). */
export class Conv2D extends Layer {
  static readonly className = 'Conv2D';
  readonly cfg: Required<Omit<Conv2DConfig, 'inputShape' | 'name' | 'algorithm' | 'winogradTile'>> &
    Pick<Conv2DConfig, 'algorithm' | 'winogradTile'>;
  constructor(cfg: Conv2DConfig) {
    checkLayerOptions('Conv2D', cfg, [
      'filters',
      'kernelSize',
      'strides',
      'padding',
      'dilationRate',
      'groups',
      'activation',
      'useBias',
      'kernelInitializer',
      'biasInitializer',
      'algorithm',
      'winogradTile',
    ]);
    super(cfg);
    const what = 'Conv2D';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    this.cfg = {
      filters: posInt(cfg.filters, what, 'filters'),
      ...windowOptions(cfg, what),
      groups: posInt(cfg.groups ?? 1, what, 'groups'),
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      kernelInitializer: cfg.kernelInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
      algorithm: cfg.algorithm === undefined ? undefined : expectConvAlgorithm(cfg.algorithm, what),
      winogradTile: cfg.winogradTile === undefined ? undefined : expectWinogradTile(cfg.winogradTile, what),
    };
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
    // A plain convolution leaves dilationRate, groups and the algorithm out, so it saves the bytes it
    // always did (JSON drops the undefined algorithm and winogradTile).
    const { dilationRate, groups, ...rest } = this.cfg;
    const d = dilationRate as [number, number];
    return {
      ...rest,
      ...(d[0] !== 1 || d[1] !== 1 ? { dilationRate } : {}),
      ...(groups !== 1 ? { groups } : {}),
      name: this.name,
      inputShape: this.inputShape ?? undefined,
    };
  }
}

/** Options of {@link DepthwiseConv2D}. */
export interface DepthwiseConv2DConfig {
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
  inputShape?: number[];
  name?: string;
}

/** Depthwise 2-D convolution, as keras.layers.DepthwiseConv2D; weight `depthwise_kernel` (KH, KW, C, M). */
export class DepthwiseConv2D extends Layer {
  static readonly className = 'DepthwiseConv2D';
  readonly cfg: Required<Omit<DepthwiseConv2DConfig, 'inputShape' | 'name'>>;
  constructor(cfg: DepthwiseConv2DConfig) {
    checkLayerOptions('DepthwiseConv2D', cfg, [
      'kernelSize',
      'strides',
      'padding',
      'depthMultiplier',
      'dilationRate',
      'activation',
      'useBias',
      'depthwiseInitializer',
      'biasInitializer',
    ]);
    super(cfg);
    const what = 'DepthwiseConv2D';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    this.cfg = {
      ...windowOptions(cfg, what),
      depthMultiplier: posInt(cfg.depthMultiplier ?? 1, what, 'depthMultiplier'),
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      depthwiseInitializer: cfg.depthwiseInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
    };
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
    return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link SeparableConv2D}. */
export interface SeparableConv2DConfig {
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
  inputShape?: number[];
  name?: string;
}

/**
 * Depthwise then pointwise (1x1) convolution, as keras.layers.SeparableConv2D: weights
 * `depthwise_kernel` (KH, KW, C, M), `pointwise_kernel` (1, 1, C*M, filters), `bias` (filters).
 */
export class SeparableConv2D extends Layer {
  static readonly className = 'SeparableConv2D';
  readonly cfg: Required<Omit<SeparableConv2DConfig, 'inputShape' | 'name'>>;
  constructor(cfg: SeparableConv2DConfig) {
    checkLayerOptions('SeparableConv2D', cfg, [
      'filters',
      'kernelSize',
      'strides',
      'padding',
      'dilationRate',
      'depthMultiplier',
      'activation',
      'useBias',
      'depthwiseInitializer',
      'pointwiseInitializer',
      'biasInitializer',
    ]);
    super(cfg);
    const what = 'SeparableConv2D';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    this.cfg = {
      filters: posInt(cfg.filters, what, 'filters'),
      ...windowOptions(cfg, what),
      depthMultiplier: posInt(cfg.depthMultiplier ?? 1, what, 'depthMultiplier'),
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      depthwiseInitializer: cfg.depthwiseInitializer ?? 'glorotUniform',
      pointwiseInitializer: cfg.pointwiseInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
    };
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
    return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Options of {@link Conv2DTranspose}. */
export interface Conv2DTransposeConfig {
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
  inputShape?: number[];
  name?: string;
}

/** Transposed convolution, as keras.layers.Conv2DTranspose; kernel (KH, KW, filters, C). */
export class Conv2DTranspose extends Layer {
  static readonly className = 'Conv2DTranspose';
  readonly cfg: Required<Omit<Conv2DTransposeConfig, 'inputShape' | 'name'>>;
  constructor(cfg: Conv2DTransposeConfig) {
    checkLayerOptions('Conv2DTranspose', cfg, [
      'filters',
      'kernelSize',
      'strides',
      'padding',
      'outputPadding',
      'dilationRate',
      'activation',
      'useBias',
      'kernelInitializer',
      'biasInitializer',
    ]);
    super(cfg);
    const what = 'Conv2DTranspose';
    if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected a config object`);
    const op = cfg.outputPadding ?? null;
    this.cfg = {
      filters: posInt(cfg.filters, what, 'filters'),
      ...windowOptions(cfg, what),
      outputPadding: op === null ? null : Array.isArray(op) ? [op[0], op[1]] : [op, op],
      activation: checkActivation(cfg.activation, what),
      useBias: cfg.useBias ?? true,
      kernelInitializer: cfg.kernelInitializer ?? 'glorotUniform',
      biasInitializer: cfg.biasInitializer ?? 'zeros',
    };
    const opv = this.cfg.outputPadding as [number, number] | null;
    if (opv) {
      const s = this.cfg.strides as [number, number];
      opv.forEach((v, i) => {
        if (!Number.isInteger(v) || v < 0 || v >= s[i]) {
          throw new Error(
            `${what}: outputPadding [${opv}] must be non-negative integers smaller than the strides [${s}]`,
          );
        }
      });
    }
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
    return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined };
  }
}

/** Factories of the convolution layers (merged into `layers`). */
export const convolutionalLayers = {
  conv2d: (cfg: Conv2DConfig) => new Conv2D(cfg),
  depthwiseConv2d: (cfg: DepthwiseConv2DConfig) => new DepthwiseConv2D(cfg),
  separableConv2d: (cfg: SeparableConv2DConfig) => new SeparableConv2D(cfg),
  conv2dTranspose: (cfg: Conv2DTransposeConfig) => new Conv2DTranspose(cfg),
};
