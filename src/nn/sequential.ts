// Sequential: a stack of layers with Keras' model API — summary, compile, fit, evaluate, predict,
// trainOnBatch, get/setWeights, save. One training step:
//   tidy { zero grads · forward on the tape (last softmax fused into the loss) · backward · optimizer }
// so every tensor of a step is released at its end and the arena high-water mark stays flat.
import { Tensor, tensor, tidy } from '../tensor.js';
import { Tape, noGrad, withTape } from '../autograd.js';
import { softmaxCrossEntropy } from '../ops/act.js';
import { getArena } from '../wasm/arena.js';
import { Rng } from '../rng.js';
import { Layer, StateWeight } from './layer.js';
import { Optimizer, ParamGrad } from '../optim/optimizer.js';
import { Adam } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { RMSprop } from '../optim/rmsprop.js';
import type { LearningRateSchedule } from '../optim/schedules.js';
import { Progress } from './progress.js';
import { Data, DataSource, LossName, labelsToOneHot, sliceSource, toSource } from './data.js';
import { saveModel } from './serialize.js';
import { StepGuard } from './guard.js';
import { BATCH_OPTIONS, COMPILE_OPTIONS, FIT_OPTIONS, MODEL_OPTIONS, checkArg, checkLayerSize, checkOptions, func, nullValue, or, seedInt } from './options.js';
import { show } from '../show.js';

/** Arguments of {@link Sequential.compile}. */
export interface CompileArgs {
  optimizer: 'adam' | 'sgd' | 'rmsprop' | Optimizer;
  loss: LossName;
  metrics?: string[];
}

/** Logs passed to callbacks. */
export type Logs = Record<string, number>;

/** Callbacks of {@link Sequential.fit}; returning `false` from onBatchEnd/onEpochEnd stops training. */
export interface Callbacks {
  onEpochBegin?: (epoch: number, logs?: Logs) => void | boolean | Promise<void | boolean>;
  onEpochEnd?: (epoch: number, logs: Logs) => void | boolean | Promise<void | boolean>;
  onBatchEnd?: (batch: number, logs: Logs) => void | boolean | Promise<void | boolean>;
}

/** Arguments of {@link Sequential.fit} (Keras names). */
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
  callbacks?: Callbacks;
  /** 0 silent, 1 progress bar (default), 2 one line per epoch. */
  verbose?: number;
  /** Stops training after the current batch. */
  signal?: AbortSignal;
  /** Epoch number to start counting from (for resumed training). */
  initialEpoch?: number;
  /** Where progress lines go (default console.log). */
  print?: (line: string) => void;
}

/** What fit returns, as Keras' History. */
export interface History {
  epoch: number[];
  history: { loss: number[]; accuracy: number[]; val_loss?: number[]; val_accuracy?: number[] };
  /** True when training was stopped early (callback or signal). */
  stopped: boolean;
}

/** A linear stack of layers, as keras.Sequential / tf.sequential. */
export class Sequential {
  name: string;
  readonly layers: Layer[] = [];
  /** The seed that initialised the weights. */
  seed: number;
  /** @internal */ initRng: Rng;
  /** @internal */ trainRng: Rng;
  optimizer: Optimizer | null = null;
  loss: LossName | null = null;
  metrics: string[] = [];
  private built = false;
  private stopFlag = false;
  private disposed = false;
  private guard = new StepGuard();

  constructor(arg?: Layer[] | { layers?: Layer[]; name?: string; seed?: number }) {
    if (!Array.isArray(arg)) checkOptions('Sequential', arg, MODEL_OPTIONS);
    const cfg = Array.isArray(arg) ? { layers: arg } : (arg ?? {});
    this.name = cfg.name ?? 'sequential';
    this.seed = cfg.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.initRng = new Rng(this.seed);
    this.trainRng = new Rng(this.seed ^ 0x5bd1e995);
    for (const l of cfg.layers ?? []) this.add(l);
  }

  /** Appends a layer; unnamed layers get Keras-style names (conv2d, conv2d_1, ...). */
  add(layer: Layer): void {
    this.alive('Sequential.add');
    if (!(layer instanceof Layer)) throw new Error(`Sequential.add: expected a layer, got ${typeof layer}`);
    if (this.built) throw new Error('Sequential.add: the model is already built; add layers before compile/fit/summary');
    if (this.layers.includes(layer)) throw new Error(`Sequential.add: layer ${layer.name} is already in the model`);
    if (!layer.name) {
      const base = layer.defaultName;
      const n = this.layers.filter((l) => l.defaultName === base).length;
      layer.name = n === 0 ? base : `${base}_${n}`;
    }
    if (this.layers.some((l) => l.name === layer.name)) throw new Error(`Sequential.add: a layer named ${layer.name} already exists`);
    if (this.layers.length === 0 && !layer.inputShape) {
      throw new Error(`Sequential.add: the first layer (${layer.name}) needs an inputShape, e.g. inputShape: [28, 28, 1]`);
    }
    this.layers.push(layer);
  }

  /** Sets the seed before the weights exist (they are created on first build). */
  setSeed(seed: number): void {
    this.alive('setSeed'); checkArg('setSeed', 'seed', seed, seedInt);
    if (this.built) throw new Error('setSeed: the weights already exist; pass seed before compile/fit/summary');
    this.seed = seed;
    this.initRng = new Rng(seed);
    this.trainRng = new Rng(seed ^ 0x5bd1e995);
  }

  /** Input shape without the batch axis. */
  get inputShape(): number[] {
    if (this.layers.length === 0) throw new Error('Sequential: the model has no layers');
    return [...this.layers[0].inputShape!];
  }

  /** Output shapes of every layer, without the batch axis (validates the whole stack). */
  shapes(): number[][] {
    let s = this.inputShape;
    return this.layers.map((l) => (s = checkLayerSize(l, s, l.computeOutputShape(s))));
  }

  get outputShape(): number[] { const s = this.shapes(); return s[s.length - 1]; }

  /** Creates every layer's weights (idempotent; done by compile, fit, summary). */
  build(): void {
    this.alive('build');
    if (this.built) return;
    this.shapes();
    let s = this.inputShape;
    for (const l of this.layers) {
      if (!l.built) l.build(s, this.initRng);
      s = l.computeOutputShape(s);
    }
    this.built = true;
  }

  get isBuilt(): boolean { return this.built; }

  /** Parameters and gradients of every layer, in order. */
  params(): ParamGrad[] {
    this.build();
    return this.layers.flatMap((l) => l.weights.map((w) => ({ name: w.name, value: w.value, grad: w.grad })));
  }

  /** Non-trainable state of every layer, in order (BatchNormalization's moving statistics). */
  stateWeights(): StateWeight[] {
    this.build();
    return this.layers.flatMap((l) => l.stateWeights.map((w) => ({ name: w.name, value: w.value })));
  }

  /** Every weight in Keras order: per layer its trainable weights, then its state. */
  private allWeights(): StateWeight[] {
    this.build();
    return this.layers.flatMap((l) => [...l.weights, ...l.stateWeights].map((w) => ({ name: w.name, value: w.value })));
  }

  /** Number of parameters, trainable and not. */
  countParams(): number { this.build(); return this.layers.reduce((a, l) => a + l.countParams(), 0); }

  /** Number of trainable parameters. */
  countTrainableParams(): number { this.build(); return this.layers.reduce((a, l) => a + l.countTrainableParams(), 0); }

  /** The Keras summary table; printed with `print` (default console.log) and returned. */
  summary(print: ((s: string) => void) | null = (s) => console.log(s)): string {
    this.alive('summary'); checkArg('summary', 'print', print, or(func, nullValue));
    this.build();
    const shapes = this.shapes();
    const rule = (c: string) => c.repeat(69);
    // Columns at 33 and 59 as Keras; a longer cell keeps one space before the next column.
    const cell = (v: string, w: number) => (v.length < w ? v.padEnd(w) : `${v} `);
    const row = (a: string, b: string, c: string) => `${cell(a, 33)}${cell(b, 26)}${c}`.trimEnd();
    const lines = [`Model: "${this.name}"`, rule('_'), row(' Layer (type)', 'Output Shape', 'Param #'), rule('=')];
    this.layers.forEach((l, i) => {
      if (i > 0) lines.push('');
      lines.push(row(` ${l.name} (${l.className})`, `(None, ${shapes[i].join(', ')})`, String(l.countParams())));
    });
    const total = this.countParams(), trainable = this.countTrainableParams();
    lines.push(rule('='), `Total params: ${total.toLocaleString('en-US')}`, `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`, rule('_'));
    const text = lines.join('\n');
    if (print) print(text);
    return text;
  }

  /** Chooses optimizer, loss and metrics (Keras names). */
  compile(args: CompileArgs): void {
    this.alive('compile'); checkOptions('compile', args, COMPILE_OPTIONS, 'its argument');
    if (!args || typeof args !== 'object') throw new Error('compile: expected {optimizer, loss, metrics}');
    const { optimizer, loss } = args;
    if (loss !== 'categoricalCrossentropy' && loss !== 'sparseCategoricalCrossentropy') {
      throw new Error(`compile: loss must be 'categoricalCrossentropy' or 'sparseCategoricalCrossentropy', got ${show(loss)}`);
    }
    const last = this.layers[this.layers.length - 1];
    if (!last || last.activation !== 'softmax') {
      throw new Error(`compile: ${loss} needs the model to end with a softmax activation (it is fused with the loss); the last layer ${last?.name ?? '(none)'} has '${last?.activation ?? 'none'}'`);
    }
    for (const m of args.metrics ?? []) {
      if (m !== 'accuracy' && m !== 'acc') throw new Error(`compile: unknown metric ${show(m)} (supported: 'accuracy')`);
    }
    let opt: Optimizer;
    if (optimizer === 'adam') opt = new Adam();
    else if (optimizer === 'sgd') opt = new SGD();
    else if (optimizer === 'rmsprop') opt = new RMSprop();
    else if (optimizer instanceof Optimizer) opt = optimizer;
    else throw new Error(`compile: optimizer must be 'adam', 'sgd', 'rmsprop' or an optimizer object, got ${show(optimizer)}`);
    // Like Keras, the weights exist once the model is compiled (seeded by the model's seed).
    this.build();
    if (this.optimizer && this.optimizer !== opt) this.optimizer.dispose();
    this.optimizer = opt;
    this.loss = loss;
    this.metrics = (args.metrics ?? []).map(() => 'accuracy');
  }

  private forward(x: Tensor, training: boolean, logits: boolean): Tensor {
    let y = x;
    const n = this.layers.length;
    this.layers.forEach((l, i) => { y = l.call(y, { training, rng: this.trainRng, logits: logits && i === n - 1 }); });
    return y;
  }

  private checkInput(src: DataSource, what: string): void {
    const want = this.inputShape;
    if (src.rowShape.join() !== want.join()) {
      throw new Error(`${what}: layer ${this.layers[0].name} expects input of shape [None, ${want}], got [${src.n}, ${src.rowShape}]`);
    }
  }

  private requireCompiled(what: string): Optimizer {
    if (!this.optimizer || !this.loss) throw new Error(`${what}: call model.compile({optimizer, loss}) first`);
    return this.optimizer;
  }

  /** Copies rows `idx[start..start+count)` of x and y into fresh batch tensors (inside a tidy). */
  private batch(xs: DataSource, ys: DataSource, idx: Int32Array, start: number, count: number): [Tensor, Tensor] {
    const xb = new Tensor([count, ...xs.rowShape]);
    const yb = new Tensor([count, this.outputShape[0]]);
    xs.gather(idx, start, count, xb.view());
    labelsToOneHot(ys, idx, start, count, this.loss!, this.outputShape[0], yb.view());
    return [xb, yb];
  }

  /** One optimizer step on a batch; returns the batch loss and number of correct predictions. */
  private step(xb: Tensor, yb: Tensor, where: string): { loss: number; correct: number } {
    const opt = this.optimizer!;
    const params = this.params();
    // Optimizer state is made before the step's tidy(), so the first step already has the final layout.
    opt.prepare(params);
    // Everything a step changes, copied aside so a non-finite step can be undone.
    const state = [...this.allWeights(), ...opt.stateWeights()];
    this.guard.save(state.map((w) => w.value));
    const iterations = opt.iterations;
    const undo = (why: string) => {
      this.guard.restore(); opt.iterations = iterations;
      return new Error(`${why} ${where}; training stopped and the weights are those from before this batch`);
    };
    const u8 = getArena().u8();
    for (const p of params) u8.fill(0, p.grad.ptr, p.grad.ptr + p.grad.size * 4);
    return tidy(() => {
      const tape = new Tape();
      for (const p of params) tape.watch(p.value, p.grad);
      const probs = new Tensor(yb.shape);
      const loss = withTape(tape, () => softmaxCrossEntropy(yb, this.forward(xb, true, true), probs));
      const value = loss.view()[0];
      if (!Number.isFinite(value)) throw undo(`loss became ${value}`);
      tape.backward(loss);
      opt.step(params);
      const bad = StepGuard.firstNonFinite(state.map((w) => w.value));
      if (bad >= 0) throw undo(`the update made ${state[bad].name} non-finite (loss was ${value}; try a lower learning rate)`);
      return { loss: value, correct: countCorrect(probs.view(), yb.view(), yb.shape[1]) };
    });
  }

  /** One step on the given batch (Keras trainOnBatch); returns [loss, accuracy]. */
  trainOnBatch(x: Data, y: Data): [number, number] {
    this.alive('trainOnBatch');
    this.requireCompiled('trainOnBatch');
    const xs = toSource(x, 'trainOnBatch x');
    const ys = toSource(y, 'trainOnBatch y');
    this.checkXY(xs, ys, 'trainOnBatch');
    const idx = Int32Array.from({ length: xs.n }, (_, i) => i);
    const r = tidy(() => {
      const [xb, yb] = this.batch(xs, ys, idx, 0, xs.n);
      return this.step(xb, yb, 'in trainOnBatch');
    });
    return [r.loss, r.correct / xs.n];
  }

  private checkXY(xs: DataSource, ys: DataSource, what: string): void {
    this.checkInput(xs, what);
    if (xs.n !== ys.n) throw new Error(`${what}: x has ${xs.n} examples but y has ${ys.n}`);
    if (xs.n === 0) throw new Error(`${what}: no examples`);
    xs.checkFinite(`${what} x`);
    ys.checkLabels(this.loss!, this.outputShape[0], `${what} y`);
  }

  /** Stops a running fit after the current batch. */
  stopTraining(): void { this.stopFlag = true; }

  /** Trains for `epochs` epochs (Keras fit). */
  async fit(x: Data, y: Data, args: FitArgs = {}): Promise<History> {
    this.alive('fit'); checkOptions('fit', args, FIT_OPTIONS);
    if (args.seed !== undefined) {
      if (!this.built) this.setSeed(args.seed);
      else this.trainRng = new Rng(args.seed ^ 0x5bd1e995);
    }
    this.requireCompiled('fit');
    const epochs = args.epochs ?? 1;
    const batchSize = args.batchSize ?? 32;
    if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be a non-negative integer, got ${epochs}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`fit: batchSize must be a positive integer, got ${batchSize}`);
    const schedule = args.learningRateSchedule;
    if (schedule !== undefined && typeof schedule !== 'function') throw new Error('fit: learningRateSchedule must be a function of the step number (e.g. sn.schedules.cosineDecay({...}))');
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || !(split >= 0 && split < 1)) throw new Error(`fit: validationSplit must be a number in [0, 1), got ${show(args.validationSplit)}`);
    if (split > 0 && args.validationData) throw new Error('fit: give validationData or validationSplit, not both');
    let xs = toSource(x, 'fit x');
    let ys = toSource(y, 'fit y');
    this.checkXY(xs, ys, 'fit');
    let val: [DataSource, DataSource] | null = null;
    if (args.validationData) {
      val = [toSource(args.validationData[0], 'fit validationData x'), toSource(args.validationData[1], 'fit validationData y')];
      this.checkXY(val[0], val[1], 'fit validationData');
    } else if (split > 0) {
      // Keras: split_at = floor(n * (1 - split)); the tail (before any shuffling) is validation data.
      const at = Math.floor(xs.n * (1 - split));
      if (at === 0 || at === xs.n) {
        throw new Error(`fit: validationSplit ${split} of ${xs.n} examples leaves ${at} for training and ${xs.n - at} for validation; both need at least one (use more data or another split)`);
      }
      val = [sliceSource(xs, at, xs.n - at), sliceSource(ys, at, ys.n - at)];
      xs = sliceSource(xs, 0, at);
      ys = sliceSource(ys, 0, at);
    }
    const progress = new Progress(args.verbose ?? 1, args.print);
    const steps = Math.ceil(xs.n / batchSize);
    const history: History = { epoch: [], history: { loss: [], accuracy: [] }, stopped: false };
    if (val) { history.history.val_loss = []; history.history.val_accuracy = []; }
    const idx = Int32Array.from({ length: xs.n }, (_, i) => i);
    const first = args.initialEpoch ?? 0;
    this.stopFlag = false;
    const cb = args.callbacks ?? {};
    let lastYield = Date.now();
    for (let e = first; e < first + epochs && !history.stopped; e++) {
      if ((await cb.onEpochBegin?.(e)) === false) { history.stopped = true; break; }
      progress.epochBegin(e - first, epochs);
      // Each epoch shuffles 0..n-1 afresh, so its order depends only on the RNG state (exact resume).
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      if (args.shuffle ?? true) this.trainRng.shuffle(idx);
      let lossSum = 0, correct = 0, seen = 0;
      let b = 0;
      for (; b < steps; b++) {
        const start = b * batchSize, count = Math.min(batchSize, xs.n - start);
        if (schedule) this.optimizer!.learningRate = schedule(this.optimizer!.iterations);
        const r = tidy(() => {
          const [xb, yb] = this.batch(xs, ys, idx, start, count);
          return this.step(xb, yb, `at epoch ${e + 1}, batch ${b + 1}`);
        });
        lossSum += r.loss * count; correct += r.correct; seen += count;
        const logs = { loss: lossSum / seen, accuracy: correct / seen };
        progress.batchEnd(b + 1, steps, logs);
        if ((await cb.onBatchEnd?.(b, logs)) === false) history.stopped = true;
        if (args.signal?.aborted || this.stopFlag) history.stopped = true;
        if (history.stopped) { b++; break; }
        // Let the event loop breathe (timers, Ctrl-C, UI) about every 50 ms.
        if (Date.now() - lastYield > 50) { await new Promise((r) => setTimeout(r, 0)); lastYield = Date.now(); }
      }
      const logs: Logs = { loss: lossSum / seen, accuracy: correct / seen };
      if (val) {
        const [vl, va] = this.evaluateSources(val[0], val[1], batchSize);
        logs.val_loss = vl; logs.val_accuracy = va;
      }
      if (!history.stopped || b === steps) {
        history.epoch.push(e);
        history.history.loss.push(logs.loss);
        history.history.accuracy.push(logs.accuracy);
        if (val) { history.history.val_loss!.push(logs.val_loss); history.history.val_accuracy!.push(logs.val_accuracy); }
        progress.epochEnd(steps, logs);
      } else {
        progress.epochEnd(b, logs);
      }
      if ((await cb.onEpochEnd?.(e, logs)) === false) history.stopped = true;
    }
    return history;
  }

  private evaluateSources(xs: DataSource, ys: DataSource, batchSize: number): [number, number] {
    const K = this.outputShape[0];
    const idx = Int32Array.from({ length: xs.n }, (_, i) => i);
    let lossSum = 0, correct = 0;
    noGrad(() => {
      for (let start = 0; start < xs.n; start += batchSize) {
        const count = Math.min(batchSize, xs.n - start);
        tidy(() => {
          const [xb, yb] = this.batch(xs, ys, idx, start, count);
          const probs = new Tensor([count, K]);
          const loss = softmaxCrossEntropy(yb, this.forward(xb, false, true), probs);
          lossSum += loss.view()[0] * count;
          correct += countCorrect(probs.view(), yb.view(), K);
        });
      }
    });
    return [lossSum / xs.n, correct / xs.n];
  }

  /** Loss and accuracy on (x, y), as Keras evaluate: returns [loss, accuracy]. */
  evaluate(x: Data, y: Data, args: { batchSize?: number } = {}): [number, number] {
    this.alive('evaluate'); checkOptions('evaluate', args, BATCH_OPTIONS);
    this.requireCompiled('evaluate');
    const xs = toSource(x, 'evaluate x');
    const ys = toSource(y, 'evaluate y');
    this.checkXY(xs, ys, 'evaluate');
    return this.evaluateSources(xs, ys, args.batchSize ?? 32);
  }

  /** Output probabilities for x (batched internally, no tape, no dropout). The caller disposes the result. */
  predict(x: Data, args: { batchSize?: number } = {}): Tensor {
    this.alive('predict'); checkOptions('predict', args, BATCH_OPTIONS);
    this.build();
    const xs = toSource(x, 'predict x');
    this.checkInput(xs, 'predict');
    xs.checkFinite('predict x');
    const batchSize = args.batchSize ?? 32;
    const outShape = this.outputShape;
    const rowSize = outShape.reduce((a, b) => a * b, 1);
    // Not keep(): inside the caller's tidy() the result is the caller's to return or lose (as tfjs).
    const out = new Tensor([xs.n, ...outShape]);
    const idx = Int32Array.from({ length: xs.n }, (_, i) => i);
    noGrad(() => {
      for (let start = 0; start < xs.n; start += batchSize) {
        const count = Math.min(batchSize, xs.n - start);
        tidy(() => {
          const xb = new Tensor([count, ...xs.rowShape]);
          xs.gather(idx, start, count, xb.view());
          const y = this.forward(xb, false, false);
          out.view().set(y.view(), start * rowSize);
        });
      }
    });
    return out;
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
      throw new Error(`setWeights: the model has ${params.length} weight arrays, got ${Array.isArray(weights) ? weights.length : typeof weights}`);
    }
    weights.forEach((w, i) => {
      const p = params[i];
      if (w instanceof Tensor) {
        w.assertLive();
        if (w.shape.join() !== p.value.shape.join()) throw new Error(`setWeights: ${p.name} has shape [${p.value.shape}], got [${w.shape}]`);
      } else if (!(w instanceof Float32Array) || w.length !== p.value.size) {
        throw new Error(`setWeights: ${p.name} needs ${p.value.size} float32 values`);
      }
    });
    weights.forEach((w, i) => params[i].value.view().set(w instanceof Tensor ? w.view() : w));
  }

  /** The model as one binary file (architecture, weights, optimizer state, RNG state); see loadModel. */
  save(): ArrayBuffer { this.alive('save'); return saveModel(this); }

  /**
   * The model as ONNX bytes (opset 13, NHWC input named `input`, probabilities `output`). Async
   * because the exporter and its protobuf library are loaded only when asked for.
   */
  async toONNX(): Promise<Uint8Array> {
    this.alive('toONNX');
    const { toONNX } = await import('../onnx/export.js');
    return toONNX(this);
  }

  /** Frees weights, gradients and optimizer state. */
  dispose(): void {
    for (const l of this.layers) l.dispose();
    this.optimizer?.dispose();
    this.guard.free();
    this.built = false;
    this.disposed = true;
  }

  /** True once {@link dispose} ran; the model can then no longer be used. */
  get isDisposed(): boolean { return this.disposed; }

  /** Throws when the model was disposed (its weights are gone; rebuilding would make new random ones). */
  private alive(what: string): void {
    if (this.disposed) throw new Error(`${what}: the model ${this.name} was disposed; create or load a new model`);
  }
}

/** Number of rows whose argmax of probs equals the argmax of the (one-hot) labels. */
function countCorrect(probs: Float32Array, labels: Float32Array, K: number): number {
  let c = 0;
  for (let r = 0; r * K < probs.length; r++) {
    let bp = 0, bl = 0;
    for (let k = 1; k < K; k++) {
      if (probs[r * K + k] > probs[r * K + bp]) bp = k;
      if (labels[r * K + k] > labels[r * K + bl]) bl = k;
    }
    if (bp === bl) c++;
  }
  return c;
}
