// Model: Keras' model API over a graph of layers — summary, compile, fit, evaluate, predict,
// trainOnBatch, get/setWeights. A functional model's graph comes from symbolic tensors
// (sn.input, layer.apply); Sequential is a Model whose graph is a chain. The graph is put in
// topological order once (`steps`); forward walks it, every op records on the tape, so backward
// needs nothing graph-specific. One training step:
//   tidy { zero grads · forward on the tape (final softmax fused into the loss) · backward · optimizer }
// so every tensor of a step is released at its end and the arena high-water mark stays flat.
// File formats live outside (src/formats/ imports this module, never the reverse): save() builds the
// model's artifacts and hands them to an IOHandler, or encodes them with the .simdnet codec (src/io/).
import { Tensor, tensor, tidy } from '../tensor.js';
import { Tape, noGrad, withTape } from '../autograd.js';
import { softmaxCrossEntropy } from '../ops/act.js';
import { binaryCrossentropy, meanAbsoluteError, meanSquaredError } from '../ops/loss.js';
import { getArena } from '../wasm/arena.js';
import { Rng } from '../rng.js';
import { InputLayer, Layer, type LayerNode, type StateWeight, SymbolicTensor } from './layer.js';
import { Optimizer, type ParamGrad } from '../optim/optimizer.js';
import { Adam } from '../optim/adam.js';
import { AdamW } from '../optim/adamw.js';
import { SGD } from '../optim/sgd.js';
import { RMSprop } from '../optim/rmsprop.js';
import type { LearningRateSchedule } from '../optim/schedules.js';
import { Progress } from './progress.js';
import { type BaseCallback, CallbackList, type Logs, checkCallbacks } from './base-callbacks.js';
import {
  type Data,
  type DataSource,
  type LossName,
  LOSSES,
  checkTargets,
  labelsToOneHot,
  sliceSource,
  toSource,
} from './data.js';
import { StepGuard } from './guard.js';
import { type BatchIO, InferencePlan, inferencePlanEnabled, weightsChanged } from './inference.js';
import { countBinary, countCorrect } from './metrics.js';
import {
  BATCH_OPTIONS,
  COMPILE_OPTIONS,
  FIT_OPTIONS,
  MODEL_OPTIONS,
  checkArg,
  checkLayerSize,
  checkOptions,
  func,
  nullValue,
  or,
  seedInt,
} from './options.js';
import { show } from '../show.js';
import { modelArtifacts, modelJSON } from './artifacts.js';
import type { IOHandler } from '../io/artifacts.js';
import { encodeSimdnet } from '../io/simdnet.js';

/** Arguments of {@link Model.compile}. */
export interface CompileArgs {
  optimizer: 'adam' | 'adamw' | 'sgd' | 'rmsprop' | Optimizer;
  loss: LossName;
  metrics?: string[];
  /**
   * For the cross-entropies: trains against `(1 - labelSmoothing) · onehot + labelSmoothing / classes`
   * instead of the one-hot labels, as Keras' `label_smoothing` (default 0). Like Keras, evaluate
   * reports the loss against the smoothed labels too; accuracy is unchanged.
   */
  labelSmoothing?: number;
}

export type { Logs };

/**
 * Callbacks of {@link Model.fit} as functions; returning `false` from one stops training. (fit also
 * takes a list of {@link Callback} objects, Keras style.)
 */
export interface Callbacks {
  onTrainBegin?: (logs?: Logs) => void | boolean | Promise<void | boolean>;
  onTrainEnd?: (logs?: Logs) => void | boolean | Promise<void | boolean>;
  onEpochBegin?: (epoch: number, logs?: Logs) => void | boolean | Promise<void | boolean>;
  onEpochEnd?: (epoch: number, logs: Logs) => void | boolean | Promise<void | boolean>;
  onBatchBegin?: (batch: number, logs?: Logs) => void | boolean | Promise<void | boolean>;
  onBatchEnd?: (batch: number, logs: Logs) => void | boolean | Promise<void | boolean>;
}

/** Arguments of {@link Model.fit} (Keras names). */
export interface FitArgs {
  epochs?: number;
  batchSize?: number;
  validationData?: [Data, Data];
  /**
   * Fraction in [0, 1) of x/y held out as validation data, as Keras: the last examples, taken before
   * shuffling. Not together with validationData.
   */
  validationSplit?: number;
  /**
   * Sets the optimizer's learning rate before every step to `schedule(optimizer.iterations)` (the
   * 0-based step count, continuing across fits and saved models), e.g. `sn.schedules.cosineDecay(...)`.
   */
  learningRateSchedule?: LearningRateSchedule;
  shuffle?: boolean;
  /**
   * Reseeds shuffling and dropout. Weight initialisation is seeded by the model's own seed
   * (`new Sequential({seed})` or `setSeed()` before compile), which also seeds shuffling and dropout
   * when fit gets no seed — so one seed drives all three.
   */
  seed?: number;
  /** Keras-style {@link Callback} objects (EarlyStopping, ...) or an object of hook functions. */
  callbacks?: Callbacks | BaseCallback[];
  /**
   * 0 silent, 1 progress bar (default; when stdout is not a terminal, a progress line every
   * `progressInterval` seconds), 2 one line per epoch.
   */
  verbose?: number;
  /** Stops training after the current batch. */
  signal?: AbortSignal;
  /** Epoch number to start counting from (for resumed training). */
  initialEpoch?: number;
  /** Where progress lines go (default console.log). */
  print?: (line: string) => void;
  /** Seconds between progress lines within an epoch when stdout is not a terminal (verbose 1; default 30). */
  progressInterval?: number;
}

/** What fit returns, as Keras' History. */
export interface History {
  epoch: number[];
  /** `accuracy` stays empty for meanSquaredError and meanAbsoluteError (no accuracy is computed). */
  history: {
    loss: number[];
    accuracy: number[];
    val_loss?: number[];
    val_accuracy?: number[];
    /** The optimizer's learning rate at the end of each epoch (before callbacks change it). */
    learning_rate?: number[];
  };
  /** True when training was stopped early (callback or signal). */
  stopped: boolean;
  /** The epoch during or after which training was stopped early, else null. */
  stoppedEpoch?: number | null;
}

/** @internal A training step that produced a non-finite loss or weights (undone before throwing). */
export class NonFiniteStepError extends Error {
  constructor(
    message: string,
    /** The batch loss (NaN when the loss was finite but the update was not). */
    readonly loss: number,
  ) {
    super(message);
  }
}

/** One layer application of the graph in topological order: reads value slots, writes one. */
export interface GraphStep {
  layer: Layer;
  /** The functional node (null for a Sequential chain). */
  node: LayerNode | null;
  inputs: number[];
  output: number;
  inShapes: number[][];
  outShape: number[];
}

/** A model's graph, computed once: slots 0..inputs-1 hold the inputs, each step fills one more. */
interface Graph {
  inputShapes: number[][];
  steps: GraphStep[];
  outputs: number[];
  slots: number;
}

/** Arguments of {@link model}. */
export interface ModelArgs {
  inputs: SymbolicTensor | SymbolicTensor[];
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seeds weight initialisation, and shuffling and dropout unless fit gets its own seed. */
  seed?: number;
}

const shapeText = (s: readonly number[]) => `(None, ${s.join(', ')})`;
const isCrossentropy = (l: LossName | null) => l === 'categoricalCrossentropy' || l === 'sparseCategoricalCrossentropy';

/**
 * A graph of layers with Keras' model API (keras.Model / tf.model). Build a functional model with
 * {@link model}: `sn.model({inputs: x, outputs: y})`; {@link Sequential} is the chain case.
 */
export class Model {
  name: string;
  /** The seed that initialised the weights. */
  seed: number;
  /** @internal */ initRng: Rng;
  /** @internal */ trainRng: Rng;
  optimizer: Optimizer | null = null;
  loss: LossName | null = null;
  metrics: string[] = [];
  /** The compile option of that name (0: none). */
  labelSmoothing = 0;
  /** Symbolic inputs and outputs (empty for a Sequential model). */
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  private built = false;
  private stopFlag = false;
  private disposed = false;
  private guard = new StepGuard();
  /** predict's folded weights and Winograd transforms (see inferencePlan). */
  private plan: InferencePlan | null = null;
  /** @internal */ protected graphCache: Graph | null = null;
  private layerList: Layer[] = [];

  constructor(cfg: { inputs?: SymbolicTensor[]; outputs?: SymbolicTensor[]; name?: string; seed?: number } = {}) {
    this.name = cfg.name ?? 'model';
    this.seed = cfg.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.initRng = new Rng(this.seed);
    this.trainRng = new Rng(this.seed ^ 0x5bd1e995);
    this.inputs = cfg.inputs ?? [];
    this.outputs = cfg.outputs ?? [];
    if (this.outputs.length > 0 || this.inputs.length > 0) this.graphCache = this.traceGraph();
  }

  /** True for a Sequential chain (its summary and files keep the Sequential form). */
  get isSequential(): boolean {
    return false;
  }

  /** Every layer once, in topological order (a functional model lists its InputLayers first, as Keras). */
  get layers(): Layer[] {
    this.graph();
    return this.layerList;
  }

  /** @internal Sets the layer list (Sequential keeps its own). */
  protected setLayers(l: Layer[]): void {
    this.layerList = l;
  }

  /** The layer called `name`; throws naming the layers there are. */
  getLayer(name: string): Layer {
    const l = this.layers.find((x) => x.name === name);
    if (!l)
      throw new Error(
        `getLayer: no layer named ${show(name)}; the model has ${this.layers.map((x) => x.name).join(', ')}`,
      );
    return l;
  }

  /** Walks back from the outputs: topological order, slots, unique names; errors name the layer and shapes. */
  private traceGraph(): Graph {
    const what = `model ${this.name}`;
    if (this.inputs.length === 0) throw new Error(`${what}: needs at least one input (sn.input({shape}))`);
    if (this.outputs.length === 0) throw new Error(`${what}: needs at least one output`);
    for (const t of [...this.inputs, ...this.outputs]) {
      if (!(t instanceof SymbolicTensor))
        throw new Error(
          `${what}: inputs and outputs must be symbolic tensors (sn.input, layer.apply), got ${typeof t}`,
        );
    }
    this.inputs.forEach((t, i) => {
      if (!(t.node.layer instanceof InputLayer))
        throw new Error(
          `${what}: input ${i} comes from layer ${t.node.layer.name || t.node.layer.className}, not from sn.input`,
        );
      if (this.inputs.indexOf(t) !== i) throw new Error(`${what}: input ${i} is listed twice`);
    });
    const order: LayerNode[] = [];
    const state = new Map<LayerNode, 1 | 2>();
    const visit = (n: LayerNode, from: string) => {
      const st = state.get(n);
      if (st === 2) return;
      if (st === 1)
        throw new Error(`${what}: the graph has a cycle through layer ${n.layer.name || n.layer.className}`);
      state.set(n, 1);
      if (n.layer instanceof InputLayer && !this.inputs.includes(n.output)) {
        throw new Error(
          `${what}: ${from} depends on input ${n.layer.name || '(unnamed)'} ${shapeText(n.output.shape)}, which is not in the model's inputs`,
        );
      }
      for (const t of n.inputs) visit(t.node, `layer ${n.layer.name || n.layer.className}`);
      state.set(n, 2);
      order.push(n);
    };
    this.outputs.forEach((t, i) => visit(t.node, `output ${i}`));
    this.inputs.forEach((t, i) => {
      if (!state.has(t.node))
        throw new Error(
          `${what}: input ${i} (${t.node.layer.name || 'unnamed'} ${shapeText(t.shape)}) is not connected to the outputs`,
        );
    });
    // Layers: inputs first, then in order of first use; unnamed ones get Keras names (dense, dense_1, ...).
    const layers: Layer[] = [];
    for (const t of this.inputs) layers.push(t.node.layer);
    for (const n of order) if (!layers.includes(n.layer)) layers.push(n.layer);
    const taken = new Set(layers.filter((l) => l.name).map((l) => l.name));
    for (const l of layers) {
      if (l.name) continue;
      let name = l.defaultName;
      for (let i = 1; taken.has(name); i++) name = `${l.defaultName}_${i}`;
      l.name = name;
      taken.add(name);
    }
    const seen = new Map<string, Layer>();
    for (const l of layers) {
      const other = seen.get(l.name);
      if (other && other !== l)
        throw new Error(
          `${what}: two layers are named ${l.name} (${other.className} and ${l.className}); layer names must be unique`,
        );
      seen.set(l.name, l);
    }
    const slot = new Map<SymbolicTensor, number>();
    this.inputs.forEach((t, i) => slot.set(t, i));
    const steps: GraphStep[] = [];
    for (const n of order) {
      if (n.layer instanceof InputLayer) continue;
      const out = this.inputs.length + steps.length;
      if (n.inputs.length === 1) checkLayerSize(n.layer, n.inputs[0].shape, n.output.shape as number[]);
      steps.push({
        layer: n.layer,
        node: n,
        inputs: n.inputs.map((t) => slot.get(t)!),
        output: out,
        inShapes: n.inputs.map((t) => [...t.shape]),
        outShape: [...n.output.shape],
      });
      slot.set(n.output, out);
    }
    this.layerList = layers;
    return {
      inputShapes: this.inputs.map((t) => [...t.shape]),
      steps,
      outputs: this.outputs.map((t) => slot.get(t)!),
      slots: slot.size,
    };
  }

  /** @internal The graph in topological order (computed once). */
  graph(): Graph {
    if (!this.graphCache) this.graphCache = this.makeGraph();
    return this.graphCache;
  }

  /** @internal Computes the graph (a functional model traces it from its outputs). */
  protected makeGraph(): Graph {
    return this.traceGraph();
  }

  /** @internal The steps of the graph in topological order. */
  get steps(): GraphStep[] {
    return this.graph().steps;
  }

  /** Sets the seed before the weights exist (they are created on first build). */
  setSeed(seed: number): void {
    this.alive('setSeed');
    checkArg('setSeed', 'seed', seed, seedInt);
    if (this.built) throw new Error('setSeed: the weights already exist; pass seed before compile/fit/summary');
    this.seed = seed;
    this.initRng = new Rng(seed);
    this.trainRng = new Rng(seed ^ 0x5bd1e995);
  }

  /** Input shape without the batch axis (the first input's for several). */
  get inputShape(): number[] {
    return [...this.graph().inputShapes[0]];
  }

  /** Shapes of every input, without the batch axis. */
  get inputShapes(): number[][] {
    return this.graph().inputShapes.map((s) => [...s]);
  }

  /** Output shapes of every step (every layer of a Sequential model), without the batch axis. */
  shapes(): number[][] {
    return this.graph().steps.map((s) => [...s.outShape]);
  }

  /** Output shape without the batch axis (the first output's for several). */
  get outputShape(): number[] {
    return this.outputShapes[0];
  }

  /** Shapes of every output, without the batch axis. */
  get outputShapes(): number[][] {
    const g = this.graph();
    return g.outputs.map((o) =>
      o < g.inputShapes.length ? [...g.inputShapes[o]] : [...g.steps[o - g.inputShapes.length].outShape],
    );
  }

  /** Names and shapes of every weight and state array build() would create, in getWeights order. */
  weightSpecs(): {
    weights: Array<{ name: string; shape: number[] }>;
    state: Array<{ name: string; shape: number[] }>;
  } {
    const weights: Array<{ name: string; shape: number[] }> = [],
      state: Array<{ name: string; shape: number[] }> = [];
    const done = new Set<Layer>();
    for (const st of this.graph().steps) {
      if (done.has(st.layer)) continue;
      done.add(st.layer);
      if (st.layer.arity !== 1) continue;
      for (const [suffix, shape] of st.layer.weightShapes(st.inShapes[0]))
        weights.push({ name: `${st.layer.name}/${suffix}`, shape });
      for (const [suffix, shape] of st.layer.stateShapes(st.inShapes[0]))
        state.push({ name: `${st.layer.name}/${suffix}`, shape });
    }
    return { weights, state };
  }

  /** Creates every layer's weights (idempotent; done by compile, fit, summary). */
  build(): void {
    this.alive('build');
    if (this.built) return;
    const g = this.graph();
    for (const st of g.steps) if (!st.layer.built) st.layer.build(st.inShapes[0], this.initRng);
    this.built = true;
  }

  get isBuilt(): boolean {
    return this.built;
  }

  /** Layers that own weights, each once, in order. */
  private weightLayers(): Layer[] {
    return this.layers.filter((l) => !(l instanceof InputLayer));
  }

  /** Parameters and gradients of every layer, in order (frozen layers included). */
  params(): ParamGrad[] {
    this.build();
    return this.weightLayers().flatMap((l) => l.weights.map((w) => ({ name: w.name, value: w.value, grad: w.grad })));
  }

  /** The parameters the optimizer updates: those of layers with `trainable` true. */
  trainableParams(): ParamGrad[] {
    this.build();
    return this.weightLayers()
      .filter((l) => l.trainable)
      .flatMap((l) => l.weights.map((w) => ({ name: w.name, value: w.value, grad: w.grad })));
  }

  /** Non-trainable state of every layer, in order (BatchNormalization's moving statistics). */
  stateWeights(): StateWeight[] {
    this.build();
    return this.weightLayers().flatMap((l) => l.stateWeights.map((w) => ({ name: w.name, value: w.value })));
  }

  /** Every weight in Keras order: per layer its trainable weights, then its state. */
  private allWeights(): StateWeight[] {
    this.build();
    return this.weightLayers().flatMap((l) =>
      [...l.weights, ...l.stateWeights].map((w) => ({ name: w.name, value: w.value })),
    );
  }

  /** Number of parameters, trainable and not. */
  countParams(): number {
    this.build();
    return this.weightLayers().reduce((a, l) => a + l.countParams(), 0);
  }

  /** Number of trainable parameters (frozen layers count as non-trainable). */
  countTrainableParams(): number {
    this.build();
    return this.weightLayers().reduce((a, l) => a + (l.trainable ? l.countTrainableParams() : 0), 0);
  }

  /**
   * The Keras summary table; printed with `print` (default console.log) and returned. A functional
   * model gets Keras' functional table with its "Connected to" column.
   */
  summary(print: ((s: string) => void) | null = (s) => console.log(s)): string {
    this.alive('summary');
    checkArg('summary', 'print', print, or(func, nullValue));
    this.build();
    const text = this.isSequential ? this.sequentialTable() : this.functionalTable();
    if (print) print(text);
    return text;
  }

  private totals(width: number): string[] {
    const total = this.countParams(),
      trainable = this.countTrainableParams();
    return [
      '='.repeat(width),
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
      '_'.repeat(width),
    ];
  }

  private sequentialTable(): string {
    const shapes = this.shapes();
    // Columns at 33 and 59 as Keras; a longer cell keeps one space before the next column.
    const cell = (v: string, w: number) => (v.length < w ? v.padEnd(w) : `${v} `);
    const row = (a: string, b: string, c: string) => `${cell(a, 33)}${cell(b, 26)}${c}`.trimEnd();
    const lines = [
      `Model: "${this.name}"`,
      '_'.repeat(69),
      row(' Layer (type)', 'Output Shape', 'Param #'),
      '='.repeat(69),
    ];
    this.layers.forEach((l, i) => {
      if (i > 0) lines.push('');
      lines.push(row(` ${l.name} (${l.className})`, `(None, ${shapes[i].join(', ')})`, String(l.countParams())));
    });
    return [...lines, ...this.totals(69)].join('\n');
  }

  /**
   * Keras' functional summary (line length 98, columns at 33, 55, 67): one row per layer
   * application, "Connected to" listing `layer[node][tensor]` of its inputs, wrapped one per line.
   */
  private functionalTable(): string {
    const pos = [33, 55, 67, 98];
    const lines = [`Model: "${this.name}"`, '_'.repeat(98)];
    // A cell wider than its column (two spaces kept before the next) wraps onto the next lines, as Keras.
    const row = (cells: string[][]) => {
      const cols = cells.map((c, i) => {
        const width = pos[i] - (i === 0 ? 0 : pos[i - 1]) - (i < pos.length - 1 ? 2 : 0);
        return c.flatMap((t) => {
          const parts: string[] = [];
          // The name column's continuation lines keep its leading space.
          for (let at = 0; at < t.length || at === 0; at += width)
            parts.push((i === 0 && at > 0 ? ' ' : '') + t.slice(at, at + width));
          return parts;
        });
      });
      const n = Math.max(...cols.map((c) => c.length));
      for (let r = 0; r < n; r++) {
        let line = '';
        cols.forEach((c, i) => {
          line = line.padEnd(i === 0 ? 0 : pos[i - 1]) + (c[r] ?? '');
        });
        lines.push(line.trimEnd());
      }
    };
    row([[' Layer (type)'], ['Output Shape'], ['Param #'], ['Connected to']]);
    lines.push('='.repeat(98));
    const g = this.graph();
    const entries: Array<{ layer: Layer; shape: string; connected: string[] }> = [];
    this.inputs.forEach((t) => entries.push({ layer: t.node.layer, shape: `[${shapeText(t.shape)}]`, connected: [] }));
    for (const st of g.steps) {
      const conn = st.node!.inputs.map((t) => `${t.node.layer.name}[${t.node.index}][${t.index}]`);
      entries.push({ layer: st.layer, shape: shapeText(st.outShape), connected: conn });
    }
    // A shared layer is listed once, with the parameters counted on its first row.
    const counted = new Set<Layer>();
    entries.forEach((e, i) => {
      if (i > 0) lines.push('');
      const params = counted.has(e.layer) ? 0 : e.layer.countParams();
      counted.add(e.layer);
      const conn =
        e.connected.length === 0
          ? ['[]']
          : e.connected.map((c, j) => `${j === 0 ? '[' : ' '}'${c}'${j === e.connected.length - 1 ? ']' : ','}`);
      row([[` ${e.layer.name} (${e.layer.className})`], [e.shape], [String(params)], conn]);
    });
    return [...lines, ...this.totals(98)].join('\n');
  }

  /** Chooses optimizer, loss and metrics (Keras names). */
  compile(args: CompileArgs): void {
    this.alive('compile');
    checkOptions('compile', args, COMPILE_OPTIONS, 'its argument');
    if (!args || typeof args !== 'object') throw new Error('compile: expected {optimizer, loss, metrics}');
    const { optimizer, loss } = args;
    if (!(LOSSES as readonly unknown[]).includes(loss)) {
      throw new Error(`compile: loss must be one of ${LOSSES.map((l) => `'${l}'`).join(', ')}, got ${show(loss)}`);
    }
    if (!this.isSequential && this.outputs.length !== 1) {
      throw new Error(
        `compile: training needs a model with one output; this one has ${this.outputs.length} (predict works with several)`,
      );
    }
    if (isCrossentropy(loss)) {
      const last = this.isSequential
        ? (this.layers[this.layers.length - 1] ?? null)
        : (this.outputStep()?.layer ?? null);
      if (!last || last.activation !== 'softmax') {
        throw new Error(
          `compile: ${loss} needs the model to end with a softmax activation (it is fused with the loss); the last layer ${last?.name ?? '(none)'} has '${last?.activation ?? 'none'}'`,
        );
      }
      if (this.outputShape.length !== 1)
        throw new Error(
          `compile: ${loss} needs an output of shape (None, classes), got ${shapeText(this.outputShape)}`,
        );
    }
    for (const m of args.metrics ?? []) {
      if (m !== 'accuracy' && m !== 'acc')
        throw new Error(`compile: unknown metric ${show(m)} (supported: 'accuracy')`);
      if (loss === 'meanSquaredError' || loss === 'meanAbsoluteError') {
        throw new Error(`compile: metric 'accuracy' has no meaning for ${loss} (a regression loss); leave metrics out`);
      }
    }
    const smoothing = args.labelSmoothing ?? 0;
    if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1))
      throw new Error(`compile: labelSmoothing must be a number in [0, 1), got ${show(args.labelSmoothing)}`);
    if (smoothing > 0 && !isCrossentropy(loss))
      throw new Error(`compile: labelSmoothing applies to the cross-entropies only, not to ${loss}`);
    let opt: Optimizer;
    if (optimizer === 'adam') opt = new Adam();
    else if (optimizer === 'adamw') opt = new AdamW();
    else if (optimizer === 'sgd') opt = new SGD();
    else if (optimizer === 'rmsprop') opt = new RMSprop();
    else if (optimizer instanceof Optimizer) opt = optimizer;
    else
      throw new Error(
        `compile: optimizer must be 'adam', 'adamw', 'sgd', 'rmsprop' or an optimizer object, got ${show(optimizer)}`,
      );
    // Like Keras, the weights exist once the model is compiled (seeded by the model's seed).
    this.build();
    if (this.optimizer && this.optimizer !== opt) this.optimizer.dispose();
    this.optimizer = opt;
    this.loss = loss;
    this.labelSmoothing = smoothing;
    this.metrics = (args.metrics ?? []).map(() => 'accuracy');
  }

  /** The step producing the (single) output, or null when the output is an input. */
  private outputStep(): GraphStep | null {
    const g = this.graph();
    const o = g.outputs[0];
    return o < g.inputShapes.length ? null : g.steps[o - g.inputShapes.length];
  }

  /** Walks the steps; `logits` leaves the final softmax to the fused loss. Returns the output tensors. */
  private forward(xs: Tensor[], training: boolean, logits: boolean): Tensor[] {
    const g = this.graph();
    const vals: Tensor[] = new Array(g.slots);
    xs.forEach((x, i) => {
      vals[i] = x;
    });
    const fused = logits ? this.outputStep() : null;
    for (const st of g.steps) {
      // A frozen BatchNormalization normalizes with its moving statistics, as in Keras.
      const t = training && !(st.layer.trainable === false && st.layer.stateWeights.length > 0);
      vals[st.output] = st.layer.callFor(
        st.inputs.map((i) => vals[i]),
        { training: t, rng: this.trainRng, logits: st === fused },
      );
    }
    return g.outputs.map((o) => vals[o]);
  }

  private checkInputs(srcs: DataSource[], what: string): void {
    const g = this.graph();
    if (srcs.length !== g.inputShapes.length) {
      throw new Error(`${what}: the model has ${g.inputShapes.length} inputs, got ${srcs.length} arrays`);
    }
    srcs.forEach((src, i) => {
      const want = g.inputShapes[i];
      if (src.rowShape.join() !== want.join()) {
        const who = this.isSequential ? `layer ${this.layers[0].name}` : `input ${this.inputs[i].node.layer.name}`;
        throw new Error(`${what}: ${who} expects input of shape [None, ${want}], got [${src.n}, ${src.rowShape}]`);
      }
      if (src.n !== srcs[0].n)
        throw new Error(`${what}: input 0 has ${srcs[0].n} examples but input ${i} has ${src.n}`);
    });
  }

  private toSources(x: Data | Data[], what: string): DataSource[] {
    if (Array.isArray(x)) return x.map((d, i) => toSource(d, x.length === 1 ? what : `${what}[${i}]`));
    return [toSource(x, what)];
  }

  private requireCompiled(what: string): Optimizer {
    if (!this.optimizer || !this.loss) throw new Error(`${what}: call model.compile({optimizer, loss}) first`);
    return this.optimizer;
  }

  /** Copies rows `idx[start..start+count)` of x and y into fresh batch tensors (inside a tidy). */
  private batch(xs: DataSource[], ys: DataSource, idx: Int32Array, start: number, count: number): [Tensor[], Tensor] {
    const xb = xs.map((src) => {
      const t = new Tensor([count, ...src.rowShape]);
      src.gather(idx, start, count, t.view());
      return t;
    });
    const out = this.outputShape;
    const yb = new Tensor([count, ...out]);
    if (isCrossentropy(this.loss)) {
      labelsToOneHot(ys, idx, start, count, this.loss!, out[0], yb.view());
      const a = this.labelSmoothing;
      if (a > 0) {
        const v = yb.view(),
          keepShare = 1 - a,
          share = a / out[0];
        for (let i = 0; i < v.length; i++) v[i] = v[i] * keepShare + share;
      }
    } else ys.gather(idx, start, count, yb.view());
    return [xb, yb];
  }

  /** The loss of a batch (a scalar on the tape) and the number of correct predictions. */
  private lossOf(xb: Tensor[], yb: Tensor, training: boolean): { loss: Tensor; correct: () => number } {
    const loss = this.loss!;
    if (isCrossentropy(loss)) {
      const probs = new Tensor(yb.shape);
      const l = softmaxCrossEntropy(yb, this.forward(xb, training, true)[0], probs);
      return { loss: l, correct: () => countCorrect(probs.view(), yb.view(), yb.shape[1]) };
    }
    const y = this.forward(xb, training, false)[0];
    if (loss === 'binaryCrossentropy')
      return { loss: binaryCrossentropy(yb, y), correct: () => countBinary(y.view(), yb.view()) };
    return { loss: loss === 'meanSquaredError' ? meanSquaredError(yb, y) : meanAbsoluteError(yb, y), correct: () => 0 };
  }

  /** Whether the loss comes with an accuracy: the cross-entropies (binary accuracy for binaryCrossentropy). */
  private get hasAccuracy(): boolean {
    return this.loss !== 'meanSquaredError' && this.loss !== 'meanAbsoluteError';
  }

  /** One optimizer step on a batch; returns the batch loss and number of correct predictions. */
  private step(xb: Tensor[], yb: Tensor, where: string): { loss: number; correct: number } {
    const opt = this.optimizer!;
    const params = this.trainableParams();
    // Optimizer state is made before the step's tidy(), so the first step already has the final layout.
    opt.prepare(params);
    // Everything a step changes, copied aside so a non-finite step can be undone.
    const state = [...this.allWeights(), ...opt.stateWeights()];
    this.guard.save(state.map((w) => w.value));
    const iterations = opt.iterations;
    const undo = (why: string, loss: number) => {
      this.guard.restore();
      opt.iterations = iterations;
      return new NonFiniteStepError(
        `${why} ${where}; training stopped and the weights are those from before this batch`,
        loss,
      );
    };
    weightsChanged(); // the step writes weights (and BatchNormalization's moving statistics)
    const u8 = getArena().u8();
    for (const p of params) u8.fill(0, p.grad.ptr, p.grad.ptr + p.grad.size * 4);
    return tidy(() => {
      const tape = new Tape();
      for (const p of params) tape.watch(p.value, p.grad);
      const r = withTape(tape, () => this.lossOf(xb, yb, true));
      const value = r.loss.view()[0];
      if (!Number.isFinite(value)) throw undo(`loss became ${value}`, value);
      tape.backward(r.loss);
      opt.step(params);
      const bad = StepGuard.firstNonFinite(state.map((w) => w.value));
      if (bad >= 0)
        throw undo(
          `the update made ${state[bad].name} non-finite (loss was ${value}; try a lower learning rate)`,
          Number.NaN,
        );
      return { loss: value, correct: r.correct() };
    });
  }

  /** One step on the given batch (Keras trainOnBatch); returns [loss, accuracy], or [loss] for regression losses. */
  trainOnBatch(x: Data | Data[], y: Data): number[] {
    this.alive('trainOnBatch');
    this.requireCompiled('trainOnBatch');
    const xs = this.toSources(x, 'trainOnBatch x');
    const ys = toSource(y, 'trainOnBatch y');
    this.checkXY(xs, ys, 'trainOnBatch');
    const n = xs[0].n;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const r = tidy(() => {
      const [xb, yb] = this.batch(xs, ys, idx, 0, n);
      return this.step(xb, yb, 'in trainOnBatch');
    });
    return this.hasAccuracy ? [r.loss, r.correct / this.accuracyDenominator(n)] : [r.loss];
  }

  /** Binary accuracy counts every output element; the categorical one every example. */
  private accuracyDenominator(n: number): number {
    return this.loss === 'binaryCrossentropy' ? n * this.outputShape.reduce((a, b) => a * b, 1) : n;
  }

  private checkXY(xs: DataSource[], ys: DataSource, what: string): void {
    this.checkInputs(xs, what);
    const n = xs[0].n;
    if (n !== ys.n) throw new Error(`${what}: x has ${n} examples but y has ${ys.n}`);
    if (n === 0) throw new Error(`${what}: no examples`);
    xs.forEach((s, i) => s.checkFinite(xs.length === 1 ? `${what} x` : `${what} x[${i}]`));
    if (isCrossentropy(this.loss)) ys.checkLabels(this.loss!, this.outputShape[0], `${what} y`);
    else checkTargets(ys, this.loss!, this.outputShape, `${what} y`);
  }
  /** Stops a running fit after the current batch. */
  stopTraining(): void {
    this.stopFlag = true;
  }

  /** Trains for `epochs` epochs (Keras fit). */
  async fit(x: Data | Data[], y: Data, args: FitArgs = {}): Promise<History> {
    this.alive('fit');
    checkOptions('fit', args, FIT_OPTIONS);
    if (args.callbacks !== undefined) checkArg('fit', 'callbacks', args.callbacks, checkCallbacks);
    if (args.seed !== undefined) {
      if (!this.built) this.setSeed(args.seed);
      else this.trainRng = new Rng(args.seed ^ 0x5bd1e995);
    }
    this.requireCompiled('fit');
    const epochs = args.epochs ?? 1;
    const batchSize = args.batchSize ?? 32;
    if (!Number.isInteger(epochs) || epochs < 0)
      throw new Error(`fit: epochs must be a non-negative integer, got ${epochs}`);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`fit: batchSize must be a positive integer, got ${batchSize}`);
    const schedule = args.learningRateSchedule;
    if (schedule !== undefined && typeof schedule !== 'function')
      throw new Error(
        'fit: learningRateSchedule must be a function of the step number (e.g. sn.schedules.cosineDecay({...}))',
      );
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || !(split >= 0 && split < 1))
      throw new Error(`fit: validationSplit must be a number in [0, 1), got ${show(args.validationSplit)}`);
    if (split > 0 && args.validationData) throw new Error('fit: give validationData or validationSplit, not both');
    let xs = this.toSources(x, 'fit x');
    let ys = toSource(y, 'fit y');
    this.checkXY(xs, ys, 'fit');
    let val: [DataSource[], DataSource] | null = null;
    if (args.validationData) {
      val = [
        this.toSources(args.validationData[0], 'fit validationData x'),
        toSource(args.validationData[1], 'fit validationData y'),
      ];
      this.checkXY(val[0], val[1], 'fit validationData');
    } else if (split > 0) {
      // Keras: split_at = floor(n * (1 - split)); the tail (before any shuffling) is validation data.
      const n = xs[0].n;
      const at = Math.floor(n * (1 - split));
      if (at === 0 || at === n) {
        throw new Error(
          `fit: validationSplit ${split} of ${n} examples leaves ${at} for training and ${n - at} for validation; both need at least one (use more data or another split)`,
        );
      }
      val = [xs.map((s) => sliceSource(s, at, n - at)), sliceSource(ys, at, ys.n - at)];
      xs = xs.map((s) => sliceSource(s, 0, at));
      ys = sliceSource(ys, 0, at);
    }
    const progress = new Progress(args.verbose ?? 1, args.print, { interval: (args.progressInterval ?? 30) * 1000 });
    const N = xs[0].n;
    const steps = Math.ceil(N / batchSize);
    const acc = this.hasAccuracy;
    const history: History = {
      epoch: [],
      history: { loss: [], accuracy: [], learning_rate: [] },
      stopped: false,
      stoppedEpoch: null,
    };
    if (val) {
      history.history.val_loss = [];
      history.history.val_accuracy = [];
    }
    const idx = Int32Array.from({ length: N }, (_, i) => i);
    const first = args.initialEpoch ?? 0;
    this.stopFlag = false;
    const cb = new CallbackList(args.callbacks, this, {
      epochs,
      steps,
      batchSize,
      samples: N,
      initialEpoch: first,
      hasSchedule: schedule !== undefined,
      verbose: args.verbose ?? 1,
      print: args.print ?? ((s: string) => console.log(s)),
    });
    const stop = (e: number) => {
      if (!history.stopped) history.stoppedEpoch = e;
      history.stopped = true;
    };
    let lastYield = Date.now();
    let lastLogs: Logs = {};
    if ((await cb.trainBegin()) || this.stopFlag) stop(first);
    for (let e = first; e < first + epochs && !history.stopped; e++) {
      if ((await cb.epochBegin(e)) || this.stopFlag) {
        stop(e);
        break;
      }
      progress.epochBegin(e - first, epochs);
      // Each epoch shuffles 0..n-1 afresh, so its order depends only on the RNG state (exact resume).
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      if (args.shuffle ?? true) this.trainRng.shuffle(idx);
      let lossSum = 0,
        correct = 0,
        seen = 0;
      let b = 0;
      for (; b < steps; b++) {
        const start = b * batchSize,
          count = Math.min(batchSize, N - start);
        if (schedule) this.optimizer!.learningRate = schedule(this.optimizer!.iterations);
        if ((await cb.batchBegin(b)) || this.stopFlag) {
          stop(e);
          break;
        }
        let r: { loss: number; correct: number };
        try {
          r = tidy(() => {
            const [xb, yb] = this.batch(xs, ys, idx, start, count);
            return this.step(xb, yb, `at epoch ${e + 1}, batch ${b + 1}`);
          });
        } catch (err) {
          // The step was undone. A callback that stops on it (TerminateOnNaN) makes fit return.
          if (!(err instanceof NonFiniteStepError)) throw err;
          if ((await cb.batchEnd(b, { loss: err.loss })) || this.stopFlag) {
            stop(e);
            break;
          }
          throw err;
        }
        lossSum += r.loss * count;
        correct += r.correct;
        seen += count;
        const logs: Logs = { loss: lossSum / seen };
        if (acc) logs.accuracy = correct / this.accuracyDenominator(seen);
        progress.batchEnd(b + 1, steps, logs);
        if ((await cb.batchEnd(b, logs)) || args.signal?.aborted || this.stopFlag) stop(e);
        if (history.stopped) {
          b++;
          break;
        }
        // Let the event loop breathe (timers, Ctrl-C, UI) about every 50 ms.
        if (Date.now() - lastYield > 50) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = Date.now();
        }
      }
      const logs: Logs = { loss: lossSum / seen };
      if (acc) logs.accuracy = correct / this.accuracyDenominator(seen);
      const lr = this.optimizer!.learningRate;
      if (val) {
        const [vl, va] = this.evaluateSources(val[0], val[1], batchSize);
        logs.val_loss = vl;
        if (acc) logs.val_accuracy = va;
      }
      if (!history.stopped || b === steps) {
        history.epoch.push(e);
        history.history.loss.push(logs.loss);
        if (acc) history.history.accuracy.push(logs.accuracy);
        history.history.learning_rate!.push(lr);
        if (val) {
          history.history.val_loss!.push(logs.val_loss);
          if (acc) history.history.val_accuracy!.push(logs.val_accuracy);
        }
        progress.epochEnd(steps, logs);
      } else {
        progress.epochEnd(b, logs);
      }
      if ((await cb.epochEnd(e, logs)) || this.stopFlag) stop(e);
      lastLogs = logs;
    }
    await cb.trainEnd(lastLogs);
    return history;
  }

  private evaluateSources(xs: DataSource[], ys: DataSource, batchSize: number): [number, number] {
    const n = xs[0].n;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    let lossSum = 0,
      correct = 0;
    noGrad(() => {
      for (let start = 0; start < n; start += batchSize) {
        const count = Math.min(batchSize, n - start);
        tidy(() => {
          const [xb, yb] = this.batch(xs, ys, idx, start, count);
          const r = this.lossOf(xb, yb, false);
          lossSum += r.loss.view()[0] * count;
          correct += r.correct();
        });
      }
    });
    return [lossSum / n, correct / this.accuracyDenominator(n)];
  }

  /**
   * The loss on (x, y), as Keras evaluate: [loss, accuracy] for the cross-entropies (binary accuracy
   * at 0.5 for binaryCrossentropy), [loss] for meanSquaredError and meanAbsoluteError.
   */
  evaluate(x: Data | Data[], y: Data, args: { batchSize?: number } = {}): number[] {
    this.alive('evaluate');
    checkOptions('evaluate', args, BATCH_OPTIONS);
    this.requireCompiled('evaluate');
    const xs = this.toSources(x, 'evaluate x');
    const ys = toSource(y, 'evaluate y');
    this.checkXY(xs, ys, 'evaluate');
    const [l, a] = this.evaluateSources(xs, ys, args.batchSize ?? 32);
    return this.hasAccuracy ? [l, a] : [l];
  }

  /**
   * Outputs for x (batched internally, no tape, no dropout); the caller disposes the result. One
   * array in (a model with one input and one output) gives one tensor; a list of arrays (one per
   * input) gives a list of tensors, one per output.
   */
  predict(x: Data, args?: { batchSize?: number }): Tensor;
  predict(x: Data[], args?: { batchSize?: number }): Tensor[];
  predict(x: Data | Data[], args: { batchSize?: number } = {}): Tensor | Tensor[] {
    this.alive('predict');
    checkOptions('predict', args, BATCH_OPTIONS);
    this.build();
    const xs = this.toSources(x, 'predict x');
    const g = this.graph();
    if (!Array.isArray(x) && g.outputs.length !== 1) {
      throw new Error(
        `predict: the model has ${g.outputs.length} outputs; pass the inputs as a list (predict([x])) to get a list of outputs`,
      );
    }
    this.checkInputs(xs, 'predict');
    xs.forEach((s, i) => s.checkFinite(xs.length === 1 ? 'predict x' : `predict x[${i}]`));
    const batchSize = args.batchSize ?? 32;
    const n = xs[0].n;
    const shapes = this.outputShapes;
    const rowSizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    // Not keep(): inside the caller's tidy() the result is the caller's to return or lose (as tfjs).
    const outs = shapes.map((s) => new Tensor([n, ...s]));
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    noGrad(() => {
      const plan = this.inferencePlan();
      for (let start = 0; start < n; start += batchSize) {
        const count = Math.min(batchSize, n - start);
        const io: BatchIO = {
          inputShapes: xs.map((src) => src.rowShape),
          outputSizes: rowSizes,
          write: (i, dest) => xs[i].gather(idx, start, count, dest),
          read: (i, y) => outs[i].view().set(y, start * rowSizes[i]),
        };
        if (plan) plan.runBatch(count, io, this.trainRng);
        else
          tidy(() => {
            const xb = xs.map((src, i) => {
              const t = new Tensor([count, ...src.rowShape], 'float32', false);
              io.write(i, t.view());
              return t;
            });
            this.forward(xb, false, false).forEach((y, i) => io.read(i, y.view()));
          });
      }
    });
    return Array.isArray(x) ? outs : outs[0];
  }
  /**
   * Copies of all weights in Keras order: per layer its trainable weights, then its non-trainable
   * state (BatchNormalization: gamma, beta, moving_mean, moving_variance). The caller disposes them.
   */
  getWeights(): Tensor[] {
    this.alive('getWeights');
    return this.allWeights().map((p) => tensor(p.value.view().slice(), p.value.shape));
  }

  /** Replaces all weights (the order of getWeights); checks count and shapes before writing anything. */
  setWeights(weights: Array<Tensor | Float32Array>): void {
    this.alive('setWeights');
    const params = this.allWeights();
    if (!Array.isArray(weights) || weights.length !== params.length) {
      throw new Error(
        `setWeights: the model has ${params.length} weight arrays, got ${Array.isArray(weights) ? weights.length : typeof weights}`,
      );
    }
    weights.forEach((w, i) => {
      const p = params[i];
      if (w instanceof Tensor) {
        w.assertLive();
        if (w.shape.join() !== p.value.shape.join())
          throw new Error(`setWeights: ${p.name} has shape [${p.value.shape}], got [${w.shape}]`);
      } else if (!(w instanceof Float32Array) || w.length !== p.value.size) {
        throw new Error(`setWeights: ${p.name} needs ${p.value.size} float32 values`);
      }
    });
    weights.forEach((w, i) => params[i].value.view().set(w instanceof Tensor ? w.view() : w));
    weightsChanged();
  }

  /**
   * predict's plan (BatchNormalization folded into the layer before it, Winograd transforms kept),
   * remade when any weights changed since it was made (see {@link weightsChanged}).
   */
  private inferencePlan(): InferencePlan | undefined {
    if (!inferencePlanEnabled()) return undefined;
    if (this.plan?.current) return this.plan;
    this.plan?.dispose();
    this.plan = null;
    const g = this.graph();
    this.plan = new InferencePlan(g);
    return this.plan;
  }

  /**
   * Saves the model (architecture, weights, optimizer state, RNG state), as tfjs' `model.save`: with no
   * argument, as the bytes of a `.simdnet` file (`sn.saveModel(model)`, which `sn.loadModel` reads);
   * with an {@link IOHandler}, by handing it the model's artifacts and returning what it returns.
   */
  save(): ArrayBuffer;
  save<R>(handler: IOHandler<R>): R;
  save<R>(handler?: IOHandler<R>): R | ArrayBuffer {
    this.alive('save');
    const artifacts = modelArtifacts(this);
    return handler ? handler.save(artifacts) : encodeSimdnet(artifacts);
  }

  /**
   * The architecture as a JSON string (no weights), as Keras' `to_json()`; `sn.modelFromJSON(json)`
   * builds a new model from it. The same as `sn.modelToJSON(model, indent)`.
   */
  toJSON(indent?: number): string {
    this.alive('toJSON');
    // JSON.stringify(model) passes the property key as the argument: only a number is an indent.
    return JSON.stringify(modelJSON(this), null, typeof indent === 'number' ? indent : undefined);
  }

  /** Frees weights, gradients and optimizer state. */
  dispose(): void {
    this.plan?.dispose();
    this.plan = null;
    for (const l of this.layers) l.dispose();
    this.optimizer?.dispose();
    this.guard.free();
    this.built = false;
    this.disposed = true;
  }

  /** True once {@link dispose} ran; the model can then no longer be used. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Throws when the model was disposed (its weights are gone; rebuilding would make new random ones). */
  protected alive(what: string): void {
    if (this.disposed) throw new Error(`${what}: the model ${this.name} was disposed; create or load a new model`);
  }
}

/** A linear stack of layers, as keras.Sequential / tf.sequential: a Model whose graph is a chain. */
export class Sequential extends Model {
  private readonly stack: Layer[] = [];

  constructor(arg?: Layer[] | { layers?: Layer[]; name?: string; seed?: number }) {
    if (!Array.isArray(arg)) checkOptions('Sequential', arg, MODEL_OPTIONS);
    const cfg = Array.isArray(arg) ? { layers: arg } : (arg ?? {});
    super({ name: cfg.name ?? 'sequential', seed: cfg.seed });
    for (const l of cfg.layers ?? []) this.add(l);
  }

  get isSequential(): boolean {
    return true;
  }

  /** The layers in order (no InputLayer, as Keras' Sequential). */
  get layers(): Layer[] {
    return this.stack;
  }

  /** Appends a layer; unnamed layers get Keras-style names (conv2d, conv2d_1, ...). */
  add(layer: Layer): void {
    this.alive('Sequential.add');
    if (!(layer instanceof Layer)) throw new Error(`Sequential.add: expected a layer, got ${typeof layer}`);
    if (this.isBuilt)
      throw new Error('Sequential.add: the model is already built; add layers before compile/fit/summary');
    if (this.stack.includes(layer)) throw new Error(`Sequential.add: layer ${layer.name} is already in the model`);
    if (layer.arity !== 1)
      throw new Error(
        `Sequential.add: ${layer.name || layer.className} takes several inputs; build graphs with sn.model({inputs, outputs})`,
      );
    if (layer instanceof InputLayer)
      throw new Error('Sequential.add: give the first layer an inputShape instead of an InputLayer');
    if (!layer.name) {
      const base = layer.defaultName;
      const n = this.stack.filter((l) => l.defaultName === base).length;
      layer.name = n === 0 ? base : `${base}_${n}`;
    }
    if (this.stack.some((l) => l.name === layer.name))
      throw new Error(`Sequential.add: a layer named ${layer.name} already exists`);
    if (this.stack.length === 0 && !layer.inputShape) {
      throw new Error(
        `Sequential.add: the first layer (${layer.name}) needs an inputShape, e.g. inputShape: [28, 28, 1]`,
      );
    }
    this.stack.push(layer);
    this.graphCache = null;
  }

  /** @internal The chain: slot i feeds layer i, whose output is slot i + 1. Shape errors come from the layers as they are. */
  protected makeGraph(): Graph {
    if (this.stack.length === 0) throw new Error('Sequential: the model has no layers');
    let s = [...this.stack[0].inputShape!];
    const inputShapes = [s];
    const steps = this.stack.map((layer, i): GraphStep => {
      const inS = s;
      s = checkLayerSize(layer, inS, layer.computeOutputShape(inS));
      return { layer, node: null, inputs: [i], output: i + 1, inShapes: [inS], outShape: s };
    });
    return { inputShapes, steps, outputs: [steps.length], slots: steps.length + 1 };
  }
}

/**
 * A functional model over symbolic tensors, as keras.Model(inputs, outputs) / tf.model:
 * `const x = sn.input({shape: [28, 28, 1]}); const y = sn.layers.dense({units: 10}).apply(...);
 * sn.model({inputs: x, outputs: y})`. Errors (an input not connected to the outputs, an output
 * depending on an input not listed, duplicate layer names) are thrown here.
 */
export function model(args: ModelArgs): Model {
  if (!args || typeof args !== 'object') throw new Error('model: expected {inputs, outputs, name?, seed?}');
  const list = (v: SymbolicTensor | SymbolicTensor[] | undefined, what: string) => {
    if (v === undefined) throw new Error(`model: ${what} is missing`);
    return Array.isArray(v) ? v : [v];
  };
  return new Model({
    inputs: list(args.inputs, 'inputs'),
    outputs: list(args.outputs, 'outputs'),
    name: args.name,
    seed: args.seed,
  });
}
