// ONNX export of a model — Sequential or functional graph — (ir_version 8, opset 13), runnable by
// onnxruntime and other ONNX engines. simdnet is channels-last (NHWC) and ONNX's Conv/MaxPool/
// AveragePool are NCHW, so every value of the graph is held in the layout its producer made, and a
// Transpose is written the first time a consumer needs the other one (then reused):
//   input [N,H,W,C] → Transpose(0,3,1,2) before the first convolution or pooling → NCHW ops →
//   Transpose(0,2,3,1) back to NHWC before Flatten
// which makes the flattened order simdnet's, so the Dense kernels are written unchanged. Merges
// (Add/Sub/Mul/Max/Min, Mean for average, Concat) run in NCHW when all their inputs are NCHW images,
// else in NHWC; ONNX's numpy broadcasting is Keras' (aligned on the right, batch axes equal).
// 'same' padding becomes explicit pads computed by simdnet's own geometry (TF semantics: the extra
// pixel goes bottom/right); AveragePooling2D excludes padding from the divisor (count_include_pad=0),
// as simdnet's avgPool2d does. Dropout is the identity at inference and writes nothing.
// BatchNormalization is exported in inference form (moving statistics, BatchNormalization op with C
// on axis 1); the global pools become GlobalAveragePool/GlobalMaxPool + Flatten; the exact GELU has
// no opset-13 op and is written as 0.5·x·(1 + Erf(x/√2)).
// ZeroPadding2D → Pad, Cropping2D → Slice, UpSampling2D → Resize (nearest: asymmetric + floor, which
// is pixel repetition; bilinear: linear with half_pixel, TF's resize), all on the current layout's
// H and W axes; Reshape and Permute work on simdnet's element order, so they go back to NHWC first
// (Reshape keeps the batch dim with 0). ReLU → Relu / Clip, or Where(x > t, Min(x, max), slope·(x - t))
// in general; relu6 → Clip(0, 6); hardSigmoid → HardSigmoid(1/6, 1/2); hardSwish (no opset-13 op) →
// x·HardSigmoid(x); swish/silu → x·Sigmoid(x).
// Convolutions: Conv2D is Conv with its dilations and group; DepthwiseConv2D is Conv with group = C
// (kernel (KH, KW, C, M) read as (KH, KW, 1, C*M)); SeparableConv2D is that Conv then a 1x1 Conv;
// Conv2DTranspose is ConvTranspose with explicit pads (and output_padding where Keras' output is
// larger than the taps reach, i.e. kernel < stride with 'valid').
import type { Model } from '../../nn/model.js';
import type { Layer } from '../../nn/layer.js';
import {
  conv2dTransposeShape,
  convGeometry,
  type ConvWindowOptions,
  windowGeometry,
  type Padding,
} from '../../geom.js';
import { AttributeType, DataType, onnxType } from './onnx-schema.js';
import { show } from '../../show.js';

/** ONNX IR version and default-domain opset the exporter writes. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;

/** Layer classes {@link toONNX} can write. */
export const ONNX_SUPPORTED_LAYERS = [
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'Conv2DTranspose',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Dense',
  'Dropout',
  'Activation',
  'LeakyReLU',
  'BatchNormalization',
  'ZeroPadding2D',
  'Cropping2D',
  'UpSampling2D',
  'Reshape',
  'Permute',
  'ReLU',
  'Softmax',
  'Add',
  'Subtract',
  'Multiply',
  'Average',
  'Maximum',
  'Minimum',
  'Concatenate',
  'PRelu',
  'Clip',
  'ScaledElu',
  'HardSigmoid',
  'LogSoftmax',
  'Slice',
  'Affine',
  'Pool2D',
  // Training-only augmentation: identity at inference, so nothing is exported.
  'RandomTranslation',
  'RandomRotation',
  'RandomZoom',
  'RandomContrast',
] as const;

const MERGE_OPS: Record<string, string> = {
  Add: 'Add',
  Subtract: 'Sub',
  Multiply: 'Mul',
  Average: 'Mean',
  Maximum: 'Max',
  Minimum: 'Min',
};
/** ONNX ops that take any number of inputs (the others are chained pairwise). */
const VARIADIC = new Set(['Mean', 'Max', 'Min']);

/** A value of the graph: its names in the layouts made so far, the one its producer wrote, its rank. */
interface Val {
  nhwc: string | null;
  nchw: string | null;
  primary: 'nhwc' | 'nchw';
  rank: number;
}

/** Options of {@link toONNX}. */
export interface ToONNXOptions {
  /** Graph name (default: the model's name). */
  graphName?: string;
  /** ModelProto.doc_string. */
  docString?: string;
}

interface Attr {
  name: string;
  type: number;
  i?: number;
  f?: number;
  ints?: number[];
  s?: Uint8Array;
}
interface NodeObj {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: Attr[];
}
interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

const ints = (name: string, v: number[]): Attr => ({ name, type: AttributeType.INTS, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: AttributeType.INT, i: v });
const float = (name: string, v: number): Attr => ({ name, type: AttributeType.FLOAT, f: v });
const str = (name: string, v: string): Attr => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(v) });

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

/** (KH, KW, C, K) → (K, C, KH, KW). */
function hwioToOihw(w: Float32Array, KH: number, KW: number, C: number, K: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      for (let c = 0; c < C; c++) {
        const src = ((i * KW + j) * C + c) * K;
        for (let k = 0; k < K; k++) out[((k * C + c) * KH + i) * KW + j] = w[src + k];
      }
    }
  }
  return out;
}

/** Keras' Conv2DTranspose kernel (KH, KW, F, C) → ONNX ConvTranspose's (C, F, KH, KW). */
function hwioToIohw(w: Float32Array, KH: number, KW: number, F: number, C: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      for (let f = 0; f < F; f++) {
        const src = ((i * KW + j) * F + f) * C;
        for (let c = 0; c < C; c++) out[((c * F + f) * KH + i) * KW + j] = w[src + c];
      }
    }
  }
  return out;
}

/** The weight or state of `layer` whose name ends in `/suffix`, as a float32 copy, or null. */
function weightData(layer: Layer, suffix: string): { data: Float32Array; shape: number[] } | null {
  const w = [...layer.weights, ...layer.stateWeights].find(
    (x) => x.name === `${layer.name}/${suffix}` || x.name.endsWith(`/${suffix}`),
  );
  if (!w) return null;
  const d = w.value.dataSync();
  return { data: d instanceof Float32Array ? d : Float32Array.from(d), shape: [...w.value.shape] };
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/**
 * The model as an ONNX ModelProto (ir_version 8, opset 13): input `input` float32 [N, H, W, C]
 * (channels last, as simdnet; N symbolic), output `output` [N, ...model.outputShape] (the
 * probabilities when the model ends in softmax). A graph with several inputs or outputs names them
 * after its InputLayers and `output_0`, `output_1`, ... Builds the model first if it has no weights
 * yet. Throws naming the layer when a layer has no ONNX equivalent here.
 */
export function toONNX(model: Model, opts: ToONNXOptions = {}): Uint8Array {
  if (model.layers.length === 0) throw new Error('toONNX: the model has no layers');
  for (const l of model.layers) {
    if (l.className === 'InputLayer') continue;
    if (!(ONNX_SUPPORTED_LAYERS as readonly string[]).includes(l.className)) {
      throw new Error(
        `toONNX: layer ${l.name} (${l.className}) cannot be exported to ONNX; supported layers: ${ONNX_SUPPORTED_LAYERS.join(', ')}`,
      );
    }
  }
  model.build();
  const inShapes = model.inputShapes;
  const inNames = inShapes.length === 1 ? ['input'] : model.inputs.map((t) => t.node.layer.name);
  const outShapes = model.outputShapes;
  const outNames = outShapes.length === 1 ? ['output'] : outShapes.map((_, i) => `output_${i}`);

  const nodes: NodeObj[] = [];
  const inits: TensorObj[] = [];
  const used = new Set<string>([...inNames, ...outNames]);
  const unique = (base: string): string => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  let cur = '';
  // The value a layer reads, while nothing has been written for the layer yet (its transposes are cached).
  let curVal: Val | null = null;
  /** Appends a node with one output and makes that output current. */
  const node = (opType: string, name: string, inputs: string[], attribute: Attr[] = []): string => {
    const out = unique(`${name}/${opType}_output`);
    nodes.push({ name: unique(`${name}/${opType}`), op_type: opType, input: inputs, output: [out], attribute });
    cur = out;
    curVal = null;
    return out;
  };
  const init = (name: string, data: Float32Array, dims: number[]): string => {
    const n = unique(name);
    inits.push({ name: n, dims, data_type: DataType.FLOAT, raw_data: f32Bytes(data) });
    return n;
  };
  const initInt64 = (name: string, values: number[]): string => {
    const n = unique(name);
    const raw = new Uint8Array(values.length * 8);
    const dv = new DataView(raw.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    inits.push({ name: n, dims: [values.length], data_type: DataType.INT64, raw_data: raw });
    return n;
  };
  const initI64 = (name: string, data: number[]): string => {
    const n = unique(name);
    inits.push({ name: n, dims: [data.length], data_type: DataType.INT64, raw_data: i64Bytes(data) });
    return n;
  };
  const scalarInit = (name: string, v: number) => init(name, Float32Array.of(v), []);
  /** Keras ReLU on cur: x > t ? min(x, maxValue) : slope * (x - t). */
  const relu = (name: string, maxValue: number | null, slope: number, t: number) => {
    if (slope === 0 && t === 0) {
      if (maxValue === null) node('Relu', name, [cur]);
      else node('Clip', name, [cur, scalarInit(`${name}/min`, 0), scalarInit(`${name}/max`, maxValue)]);
      return;
    }
    const x = cur,
      tt = scalarInit(`${name}/threshold`, t);
    const pos = maxValue === null ? x : node('Min', name, [x, scalarInit(`${name}/max`, maxValue)]);
    const neg = node('Mul', name, [node('Sub', name, [x, tt]), scalarInit(`${name}/slope`, slope)]);
    node('Where', name, [node('Greater', name, [x, tt]), pos, neg]);
  };
  /** Axis of the current layout holding NHWC axis a (0..3) of a rank-4 image. */
  const imageAxis = (a: number) => (layout === 'nchw' ? [0, 2, 3, 1][a] : a);

  // 'nhwc': values as simdnet holds them (any rank); 'nchw': a rank-4 image transposed for ONNX.
  let layout: 'nhwc' | 'nchw' = 'nhwc';
  let rank = 0;
  const toNCHW = (name: string, what: string) => {
    if (layout === 'nchw') return;
    if (curVal?.nchw) {
      cur = curVal.nchw;
      layout = 'nchw';
      return;
    }
    if (rank !== 4) throw new Error(`toONNX: layer ${name} (${what}) needs a [height, width, channels] input`);
    const v = curVal;
    node('Transpose', name, [cur], [ints('perm', [0, 3, 1, 2])]);
    if (v) {
      v.nchw = cur;
      curVal = v;
    }
    layout = 'nchw';
  };
  const toNHWC = (name: string) => {
    if (layout !== 'nchw') return;
    if (curVal?.nhwc) {
      cur = curVal.nhwc;
      layout = 'nhwc';
      return;
    }
    const v = curVal;
    node('Transpose', name, [cur], [ints('perm', [0, 2, 3, 1])]);
    if (v) {
      v.nhwc = cur;
      curVal = v;
    }
    layout = 'nhwc';
  };
  /** Makes v current, in the layout its producer wrote. */
  const use = (v: Val) => {
    layout = v.primary;
    cur = (v.primary === 'nchw' ? v.nchw : v.nhwc)!;
    rank = v.rank;
    curVal = v;
  };
  const vals: Val[] = inShapes.map((sh, i) => ({ nhwc: inNames[i], nchw: null, primary: 'nhwc', rank: sh.length + 1 }));
  const activation = (act: unknown, name: string) => {
    if (act === 'relu') node('Relu', name, [cur]);
    else if (act === 'sigmoid') node('Sigmoid', name, [cur]);
    else if (act === 'tanh') node('Tanh', name, [cur]);
    else if (act === 'elu') node('Elu', name, [cur], [float('alpha', 1)]);
    else if (act === 'relu6') relu(name, 6, 0, 0);
    else if (act === 'hardSigmoid') node('HardSigmoid', name, [cur], [float('alpha', 1 / 6), float('beta', 0.5)]);
    else if (act === 'hardSwish' || act === 'swish' || act === 'silu') {
      const x = cur;
      if (act === 'hardSwish') node('HardSigmoid', name, [x], [float('alpha', 1 / 6), float('beta', 0.5)]);
      else node('Sigmoid', name, [x]);
      node('Mul', name, [x, cur]);
    } else if (act === 'gelu') {
      const x = cur;
      const one = init(`${name}/gelu_one`, Float32Array.of(1), []);
      const half = init(`${name}/gelu_half`, Float32Array.of(0.5), []);
      const sqrt2 = init(`${name}/gelu_sqrt2`, Float32Array.of(Math.SQRT2), []);
      node('Div', name, [x, sqrt2]);
      node('Erf', name, [cur]);
      node('Add', name, [cur, one]);
      node('Mul', name, [x, cur]);
      node('Mul', name, [cur, half]);
    } else if (act === 'softmax') {
      // simdnet's softmax is over the last axis: channels, i.e. axis 1 once transposed to NCHW.
      node('Softmax', name, [cur], [int('axis', layout === 'nchw' ? 1 : rank - 1)]);
    } else if (act !== 'linear' && act !== undefined && act !== null) {
      throw new Error(`toONNX: layer ${name}: activation ${show(act)} cannot be exported`);
    }
  };

  for (const st of model.steps) {
    const layer = st.layer;
    const name = layer.name;
    const cfg = layer.getConfig() as Record<string, unknown>;
    const s = st.inShapes[0];
    const merge = MERGE_OPS[layer.className];
    if (merge || layer.className === 'Concatenate') {
      const ins = st.inputs.map((i) => vals[i]);
      const r = Math.max(...ins.map((v) => v.rank));
      // NCHW when the images already are; a (N, C) input then broadcasts as (N, C, 1, 1).
      const nchw = r === 4 && ins.every((v) => (v.rank === 4 && v.primary === 'nchw') || v.rank === 2);
      const names = ins.map((v) => {
        use(v);
        if (nchw && v.rank === 4) toNCHW(name, layer.className);
        else toNHWC(name);
        if (v.rank < r) {
          // Keras inserts the missing axes after the batch axis: (N, C) -> (N, 1, 1, C).
          const axes = nchw ? [2, 3] : Array.from({ length: r - v.rank }, (_, i) => i + 1);
          node('Unsqueeze', name, [cur, initInt64(`${name}/unsqueeze_axes`, axes)]);
        }
        return cur;
      });
      if (merge && VARIADIC.has(merge)) node(merge, name, names);
      else if (merge) {
        let acc = names[0];
        for (const n of names.slice(1)) acc = node(merge, name, [acc, n]);
      } else {
        const a = cfg.axis as number;
        const ax = a < 0 ? a + r : a;
        node('Concat', name, names, [int('axis', nchw ? [0, 2, 3, 1][ax] : ax)]);
      }
      vals[st.output] = nchw
        ? { nhwc: null, nchw: cur, primary: 'nchw', rank: r }
        : { nhwc: cur, nchw: null, primary: 'nhwc', rank: r };
      continue;
    }
    use(vals[st.inputs[0]]);
    switch (layer.className) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const what = layer.className;
        toNCHW(name, what);
        const [KH, KW] = pair(cfg.kernelSize);
        const [H, W, C] = s;
        const g = convGeometry(name, H, W, KH, KW, cfg as ConvWindowOptions);
        const { SH, SW, DH, DW } = g;
        const window = [
          ints('kernel_shape', [KH, KW]),
          ints('strides', [SH, SW]),
          ints('dilations', [DH, DW]),
          ints('pads', [g.pad.top, g.pad.left, g.pad.bottom, g.pad.right]),
        ];
        const bias = (K: number): string[] => {
          if (cfg.useBias === false) return [];
          const b = weightData(layer, 'bias');
          if (!b || b.data.length !== K)
            throw new Error(`toONNX: layer ${name} (${what}) has useBias but no bias of ${K} values`);
          return [init(`${name}/bias`, b.data, [K])];
        };
        if (what === 'Conv2D') {
          const G = (cfg.groups as number | undefined) ?? 1;
          const K = cfg.filters as number;
          const kernel = weightData(layer, 'kernel');
          if (!kernel || kernel.shape.join() !== [KH, KW, C / G, K].join()) {
            throw new Error(`toONNX: layer ${name} (Conv2D) has no kernel of shape [${[KH, KW, C / G, K]}]`);
          }
          const w = init(`${name}/kernel`, hwioToOihw(kernel.data, KH, KW, C / G, K), [K, C / G, KH, KW]);
          node('Conv', name, [cur, w, ...bias(K)], [...window, int('group', G)]);
        } else {
          const M = cfg.depthMultiplier as number;
          const dk = weightData(layer, 'depthwise_kernel');
          if (!dk || dk.shape.join() !== [KH, KW, C, M].join()) {
            throw new Error(`toONNX: layer ${name} (${what}) has no depthwise_kernel of shape [${[KH, KW, C, M]}]`);
          }
          // Output channel c*M + m of group c: the (KH, KW, C, M) kernel is the (KH, KW, 1, C*M) one.
          const w = init(`${name}/depthwise_kernel`, hwioToOihw(dk.data, KH, KW, 1, C * M), [C * M, 1, KH, KW]);
          if (what === 'DepthwiseConv2D') {
            node('Conv', name, [cur, w, ...bias(C * M)], [...window, int('group', C)]);
          } else {
            node('Conv', name, [cur, w], [...window, int('group', C)]);
            const F = cfg.filters as number;
            const pk = weightData(layer, 'pointwise_kernel');
            if (!pk || pk.shape.join() !== [1, 1, C * M, F].join()) {
              throw new Error(
                `toONNX: layer ${name} (SeparableConv2D) has no pointwise_kernel of shape [${[1, 1, C * M, F]}]`,
              );
            }
            const pw = init(`${name}/pointwise_kernel`, hwioToOihw(pk.data, 1, 1, C * M, F), [F, C * M, 1, 1]);
            node(
              'Conv',
              name,
              [cur, pw, ...bias(F)],
              [
                ints('kernel_shape', [1, 1]),
                ints('strides', [1, 1]),
                ints('dilations', [1, 1]),
                ints('pads', [0, 0, 0, 0]),
                int('group', 1),
              ],
            );
          }
        }
        activation(cfg.activation, name);
        break;
      }
      case 'Conv2DTranspose': {
        toNCHW(name, 'Conv2DTranspose');
        const [KH, KW] = pair(cfg.kernelSize);
        const [SH, SW] = pair(cfg.strides ?? 1);
        const [DH, DW] = pair(cfg.dilationRate ?? 1);
        const [H, W, C] = s;
        const F = cfg.filters as number;
        const [OH, OW] = st.outShape;
        const t = conv2dTransposeShape(
          H,
          W,
          KH,
          KW,
          {
            strides: [SH, SW],
            dilationRate: [DH, DW],
            padding: cfg.padding as 'valid' | 'same',
            outputPadding: cfg.outputPadding as [number, number] | null,
          },
          name,
        );
        const kernel = weightData(layer, 'kernel');
        if (!kernel || kernel.shape.join() !== [KH, KW, F, C].join()) {
          throw new Error(`toONNX: layer ${name} (Conv2DTranspose) has no kernel of shape [${[KH, KW, F, C]}]`);
        }
        // ONNX: out = S*(in-1) + output_padding + (k-1)*D+1 - pad_begin - pad_end. Keras' 'valid' with a
        // kernel smaller than the stride has rows no tap reaches: they become output_padding, not a negative pad.
        const end = (n: number, k: number, st: number, d: number, o: number, b: number) =>
          st * (n - 1) + (k - 1) * d + 1 - o - b;
        const eh = end(H, KH, SH, DH, OH, t.PT),
          ew = end(W, KW, SW, DW, OW, t.PL);
        const b = cfg.useBias === false ? null : weightData(layer, 'bias');
        if (cfg.useBias !== false && (!b || b.data.length !== F))
          throw new Error(`toONNX: layer ${name} (Conv2DTranspose) has useBias but no bias of ${F} values`);
        // ONNX's ConvTranspose weight is (C_in, C_out, KH, KW).
        const w = init(`${name}/kernel`, hwioToIohw(kernel.data, KH, KW, F, C), [C, F, KH, KW]);
        node(
          'ConvTranspose',
          name,
          [cur, w, ...(b ? [init(`${name}/bias`, b.data, [F])] : [])],
          [
            ints('kernel_shape', [KH, KW]),
            ints('strides', [SH, SW]),
            ints('dilations', [DH, DW]),
            int('group', 1),
            ints('pads', [t.PT, t.PL, Math.max(eh, 0), Math.max(ew, 0)]),
            ints('output_padding', [Math.max(-eh, 0), Math.max(-ew, 0)]),
          ],
        );
        activation(cfg.activation, name);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        toNCHW(name, layer.className);
        const [KH, KW] = pair(cfg.poolSize);
        const [SH, SW] = pair(cfg.strides ?? cfg.poolSize);
        const g = windowGeometry(name, s[0], s[1], KH, KW, SH, SW, cfg.padding as Padding);
        const attrs = [
          ints('kernel_shape', [KH, KW]),
          ints('strides', [SH, SW]),
          ints('pads', [g.pad.top, g.pad.left, g.pad.bottom, g.pad.right]),
        ];
        if (layer.className === 'MaxPooling2D') node('MaxPool', name, [cur], attrs);
        else node('AveragePool', name, [cur], [...attrs, int('count_include_pad', 0)]);
        break;
      }
      case 'Flatten': {
        toNHWC(name);
        if (rank > 2) node('Flatten', name, [cur], [int('axis', 1)]);
        rank = 2;
        break;
      }
      case 'Dense': {
        if (rank !== 2)
          throw new Error(`toONNX: layer ${name} (Dense) needs a flat input; add a Flatten layer before it`);
        const IN = s[0];
        const OUT = cfg.units as number;
        const kernel = weightData(layer, 'kernel');
        if (!kernel || kernel.shape.join() !== [IN, OUT].join()) {
          throw new Error(`toONNX: layer ${name} (Dense) has no kernel of shape [${[IN, OUT]}]`);
        }
        const inputs = [cur, init(`${name}/kernel`, kernel.data, [IN, OUT])];
        if (cfg.useBias !== false) {
          const bias = weightData(layer, 'bias');
          if (!bias) throw new Error(`toONNX: layer ${name} (Dense) has useBias but no bias weight`);
          inputs.push(init(`${name}/bias`, bias.data, [OUT]));
        }
        node('Gemm', name, inputs, [int('transA', 0), int('transB', 0)]);
        activation(cfg.activation, name);
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        toNCHW(name, layer.className);
        node(layer.className === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', name, [cur]);
        // keepdims: the [N, C, 1, 1] result stays an NCHW image ([N, 1, 1, C] once back in NHWC).
        if (cfg.keepdims === true) break;
        node('Flatten', name, [cur], [int('axis', 1)]);
        layout = 'nhwc';
        rank = 2;
        break;
      }
      case 'ZeroPadding2D':
      case 'Cropping2D': {
        if (rank !== 4) {
          throw new Error(`toONNX: layer ${name} (${layer.className}) needs a [height, width, channels] input`);
        }
        type Sides = [[number, number], [number, number]];
        const [[t, b], [l, r]] = (layer.className === 'ZeroPadding2D' ? cfg.padding : cfg.cropping) as Sides;
        const [h, w] = [imageAxis(1), imageAxis(2)];
        if (layer.className === 'ZeroPadding2D') {
          const pads = new Array<number>(8).fill(0);
          pads[h] = t;
          pads[w] = l;
          pads[4 + h] = b;
          pads[4 + w] = r;
          node('Pad', name, [cur, initI64(`${name}/pads`, pads)], [str('mode', 'constant')]);
        } else {
          node('Slice', name, [
            cur,
            initI64(`${name}/starts`, [t, l]),
            initI64(`${name}/ends`, [s[0] - b, s[1] - r]),
            initI64(`${name}/axes`, [h, w]),
          ]);
        }
        break;
      }
      case 'UpSampling2D': {
        toNCHW(name, 'UpSampling2D');
        const [SH, SW] = cfg.size as [number, number];
        const scales = init(`${name}/scales`, Float32Array.of(1, 1, SH, SW), [4]);
        const attrs =
          cfg.interpolation === 'bilinear'
            ? [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')]
            : [
                str('mode', 'nearest'),
                str('coordinate_transformation_mode', 'asymmetric'),
                str('nearest_mode', 'floor'),
              ];
        node('Resize', name, [cur, '', scales], attrs);
        break;
      }
      case 'Reshape': {
        toNHWC(name);
        const out = st.outShape;
        node('Reshape', name, [cur, initI64(`${name}/shape`, [0, ...out])]);
        rank = out.length + 1;
        break;
      }
      case 'Permute':
        toNHWC(name);
        node('Transpose', name, [cur], [ints('perm', [0, ...(cfg.dims as number[])])]);
        break;
      case 'ReLU':
        relu(name, cfg.maxValue as number | null, cfg.negativeSlope as number, cfg.threshold as number);
        break;
      case 'Softmax': {
        const a = (cfg.axis as number) < 0 ? (cfg.axis as number) + rank : (cfg.axis as number);
        node('Softmax', name, [cur], [int('axis', rank === 4 ? imageAxis(a) : a)]);
        break;
      }
      case 'BatchNormalization': {
        // Channels are the last axis: axis 1 once an image is NCHW, and already axis 1 for [N, C].
        if (rank === 4) toNCHW(name, 'BatchNormalization');
        else if (rank !== 2)
          throw new Error(
            `toONNX: layer ${name} (BatchNormalization) needs a [height, width, channels] or [features] input`,
          );
        const C = s[s.length - 1];
        const get = (suffix: string, fill: number) => weightData(layer, suffix)?.data ?? new Float32Array(C).fill(fill);
        const inputs = [
          cur,
          init(`${name}/gamma`, get('gamma', 1), [C]),
          init(`${name}/beta`, get('beta', 0), [C]),
          init(`${name}/moving_mean`, get('moving_mean', 0), [C]),
          init(`${name}/moving_variance`, get('moving_variance', 1), [C]),
        ];
        node('BatchNormalization', name, inputs, [float('epsilon', cfg.epsilon as number)]);
        break;
      }
      // The layers of nn/onnx-layers.ts (made by the importer); their parameters are in simdnet's layout.
      case 'PRelu': {
        toNHWC(name);
        const a = weightData(layer, 'alpha');
        if (!a) throw new Error(`toONNX: layer ${name} (PRelu) has no alpha`);
        node('PRelu', name, [cur, init(`${name}/alpha`, a.data, a.shape)]);
        break;
      }
      case 'Clip': {
        const lo = cfg.min as number | null,
          hi = cfg.max as number | null;
        const x = cur;
        node('Clip', name, [
          x,
          lo === null ? '' : scalarInit(`${name}/min`, lo),
          hi === null ? '' : scalarInit(`${name}/max`, hi),
        ]);
        break;
      }
      case 'ScaledElu':
        node('Selu', name, [cur], [float('alpha', cfg.alpha as number), float('gamma', cfg.scale as number)]);
        break;
      case 'HardSigmoid':
        node('HardSigmoid', name, [cur], [float('alpha', cfg.alpha as number), float('beta', cfg.beta as number)]);
        break;
      case 'LogSoftmax': {
        const a = (cfg.axis as number) < 0 ? (cfg.axis as number) + rank : (cfg.axis as number);
        node('LogSoftmax', name, [cur], [int('axis', rank === 4 ? imageAxis(a) : a)]);
        break;
      }
      case 'Slice': {
        toNHWC(name);
        const a = (cfg.axis as number) < 0 ? (cfg.axis as number) + rank : (cfg.axis as number);
        node('Slice', name, [
          cur,
          initI64(`${name}/starts`, [cfg.begin as number]),
          initI64(`${name}/ends`, [cfg.end as number]),
          initI64(`${name}/axes`, [a]),
        ]);
        break;
      }
      case 'Affine': {
        toNHWC(name);
        const sc = cfg.scaleShape ? weightData(layer, 'scale') : null;
        const of = cfg.offsetShape ? weightData(layer, 'offset') : null;
        if (sc) node('Mul', name, [cur, init(`${name}/scale`, sc.data, sc.shape)]);
        if (of) node('Add', name, [cur, init(`${name}/offset`, of.data, of.shape)]);
        if (!sc && !of) node('Identity', name, [cur]);
        break;
      }
      case 'Pool2D': {
        toNCHW(name, 'Pool2D');
        const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
        const attrs = [
          ints('kernel_shape', cfg.poolSize as number[]),
          ints('strides', cfg.strides as number[]),
          ints('pads', [t, l, b, r]),
        ];
        if (cfg.mode === 'max') node('MaxPool', name, [cur], attrs);
        else node('AveragePool', name, [cur], [...attrs, int('count_include_pad', 0)]);
        break;
      }
      case 'LeakyReLU':
        node('LeakyRelu', name, [cur], [float('alpha', cfg.alpha as number)]);
        break;
      case 'Dropout':
      case 'RandomTranslation':
      case 'RandomRotation':
      case 'RandomZoom':
      case 'RandomContrast':
        break;
      case 'Activation':
        activation(cfg.activation, name);
        break;
    }
    // A layer that wrote nothing (Dropout) passes its input value on.
    vals[st.output] =
      curVal ??
      ((layout as string) === 'nchw'
        ? { nhwc: null, nchw: cur, primary: 'nchw', rank }
        : { nhwc: cur, nchw: null, primary: 'nhwc', rank });
  }

  // The graph outputs keep simdnet's layout. An output written by a node no one else reads is renamed;
  // otherwise (an input, a value read further on, an output listed twice) an Identity names it.
  const graphOut = model.graph().outputs;
  graphOut.forEach((slot, i) => {
    use(vals[slot]);
    toNHWC(outNames[i]);
    const producer = nodes.find((n) => n.output[0] === cur);
    const read = nodes.some((n) => n.input.includes(cur)) || inNames.includes(cur) || graphOut.indexOf(slot) !== i;
    if (producer && !read && !outNames.includes(cur)) {
      used.delete(cur);
      producer.output[0] = outNames[i];
    } else {
      nodes.push({
        name: unique(`${outNames[i]}/Identity`),
        op_type: 'Identity',
        input: [cur],
        output: [outNames[i]],
        attribute: [],
      });
    }
  });

  const dims = (d: number[]) => ({ dim: [{ dim_param: 'N' }, ...d.map((v) => ({ dim_value: v }))] });
  const valueInfo = (n: string, d: number[]) => ({
    name: n,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: dims(d) } },
  });
  const obj = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'simdnet',
    doc_string: opts.docString,
    graph: {
      name: opts.graphName ?? model.name,
      node: nodes,
      initializer: inits,
      input: inShapes.map((sh, i) => valueInfo(inNames[i], sh)),
      output: outShapes.map((sh, i) => valueInfo(outNames[i], sh)),
    },
  };
  const Model = onnxType('ModelProto');
  const err = Model.verify(obj);
  if (err) throw new Error(`toONNX: internal error building the ModelProto: ${err}`);
  return Model.encode(Model.fromObject(obj)).finish();
}
