// Model: Keras' model API over a graph of layers — summary, compile, fit, evaluate, predict,
// trainOnBatch, get/setWeights, save. A functional model's graph comes from symbolic tensors
// (sn.input, layer.apply); Sequential is a Model whose graph is a chain (graph.ts). The pieces live
// beside it: summary.ts (the table), training.ts (compile's checks, batches, one optimizer step),
// fit.ts (the epoch loop), predict.ts (batching through the inference plan, nn/inference/),
// weights.ts (weight lists), artifacts.ts (what save and toJSON write).
// File formats live outside (src/formats/ imports this module, never the reverse): save() builds the
// model's artifacts and hands them to an IOHandler, or encodes them with the .simdnet codec (src/io/).
import { Tensor, tensor, tidy } from '../tensor.js';
import { Rng } from '../rng.js';
import { InputLayer, Layer, type StateWeight, type SymbolicTensor } from './layer.js';
import type { Optimizer, ParamGrad } from '../optim/optimizer.js';
import { type Logs, checkCallbacks } from './base-callbacks.js';
import { type Data, type DataSource, type LossName, toSource } from './data.js';
import { StepGuard } from './guard.js';
import { InferencePlan, inferencePlanEnabled, weightsChanged } from './inference.js';
import {
  BATCH_OPTIONS,
  COMPILE_OPTIONS,
  FIT_OPTIONS,
  MODEL_OPTIONS,
  checkArg,
  checkOptions,
  func,
  nullValue,
  or,
  seedInt,
} from './options.js';
import { modelArtifacts, modelJSON } from './artifacts.js';
import type { IOHandler } from '../io/artifacts.js';
import { encodeSimdnet, isIOHandler, type SaveOptions } from '../io/simdnet.js';
import {
  type Graph,
  type GraphStep,
  appendToChain,
  chainGraph,
  forwardGraph,
  outputStep,
  traceGraph,
} from './graph.js';
import { summaryTable } from './summary.js';
import {
  type BatchLoss,
  type CompileArgs,
  batchLoss,
  compileSettings,
  checkExamples,
  checkInputs,
  lossOver,
  sourcesOf,
  makeBatch,
  trainStep,
} from './training.js';
import { type FitArgs, type History, fitData, fitOptions, runFit } from './fit.js';
import { predictSources } from './predict.js';
import { checkWeightValues, findLayer, paramsOf, weightSpecsOf } from './weights.js';

export type { Logs, CompileArgs, FitArgs, History, GraphStep };
export type { Callbacks } from './fit.js';
export { NonFiniteStepError } from './training.js';

/** Arguments of {@link model}. */
export interface ModelArgs {
  inputs: SymbolicTensor | SymbolicTensor[];
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seeds weight initialisation, and shuffling and dropout unless fit gets its own seed. */
  seed?: number;
}

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
  /** The compile option of that name: the output is logits, the loss applies the softmax or sigmoid. */
  fromLogits = false;
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
    if (this.outputs.length > 0 || this.inputs.length > 0) this.graphCache = this.traceFunctional();
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

  /**
   * The layer called `name`, or the layer holding the weight imported under that name: for a model from
   * `sn.loadONNX`, a PyTorch state_dict key such as 'features.3.conv.0.1.weight' (the `sourceName` of
   * an entry of its {@link Layer.trainableWeights} or nonTrainableWeights). Throws naming the layers there are.
   */
  getLayer(name: string): Layer {
    return findLayer(this.layers, name);
  }

  /** @internal The graph in topological order (computed once). */
  graph(): Graph {
    if (!this.graphCache) this.graphCache = this.makeGraph();
    return this.graphCache;
  }

  /** @internal Computes the graph (a functional model traces it from its outputs). */
  protected makeGraph(): Graph {
    return this.traceFunctional();
  }

  // A functional model's graph, and its layers in Keras' order.
  private traceFunctional(): Graph {
    const t = traceGraph(this.name, this.inputs, this.outputs);
    this.layerList = t.layers;
    return t.graph;
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
    return weightSpecsOf(this.graph().steps);
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
    return paramsOf(this.weightLayers());
  }

  /** The parameters the optimizer updates: those of layers with `trainable` true. */
  trainableParams(): ParamGrad[] {
    this.build();
    return paramsOf(this.weightLayers().filter((l) => l.trainable));
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
    const text = summaryTable(this);
    if (print) print(text);
    return text;
  }

  /** Chooses optimizer, loss and metrics (Keras names). */
  compile(args: CompileArgs): void {
    this.alive('compile');
    checkOptions('compile', args, COMPILE_OPTIONS, 'its argument');
    if (!args || typeof args !== 'object') throw new Error('compile: expected {optimizer, loss, metrics}');
    const s = compileSettings(args, {
      isSequential: this.isSequential,
      outputCount: this.outputs.length,
      lastLayer: () =>
        this.isSequential ? (this.layers[this.layers.length - 1] ?? null) : (outputStep(this.graph())?.layer ?? null),
      outputShape: () => this.outputShape,
    });
    // Like Keras, the weights exist once the model is compiled (seeded by the model's seed).
    this.build();
    if (this.optimizer && this.optimizer !== s.optimizer) this.optimizer.dispose();
    this.optimizer = s.optimizer;
    this.loss = s.loss;
    this.labelSmoothing = s.labelSmoothing;
    this.fromLogits = s.fromLogits;
    this.metrics = s.metrics;
  }

  /** Walks the steps; `logits` leaves the final softmax to the fused loss. Returns the output tensors. */
  private forward(xs: Tensor[], training: boolean, logits: boolean): Tensor[] {
    return forwardGraph(this.graph(), xs, training, logits, this.trainRng);
  }

  private checkInputs(srcs: DataSource[], what: string): void {
    checkInputs(this.graph().inputShapes, srcs, what, (i) =>
      this.isSequential ? `layer ${this.layers[0].name}` : `input ${this.inputs[i].node.layer.name}`,
    );
  }

  private requireCompiled(what: string): Optimizer {
    if (!this.optimizer || !this.loss) throw new Error(`${what}: call model.compile({optimizer, loss}) first`);
    return this.optimizer;
  }

  /** A batch of rows idx[start..start+count) of x and y, as tensors (inside a tidy). */
  private batch(xs: DataSource[], ys: DataSource, idx: Int32Array, start: number, count: number): [Tensor[], Tensor] {
    return makeBatch(xs, ys, idx, start, count, {
      loss: this.loss!,
      outShape: this.outputShape,
      labelSmoothing: this.labelSmoothing,
    });
  }

  /** The loss of a batch (a scalar on the tape) and the number of correct predictions. */
  private lossOf(xb: Tensor[], yb: Tensor, training: boolean): BatchLoss {
    const spec = { loss: this.loss!, fromLogits: this.fromLogits, labelSmoothing: this.labelSmoothing };
    return batchLoss((xs, t, logits) => this.forward(xs, t, logits), spec, xb, yb, training);
  }

  /** Whether the loss comes with an accuracy: the cross-entropies (binary accuracy for binaryCrossentropy). */
  private get hasAccuracy(): boolean {
    return this.loss !== 'meanSquaredError' && this.loss !== 'meanAbsoluteError';
  }

  /** One optimizer step on a batch; returns the batch loss and number of correct predictions. */
  private step(xb: Tensor[], yb: Tensor, where: string): { loss: number; correct: number } {
    const optimizer = this.optimizer!;
    return trainStep(
      {
        optimizer,
        params: this.trainableParams(),
        weights: () => this.allWeights(),
        guard: this.guard,
        lossOf: () => this.lossOf(xb, yb, true),
      },
      where,
    );
  }

  /** One step on the given batch (Keras trainOnBatch); returns [loss, accuracy], or [loss] for regression losses. */
  trainOnBatch(x: Data | Data[], y: Data): number[] {
    this.alive('trainOnBatch');
    this.requireCompiled('trainOnBatch');
    const xs = sourcesOf(x, 'trainOnBatch x');
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
    checkExamples(xs, ys, what, this.loss!, this.outputShape);
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
    const opts = fitOptions(args);
    const data = fitData(x, y, args.validationData, opts.split, {
      sources: sourcesOf,
      check: (xs, ys, what) => this.checkXY(xs, ys, what),
    });
    this.stopFlag = false;
    const self = this;
    return runFit(
      {
        model: this,
        get optimizer() {
          return self.optimizer!;
        },
        hasAccuracy: this.hasAccuracy,
        rng: this.trainRng,
        stopRequested: () => this.stopFlag,
        trainBatch: (idx, start, count, where) =>
          tidy(() => {
            const [xb, yb] = this.batch(data.xs, data.ys, idx, start, count);
            return this.step(xb, yb, where);
          }),
        evaluate: (vx, vy, batchSize) => this.evaluateSources(vx, vy, batchSize),
        accuracyDenominator: (n) => this.accuracyDenominator(n),
      },
      data,
      opts,
      args,
    );
  }

  private evaluateSources(xs: DataSource[], ys: DataSource, batchSize: number): [number, number] {
    const n = xs[0].n;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const r = lossOver(n, batchSize, (start, count) => {
      const [xb, yb] = this.batch(xs, ys, idx, start, count);
      return this.lossOf(xb, yb, false);
    });
    return [r.loss, r.correct / this.accuracyDenominator(n)];
  }

  /**
   * The loss on (x, y), as Keras evaluate: [loss, accuracy] for the cross-entropies (binary accuracy
   * at 0.5 for binaryCrossentropy), [loss] for meanSquaredError and meanAbsoluteError.
   */
  evaluate(x: Data | Data[], y: Data, args: { batchSize?: number } = {}): number[] {
    this.alive('evaluate');
    checkOptions('evaluate', args, BATCH_OPTIONS);
    this.requireCompiled('evaluate');
    const xs = sourcesOf(x, 'evaluate x');
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
    const xs = sourcesOf(x, 'predict x');
    const g = this.graph();
    if (!Array.isArray(x) && g.outputs.length !== 1) {
      throw new Error(
        `predict: the model has ${g.outputs.length} outputs; pass the inputs as a list (predict([x])) to get a list of outputs`,
      );
    }
    this.checkInputs(xs, 'predict');
    xs.forEach((s, i) => s.checkFinite(xs.length === 1 ? 'predict x' : `predict x[${i}]`));
    const outs = predictSources(
      xs,
      this.outputShapes,
      args.batchSize ?? 32,
      () => this.inferencePlan(),
      (xb) => this.forward(xb, false, false),
      this.trainRng,
    );
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
    checkWeightValues(params, weights);
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
   * with {@link SaveOptions} (`{ weightDtype: 'float16' | 'int8' }`), smaller; with an {@link IOHandler},
   * by handing it the model's artifacts and returning what it returns.
   */
  save(options?: SaveOptions): ArrayBuffer;
  save<R>(handler: IOHandler<R>): R;
  save<R>(arg?: IOHandler<R> | SaveOptions): R | ArrayBuffer {
    this.alive('save');
    const artifacts = modelArtifacts(this);
    return isIOHandler<R>(arg) ? arg.save(artifacts) : encodeSimdnet(artifacts, arg);
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
    if (this.isBuilt && layer instanceof Layer)
      throw new Error('Sequential.add: the model is already built; add layers before compile/fit/summary');
    appendToChain(this.stack, layer);
    this.graphCache = null;
  }

  /** @internal The chain: slot i feeds layer i, whose output is slot i + 1. */
  protected makeGraph(): Graph {
    return chainGraph(this.stack);
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
