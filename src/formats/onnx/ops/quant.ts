// Quantized ONNX graphs: QDQ (QuantizeLinear / DequantizeLinear around float operators, as
// onnxruntime's quantize_static writes them) and the QOperator forms QLinearConv and QLinearMatMul.
//
// Values. QuantizeLinear of a model value is a FakeQuant layer ('quantize': the integers, held as
// float32) and remembers its float source, so the DequantizeLinear after it is one FakeQuant 'qdq' of
// that source (or the source itself when it already lies on the grid); a DequantizeLinear of other
// integers is FakeQuant 'dequantize'. Both round as ONNX does (float32 x / scale, half to even, saturate).
// DequantizeLinear of constants (weights, int32 biases) folds into float constants.
//
// int8 compute. Before the node loop, prepareQuant rewrites each DequantizeLinear(x) + DequantizeLinear
// (int8 weight) -> Conv / Gemm / MatMul [-> Relu | Clip(0, 6)] -> QuantizeLinear chain into one
// QLinearConv / QLinearMatMul node (marked with the float operator, its bias and activation), when
// int8Refusal finds nothing against it. Those nodes, and the file's own QLinearConv / QLinearMatMul,
// become QuantizedConv2D / QuantizedDepthwiseConv2D / QuantizedDense layers (int32 accumulation,
// onnxruntime's float32 requantization; uint8 activations are the int8 ones shifted by 128, exactly).
// Anything else (uint8 or asymmetric weights, grouped convolutions, per-tensor-activation requirements not
// met, scales whose ratio is not a finite float32, other activations) computes in float between the
// FakeQuant layers.
import { Conv2D, DepthwiseConv2D } from '../../../nn/convolutional.js';
import type { Layer, SymbolicTensor } from '../../../nn/layer.js';
import { Dense } from '../../../nn/layers.js';
import { requantScale } from '../../../ops/quant.js';
import {
  FakeQuant,
  type QuantizedLayerConfig,
  QuantizedConv2D,
  QuantizedDense,
  QuantizedDepthwiseConv2D,
} from '../../../quant/layers.js';
import { type Const, sizeOf } from '../fold.js';
import { type Builder, DTYPE_NAMES, type Sym, type Val } from './context.js';
import { Conv } from './conv.js';
import { Gemm, MatMul } from './gemm.js';
import type { NodeContext } from './node.js';

// Attributes prepareQuant adds: the element type of each input, and on a fused node its float operator
// and activation (it drops any the file itself carries under these names).
export const TYPES = 'simdnet:input_types';
export const FUSED = 'simdnet:fused_op';
export const ACT = 'simdnet:activation';

export const UINT8 = 2,
  INT8 = 3;
type Q8 = 'int8' | 'uint8';
const RANGE: Record<Q8, [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

/** Per-tensor quantization of a model value. */
export interface QP {
  scale: number;
  zp: number;
  dtype: Q8;
}
/** A QuantizeLinear output: its float source, and whether the source already lies on the grid. */
interface QSource {
  src: Sym;
  p: QP;
  exact: boolean;
}
const SOURCES = new WeakMap<SymbolicTensor, QSource>();

const same = (a: QP, b: QP) => a.scale === b.scale && a.zp === b.zp && a.dtype === b.dtype;

/** Round half to even (ONNX QuantizeLinear). */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** ONNX QuantizeLinear of one value: float32 division, round half to even, saturate. */
const quantize1 = (x: number, s: number, zp: number, [lo, hi]: [number, number]) =>
  Math.min(hi, Math.max(lo, roundEven(Math.fround(Math.fround(x) / s)) + zp));

/** The element type of input i (from prepareQuant), 0 when unknown. */
const typeOf = (n: NodeContext, i: number) => (n.attrs.ints(TYPES) ?? [])[i] ?? 0;

function q8(n: NodeContext, dt: number, label: string): Q8 {
  if (dt === UINT8) return 'uint8';
  if (dt === INT8) return 'int8';
  return n.fail(
    dt === 0
      ? `${label} has an unknown element type; give it as an initializer (int8 or uint8)`
      : `${label} is ${DTYPE_NAMES[dt] ?? `element type ${dt}`}; only int8 and uint8 are supported`,
  );
}

/** Refuses QuantizeLinear / DequantizeLinear attributes beyond int8 / uint8 (per-axis scales: params). */
function checkAttrs(n: NodeContext): void {
  const { attrs } = n;
  for (const a of ['saturate', 'block_size', 'output_dtype'] as const) {
    if (!attrs.has(a)) continue;
    const v = attrs.int(a, 0);
    const ok = a === 'saturate' ? v === 1 : a === 'block_size' ? v === 0 : v === 0 || v === UINT8 || v === INT8;
    if (!ok) n.fail(`attribute ${a} ${v} is not supported (int8 / uint8 per-tensor or per-axis only)`);
  }
}

/** Scale and zero point inputs (si, zi) of a per-tensor quantization; dtype from the zero point (or dflt). */
function params(n: NodeContext, si: number, zi: number, dflt: Q8, label: string): QP {
  const s = n.constIn(si, `${label} scale`);
  if (s.int) n.fail(`${label} scale must be float32`);
  if (sizeOf(s.dims) !== 1)
    n.fail(
      `${label} scale has ${sizeOf(s.dims)} values (attribute axis ${n.attrs.int('axis', 1)}); per-axis quantization of a model value is not supported, only per tensor`,
    );
  const scale = Math.fround(s.data[0]);
  if (!(Number.isFinite(scale) && scale > 0)) n.fail(`${label} scale must be positive and finite, got ${s.data[0]}`);
  const z = n.optConst(zi, `${label} zero point`);
  const dtype = z ? q8(n, typeOf(n, zi), `${label} zero point`) : dflt;
  if (z && sizeOf(z.dims) !== 1) n.fail(`${label} zero point has ${sizeOf(z.dims)} values; expected one`);
  return { scale, zp: z ? z.data[0] : 0, dtype };
}

/** Q8 of QuantizeLinear's output: its zero point's type, output_dtype, or uint8 (the ONNX default). */
function outType(n: NodeContext): Q8 {
  const od = n.attrs.int('output_dtype', 0);
  return od ? q8(n, od, 'output_dtype') : 'uint8';
}

/** A FakeQuant layer on model value x (same shape and layout; a permuted feature order is made plain). */
function fake(n: NodeContext, x: Sym, p: QP, mode: 'qdq' | 'quantize' | 'dequantize', tag = ''): Sym {
  const v = n.b.plain(x, n.base);
  const layer = new FakeQuant({ scale: p.scale, zeroPoint: p.zp, dtype: p.dtype, mode });
  return n.b.sym(n.b.apply(layer, `${n.base}${tag}`, v.t), v.shape, v.layout);
}

/** The integers of QuantizeLinear (a FakeQuant 'quantize' layer), remembering their float source. */
function quantized(n: NodeContext, src: Sym, p: QP, exact: boolean): Sym {
  const q = fake(n, src, p, 'quantize');
  SOURCES.set(q.t, { src, p, exact });
  return q;
}

export function QuantizeLinear(n: NodeContext): Sym {
  checkAttrs(n);
  const x = n.sym(0);
  return quantized(n, x, params(n, 1, 2, outType(n), 'y'), false);
}

export function DequantizeLinear(n: NodeContext): Sym {
  checkAttrs(n);
  const x = n.sym(0);
  const p = params(n, 1, 2, typeOf(n, 0) === INT8 ? 'int8' : 'uint8', 'x');
  return floatOf(n, x, p);
}

/** The float value of integers q quantized with p: their source when it quantizes the same way. */
function floatOf(n: NodeContext, q: Sym, p: QP): Sym {
  const info = SOURCES.get(q.t);
  if (info && same(info.p, p)) return info.exact ? info.src : fake(n, info.src, p, 'qdq');
  return fake(n, q, p, 'dequantize');
}

/** Channel of element i of a tensor of `dims` along `axis` (null: per tensor). */
function channelOf(dims: number[], axis: number | null): (i: number) => number {
  if (axis === null) return () => 0;
  const inner = sizeOf(dims.slice(axis + 1)),
    C = dims[axis];
  return (i) => Math.floor(i / inner) % C;
}

/** The axis attribute of a per-axis quantization of `dims` (default 1), checked. */
function quantAxis(n: NodeContext, dims: number[], count: number): number | null {
  if (count === 1) return null;
  const a0 = n.attrs.int('axis', 1);
  const a = a0 < 0 ? a0 + dims.length : a0;
  if (!(a >= 0 && a < dims.length) || dims[a] !== count)
    n.fail(`attribute axis ${a0} does not match ${count} scales for a tensor of shape [${dims}]`);
  return a;
}

/** Folds QuantizeLinear of a constant (per tensor or per axis). */
export function foldQuantizeLinear(n: NodeContext): Const {
  checkAttrs(n);
  const x = n.need(0),
    s = n.need(1),
    z = n.ins[2] ? n.need(2) : null;
  const dtype = z ? q8(n, typeOf(n, 2), 'y zero point') : outType(n);
  const ch = channelOf(x.dims, quantAxis(n, x.dims, sizeOf(s.dims)));
  n.claim(x.dims);
  const out = x.data.map((v, i) => quantize1(v, Math.fround(s.data[ch(i)]), z ? z.data[ch(i)] : 0, RANGE[dtype]));
  return { dims: [...x.dims], data: out, int: true };
}

/** Folds DequantizeLinear of constant integers (weights, int32 biases): float32 (x - zp) * scale. */
export function foldDequantizeLinear(n: NodeContext): Const {
  checkAttrs(n);
  const x = n.need(0),
    s = n.need(1),
    z = n.ins[2] ? n.need(2) : null;
  if (!x.int) n.fail('x must be an integer tensor');
  if (z && sizeOf(z.dims) !== sizeOf(s.dims))
    n.fail(`zero point has ${sizeOf(z.dims)} values, scale ${sizeOf(s.dims)}`);
  const ch = channelOf(x.dims, quantAxis(n, x.dims, sizeOf(s.dims)));
  n.claim(x.dims);
  const out = x.data.map((v, i) => Math.fround((v - (z ? z.data[ch(i)] : 0)) * Math.fround(s.data[ch(i)])));
  return { dims: [...x.dims], data: out, int: false };
}

// ---------------------------------------------------------------------------------------------
// int8 layers

/** What decides the int8 path, read from the file alike by prepareQuant and the QLinear converters. */
export interface Int8Case {
  /** The float operator. */
  op: 'Conv' | 'Gemm' | 'MatMul';
  group: number;
  wDims: number[];
  wType: number;
  /** Per output channel or one. */
  wScale: ArrayLike<number>;
  wZero: ArrayLike<number>;
  /** Output-channel axis of the weights. */
  axis: number;
  x: QP;
  y: QP;
  act: string;
  alpha: number;
}

/** Why the case cannot compute in int8 with the same meaning, or null when it can. */
export function int8Refusal(c: Int8Case): string | null {
  if (c.wType !== INT8) return `weights are ${DTYPE_NAMES[c.wType] ?? 'of an unknown type'}, not int8`;
  if (Array.from(c.wZero).some((z) => z !== 0)) return 'weight zero points are not 0 (asymmetric weights)';
  const K = c.wDims[c.axis];
  if (c.wScale.length !== 1 && c.wScale.length !== K) return `weight scales are not per tensor or per output channel`;
  if (c.op === 'Conv') {
    if (c.wDims.length !== 4) return 'the convolution is not 2-d';
    const depthwise = c.group > 1 && c.wDims[1] === 1 && c.group === c.wDims[0];
    if (c.group !== 1 && !depthwise) return `group ${c.group} is neither 1 nor depthwise with multiplier 1`;
  } else if (c.wDims.length !== 2) return 'the weights are not a 2-d matrix';
  if (c.alpha !== 1) return `alpha ${c.alpha} is not 1`;
  if (c.act !== 'linear' && c.act !== 'relu' && c.act !== 'relu6') return `activation ${c.act} is not fused`;
  for (let k = 0; k < c.wScale.length; k++) {
    const ws = Math.fround(c.wScale[k]);
    if (!(ws > 0)) return `weight scale ${c.wScale[k]} is not positive`;
    try {
      requantScale(c.x.scale, ws, c.y.scale);
    } catch {
      return `x_scale * w_scale / y_scale = ${(c.x.scale * ws) / c.y.scale} is not a positive finite float32`;
    }
  }
  return null;
}

/** A node context over other inputs and another builder (the float converters run on it). */
function subContext(n: NodeContext, b: Builder, ins: Array<Val | undefined>): NodeContext {
  const constIn = (i: number, label: string): Const => {
    const v = ins[i];
    if (!v || v.kind !== 'const') return n.fail(`${label} must be a constant`);
    return v.c;
  };
  return {
    ...n,
    b,
    ins,
    sym: (i) => {
      const v = ins[i];
      return v?.kind === 'sym' ? v : n.fail(`input ${i} must be a model value`);
    },
    constIn,
    optConst: (i, label) => (ins[i] ? constIn(i, label) : null),
    need: (i) => constIn(i, `input ${i}`),
    floatConst: constIn,
  };
}

/** The quantized layer standing for float layer `l` (null when l is not the op's main layer). */
function quantizedFor(l: Layer, c: Int8Case, weights: Float32Array[]): [Layer, Float32Array[]] | null {
  let K: number;
  if (l instanceof Conv2D && l.cfg.groups === 1) K = l.cfg.filters;
  else if (l instanceof DepthwiseConv2D && l.cfg.depthMultiplier === 1) K = c.wDims[0];
  else if (l instanceof Dense) K = l.cfg.units;
  else return null;
  const { name: _n, inputShape: _s, ...layer } = l.getConfig() as Record<string, unknown>;
  const ws = Array.from(c.wScale, (s) => Math.fround(s));
  const [w, ...rest] = weights;
  const kq = w.map((v, i) => Math.round(v / ws[ws.length > 1 ? i % K : 0]));
  const zp8 = (p: QP) => (p.dtype === 'uint8' ? p.zp - 128 : p.zp);
  const cfg: QuantizedLayerConfig = {
    layer: { ...layer, activation: c.act },
    activations: 'int8',
    kernelScale: ws,
    inputScale: c.x.scale,
    inputZeroPoint: zp8(c.x),
    outputScale: c.y.scale,
    outputZeroPoint: zp8(c.y),
  };
  const q =
    l instanceof Conv2D
      ? new QuantizedConv2D(cfg)
      : l instanceof DepthwiseConv2D
        ? new QuantizedDepthwiseConv2D(cfg)
        : new QuantizedDense(cfg);
  return [q, [kq, ...rest]];
}

/** Runs the float converter of c.op on n's inputs; with `int8`, its main layer becomes the quantized one. */
function runFloat(n: NodeContext, c: Int8Case, ins: Array<Val | undefined>, int8: boolean): Sym {
  let swapped = 0;
  const b = n.b;
  const qb: Builder = Object.create(b);
  qb.apply = (layer, base, xs, weights) => {
    const q = int8 && weights ? quantizedFor(layer, c, weights) : null;
    if (!q) return b.apply(layer, base, xs, weights);
    swapped++;
    return b.apply(q[0], base, xs, q[1]);
  };
  const sub = subContext(n, int8 ? qb : b, ins);
  const y = (c.op === 'Conv' ? Conv(sub) : c.op === 'Gemm' ? Gemm(sub) : MatMul(sub)) as Sym;
  if (int8 && swapped !== 1) n.fail(`internal: the int8 form of ${c.op} made ${swapped} quantized layers`);
  return y;
}

/** The per-output-channel (or single) values of const input i, as float32. */
function values(n: NodeContext, i: number, label: string): Float64Array {
  return n.constIn(i, label).data;
}

/**
 * QLinearConv and QLinearMatMul (and the chains prepareQuant fused into them): a quantized layer when
 * int8Refusal allows, else the float operator on dequantized inputs. Either way the result is the
 * integers of y (FakeQuant 'quantize'), remembered with their float source for the next DequantizeLinear.
 */
function qlinear(n: NodeContext): Sym {
  const { attrs } = n;
  const fused = attrs.str(FUSED, '');
  const op = (fused || (n.op === 'QLinearConv' ? 'Conv' : 'MatMul')) as Int8Case['op'];
  const xq = n.sym(0);
  const x = params(n, 1, 2, typeOf(n, 0) === INT8 ? 'int8' : 'uint8', 'x');
  const w = n.constIn(3, 'w');
  if (!w.int) n.fail('w must be an integer tensor');
  const y = params(n, 6, 7, 'uint8', 'y');
  const ws = values(n, 4, 'w scale');
  const wz = n.ins[5] ? values(n, 5, 'w zero point') : new Float64Array(1);
  const transB = op === 'Gemm' && attrs.flag('transB', false);
  const axis = op === 'Conv' || transB ? 0 : w.dims.length - 1;
  const c: Int8Case = {
    op,
    group: attrs.int('group', 1),
    wDims: w.dims,
    wType: typeOf(n, 3),
    wScale: ws,
    wZero: wz,
    axis,
    x,
    y,
    act: attrs.str(ACT, 'linear'),
    alpha: op === 'Gemm' ? attrs.float('alpha', 1) : 1,
  };
  if (ws.length !== 1 && ws.length !== w.dims[axis])
    n.fail(`w scale has ${ws.length} values for ${w.dims[axis]} output channels`);
  const ch = channelOf(w.dims, ws.length > 1 ? axis : null);
  const wf = w.data.map((v, i) => Math.fround((v - wz[wz.length > 1 ? ch(i) : 0]) * Math.fround(ws[ch(i)])));
  let bias: Const | undefined;
  if (n.ins[8] && fused) bias = n.constIn(8, 'bias');
  else if (n.ins[8]) {
    // QLinearConv's int32 bias is at scale x_scale * w_scale[k].
    const bq = n.constIn(8, 'B');
    if (sizeOf(bq.dims) !== w.dims[0]) n.fail(`B has ${sizeOf(bq.dims)} values for ${w.dims[0]} output channels`);
    bias = {
      dims: bq.dims,
      data: bq.data.map((v, k) => Math.fround(v * x.scale * Math.fround(ws[ws.length > 1 ? k : 0]))),
      int: false,
    };
  }
  const why = int8Refusal(c);
  if (fused && why) n.fail(`internal: a fused ${op} cannot compute in int8 (${why})`);
  const xf = why ? floatOf(n, xq, x) : int8Input(n, xq, x);
  const ins: Array<Val | undefined> = [xf, { kind: 'const', c: { dims: w.dims, data: wf, int: false } }];
  if (bias) ins.push({ kind: 'const', c: bias });
  const yf = runFloat(n, c, ins, why === null);
  return quantized(n, yf, y, why === null);
}

/** The float input of a quantized layer: values the layer quantizes back to exactly the integers xq. */
function int8Input(n: NodeContext, xq: Sym, p: QP): Sym {
  const info = SOURCES.get(xq.t);
  // Same scale and zero point: the layer quantizes the source as QuantizeLinear did (int8 = uint8 - 128).
  if (
    info &&
    info.p.scale === p.scale &&
    info.p.zp - (info.p.dtype === 'uint8' ? 128 : 0) === p.zp - (p.dtype === 'uint8' ? 128 : 0)
  )
    return info.src;
  return fake(n, xq, p, 'dequantize', '_dequantize');
}

export const QLinearConv = qlinear;
export const QLinearMatMul = qlinear;
