// ONNX import: a CNN exported by torch.onnx.export or tf2onnx (opsets 9–21) becomes a functional
// Model that predicts, compiles, fits, saves and exports again.
//
// Layout. ONNX CNNs are NCHW; simdnet computes NHWC. Every graph value is held in one of three
// layouts: 'nhwc' (a rank-4 value stored channels-last), 'native' (stored as ONNX orders it) or
// 'perm' (a rank-2 value whose features are stored in a known permutation: Flatten of an NHWC image,
// and Concats of such). The model takes its input as the file declares it (one Permute to NHWC before
// the first layer that needs it; `inputLayout: 'nhwc'` takes NHWC and drops it); conversions are made
// where a consumer needs the other layout, and cached. Weights are re-laid once here: Conv kernels to
// (KH, KW, C/g, K), Gemm rows permuted to the stored feature order, constants of Mul/Add transposed.
// Channel axes of Concat, Split, Slice, Softmax and Reduce are mapped onto the stored layout.
//
// Constant folding. Initializers, Constant nodes and the shape arithmetic around view/flatten
// (Shape, Gather, Unsqueeze, Concat, Cast, ...) are evaluated once, here (fold.ts); the batch size is
// unknown, so Shape writes NaN for it and Reshape reads NaN (or 0, or a -1 that leaves the batch
// alone) in the first place as "keep the batch axis".
//
// Checking. The whole file is decoded and checked before any layer or tensor exists: protobuf
// errors, unsupported operators (one error listing every op type with its node names and the
// opset), external data, tensors whose data does not match their dims, absurd dims, cycles and
// inputs nothing produces.
import { type Model, model as functionalModel } from '../../nn/model.js';
import { type Layer, type SymbolicTensor, input as symbolicInput } from '../../nn/layer.js';
import {
  Activation,
  Dense,
  Flatten,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  LeakyReLU,
  MaxPooling2D,
  AveragePooling2D,
} from '../../nn/layers.js';
import { BatchNormalization } from '../../nn/batchnorm.js';
import { Conv2D, Conv2DTranspose, DepthwiseConv2D } from '../../nn/convolutional.js';
import { Add, Concatenate, Multiply, Subtract } from '../../nn/merge.js';
import { Cropping2D, Permute, ReLU, Reshape, Softmax, UpSampling2D, ZeroPadding2D } from '../../nn/reshaping.js';
import { Affine, Clip, HardSigmoid, LogSoftmax, PRelu, Pool2D, ScaledElu, Slice } from '../../nn/onnx-layers.js';
import { samePadding } from '../../geom.js';
import { ready } from '../../wasm/bindings.js';
import { onnxType } from './onnx-schema.js';
import {
  type Const,
  binaryConst,
  broadcastDims,
  clampSlice,
  concatConst,
  constOf,
  expandTo,
  gatherConst,
  sizeOf,
  sliceConst,
  transposeConst,
} from './fold.js';

/** Options of {@link loadONNX}. */
export interface LoadONNXOptions {
  /**
   * 'nchw' (default): the model takes its 4-d inputs as the file declares them (NCHW for PyTorch),
   * so code written for onnxruntime works unchanged. 'nhwc': it takes them channels-last and skips
   * the input transpose.
   */
  inputLayout?: 'nchw' | 'nhwc';
  /** Model name (default: the ONNX graph's name, or 'onnx_model'). */
  name?: string;
  /** Reader of external tensor data (loadONNXFile supplies one that reads next to the model file). */
  externalData?: ExternalData;
}

/**
 * Reads the bytes of a tensor stored outside the model file: `location` (relative to the model),
 * `offset`, `length` (undefined: to the end of the file); `what` names the tensor for errors.
 */
export type ExternalData = (location: string, offset: number, length: number | undefined, what: string) => Uint8Array;

/** Lowest and highest default-domain opset the importer reads. */
export const MIN_OPSET = 9;
export const MAX_OPSET = 21;

/** The largest tensor (elements) a file may declare. */
const MAX_ELEMENTS = 2 ** 28;

/** Operators the importer maps to layers (on graph values) or folds (on constants). */
export const SUPPORTED_OPS = new Set([
  'Conv',
  'ConvTranspose',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'BatchNormalization',
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Elu',
  'Selu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Gemm',
  'MatMul',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Concat',
  'Split',
  'Slice',
  'Flatten',
  'Reshape',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Pad',
  'Resize',
  'Upsample',
  'ReduceMean',
  'ReduceMax',
  'Dropout',
  'Identity',
  'Constant',
  'Shape',
  'Gather',
  'Cast',
  'ConstantOfShape',
  'Neg',
  'Floor',
  'Ceil',
  'Sqrt',
]);

// ---------------------------------------------------------------------------------------------
// Decoding and checking

interface AttrMsg {
  name?: string;
  type?: number;
  f?: number;
  i?: unknown;
  s?: Uint8Array;
  t?: TensorMsg;
  floats?: number[];
  ints?: unknown[];
}
interface TensorMsg {
  dims?: unknown[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: unknown[];
  double_data?: number[];
  uint64_data?: unknown[];
  raw_data?: Uint8Array;
  name?: string;
  external_data?: unknown[];
  data_location?: number;
}
interface NodeMsg {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttrMsg[];
}
interface DimMsg {
  dim_value?: unknown;
  dim_param?: string;
}
interface ValueInfoMsg {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: DimMsg[] } } };
}
interface GraphMsg {
  node?: NodeMsg[];
  name?: string;
  initializer?: TensorMsg[];
  input?: ValueInfoMsg[];
  output?: ValueInfoMsg[];
}
interface ModelMsg {
  ir_version?: unknown;
  opset_import?: Array<{ domain?: string; version?: unknown }>;
  graph?: GraphMsg;
}

const fail = (msg: string): never => {
  throw new Error(`loadONNX: ${msg}`);
};

/** An int64 field (protobufjs gives a Long for large values) as a number. */
function int(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return fail(`${what} is not an integer (got ${typeof v})`);
}

const DTYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

function checkDims(dims: number[], what: string): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 2 ** 31 - 1)
      fail(`${what} has an invalid dimension ${d} (dims [${dims}])`);
  }
  if (sizeOf(dims) > MAX_ELEMENTS)
    fail(`${what} declares ${sizeOf(dims)} elements (dims [${dims}]), more than ${MAX_ELEMENTS}`);
}

/** A TensorProto's values; checks the data against the dims. */
function readTensor(t: TensorMsg, what: string, external?: ExternalData): Const {
  const name = `${what}${t.name ? ` '${t.name}'` : ''}`;
  let ext: Uint8Array | null = null;
  if (t.data_location === 1 || (t.external_data && t.external_data.length > 0)) {
    const kv = new Map(
      (t.external_data ?? []).map((e) => {
        const { key, value } = e as { key?: string; value?: string };
        return [key ?? '', value ?? ''] as const;
      }),
    );
    const location = kv.get('location') ?? '';
    if (!external) {
      fail(
        `${name} keeps its data outside the model file (external data in '${location}'); in Node, ` +
          'loadONNXFile(path) reads it from next to the model, or save the model as one file ' +
          '(onnx.save_model(m, path, save_as_external_data=False))',
      );
    }
    const num = (k: string) => {
      const v = kv.get(k);
      if (v === undefined) return undefined;
      if (!/^[0-9]+$/.test(v)) return fail(`${name}: external data ${k} '${v}' is not a non-negative integer`);
      return Number(v);
    };
    if (!location) fail(`${name}: external data without a location`);
    ext = external!(location, num('offset') ?? 0, num('length'), name);
  }
  const dims = (t.dims ?? []).map((d) => int(d, `${name} dims`));
  checkDims(dims, name);
  const n = sizeOf(dims);
  const dt = t.data_type ?? 0;
  const raw = ext ?? (t.raw_data && t.raw_data.length > 0 ? t.raw_data : null);
  const isInt = dt !== 1 && dt !== 10 && dt !== 11 && dt !== 16;
  const fromRaw = (bytes: number, read: (v: DataView, o: number) => number): Float64Array => {
    if (!raw) return new Float64Array(0);
    if (raw.length !== n * bytes) {
      fail(`${name}: raw_data has ${raw.length} bytes, dims [${dims}] of ${DTYPE_NAMES[dt]} need ${n * bytes}`);
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = read(v, i * bytes);
    return out;
  };
  let data: Float64Array;
  let field: ArrayLike<unknown> | undefined;
  switch (dt) {
    case 1:
      data = raw ? fromRaw(4, (v, o) => v.getFloat32(o, true)) : Float64Array.from(t.float_data ?? []);
      field = t.float_data;
      break;
    case 11:
      data = raw ? fromRaw(8, (v, o) => v.getFloat64(o, true)) : Float64Array.from(t.double_data ?? []);
      field = t.double_data;
      break;
    case 7:
      data = raw
        ? fromRaw(8, (v, o) => Number(v.getBigInt64(o, true)))
        : Float64Array.from((t.int64_data ?? []).map((x) => int(x, name)));
      field = t.int64_data;
      break;
    case 6:
    case 5:
    case 3:
    case 2:
    case 4:
    case 9: {
      const size = { 6: 4, 5: 2, 3: 1, 2: 1, 4: 2, 9: 1 }[dt]!;
      const rd = {
        6: (v: DataView, o: number) => v.getInt32(o, true),
        5: (v: DataView, o: number) => v.getInt16(o, true),
        3: (v: DataView, o: number) => v.getInt8(o),
        2: (v: DataView, o: number) => v.getUint8(o),
        4: (v: DataView, o: number) => v.getUint16(o, true),
        9: (v: DataView, o: number) => v.getUint8(o),
      }[dt]!;
      data = raw ? fromRaw(size, rd) : Float64Array.from(t.int32_data ?? []);
      field = t.int32_data;
      break;
    }
    default:
      return fail(`${name} has element type ${DTYPE_NAMES[dt] ?? dt}, which the importer does not read`);
  }
  if (!raw && data.length !== n) {
    fail(`${name}: has ${field?.length ?? 0} values, dims [${dims}] need ${n}`);
  }
  if (!isInt && data.some((x) => !Number.isFinite(x))) fail(`${name} holds a NaN or infinite value`);
  return { dims, data, int: isInt };
}

/** A node's attributes by name, with typed getters. */
class Attrs {
  private readonly m = new Map<string, AttrMsg>();
  constructor(
    list: AttrMsg[],
    private readonly what: string,
  ) {
    for (const a of list) if (a.name) this.m.set(a.name, a);
  }
  has(n: string): boolean {
    return this.m.has(n);
  }
  int(n: string, dflt: number): number {
    const a = this.m.get(n);
    return a ? int(a.i ?? 0, `${this.what} attribute ${n}`) : dflt;
  }
  float(n: string, dflt: number): number {
    const a = this.m.get(n);
    if (!a) return dflt;
    const v = a.f ?? 0;
    if (!Number.isFinite(v)) fail(`${this.what}: attribute ${n} is ${v}`);
    return v;
  }
  ints(n: string): number[] | null {
    const a = this.m.get(n);
    return a ? (a.ints ?? []).map((x) => int(x, `${this.what} attribute ${n}`)) : null;
  }
  floats(n: string): number[] | null {
    const a = this.m.get(n);
    return a ? [...(a.floats ?? [])] : null;
  }
  str(n: string, dflt: string): string {
    const a = this.m.get(n);
    return a?.s ? new TextDecoder().decode(a.s) : dflt;
  }
  tensor(n: string): TensorMsg | null {
    return this.m.get(n)?.t ?? null;
  }
}

function decode(bytes: Uint8Array): ModelMsg {
  let msg: ModelMsg;
  try {
    msg = onnxType('ModelProto').decode(bytes) as unknown as ModelMsg;
  } catch (e) {
    return fail(`the bytes are not an ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!msg.graph) fail('the file has no graph (is it an ONNX model?)');
  return msg;
}

function defaultOpset(m: ModelMsg): number {
  const set = (m.opset_import ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!set) fail('the model declares no default-domain opset (opset_import)');
  const v = int(set!.version ?? 0, 'opset version');
  if (v < MIN_OPSET || v > MAX_OPSET) {
    fail(`the model uses opset ${v}; the importer reads opsets ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  return v;
}

/** Nodes in an order where every input is produced before use; checks for dangling inputs and cycles. */
function topoSort(nodes: NodeMsg[], known: Set<string>): NodeMsg[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o) continue;
      if (producer.has(o) || known.has(o)) fail(`value '${o}' is produced twice (node ${nodeName(n, i)})`);
      producer.set(o, i);
    }
  });
  const waiting = nodes.map(() => 0);
  const users = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const x of n.input ?? []) {
      if (!x || known.has(x)) continue;
      const p = producer.get(x);
      if (p === undefined)
        fail(`node ${nodeName(n, i)} (${n.op_type}) reads '${x}', which no node, input or initializer produces`);
      waiting[i]++;
      users[p!].push(i);
    }
  });
  const order: NodeMsg[] = [];
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(nodes[i]);
    for (const u of users[i]) if (--waiting[u] === 0) ready.push(u);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => waiting[i] > 0).map((n, i) => nodeName(n, i));
    fail(
      `the graph has a cycle: nodes ${stuck.slice(0, 8).join(', ')}${stuck.length > 8 ? ', ...' : ''} wait on each other`,
    );
  }
  return order;
}

const nodeName = (n: NodeMsg, i: number) => `'${n.name || `#${i}`}'`;

// ---------------------------------------------------------------------------------------------
// Graph values

type Layout = 'nhwc' | 'native' | 'perm' | 'nhwc5';

// 'nhwc5': a rank-5 value [N, a, b, H, W] made by splitting the channels of an NHWC image (the
// view of a channel shuffle), stored [N, H, W, a, b]; stored axis k holds ONNX axis NHWC5[k].
const NHWC5 = [0, 3, 4, 1, 2];

interface Sym {
  kind: 'sym';
  /** ONNX shape; the batch axis (always axis 0) is -1. */
  shape: number[];
  layout: Layout;
  t: SymbolicTensor;
  /** For 'perm': stored feature j is ONNX feature perm[j]. */
  perm?: number[];
  /** For 'perm': builds the value in ONNX order (cached). */
  toNative?: () => SymbolicTensor;
  cache: { native?: SymbolicTensor; nhwc?: SymbolicTensor };
}
interface Cst {
  kind: 'const';
  c: Const;
}
type Val = Sym | Cst;

const BATCH = -1;

class Builder {
  readonly weights = new Map<Layer, Float32Array[]>();
  private readonly names = new Set<string>();
  constructor(
    readonly opset: number,
    private readonly staticBatch: number | null,
  ) {}

  uniqueName(base: string): string {
    let b = base.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    if (/^[0-9]/.test(b)) b = `n${b}`;
    let n = b,
      i = 1;
    while (this.names.has(n)) n = `${b}_${i++}`;
    this.names.add(n);
    return n;
  }

  /** Applies a new layer named after `base` and records the values of its weights. */
  apply(layer: Layer, base: string, xs: SymbolicTensor | SymbolicTensor[], weights?: Float32Array[]): SymbolicTensor {
    layer.name = this.uniqueName(base);
    if (weights) this.weights.set(layer, weights);
    return layer.apply(xs);
  }

  sym(t: SymbolicTensor, shape: number[], layout: Layout, extra: Partial<Sym> = {}): Sym {
    return { kind: 'sym', t, shape, layout, cache: {}, ...extra };
  }

  /** The value stored in ONNX order. */
  native(v: Sym, base: string): SymbolicTensor {
    if (v.layout === 'native') return v.t;
    if (!v.cache.native) {
      v.cache.native =
        v.layout === 'perm'
          ? v.toNative!()
          : this.apply(new Permute({ dims: v.layout === 'nhwc5' ? [3, 4, 1, 2] : [3, 1, 2] }), `${base}_to_nchw`, v.t);
    }
    return v.cache.native;
  }

  /** A rank-4 value stored NHWC. */
  nhwc(v: Sym, base: string): SymbolicTensor {
    if (v.shape.length !== 4) fail(`${base}: expected a 4-d NCHW image, got shape [${shapeText(v.shape)}]`);
    if (v.layout === 'nhwc') return v.t;
    if (!v.cache.nhwc)
      v.cache.nhwc = this.apply(new Permute({ dims: [2, 3, 1] }), `${base}_to_nhwc`, this.native(v, base));
    return v.cache.nhwc;
  }

  /** Whether the batch entry of a target shape / a dim means "the batch axis". */
  isBatch(d: number): boolean {
    return Number.isNaN(d) || d === BATCH || (this.staticBatch !== null && d === this.staticBatch);
  }
}

const shapeText = (s: readonly number[]) => s.map((d) => (d === BATCH ? 'N' : String(d))).join(', ');

/** The stored axis (with batch) of ONNX axis `a` of a value in `layout`. */
function storedAxis(v: Sym, a: number): number {
  if (v.layout === 'nhwc5') return NHWC5.indexOf(a);
  if (v.layout !== 'nhwc') return a;
  return [0, 3, 1, 2][a];
}

function normAxis(a: number, rank: number, what: string): number {
  const x = a < 0 ? a + rank : a;
  if (!Number.isInteger(x) || x < 0 || x >= rank) fail(`${what}: axis ${a} is out of range for rank ${rank}`);
  return x;
}

const f32 = (d: ArrayLike<number>) => Float32Array.from(d);

/** A constant broadcast against value v, as stored in v's layout, without the batch axis. */
function constFor(c: Const, v: Sym, what: string): { shape: number[]; data: Float32Array } {
  const r = v.shape.length;
  if (c.dims.length > r)
    fail(`${what}: constant of shape [${c.dims}] has more axes than the value [${shapeText(v.shape)}]`);
  const dims = [...new Array(r - c.dims.length).fill(1), ...c.dims];
  const out = broadcastDims(dims.slice(1), v.shape.slice(1));
  if (dims[0] !== 1 || !out || out.join() !== v.shape.slice(1).join()) {
    fail(`${what}: constant of shape [${c.dims}] would change the shape of the value [${shapeText(v.shape)}]`);
  }
  if (sizeOf(c.dims) === 1) return { shape: [1], data: f32([c.data[0]]) };
  let t: Const = { dims, data: c.data, int: c.int };
  if (v.layout === 'nhwc') t = transposeConst(t, [0, 2, 3, 1]);
  return { shape: t.dims.slice(1), data: f32(t.data) };
}

// ---------------------------------------------------------------------------------------------
// The importer

/**
 * Imports an ONNX model (bytes of a .onnx file) as a functional {@link Model}: the CNNs that
 * torch.onnx.export and tf2onnx write (opsets 9–21). The model takes its input as the file declares
 * it (NCHW for PyTorch exports; `opts.inputLayout: 'nhwc'` for channels-last) and computes NHWC
 * inside. It predicts, compiles and fits (BatchNormalization keeps its running statistics and is
 * fine-tuned as a BN layer), saves as .simdnet and exports back to ONNX.
 *
 * @throws before anything is allocated: one error listing every unsupported operator (op type, node
 *   names, opset); malformed protobuf, tensors whose data does not match their dims, absurd dims,
 *   cycles, dangling inputs, external data — each named.
 * @example
 * ```ts
 * const m = await sn.loadONNX(bytes);       // NCHW input as in onnxruntime
 * const y = m.predict(sn.tensor(x, [1, 3, 32, 32]));
 * ```
 */
export async function loadONNX(bytes: Uint8Array | ArrayBuffer, opts: LoadONNXOptions = {}): Promise<Model> {
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    fail(
      `expected the bytes of a .onnx file (Uint8Array or ArrayBuffer), got ${bytes === null ? 'null' : typeof bytes}`,
    );
  }
  if (opts === null || typeof opts !== 'object') fail('options must be an object');
  const layout = opts.inputLayout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc')
    fail(`inputLayout must be 'nchw' or 'nhwc', got ${JSON.stringify(layout)}`);
  const plan = planImport(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), opts.externalData);
  await ready();
  try {
    return buildModel(plan, layout, opts.name);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (msg.startsWith('loadONNX:')) throw e;
    return fail(msg);
  }
}

interface Plan {
  opset: number;
  graphName: string;
  nodes: NodeMsg[];
  consts: Map<string, Const>;
  inputs: Array<{ name: string; shape: number[]; batch: number | null }>;
  outputs: string[];
}

/** Decodes and checks the whole file: everything that can be refused is refused here. */
export function planImport(bytes: Uint8Array, external?: ExternalData): Plan {
  const m = decode(bytes);
  const opset = defaultOpset(m);
  const g = m.graph!;
  const nodes = g.node ?? [];
  // Every unsupported operator at once.
  const bad = new Map<string, string[]>();
  nodes.forEach((n, i) => {
    const op = n.op_type ?? '';
    const dom = n.domain ?? '';
    const key = dom && dom !== 'ai.onnx' ? `${dom}.${op}` : op;
    if ((dom && dom !== 'ai.onnx') || !SUPPORTED_OPS.has(op)) {
      if (!bad.has(key)) bad.set(key, []);
      bad.get(key)!.push(nodeName(n, i));
    }
  });
  if (bad.size > 0) {
    const list = [...bad].map(
      ([op, ns]) => `${op || '(no op_type)'} (node${ns.length > 1 ? 's' : ''} ${ns.join(', ')})`,
    );
    fail(`unsupported operator${bad.size > 1 ? 's' : ''} at opset ${opset}: ${list.join('; ')}`);
  }
  const consts = new Map<string, Const>();
  for (const t of g.initializer ?? []) {
    if (!t.name) fail('an initializer has no name');
    consts.set(t.name!, readTensor(t, 'initializer', external));
  }
  const inputs: Plan['inputs'] = [];
  for (const vi of g.input ?? []) {
    if (!vi.name || consts.has(vi.name)) continue;
    const tt = vi.type?.tensor_type;
    if (!tt) fail(`input '${vi.name}' is not a tensor`);
    if (tt!.elem_type && tt!.elem_type !== 1) {
      fail(
        `input '${vi.name}' has element type ${DTYPE_NAMES[tt!.elem_type] ?? tt!.elem_type}; the importer takes float32 inputs`,
      );
    }
    const dims = tt!.shape?.dim ?? [];
    if (dims.length < 2)
      fail(`input '${vi.name}' must have a batch axis and at least one more (got rank ${dims.length})`);
    const shape = dims.map((d, i) => {
      if (i === 0) return BATCH;
      // protobufjs puts field defaults on the prototype: a set dim_value is an own property.
      if (!Object.hasOwn(d, 'dim_value')) {
        return fail(
          `input '${vi.name}' has an unknown size on axis ${i} (${d.dim_param || 'no value'}); export it with a fixed ${i === 1 ? 'channel count' : 'image size'}`,
        );
      }
      const v = int(d.dim_value, `input '${vi.name}' dims`);
      if (!Number.isInteger(v) || v < 1 || v > 2 ** 20)
        fail(`input '${vi.name}' has an invalid size ${v} on axis ${i}`);
      return v;
    });
    checkDims(shape.slice(1), `input '${vi.name}'`);
    const b0 = Object.hasOwn(dims[0], 'dim_value') ? int(dims[0].dim_value, 'batch') : null;
    inputs.push({ name: vi.name, shape, batch: b0 });
  }
  if (inputs.length === 0) fail('the graph has no input other than initializers');
  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  if (outputs.length === 0 || outputs.some((o) => !o)) fail('the graph declares no (named) outputs');
  const known = new Set([...consts.keys(), ...inputs.map((i) => i.name)]);
  const order = topoSort(nodes, known);
  const produced = new Set(known);
  for (const n of order) for (const o of n.output ?? []) produced.add(o);
  for (const o of outputs) if (!produced.has(o)) fail(`graph output '${o}' is not produced by any node`);
  return { opset, graphName: g.name ?? '', nodes: order, consts, inputs, outputs };
}

function buildModel(plan: Plan, layout: 'nchw' | 'nhwc', name?: string): Model {
  const staticBatch = plan.inputs.every((i) => i.batch !== null && i.batch > 0) ? plan.inputs[0].batch : null;
  const b = new Builder(plan.opset, staticBatch);
  const env = new Map<string, Val>();
  for (const [k, c] of plan.consts) env.set(k, { kind: 'const', c });
  const inputs: SymbolicTensor[] = [];
  for (const inp of plan.inputs) {
    const s = inp.shape;
    const nhwcIn = layout === 'nhwc' && s.length === 4;
    const t = symbolicInput({ shape: nhwcIn ? [s[2], s[3], s[1]] : s.slice(1), name: b.uniqueName(inp.name) });
    inputs.push(t);
    env.set(inp.name, b.sym(t, s, nhwcIn ? 'nhwc' : 'native'));
  }
  for (const n of plan.nodes) {
    try {
      convertNode(b, n, env);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      // Layer checks name the layer; say which node it came from.
      if (msg.startsWith('loadONNX:')) throw e;
      fail(msg.startsWith("node '") ? msg : `node '${n.name || n.op_type}' (${n.op_type}): ${msg}`);
    }
  }
  const outputs = plan.outputs.map((o) => {
    const v = env.get(o)!;
    if (v.kind === 'const')
      return fail(`graph output '${o}' is a constant; the importer needs outputs computed from the inputs`);
    return b.native(v, o);
  });
  const m = functionalModel({ inputs, outputs, name: name ?? (plan.graphName || 'onnx_model') });
  m.build();
  for (const [layer, arrays] of b.weights) {
    const dst = [...layer.weights, ...layer.stateWeights];
    if (dst.length !== arrays.length)
      fail(`internal: ${layer.name} has ${dst.length} weight arrays, import made ${arrays.length}`);
    dst.forEach((w, i) => {
      if (w.value.size !== arrays[i].length)
        fail(`internal: ${w.name} has ${w.value.size} values, import made ${arrays[i].length}`);
      w.value.view().set(arrays[i]);
    });
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Operators

const UNARY_ACT: Record<string, 'relu' | 'sigmoid' | 'tanh' | 'hardSwish'> = {
  Relu: 'relu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  HardSwish: 'hardSwish',
};

function convertNode(b: Builder, n: NodeMsg, env: Map<string, Val>): Val | undefined {
  const op = n.op_type!;
  const base = n.name || `${op}_${n.output?.[0] ?? ''}`;
  const what = `node '${base}' (${op})`;
  const attrs = new Attrs(n.attribute ?? [], what);
  const ins = (n.input ?? []).map((x) => (x ? env.get(x)! : undefined));
  const outs = n.output ?? [];
  const set = (v: Val, i = 0): Val => {
    if (outs[i]) env.set(outs[i], v);
    return v;
  };
  const constIn = (i: number, label: string): Const => {
    const v = ins[i];
    if (!v) return fail(`${what}: input ${i} (${label}) is missing`);
    if (v.kind !== 'const')
      return fail(`${what}: ${label} must be a constant (an initializer or folded), not computed from the model input`);
    return v.c;
  };
  const optConst = (i: number, label: string): Const | null => (ins[i] ? constIn(i, label) : null);
  const symIn = (i: number): Sym => {
    const v = ins[i];
    if (!v) return fail(`${what}: input ${i} is missing`);
    if (v.kind !== 'sym') return fail(`${what}: input ${i} is a constant; ${op} of constants is not folded`);
    return v;
  };
  const allConst = ins.every((v) => !v || v.kind === 'const') && ins.length > 0;

  // Constants and shape arithmetic.
  switch (op) {
    case 'Constant': {
      const t = attrs.tensor('value');
      if (t) return set({ kind: 'const', c: readTensor(t, `${what} value`) });
      if (attrs.has('value_float'))
        return set({ kind: 'const', c: constOf([attrs.float('value_float', 0)], [], false) });
      if (attrs.has('value_floats')) {
        const f = attrs.floats('value_floats')!;
        return set({ kind: 'const', c: constOf(f, [f.length], false) });
      }
      if (attrs.has('value_int')) return set({ kind: 'const', c: constOf([attrs.int('value_int', 0)], [], true) });
      if (attrs.has('value_ints')) {
        const f = attrs.ints('value_ints')!;
        return set({ kind: 'const', c: constOf(f, [f.length], true) });
      }
      return fail(`${what}: only value, value_float(s) and value_int(s) constants are read`);
    }
    case 'Identity':
    case 'Dropout':
      if (!ins[0]) fail(`${what}: input is missing`);
      if (op === 'Dropout' && ins[0]!.kind === 'sym' && attrs.int('training_mode', 0) !== 0) {
        fail(`${what}: training_mode dropout is not supported`);
      }
      return set(ins[0]!);
    case 'Cast': {
      const v = ins[0];
      if (!v) return fail(`${what}: input is missing`);
      const to = attrs.int('to', 1);
      if (v.kind === 'sym') {
        if (to !== 1) fail(`${what}: casting a model value to ${DTYPE_NAMES[to] ?? to} is not supported`);
        return set(v);
      }
      const isInt = to !== 1 && to !== 10 && to !== 11 && to !== 16;
      const data = isInt ? v.c.data.map((x) => (Number.isNaN(x) ? x : Math.trunc(x))) : v.c.data;
      return set({ kind: 'const', c: { dims: v.c.dims, data, int: isInt } });
    }
    case 'Shape': {
      const v = ins[0];
      if (!v) return fail(`${what}: input is missing`);
      let dims = v.kind === 'const' ? v.c.dims : v.shape.map((d) => (d === BATCH ? Number.NaN : d));
      const r = dims.length;
      const s0 = attrs.int('start', 0),
        e0 = attrs.int('end', r);
      const [s, e] = clampSlice(s0, e0, 1, r);
      dims = dims.slice(s, e);
      return set({ kind: 'const', c: constOf(dims, [dims.length], true) });
    }
    case 'ConstantOfShape': {
      const sh = constIn(0, 'shape');
      const dims = Array.from(sh.data);
      if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`${what}: shape [${dims}] is not known or invalid`);
      checkDims(dims, what);
      const t = attrs.tensor('value');
      const val = t ? readTensor(t, `${what} value`) : constOf([0], [1], false);
      return set({
        kind: 'const',
        c: { dims, data: new Float64Array(sizeOf(dims)).fill(val.data[0] ?? 0), int: val.int },
      });
    }
    case 'Gather': {
      const data = constIn(0, 'data'),
        idx = constIn(1, 'indices');
      const axis = normAxis(attrs.int('axis', 0), data.dims.length, what);
      return set({ kind: 'const', c: gatherConst(data, idx, axis, what) });
    }
    case 'Neg':
    case 'Floor':
    case 'Ceil':
    case 'Sqrt': {
      const c = constIn(0, 'input');
      const f = { Neg: (x: number) => -x, Floor: Math.floor, Ceil: Math.ceil, Sqrt: Math.sqrt }[op];
      return set({ kind: 'const', c: { dims: c.dims, data: c.data.map(f), int: c.int } });
    }
  }
  if (allConst) {
    const c = foldConst(
      b,
      op,
      n,
      attrs,
      ins.map((v) => (v as Cst | undefined)?.c ?? null),
      what,
    );
    return set({ kind: 'const', c });
  }

  switch (op) {
    case 'Conv':
      return set(conv(b, base, what, attrs, symIn(0), constIn(1, 'weights'), optConst(2, 'bias')));
    case 'ConvTranspose':
      return set(convTranspose(b, base, what, attrs, symIn(0), constIn(1, 'weights'), optConst(2, 'bias')));
    case 'MaxPool':
    case 'AveragePool':
      if (outs.length > 1 && outs[1]) fail(`${what}: the Indices output of MaxPool is not supported`);
      return set(pool(b, base, what, op, attrs, symIn(0)));
    case 'GlobalAveragePool':
    case 'GlobalMaxPool': {
      const x = symIn(0);
      const L = op === 'GlobalMaxPool' ? GlobalMaxPooling2D : GlobalAveragePooling2D;
      const t = b.apply(new L({ keepdims: true }), base, b.nhwc(x, base));
      return set(b.sym(t, [BATCH, x.shape[1], 1, 1], 'nhwc'));
    }
    case 'BatchNormalization': {
      const x = symIn(0);
      if (attrs.int('training_mode', 0) !== 0 || (outs.length > 1 && outs.slice(1).some((o) => o))) {
        fail(`${what}: BatchNormalization in training mode (extra outputs) is not supported; export in eval mode`);
      }
      const [scale, bias, mean, vari] = [1, 2, 3, 4].map((i) => constIn(i, ['scale', 'B', 'mean', 'var'][i - 1]));
      const C = x.shape[1];
      for (const c of [scale, bias, mean, vari])
        if (sizeOf(c.dims) !== C) fail(`${what}: parameters must have ${C} values (one per channel), got [${c.dims}]`);
      if (vari.data.some((v) => v < 0)) fail(`${what}: the running variance has a negative value`);
      const src =
        x.shape.length === 4
          ? b.nhwc(x, base)
          : x.shape.length === 2
            ? b.native(x, base)
            : fail(`${what}: expected a 4-d or 2-d input, got [${shapeText(x.shape)}]`);
      const layer = new BatchNormalization({
        epsilon: attrs.float('epsilon', 1e-5),
        momentum: attrs.float('momentum', 0.9),
      });
      const t = b.apply(layer, base, src, [f32(scale.data), f32(bias.data), f32(mean.data), f32(vari.data)]);
      return set(b.sym(t, x.shape, x.shape.length === 4 ? 'nhwc' : 'native'));
    }
    case 'Relu':
    case 'Sigmoid':
    case 'Tanh':
    case 'HardSwish':
      return set(unary(b, base, symIn(0), new Activation({ activation: UNARY_ACT[op] })));
    case 'LeakyRelu':
      return set(unary(b, base, symIn(0), new LeakyReLU({ alpha: attrs.float('alpha', 0.01) })));
    case 'Elu': {
      const a = attrs.float('alpha', 1);
      return set(
        unary(b, base, symIn(0), a === 1 ? new Activation({ activation: 'elu' }) : new ScaledElu({ alpha: a })),
      );
    }
    case 'Selu':
      return set(
        unary(
          b,
          base,
          symIn(0),
          new ScaledElu({
            alpha: attrs.float('alpha', Math.fround(1.6732632423543772)),
            scale: attrs.float('gamma', Math.fround(1.0507009873554805)),
          }),
        ),
      );
    case 'HardSigmoid': {
      const a = attrs.float('alpha', 0.2),
        be = attrs.float('beta', 0.5);
      const hs = Math.abs(a - 1 / 6) < 1e-7 && be === 0.5;
      return set(
        unary(
          b,
          base,
          symIn(0),
          hs ? new Activation({ activation: 'hardSigmoid' }) : new HardSigmoid({ alpha: a, beta: be }),
        ),
      );
    }
    case 'Clip': {
      let lo: number | null, hi: number | null;
      if (b.opset < 11) {
        lo = attrs.has('min') ? attrs.float('min', 0) : null;
        hi = attrs.has('max') ? attrs.float('max', 0) : null;
      } else {
        const l = optConst(1, 'min'),
          h = optConst(2, 'max');
        if ((l && sizeOf(l.dims) !== 1) || (h && sizeOf(h.dims) !== 1)) fail(`${what}: min and max must be scalars`);
        lo = l ? l.data[0] : null;
        hi = h ? h.data[0] : null;
      }
      if (lo !== null && !Number.isFinite(lo)) lo = lo < 0 ? null : fail(`${what}: min is ${lo}`);
      if (hi !== null && !Number.isFinite(hi)) hi = hi > 0 ? null : fail(`${what}: max is ${hi}`);
      const layer =
        lo === 0 && hi === null
          ? new Activation({ activation: 'relu' })
          : lo === 0 && hi !== null && hi > 0
            ? new ReLU({ maxValue: hi })
            : new Clip({ min: lo, max: hi });
      return set(unary(b, base, symIn(0), layer));
    }
    case 'PRelu': {
      const x = symIn(0);
      const slope = constIn(1, 'slope');
      const v = x.layout === 'perm' || x.layout === 'nhwc5' ? b.sym(b.native(x, base), x.shape, 'native') : x;
      const { shape, data } = constFor(slope, v, what);
      const t = b.apply(new PRelu({ alphaShape: shape }), base, v.t, [data]);
      return set(b.sym(t, x.shape, v.layout));
    }
    case 'Softmax':
    case 'LogSoftmax':
      return set(softmax(b, base, what, op, attrs, symIn(0)));
    case 'Gemm':
    case 'MatMul':
      return set(gemm(b, base, what, op, attrs, ins));
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
      return set(binary(b, base, what, op, ins[0], ins[1]));
    case 'Concat':
      return set(concat(b, base, what, attrs, ins));
    case 'Split': {
      const x = symIn(0);
      const r = x.shape.length;
      const axis = normAxis(attrs.int('axis', 0), r, what);
      const len = x.shape[axis];
      let parts: number[];
      const sp = b.opset >= 13 ? optConst(1, 'split') : null;
      if (sp) parts = Array.from(sp.data);
      else if (attrs.has('split')) parts = attrs.ints('split')!;
      else {
        const k = attrs.int('num_outputs', outs.length);
        const each = Math.ceil(len / k);
        parts = Array.from({ length: k }, (_, i) => Math.min(each, len - i * each));
      }
      if (
        parts.length !== outs.length ||
        parts.some((p) => !Number.isInteger(p) || p < 1) ||
        parts.reduce((a, p) => a + p, 0) !== len
      ) {
        fail(`${what}: split sizes [${parts}] do not divide axis ${axis} of length ${len} into ${outs.length} outputs`);
      }
      let off = 0;
      parts.forEach((p, i) => {
        set(sliceSym(b, `${base}_${i}`, what, x, axis, off, off + p), i);
        off += p;
      });
      return;
    }
    case 'Slice': {
      const x = symIn(0);
      let starts: number[], ends: number[], axes: number[] | null, steps: number[] | null;
      if (b.opset < 10) {
        starts = attrs.ints('starts') ?? [];
        ends = attrs.ints('ends') ?? [];
        axes = attrs.ints('axes');
        steps = null;
      } else {
        starts = Array.from(constIn(1, 'starts').data);
        ends = Array.from(constIn(2, 'ends').data);
        const a = optConst(3, 'axes'),
          s = optConst(4, 'steps');
        axes = a ? Array.from(a.data) : null;
        steps = s ? Array.from(s.data) : null;
      }
      const r = x.shape.length;
      axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r, what));
      let v: Sym = x;
      axes.forEach((a, i) => {
        const step = steps?.[i] ?? 1;
        if (step !== 1) fail(`${what}: steps other than 1 are not supported (got ${step})`);
        if (a === 0) {
          if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1) return;
          fail(`${what}: slicing the batch axis is not supported`);
        }
        const [s, e] = clampSlice(starts[i], ends[i], 1, v.shape[a]);
        if (e <= s) fail(`${what}: the slice [${starts[i]}, ${ends[i]}) of axis ${a} is empty`);
        if (s === 0 && e === v.shape[a]) return;
        v = sliceSym(b, `${base}_${a}`, what, v, a, s, e);
      });
      return set(v);
    }
    case 'Flatten':
      return set(flatten(b, base, what, attrs.int('axis', 1), symIn(0)));
    case 'Reshape': {
      const x = symIn(0);
      const target = Array.from(constIn(1, 'shape').data);
      if (attrs.int('allowzero', 0) !== 0 && target.includes(0))
        fail(`${what}: allowzero with a 0 in the shape is not supported`);
      return set(reshapeSym(b, base, what, x, reshapeTarget(b, what, x.shape, target)));
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const x = symIn(0);
      const ax = b.opset >= 13 ? optConst(1, 'axes') : null;
      const axesRaw = ax ? Array.from(ax.data) : attrs.ints('axes');
      let shape: number[];
      if (op === 'Squeeze') {
        const r = x.shape.length;
        const axes = axesRaw
          ? axesRaw.map((a) => normAxis(a, r, what))
          : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
        if (axes.some((a) => x.shape[a] !== 1))
          fail(`${what}: axes [${axesRaw}] are not all of size 1 in [${shapeText(x.shape)}]`);
        shape = x.shape.filter((_, i) => !axes.includes(i));
      } else {
        if (!axesRaw) return fail(`${what}: axes are missing`);
        const r = x.shape.length + axesRaw.length;
        const axes = axesRaw.map((a) => normAxis(a, r, what));
        shape = [];
        let j = 0;
        for (let i = 0; i < r; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
      }
      if (shape[0] !== BATCH) fail(`${what}: changing the batch axis is not supported`);
      return set(reshapeSym(b, base, what, x, shape));
    }
    case 'Transpose':
      return set(transpose(b, base, what, attrs, symIn(0)));
    case 'Pad':
      return set(pad(b, base, what, attrs, ins));
    case 'Resize':
    case 'Upsample':
      return set(resize(b, base, what, op, attrs, ins));
    case 'ReduceMean':
    case 'ReduceMax': {
      const x = symIn(0);
      const ax = b.opset >= 18 ? optConst(1, 'axes') : null;
      const raw = ax ? Array.from(ax.data) : attrs.ints('axes');
      const r = x.shape.length;
      const axes = (raw ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, r, what)).sort();
      const keep = attrs.int('keepdims', 1) !== 0;
      const L = op === 'ReduceMax' ? GlobalMaxPooling2D : GlobalAveragePooling2D;
      // Axes [1, 2] of a value held as ONNX orders it: a channels-last image (tf2onnx's graphs).
      if (r === 4 && axes.join() === '1,2' && x.layout === 'native') {
        const t = b.apply(new L({ keepdims: keep }), base, x.t);
        const C = x.shape[3];
        return set(keep ? b.sym(t, [BATCH, 1, 1, C], 'native') : b.sym(t, [BATCH, C], 'native'));
      }
      if (r !== 4 || axes.join() !== '2,3')
        fail(
          `${what}: only reductions over the spatial axes of an image ([2, 3] of NCHW, [1, 2] of NHWC) are ` +
            `supported (axes [${raw}])`,
        );
      const t = b.apply(new L({ keepdims: keep }), base, b.nhwc(x, base));
      return set(keep ? b.sym(t, [BATCH, x.shape[1], 1, 1], 'nhwc') : b.sym(t, [BATCH, x.shape[1]], 'native'));
    }
  }
  return fail(`${what}: not supported on a model value`);
}

function foldConst(b: Builder, op: string, _n: NodeMsg, attrs: Attrs, cs: Array<Const | null>, what: string): Const {
  const need = (i: number) => cs[i] ?? fail(`${what}: input ${i} is missing`);
  switch (op) {
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
      return binaryConst(op, need(0), need(1), what);
    case 'Unsqueeze':
    case 'Squeeze': {
      const x = need(0);
      const raw = b.opset >= 13 && cs[1] ? Array.from(cs[1].data) : attrs.ints('axes');
      if (op === 'Unsqueeze') {
        if (!raw) return fail(`${what}: axes are missing`);
        const r = x.dims.length + raw.length;
        const axes = raw.map((a) => normAxis(a, r, what));
        const dims: number[] = [];
        let j = 0;
        for (let i = 0; i < r; i++) dims.push(axes.includes(i) ? 1 : x.dims[j++]);
        return { ...x, dims };
      }
      const axes = raw ? raw.map((a) => normAxis(a, x.dims.length, what)) : x.dims.map((d, i) => (d === 1 ? i : -1));
      return { ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) };
    }
    case 'Concat': {
      const xs = cs.filter((c): c is Const => c !== null);
      return concatConst(xs, normAxis(attrs.int('axis', 0), xs[0].dims.length, what), what);
    }
    case 'Reshape': {
      const x = need(0);
      const t = Array.from(need(1).data);
      let unknown = -1,
        known = 1;
      const dims = t.map((d, i) => {
        if (d === 0) d = x.dims[i];
        if (d === -1) unknown = i;
        else known *= d;
        return d;
      });
      if (unknown >= 0) dims[unknown] = sizeOf(x.dims) / known;
      if (dims.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(dims) !== sizeOf(x.dims))
        fail(`${what}: cannot reshape constant [${x.dims}] to [${t}]`);
      return { ...x, dims };
    }
    case 'Transpose': {
      const x = need(0);
      const perm = attrs.ints('perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
      return transposeConst(x, perm);
    }
    case 'Slice': {
      const x = need(0);
      const r = x.dims.length;
      const starts = b.opset < 10 ? attrs.ints('starts')! : Array.from(need(1).data);
      const ends = b.opset < 10 ? attrs.ints('ends')! : Array.from(need(2).data);
      const axes =
        (b.opset < 10 ? attrs.ints('axes') : cs[3] ? Array.from(cs[3].data) : null) ?? starts.map((_, i) => i);
      const steps = (b.opset >= 10 && cs[4] ? Array.from(cs[4].data) : null) ?? starts.map(() => 1);
      const ax = axes.map((a) => normAxis(a, r, what));
      const se = ax.map((a, i) => clampSlice(starts[i], ends[i], steps[i], x.dims[a]));
      return sliceConst(
        x,
        se.map((p) => p[0]),
        se.map((p) => p[1]),
        ax,
        steps,
      );
    }
    case 'Flatten': {
      const x = need(0);
      const a = normAxis(attrs.int('axis', 1), x.dims.length + 1, what);
      return { ...x, dims: [sizeOf(x.dims.slice(0, a)), sizeOf(x.dims.slice(a))] };
    }
  }
  return fail(`${what}: folding ${op} over constants is not supported`);
}

function unary(b: Builder, base: string, x: Sym, layer: Layer): Sym {
  // Element-wise: the value keeps its layout (including a permuted feature order).
  const t = b.apply(layer, base, x.t);
  const out = b.sym(t, x.shape, x.layout, { perm: x.perm });
  if (x.layout === 'perm') {
    // Built again from the config when an ONNX-ordered copy is needed.
    const make = layer.constructor as new (cfg: Record<string, unknown>) => Layer;
    out.toNative = () =>
      b.apply(new make({ ...layer.getConfig(), name: undefined }), `${base}_native`, b.native(x, base));
  }
  return out;
}

/** Pads of a window op, [top, left, bottom, right] resolved from pads / auto_pad. */
function windowPads(what: string, attrs: Attrs, H: number, W: number, k: number[], s: number[], d: number[]): number[] {
  const auto = attrs.str('auto_pad', 'NOTSET');
  if (auto === 'NOTSET') {
    const p = attrs.ints('pads') ?? [0, 0, 0, 0];
    if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0))
      fail(`${what}: pads must be 4 non-negative integers, got [${p}]`);
    return p;
  }
  if (auto === 'VALID') return [0, 0, 0, 0];
  if (auto !== 'SAME_UPPER' && auto !== 'SAME_LOWER') fail(`${what}: unknown auto_pad '${auto}'`);
  const one = (n: number, i: number) => {
    const ek = (k[i] - 1) * d[i] + 1;
    const total = Math.max((Math.ceil(n / s[i]) - 1) * s[i] + ek - n, 0);
    const small = Math.floor(total / 2);
    return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  };
  const [t, bo] = one(H, 0),
    [l, r] = one(W, 1);
  return [t, l, bo, r];
}

function pair2(v: number[] | null, dflt: number, what: string, name: string): [number, number] {
  if (!v) return [dflt, dflt];
  if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1))
    fail(`${what}: ${name} must be 2 positive integers (2-d windows only), got [${v}]`);
  return [v[0], v[1]];
}

function image(x: Sym, what: string): [number, number, number] {
  if (x.shape.length !== 4)
    fail(
      `${what}: expected a 4-d NCHW input, got [${shapeText(x.shape)}] (only 2-d convolutions and pools are supported)`,
    );
  return [x.shape[1], x.shape[2], x.shape[3]];
}

function conv(b: Builder, base: string, what: string, attrs: Attrs, x: Sym, w: Const, bias: Const | null): Sym {
  const [C, H, W] = image(x, what);
  if (w.dims.length !== 4) fail(`${what}: weights must be 4-d [K, C/group, KH, KW], got [${w.dims}]`);
  const [K, Cg, KH, KW] = w.dims;
  const g = attrs.int('group', 1);
  if (g < 1 || C % g !== 0 || K % g !== 0 || Cg * g !== C)
    fail(`${what}: group ${g} does not fit ${C} input channels and weights [${w.dims}]`);
  const ks = attrs.ints('kernel_shape');
  if (ks && (ks[0] !== KH || ks[1] !== KW)) fail(`${what}: kernel_shape [${ks}] differs from the weights [${w.dims}]`);
  const s = pair2(attrs.ints('strides'), 1, what, 'strides');
  const d = pair2(attrs.ints('dilations'), 1, what, 'dilations');
  if (bias && sizeOf(bias.dims) !== K) fail(`${what}: bias must have ${K} values, got [${bias.dims}]`);
  const [pt, pl, pb, pr] = windowPads(what, attrs, H, W, [KH, KW], s, d);
  let src = b.nhwc(x, base);
  let h = H,
    wd = W;
  let padding: 'valid' | 'same' = 'valid';
  const sameH = samePadding(H, (KH - 1) * d[0] + 1, s[0]),
    sameW = samePadding(W, (KW - 1) * d[1] + 1, s[1]);
  if (pt + pl + pb + pr === 0) padding = 'valid';
  else if (pt === sameH[0] && pb === sameH[1] && pl === sameW[0] && pr === sameW[1]) padding = 'same';
  else {
    src = b.apply(
      new ZeroPadding2D({
        padding: [
          [pt, pb],
          [pl, pr],
        ],
      }),
      `${base}_pad`,
      src,
    );
    h += pt + pb;
    wd += pl + pr;
  }
  const common = {
    kernelSize: [KH, KW] as [number, number],
    strides: s,
    padding,
    dilationRate: d,
    useBias: bias !== null,
  };
  const out: number[] = [];
  let layer: Layer;
  const kernel = new Float32Array(sizeOf(w.dims));
  if (g === C && g > 1) {
    // Depthwise: weights [C*M, 1, KH, KW] -> (KH, KW, C, M); output channel c*M + m.
    const M = K / C;
    for (let c = 0; c < C; c++)
      for (let m = 0; m < M; m++)
        for (let i = 0; i < KH; i++)
          for (let j = 0; j < KW; j++) kernel[((i * KW + j) * C + c) * M + m] = w.data[((c * M + m) * KH + i) * KW + j];
    layer = new DepthwiseConv2D({ ...common, depthMultiplier: M });
  } else {
    // (K, C/g, KH, KW) -> (KH, KW, C/g, K)
    for (let k = 0; k < K; k++)
      for (let c = 0; c < Cg; c++)
        for (let i = 0; i < KH; i++)
          for (let j = 0; j < KW; j++)
            kernel[((i * KW + j) * Cg + c) * K + k] = w.data[((k * Cg + c) * KH + i) * KW + j];
    layer = new Conv2D({ ...common, filters: K, groups: g });
  }
  const ws = bias ? [kernel, f32(bias.data)] : [kernel];
  const t = b.apply(layer, base, src, ws);
  out.push(BATCH, K, ...t.shape.slice(0, 2));
  void h;
  void wd;
  return b.sym(t, out, 'nhwc');
}

function convTranspose(
  b: Builder,
  base: string,
  what: string,
  attrs: Attrs,
  x: Sym,
  w: Const,
  bias: Const | null,
): Sym {
  const [C, H, W] = image(x, what);
  if (w.dims.length !== 4 || w.dims[0] !== C) fail(`${what}: weights must be [${C}, F, KH, KW], got [${w.dims}]`);
  if (attrs.int('group', 1) !== 1) fail(`${what}: grouped ConvTranspose is not supported`);
  const [, F, KH, KW] = w.dims;
  const s = pair2(attrs.ints('strides'), 1, what, 'strides');
  const d = pair2(attrs.ints('dilations'), 1, what, 'dilations');
  const op = attrs.ints('output_padding') ?? [0, 0];
  if (op.length !== 2 || op.some((v, i) => !Number.isInteger(v) || v < 0 || v >= s[i]))
    fail(`${what}: output_padding [${op}] must be below the strides [${s}]`);
  if (bias && sizeOf(bias.dims) !== F) fail(`${what}: bias must have ${F} values, got [${bias.dims}]`);
  const full = [(H - 1) * s[0] + (KH - 1) * d[0] + 1 + op[0], (W - 1) * s[1] + (KW - 1) * d[1] + 1 + op[1]];
  let pads: number[];
  const os = attrs.ints('output_shape');
  const auto = attrs.str('auto_pad', 'NOTSET');
  if (os || auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const want = os ? os.slice(-2) : [H * s[0], W * s[1]];
    const tot = [full[0] - want[0], full[1] - want[1]];
    if (tot.some((t) => t < 0))
      fail(`${what}: output_shape [${want}] is larger than the transposed convolution's output [${full}]`);
    // ONNX: only SAME_UPPER puts the odd pixel at the end; output_shape alone pads like SAME_LOWER.
    const lower = auto !== 'SAME_UPPER';
    const split = (t: number) =>
      lower ? [t - Math.floor(t / 2), Math.floor(t / 2)] : [Math.floor(t / 2), t - Math.floor(t / 2)];
    const [a0, a1] = split(tot[0]),
      [c0, c1] = split(tot[1]);
    pads = [a0, c0, a1, c1];
  } else pads = auto === 'VALID' ? [0, 0, 0, 0] : (attrs.ints('pads') ?? [0, 0, 0, 0]);
  if (pads.length !== 4 || pads.some((v) => !Number.isInteger(v) || v < 0))
    fail(`${what}: pads must be 4 non-negative integers, got [${pads}]`);
  // (C, F, KH, KW) -> (KH, KW, F, C)
  const kernel = new Float32Array(sizeOf(w.dims));
  for (let c = 0; c < C; c++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < KH; i++)
        for (let j = 0; j < KW; j++) kernel[((i * KW + j) * F + f) * C + c] = w.data[((c * F + f) * KH + i) * KW + j];
  const layer = new Conv2DTranspose({
    filters: F,
    kernelSize: [KH, KW],
    strides: s,
    dilationRate: d,
    padding: 'valid',
    outputPadding: [op[0], op[1]],
    useBias: bias !== null,
  });
  let t = b.apply(layer, base, b.nhwc(x, base), bias ? [kernel, f32(bias.data)] : [kernel]);
  const [pt, pl, pb, pr] = pads;
  if (pt + pl + pb + pr > 0)
    t = b.apply(
      new Cropping2D({
        cropping: [
          [pt, pb],
          [pl, pr],
        ],
      }),
      `${base}_crop`,
      t,
    );
  return b.sym(t, [BATCH, F, t.shape[0], t.shape[1]], 'nhwc');
}

function pool(b: Builder, base: string, what: string, op: string, attrs: Attrs, x: Sym): Sym {
  const [C, H, W] = image(x, what);
  const k = pair2(attrs.ints('kernel_shape'), 0, what, 'kernel_shape');
  const s = pair2(attrs.ints('strides'), 1, what, 'strides');
  const d = pair2(attrs.ints('dilations'), 1, what, 'dilations');
  if (d[0] !== 1 || d[1] !== 1) fail(`${what}: dilated pooling (dilations [${d}]) is not supported`);
  const [pt, pl, pb, pr] = windowPads(what, attrs, H, W, k, s, d);
  const ceil = attrs.int('ceil_mode', 0) !== 0;
  const includePad = op === 'AveragePool' && attrs.int('count_include_pad', 0) !== 0;
  // Output size and the extra bottom/right pixels ceil_mode adds (not counted by the average).
  const axis = (n: number, kk: number, ss: number, p0: number, p1: number) => {
    const span = n + p0 + p1 - kk;
    if (span < 0) fail(`${what}: the ${kk}-pixel window does not fit the padded input (${n} + ${p0} + ${p1})`);
    let o = (ceil ? Math.ceil(span / ss) : Math.floor(span / ss)) + 1;
    // The last window must start inside the input or its leading padding (PyTorch, onnxruntime).
    if (ceil && (o - 1) * ss >= n + p0) o--;
    return { o, extra: Math.max(0, (o - 1) * ss + kk - (n + p0 + p1)) };
  };
  const ah = axis(H, k[0], s[0], pt, pb),
    aw = axis(W, k[1], s[1], pl, pr);
  let src = b.nhwc(x, base);
  let pads: [[number, number], [number, number]] = [
    [pt, pb + ah.extra],
    [pl, pr + aw.extra],
  ];
  if (includePad && pt + pl + pb + pr > 0) {
    src = b.apply(
      new ZeroPadding2D({
        padding: [
          [pt, pb],
          [pl, pr],
        ],
      }),
      `${base}_pad`,
      src,
    );
    pads = [
      [0, ah.extra],
      [0, aw.extra],
    ];
  }
  const mode = op === 'MaxPool' ? 'max' : 'avg';
  const zero = pads.every((p) => p[0] === 0 && p[1] === 0);
  let layer: Layer;
  if (zero) {
    const L = mode === 'max' ? MaxPooling2D : AveragePooling2D;
    layer = new L({ poolSize: k, strides: s, padding: 'valid' });
  } else {
    if (pads.some((p, i) => p[0] >= k[i] || p[1] >= k[i])) {
      fail(`${what}: padding [${pads.map((p) => `[${p}]`)}] must be smaller than the window [${k}] on every side`);
    }
    layer = new Pool2D({ mode, poolSize: k, strides: s, padding: pads });
  }
  const t = b.apply(layer, base, src);
  if (t.shape[0] !== ah.o || t.shape[1] !== aw.o) fail(`internal: ${what} gives ${t.shape} instead of ${ah.o}x${aw.o}`);
  return b.sym(t, [BATCH, C, ah.o, aw.o], 'nhwc');
}

function softmax(b: Builder, base: string, what: string, op: string, attrs: Attrs, x: Sym): Sym {
  const r = x.shape.length;
  const axis = normAxis(attrs.int('axis', b.opset < 13 ? 1 : -1), r, what);
  if (axis === 0) fail(`${what}: softmax over the batch axis is not supported`);
  if (b.opset < 13 && axis !== r - 1 && x.shape.slice(axis + 1).some((d) => d !== 1)) {
    fail(`${what}: opset ${b.opset} Softmax over the flattened axes ${axis}..${r - 1} is not supported`);
  }
  const L = op === 'Softmax' ? Softmax : LogSoftmax;
  if (x.layout === 'perm' && r === 2) {
    // Over all features: the stored order does not matter.
    const t = b.apply(new L({ axis: 1 }), base, x.t);
    return b.sym(t, x.shape, 'perm', {
      perm: x.perm,
      toNative: () => b.apply(new L({ axis: 1 }), `${base}_native`, b.native(x, base)),
    });
  }
  const src = x.layout === 'perm' ? b.native(x, base) : x.t;
  const layout = x.layout === 'perm' ? 'native' : x.layout;
  const t = b.apply(new L({ axis: storedAxis({ ...x, layout } as Sym, axis) }), base, src);
  return b.sym(t, x.shape, layout);
}

function gemm(b: Builder, base: string, what: string, op: string, attrs: Attrs, ins: Array<Val | undefined>): Sym {
  const a = ins[0],
    bw = ins[1];
  if (!a || !bw) return fail(`${what}: inputs are missing`);
  if (a.kind !== 'sym' || bw.kind !== 'const')
    return fail(`${what}: only a model value times constant weights is supported`);
  if (a.shape.length !== 2) fail(`${what}: the input must be 2-d [N, features], got [${shapeText(a.shape)}]`);
  if (op === 'Gemm' && attrs.int('transA', 0) !== 0) fail(`${what}: transA is not supported`);
  const B = bw.c;
  if (B.dims.length !== 2) fail(`${what}: weights must be 2-d, got [${B.dims}]`);
  const transB = op === 'Gemm' && attrs.int('transB', 0) !== 0;
  const [K, U] = transB ? [B.dims[1], B.dims[0]] : B.dims;
  if (K !== a.shape[1]) fail(`${what}: weights [${B.dims}] do not fit ${a.shape[1]} input features`);
  const alpha = op === 'Gemm' ? attrs.float('alpha', 1) : 1;
  const beta = op === 'Gemm' ? attrs.float('beta', 1) : 1;
  const perm = a.layout === 'perm' ? a.perm! : null;
  // kernel (K, U): row j is the weights of stored feature j.
  const kernel = new Float32Array(K * U);
  for (let j = 0; j < K; j++) {
    const src = perm ? perm[j] : j;
    for (let u = 0; u < U; u++) kernel[j * U + u] = alpha * (transB ? B.data[u * K + src] : B.data[src * U + u]);
  }
  const C = op === 'Gemm' && ins[2] ? ins[2] : undefined;
  let bias: Float32Array | null = null;
  if (C) {
    if (C.kind !== 'const') return fail(`${what}: the bias C must be a constant`);
    const dims = broadcastDims(C.c.dims, [1, U]);
    if (!dims || dims.join() !== `1,${U}`) fail(`${what}: bias C of shape [${C.c.dims}] must broadcast to [1, ${U}]`);
    bias = f32(expandTo(C.c, [1, U]).map((v) => v * beta));
  }
  const layer = new Dense({ units: U, useBias: bias !== null });
  const t = b.apply(layer, base, a.t, bias ? [kernel, bias] : [kernel]);
  return b.sym(t, [BATCH, U], 'native');
}

function binary(b: Builder, base: string, what: string, op: string, x: Val | undefined, y: Val | undefined): Sym {
  if (!x || !y) return fail(`${what}: inputs are missing`);
  if (x.kind === 'sym' && y.kind === 'sym') {
    if (op === 'Div') fail(`${what}: dividing two model values is not supported`);
    if (x.shape.length !== y.shape.length)
      fail(`${what}: inputs of different ranks [${shapeText(x.shape)}] and [${shapeText(y.shape)}] are not supported`);
    const shape = broadcastDims(x.shape.slice(1), y.shape.slice(1));
    if (!shape) return fail(`${what}: shapes [${shapeText(x.shape)}] and [${shapeText(y.shape)}] do not broadcast`);
    const r4 = x.shape.length === 4;
    const xs = r4 ? b.nhwc(x, base) : b.native(x, base),
      ys = r4 ? b.nhwc(y, base) : b.native(y, base);
    const L = { Add, Sub: Subtract, Mul: Multiply }[op as 'Add' | 'Sub' | 'Mul'];
    const t = b.apply(new L(), base, [xs, ys]);
    return b.sym(t, [BATCH, ...shape], r4 ? 'nhwc' : 'native');
  }
  const [v, c, constFirst] = x.kind === 'sym' ? [x, (y as Cst).c, false] : [y as Sym, x.c, true];
  const src = v.layout === 'perm' || v.layout === 'nhwc5' ? b.sym(b.native(v, base), v.shape, 'native') : v;
  const k = constFor(c, src, what);
  let scale: Float32Array | null = null,
    offset: Float32Array | null = null;
  if (op === 'Add') offset = k.data;
  else if (op === 'Sub') {
    if (constFirst) {
      scale = f32([-1]);
      offset = k.data;
    } else offset = k.data.map((q) => -q);
  } else if (op === 'Mul') scale = k.data;
  else {
    if (constFirst) fail(`${what}: a constant divided by a model value is not supported`);
    if (k.data.some((q) => q === 0)) fail(`${what}: division by a constant that holds 0`);
    scale = k.data.map((q) => 1 / q);
  }
  const layer = new Affine({
    scaleShape: scale ? (scale.length === 1 ? [1] : k.shape) : null,
    offsetShape: offset ? (offset.length === 1 ? [1] : k.shape) : null,
  });
  const ws = [scale, offset].filter((q): q is Float32Array => q !== null);
  const t = b.apply(layer, base, src.t, ws);
  return b.sym(t, v.shape, src.layout);
}

function concat(b: Builder, base: string, what: string, attrs: Attrs, ins: Array<Val | undefined>): Sym {
  const xs = ins.filter((v): v is Val => !!v);
  if (xs.some((v) => v.kind !== 'sym')) fail(`${what}: concatenating constants with model values is not supported`);
  const vs = xs as Sym[];
  const r = vs[0].shape.length;
  if (vs.some((v) => v.shape.length !== r)) fail(`${what}: inputs have different ranks`);
  const axis = normAxis(attrs.int('axis', 1), r, what);
  if (axis === 0) fail(`${what}: concatenation along the batch axis is not supported`);
  const shape = [...vs[0].shape];
  shape[axis] = vs.reduce((a, v) => a + v.shape[axis], 0);
  if (vs.some((v) => v.shape.some((d, i) => i !== axis && d !== vs[0].shape[i])))
    fail(`${what}: input shapes differ off axis ${axis}`);
  if (vs.length === 1) return vs[0];
  if (r === 4) {
    const t = b.apply(
      new Concatenate({ axis: storedAxis({ layout: 'nhwc' } as Sym, axis) }),
      base,
      vs.map((v) => b.nhwc(v, base)),
    );
    return b.sym(t, shape, 'nhwc');
  }
  if (r === 2 && vs.some((v) => v.layout === 'perm')) {
    const perm: number[] = [];
    let off = 0;
    for (const v of vs) {
      const p = v.layout === 'perm' ? v.perm! : v.shape.slice(1).map((_, i) => i);
      const n = v.shape[1];
      if (v.layout === 'perm') for (const j of p) perm.push(off + j);
      else for (let j = 0; j < n; j++) perm.push(off + j);
      off += n;
    }
    const t = b.apply(
      new Concatenate({ axis: -1 }),
      base,
      vs.map((v) => v.t),
    );
    return b.sym(t, shape, 'perm', {
      perm,
      toNative: () =>
        b.apply(
          new Concatenate({ axis: -1 }),
          `${base}_native`,
          vs.map((v) => b.native(v, base)),
        ),
    });
  }
  const t = b.apply(
    new Concatenate({ axis }),
    base,
    vs.map((v) => b.native(v, base)),
  );
  return b.sym(t, shape, 'native');
}

function sliceSym(b: Builder, base: string, what: string, x: Sym, axis: number, begin: number, end: number): Sym {
  if (axis === 0) fail(`${what}: slicing the batch axis is not supported`);
  const v = x.layout === 'perm' ? b.sym(b.native(x, base), x.shape, 'native') : x;
  const shape = [...x.shape];
  shape[axis] = end - begin;
  const t = b.apply(new Slice({ axis: storedAxis(v, axis), begin, end }), base, v.t);
  return b.sym(t, shape, v.layout);
}

function flatten(b: Builder, base: string, what: string, axisRaw: number, x: Sym): Sym {
  const r = x.shape.length;
  const axis = normAxis(axisRaw, r + 1, what);
  if (axis === 0) fail(`${what}: Flatten with axis 0 merges the batch axis, which is not supported`);
  const feat = sizeOf(x.shape.slice(1));
  if (axis !== 1) return reshapeSym(b, base, what, x, [BATCH, ...x.shape.slice(1, axis), sizeOf(x.shape.slice(axis))]);
  if (x.layout === 'nhwc') {
    const [, C, H, W] = x.shape;
    const t = b.apply(new Flatten(), base, x.t);
    if (H * W === 1 || C === 1) return b.sym(t, [BATCH, feat], 'native');
    // Stored order (h, w, c); ONNX order (c, h, w).
    const perm = new Array(feat);
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) perm[(h * W + w) * C + c] = (c * H + h) * W + w;
    return b.sym(t, [BATCH, feat], 'perm', {
      perm,
      toNative: () => b.apply(new Flatten(), `${base}_native`, b.native(x, base)),
    });
  }
  if (x.layout === 'perm') return x;
  if (r === 2) return x;
  const t = b.apply(new Flatten(), base, b.native(x, base));
  return b.sym(t, [BATCH, feat], 'native');
}

/** A Reshape target resolved against the input shape; the first entry must keep the batch axis. */
function reshapeTarget(b: Builder, what: string, inShape: number[], rawTarget: number[]): number[] {
  const target = rawTarget.map((d) => (Number.isNaN(d) ? 'N' : String(d))).join(', ');
  if (rawTarget.length === 0) fail(`${what}: reshaping to a scalar is not supported`);
  const feat = sizeOf(inShape.slice(1));
  const t0 = rawTarget[0];
  const rest = rawTarget.slice(1).map((d, i) => (d === 0 ? inShape[i + 1] : d));
  if (rest.some((d) => Number.isNaN(d))) fail(`${what}: the target shape depends on the batch size off the batch axis`);
  if (!(b.isBatch(t0) || t0 === 0 || (t0 === -1 && !rest.includes(-1)))) {
    fail(`${what}: the target shape [${target}] changes the batch axis, which is not supported`);
  }
  const u = rest.indexOf(-1);
  if (rest.filter((d) => d === -1).length > 1) fail(`${what}: target shape [${target}] has more than one -1`);
  const known = rest.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (u >= 0) {
    if (known === 0 || feat % known !== 0) fail(`${what}: cannot reshape [${shapeText(inShape)}] to [${target}]`);
    rest[u] = feat / known;
  }
  if (rest.some((d) => !Number.isInteger(d) || d < 1) || sizeOf(rest) !== feat)
    fail(`${what}: cannot reshape [${shapeText(inShape)}] to [${target}]`);
  return [BATCH, ...rest];
}

function reshapeSym(b: Builder, base: string, _what: string, x: Sym, shape: number[]): Sym {
  if (shape.join() === x.shape.join()) return x;
  // view(N, -1) of an image is a Flatten: keep the NHWC order and permute the next Gemm's rows.
  if (shape.length === 2 && x.shape.length === 4 && x.layout === 'nhwc') return flatten(b, base, _what, 1, x);
  // Channel shuffle: splitting the channels of an NHWC image, and merging them back, is a reshape of
  // the stored tensor (channel c = i * b + j either way).
  if (x.layout === 'nhwc' && shape.length === 5 && shape[3] === x.shape[2] && shape[4] === x.shape[3]) {
    const t = b.apply(new Reshape({ targetShape: [shape[3], shape[4], shape[1], shape[2]] }), base, x.t);
    return b.sym(t, shape, 'nhwc5');
  }
  if (x.layout === 'nhwc5' && shape.length === 4 && shape[2] === x.shape[3] && shape[3] === x.shape[4]) {
    const t = b.apply(new Reshape({ targetShape: [shape[2], shape[3], shape[1]] }), base, x.t);
    return b.sym(t, shape, 'nhwc');
  }
  let src: SymbolicTensor;
  // An NHWC image of 1x1 pixels (or 1 channel) stores its values in ONNX order.
  if (x.layout === 'nhwc' && (x.shape[2] * x.shape[3] === 1 || x.shape[1] === 1)) src = x.t;
  else src = b.native(x, base);
  const t = b.apply(new Reshape({ targetShape: shape.slice(1) }), base, src);
  return b.sym(t, shape, 'native');
}

function transpose(b: Builder, base: string, what: string, attrs: Attrs, x: Sym): Sym {
  const r = x.shape.length;
  const perm = attrs.ints('perm') ?? x.shape.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort().some((p, i) => p !== i))
    fail(`${what}: perm [${perm}] is not a permutation of ${r} axes`);
  if (perm[0] !== 0) fail(`${what}: moving the batch axis (perm [${perm}]) is not supported`);
  const shape = perm.map((p) => x.shape[p]);
  if (perm.every((p, i) => p === i)) return x;
  if (r === 4) {
    // NCHW -> NHWC of an NHWC-stored value is the stored tensor itself, and back.
    if (x.layout === 'nhwc' && perm.join() === '0,2,3,1') return b.sym(x.t, shape, 'native');
    if (x.layout === 'native' && perm.join() === '0,3,1,2') return b.sym(x.t, shape, 'nhwc');
  }
  if (x.layout === 'nhwc5') {
    // Stored axis k of the output holds ONNX axis perm[NHWC5[k]] of the input, at stored NHWC5.indexOf(that).
    const dims = [1, 2, 3, 4].map((k) => NHWC5.indexOf(perm[NHWC5[k]]));
    const t = b.apply(new Permute({ dims }), base, x.t);
    return b.sym(t, shape, 'nhwc5');
  }
  const t = b.apply(new Permute({ dims: perm.slice(1) }), base, b.native(x, base));
  return b.sym(t, shape, 'native');
}

function pad(b: Builder, base: string, what: string, attrs: Attrs, ins: Array<Val | undefined>): Sym {
  const x = ins[0];
  if (!x || x.kind !== 'sym') return fail(`${what}: the input must be a model value`);
  const mode = attrs.str('mode', 'constant');
  if (mode !== 'constant') fail(`${what}: only constant padding is supported (mode '${mode}')`);
  const r = x.shape.length;
  let pads: number[];
  let value = 0;
  if (b.opset < 11) {
    pads = attrs.ints('pads') ?? [];
    value = attrs.float('value', 0);
  } else {
    const p = ins[1];
    if (!p || p.kind !== 'const') return fail(`${what}: pads must be a constant`);
    pads = Array.from(p.c.data);
    const v = ins[2];
    if (v) {
      if (v.kind !== 'const') return fail(`${what}: the constant value must be a constant`);
      value = v.c.data[0] ?? 0;
    }
    const ax = ins[3];
    if (ax) {
      if (ax.kind !== 'const') return fail(`${what}: axes must be a constant`);
      const axes = Array.from(ax.c.data).map((a) => normAxis(a, r, what));
      const full = new Array(2 * r).fill(0);
      axes.forEach((a, i) => {
        full[a] = pads[i];
        full[a + r] = pads[i + axes.length];
      });
      pads = full;
    }
  }
  if (pads.length !== 2 * r) fail(`${what}: pads [${pads}] must have ${2 * r} entries for a rank-${r} input`);
  if (value !== 0) fail(`${what}: only zero padding is supported (value ${value})`);
  if (pads.every((p) => p === 0)) return x;
  if (r !== 4 || pads[0] || pads[1] || pads[4] || pads[5])
    fail(`${what}: only padding the spatial axes of an NCHW image is supported (pads [${pads}])`);
  const [t, l, bo, ri] = [pads[2], pads[3], pads[6], pads[7]];
  let v = b.nhwc(x, base);
  const pos = (q: number) => Math.max(q, 0),
    neg = (q: number) => Math.max(-q, 0);
  if (t > 0 || l > 0 || bo > 0 || ri > 0)
    v = b.apply(
      new ZeroPadding2D({
        padding: [
          [pos(t), pos(bo)],
          [pos(l), pos(ri)],
        ],
      }),
      base,
      v,
    );
  if (t < 0 || l < 0 || bo < 0 || ri < 0)
    v = b.apply(
      new Cropping2D({
        cropping: [
          [neg(t), neg(bo)],
          [neg(l), neg(ri)],
        ],
      }),
      `${base}_crop`,
      v,
    );
  return b.sym(v, [BATCH, x.shape[1], v.shape[0], v.shape[1]], 'nhwc');
}

function resize(b: Builder, base: string, what: string, op: string, attrs: Attrs, ins: Array<Val | undefined>): Sym {
  const x = ins[0];
  if (!x || x.kind !== 'sym') return fail(`${what}: the input must be a model value`);
  const [C, H, W] = image(x, what);
  let scales: number[] | null = null;
  let sizes: number[] | null = null;
  const cv = (i: number) => {
    const v = ins[i];
    if (!v) return null;
    if (v.kind !== 'const') return fail(`${what}: input ${i} must be a constant`);
    return v.c.data.length > 0 ? Array.from(v.c.data) : null;
  };
  if (op === 'Upsample') scales = b.opset < 9 ? attrs.floats('scales') : cv(1);
  else if (b.opset < 11) scales = cv(1);
  else {
    scales = cv(2);
    sizes = cv(3);
  }
  if (sizes) {
    if (sizes.length !== 4) fail(`${what}: sizes must have 4 entries`);
    scales = [1, 1, sizes[2] / H, sizes[3] / W];
  }
  if (!scales || scales.length !== 4) return fail(`${what}: scales (or sizes) for the 4 axes are missing`);
  if (scales[0] !== 1 || scales[1] !== 1) fail(`${what}: only the spatial axes can be resized (scales [${scales}])`);
  const sh = Math.round(scales[2]),
    sw = Math.round(scales[3]);
  if (Math.abs(sh - scales[2]) > 1e-6 || Math.abs(sw - scales[3]) > 1e-6 || sh < 1 || sw < 1) {
    fail(`${what}: only integer up-scaling is supported (scales [${scales}])`);
  }
  const mode = attrs.str('mode', 'nearest');
  const ctm = attrs.str(
    'coordinate_transformation_mode',
    op === 'Upsample' || b.opset < 11 ? 'asymmetric' : 'half_pixel',
  );
  let interp: 'nearest' | 'bilinear';
  if (mode === 'nearest') {
    const nm = attrs.str('nearest_mode', 'round_prefer_floor');
    const ok =
      (ctm === 'asymmetric' && (nm === 'floor' || op === 'Upsample' || b.opset < 11)) ||
      ((ctm === 'half_pixel' || ctm === 'pytorch_half_pixel') && nm === 'round_prefer_floor');
    if (!ok)
      fail(
        `${what}: nearest resize with coordinate_transformation_mode '${ctm}' and nearest_mode '${nm}' is not supported`,
      );
    interp = 'nearest';
  } else if (mode === 'linear' || mode === 'bilinear') {
    if (ctm !== 'half_pixel' && ctm !== 'pytorch_half_pixel')
      fail(
        `${what}: linear resize with coordinate_transformation_mode '${ctm}' is not supported (use align_corners=False)`,
      );
    interp = 'bilinear';
  } else return fail(`${what}: resize mode '${mode}' is not supported`);
  if (sh === 1 && sw === 1) return x;
  const t = b.apply(new UpSampling2D({ size: [sh, sw], interpolation: interp }), base, b.nhwc(x, base));
  return b.sym(t, [BATCH, C, H * sh, W * sw], 'nhwc');
}
