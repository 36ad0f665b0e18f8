// Model.predict's inference plan, made from the graph and the weights once and kept while they do not
// change. It decides, per step (the per-class rules are rules.ts):
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
//   convolution's output store, and a relu after an Add (a residual block's) is applied in place;
// - a 2x2 max pooling after a Winograd Conv2D is taken into its output transform.
// It then runs the forward itself (run.ts calls the ops for the steps it changed; the others are the
// layers' own calls), and replays kernel traces of small batches (trace.ts). Training, evaluate and
// the layers' own calls are unchanged. A plan is valid for one value of the global weights version
// (switches.ts), for one conv-algorithm default, and while no view of a weight it read was taken (a
// write through it may follow).
import { isScoped, keep, type Tensor, tensor } from '../../tensor.js';
import type { Rng } from '../../rng.js';
import { getConvAlgorithm, winogradPack, winogradPools, winogradTileFor } from '../../ops/winograd.js';
import { conv2dPack } from '../../ops/conv2d.js';
import { BatchNormalization } from '../batchnorm.js';
import { Conv2D, DepthwiseConv2D } from '../convolutional.js';
import { MaxPooling2D } from '../layers.js';
import { ZeroPadding2D } from '../reshaping.js';
import { ruleOf } from './rules.js';
import type { PlanGraph, PlannedStep, Step } from './step.js';
import type { Int8Params } from '../../quant/layers.js';
import { weightsVersion } from './switches.js';
import { trimDeadTaps } from './taps.js';
import { type BatchIO, TraceCache } from './trace.js';

export class InferencePlan {
  readonly steps = new Map<Step, PlannedStep>();
  /** Whether every layer's class is traceable (predict may then replay kernel traces). */
  readonly traceable: boolean;
  private readonly owned: Tensor[] = [];
  private readonly key: string;
  // The weights the plan derived data from, with their view counts once it was made.
  private readonly sources: Array<[Tensor, number]> = [];
  private readonly traces: TraceCache;

  constructor(private readonly graph: PlanGraph) {
    this.key = InferencePlan.keyNow();
    this.traceable = graph.steps.every((st) => ruleOf(st.layer).traceable);
    this.traces = new TraceCache(graph.steps.map((st) => st.layer));
    try {
      this.plan();
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private plan(): void {
    const { steps, outputs } = this.graph;
    const readers = new Map<number, number>();
    for (const st of steps) for (const i of st.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
    for (const o of outputs) readers.set(o, (readers.get(o) ?? 0) + 1);
    const byInput = new Map<number, Step>();
    for (const st of steps) if (st.inputs.length === 1) byInput.set(st.inputs[0]!, st);
    // the one step reading `slot`, if exactly one step (and no model output) reads it
    const soleReader = (slot: number): Step | undefined => (readers.get(slot) === 1 ? byInput.get(slot) : undefined);
    for (const st of steps) {
      if (!(st.layer instanceof ZeroPadding2D)) continue;
      const conv = soleReader(st.output);
      const pad = st.layer.padding;
      if (conv && this.takesPadding(conv, pad)) {
        this.merge(conv, { padding: pad });
        this.merge(st, { skip: true });
      }
    }
    for (const st of steps) this.fuse(st, soleReader);
    this.linkInt8();
    for (const [st, planned] of this.steps) {
      if (planned.skip || !planned.weights) continue;
      // the folded BatchNormalization's too (over-watching a layer after a trimmed-only kernel costs nothing)
      const bn = byInput.get(st.output);
      for (const l of bn ? [st.layer, bn.layer] : [st.layer])
        for (const w of [...l.weights, ...l.stateWeights]) this.watch(w.value);
    }
    for (const [st, planned] of this.steps) {
      if (planned.weights) continue; // watched above
      if (planned.winogradPacked || planned.directPacked) for (const w of st.layer.weights) this.watch(w.value);
    }
  }

  // What follows step st and folds or fuses into it: a BatchNormalization, then a relu, then a pooling.
  private fuse(st: Step, soleReader: (slot: number) => Step | undefined): void {
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
    if (kernel && st.layer instanceof Conv2D) kernel = this.trim(st, kernel, bias);
    if (kernel) this.pack(st, kernel, bias);
    const relu = soleReader(tail.output);
    const kind = relu && relu.inputs.length === 1 ? (ruleOf(relu.layer).relu?.(relu.layer) ?? null) : null;
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

  /**
   * True while the weights and the conv-algorithm default are the ones it was made for: no step,
   * setWeights, load or weightsChanged() since, and no view taken of a weight it read (a write may
   * have gone through it).
   */
  get current(): boolean {
    if (this.key !== InferencePlan.keyNow()) return false;
    return this.sources.every(([t, n]) => !t.isDisposed && t.viewCount === n);
  }

  /** The forward of the graph in inference mode, with the plan's changes; returns the output tensors. */
  forward(xs: Tensor[], rng: Rng): Tensor[] {
    const vals: Tensor[] = new Array(this.graph.slots);
    xs.forEach((x, i) => {
      vals[i] = x;
    });
    // A value made during this forward is freed after the last step that reads it, so a deep model's
    // batch holds a few activations at a time, not all of them (its memory grows with the batch).
    const last = this.lastReads();
    const holders = new Map<Tensor, number>();
    const hold = (slot: number, t: Tensor) => {
      vals[slot] = t;
      holders.set(t, (holders.get(t) ?? 0) + 1);
    };
    this.graph.steps.forEach((st, i) => {
      const p = this.steps.get(st);
      const ins = st.inputs.map((s) => vals[s]!);
      if (p?.skip) hold(st.output, ins[0]!);
      else if (!p) hold(st.output, st.layer.callFor(ins, { training: false, rng, logits: false }));
      else {
        const run = ruleOf(st.layer).run;
        if (!run) throw new Error(`inference plan: no planned call for layer ${st.layer.name} (${st.layer.className})`);
        hold(st.output, run(st.layer, p, ins, rng));
      }
      for (const s of new Set(st.inputs)) {
        if (last[s] !== i || s < xs.length) continue;
        const t = vals[s]!;
        const n = holders.get(t)! - 1;
        holders.set(t, n);
        // Only values this forward's tidy() scope owns: never an input, a weight or a kept tensor.
        if (n === 0 && !xs.includes(t) && isScoped(t)) t.dispose();
      }
    });
    return this.graph.outputs.map((o) => vals[o]!);
  }

  // The index of the last step reading each value slot (Infinity for the graph's outputs).
  private lastReads(): number[] {
    if (this.lastRead) return this.lastRead;
    const last = new Array<number>(this.graph.slots).fill(-1);
    this.graph.steps.forEach((st, i) => {
      for (const s of st.inputs) last[s] = i;
    });
    for (const o of this.graph.outputs) last[o] = Number.POSITIVE_INFINITY;
    this.lastRead = last;
    return last;
  }
  private lastRead: number[] | null = null;

  /**
   * One batch of `count` examples through the plan: a batch smaller than SHARDS, on a traceable
   * graph, replays its kernel trace (recorded on its first call).
   */
  runBatch(count: number, io: BatchIO, rng: Rng): void {
    this.traces.runBatch(count, io, this.traceable, (xs) => this.forward(xs, rng));
  }

  // A Winograd Conv2D with one transform and an even tile takes a following 2x2 stride-2 'valid'
  // MaxPooling2D into its output transform, when nothing but a relu (monotonic: it commutes with max)
  // comes between them: same bits, without storing and re-reading the full-size output.
  private pools(st: Step, pool: Step): boolean {
    const packed = this.steps.get(st)?.winogradPacked;
    const conv = st.layer,
      p = pool.layer;
    if (!ruleOf(conv).packs || !(conv instanceof Conv2D) || !packed || !(p instanceof MaxPooling2D)) return false;
    const act = conv.cfg.activation;
    if (act !== 'linear' && act !== 'relu') return false;
    const two = (v: [number, number]) => v[0] === 2 && v[1] === 2;
    const [KH] = conv.cfg.kernelSize as [number, number];
    return two(p.cfg.poolSize) && two(p.cfg.strides) && p.cfg.padding === 'valid' && winogradPools(KH, packed.m);
  }

  // A linear convolution fuses a relu into its store, and a relu6 unless it runs Winograd (whose
  // kernels fuse relu only); an Add applies a relu in place to its own output.
  private fuses(st: Step, kind: 'relu' | 'relu6'): boolean {
    const how = ruleOf(st.layer).fusesRelu;
    if (how === 'inPlace') return kind === 'relu';
    if (how !== 'store' || st.layer.activation !== 'linear') return false;
    return kind === 'relu' || !this.steps.get(st)?.winogradPacked;
  }

  // int8 chains: a max pooling whose input holds int8 values (a quantized layer's, or an int8 pooling's)
  // pools them in int8 (exactly the float pooling of their dequantization), and a step holding int8 values
  // whose readers (through skipped steps, which pass their input on) all take them (int8 layers with the
  // same input scale and zero point, int8 poolings), and which is no model output, leaves its float copy
  // unwritten.
  private linkInt8(): void {
    const { steps, outputs } = this.graph;
    // nothing to link in a model without int8 layers (most): no pass over the readers
    if (!steps.some((st) => ruleOf(st.layer).int8?.(st.layer))) return;
    const readersOf = new Map<number, Step[]>();
    for (const st of steps) {
      for (const i of new Set(st.inputs)) {
        const list = readersOf.get(i);
        if (list) list.push(st);
        else readersOf.set(i, [st]);
      }
    }
    const outs = new Set(outputs);
    const reads = (slot: number): Step[] | null => {
      if (outs.has(slot)) return null;
      const found: Step[] = [];
      for (const st of readersOf.get(slot) ?? []) {
        if (!this.steps.get(st)?.skip) found.push(st);
        else {
          const more = reads(st.output);
          if (!more) return null;
          found.push(...more);
        }
      }
      return found;
    };
    const held = new Map<number, Int8Params>(); // the int8 quantization of each slot holding int8 values
    for (const st of steps) {
      const rule = ruleOf(st.layer);
      const from = st.inputs.length === 1 ? held.get(st.inputs[0]!) : undefined;
      const out = rule.int8?.(st.layer)?.output;
      const win = from && rule.maxPool?.(st.layer);
      if (this.steps.get(st)?.skip) {
        if (from) held.set(st.output, from);
      } else if (out) held.set(st.output, out);
      else if (win) {
        this.merge(st, { int8Pool: win });
        held.set(st.output, from);
      }
    }
    for (const st of steps) {
      const q = held.get(st.output);
      if (!q || this.steps.get(st)?.skip) continue;
      const takes = (r: Step) => {
        if (this.steps.get(r)?.int8Pool) return true;
        const inp = ruleOf(r.layer).int8?.(r.layer)?.input;
        return r.inputs.length === 1 && !!inp && inp.scale === q.scale && inp.zeroPoint === q.zeroPoint;
      };
      const rs = reads(st.output);
      if (rs && rs.length > 0 && rs.every(takes)) this.merge(st, { int8Out: true });
    }
  }

  private merge(st: Step, p: PlannedStep): void {
    this.steps.set(st, { ...this.steps.get(st), ...p });
  }

  // A 'valid' convolution takes a zero padding as its own when each side is less than its window
  // (then every output still sees at least one pixel of the image, as the kernels assume).
  private takesPadding(conv: Step, pad: [[number, number], [number, number]]): boolean {
    const l = conv.layer;
    const cfg = l instanceof Conv2D || l instanceof DepthwiseConv2D ? l.cfg : (ruleOf(l).window?.(l) ?? null);
    if (!ruleOf(l).takesPadding || !cfg || cfg.padding !== 'valid') return false;
    const [KH, KW] = cfg.kernelSize as [number, number];
    const [DH, DW] = cfg.dilationRate as [number, number];
    const [[t, b], [le, r]] = pad;
    const eh = (KH - 1) * DH + 1,
      ew = (KW - 1) * DW + 1;
    return t < eh && b < eh && le < ew && r < ew;
  }

  private watch(t: Tensor): void {
    this.sources.push([t, t.viewCount]);
  }

  private static keyNow(): string {
    const a = getConvAlgorithm();
    return `${weightsVersion()}/${a.algorithm}/${a.winogradTile}`;
  }

  private foldable(st: Step, next: Step): boolean {
    if (!ruleOf(st.layer).foldsBatchNorm || !(next.layer instanceof BatchNormalization)) return false;
    if (st.layer.activation !== 'linear') return false;
    // the BN normalizes the last axis, which is the layer's output channels
    return st.layer.weights.length >= 1 && next.layer.stateWeights.length === 2;
  }

  // Folded [kernel, bias] of layer st followed by BatchNormalization bn, computed in float64 and rounded once.
  private fold(st: Step, bn: Step): [Tensor, Tensor] {
    if (!(bn.layer instanceof BatchNormalization))
      throw new Error(`inference plan: layer ${bn.layer.name} is not a BatchNormalization`);
    const eps = bn.layer.cfg.epsilon;
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

  // A dilated Conv2D's kernel cut to the taps that read the image (taps.ts); returns the kernel to pack.
  private trim(st: Step, kernel: Tensor, bias: Tensor | null): Tensor {
    const l = st.layer as Conv2D;
    const shape = st.inShapes[0]!;
    if (shape.length !== 3) return kernel;
    const cfg = l.cfg;
    const t = trimDeadTaps(
      kernel,
      shape[0]!,
      shape[1]!,
      {
        strides: cfg.strides as [number, number],
        dilationRate: cfg.dilationRate as [number, number],
        padding: this.steps.get(st)?.padding ?? cfg.padding,
      },
      l.name,
    );
    if (!t) return kernel;
    const k = this.own(t.kernel);
    this.merge(st, { weights: [k, bias], padding: t.padding, dilationRate: t.dilationRate });
    return k;
  }

  // What a Conv2D runs with in inference, made once: its filter's Winograd transform when it runs
  // Winograd, else its filter and bias packed for the direct GEMM.
  private pack(st: Step, kernel: Tensor, bias: Tensor | null): void {
    const l = st.layer;
    if (!ruleOf(l).packs || !(l instanceof Conv2D) || st.inShapes[0]!.length !== 3) return;
    const cfg = l.cfg;
    const prev = this.steps.get(st);
    // the kernel's own shape: it may have been cut to its live taps
    const [KH, KW] = kernel.shape as [number, number];
    const [SH, SW] = cfg.strides as [number, number];
    const d = prev?.dilationRate ?? (cfg.dilationRate as [number, number]);
    if (cfg.groups === 1 && d[0] === 1 && d[1] === 1) {
      const [, , C] = st.inShapes[0]!;
      const [OH, OW, K] = st.outShape;
      const geo = { KH, KW, SH, SW, C: C!, K: K!, OH: OH!, OW: OW! };
      const m = winogradTileFor(l.name, cfg.algorithm, cfg.winogradTile, geo, false);
      if (m) {
        const packed = winogradPack(kernel, m);
        for (const p of packed.packs) this.own(p);
        this.steps.set(st, { ...prev, winogradPacked: packed });
        return;
      }
    }
    const packed = conv2dPack(kernel, bias, cfg.groups);
    this.own(packed.pack);
    this.steps.set(st, { ...prev, directPacked: packed });
  }

  private own(t: Tensor): Tensor {
    keep(t); // not the caller's tidy(): the plan outlives the predict call
    this.owned.push(t);
    return t;
  }

  /** Frees the folded weights, transforms and kernel traces. */
  dispose(): void {
    this.traces.dispose();
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
    this.steps.clear();
  }
}
