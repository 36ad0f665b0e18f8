// Model.fit's loop (Keras fit): epochs of shuffled batches, each one optimizer step, with progress
// output, validation at each epoch's end, the learning-rate schedule, and the callbacks, which may
// stop training after any batch. The model hands in what the loop needs (FitHost), so this module
// does not import it.
import type { Optimizer } from '../optim/optimizer.js';
import type { LearningRateSchedule } from '../optim/schedules.js';
import type { Rng } from '../rng.js';
import { type BaseCallback, CallbackList, type Logs, type TrainingModel } from './base-callbacks.js';
import { type Data, type DataSource, sliceSource, toSource } from './data.js';
import { Progress } from './progress.js';
import { NonFiniteStepError } from './training.js';
import { show } from '../show.js';

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

/** fit's numeric options, checked. */
export interface FitOptions {
  epochs: number;
  batchSize: number;
  schedule: LearningRateSchedule | undefined;
  split: number;
}

/** Checks fit's epochs, batchSize, learningRateSchedule and validationSplit. */
export function fitOptions(args: FitArgs): FitOptions {
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
  return { epochs, batchSize, schedule, split };
}

/** Training and validation data of one fit. */
export interface FitData {
  xs: DataSource[];
  ys: DataSource;
  val: [DataSource[], DataSource] | null;
}

/** How fit reads and checks its arrays (the model's). */
export interface FitChecks {
  sources(d: Data | Data[], what: string): DataSource[];
  check(xs: DataSource[], ys: DataSource, what: string): void;
}

/** fit's x and y, checked, and its validation data: validationData, or the tail split off by `split`. */
export function fitData(
  x: Data | Data[],
  y: Data,
  validationData: [Data, Data] | undefined,
  split: number,
  c: FitChecks,
): FitData {
  const xs = c.sources(x, 'fit x');
  const ys = toSource(y, 'fit y');
  c.check(xs, ys, 'fit');
  if (validationData) {
    const val: [DataSource[], DataSource] = [
      c.sources(validationData[0], 'fit validationData x'),
      toSource(validationData[1], 'fit validationData y'),
    ];
    c.check(val[0], val[1], 'fit validationData');
    return { xs, ys, val };
  }
  return split > 0 ? splitValidation(xs, ys, split) : { xs, ys, val: null };
}

/** Keras' validationSplit: split_at = floor(n * (1 - split)); the tail (before any shuffling) validates. */
export function splitValidation(xs: DataSource[], ys: DataSource, split: number): FitData {
  const n = xs[0].n;
  const at = Math.floor(n * (1 - split));
  if (at === 0 || at === n) {
    throw new Error(
      `fit: validationSplit ${split} of ${n} examples leaves ${at} for training and ${n - at} for validation; both need at least one (use more data or another split)`,
    );
  }
  return {
    xs: xs.map((s) => sliceSource(s, 0, at)),
    ys: sliceSource(ys, 0, at),
    val: [xs.map((s) => sliceSource(s, at, n - at)), sliceSource(ys, at, ys.n - at)],
  };
}

/** What the loop needs of the model. */
export interface FitHost {
  /** The model, for the callbacks. */
  model: TrainingModel;
  optimizer: Optimizer;
  /** The loss comes with an accuracy. */
  hasAccuracy: boolean;
  /** Shuffles the examples. */
  rng: Rng;
  /** model.stopTraining() was called. */
  stopRequested(): boolean;
  /** One optimizer step on rows idx[start..start+count) (throws NonFiniteStepError, the step undone). */
  trainBatch(idx: Int32Array, start: number, count: number, where: string): { loss: number; correct: number };
  /** [loss, accuracy] over validation data. */
  evaluate(xs: DataSource[], ys: DataSource, batchSize: number): [number, number];
  /** The number the count of correct predictions of n examples is divided by. */
  accuracyDenominator(n: number): number;
}

// The state of one fit: its settings, the history it writes, and how it stops.
interface Run {
  host: FitHost;
  data: FitData;
  opts: FitOptions;
  args: FitArgs;
  progress: Progress;
  cb: CallbackList;
  history: History;
  idx: Int32Array;
  steps: number;
  lastYield: number;
}

function stop(run: Run, e: number): void {
  if (!run.history.stopped) run.history.stoppedEpoch = e;
  run.history.stopped = true;
}

/** Trains on the data (checked and split) for the epochs of `opts`, as Keras fit; returns the history. */
export async function runFit(host: FitHost, data: FitData, opts: FitOptions, args: FitArgs): Promise<History> {
  const progress = new Progress(args.verbose ?? 1, args.print, { interval: (args.progressInterval ?? 30) * 1000 });
  const N = data.xs[0].n;
  const steps = Math.ceil(N / opts.batchSize);
  const history: History = {
    epoch: [],
    history: { loss: [], accuracy: [], learning_rate: [] },
    stopped: false,
    stoppedEpoch: null,
  };
  if (data.val) {
    history.history.val_loss = [];
    history.history.val_accuracy = [];
  }
  const first = args.initialEpoch ?? 0;
  const cb = new CallbackList(args.callbacks, host.model, {
    epochs: opts.epochs,
    steps,
    batchSize: opts.batchSize,
    samples: N,
    initialEpoch: first,
    hasSchedule: opts.schedule !== undefined,
    verbose: args.verbose ?? 1,
    print: args.print ?? ((s: string) => console.log(s)),
  });
  const idx = Int32Array.from({ length: N }, (_, i) => i);
  const run: Run = { host, data, opts, args, progress, cb, history, idx, steps, lastYield: Date.now() };
  let lastLogs: Logs = {};
  if ((await cb.trainBegin()) || host.stopRequested()) stop(run, first);
  for (let e = first; e < first + opts.epochs && !history.stopped; e++) {
    if ((await cb.epochBegin(e)) || host.stopRequested()) {
      stop(run, e);
      break;
    }
    progress.epochBegin(e - first, opts.epochs);
    // Each epoch shuffles 0..n-1 afresh, so its order depends only on the RNG state (exact resume).
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    if (args.shuffle ?? true) host.rng.shuffle(idx);
    lastLogs = await epoch(run, e);
  }
  await cb.trainEnd(lastLogs);
  return history;
}

// The batches of epoch e, then its logs (validated), history and callbacks.
async function epoch(run: Run, e: number): Promise<Logs> {
  const { host, history, steps } = run;
  const acc = host.hasAccuracy;
  const { b, logs } = await batches(run, e);
  const lr = host.optimizer.learningRate;
  const val = run.data.val;
  if (val) {
    const [vl, va] = host.evaluate(val[0], val[1], run.opts.batchSize);
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
    run.progress.epochEnd(steps, logs);
  } else {
    run.progress.epochEnd(b, logs);
  }
  if ((await run.cb.epochEnd(e, logs)) || host.stopRequested()) stop(run, e);
  return logs;
}

// One epoch's optimizer steps, until its last batch or a stop; the batches done and the running logs.
async function batches(run: Run, e: number): Promise<{ b: number; logs: Logs }> {
  const { host, cb, history, steps, idx } = run;
  const { batchSize, schedule } = run.opts;
  const N = run.data.xs[0].n;
  let lossSum = 0,
    correct = 0,
    seen = 0;
  let b = 0;
  for (; b < steps; b++) {
    const start = b * batchSize,
      count = Math.min(batchSize, N - start);
    if (schedule) host.optimizer.learningRate = schedule(host.optimizer.iterations);
    if ((await cb.batchBegin(b)) || host.stopRequested()) {
      stop(run, e);
      break;
    }
    let r: { loss: number; correct: number };
    try {
      r = host.trainBatch(idx, start, count, `at epoch ${e + 1}, batch ${b + 1}`);
    } catch (err) {
      // The step was undone. A callback that stops on it (TerminateOnNaN) makes fit return.
      if (!(err instanceof NonFiniteStepError)) throw err;
      if ((await cb.batchEnd(b, { loss: err.loss })) || host.stopRequested()) {
        stop(run, e);
        break;
      }
      throw err;
    }
    lossSum += r.loss * count;
    correct += r.correct;
    seen += count;
    const logs: Logs = { loss: lossSum / seen };
    if (host.hasAccuracy) logs.accuracy = correct / host.accuracyDenominator(seen);
    run.progress.batchEnd(b + 1, steps, logs);
    if ((await cb.batchEnd(b, logs)) || run.args.signal?.aborted || host.stopRequested()) stop(run, e);
    if (history.stopped) {
      b++;
      break;
    }
    // Let the event loop breathe (timers, Ctrl-C, UI) about every 50 ms.
    if (Date.now() - run.lastYield > 50) {
      await new Promise((r) => setTimeout(r, 0));
      run.lastYield = Date.now();
    }
  }
  const logs: Logs = { loss: lossSum / seen };
  if (host.hasAccuracy) logs.accuracy = correct / host.accuracyDenominator(seen);
  return { b, logs };
}
