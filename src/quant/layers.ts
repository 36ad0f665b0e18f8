// Post-training quantized layers: Conv2D, DepthwiseConv2D and Dense with int8 weights (symmetric per
// output channel). activations 'int8': the input is quantized with the calibrated per-tensor scale and
// zero point, the int8 op computes (int32 accumulation, onnxruntime's float32 requantization, relu/relu6
// as clamps) and the int8 output is dequantized, so neighbouring layers stay float32 (quantize/dequantize around
// each layer, as an ONNX QDQ graph). A quantized layer whose input is the float output of another one,
// quantized with the same scale and zero point, takes that layer's int8 output instead of quantizing
// again: the same integers (see sameInt8), without the pass. Conv2D and Dense keep their weight packed
// for the int8 GEMM (qpack) with the kernel. activations 'float32': weight-only, the kernel dequantized once
// and the float op computes. The int8 kernel values are non-trainable state (`kernel_q`, integers held
// as float32) with the bias (`bias`), so a quantized model saves and loads as itself; the scales are config.
import { checkLayerOptions, int, layerConfig, num, oneOf, readOptions } from '../nn/options.js';
import { type CallArgs, Layer, applyActivation, type ActivationName } from '../nn/layer.js';
import { Conv2D, DepthwiseConv2D } from '../nn/convolutional.js';
import { Dense } from '../nn/layers.js';
import { conv2d } from '../ops/conv2d.js';
import { depthwiseConv2d } from '../ops/dwconv2d.js';
import { dense } from '../ops/dense.js';
import { dequantize, qdepthwiseConv2d, type QOutputOptions, type QTensor, qtensor, quantize } from '../ops/quant.js';
import { type QPacked, qconv2d, qdense, qpack } from '../ops/qgemm.js';
import { keep, type Tensor, tensor, uninitialized } from '../tensor.js';
import type { Rng } from '../rng.js';
import { show } from '../show.js';

/** Options of the quantized layers, as `quantizeModel` (src/quant/quantize.ts) writes them. */
export interface QuantizedLayerConfig {
  /** The float layer's config (its getConfig, without name and inputShape). */
  layer: Record<string, unknown>;
  /** 'int8': int8 compute; 'float32': int8 weights, float compute. */
  activations: 'int8' | 'float32';
  /** Per-output-channel scales of the int8 kernel. */
  kernelScale: number[];
  /** Calibrated input quantization (activations 'int8'). */
  inputScale?: number;
  inputZeroPoint?: number;
  /** Calibrated output quantization (activations 'int8'), of the pre-activation values unless relu/relu6. */
  outputScale?: number;
  outputZeroPoint?: number;
  inputShape?: number[];
  name?: string;
}

type Float = Conv2D | DepthwiseConv2D | Dense;
const FUSED = new Set<ActivationName>(['linear', 'relu', 'relu6']);

type Explicit = [[number, number], [number, number]];
/** @internal Per-tensor int8 quantization: a float32 scale and a zero point. */
export interface Int8Params {
  scale: number;
  zeroPoint: number;
}

// The int8 output behind a quantized layer's float output (its dequantization), while both live.
const INT8 = new WeakMap<Tensor, QTensor>();
// Float outputs the inference plan had left unwritten (only int8 layers sharing the int8 values read them).
const UNWRITTEN = new WeakSet<Tensor>();
// Scales whose quantize(dequantize(q)) = q argument holds (see sameInt8).
const shareable = (s: number) => s >= 2 ** -100 && s <= 2 ** 100;

/** @internal The live int8 values behind a float tensor an int8 layer or an int8 pooling made, or null. */
export function int8Behind(x: Tensor): QTensor | null {
  const q = INT8.get(x);
  return q && !q.isDisposed && !x.isDisposed ? q : null;
}

/**
 * @internal The float tensor standing for the int8 values q: their dequantization, or, when `floatOut` is
 * false (the inference plan knows only int8 readers follow), memory left unwritten.
 */
export function floatOf(q: QTensor, floatOut: boolean): Tensor {
  const y = floatOut ? dequantize(q) : uninitialized([...q.shape]);
  INT8.set(y, q);
  if (!floatOut && y.size > 0) UNWRITTEN.add(y);
  return y;
}

/**
 * The int8 values behind x when quantizing x with (scale, zeroPoint) would give exactly them: x is
 * dequantize(q) with the same parameters. Then quantize(dequantize(q)) = q: for n = q - zp (|n| <= 255)
 * and a scale s in the normal float32 range, fl(fl(n*s)/s) = n*(1+d1)*(1+d2) with |d1|,|d2| <= 2^-24,
 * within 255 * 2^-23 < 1/2 of n, so round-half-even returns n, and the clamp keeps it.
 */
function sameInt8(x: Tensor, scale: number, zeroPoint: number): QTensor | null {
  const q = INT8.get(x);
  if (!q || q.isDisposed || x.isDisposed || q.dtype !== 'int8' || q.perChannel) return null;
  const s = Math.fround(scale);
  if (q.scale[0] !== s || q.zeroPoint[0] !== zeroPoint || !shareable(s)) return null;
  return q;
}

/** @internal The shared body of the quantized layers; `inner` is the float layer (never built) for shapes and options. */
export abstract class QuantizedLayer extends Layer {
  readonly cfg: QuantizedLayerConfig;
  /** @internal State that holds int8 integers: the model file stores it as int8 bytes (nn/artifacts.ts). */
  readonly int8State: readonly string[] = ['kernel_q'];
  /** @internal The float layer of the config (never built): shapes and option checks. */
  protected readonly inner: Float;
  // int8 kernel (or its float32 dequantization) made from the state on first use; remade when the state changes
  private cache: { src: Tensor; views: number; q: QTensor; f: Tensor | null } | null = null;
  // the kernel packed for the int8 GEMM with the bias (Conv2D, Dense), remade with the cache or a new bias
  private packed: { bias: Tensor | null; views: number; p: QPacked } | null = null;
  // the int8 output of the last call (its float copy may feed a quantized layer); freed by the next call
  private lastOut: QTensor | null = null;
  /** @internal Whether the last int8 call took its input's int8 values from the quantized layer before it. */
  sharedInput = false;

  constructor(cfg: QuantizedLayerConfig, what: string, make: (c: Record<string, unknown>) => Float) {
    checkLayerOptions(what, cfg, [
      'layer',
      'activations',
      'kernelScale',
      'inputScale',
      'inputZeroPoint',
      'outputScale',
      'outputZeroPoint',
    ]);
    super(cfg);
    if (!cfg || typeof cfg !== 'object' || !cfg.layer || typeof cfg.layer !== 'object')
      throw new Error(`${what}: expected a config object with the float layer's config as 'layer'`);
    if (cfg.activations !== 'int8' && cfg.activations !== 'float32')
      throw new Error(`${what}: activations must be 'int8' or 'float32', got ${show(cfg.activations)}`);
    if (!Array.isArray(cfg.kernelScale) || cfg.kernelScale.some((s) => !(typeof s === 'number' && s > 0)))
      throw new Error(`${what}: kernelScale must be an array of positive numbers, got ${show(cfg.kernelScale)}`);
    if (cfg.activations === 'int8') {
      for (const k of ['inputScale', 'outputScale'] as const)
        if (!(typeof cfg[k] === 'number' && (cfg[k] as number) > 0))
          throw new Error(`${what}: ${k} must be a positive number with activations 'int8', got ${show(cfg[k])}`);
    }
    this.inner = make({ ...cfg.layer, name: cfg.name });
    this.cfg = { ...cfg, layer: { ...cfg.layer } };
  }
  get activation(): ActivationName {
    return this.inner.activation;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return this.inner.computeOutputShape(s);
  }
  stateShapes(s: readonly number[]): Array<[string, number[]]> {
    const [kernel, bias] = this.inner.weightShapes(s);
    const out: Array<[string, number[]]> = [['kernel_q', kernel![1]]];
    if (bias) out.push(['bias', bias[1]]);
    return out;
  }
  protected buildWeights(s: readonly number[], _rng: Rng): void {
    const shapes = this.stateShapes(s);
    const K = shapes[0]![1].at(-1)! * (this.inner instanceof DepthwiseConv2D ? shapes[0]![1][2]! : 1);
    if (this.cfg.kernelScale.length !== K && this.cfg.kernelScale.length !== 1)
      throw new Error(`${this.name}: kernelScale has ${this.cfg.kernelScale.length} scales for ${K} output channels`);
    for (const [suffix, shape] of shapes)
      this.addState(suffix, tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape));
  }
  /** @internal The int8 kernel and (weight-only) its float32 values, from the state. */
  protected kernel(): { q: QTensor; f: Tensor | null } {
    const src = this.stateWeights[0]!.value;
    if (this.cache && this.cache.src === src && this.cache.views === src.viewCount) return this.cache;
    this.dropCache();
    const v = src.dataSync();
    const q = qtensor(v, src.shape, { scale: this.cfg.kernelScale });
    keep(q.data);
    const f = this.cfg.activations === 'float32' ? keep(dequantize(q)) : null;
    this.cache = { src, views: src.viewCount, q, f };
    return this.cache;
  }
  private dropCache(): void {
    this.cache?.q.dispose();
    this.cache?.f?.dispose();
    this.cache = null;
    this.packed?.p.dispose();
    this.packed = null;
  }
  /** @internal The output options of the int8 op. */
  private outputOptions(bias: Tensor | null): QOutputOptions {
    const act = this.activation;
    return {
      bias,
      activation: FUSED.has(act) ? (act as 'linear' | 'relu' | 'relu6') : 'linear',
      outScale: this.cfg.outputScale!,
      outZeroPoint: this.cfg.outputZeroPoint ?? 0,
      name: this.name,
    };
  }
  // The kernel packed for the GEMM (null for the depthwise op, which reads the kernel as it is).
  private packedKernel(q: QTensor, bias: Tensor | null): QPacked | null {
    if (this.inner instanceof DepthwiseConv2D) return null;
    const views = bias ? bias.viewCount : 0;
    if (this.packed && this.packed.p.weight === q && this.packed.bias === bias && this.packed.views === views)
      return this.packed.p;
    this.packed?.p.dispose();
    const x = { scale: this.cfg.inputScale!, zeroPoint: this.cfg.inputZeroPoint ?? 0 };
    const p = qpack(q, x, this.outputOptions(bias));
    keep(p.panels);
    keep(p.req);
    this.packed = { bias, views, p };
    return p;
  }
  /** @internal */
  protected abstract floatCall(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | null,
    act: 'linear' | 'relu',
    padding: Explicit | null,
  ): Tensor;
  /** @internal */
  protected abstract int8Call(
    x: QTensor,
    kernel: QTensor,
    opts: QOutputOptions & { packed?: QPacked | null },
    padding: Explicit | null,
  ): QTensor;
  /**
   * @internal The convolution's window options (null for Dense): what the inference plan reads to
   * take a ZeroPadding2D before a 'valid' convolution as its own padding.
   */
  window(): { kernelSize: [number, number]; dilationRate: [number, number]; padding: 'valid' | 'same' } | null {
    const l = this.inner;
    if (l instanceof Dense) return null;
    const c = l.cfg;
    return {
      kernelSize: c.kernelSize as [number, number],
      dilationRate: c.dilationRate as [number, number],
      padding: c.padding,
    };
  }

  /**
   * @internal The int8 quantization of the input and of the output when the layer computes in int8 (the
   * output's null unless its activation is fused, i.e. the int8 output is the layer's result).
   */
  int8Params(): { input: Int8Params; output: Int8Params | null } | null {
    const c = this.cfg;
    if (c.activations !== 'int8' || !shareable(Math.fround(c.inputScale!))) return null;
    return {
      input: { scale: Math.fround(c.inputScale!), zeroPoint: c.inputZeroPoint ?? 0 },
      output: FUSED.has(this.activation)
        ? { scale: Math.fround(c.outputScale!), zeroPoint: c.outputZeroPoint ?? 0 }
        : null,
    };
  }

  call(x: Tensor, args: CallArgs): Tensor {
    return this.run(x, args, null, true);
  }
  /**
   * @internal The inference plan's call: explicit padding [[top, bottom], [left, right]] instead of the
   * layer's (or null), and, when `floatOut` is false, an output whose float values are never written:
   * only for an output that int8 layers taking these very int8 values (same scale and zero point) read.
   */
  callPlanned(x: Tensor, padding: Explicit | null, floatOut: boolean, args: CallArgs): Tensor {
    return this.run(x, args, padding, floatOut);
  }
  private run(x: Tensor, args: CallArgs, padding: Explicit | null, floatOut: boolean): Tensor {
    if (args.training)
      throw new Error(
        `${this.name || this.className}: a quantized layer computes inference only (no gradients); train the float model and quantize it again`,
      );
    const act = this.activation;
    const bias = this.stateWeights[1]?.value ?? null;
    const { q, f } = this.kernel();
    if (f) {
      const y = this.floatCall(x, f, bias, act === 'relu' ? 'relu' : 'linear', padding);
      return act === 'relu' ? y : this.after(y, act, args);
    }
    const inScale = this.cfg.inputScale!,
      inZero = this.cfg.inputZeroPoint ?? 0;
    const shared = sameInt8(x, inScale, inZero);
    if (!shared && UNWRITTEN.has(x))
      throw new Error(
        `${this.name}: internal error: the inference plan gave an unwritten input that is not its int8 input`,
      );
    this.sharedInput = shared !== null;
    const qx = shared ?? quantize(x, { scale: inScale, zeroPoint: inZero });
    try {
      const opts = this.outputOptions(bias);
      const qy = this.int8Call(qx, q, { ...opts, packed: this.packedKernel(q, bias) }, padding);
      this.lastOut?.dispose();
      this.lastOut = null;
      if (!FUSED.has(act)) {
        const y = dequantize(qy);
        qy.dispose();
        return this.after(y, act, args);
      }
      this.lastOut = qy;
      return floatOf(qy, floatOut);
    } finally {
      if (!shared) qx.dispose();
    }
  }
  // A non-fused activation after the op (its input is disposed).
  private after(y: Tensor, act: ActivationName, args: CallArgs): Tensor {
    const z = applyActivation(y, act, args);
    if (z !== y) y.dispose();
    return z;
  }
  getConfig(): Record<string, unknown> {
    return { ...this.cfg, name: this.name, inputShape: this.inputShape ?? undefined };
  }
  dispose(): void {
    this.dropCache();
    this.lastOut?.dispose();
    this.lastOut = null;
    super.dispose();
  }
}

function windowOf(l: Conv2D | DepthwiseConv2D, padding: Explicit | null) {
  return { strides: l.cfg.strides, padding: padding ?? l.cfg.padding, dilationRate: l.cfg.dilationRate };
}

/** Conv2D with int8 weights (groups 1); see {@link QuantizedLayerConfig}. */
export class QuantizedConv2D extends QuantizedLayer {
  static readonly className = 'QuantizedConv2D';
  constructor(cfg: QuantizedLayerConfig) {
    super(cfg, 'QuantizedConv2D', (c) => new Conv2D(c as never));
    if ((this.inner as Conv2D).cfg.groups !== 1)
      throw new Error(`QuantizedConv2D: groups must be 1, got ${(this.inner as Conv2D).cfg.groups}`);
  }
  /** @internal */
  protected floatCall(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | null,
    activation: 'linear' | 'relu',
    padding: Explicit | null,
  ): Tensor {
    return conv2d(x, kernel, { ...windowOf(this.inner as Conv2D, padding), bias, activation, name: this.name });
  }
  /** @internal */
  protected int8Call(
    x: QTensor,
    kernel: QTensor,
    opts: QOutputOptions & { packed?: QPacked | null },
    padding: Explicit | null,
  ): QTensor {
    return qconv2d(x, kernel, { ...windowOf(this.inner as Conv2D, padding), ...opts });
  }
}

/** DepthwiseConv2D with int8 weights (depth multiplier 1); see {@link QuantizedLayerConfig}. */
export class QuantizedDepthwiseConv2D extends QuantizedLayer {
  static readonly className = 'QuantizedDepthwiseConv2D';
  constructor(cfg: QuantizedLayerConfig) {
    super(cfg, 'QuantizedDepthwiseConv2D', (c) => new DepthwiseConv2D(c as never));
    const M = (this.inner as DepthwiseConv2D).cfg.depthMultiplier;
    if (M !== 1) throw new Error(`QuantizedDepthwiseConv2D: depthMultiplier must be 1, got ${M}`);
  }
  /** @internal */
  protected floatCall(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | null,
    activation: 'linear' | 'relu',
    padding: Explicit | null,
  ): Tensor {
    return depthwiseConv2d(x, kernel, {
      ...windowOf(this.inner as DepthwiseConv2D, padding),
      bias,
      activation,
      name: this.name,
    });
  }
  /** @internal */
  protected int8Call(x: QTensor, kernel: QTensor, opts: QOutputOptions, padding: Explicit | null): QTensor {
    const { packed: _p, ...rest } = opts as QOutputOptions & { packed?: unknown };
    return qdepthwiseConv2d(x, kernel, { ...windowOf(this.inner as DepthwiseConv2D, padding), ...rest });
  }
}

/** Dense with int8 weights; see {@link QuantizedLayerConfig}. */
export class QuantizedDense extends QuantizedLayer {
  static readonly className = 'QuantizedDense';
  constructor(cfg: QuantizedLayerConfig) {
    super(cfg, 'QuantizedDense', (c) => new Dense(c as never));
  }
  /** @internal */
  protected floatCall(x: Tensor, kernel: Tensor, bias: Tensor | null, activation: 'linear' | 'relu'): Tensor {
    return dense(x, kernel, { bias, activation, name: this.name });
  }
  /** @internal */
  protected int8Call(x: QTensor, kernel: QTensor, opts: QOutputOptions & { packed?: QPacked | null }): QTensor {
    return qdense(x, kernel, opts);
  }
}

/** Options of {@link FakeQuant}. */
export interface FakeQuantConfig {
  /** Quantization step (a positive float32); default 1. */
  scale?: number;
  /** Zero point, an integer in the dtype's range; default 0. */
  zeroPoint?: number;
  /** Integer type of the quantized values; default 'int8'. */
  dtype?: 'int8' | 'uint8';
  /**
   * 'qdq' (default): float -> float, x rounded onto the quantization grid (QuantizeLinear then
   * DequantizeLinear); 'quantize': float -> the integers (held as float32), ONNX QuantizeLinear;
   * 'dequantize': those integers -> float, ONNX DequantizeLinear.
   */
  mode?: 'qdq' | 'quantize' | 'dequantize';
  inputShape?: number[];
  name?: string;
}

/**
 * Per-tensor quantization of a float activation with ONNX's exact rounding (x / scale in float32,
 * round half to even, saturate to the dtype's range): what an imported QDQ graph runs on activations
 * outside the int8 layers. Inference only; no weights.
 */
export class FakeQuant extends Layer {
  static readonly className = 'FakeQuant';
  static readonly options = {
    scale: num('a positive finite float32', (s) => Number.isFinite(s) && Math.fround(s) > 0, 1),
    zeroPoint: int(0),
    dtype: oneOf(['int8', 'uint8'] as const, 'int8'),
    mode: oneOf(['qdq', 'quantize', 'dequantize'] as const, 'qdq'),
  };
  readonly scale: number;
  readonly zeroPoint: number;
  readonly dtype: 'int8' | 'uint8';
  readonly mode: 'qdq' | 'quantize' | 'dequantize';
  constructor(cfg: FakeQuantConfig = {}) {
    super(cfg ?? {});
    const c = readOptions(FakeQuant.options, cfg, 'FakeQuant');
    const [lo, hi] = c.dtype === 'int8' ? [-128, 127] : [0, 255];
    if (c.zeroPoint < lo || c.zeroPoint > hi)
      throw new Error(`FakeQuant: zeroPoint must be an integer in [${lo}, ${hi}] for ${c.dtype}, got ${c.zeroPoint}`);
    this.scale = c.scale;
    this.zeroPoint = c.zeroPoint;
    this.dtype = c.dtype;
    this.mode = c.mode;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor, args: CallArgs): Tensor {
    if (args.training)
      throw new Error(`${this.name || 'FakeQuant'}: quantization computes inference only (rounding has no gradient)`);
    const p = { scale: this.scale, zeroPoint: this.zeroPoint, dtype: this.dtype };
    if (this.mode === 'dequantize') {
      // (q - zp) * scale of integer q is one correctly rounded float32 product, as DequantizeLinear.
      const v = x.dataSync();
      const s = Math.fround(this.scale);
      return tensor(
        Float32Array.from(v, (q) => Math.fround((q - this.zeroPoint) * s)),
        [...x.shape],
      );
    }
    const q = quantize(x, p);
    try {
      return this.mode === 'qdq' ? dequantize(q) : tensor(Float32Array.from(q.values()), [...x.shape]);
    } finally {
      q.dispose();
    }
  }
  getConfig() {
    return layerConfig(this, FakeQuant.options);
  }
}
