// The ONNX graph under construction, as the per-class emitters see it: the nodes and initializers
// written so far, the current value (`cur`) in its layout, and the helpers every emitter shares
// (unique names, NHWC <-> NCHW transposes made once per value, Keras activations).
import type { LayerClassName } from '../../../nn/registry.js';
import type { Layer } from '../../../nn/layer.js';
import { AttributeType, DataType } from '../onnx-schema.js';
import { show } from '../../../show.js';

export interface Attr {
  name: string;
  type: number;
  i?: number;
  f?: number;
  ints?: number[];
  s?: Uint8Array;
}
export interface NodeObj {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: Attr[];
}
export interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

/** A value of the graph: its names in the layouts made so far, the one its producer wrote, its rank. */
export interface Val {
  nhwc: string | null;
  nchw: string | null;
  primary: 'nhwc' | 'nchw';
  rank: number;
}

/** What an emitter gets of the step it writes. */
export interface LayerStep {
  layer: Layer;
  name: string;
  cfg: Record<string, unknown>;
  /** The shape (without batch) of the first input. */
  inShape: number[];
  outShape: number[];
  /** The values the step reads; the first is current when the emitter runs. */
  inputs: Val[];
}

/** Writes one layer's nodes on the graph, reading and leaving the current value. */
export type Emitter = (g: GraphWriter, st: LayerStep) => void;

/** A class with no ONNX equivalent: toONNX names the layer, the reason and the classes it can write. */
export interface Unsupported {
  readonly unsupported: string;
}
/** The table entry of a class that cannot be exported. */
export const unsupported = (reason: string): Unsupported => ({ unsupported: reason });

/** One family's rows of the exporter's table (export.ts checks that together they cover every class). */
export type Emitters = Partial<Record<LayerClassName, Emitter | Unsupported>>;

export const ints = (name: string, v: number[]): Attr => ({ name, type: AttributeType.INTS, ints: v });
export const int = (name: string, v: number): Attr => ({ name, type: AttributeType.INT, i: v });
export const float = (name: string, v: number): Attr => ({ name, type: AttributeType.FLOAT, f: v });
export const str = (name: string, v: string): Attr => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(v),
});

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** float32 values as little-endian bytes (TensorProto.raw_data). */
function f32Bytes(v: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i], true);
  return out;
}

/** int64 values as little-endian bytes (TensorProto.raw_data). */
function i64Bytes(v: readonly number[]): Uint8Array {
  const out = new Uint8Array(v.length * 8);
  const dv = new DataView(out.buffer);
  v.forEach((x, i) => dv.setBigInt64(i * 8, BigInt(x), true));
  return out;
}

/** The weight or state of `layer` whose name ends in `/suffix`, as a float32 copy, or null. */
export function weightData(layer: Layer, suffix: string): { data: Float32Array; shape: number[] } | null {
  const w = [...layer.weights, ...layer.stateWeights].find(
    (x) => x.name === `${layer.name}/${suffix}` || x.name.endsWith(`/${suffix}`),
  );
  if (!w) return null;
  const d = w.value.dataSync();
  return { data: d instanceof Float32Array ? d : Float32Array.from(d), shape: [...w.value.shape] };
}

/** A Keras int-or-pair option as a pair. */
export const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** A Keras axis option (negative counts from the end) as an axis of a value of rank `rank`. */
export const axisOf = (cfg: Record<string, unknown>, rank: number): number =>
  (cfg.axis as number) < 0 ? (cfg.axis as number) + rank : (cfg.axis as number);

export class GraphWriter {
  readonly nodes: NodeObj[] = [];
  readonly inits: TensorObj[] = [];
  /** Every node, output and initializer name taken (the graph's inputs and outputs from the start). */
  readonly used: Set<string>;
  /** The current value's name. */
  cur = '';
  /** The value a layer reads, while nothing has been written for the layer yet (its transposes are cached). */
  curVal: Val | null = null;
  /** 'nhwc': values as simdnet holds them (any rank); 'nchw': a rank-4 image transposed for ONNX. */
  layout: 'nhwc' | 'nchw' = 'nhwc';
  rank = 0;

  constructor(reserved: string[]) {
    this.used = new Set(reserved);
  }

  unique(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** Appends a node with one output and makes that output current. */
  node(opType: string, name: string, inputs: string[], attribute: Attr[] = []): string {
    const out = this.unique(`${name}/${opType}_output`);
    this.nodes.push({
      name: this.unique(`${name}/${opType}`),
      op_type: opType,
      input: inputs,
      output: [out],
      attribute,
    });
    this.cur = out;
    this.curVal = null;
    return out;
  }

  init(name: string, data: Float32Array, dims: number[]): string {
    const n = this.unique(name);
    this.inits.push({ name: n, dims, data_type: DataType.FLOAT, raw_data: f32Bytes(data) });
    return n;
  }

  initI64(name: string, data: number[]): string {
    const n = this.unique(name);
    this.inits.push({ name: n, dims: [data.length], data_type: DataType.INT64, raw_data: i64Bytes(data) });
    return n;
  }

  scalarInit(name: string, v: number): string {
    return this.init(name, Float32Array.of(v), []);
  }

  /** Axis of the current layout holding NHWC axis a (0..3) of a rank-4 image. */
  imageAxis(a: number): number {
    return this.layout === 'nchw' ? [0, 2, 3, 1][a] : a;
  }

  /** Makes the current value NCHW (once per value); `what` names the layer class that needs it. */
  toNCHW(name: string, what: string): void {
    if (this.layout === 'nchw') return;
    if (this.curVal?.nchw) {
      this.cur = this.curVal.nchw;
      this.layout = 'nchw';
      return;
    }
    if (this.rank !== 4) throw new Error(`toONNX: layer ${name} (${what}) needs a [height, width, channels] input`);
    const v = this.curVal;
    this.node('Transpose', name, [this.cur], [ints('perm', [0, 3, 1, 2])]);
    if (v) {
      v.nchw = this.cur;
      this.curVal = v;
    }
    this.layout = 'nchw';
  }

  /** Makes the current value NHWC, simdnet's element order (once per value). */
  toNHWC(name: string): void {
    if (this.layout !== 'nchw') return;
    if (this.curVal?.nhwc) {
      this.cur = this.curVal.nhwc;
      this.layout = 'nhwc';
      return;
    }
    const v = this.curVal;
    this.node('Transpose', name, [this.cur], [ints('perm', [0, 2, 3, 1])]);
    if (v) {
      v.nhwc = this.cur;
      this.curVal = v;
    }
    this.layout = 'nhwc';
  }

  /** Makes v current, in the layout its producer wrote. */
  use(v: Val): void {
    this.layout = v.primary;
    this.cur = (v.primary === 'nchw' ? v.nchw : v.nhwc)!;
    this.rank = v.rank;
    this.curVal = v;
  }

  /** The value the last step left: the input it passed on untouched, or what it wrote. */
  result(): Val {
    if (this.curVal) return this.curVal;
    return this.layout === 'nchw'
      ? { nhwc: null, nchw: this.cur, primary: 'nchw', rank: this.rank }
      : { nhwc: this.cur, nchw: null, primary: 'nhwc', rank: this.rank };
  }

  /** Keras ReLU on cur: x > t ? min(x, maxValue) : slope * (x - t). */
  relu(name: string, maxValue: number | null, slope: number, t: number): void {
    if (slope === 0 && t === 0) {
      if (maxValue === null) this.node('Relu', name, [this.cur]);
      else
        this.node('Clip', name, [
          this.cur,
          this.scalarInit(`${name}/min`, 0),
          this.scalarInit(`${name}/max`, maxValue),
        ]);
      return;
    }
    const x = this.cur,
      tt = this.scalarInit(`${name}/threshold`, t);
    const pos = maxValue === null ? x : this.node('Min', name, [x, this.scalarInit(`${name}/max`, maxValue)]);
    const neg = this.node('Mul', name, [this.node('Sub', name, [x, tt]), this.scalarInit(`${name}/slope`, slope)]);
    this.node('Where', name, [this.node('Greater', name, [x, tt]), pos, neg]);
  }

  /** A layer's fused Keras activation on cur. */
  activation(act: unknown, name: string): void {
    if (act === 'relu') this.node('Relu', name, [this.cur]);
    else if (act === 'sigmoid') this.node('Sigmoid', name, [this.cur]);
    else if (act === 'tanh') this.node('Tanh', name, [this.cur]);
    else if (act === 'elu') this.node('Elu', name, [this.cur], [float('alpha', 1)]);
    else if (act === 'relu6') this.relu(name, 6, 0, 0);
    else if (act === 'hardSigmoid') this.hardSigmoid(name, this.cur);
    else if (act === 'hardSwish' || act === 'swish' || act === 'silu') {
      const x = this.cur;
      if (act === 'hardSwish') this.hardSigmoid(name, x);
      else this.node('Sigmoid', name, [x]);
      this.node('Mul', name, [x, this.cur]);
    } else if (act === 'gelu') this.gelu(name);
    else if (act === 'softmax') {
      // simdnet's softmax is over the last axis: channels, i.e. axis 1 once transposed to NCHW.
      this.node('Softmax', name, [this.cur], [int('axis', this.layout === 'nchw' ? 1 : this.rank - 1)]);
    } else if (act !== 'linear' && act !== undefined && act !== null) {
      throw new Error(`toONNX: layer ${name}: activation ${show(act)} cannot be exported`);
    }
  }

  /** simdnet's hard sigmoid, relu6(x + 3) / 6. */
  private hardSigmoid(name: string, x: string): void {
    this.node('HardSigmoid', name, [x], [float('alpha', 1 / 6), float('beta', 0.5)]);
  }

  /** The exact GELU, 0.5·x·(1 + Erf(x/√2)): opset 13 has no Gelu op. */
  private gelu(name: string): void {
    const x = this.cur;
    const one = this.init(`${name}/gelu_one`, Float32Array.of(1), []);
    const half = this.init(`${name}/gelu_half`, Float32Array.of(0.5), []);
    const sqrt2 = this.init(`${name}/gelu_sqrt2`, Float32Array.of(Math.SQRT2), []);
    this.node('Div', name, [x, sqrt2]);
    this.node('Erf', name, [this.cur]);
    this.node('Add', name, [this.cur, one]);
    this.node('Mul', name, [x, this.cur]);
    this.node('Mul', name, [this.cur, half]);
  }
}
