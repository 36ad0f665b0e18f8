// The gradient-agreement harness: imports a network written by scripts/fixtures/grad_agreement.py,
// takes one backward pass of the mean cross-entropy of its logits with training-mode
// BatchNormalization, and compares every parameter's gradient with PyTorch float64's.
// A tensor passes when its max-relative error, max|g - ref| / max|ref|, is within
// max(10 × PyTorch float32's own error, 1e-4). Used by grad-agreement.test.ts (committed fixtures)
// and scripts/grad-agreement.mjs (the torchvision zoo). No vitest import: the script bundles it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sn from '../../src/index.js';
import { Tape, withTape } from '../../src/autograd.js';
import { forwardGraph } from '../../src/nn/graph.js';
import type { Layer } from '../../src/nn/layer.js';
import { classNameOf } from '../../src/nn/registry.js';
import { softmaxCrossEntropy } from '../../src/ops/act.js';
import { getArena } from '../../src/wasm/arena.js';

/** NAME.json of the Python side. */
export interface GradMeta {
  onnx: string;
  inputShape: number[];
  labels: number[];
  classes: number;
  loss64: number;
  loss32: number;
  /** float64 ReLU inputs after a BN within 1e-5 standard deviations of a kink (float32 may cross them). */
  nearKinks?: number;
  params: { name: string; shape: number[]; offset: number; f32err: number }[];
  nodes: { name: string; op: string; inputs: string[] }[];
  /** The fine-tuning trajectory (scripts/fixtures/grad_agreement.py: plain SGD on the same batch). */
  traj?: {
    lr: number;
    steps: number;
    /** The loss before each step, PyTorch float64 and float32 (NCHW, and channels-last). */
    loss64: number[];
    loss32: number[];
    loss32cl?: number[];
    /** BN running_mean / running_var after the steps: offset into NAME.stats.bin, PyTorch f32's own error. */
    stats: { name: string; size: number; offset: number; f32err: number }[];
  };
}

/** One parameter's comparison. */
export interface GradRow {
  /** The PyTorch state_dict key. */
  name: string;
  /** The simdnet weight it was matched to, or null when none was. */
  weight: string | null;
  /** simdnet's max-relative error against PyTorch float64 (NaN when unmatched). */
  err: number;
  /** PyTorch float32's own max-relative error against float64. */
  f32err: number;
  /** The pass threshold: max(10 × f32err, 1e-4). */
  tol: number;
  pass: boolean;
}

export interface GradReport {
  name: string;
  /** simdnet's loss, and PyTorch float64's. */
  loss: number;
  loss64: number;
  nearKinks: number | null;
  rows: GradRow[];
}

export const FLOOR = 1e-4;
export const FACTOR = 10;
/**
 * A step of the trajectory counts where PyTorch float32's loss, in both its layouts (two roundings,
 * as for the gradients' f32err), is within this of float64's (relative)...
 */
export const TRAJ_F32 = 1e-4;
/** ...and there simdnet's loss must be within this of PyTorch float32's (relative). */
export const TRAJ_TOL = 1e-3;

/** One step of the trajectory: the loss before it. */
export interface TrajStep {
  loss: number;
  loss64: number;
  loss32: number;
  /** PyTorch float32 channels-last (NaN in fixtures without it). */
  loss32cl: number;
  /** PyTorch float32 within TRAJ_F32 of float64, in both layouts: the step is checked. */
  checked: boolean;
  /** |loss - loss32| / |loss32|. */
  err: number;
  pass: boolean;
}

/** A BN running statistic after the steps against PyTorch float64's (the rule of the gradients). */
export interface StatRow {
  name: string;
  err: number;
  f32err: number;
  tol: number;
  pass: boolean;
}

export interface TrajReport {
  name: string;
  lr: number;
  steps: TrajStep[];
  stats: StatRow[];
  /** BatchNormalization nodes in the file (each has a running mean and variance). */
  batchNorms: number;
  /** Every checked step and every statistic passes, and at least one step was checked. */
  agrees: boolean;
}

/** A parameter's values as float64, from NAME.grad.bin. */
function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The importer's layer name for an ONNX node name (ops/context.ts uniqueName, first use). */
const layerName = (node: string) => {
  const b = node.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
  return /^[0-9]/.test(b) ? `n${b}` : b;
};

/**
 * PyTorch's layout (row-major `shape`) re-laid as the importer lays that weight out: conv kernels
 * (K, C/g, KH, KW) → (KH, KW, C/g, K), depthwise (C·M, 1, KH, KW) → (KH, KW, C, M), a Linear
 * weight (U, K) → (K, U); vectors as they are.
 */
export function toSimdnetLayout(
  src: ArrayLike<number>,
  shape: number[],
  layer: Layer,
  index: number,
  rows: number[] | null = null,
): Float64Array {
  const out = new Float64Array(src.length);
  if (shape.length === 4 && index === 0) {
    const [K, Cg, KH, KW] = shape;
    const depthwise = classNameOf(layer) === 'DepthwiseConv2D';
    const M = depthwise ? K / layer.weights[0].value.shape[2] : 0;
    for (let k = 0; k < K; k++)
      for (let c = 0; c < Cg; c++)
        for (let i = 0; i < KH; i++)
          for (let j = 0; j < KW; j++) {
            const to = depthwise
              ? ((i * KW + j) * (K / M) + Math.floor(k / M)) * M + (k % M)
              : ((i * KW + j) * Cg + c) * K + k;
            out[to] = src[((k * Cg + c) * KH + i) * KW + j];
          }
  } else if (shape.length === 2 && index === 0) {
    const [U, K] = shape;
    // rows[j]: the source feature of stored feature j (a Flatten of channels-last values)
    for (let u = 0; u < U; u++) for (let j = 0; j < K; j++) out[j * U + u] = src[u * K + (rows ? rows[j] : j)];
  } else out.set(Array.from(src));
  return out;
}

/**
 * The source feature of each stored input feature of a Dense layer fed by a Flatten of a channels-last
 * [H, W, C] value (the importer lays the Gemm's rows out in that order); null when they are the same.
 */
export function flattenRows(model: sn.Model, layer: Layer): number[] | null {
  const steps = model.graph().steps;
  const step = steps.find((st) => st.layer === layer);
  const from = step && steps.find((st) => st.output === step.inputs[0]);
  const inShape = from && classNameOf(from.layer) === 'Flatten' ? from.inShapes[0] : null;
  if (!inShape || inShape.length !== 3 || inShape[0] * inShape[1] === 1) return null;
  const [H, W, C] = inShape as [number, number, number];
  const rows: number[] = [];
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) rows.push((c * H + h) * W + w);
  return rows;
}

/** max|a - ref| / max|ref| (the absolute error when ref is all zero). */
export function maxRel(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return m > 0 ? d / m : d;
}

/** The mean cross-entropy of the model's logits on (x, labels), on a tape; fills every weight's grad. */
export function backwardOnce(model: sn.Model, x: Float32Array, shape: number[], labels: number[]): number {
  const params = model.params();
  const u8 = getArena().u8();
  for (const p of params) u8.fill(0, p.grad.ptr, p.grad.ptr + p.grad.size * 4);
  return sn.tidy(() => {
    const classes = model.outputShape[model.outputShape.length - 1];
    const onehot = new Float32Array(labels.length * classes);
    labels.forEach((l, i) => {
      onehot[i * classes + l] = 1;
    });
    const tape = new Tape();
    for (const p of params) tape.watch(p.value, p.grad);
    const loss = withTape(tape, () => {
      const logits = forwardGraph(model.graph(), [sn.tensor(x, shape)], true, false, model.trainRng)[0];
      return softmaxCrossEntropy(sn.tensor(onehot, [labels.length, classes]), logits);
    });
    tape.backward(loss);
    return loss.view()[0];
  });
}

/**
 * Records the training-mode output of each BatchNormalization layer named in `modules` (layer name →
 * PyTorch module) as float64 NCHW in `out`/MODULE.bin, for grad_agreement.py --sided: float64 gradients
 * on simdnet's side of every ReLU kink.
 */
function recordBatchNorms(model: sn.Model, modules: Map<string, string>, out: string): void {
  mkdirSync(out, { recursive: true });
  for (const layer of model.layers) {
    const mod = modules.get(layer.name);
    if (!mod) continue;
    const call = layer.callFor.bind(layer);
    layer.callFor = (xs, args) => {
      const y = call(xs, args);
      if (!args.training) return y;
      const [N, H, W, C] = y.rank === 4 ? y.shape : [y.shape[0], 1, 1, y.shape[1]];
      const v = y.view();
      const nchw = new Float64Array(v.length);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < H * W; i++) nchw[(n * C + c) * H * W + i] = v[(n * H * W + i) * C + c];
      writeFileSync(join(out, `${mod}.bin`), new Uint8Array(nchw.buffer));
      return y;
    };
  }
}

/** The importer's layer of each ONNX node input named in `meta.nodes` (a parameter, or a BN statistic). */
function inputOwners(model: sn.Model, meta: GradMeta): Map<string, { layer: Layer; index: number }> {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const owner = new Map<string, { layer: Layer; index: number }>();
  for (const n of meta.nodes) {
    const layer = byName.get(layerName(n.name));
    if (!layer) continue;
    n.inputs.slice(1).forEach((input, i) => {
      if (i < layer.weights.length + layer.stateWeights.length) owner.set(input, { layer, index: i });
    });
  }
  return owner;
}

/**
 * NAME's fine-tuning trajectory: the imported model compiled with plain SGD at the fixture's learning
 * rate and the sparse cross-entropy of its logits, then `steps` trainOnBatch calls on the same batch
 * (training-mode BN); each step's loss against PyTorch's, then every BN moving statistic against
 * PyTorch float64's running one.
 */
export async function compareTrajectory(dir: string, name: string): Promise<TrajReport> {
  await sn.ready();
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as GradMeta;
  const t = meta.traj;
  if (!t) throw new Error(`${name}.json has no trajectory: run scripts/fixtures/grad_agreement.py again`);
  const x = readF32(join(dir, `${name}.input.bin`));
  const model = await sn.loadONNX(new Uint8Array(readFileSync(join(dir, meta.onnx))));
  try {
    model.compile({
      optimizer: new sn.SGD({ learningRate: t.lr }),
      loss: 'sparseCategoricalCrossentropy',
      fromLogits: true,
    });
    const xs = { data: x, shape: meta.inputShape };
    const ys = { data: meta.labels, shape: [meta.labels.length] };
    const steps = t.loss64.map((loss64, i): TrajStep => {
      const loss = model.trainOnBatch(xs, ys)[0];
      const loss32 = t.loss32[i];
      const loss32cl = t.loss32cl?.[i] ?? Number.NaN;
      const near = (v: number) => Math.abs(v - loss64) <= TRAJ_F32 * Math.abs(loss64);
      const checked = near(loss32) && (Number.isNaN(loss32cl) || near(loss32cl));
      const err = Math.abs(loss - loss32) / Math.abs(loss32);
      return { loss, loss64, loss32, loss32cl, checked, err, pass: !checked || err <= TRAJ_TOL };
    });
    const ref = t.stats.length ? readF64(join(dir, `${name}.stats.bin`)) : new Float64Array(0);
    const owner = inputOwners(model, meta);
    const stats = t.stats.map((s): StatRow => {
      const tol = Math.max(FACTOR * s.f32err, FLOOR);
      const o = owner.get(s.name);
      const w = o && [...o.layer.weights, ...o.layer.stateWeights][o.index];
      if (!w || w.value.size !== s.size) return { name: s.name, err: Number.NaN, f32err: s.f32err, tol, pass: false };
      const err = maxRel(w.value.view(), ref.subarray(s.offset, s.offset + s.size));
      return { name: s.name, err, f32err: s.f32err, tol, pass: err <= tol };
    });
    const agrees = steps.some((s) => s.checked) && steps.every((s) => s.pass) && stats.every((s) => s.pass);
    const batchNorms = meta.nodes.filter((n) => n.op === 'BatchNormalization').length;
    return { name, lr: t.lr, steps, stats, batchNorms, agrees };
  } finally {
    model.dispose();
  }
}

/**
 * Every parameter of NAME in `dir` compared; weights are matched through the ONNX node that reads them.
 * `sides` writes simdnet's BatchNormalization outputs to `dir`/NAME.sides/ (see recordBatchNorms);
 * `ref` reads another reference than NAME.grad.bin (NAME.sided.grad.bin).
 */
export async function compareGradients(
  dir: string,
  name: string,
  opts: { sides?: boolean; ref?: string } = {},
): Promise<GradReport> {
  await sn.ready();
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as GradMeta;
  const ref = readF64(join(dir, opts.ref ?? `${name}.grad.bin`));
  const x = readF32(join(dir, `${name}.input.bin`));
  const model = await sn.loadONNX(new Uint8Array(readFileSync(join(dir, meta.onnx))));
  try {
    const owner = inputOwners(model, meta);
    if (opts.sides) {
      const bn = meta.nodes.filter((n) => n.op === 'BatchNormalization');
      const modules = new Map(bn.map((n) => [layerName(n.name), n.inputs[1].replace(/\.weight$/, '')]));
      recordBatchNorms(model, modules, join(dir, `${name}.sides`));
    }
    const loss = backwardOnce(model, x, meta.inputShape, meta.labels);
    const rows = meta.params.map((p): GradRow => {
      const tol = Math.max(FACTOR * p.f32err, FLOOR);
      const o = owner.get(p.name);
      const size = p.shape.reduce((a, b) => a * b, 1);
      const w = o?.layer.weights[o.index];
      if (!o || o.index >= o.layer.weights.length || !w || w.value.size !== size)
        return { name: p.name, weight: null, err: Number.NaN, f32err: p.f32err, tol, pass: false };
      const rows = p.shape.length === 2 ? flattenRows(model, o.layer) : null;
      const want = toSimdnetLayout(ref.subarray(p.offset, p.offset + size), p.shape, o.layer, o.index, rows);
      const err = maxRel(w.grad.view(), want);
      return { name: p.name, weight: w.name, err, f32err: p.f32err, tol, pass: err <= tol };
    });
    return { name, loss, loss64: meta.loss64, nearKinks: meta.nearKinks ?? null, rows };
  } finally {
    model.dispose();
  }
}
