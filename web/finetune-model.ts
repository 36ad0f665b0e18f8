// The model side of the fine-tune page, without any DOM: import an ONNX CNN channels-last, cut it at the
// input of its last Dense (Gemm/MatMul) layer, compute the frozen backbone's features once per image,
// train a new head on those features, and join backbone and head into the model the page downloads.
// Node runs these same functions in the browser test, so the page's loss curve can be checked bit for bit.
import * as sn from '../src/index.js';
import { onnxType } from '../src/formats/onnx/onnx-schema.js';

/** The imported network, cut where the new head goes. */
export interface Backbone {
  /** The whole import (its last Dense layer included); shares every layer with `cut`. */
  model: sn.Model;
  /** Input to features: everything up to the input of the last Dense layer, frozen. */
  cut: sn.Model;
  features: sn.SymbolicTensor;
  /** The model's input, channels last: [height, width, channels]. */
  inputShape: [number, number, number];
  featureCount: number;
  /** The import's last Dense layer, which the new head replaces. */
  replaced: sn.Layer;
}

interface DimMsg {
  dim_value?: unknown;
  dim_param?: string;
}
interface ModelMsg {
  graph?: {
    input?: Array<{ name?: string; type?: { tensor_type?: { shape?: { dim?: DimMsg[] } } } }>;
    initializer?: Array<{ name?: string }>;
  };
}

const dimValue = (d: DimMsg): number | null => {
  // protobufjs puts field defaults on the prototype: only a set dim_value is an own property.
  if (!Object.hasOwn(d, 'dim_value')) return null;
  const v = d.dim_value as number | { toNumber(): number };
  return typeof v === 'object' && v !== null ? v.toNumber() : Number(v);
};

function imageInput(msg: ModelMsg) {
  const inits = new Set((msg.graph?.initializer ?? []).map((t) => t.name));
  const inputs = (msg.graph?.input ?? []).filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) throw new Error(`the model has ${inputs.length} inputs; the page takes one image input`);
  const dims = inputs[0].type?.tensor_type?.shape?.dim ?? [];
  if (dims.length !== 4)
    throw new Error(`its input '${inputs[0].name}' has rank ${dims.length}; the page takes images (N, C, H, W)`);
  return { name: inputs[0].name ?? '', dims };
}

/**
 * The image size the ONNX file declares for its (NCHW) input: [height, width], with null for a size
 * left dynamic (a named dim), which the importer cannot take and the page asks for.
 */
export function declaredSize(bytes: Uint8Array): { name: string; height: number | null; width: number | null } {
  const { name, dims } = imageInput(onnxType('ModelProto').decode(bytes) as unknown as ModelMsg);
  return { name, height: dimValue(dims[2]), width: dimValue(dims[3]) };
}

/** The ONNX file with its input's height and width fixed to the given size (the rest re-encoded as read). */
export function withInputSize(bytes: Uint8Array, height: number, width: number): Uint8Array {
  for (const [v, what] of [
    [height, 'height'],
    [width, 'width'],
  ] as const) {
    if (!Number.isInteger(v) || v < 8 || v > 4096) throw new Error(`the input ${what} must be 8 to 4096, got ${v}`);
  }
  const type = onnxType('ModelProto');
  const msg = type.decode(bytes) as unknown as ModelMsg;
  const { dims } = imageInput(msg);
  dims[2] = { dim_value: height };
  dims[3] = { dim_value: width };
  return type.encode(msg as unknown as Record<string, unknown>).finish();
}

/** Imports `bytes` channels-last, freezes every layer and cuts the model at its last Dense layer's input. */
export async function importBackbone(bytes: Uint8Array): Promise<Backbone> {
  const model = await sn.loadONNX(bytes, { inputLayout: 'nhwc' });
  try {
    const shape = model.inputs.length === 1 ? model.inputs[0].shape : [];
    if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== 3)) {
      throw new Error(
        `the page takes images: one input of shape [height, width, 1 or 3] channels last, but the model takes ` +
          `[${model.inputs.map((i) => i.shape.join(', ')).join('] [')}]`,
      );
    }
    const dense = model.layers.filter((l) => l.className === 'Dense').pop();
    if (!dense) throw new Error('the model has no Dense (Gemm/MatMul) layer whose input could feed a new head');
    const features = dense.inboundNodes[0].inputs[0];
    if (features.shape.length !== 1)
      throw new Error(`the input of its last Dense layer ${dense.name} has shape [${features.shape}], not a vector`);
    for (const l of model.layers) l.trainable = false; // a frozen BatchNormalization keeps its statistics
    const cut = sn.model({ inputs: model.inputs, outputs: features, name: 'backbone' });
    return {
      model,
      cut,
      features,
      inputShape: [shape[0], shape[1], shape[2]],
      featureCount: features.shape[0],
      replaced: dense,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The backbone's features of `n` preprocessed images (NHWC), one row of `featureCount` per image. */
export function extractFeatures(b: Backbone, x: Float32Array, n: number): Float32Array {
  const t = b.cut.predict({ data: x, shape: [n, ...b.inputShape] }, { batchSize: 8 });
  const f = Float32Array.from(t.dataSync());
  t.dispose();
  return f;
}

export interface HeadOptions {
  classes: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

/** A small seeded generator (mulberry32) for the batch order: the same in every engine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per epoch, the example order: a seeded Fisher–Yates shuffle. */
export function batchOrder(n: number, epochs: number, seed: number): Int32Array[] {
  const next = rng(seed);
  const out: Int32Array[] = [];
  for (let e = 0; e < epochs; e++) {
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    out.push(idx);
  }
  return out;
}

/**
 * Trains a new Dense head (logits; softmax cross-entropy fused by `fromLogits`, Adam) on the features:
 * one step per batch, the loss of each step reported to `onStep` (awaited, so the page can draw).
 */
export async function trainHead(
  features: Float32Array,
  labels: ArrayLike<number>,
  o: HeadOptions,
  onStep?: (step: number, total: number, loss: number, accuracy: number) => void | Promise<void>,
): Promise<{ head: sn.Model; losses: number[] }> {
  const n = labels.length;
  const f = features.length / n;
  const x = sn.input({ shape: [f], name: 'features' });
  const head = sn.model({
    inputs: x,
    outputs: sn.layers.dense({ units: o.classes, name: 'new_head' }).apply(x),
    seed: o.seed,
    name: 'head',
  });
  head.compile({
    optimizer: new sn.Adam({ learningRate: o.learningRate }),
    loss: 'categoricalCrossentropy',
    fromLogits: true,
    metrics: ['accuracy'],
  });
  const losses: number[] = [];
  const orders = batchOrder(n, o.epochs, o.seed);
  const perEpoch = Math.ceil(n / o.batchSize);
  for (const order of orders) {
    for (let s = 0; s < n; s += o.batchSize) {
      const rows = order.subarray(s, Math.min(n, s + o.batchSize));
      const xb = new Float32Array(rows.length * f);
      const yb = new Float32Array(rows.length * o.classes);
      rows.forEach((r, i) => {
        xb.set(features.subarray(r * f, (r + 1) * f), i * f);
        yb[i * o.classes + labels[r]] = 1;
      });
      const [loss, acc] = head.trainOnBatch(
        { data: xb, shape: [rows.length, f] },
        { data: yb, shape: [rows.length, o.classes] },
      );
      losses.push(loss);
      await onStep?.(losses.length, perEpoch * o.epochs, loss, acc);
    }
  }
  return { head, losses };
}

/**
 * Backbone and trained head as one model from image to class probabilities (the head's weights copied
 * into a Dense layer with a softmax): what the page predicts with and downloads.
 */
export function fineTunedModel(b: Backbone, head: sn.Model, name: string): sn.Model {
  const dense = sn.layers.dense({ units: head.outputShape[0], activation: 'softmax', name: 'new_head' });
  const m = sn.model({ inputs: b.model.inputs, outputs: dense.apply(b.features), name });
  m.build();
  const w = head.getLayer('new_head').getWeights();
  dense.setWeights(w);
  for (const t of w) t.dispose();
  return m;
}

/** Class probabilities of `n` preprocessed images, row by row. */
export function predictProbs(m: sn.Model, x: Float32Array, n: number, shape: readonly number[]): Float32Array {
  const t = m.predict({ data: x, shape: [n, ...shape] }, { batchSize: 8 });
  const p = Float32Array.from(t.dataSync());
  t.dispose();
  return p;
}
