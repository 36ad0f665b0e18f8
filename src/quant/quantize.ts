// Post-training quantization of a model: calibration (per-tensor activation ranges of every Conv2D,
// DepthwiseConv2D and Dense, by min/max or a percentile of a histogram) on sample inputs, then a new
// model of the same graph whose such layers are QuantizedConv2D / QuantizedDepthwiseConv2D /
// QuantizedDense (src/quant/layers.ts) and whose other layers are copies. The original model is unchanged.
// Not quantized (left float): grouped convolutions, depth multipliers > 1, layers applied more than once.
// A ReLU or Activation layer (plain relu or relu6) that alone reads such a layer's linear output is fused into it first, as
// imported graphs keep them apart: the int8 op clamps, with no float pass and no requantization in between.
import { Conv2D, DepthwiseConv2D } from '../nn/convolutional.js';
import { type ActivationName, applyActivation, input, type Layer, type SymbolicTensor } from '../nn/layer.js';
import { Activation, Dense } from '../nn/layers.js';
import type { GraphStep } from '../nn/graph.js';
import { Model } from '../nn/model.js';
import { classNameOf, createLayer } from '../nn/registry.js';
import { ReLU } from '../nn/reshaping.js';
import { conv2d } from '../ops/conv2d.js';
import { dense } from '../ops/dense.js';
import { depthwiseConv2d } from '../ops/dwconv2d.js';
import { quantizeWeights, quantParams } from '../ops/quant.js';
import { Rng } from '../rng.js';
import { show } from '../show.js';
import { type Tensor, tensor, tidy } from '../tensor.js';
import { type QuantizedLayerConfig, QuantizedConv2D, QuantizedDense, QuantizedDepthwiseConv2D } from './layers.js';

/** Options of {@link quantizeModel}. */
export interface QuantizeOptions {
  /** Sample inputs (batch first, the model's input shape), for the activation ranges; needed with 'int8'. */
  calibration?: Tensor;
  /** 'int8' (default): int8 compute; 'float32': int8 weights only, float compute. */
  activations?: 'int8' | 'float32';
  /**
   * Clip each range to this percentile of its values at both ends (e.g. 99.99: the lowest and highest
   * 0.01% fall outside) instead of min/max; default 100 (min/max).
   */
  percentile?: number;
  /** Calibration batch size; default 32. */
  batchSize?: number;
}

type Quantizable = Conv2D | DepthwiseConv2D | Dense;

function quantizable(l: Layer): l is Quantizable {
  if (l instanceof Conv2D) return l.cfg.groups === 1;
  if (l instanceof DepthwiseConv2D) return l.cfg.depthMultiplier === 1;
  return l instanceof Dense;
}

const FUSED = new Set(['linear', 'relu', 'relu6']);

// The layer's output before its activation (after it when relu/relu6, which the int8 op clamps).
function preActivation(l: Quantizable, x: Tensor): Tensor {
  const bias = l.weights[1]?.value ?? null;
  const k = l.weights[0]!.value;
  if (l instanceof Dense) return dense(x, k, { bias, name: l.name });
  const win = { strides: l.cfg.strides, padding: l.cfg.padding, dilationRate: l.cfg.dilationRate, bias, name: l.name };
  return l instanceof Conv2D ? conv2d(x, k, win) : depthwiseConv2d(x, k, win);
}

/** Range statistics of one tensor: min/max, then (for a percentile) a histogram over [min, max]. */
class Range {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  hist: Float64Array | null = null;
  see(v: Float32Array): void {
    if (!this.hist) {
      for (const x of v) {
        if (x < this.min) this.min = x;
        if (x > this.max) this.max = x;
      }
      return;
    }
    const n = this.hist.length,
      w = (this.max - this.min) / n || 1;
    for (const x of v) this.hist[Math.min(n - 1, Math.max(0, Math.floor((x - this.min) / w)))]++;
  }
  // [lo, hi] clipping `tail` of the values at each end (from the histogram).
  clipped(tail: number): [number, number] {
    if (!this.hist) return [this.min, this.max];
    const n = this.hist.length,
      w = (this.max - this.min) / n;
    const total = this.hist.reduce((a, b) => a + b, 0);
    let lo = 0,
      hi = n - 1,
      acc = 0;
    while (lo < n - 1 && (acc += this.hist[lo]!) <= tail * total) lo++;
    acc = 0;
    while (hi > 0 && (acc += this.hist[hi]!) <= tail * total) hi--;
    return [this.min + lo * w, this.min + (hi + 1) * w];
  }
}

// Runs the calibration inputs through the graph, feeding the ranges of each target step's input and output.
function calibrate(model: Model, x: Tensor, batch: number, targets: Map<number, [Range, Range]>): void {
  const g = model.graph();
  const N = x.shape[0]!;
  const per = x.size / N;
  const data = x.dataSync() as Float32Array;
  const rng = new Rng(0);
  for (let b0 = 0; b0 < N; b0 += batch) {
    tidy(() => {
      const nb = Math.min(batch, N - b0);
      const vals: Tensor[] = [tensor(data.subarray(b0 * per, (b0 + nb) * per), [nb, ...x.shape.slice(1)])];
      g.steps.forEach((st, i) => {
        const ins = st.inputs.map((s) => vals[s]!);
        const r = targets.get(i);
        if (!r) {
          vals[st.output] = st.layer.callFor(ins, { training: false, rng });
          return;
        }
        const l = st.layer as Quantizable;
        r[0].see(ins[0]!.dataSync() as Float32Array);
        const pre = preActivation(l, ins[0]!);
        const y = l.activation === 'linear' ? pre : applyActivation(pre, l.activation, { training: false, rng });
        r[1].see((FUSED.has(l.activation) ? y : pre).dataSync() as Float32Array);
        vals[st.output] = y;
      });
    });
  }
}

/**
 * A quantized copy of `model` (post-training, no retraining): Conv2D, DepthwiseConv2D and Dense get
 * int8 weights (symmetric per output channel) and, with activations 'int8', int8 compute between
 * calibrated per-tensor asymmetric input and output quantizations (ReLU and ReLU6 fused as clamps).
 * The other layers are copied and stay float32.
 */
export function quantizeModel(model: Model, opts: QuantizeOptions): Model {
  const what = 'quantize';
  if (!opts || typeof opts !== 'object') throw new Error(`${what}: expected options { calibration, activations }`);
  const mode = opts.activations ?? 'int8';
  if (mode !== 'int8' && mode !== 'float32')
    throw new Error(`${what}: activations must be 'int8' or 'float32', got ${show(mode)}`);
  const pct = opts.percentile ?? 100;
  if (!(typeof pct === 'number' && pct > 50 && pct <= 100))
    throw new Error(`${what}: percentile must be a number in (50, 100], got ${show(opts.percentile)}`);
  const batch = opts.batchSize ?? 32;
  if (!Number.isInteger(batch) || batch < 1)
    throw new Error(`${what}: batchSize must be a positive integer, got ${show(batch)}`);
  model.build();
  const fused = fuseRelus(model);
  try {
    return quantizeGraph(fused ?? model, opts, mode, pct, batch);
  } finally {
    fused?.dispose();
  }
}

function quantizeGraph(
  model: Model,
  opts: QuantizeOptions,
  mode: 'int8' | 'float32',
  pct: number,
  batch: number,
): Model {
  const what = 'quantize';
  const g = model.graph();
  // A layer applied more than once would need one quantization per application: it stays float.
  const uses = new Map<Layer, number>();
  for (const st of g.steps) uses.set(st.layer, (uses.get(st.layer) ?? 0) + 1);
  const targets = new Map<number, [Range, Range]>();
  g.steps.forEach((st, i) => {
    if (quantizable(st.layer) && uses.get(st.layer) === 1) targets.set(i, [new Range(), new Range()]);
  });
  if (mode === 'int8') {
    const x = opts.calibration;
    if (g.inputShapes.length !== 1)
      throw new Error(`${what}: calibration supports models of one input, this one has ${g.inputShapes.length}`);
    const want = g.inputShapes[0]!;
    if (
      !x ||
      typeof x !== 'object' ||
      !Array.isArray(x.shape) ||
      x.shape.length !== want.length + 1 ||
      want.some((d, i) => x.shape[i + 1] !== d) ||
      x.shape[0] === 0
    )
      throw new Error(
        `${what}: calibration must be a tensor of shape [N, ${want}], got ${x && Array.isArray(x.shape) ? `[${x.shape}]` : show(x)}`,
      );
    calibrate(model, x, batch, targets);
    if (pct < 100) {
      for (const [a, b] of targets.values()) for (const r of [a, b]) r.hist = new Float64Array(2048);
      calibrate(model, x, batch, targets);
    }
  }
  return rebuild(model, targets, (l, ranges) => quantizedLayer(l, mode, ranges, (100 - pct) / 100));
}

// The quantized layer for float layer l (int8 weights in its state are filled by rebuild).
function quantizedLayer(l: Quantizable, mode: 'int8' | 'float32', ranges: [Range, Range], tail: number): Layer {
  const { name: _n, inputShape: _s, ...layer } = l.getConfig() as Record<string, unknown>;
  const kq = quantizeWeights(
    l.weights[0]!.value,
    l instanceof DepthwiseConv2D ? l.weights[0]!.value.shape[2] : undefined,
  );
  const cfg: QuantizedLayerConfig = { layer, activations: mode, kernelScale: Array.from(kq.scale), name: l.name };
  kq.dispose();
  if (mode === 'int8') {
    const inp = quantParams(...ranges[0].clipped(tail));
    const out = quantParams(...ranges[1].clipped(tail));
    Object.assign(cfg, {
      inputScale: inp.scale,
      inputZeroPoint: inp.zeroPoint,
      outputScale: out.scale,
      outputZeroPoint: out.zeroPoint,
    });
  }
  if (l.inputShape) cfg.inputShape = l.inputShape;
  return l instanceof Conv2D
    ? new QuantizedConv2D(cfg)
    : l instanceof DepthwiseConv2D
      ? new QuantizedDepthwiseConv2D(cfg)
      : new QuantizedDense(cfg);
}

// A new model over the same graph: target steps' layers made by `make`, the others copied with their weights.
function rebuild(
  model: Model,
  targets: Map<number, [Range, Range]>,
  make: (l: Quantizable, r: [Range, Range]) => Layer,
): Model {
  return copyGraph(model, (st, i) => {
    const r = targets.get(i);
    return r ? make(st.layer as Quantizable, r) : undefined;
  });
}

/** An Activation relu / relu6 or a ReLU layer that is exactly one (no slope, no threshold): that name, else null. */
function plainRelu(l: Layer): 'relu' | 'relu6' | null {
  if (l instanceof Activation) return l.act === 'relu' || l.act === 'relu6' ? l.act : null;
  if (!(l instanceof ReLU) || l.negativeSlope !== 0 || l.threshold !== 0) return null;
  return l.maxValue === null ? 'relu' : l.maxValue === 6 ? 'relu6' : null;
}

/**
 * A float copy of `model` in which each plain ReLU / ReLU6 layer that alone reads the linear output of a
 * quantizable layer (both applied once) has become that layer's activation; null when there is none.
 */
function fuseRelus(model: Model): Model | null {
  const g = model.graph();
  const readers = new Map<number, number>();
  for (const st of g.steps) for (const s of st.inputs) readers.set(s, (readers.get(s) ?? 0) + 1);
  for (const o of g.outputs) readers.set(o, (readers.get(o) ?? 0) + 1);
  const uses = new Map<Layer, number>();
  for (const st of g.steps) uses.set(st.layer, (uses.get(st.layer) ?? 0) + 1);
  const producer = new Map<number, number>();
  const act = new Map<number, ActivationName>();
  const dropped = new Set<number>();
  g.steps.forEach((st, i) => {
    producer.set(st.output, i);
    const a = plainRelu(st.layer);
    const j = producer.get(st.inputs[0]!);
    if (!a || j === undefined || uses.get(st.layer) !== 1 || readers.get(st.inputs[0]!) !== 1) return;
    const p = g.steps[j]!.layer;
    if (!quantizable(p) || p.activation !== 'linear' || uses.get(p) !== 1) return;
    act.set(j, a);
    dropped.add(i);
  });
  if (act.size === 0) return null;
  return copyGraph(model, (st, i) => {
    if (dropped.has(i)) return null;
    const a = act.get(i);
    return a ? createLayer(classNameOf(st.layer), { ...st.layer.getConfig(), activation: a }, 'quantize') : undefined;
  });
}

/**
 * A new model over the same graph. `make(step, i)` gives a step's new layer (its weights filled by the
 * caller's layer classes below), undefined for a copy of the old one with its weights, or null to drop a
 * one-input step (its output is then its input).
 */
function copyGraph(model: Model, make: (st: GraphStep, i: number) => Layer | null | undefined): Model {
  const g = model.graph();
  const inputs = g.inputShapes.map((shape) => input({ shape }));
  const sym: SymbolicTensor[] = [...inputs];
  const made = new Map<Layer, Layer>();
  g.steps.forEach((st, i) => {
    let nl = made.get(st.layer);
    if (!nl) {
      const m = make(st, i);
      if (m === null) {
        sym[st.output] = sym[st.inputs[0]!]!;
        return;
      }
      nl = m ?? createLayer(classNameOf(st.layer), st.layer.getConfig(), 'quantize');
      made.set(st.layer, nl);
    }
    const ins = st.inputs.map((s) => sym[s]!);
    sym[st.output] = nl.apply(nl.arity === 'many' ? ins : ins[0]!);
  });
  const out = new Model({ inputs, outputs: g.outputs.map((o) => sym[o]!), name: model.name, seed: model.seed });
  out.build();
  for (const [old, nl] of made) {
    if (nl instanceof QuantizedConv2D || nl instanceof QuantizedDepthwiseConv2D || nl instanceof QuantizedDense) {
      const channels = old instanceof DepthwiseConv2D ? old.weights[0]!.value.shape[2] : undefined;
      const kq = quantizeWeights(old.weights[0]!.value, channels);
      nl.stateWeights[0]!.value.view().set(kq.values());
      kq.dispose();
      if (old.weights[1]) nl.stateWeights[1]!.value.view().set(old.weights[1].value.dataSync());
      continue;
    }
    old.weights.forEach((w, j) => nl.weights[j]!.value.view().set(w.value.dataSync()));
    old.stateWeights.forEach((w, j) => nl.stateWeights[j]!.value.view().set(w.value.dataSync()));
  }
  return out;
}
