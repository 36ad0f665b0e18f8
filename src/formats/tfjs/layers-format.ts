// The tfjs-layers model format: what `tensorflowjs_converter --input_format keras` writes for a Keras
// model and what tfjs' `model.save` produces. A Keras model config (Sequential or functional, Keras 2
// or Keras 3 spellings) plus named weights in one byte blob (float32, or the converter's uint8/uint16
// affine and float16 quantisations). Loading builds a simdnet Model from simdnet's own layers and
// fills its weights by layer name + weight role; saving writes the same format for tf.loadLayersModel.
// Everything is checked before a model is made, and every problem of a kind is reported in one error.
import { InputLayer, type Layer, type SymbolicTensor } from '../../nn/layer.js';
import { createLayer } from '../../nn/registry.js';
import { Model, Sequential } from '../../nn/model.js';
import { show } from '../../show.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

/** One entry of a weights manifest (tfjs' WeightsManifestEntry). */
export interface LayersWeightSpec {
  /** `<layer name>/<role>`, e.g. `conv2d/kernel` (a `:0` suffix and outer scopes are tolerated). */
  name: string;
  shape: number[];
  dtype: string;
  /** tfjs' weight groups; weights of the 'optimizer' group are skipped on load. */
  group?: string;
  /** Stored as uint8/uint16 codes (value = code * scale + min) or as float16. */
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** Weight bytes: one buffer, a list of buffers in order (tfjs 4 may give several), or a byte view. */
export type LayersWeightData = ArrayBuffer | ArrayBufferView | Array<ArrayBuffer | ArrayBufferView>;

/** tfjs' ModelArtifacts (the parts that describe a layers model). */
export interface LayersModelArtifacts {
  /** The Keras model config `{class_name, config}`, or the converter's `{model_config, ...}` wrapper. */
  modelTopology: Record<string, unknown>;
  weightSpecs?: LayersWeightSpec[];
  weightData?: LayersWeightData;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** The model.json object: topology and a manifest naming the weight shard files. */
export interface LayersModelJSON {
  modelTopology: Record<string, unknown>;
  weightsManifest: Array<{ paths: string[]; weights: LayersWeightSpec[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function malformed(msg: string): never {
  throw new Error(`loadLayersModel: malformed model topology: ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// Layer configs: Keras (snake_case) -> simdnet layer options.

/** What the converters need to know about the file. */
interface Ctx {
  /** Keras 3 file: hard_sigmoid is relu6(x + 3) / 6 there, clip(0.2 x + 0.5, 0, 1) in Keras 2 and tfjs. */
  keras3: boolean;
  /** Problems found so far ("Conv3D 'c3': unsupported layer class"); thrown together at the end. */
  problems: string[];
}

const ACTIVATIONS: Record<string, string> = {
  linear: 'linear',
  relu: 'relu',
  softmax: 'softmax',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  elu: 'elu',
  gelu: 'gelu',
  swish: 'swish',
  silu: 'silu',
  relu6: 'relu6',
  hard_silu: 'hardSwish',
  hard_swish: 'hardSwish',
};

/** Reads a Keras layer config's fields with problems recorded against the layer. */
class Reader {
  constructor(
    readonly cfg: Obj,
    readonly what: string,
    readonly ctx: Ctx,
  ) {}
  problem(msg: string): void {
    this.ctx.problems.push(`${this.what}: ${msg}`);
  }
  get(key: string): unknown {
    return this.cfg[key] ?? undefined;
  }
  /** An int or [int, int] as simdnet takes it. */
  pair(key: string): number | [number, number] | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return v;
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
    this.problem(`${key} must be an integer or a pair of integers, got ${show(v)}`);
    return undefined;
  }
  bool(key: string): boolean | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.problem(`${key} must be true or false, got ${show(v)}`);
    return v as boolean;
  }
  num(key: string): number | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') this.problem(`${key} must be a number, got ${show(v)}`);
    return v as number;
  }
  channelsLast(): void {
    const f = this.cfg.data_format;
    if (f !== undefined && f !== null && f !== 'channels_last') {
      this.problem(`data_format ${show(f)} is not supported (only channels_last; convert the model to NHWC)`);
    }
  }
  padding(): 'valid' | 'same' | undefined {
    const p = this.cfg.padding;
    if (p === undefined || p === null) return undefined;
    if (p !== 'valid' && p !== 'same') this.problem(`padding ${show(p)} is not supported (only 'valid' or 'same')`);
    return p as 'valid' | 'same';
  }
  activation(key = 'activation'): string | undefined {
    let a = this.cfg[key];
    if (a === undefined || a === null) return undefined;
    // Keras 3 may write a built-in activation as a serialized function object.
    if (isObj(a) && typeof a.config === 'string') a = a.config;
    if (typeof a !== 'string') {
      this.problem(`activation ${show(a)} is not supported`);
      return undefined;
    }
    const snake = a.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snake === 'hard_sigmoid') {
      if (this.ctx.keras3) return 'hardSigmoid';
      this.problem(
        "activation 'hard_sigmoid' of Keras 2 / tfjs (clip(0.2 x + 0.5, 0, 1)) is not supported " +
          '(simdnet has the Keras 3 one, relu6(x + 3) / 6)',
      );
      return undefined;
    }
    const v = ACTIVATIONS[snake];
    if (!v) this.problem(`activation ${show(a)} is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
    return v;
  }
}

type Converter = (r: Reader) => Obj;

/** The window options of a convolution, in simdnet names. */
const conv = (r: Reader): Obj => {
  r.channelsLast();
  return {
    kernelSize: r.pair('kernel_size'),
    strides: r.pair('strides'),
    padding: r.padding(),
    dilationRate: r.pair('dilation_rate'),
    activation: r.activation(),
    useBias: r.bool('use_bias'),
  };
};
const pool = (r: Reader): Obj => {
  r.channelsLast();
  return { poolSize: r.pair('pool_size'), strides: r.pair('strides') ?? r.pair('pool_size'), padding: r.padding() };
};
const globalPool = (r: Reader): Obj => {
  r.channelsLast();
  return { keepdims: r.bool('keepdims') };
};
const merge = (): Obj => ({});

/** Keras class name -> [simdnet class name, config converter]. */
const CONVERTERS: Record<string, [string, Converter]> = {
  Conv2D: [
    'Conv2D',
    (r) => ({
      ...conv(r),
      filters: r.get('filters'),
      groups: (r.get('groups') as number) === 1 ? undefined : r.get('groups'),
    }),
  ],
  DepthwiseConv2D: ['DepthwiseConv2D', (r) => ({ ...conv(r), depthMultiplier: r.get('depth_multiplier') })],
  SeparableConv2D: [
    'SeparableConv2D',
    (r) => ({ ...conv(r), filters: r.get('filters'), depthMultiplier: r.get('depth_multiplier') }),
  ],
  Conv2DTranspose: [
    'Conv2DTranspose',
    (r) => ({ ...conv(r), filters: r.get('filters'), outputPadding: r.pair('output_padding') ?? null }),
  ],
  Dense: ['Dense', (r) => ({ units: r.get('units'), activation: r.activation(), useBias: r.bool('use_bias') })],
  MaxPooling2D: ['MaxPooling2D', pool],
  MaxPool2D: ['MaxPooling2D', pool],
  AveragePooling2D: ['AveragePooling2D', pool],
  AvgPool2D: ['AveragePooling2D', pool],
  GlobalAveragePooling2D: ['GlobalAveragePooling2D', globalPool],
  GlobalAvgPool2D: ['GlobalAveragePooling2D', globalPool],
  GlobalMaxPooling2D: ['GlobalMaxPooling2D', globalPool],
  GlobalMaxPool2D: ['GlobalMaxPooling2D', globalPool],
  BatchNormalization: [
    'BatchNormalization',
    (r) => {
      let axis = r.get('axis');
      // Keras 2 writes the built layer's axis as a list of one.
      if (Array.isArray(axis)) {
        if (axis.length !== 1) r.problem(`normalizing over several axes ${show(axis)} is not supported`);
        axis = axis[0];
      }
      if (r.get('renorm') === true) r.problem('renorm is not supported');
      return {
        axis,
        momentum: r.num('momentum'),
        epsilon: r.num('epsilon'),
        center: r.bool('center'),
        scale: r.bool('scale'),
      };
    },
  ],
  Dropout: ['Dropout', (r) => ({ rate: r.get('rate') })],
  Flatten: [
    'Flatten',
    (r) => {
      r.channelsLast();
      return {};
    },
  ],
  Activation: [
    'Activation',
    (r) => {
      const a = r.activation();
      return { activation: a ?? 'linear' };
    },
  ],
  LeakyReLU: ['LeakyReLU', (r) => ({ alpha: r.num('alpha') ?? r.num('negative_slope') })],
  ReLU: [
    'ReLU',
    (r) => ({
      maxValue: r.num('max_value') ?? null,
      negativeSlope: r.num('negative_slope'),
      threshold: r.num('threshold'),
    }),
  ],
  ELU: [
    'Activation',
    (r) => {
      const alpha = r.num('alpha') ?? 1;
      if (alpha !== 1) r.problem(`ELU with alpha ${alpha} is not supported (only 1)`);
      return { activation: 'elu' };
    },
  ],
  Softmax: [
    'Softmax',
    (r) => {
      const axis = r.get('axis');
      if (Array.isArray(axis)) {
        if (axis.length !== 1) r.problem(`softmax over several axes ${show(axis)} is not supported`);
        return { axis: axis[0] };
      }
      return { axis };
    },
  ],
  Add: ['Add', merge],
  Subtract: ['Subtract', merge],
  Multiply: ['Multiply', merge],
  Average: ['Average', merge],
  Maximum: ['Maximum', merge],
  Minimum: ['Minimum', merge],
  Concatenate: ['Concatenate', (r) => ({ axis: r.get('axis') })],
  ZeroPadding2D: [
    'ZeroPadding2D',
    (r) => {
      r.channelsLast();
      return { padding: r.get('padding') };
    },
  ],
  Cropping2D: [
    'Cropping2D',
    (r) => {
      r.channelsLast();
      return { cropping: r.get('cropping') };
    },
  ],
  UpSampling2D: [
    'UpSampling2D',
    (r) => {
      r.channelsLast();
      return { size: r.pair('size'), interpolation: r.get('interpolation') };
    },
  ],
  Reshape: ['Reshape', (r) => ({ targetShape: r.get('target_shape') })],
  Permute: ['Permute', (r) => ({ dims: r.get('dims') })],
};

/** The fixed input shape (without batch) of an InputLayer config, or a recorded problem. */
function inputShapeOf(r: Reader): number[] | null {
  const b = r.get('batch_shape') ?? r.get('batch_input_shape');
  const s = Array.isArray(b) ? b.slice(1) : r.get('input_shape');
  if (!Array.isArray(s) || s.length === 0) {
    r.problem(`no input shape (batch_shape, batch_input_shape or input_shape), got ${show(b ?? s)}`);
    return null;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 1)) {
    r.problem(`input shape (None, ${s.map((d) => d ?? 'None').join(', ')}) must have fixed positive sizes`);
    return null;
  }
  return s as number[];
}

/** One Keras layer entry -> a simdnet layer (null when a problem was recorded). */
function makeLayer(entry: Obj, ctx: Ctx, inputShape?: number[]): Layer | null {
  const cls = entry.class_name;
  const cfg = entry.config;
  if (typeof cls !== 'string') malformed(`a layer entry has no class_name: ${show(entry)}`);
  if (!isObj(cfg)) malformed(`layer entry of class ${cls} has no config object`);
  const name = typeof cfg.name === 'string' ? cfg.name : typeof entry.name === 'string' ? entry.name : undefined;
  const what = `${cls} ${show(name ?? '(unnamed)')}`;
  const r = new Reader(cfg, what, ctx);
  if (cls === 'InputLayer') {
    const s = inputShapeOf(r);
    return s ? new InputLayer({ shape: s, name }) : null;
  }
  const conv = CONVERTERS[cls];
  if (!conv) {
    const nested = cls === 'Sequential' || cls === 'Functional' || cls === 'Model';
    ctx.problems.push(
      `${what}: ${nested ? 'nested models are not supported (flatten the model)' : 'unsupported layer class'}`,
    );
    return null;
  }
  const before = ctx.problems.length;
  const opts: Obj = { ...conv[1](r), name };
  if (inputShape) opts.inputShape = inputShape;
  if (ctx.problems.length > before) return null;
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  if (cfg.trainable === false) opts.trainable = false;
  try {
    return createLayer(conv[0], opts, what);
  } catch (e) {
    ctx.problems.push(`${what}: ${(e as Error).message}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Topologies.

/** [layer name, node index, tensor index]: one output of one application of a layer. */
type NodeRef = [string, number, number];

function isRef(v: unknown): v is unknown[] {
  return Array.isArray(v) && typeof v[0] === 'string' && Number.isInteger(v[1]) && Number.isInteger(v[2]);
}

/** Keras 3 keras tensors anywhere in a node's args: their keras_history references, in order. */
function kerasHistories(v: unknown, out: NodeRef[]): void {
  if (Array.isArray(v)) for (const x of v) kerasHistories(x, out);
  else if (isObj(v)) {
    if (v.class_name === '__keras_tensor__') {
      const h = isObj(v.config) ? v.config.keras_history : undefined;
      if (!isRef(h)) malformed(`a keras tensor has no keras_history [layer, node, tensor]: ${show(v)}`);
      out.push([h[0] as string, h[1] as number, h[2] as number]);
    } else for (const x of Object.values(v)) kerasHistories(x, out);
  }
}

/** The inputs of each application of a layer, from Keras 2 lists of lists or Keras 3 {args, kwargs} nodes. */
function inboundNodes(entry: Obj, what: string, ctx: Ctx): NodeRef[][] {
  const nodes = entry.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) malformed(`${what}: inbound_nodes must be a list, got ${show(nodes)}`);
  return nodes.map((n, i) => {
    const refs: NodeRef[] = [];
    if (isObj(n)) {
      kerasHistories(n.args, refs);
      const kw: NodeRef[] = [];
      kerasHistories(n.kwargs, kw);
      if (kw.length > 0) ctx.problems.push(`${what}: node ${i} passes tensors as keyword arguments (not supported)`);
    } else if (Array.isArray(n)) {
      for (const r of n) {
        if (!isRef(r)) malformed(`${what}: node ${i} has an invalid input reference ${show(r)}`);
        refs.push([r[0] as string, r[1] as number, r[2] as number]);
      }
    } else malformed(`${what}: node ${i} is neither a list nor {args, kwargs}: ${show(n)}`);
    if (refs.length === 0) malformed(`${what}: node ${i} has no input tensors`);
    return refs;
  });
}

/** input_layers / output_layers: one [name, node, tensor] reference or a list of them. */
function refList(v: unknown, key: string): NodeRef[] {
  if (isRef(v)) return [[v[0] as string, v[1] as number, v[2] as number]];
  if (!Array.isArray(v) || v.length === 0 || !v.every(isRef)) {
    malformed(`${key} must be a list of [layer name, node index, tensor index], got ${show(v)}`);
  }
  return v.map((r) => [r[0] as string, r[1] as number, r[2] as number]);
}

function problemsError(ctx: Ctx): void {
  if (ctx.problems.length === 0) return;
  const n = ctx.problems.length;
  throw new Error(
    `loadLayersModel: the model cannot be loaded, ${n} problem${n > 1 ? 's' : ''}:\n  ${ctx.problems.join('\n  ')}`,
  );
}

function sequentialModel(config: unknown, ctx: Ctx): Model {
  // tfjs and Keras 2.1 wrote the layer list itself as the config.
  const cfg: Obj = Array.isArray(config) ? { layers: config } : isObj(config) ? config : malformed('no config');
  const entries = cfg.layers;
  if (!Array.isArray(entries) || entries.length === 0) malformed('a Sequential config needs a non-empty "layers" list');
  let inputShape: number[] | undefined;
  const b = cfg.build_input_shape;
  if (Array.isArray(b) && b.length > 1 && b.slice(1).every((d) => Number.isInteger(d) && d > 0))
    inputShape = b.slice(1);
  const layers: Layer[] = [];
  for (const e of entries) {
    if (!isObj(e)) malformed(`a layer entry is not an object: ${show(e)}`);
    if (e.class_name === 'InputLayer') {
      const l = makeLayer(e, ctx);
      if (l) inputShape = [...l.inputShape!];
      continue;
    }
    const c = isObj(e.config) ? e.config : {};
    // The first layer carries the input shape (Keras 2 / tfjs) unless an InputLayer did.
    let shape = layers.length === 0 ? inputShape : undefined;
    if (layers.length === 0 && !shape && (c.batch_input_shape || c.batch_shape)) {
      shape = inputShapeOf(new Reader(c, `${e.class_name} ${show(c.name)}`, ctx)) ?? undefined;
    }
    const l = makeLayer(e, ctx, shape);
    if (l) layers.push(l);
  }
  problemsError(ctx);
  if (!layers[0]?.inputShape)
    malformed('the Sequential model has no input shape (no InputLayer, batch_input_shape or build_input_shape)');
  try {
    return new Sequential({ layers, name: typeof cfg.name === 'string' ? cfg.name : undefined });
  } catch (e) {
    throw new Error(`loadLayersModel: ${(e as Error).message}`);
  }
}

function functionalModel(config: unknown, ctx: Ctx): Model {
  if (!isObj(config) || !Array.isArray(config.layers)) malformed('a functional config needs a "layers" list');
  const entries = config.layers as unknown[];
  const byName = new Map<string, Layer>();
  const nodes: Array<{ layer: Layer; refs: NodeRef[][] }> = [];
  for (const e of entries) {
    if (!isObj(e)) malformed(`a layer entry is not an object: ${show(e)}`);
    const l = makeLayer(e, ctx);
    const name = (isObj(e.config) && typeof e.config.name === 'string' ? e.config.name : e.name) as string;
    if (typeof name !== 'string') malformed(`a ${show(e.class_name)} layer of a functional model has no name`);
    const refs = e.class_name === 'InputLayer' ? [] : inboundNodes(e, `${e.class_name} ${show(name)}`, ctx);
    if (!l) continue;
    l.name = name;
    if (byName.has(name)) malformed(`two layers are named ${show(name)}`);
    byName.set(name, l);
    nodes.push({ layer: l, refs });
  }
  problemsError(ctx);
  const inputs = refList(config.input_layers, 'input_layers');
  const outputs = refList(config.output_layers, 'output_layers');
  const made = new Map<string, SymbolicTensor>();
  const key = (r: NodeRef) => `${r[0]}#${r[1]}`;
  for (const { layer } of nodes) if (layer instanceof InputLayer) made.set(`${layer.name}#0`, layer.output);
  const pending: Array<{ layer: Layer; index: number; refs: NodeRef[] }> = [];
  for (const { layer, refs } of nodes) {
    refs.forEach((rs, index) => {
      for (const r of rs) {
        if (!byName.has(r[0])) malformed(`layer ${show(layer.name)} takes input from unknown layer ${show(r[0])}`);
        if (r[2] !== 0)
          malformed(`layer ${show(layer.name)} reads output ${r[2]} of ${show(r[0])}, which has one output`);
      }
      pending.push({ layer, index, refs: rs });
    });
  }
  // Apply each node once its inputs exist, a layer's nodes in order; no progress in a pass means a cycle.
  while (pending.length > 0) {
    let progressed = false;
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      if (p.layer.inboundNodes.length !== p.index || !p.refs.every((r) => made.has(key(r)))) continue;
      const xs = p.refs.map((r) => made.get(key(r))!);
      try {
        made.set(`${p.layer.name}#${p.index}`, p.layer.apply(p.layer.arity === 1 && xs.length === 1 ? xs[0] : xs));
      } catch (e) {
        throw new Error(`loadLayersModel: ${(e as Error).message}`);
      }
      pending.splice(i--, 1);
      progressed = true;
    }
    if (!progressed) {
      const stuck = [...new Set(pending.map((p) => p.layer.name))].join(', ');
      malformed(`layers ${stuck} wait on outputs that never exist (a cycle or a missing node)`);
    }
  }
  const pick = (r: NodeRef, what: string) =>
    made.get(key(r)) ?? malformed(`${what} ${show(r)} is not a node of the graph`);
  try {
    return new Model({
      inputs: inputs.map((r) => pick(r, 'input')),
      outputs: outputs.map((r) => pick(r, 'output')),
      name: typeof config.name === 'string' ? config.name : undefined,
    });
  } catch (e) {
    throw new Error(`loadLayersModel: ${(e as Error).message}`);
  }
}

/** The model config {class_name, config} inside a topology, and whether it is a Keras 3 file. */
function modelConfig(topology: unknown): { cls: string; config: unknown; keras3: boolean } {
  if (!isObj(topology)) malformed(`modelTopology must be an object, got ${show(topology)}`);
  const mc = isObj(topology.model_config) ? topology.model_config : topology;
  const cls = mc.class_name;
  if (typeof cls !== 'string') malformed(`no class_name in the model config (keys: ${Object.keys(mc).join(', ')})`);
  const version = String(topology.keras_version ?? mc.keras_version ?? '');
  // Keras 3 writes "module"/"registered_name" keys and no keras_version in model.to_json().
  const keras3 = /^3\./.test(version) || (version === '' && ('module' in mc || 'registered_name' in mc));
  return { cls, config: mc.config, keras3 };
}

// ---------------------------------------------------------------------------------------------
// Weights.

const ROLES = new Set([
  'kernel',
  'bias',
  'gamma',
  'beta',
  'moving_mean',
  'moving_variance',
  'depthwise_kernel',
  'pointwise_kernel',
]);

/** Bytes per stored value of a spec; throws for dtypes that cannot be weights. */
function storedBytes(s: LayersWeightSpec): number {
  const q = s.quantization?.dtype;
  if (q !== undefined) {
    if (q === 'uint8') return 1;
    if (q === 'uint16' || q === 'float16') return 2;
    throw new Error(`loadLayersModel: weight ${s.name} has unknown quantization dtype ${show(q)}`);
  }
  if (s.dtype === 'float32' || s.dtype === 'int32') return 4;
  if (s.dtype === 'bool' || s.dtype === 'uint8') return 1;
  throw new Error(`loadLayersModel: weight ${s.name} has dtype ${show(s.dtype)}, which cannot be a weight`);
}

/** Bytes a manifest entry takes in the weight data (its values times the bytes each is stored in). */
export function weightSpecBytes(s: LayersWeightSpec): number {
  return s.shape.reduce((a, b) => a * b, 1) * storedBytes(s);
}

/** The float32 values of the spec stored at `bytes[offset..]`, dequantised. */
function decode(s: LayersWeightSpec, dv: DataView, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const q = s.quantization;
  if (q?.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = float16ToFloat32(dv.getUint16(offset + 2 * i, true));
  } else if (q) {
    const scale = q.scale,
      min = q.min;
    if (typeof scale !== 'number' || typeof min !== 'number' || !Number.isFinite(scale) || !Number.isFinite(min)) {
      throw new Error(`loadLayersModel: weight ${s.name} is quantised to ${q.dtype} without finite scale and min`);
    }
    for (let i = 0; i < n; i++) {
      const code = q.dtype === 'uint8' ? dv.getUint8(offset + i) : dv.getUint16(offset + 2 * i, true);
      out[i] = code * scale + min;
    }
  } else if (s.dtype === 'float32') {
    // Aligned float32 (the common case) is copied in one go; wasm and every host simdnet runs on are little-endian.
    const at = dv.byteOffset + offset;
    if (at % 4 === 0) out.set(new Float32Array(dv.buffer, at, n));
    else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  } else if (s.dtype === 'int32') {
    for (let i = 0; i < n; i++) out[i] = dv.getInt32(offset + 4 * i, true);
  } else {
    for (let i = 0; i < n; i++) out[i] = dv.getUint8(offset + i);
  }
  return out;
}

/** The weight bytes as one view (tfjs may hand several buffers). */
function toBytes(d: LayersWeightData | undefined): Uint8Array {
  if (d === undefined) return new Uint8Array(0);
  if (Array.isArray(d)) {
    const parts = d.map((b) => toBytes(b));
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  throw new Error(`loadLayersModel: weightData must be an ArrayBuffer, a list of them or a byte view, got ${show(d)}`);
}

/** "conv2d/kernel:0" -> ["conv2d", "kernel"]; outer scopes ("model/conv2d/kernel") are dropped. */
function layerAndRole(name: string): [string, string] | null {
  const parts = name.replace(/:\d+$/, '').split('/');
  return parts.length < 2 ? null : [parts[parts.length - 2], parts[parts.length - 1]];
}

function checkSpec(s: unknown, i: number): asserts s is LayersWeightSpec {
  if (
    !isObj(s) ||
    typeof s.name !== 'string' ||
    !Array.isArray(s.shape) ||
    !s.shape.every((d) => Number.isInteger(d) && d >= 0) ||
    typeof s.dtype !== 'string'
  ) {
    throw new Error(`loadLayersModel: weight spec ${i} must be {name, shape: integers, dtype}, got ${show(s)}`);
  }
}

/** Fills every weight of `model` from the specs and bytes; all problems in one error, nothing written before. */
function setWeights(model: Model, specs: LayersWeightSpec[], bytes: Uint8Array): void {
  model.build();
  specs.forEach(checkSpec);
  const need = specs.reduce((a, s) => a + weightSpecBytes(s), 0);
  if (need !== bytes.length) {
    throw new Error(
      `loadLayersModel: the weight specs describe ${need} bytes but the weight data has ${bytes.length} bytes`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const targets = new Map<string, { shape: readonly number[]; set: (v: Float32Array) => void; found: boolean }>();
  for (const l of model.layers) {
    for (const w of [...l.weights, ...l.stateWeights]) {
      const v = w.value;
      targets.set(w.name, { shape: v.shape, set: (a) => v.view().set(a), found: false });
    }
  }
  const problems: string[] = [];
  const writes: Array<() => void> = [];
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    const at = offset;
    offset += n * storedBytes(s);
    if (s.group === 'optimizer') continue;
    const lr = layerAndRole(s.name);
    const t = lr ? targets.get(`${lr[0]}/${lr[1]}`) : undefined;
    if (!t) {
      // Weights of roles simdnet has must land somewhere; other state (seed generators, counters) is skipped.
      if (lr && ROLES.has(lr[1])) problems.push(`weight ${s.name} matches no weight of the model`);
      continue;
    }
    if (t.found) {
      problems.push(`weight ${s.name} is given twice`);
      continue;
    }
    t.found = true;
    if (t.shape.join() !== s.shape.join()) {
      problems.push(`weight ${s.name} has shape [${s.shape}], the layer needs [${t.shape}]`);
      continue;
    }
    writes.push(() => t.set(decode(s, dv, at, n)));
  }
  for (const [name, t] of targets) if (!t.found) problems.push(`weight ${name} is missing from the weight specs`);
  if (problems.length > 0) {
    throw new Error(`loadLayersModel: the weights do not fit the model:\n  ${problems.join('\n  ')}`);
  }
  for (const w of writes) w();
}

/**
 * A simdnet model from the tfjs-layers format: tfjs' ModelArtifacts `{modelTopology, weightSpecs,
 * weightData}`, or the model.json object `{modelTopology, weightsManifest}` with the bytes of its shards
 * concatenated in manifest order as `weightData`. Sequential and functional models of Keras 2, Keras 3
 * and tfjs load, built from simdnet's layers, with weights matched by layer name and role and
 * quantised weights (uint8, uint16, float16) dequantised to float32. The model predicts, compiles,
 * fits and saves like any other.
 *
 * @throws one error listing every unsupported layer class or option (e.g. channels_first), a malformed
 *   topology, or weights that are missing, unmatched, of the wrong shape or of the wrong total size
 */
export function loadLayersModel(
  artifacts: LayersModelArtifacts | LayersModelJSON,
  weightData?: LayersWeightData,
): Model {
  if (!isObj(artifacts))
    throw new Error(`loadLayersModel: expected {modelTopology, weightSpecs, weightData}, got ${show(artifacts)}`);
  const a = artifacts as Obj;
  let specs: LayersWeightSpec[];
  if (Array.isArray(a.weightsManifest)) {
    specs = (a.weightsManifest as unknown[]).flatMap((g, i) => {
      if (!isObj(g) || !Array.isArray(g.weights))
        throw new Error(`loadLayersModel: weightsManifest group ${i} has no weights list`);
      return g.weights as LayersWeightSpec[];
    });
  } else if (Array.isArray(a.weightSpecs) || a.weightSpecs === undefined) {
    specs = (a.weightSpecs as LayersWeightSpec[] | undefined) ?? [];
  } else throw new Error(`loadLayersModel: weightSpecs must be a list, got ${show(a.weightSpecs)}`);
  const bytes = toBytes(weightData ?? (a.weightData as LayersWeightData | undefined));
  if (
    a.format === 'graph-model' ||
    a.modelTopology instanceof ArrayBuffer ||
    Array.isArray((a.modelTopology as Obj)?.node)
  ) {
    throw new Error(
      'loadLayersModel: this is a tfjs graph model (a TensorFlow graph, from a SavedModel), not a layers model; ' +
        'convert the Keras model with --input_format keras (or keras_saved_model) instead',
    );
  }
  const { cls, config, keras3 } = modelConfig(a.modelTopology);
  const ctx: Ctx = { keras3, problems: [] };
  let model: Model;
  if (cls === 'Sequential') model = sequentialModel(config, ctx);
  else if (cls === 'Model' || cls === 'Functional') model = functionalModel(config, ctx);
  else malformed(`the model class must be Sequential, Functional or Model, got ${show(cls)}`);
  try {
    try {
      model.build();
    } catch (e) {
      throw new Error(`loadLayersModel: ${(e as Error).message}`);
    }
    setWeights(model, specs, bytes);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Saving.

const TO_KERAS_ACTIVATION: Record<string, string | null> = {
  linear: 'linear',
  relu: 'relu',
  softmax: 'softmax',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  elu: 'elu',
  gelu: 'gelu',
  swish: 'swish',
  silu: 'swish',
  relu6: 'relu6',
  // tfjs' hard_sigmoid is Keras 2's clip(0.2 x + 0.5, 0, 1) and tfjs has no hard swish.
  hardSigmoid: null,
  hardSwish: null,
};

const pairOf = (v: unknown): number[] => (Array.isArray(v) ? [...v] : [v as number, v as number]);
const isOne = (v: unknown) => pairOf(v).every((x) => x === 1);

/** A layer's Keras config in the form tfjs-layers reads; problems tfjs cannot represent are recorded. */
function kerasConfig(l: Layer, problems: string[]): Obj {
  const c = l.getConfig() as Obj;
  const what = `${l.className} ${show(l.name)}`;
  const no = (msg: string) => problems.push(`${what}: ${msg}`);
  const act = () => {
    const a = TO_KERAS_ACTIVATION[c.activation as string];
    if (a === null || a === undefined) no(`activation ${show(c.activation)} has no tfjs-layers equivalent`);
    return a ?? 'linear';
  };
  const window = () => ({
    kernel_size: pairOf(c.kernelSize),
    strides: pairOf(c.strides),
    padding: c.padding,
    data_format: 'channels_last',
    dilation_rate: pairOf(c.dilationRate ?? 1),
    activation: act(),
    use_bias: c.useBias,
  });
  switch (l.className) {
    case 'Conv2D':
      if ((c.groups ?? 1) !== 1) no('grouped convolution (groups > 1) has no tfjs-layers equivalent');
      return { filters: c.filters, ...window() };
    case 'DepthwiseConv2D':
      // tfjs-layers reads dilation_rate but computes an undilated depthwise convolution.
      if (!isOne(c.dilationRate)) no('tfjs-layers ignores the dilation of DepthwiseConv2D');
      return { ...window(), depth_multiplier: c.depthMultiplier };
    case 'SeparableConv2D':
      return { filters: c.filters, ...window(), depth_multiplier: c.depthMultiplier };
    case 'Conv2DTranspose':
      if (!isOne(c.dilationRate) || c.outputPadding !== null) {
        no('tfjs-layers has no dilation or output_padding for Conv2DTranspose');
      }
      return { filters: c.filters, ...window() };
    case 'Dense':
      return { units: c.units, activation: act(), use_bias: c.useBias };
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return {
        pool_size: pairOf(c.poolSize),
        strides: pairOf(c.strides),
        padding: c.padding,
        data_format: 'channels_last',
      };
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      if (c.keepdims) no('tfjs-layers has no keepdims for global pooling');
      return { data_format: 'channels_last' };
    case 'BatchNormalization':
      return { axis: c.axis, momentum: c.momentum, epsilon: c.epsilon, center: c.center, scale: c.scale };
    case 'Dropout':
      return { rate: c.rate };
    case 'Flatten':
      return {};
    case 'Activation':
      return { activation: act() };
    case 'LeakyReLU':
      return { alpha: c.alpha };
    case 'ReLU':
      if (c.negativeSlope !== 0 || c.threshold !== 0) no('tfjs-layers has no negative_slope or threshold for ReLU');
      return { max_value: c.maxValue };
    case 'Softmax':
      return { axis: c.axis };
    case 'Add':
    case 'Multiply':
    case 'Average':
    case 'Maximum':
    case 'Minimum':
      return {};
    case 'Concatenate':
      return { axis: c.axis };
    case 'ZeroPadding2D':
      return { padding: c.padding, data_format: 'channels_last' };
    case 'Cropping2D':
      return { cropping: c.cropping, data_format: 'channels_last' };
    case 'UpSampling2D':
      // tfjs resizes bilinearly without half-pixel centers, unlike tf.keras and simdnet.
      if (c.interpolation !== 'nearest')
        no("tfjs-layers' bilinear UpSampling2D differs from Keras' (no half-pixel centers)");
      return { size: pairOf(c.size), interpolation: c.interpolation, data_format: 'channels_last' };
    case 'Reshape':
      return { target_shape: c.targetShape };
    case 'Permute':
      return { dims: c.dims };
    default:
      no('has no tfjs-layers equivalent');
      return {};
  }
}

/**
 * The model in the tfjs-layers format, as tfjs' ModelArtifacts: `tf.loadLayersModel(tf.io.fromMemory(a))`
 * reads it (and so does {@link loadLayersModel}). Weights are float32 under their Keras names, or
 * quantised as tensorflowjs_converter's `--quantize_uint8` / `--quantize_uint16` / `--quantize_float16`
 * do with `opts.quantize` (affine codes with zero exactly representable; error at most half a step).
 *
 * @throws one error listing every layer or option tfjs-layers cannot represent faithfully (grouped
 *   convolution, a dilated DepthwiseConv2D, hard sigmoid, Subtract, ...)
 */
export function saveLayersModel(model: Model, opts: SaveLayersOptions = {}): LayersModelArtifacts {
  if (!(model instanceof Model)) throw new Error(`saveLayersModel: expected a simdnet model, got ${show(model)}`);
  if (!isObj(opts) || Object.keys(opts).some((k) => k !== 'quantize')) {
    throw new Error(`saveLayersModel: options must be {quantize?}, got ${show(opts)}`);
  }
  const q = opts.quantize;
  if (q !== undefined && q !== 'uint8' && q !== 'uint16' && q !== 'float16') {
    throw new Error(`saveLayersModel: quantize must be 'uint8', 'uint16' or 'float16', got ${show(q)}`);
  }
  model.build();
  const problems: string[] = [];
  const layerEntry = (l: Layer): Obj => ({
    class_name: l.className,
    config: {
      ...kerasConfig(l, problems),
      name: l.name,
      trainable: l.trainable,
      dtype: 'float32',
    },
  });
  let topology: Obj;
  if (model.isSequential) {
    const entries = model.layers.map(layerEntry);
    (entries[0].config as Obj).batch_input_shape = [null, ...model.inputShape];
    topology = { class_name: 'Sequential', config: { name: model.name, layers: entries } };
  } else {
    const nodeIndex = new Map<unknown, number>();
    const count = new Map<Layer, number>();
    const inbound = new Map<Layer, unknown[]>();
    const ref = (t: SymbolicTensor) => [t.node.layer.name, nodeIndex.get(t.node)!, 0, {}];
    for (const t of model.inputs) nodeIndex.set(t.node, 0);
    for (const st of model.steps) {
      const n = count.get(st.layer) ?? 0;
      count.set(st.layer, n + 1);
      nodeIndex.set(st.node, n);
      inbound.set(st.layer, [...(inbound.get(st.layer) ?? []), st.node!.inputs.map(ref)]);
    }
    const entries = model.layers.map((l) => {
      if (l instanceof InputLayer) {
        return {
          name: l.name,
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, ...l.inputShape!], dtype: 'float32', sparse: false, name: l.name },
          inbound_nodes: [],
        };
      }
      return { name: l.name, ...layerEntry(l), inbound_nodes: inbound.get(l) ?? [] };
    });
    const refs = (ts: SymbolicTensor[]) => ts.map((t) => ref(t).slice(0, 3));
    topology = {
      class_name: 'Model',
      config: {
        name: model.name,
        layers: entries,
        input_layers: refs(model.inputs),
        output_layers: refs(model.outputs),
      },
    };
  }
  if (problems.length > 0) {
    throw new Error(`saveLayersModel: tfjs-layers cannot represent this model:\n  ${problems.join('\n  ')}`);
  }
  const weights = model.layers.flatMap((l) => [...l.weights, ...l.stateWeights]);
  const parts = weights.map((w) => encode(w.value.view(), q));
  const data = new Uint8Array(parts.reduce((a, p) => a + p.bytes.length, 0));
  let at = 0;
  const weightSpecs: LayersWeightSpec[] = weights.map((w, i) => {
    data.set(parts[i].bytes, at);
    at += parts[i].bytes.length;
    const spec: LayersWeightSpec = { name: w.name, shape: [...w.value.shape], dtype: 'float32' };
    return parts[i].quantization ? { ...spec, quantization: parts[i].quantization } : spec;
  });
  return {
    modelTopology: { ...topology, keras_version: 'simdnet', backend: 'simdnet' },
    format: 'layers-model',
    generatedBy: 'simdnet',
    convertedBy: null,
    weightSpecs,
    weightData: data.buffer,
  };
}

/** Options of {@link saveLayersModel}. */
export interface SaveLayersOptions {
  /** Store weights as 1- or 2-byte affine codes or as float16 (tfjs dequantises them on load). */
  quantize?: 'uint8' | 'uint16' | 'float16';
}

/** Little-endian bytes of one weight, float32 or quantised. */
function encode(
  v: Float32Array,
  q: SaveLayersOptions['quantize'],
): { bytes: Uint8Array; quantization?: LayersWeightSpec['quantization'] } {
  const dv = (n: number) => {
    const b = new Uint8Array(n);
    return { b, d: new DataView(b.buffer) };
  };
  if (q === undefined) {
    const { b, d } = dv(v.length * 4);
    for (let i = 0; i < v.length; i++) d.setFloat32(4 * i, v[i], true);
    return { bytes: b };
  }
  if (q === 'float16') {
    const { b, d } = dv(v.length * 2);
    for (let i = 0; i < v.length; i++) d.setUint16(2 * i, float32ToFloat16(v[i]), true);
    return { bytes: b, quantization: { dtype: 'float16' } };
  }
  // The range is widened to hold 0 and the grid shifted (by under half a step) so that 0 is a code:
  // zero biases and padding stay exactly zero.
  const levels = q === 'uint8' ? 255 : 65535;
  let lo = 0,
    hi = 0;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const scale = hi > lo ? (hi - lo) / levels : 1;
  const zero = Math.round(-lo / scale);
  const { b, d } = dv(v.length * (q === 'uint8' ? 1 : 2));
  for (let i = 0; i < v.length; i++) {
    const c = Math.min(levels, Math.max(0, Math.round(v[i] / scale) + zero));
    if (q === 'uint8') d.setUint8(i, c);
    else d.setUint16(2 * i, c, true);
  }
  return { bytes: b, quantization: { dtype: q, scale, min: -zero * scale } };
}

/** The model.json object of artifacts whose weights are written to the shard files `paths` (in order). */
export function layersModelJSON(a: LayersModelArtifacts, paths: string[]): LayersModelJSON {
  return {
    format: a.format ?? 'layers-model',
    generatedBy: a.generatedBy ?? 'simdnet',
    convertedBy: a.convertedBy ?? null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths, weights: a.weightSpecs ?? [] }],
  };
}

/**
 * Fetches a tfjs-layers model.json and the weight shards its manifest names (URLs relative to it), then
 * loads it with {@link loadLayersModel}: the browser way to open a tensorflowjs_converter output
 * directory served over HTTP. Errors name the URL that failed or whose size is wrong.
 *
 * @param fetchFn the fetch to use (default: the global one)
 */
export async function loadLayersModelURL(url: string | URL, fetchFn: typeof fetch = globalThis.fetch): Promise<Model> {
  const get = async (u: URL): Promise<Response> => {
    let r: Response;
    try {
      r = await fetchFn(u.href);
    } catch (e) {
      throw new Error(`loadLayersModelURL: cannot fetch ${u.href}: ${(e as Error).message}`);
    }
    if (!r.ok) throw new Error(`loadLayersModelURL: ${u.href} answered ${r.status} ${r.statusText}`);
    return r;
  };
  const base = new URL(String(url), globalThis.location?.href);
  let json: LayersModelJSON;
  try {
    json = (await (await get(base)).json()) as LayersModelJSON;
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith('loadLayersModelURL') ? m : `loadLayersModelURL: ${base.href} is not JSON: ${m}`);
  }
  if (!isObj(json) || !Array.isArray(json.weightsManifest)) {
    throw new Error(`loadLayersModelURL: ${base.href} has no weightsManifest list (is it a tfjs layers model.json?)`);
  }
  const parts: Uint8Array[] = [];
  for (const [i, g] of json.weightsManifest.entries()) {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`loadLayersModelURL: ${base.href}: weightsManifest group ${i} needs "paths" and "weights" lists`);
    }
    g.weights.forEach(checkSpec);
    const need = g.weights.reduce((a, s) => a + weightSpecBytes(s), 0);
    const urls = g.paths.map((p) => new URL(String(p), base));
    let got = 0;
    for (const u of urls) {
      const b = new Uint8Array(await (await get(u)).arrayBuffer());
      parts.push(b);
      got += b.length;
    }
    if (got !== need) {
      throw new Error(
        `loadLayersModelURL: weight shards ${urls.map((u) => u.href).join(', ')} hold ${got} bytes, ` +
          `the weights of manifest group ${i} need ${need}`,
      );
    }
  }
  return loadLayersModel(json, parts);
}
