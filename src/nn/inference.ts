// Model.predict's inference plan, made from the weights once and kept while they do not change:
// - a Conv2D, DepthwiseConv2D or Dense with a linear activation whose only reader is a
//   BatchNormalization runs with folded weights, w·γ/√(var+ε) per output channel and bias
//   (b − mean)·γ/√(var+ε) + β, and the BatchNormalization is skipped;
// - a Conv2D that runs Winograd in inference keeps its filter's transform (per tile size), and one
//   on the direct path keeps its filter and bias packed for the GEMM (which predict would otherwise
//   repack on every call, once per shard);
// - a ZeroPadding2D whose only reader is a 'valid' Conv2D or DepthwiseConv2D becomes that
//   convolution's own padding (the kernels read zeros for taps outside the image: no padded copy);
// - a relu or relu6 (Activation, or ReLU without slope or threshold) whose input comes only from a
//   linear Conv2D or DepthwiseConv2D (after any folded BatchNormalization) is fused into the
//   convolution's output store, and a relu after an Add (a residual block's) is applied in place.
// A predict call of fewer than SHARDS images (a latency call), on a model made only of the layer
// classes of TRACEABLE, records its kernel calls once per batch size and replays them from then on
// (ops/trace.ts): the same kernels on the same arguments, so the same bits, without the layers' and
// ops' JavaScript between them, which is most of the time of a small model's call.
// Training, evaluate and the layers' own calls are unchanged. A plan is valid for one value of the
// global weights version, bumped by every optimizer step of Model, setWeights and model loading (and by
// weightsChanged() for code writing weights otherwise), for one conv-algorithm default, and while no view
// of a weight it read was taken (a write through it may follow).
import { keep, type Tensor, tensor } from '../tensor.js';
import {
  getConvAlgorithm,
  winogradPack,
  winogradPools,
  winogradTileFor,
  type WinogradPacked,
} from '../ops/winograd.js';
import { conv2dPack, type DirectPacked } from '../ops/conv2d.js';
import type { Layer } from './layer.js';
import type { KernelTrace } from '../ops/trace.js';

/**
 * Layer classes whose inference call writes tensor data through kernel calls only (JavaScript writes
 * at most metadata into memory it allocated), so a forward made of them can be replayed from a
 * kernel trace. Not here, for example: Slice and LogSoftmax (computed in JavaScript), Dropout in
 * training, the random preprocessing layers.
 */
const TRACEABLE = new Set([
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'Softmax',
  'MaxPooling2D',
  'AveragePooling2D',
  'Pool2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'ZeroPadding2D',
  'Flatten',
  'Reshape',
  'Permute',
  'Dense',
  'Dropout',
  'Add',
  'Concatenate',
]);

/** Most memory a kernel trace may keep: its forward's allocations (a trace reuses none of them). */
export const TRACE_MAX_BYTES = 32 * 2 ** 20;

/** predict's replayable forward of one batch size: the trace and where its inputs and outputs live. */
export interface TracedForward {
  trace: KernelTrace;
  /** Byte addresses of the inputs (N, ...) to write before a replay. */
  inputs: number[];
  /** Byte addresses of the outputs to read after it. */
  outputs: number[];
}

let version = 0;

/**
 * Tells simdnet that weights were written other than through Model's training, setWeights or loading
 * (e.g. by an optimizer run by hand; a write through `weight.value.view()` is noticed without it), so that predict rebuilds the folded
 * weights and Winograd transforms it keeps for them.
 */
export function weightsChanged(): void {
  version++;
}

let enabled = true;

/** @internal Turns predict's inference plan off and on (the bench measures what it gains). */
export function setInferencePlanEnabled(on: boolean): void {
  enabled = on;
}

let tracing = true;

/** @internal Turns predict's kernel traces off and on (tests compare the two; the bench measures the gain). */
export function setKernelTracesEnabled(on: boolean): void {
  tracing = on;
}

/** @internal Whether predict uses an inference plan. */
export function inferencePlanEnabled(): boolean {
  return enabled;
}

/** @internal The global weights version (see {@link weightsChanged}). */
export function weightsVersion(): number {
  return version;
}

/** The parts of a graph step the plan reads (model.ts GraphStep). */
interface Step {
  layer: Layer;
  inputs: number[];
  output: number;
  inShapes: number[][];
  outShape: number[];
}

/** What the plan changes for one step: weights to call it with, a Winograd transform, or skip it. */
export interface PlannedStep {
  /** Replacement [kernel, bias] values (folded). */
  weights?: [Tensor, Tensor];
  winogradPacked?: WinogradPacked;
  /** The direct path's packed filter and bias. */
  directPacked?: DirectPacked;
  /** Explicit padding [[top, bottom], [left, right]] replacing the layer's (a ZeroPadding2D taken in). */
  padding?: [[number, number], [number, number]];
  /** A relu or relu6 fused into the output store (the step after it is skipped). */
  activation?: 'relu' | 'relu6';
  /** A 2x2 stride-2 max pooling taken into a Winograd convolution's output transform (the pooling step skipped). */
  pool?: boolean;
  /**
   * The step is an identity here (a BatchNormalization folded into the step before it, a relu fused
   * into it, or a ZeroPadding2D taken into the convolution after it).
   */
  skip?: boolean;
}

const CONVS = new Set(['Conv2D', 'DepthwiseConv2D']);

// The relu a convolution's fused store computes exactly, max(x, 0) or min(max(x, 0), 6), that the
// layer `l` is; null if it is something else.
function reluKind(l: Layer): 'relu' | 'relu6' | null {
  if (l.className === 'Activation') {
    const a = (l as unknown as { act: string }).act;
    return a === 'relu' || a === 'relu6' ? a : null;
  }
  if (l.className !== 'ReLU') return null;
  const r = l as unknown as { maxValue: number | null; negativeSlope: number; threshold: number };
  if (r.negativeSlope !== 0 || r.threshold !== 0) return null;
  return r.maxValue === null ? 'relu' : r.maxValue === 6 ? 'relu6' : null;
}

const FOLDABLE = new Set(['Conv2D', 'DepthwiseConv2D', 'Dense']);

// a layer's cfg as the plan reads it (Conv2D / DepthwiseConv2D / Dense / BatchNormalization)
type Cfg = Record<string, unknown>;
const cfgOf = (l: Layer): Cfg => (l as unknown as { cfg: Cfg }).cfg;

export class InferencePlan {
  readonly steps = new Map<Step, PlannedStep>();
  private readonly owned: Tensor[] = [];
  private readonly key: string;
  // The weights the plan derived data from, with their view counts once it was made.
  private readonly sources: Array<[Tensor, number]> = [];
  /** Whether every layer is TRACEABLE (predict may then replay kernel traces). */
  readonly traceable: boolean;
  // Traces by batch size (null: recording gave none), and every weight the traces read, with its
  // view count when they were recorded.
  private readonly traces = new Map<number, TracedForward | null>();
  private readonly layers: Layer[];
  private traceWeights: Array<[Tensor, number]> = [];

  constructor(steps: readonly Step[], outputs: readonly number[]) {
    this.key = InferencePlan.keyNow();
    this.traceable = steps.every((st) => TRACEABLE.has(st.layer.className));
    this.layers = steps.map((st) => st.layer);
    const readers = new Map<number, number>();
    for (const st of steps) for (const i of st.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
    for (const o of outputs) readers.set(o, (readers.get(o) ?? 0) + 1);
    const byInput = new Map<number, Step>();
    for (const st of steps) if (st.inputs.length === 1) byInput.set(st.inputs[0]!, st);
    // the one step reading `slot`, if exactly one step (and no model output) reads it
    const soleReader = (slot: number): Step | undefined => (readers.get(slot) === 1 ? byInput.get(slot) : undefined);
    try {
      for (const st of steps) {
        if (st.layer.className !== 'ZeroPadding2D') continue;
        const conv = soleReader(st.output);
        const pad = (st.layer as unknown as { padding: [[number, number], [number, number]] }).padding;
        if (conv && this.takesPadding(conv, pad)) {
          this.merge(conv, { padding: pad });
          this.merge(st, { skip: true });
        }
      }
      for (const st of steps) {
        const next = soleReader(st.output);
        let kernel = st.layer.weights[0]?.value ?? null;
        let bias = st.layer.weights[1]?.value ?? null;
        let tail = st; // the step whose output is the layer's result once a BatchNormalization is folded
        if (next && this.foldable(st, next)) {
          const [w, b] = this.fold(st, next);
          this.merge(st, { weights: [w, b] });
          this.merge(next, { skip: true });
          kernel = w;
          bias = b;
          tail = next;
        }
        if (kernel) this.pack(st, kernel, bias);
        const relu = soleReader(tail.output);
        const kind = relu && relu.inputs.length === 1 ? reluKind(relu.layer) : null;
        if (relu && kind && this.fuses(st, kind)) {
          this.merge(st, { activation: kind });
          this.merge(relu, { skip: true });
          tail = relu;
        }
        const pool = soleReader(tail.output);
        if (pool && this.pools(st, pool)) {
          this.merge(st, { pool: true });
          this.merge(pool, { skip: true });
        }
      }
      for (const [st, planned] of this.steps) {
        if (planned.skip || !planned.weights) continue;
        const bn = byInput.get(st.output)!;
        for (const l of [st.layer, bn.layer]) for (const w of [...l.weights, ...l.stateWeights]) this.watch(w.value);
      }
      for (const [st, planned] of this.steps) {
        if (planned.weights) continue; // watched above
        if (planned.winogradPacked || planned.directPacked) for (const w of st.layer.weights) this.watch(w.value);
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * True while the weights and the conv-algorithm default are the ones it was made for: no step,
   * setWeights, load or weightsChanged() since, and no view taken of a weight it read (a write may
   * have gone through it).
   */
  get current(): boolean {
    if (this.key !== InferencePlan.keyNow()) return false;
    return this.sources.every(([t, n]) => !t.isDisposed && t.viewCount === n);
  }

  // A Winograd Conv2D with one transform and an even tile takes a following 2x2 stride-2 'valid'
  // MaxPooling2D into its output transform, when nothing but a relu (monotonic: it commutes with max)
  // comes between them: same bits, without storing and re-reading the full-size output.
  private pools(st: Step, pool: Step): boolean {
    const packed = this.steps.get(st)?.winogradPacked;
    if (st.layer.className !== 'Conv2D' || !packed || pool.layer.className !== 'MaxPooling2D') return false;
    const act = cfgOf(st.layer).activation ?? 'linear';
    if (act !== 'linear' && act !== 'relu') return false;
    const p = cfgOf(pool.layer);
    const two = (v: unknown) => Array.isArray(v) && v[0] === 2 && v[1] === 2;
    const [KH] = cfgOf(st.layer).kernelSize as [number, number];
    return two(p.poolSize) && two(p.strides) && p.padding === 'valid' && winogradPools(KH, packed.m);
  }

  // A linear convolution fuses a relu into its store, and a relu6 unless it runs Winograd (whose
  // kernels fuse relu only); an Add applies a relu in place to its own output.
  private fuses(st: Step, kind: 'relu' | 'relu6'): boolean {
    if (st.layer.className === 'Add') return kind === 'relu';
    if (!CONVS.has(st.layer.className) || (cfgOf(st.layer).activation ?? 'linear') !== 'linear') return false;
    return kind === 'relu' || !this.steps.get(st)?.winogradPacked;
  }

  /**
   * The trace of a forward of `count` images: undefined when there is none yet (record one and
   * {@link setTrace} it), null when the model could not be traced. Traces are dropped when a weight
   * was viewed (a write may have gone through the view) since they were recorded.
   */
  trace(count: number): TracedForward | null | undefined {
    if (!tracing) return null;
    if (this.traces.size > 0 && !this.traceWeights.every(([t, n]) => !t.isDisposed && t.viewCount === n)) {
      this.disposeTraces();
    }
    return this.traces.get(count);
  }

  /** Keeps `t` (or null: no trace) as the trace of `count` images; the plan disposes it. */
  setTrace(count: number, t: TracedForward | null): void {
    this.traces.get(count)?.trace.dispose();
    if (this.traces.size === 0) {
      this.traceWeights = this.layers.flatMap((l) =>
        [...l.weights, ...l.stateWeights].map((w): [Tensor, number] => [w.value, w.value.viewCount]),
      );
    }
    this.traces.set(count, t);
  }

  private disposeTraces(): void {
    for (const t of this.traces.values()) t?.trace.dispose();
    this.traces.clear();
  }

  private merge(st: Step, p: PlannedStep): void {
    this.steps.set(st, { ...this.steps.get(st), ...p });
  }

  // A 'valid' convolution takes a zero padding as its own when each side is less than its window
  // (then every output still sees at least one pixel of the image, as the kernels assume).
  private takesPadding(conv: Step, pad: [[number, number], [number, number]]): boolean {
    if (!CONVS.has(conv.layer.className)) return false;
    const cfg = cfgOf(conv.layer);
    if (cfg.padding !== 'valid') return false;
    const [KH, KW] = cfg.kernelSize as [number, number];
    const [DH, DW] = (cfg.dilationRate as [number, number] | undefined) ?? [1, 1];
    const [[t, b], [l, r]] = pad;
    const eh = (KH - 1) * DH + 1,
      ew = (KW - 1) * DW + 1;
    return t < eh && b < eh && l < ew && r < ew;
  }

  private watch(t: Tensor): void {
    this.sources.push([t, t.viewCount]);
  }

  private static keyNow(): string {
    const a = getConvAlgorithm();
    return `${version}/${a.algorithm}/${a.winogradTile}`;
  }

  private foldable(st: Step, next: Step): boolean {
    if (!FOLDABLE.has(st.layer.className) || next.layer.className !== 'BatchNormalization') return false;
    if ((cfgOf(st.layer).activation ?? 'linear') !== 'linear') return false;
    // the BN normalizes the last axis, which is the layer's output channels
    return st.layer.weights.length >= 1 && next.layer.stateWeights.length === 2;
  }

  // Folded [kernel, bias] of layer st followed by BatchNormalization bn, computed in float64 and rounded once.
  private fold(st: Step, bn: Step): [Tensor, Tensor] {
    const eps = cfgOf(bn.layer).epsilon as number;
    const find = (suffix: string) => bn.layer.weights.find((w) => w.name.endsWith(`/${suffix}`))?.value.view();
    const gamma = find('gamma'),
      beta = find('beta');
    const mean = bn.layer.stateWeights[0]!.value.view(),
      variance = bn.layer.stateWeights[1]!.value.view();
    const C = mean.length;
    const scale = new Float64Array(C);
    for (let c = 0; c < C; c++) scale[c] = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + Math.fround(eps));
    const kernel = st.layer.weights[0]!.value;
    const kv = kernel.view();
    const w = new Float32Array(kv.length);
    // every kernel layout here ends in the output channels (DepthwiseConv2D: C·M, channel c·M + m)
    for (let i = 0; i < kv.length; i++) w[i] = kv[i]! * scale[i % C]!;
    const bv = st.layer.weights[1]?.value.view();
    const b = new Float32Array(C);
    for (let c = 0; c < C; c++) b[c] = ((bv ? bv[c]! : 0) - mean[c]!) * scale[c]! + (beta ? beta[c]! : 0);
    const wt = this.own(tensor(w, kernel.shape));
    return [wt, this.own(tensor(b, [C]))];
  }

  // What a Conv2D runs with in inference, made once: its filter's Winograd transform when it runs
  // Winograd, else its filter and bias packed for the direct GEMM.
  private pack(st: Step, kernel: Tensor, bias: Tensor | null): void {
    if (st.layer.className !== 'Conv2D' || st.inShapes[0]!.length !== 3) return;
    const cfg = cfgOf(st.layer);
    const [KH, KW] = cfg.kernelSize as [number, number];
    const [SH, SW] = cfg.strides as [number, number];
    const d = cfg.dilationRate as [number, number];
    const prev = this.steps.get(st);
    if (cfg.groups === 1 && d[0] === 1 && d[1] === 1) {
      const [, , C] = st.inShapes[0]!;
      const [OH, OW, K] = st.outShape;
      const geo = { KH, KW, SH, SW, C: C!, K: K!, OH: OH!, OW: OW! };
      const m = winogradTileFor(st.layer.name, cfg.algorithm, cfg.winogradTile, geo, false);
      if (m) {
        const packed = winogradPack(kernel, m);
        for (const p of packed.packs) this.own(p);
        this.steps.set(st, { ...prev, winogradPacked: packed });
        return;
      }
    }
    const packed = conv2dPack(kernel, bias, cfg.groups as number);
    this.own(packed.pack);
    this.steps.set(st, { ...prev, directPacked: packed });
  }

  private own(t: Tensor): Tensor {
    keep(t); // not the caller's tidy(): the plan outlives the predict call
    this.owned.push(t);
    return t;
  }

  /** Frees the folded weights and transforms. */
  dispose(): void {
    this.disposeTraces();
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
    this.steps.clear();
  }
}
