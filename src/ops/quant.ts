// 8-bit quantized tensors and the int8 ops over assembly/kernels/quant.ts and qdwconv2d.ts: quantize /
// dequantize (per-tensor asymmetric int8 or uint8, per-channel symmetric int8), requantization, and
// int8 depthwise conv2d; the GEMM-based int8 conv2d and dense are in ./qgemm.ts, which builds on this
// file. real = scale * (q - zeroPoint). No gradients: inference only.
// Convolutions and dense take int8 activations (per tensor) and int8 weights symmetric per output
// channel, accumulate in int32 (bias quantized with scale x.scale * w.scale[c]) and requantize to int8
// as onnxruntime does: float32 scale, round half to even (see assembly/kernels/quant.ts); 'relu' and
// 'relu6' are clamps of the quantized output range. Integer results are exact: the same bits in every build and thread count.
import { getArena } from '../wasm/arena.js';
import { convGeometry, type Padding } from '../geom.js';
import { show } from '../show.js';
import { Tensor, uninitialized } from '../tensor.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { imageParts } from './shards.js';
import {
  expectFinite,
  expectTensor,
  k,
  runTasks,
  SHARDS,
  shardRanges,
  taskParts,
  withGeometry,
  withScratch,
} from './util.js';

/** Element type of a {@link QTensor}. */
export type QDType = 'int8' | 'uint8';

const RANGE: Record<QDType, [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

/**
 * An 8-bit quantized tensor in wasm memory: value i is `scale[c] * (q[i] - zeroPoint[c])` with
 * c = i % scale.length. One scale is per tensor; more are per channel over the innermost axes (their
 * count is the product of a trailing run of dimensions, e.g. K of a (KH, KW, C, K) conv weight).
 */
export class QTensor {
  /** The bytes, four to a word of an int32 tensor (disposed with this one; kept by tidy like any tensor). */
  readonly data: Tensor;
  readonly shape: readonly number[];
  readonly dtype: QDType;
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  /** Number of elements. */
  readonly size: number;

  /** @internal Use {@link quantize}, {@link quantizeWeights} or {@link qtensor}. */
  constructor(shape: readonly number[], dtype: QDType, scale: Float32Array, zeroPoint: Int32Array) {
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.dtype = dtype;
    this.scale = scale;
    this.zeroPoint = zeroPoint;
    this.data = new Tensor([Math.ceil(this.size / 4)], 'int32', false);
  }

  /** Byte address of the first element. */
  get ptr(): number {
    return this.data.ptr;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Whether the scales are per channel. */
  get perChannel(): boolean {
    return this.scale.length > 1;
  }
  /** A copy of the integer values. */
  values(): Int8Array | Uint8Array {
    this.data.assertLive();
    const bytes = getArena()
      .u8()
      .slice(this.ptr, this.ptr + this.size);
    return this.dtype === 'int8' ? new Int8Array(bytes.buffer) : bytes;
  }
  dispose(): void {
    this.data.dispose();
  }
  get isDisposed(): boolean {
    return this.data.isDisposed;
  }
  toString(): string {
    return `QTensor(shape=[${this.shape}], dtype=${this.dtype}, ${this.perChannel ? `${this.scale.length} channels` : 'per tensor'})`;
  }
}

/** Quantization parameters: one scale and zero point, or one per channel. */
export interface QuantParams {
  scale: number | ArrayLike<number>;
  /** Default 0. */
  zeroPoint?: number | ArrayLike<number>;
  /** Default 'int8'. */
  dtype?: QDType;
}

/** Round half to even, as ONNX QuantizeLinear and wasm's nearest do. */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

// Checked scales and zero points of a tensor of `shape` (shared by quantize and qtensor).
function checkParams(shape: readonly number[], p: QuantParams, what: string): [Float32Array, Int32Array, QDType] {
  const dtype = p.dtype ?? 'int8';
  if (dtype !== 'int8' && dtype !== 'uint8')
    throw new Error(`${what}: dtype must be 'int8' or 'uint8', got ${show(dtype)}`);
  const list = (v: number | ArrayLike<number>) => (typeof v === 'number' ? [v] : Array.from(v));
  const scale = list(p.scale);
  const zp = list(p.zeroPoint ?? 0);
  if (zp.length === 1 && scale.length > 1) zp.push(...new Array<number>(scale.length - 1).fill(zp[0]!));
  if (zp.length !== scale.length) throw new Error(`${what}: ${scale.length} scales but ${zp.length} zero points`);
  scale.forEach((s, i) => {
    if (!(typeof s === 'number' && Number.isFinite(s) && Math.fround(s) > 0))
      throw new Error(`${what}: scale[${i}] must be a positive finite float32, got ${show(s)}`);
  });
  const [qmin, qmax] = RANGE[dtype];
  zp.forEach((z, i) => {
    if (!Number.isInteger(z) || z < qmin || z > qmax)
      throw new Error(`${what}: zeroPoint[${i}] must be an integer in [${qmin}, ${qmax}] for ${dtype}, got ${show(z)}`);
  });
  if (scale.length > 1) {
    let suffix = 1;
    const sizes = [1];
    for (let a = shape.length - 1; a >= 0; a--) sizes.push((suffix *= shape[a]!));
    if (!sizes.includes(scale.length))
      throw new Error(
        `${what}: ${scale.length} per-channel scales do not match the innermost axes of shape [${shape}] (one of ${[...new Set(sizes)].join(', ')})`,
      );
  }
  return [Float32Array.from(scale), Int32Array.from(zp), dtype];
}

// Runs fn with the scales and zero points of q in wasm memory (written whole by JavaScript: no zero fill,
// which a kernel trace would replay over them).
function withParams<T>(q: QTensor, fn: (scales: number, zps: number) => T): T {
  const n = q.scale.length;
  return withScratch(
    [n, n],
    (s, z) => {
      const a = getArena();
      a.f32().set(q.scale, s >>> 2);
      a.i32().set(q.zeroPoint, z >>> 2);
      return fn(s, z);
    },
    false,
  );
}

// Runs an elementwise kernel over n values of C channels in the SHARDS, cut at whole groups of C values
// (each value is computed on its own, so any thread count gives the same bits).
function elementwise(n: number, C: number, task: (i0: number, count: number) => Task): void {
  runTasks(
    shardRanges(n / C).map(([r0, rc]) => task(r0 * C, rc * C)),
    n,
  );
}

/** x quantized: `clamp(roundHalfEven(x / scale) + zeroPoint)` (ONNX QuantizeLinear), per tensor or per channel. */
export function quantize(x: Tensor, params: QuantParams): QTensor {
  const what = 'quantize';
  expectTensor(x, null, what, 'x');
  const [scale, zp, dtype] = checkParams(x.shape, params, what);
  expectFinite(x, what, 'x');
  const q = new QTensor(x.shape, dtype, scale, zp);
  const [qmin, qmax] = RANGE[dtype];
  const C = scale.length;
  withParams(q, (s, z) =>
    elementwise(x.size, C, (i0, n): Task => ['quantize', q.ptr + i0, x.ptr + 4 * i0, s, z, n, C, qmin, qmax]),
  );
  return q;
}

/** A quantized tensor from its integer values (checked against the dtype's range). */
export function qtensor(values: ArrayLike<number>, shape: readonly number[], params: QuantParams): QTensor {
  const what = 'qtensor()';
  const [scale, zp, dtype] = checkParams(shape, params, what);
  const [qmin, qmax] = RANGE[dtype];
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size)
    throw new Error(`${what}: ${values.length} values do not fill shape [${shape}] (${size} elements)`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < qmin || v > qmax)
      throw new Error(
        `${what}: value at index ${i} must be an integer in [${qmin}, ${qmax}] for ${dtype}, got ${show(v)}`,
      );
  }
  const q = new QTensor(shape, dtype, scale, zp);
  const bytes = getArena().u8();
  for (let i = 0; i < size; i++) bytes[q.ptr + i] = values[i]! & 255;
  return q;
}

/** The float32 values of q: `scale * (q - zeroPoint)` (ONNX DequantizeLinear). */
export function dequantize(q: QTensor): Tensor {
  expectQ(q, 'dequantize', 'q');
  const out = uninitialized([...q.shape]);
  const [C, signed] = [q.scale.length, q.dtype === 'int8' ? 1 : 0];
  withParams(q, (s, z) =>
    elementwise(q.size, C, (i0, n): Task => ['dequantize', out.ptr + 4 * i0, q.ptr + i0, s, z, n, C, signed]),
  );
  return out;
}

/**
 * Per-tensor asymmetric parameters covering [min, max] (widened to include 0, so 0 is exact):
 * scale = (max - min) / (qmax - qmin), zeroPoint = round(qmin - min / scale), as onnxruntime's calibrators.
 */
export function quantParams(
  min: number,
  max: number,
  dtype: QDType = 'int8',
): { scale: number; zeroPoint: number; dtype: QDType } {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max)
    throw new Error(`quantParams: need finite min <= max, got min ${show(min)}, max ${show(max)}`);
  const [qmin, qmax] = RANGE[dtype] ?? [];
  if (qmin === undefined) throw new Error(`quantParams: dtype must be 'int8' or 'uint8', got ${show(dtype)}`);
  const lo = Math.min(min, 0),
    hi = Math.max(max, 0);
  const scale = Math.fround(hi > lo ? (hi - lo) / (qmax - qmin!) : 1);
  const zeroPoint = Math.min(qmax!, Math.max(qmin, roundEven(qmin - lo / scale)));
  return { scale, zeroPoint, dtype };
}

/**
 * w quantized symmetric int8 per output channel (the innermost axis; `channels` to say otherwise, e.g. C of
 * a (KH, KW, C, 1) depthwise filter): scale[c] = max|w[.., c]| / 127 (1 for an all-zero channel), values in [-127, 127].
 */
export function quantizeWeights(w: Tensor, channels?: number): QTensor {
  const what = 'quantizeWeights';
  expectTensor(w, null, what, 'w');
  expectFinite(w, what, 'w');
  const C = channels ?? w.shape[w.rank - 1] ?? 1;
  const maxAbs = new Float64Array(C);
  const v = w.dataSync();
  for (let i = 0; i < v.length; i++) maxAbs[i % C] = Math.max(maxAbs[i % C]!, Math.abs(v[i]!));
  const scale = Array.from(maxAbs, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const [s, zp] = checkParams(w.shape, { scale, dtype: 'int8' }, what);
  const q = new QTensor(w.shape, 'int8', s, zp);
  withParams(q, (sp, zpp) => k().quantize(q.ptr, w.ptr, sp, zpp, w.size, C, -127, 127));
  return q;
}

function expectQ(q: unknown, what: string, name: string, rank: number | null = null): QTensor {
  if (!(q instanceof QTensor)) throw new Error(`${what}: ${name} must be a QTensor, got ${show(q)}`);
  q.data.assertLive();
  if (rank !== null && q.rank !== rank)
    throw new Error(`${what}: ${name} must have rank ${rank}, got shape [${q.shape}] (rank ${q.rank})`);
  return q;
}

/** q as int8 with the same real values: uint8 values and zero point shifted down by 128. */
export function toInt8(q: QTensor): QTensor {
  expectQ(q, 'toInt8', 'q');
  if (q.dtype === 'int8') return q;
  const out = new QTensor(
    q.shape,
    'int8',
    q.scale.slice(),
    q.zeroPoint.map((z) => z - 128),
  );
  const b = getArena().u8();
  for (let i = 0; i < q.size; i++) b[out.ptr + i] = b[q.ptr + i]! ^ 128;
  return out;
}

/** Output quantization and activation of the int8 ops. */
export interface QOutputOptions {
  /** Scale of the int8 output. */
  outScale: number;
  /** Zero point of the int8 output; default 0. */
  outZeroPoint?: number;
  /** 'relu' and 'relu6' clamp the quantized output range; default 'linear'. */
  activation?: 'linear' | 'relu' | 'relu6';
  /** float32 bias (one per output channel), quantized with scale x.scale * w.scale[c]. */
  bias?: Tensor | null;
  /** Name used in error messages. */
  name?: string;
}

/**
 * The float32 requantization scale of one output channel, as onnxruntime computes it:
 * f32(f32(xScale * wScale) / outScale). Throws unless it is positive and finite.
 */
export function requantScale(xScale: number, wScale: number, outScale: number, what = 'requantize'): number {
  const s = Math.fround(Math.fround(Math.fround(xScale) * Math.fround(wScale)) / Math.fround(outScale));
  if (!(s > 0 && s < Number.POSITIVE_INFINITY))
    throw new Error(
      `${what}: the requantization scale x.scale * w.scale / outScale must be a positive finite float32, got ${s} ` +
        `(x.scale ${xScale}, w.scale ${wScale}, outScale ${outScale})`,
    );
  return s;
}

// The output quantization of opts, checked: [scale, zero point, qmin, qmax] with the activation's clamp.
function outputRange(opts: QOutputOptions, what: string): [number, number, number, number] {
  const s = opts.outScale;
  if (!(typeof s === 'number' && Number.isFinite(s) && Math.fround(s) > 0))
    throw new Error(`${what}: outScale must be a positive finite float32, got ${show(s)}`);
  const zp = opts.outZeroPoint ?? 0;
  if (!Number.isInteger(zp) || zp < -128 || zp > 127)
    throw new Error(`${what}: outZeroPoint must be an integer in [-128, 127], got ${show(zp)}`);
  const act = opts.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu' && act !== 'relu6')
    throw new Error(`${what}: activation must be 'linear', 'relu' or 'relu6', got ${show(act)}`);
  const qmin = act === 'linear' ? -128 : Math.max(-128, zp);
  const qmax = act === 'relu6' ? Math.min(127, zp + Math.round(6 / Math.fround(s))) : 127;
  return [Math.fround(s), zp, qmin, qmax];
}

/** The requantization block (assembly/kernels/quant.ts) and int32 bias of an int8 op, computed before any allocation. */
/** @internal */
export interface Requant {
  block: Int32Array;
  bias: Int32Array | null;
}

// The Requant of an op with K output channels, input scale xs and weight w; throws on bad options.
/** @internal */
export function requantOf(xs: number, w: QTensor, K: number, opts: QOutputOptions, what: string): Requant {
  const [os, zp, qmin, qmax] = outputRange(opts, what);
  const bias = opts.bias ?? null;
  if (bias) {
    expectTensor(bias, 1, what, 'bias');
    if (bias.size !== K) throw new Error(`${what}: bias has ${bias.size} values but there are ${K} output channels`);
    expectFinite(bias, what, 'bias');
  }
  const NP = Math.ceil(K / 8) * 8;
  const block = new Int32Array(4 + 2 * NP);
  block.set([zp, qmin, qmax, 0]);
  const scales = new Float32Array(block.buffer, 16, NP);
  const bv = bias ? bias.dataSync() : null;
  const qbias = bv ? new Int32Array(K) : null;
  for (let c = 0; c < K; c++) {
    const ws = w.scale[w.scale.length > 1 ? c : 0]!;
    scales[c] = requantScale(xs, ws, os, what);
    if (bv && qbias) {
      const b = roundEven(bv[c]! / (xs * ws));
      if (!(Math.abs(b) < 2 ** 31))
        throw new Error(`${what}: bias[${c}] = ${bv[c]} does not fit int32 at scale x.scale * w.scale[${c}]`);
      qbias[c] = b;
    }
  }
  return { block, bias: qbias };
}

// Runs fn with r's block and bias (0 when none) in wasm memory (written whole: no zero fill, see withParams).
/** @internal */
export function withRequant<T>(r: Requant, fn: (req: number, bias: number) => T): T {
  const K = r.bias ? r.bias.length : 0;
  return withScratch(
    [r.block.length, K],
    (req, bp) => {
      getArena()
        .i32()
        .set(r.block, req >>> 2);
      if (r.bias)
        getArena()
          .i32()
          .set(r.bias, bp >>> 2);
      return fn(req, r.bias ? bp : 0);
    },
    false,
  );
}

// The int8 output of an op, per tensor.
/** @internal */
export function qOutput(shape: number[], opts: QOutputOptions, what: string): QTensor {
  const [scale, zp] = outputRange(opts, what);
  return new QTensor(shape, 'int8', Float32Array.of(scale), Int32Array.of(zp));
}

// x as an int8 activation (uint8 shifted), per tensor; the caller disposes it when it is not x.
/** @internal */
export function int8Input(x: QTensor, what: string, rank: number): QTensor {
  expectQ(x, what, `input x`, rank);
  if (x.perChannel) throw new Error(`${what}: input x must be quantized per tensor, got ${x.scale.length} scales`);
  return toInt8(x);
}

// w as a symmetric int8 weight with K channels (per channel or per tensor).
/** @internal */
export function int8Weight(w: QTensor, what: string, rank: number, K: number): void {
  expectQ(w, what, 'weight', rank);
  if (w.dtype !== 'int8') throw new Error(`${what}: weight must be int8, got ${w.dtype}`);
  if (w.scale.length !== 1 && w.scale.length !== K)
    throw new Error(`${what}: weight has ${w.scale.length} scales; expected 1 or one per output channel (${K})`);
  const i = w.zeroPoint.findIndex((z) => z !== 0);
  if (i >= 0) throw new Error(`${what}: weight zeroPoint[${i}] is ${w.zeroPoint[i]}; weights must be symmetric (0)`);
}

// [first image, images, first, end] per task over the M outputs (rows or pixels) of each image: shards
// of whole images or, for batches too small to fill the shards, each image cut into ranges (same bits).
/** @internal */
export function taskRanges(N: number, M: number, work: number): Array<[number, number, number, number]> {
  if (N >= SHARDS) return shardRanges(N).map(([n0, nc]) => [n0, nc, 0, M]);
  const parts = Math.min(Math.ceil(SHARDS / N), M, taskParts(work / N, SHARDS));
  return imageParts(N, M, parts).map(([n, a, b]) => [n, 1, a, b]);
}

/** Window options of the int8 convolutions. */
export interface QConvOptions extends QOutputOptions {
  /** Stride as n or [rows, cols]; default 1. */
  strides?: number | [number, number];
  /** 'valid' (default), 'same', pixels on every side, or [[top, bottom], [left, right]]. */
  padding?: Padding;
  /** Dilation as n or [rows, cols]; default 1. */
  dilationRate?: number | [number, number];
}

/** int8 depthwise convolution of x (N, H, W, C) with w (KH, KW, C, 1) (depth multiplier 1), out int8 (N, OH, OW, C). */
export function qdepthwiseConv2d(x: QTensor, w: QTensor, opts: QConvOptions): QTensor {
  const what = opts.name ?? 'qdepthwiseConv2d';
  const xi = int8Input(x, what, 4);
  try {
    const [N, H, W, C] = xi.shape as [number, number, number, number];
    expectQ(w, what, 'weight (KH, KW, C, 1)', 4);
    const [KH, KW, WC, M] = w.shape as [number, number, number, number];
    if (WC !== C)
      throw new Error(
        `${what}: input has ${C} channels but the weight expects ${WC} (weight shape [${w.shape}], input shape [${xi.shape}])`,
      );
    if (M !== 1) throw new Error(`${what}: depth multiplier must be 1, got ${M} (weight shape [${w.shape}])`);
    int8Weight(w, what, 4, C);
    const { pad, OH, OW, SH, SW, DH, DW } = convGeometry(what, H, W, KH, KW, opts);
    const za = xi.zeroPoint[0]!;
    const r = requantOf(xi.scale[0]!, w, C, opts, what);
    const out = qOutput([N, OH, OW, C], opts, what);
    const geo: Geometry2d = { H, W, C, K: C, KH, KW, SH, SW, PT: pad.top, PL: pad.left, OH, OW, DH, DW, G: C };
    const work = N * OH * OW * C * KH * KW;
    const ranges = taskRanges(N, OH, work);
    // The kernel's per-call block: bias with the zero point folded in, weights paired for i16 dot products,
    // a row of za bytes for the taps in the padding (assembly/kernels/qdwconv2d.ts); filled whole by qdwconv2d_pack.
    withRequant(r, (req, bias) =>
      withGeometry(geo, (geom) =>
        withScratch(
          [k().qdwconv2d_pack_bytes(geom) / 4],
          (pack) => {
            k().qdwconv2d_pack(pack, w.ptr, bias, za, geom);
            runTasks(
              ranges.map(
                ([n0, nc, r0, r1]): Task => [
                  'qdwconv2d_forward',
                  out.ptr + n0 * OH * OW * C,
                  xi.ptr + n0 * H * W * C,
                  pack,
                  req,
                  geom,
                  nc,
                  r0,
                  r1,
                ],
              ),
              work,
            );
          },
          false,
        ),
      ),
    );
    return out;
  } finally {
    if (xi !== x) xi.dispose();
  }
}
