// Keras callbacks for fit: the Callback base class with its hooks, and EarlyStopping,
// ReduceLROnPlateau and TerminateOnNaN (the file-writing ones, ModelCheckpoint and CSVLogger, live in
// src/node/callbacks.ts). fit accepts a list of Callback objects or the older object of functions;
// CallbackList runs either. A callback stops training as in Keras, with model.stopTraining(): fit
// finishes the current batch (or, from onEpochEnd, the epoch) and returns.
import type { Logs, Model } from './model.js';
import { show } from '../show.js';
import { checkOptions, type Spec } from './options.js';

/** What fit tells its callbacks before training ({@link Callback.params}). */
export interface FitParams {
  /** Number of epochs this fit runs (not counting initialEpoch). */
  epochs: number;
  /** Batches per epoch. */
  steps: number;
  batchSize: number;
  /** Number of training examples. */
  samples: number;
  /** The epoch number of the first epoch (fit's initialEpoch). */
  initialEpoch: number;
  /** fit has a learningRateSchedule (it sets the learning rate before every step). */
  hasSchedule: boolean;
  verbose: number;
  /** Where fit prints (callbacks with `verbose` print here). */
  print: (line: string) => void;
}

/**
 * Base class of fit callbacks, as keras.callbacks.Callback: override the hooks you need. Epochs are
 * numbered from 0 (from fit's initialEpoch), batches from 0 within the epoch. `logs` at a batch end
 * hold the running means of the epoch so far (`loss`, `accuracy`); at an epoch end also `val_loss` /
 * `val_accuracy` when fit validates. Hooks may be async; fit awaits them. To stop training call
 * `this.model.stopTraining()`.
 */
export class Callback {
  /** The model being trained (set by fit before onTrainBegin). */
  model: Model | null = null;
  /** fit's settings (set by fit before onTrainBegin). */
  params: FitParams | null = null;

  /** @internal Called by fit. */
  setModel(model: Model): void {
    this.model = model;
  }
  /** @internal Called by fit. */
  setParams(params: FitParams): void {
    this.params = params;
  }
  onTrainBegin(_logs?: Logs): void | Promise<void> {}
  onTrainEnd(_logs?: Logs): void | Promise<void> {}
  onEpochBegin(_epoch: number, _logs?: Logs): void | Promise<void> {}
  onEpochEnd(_epoch: number, _logs: Logs): void | Promise<void> {}
  onBatchBegin(_batch: number, _logs?: Logs): void | Promise<void> {}
  onBatchEnd(_batch: number, _logs: Logs): void | Promise<void> {}

  /** The model, or an error naming the callback when it is used outside fit. */
  protected get trainee(): Model {
    if (!this.model) throw new Error(`${this.constructor.name}: not attached to a model (pass it to fit's callbacks)`);
    return this.model;
  }
  /** Prints through fit's print. */
  protected say(line: string): void {
    (this.params?.print ?? ((s: string) => console.log(s)))(line);
  }
}

/** The older form of fit's callbacks: functions; returning `false` from one of them stops training. */
export interface CallbackFunctions {
  onTrainBegin?: (logs?: Logs) => unknown;
  onTrainEnd?: (logs?: Logs) => unknown;
  onEpochBegin?: (epoch: number, logs?: Logs) => unknown;
  onEpochEnd?: (epoch: number, logs: Logs) => unknown;
  onBatchBegin?: (batch: number, logs?: Logs) => unknown;
  onBatchEnd?: (batch: number, logs: Logs) => unknown;
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;
type Hook = (typeof HOOKS)[number];

/** @internal The check of fit's `callbacks` option: a Callback list or an object of functions. */
export function checkCallbacks(v: unknown): string | null {
  const want = 'a list of Callback objects or an object of functions (onEpochEnd, onBatchEnd, ...)';
  if (Array.isArray(v)) return v.every((c) => c instanceof Callback) ? null : want;
  if (v === null || typeof v !== 'object') return want;
  for (const [k, f] of Object.entries(v)) {
    if (!(HOOKS as readonly string[]).includes(k)) return `${want}; ${show(k)} is not a hook`;
    if (f !== undefined && typeof f !== 'function') return `${want}; ${k} is ${show(f)}`;
  }
  return null;
}

/** @internal Runs fit's callbacks in order; each hook resolves to true when training should stop. */
export class CallbackList {
  private readonly list: Callback[];
  private readonly fns: CallbackFunctions;

  constructor(cbs: Callback[] | CallbackFunctions | undefined, model: Model, params: FitParams) {
    this.list = Array.isArray(cbs) ? cbs : [];
    this.fns = Array.isArray(cbs) ? {} : (cbs ?? {});
    for (const c of this.list) {
      c.setModel(model);
      c.setParams(params);
    }
  }

  private async run(hook: Hook, args: unknown[]): Promise<boolean> {
    let stop = false;
    for (const c of this.list) await (c[hook] as (...a: unknown[]) => unknown).apply(c, args);
    const f = this.fns[hook] as ((...a: unknown[]) => unknown) | undefined;
    if (f && (await f(...args)) === false) stop = true;
    return stop;
  }
  trainBegin(): Promise<boolean> {
    return this.run('onTrainBegin', [{}]);
  }
  trainEnd(logs: Logs): Promise<boolean> {
    return this.run('onTrainEnd', [logs]);
  }
  epochBegin(epoch: number): Promise<boolean> {
    return this.run('onEpochBegin', [epoch, {}]);
  }
  epochEnd(epoch: number, logs: Logs): Promise<boolean> {
    return this.run('onEpochEnd', [epoch, logs]);
  }
  batchBegin(batch: number): Promise<boolean> {
    return this.run('onBatchBegin', [batch, {}]);
  }
  batchEnd(batch: number, logs: Logs): Promise<boolean> {
    return this.run('onBatchEnd', [batch, logs]);
  }
}

// ---------------------------------------------------------------------------------------------
// Monitoring a logged quantity (shared with ModelCheckpoint).
// ---------------------------------------------------------------------------------------------

/** 'min': lower is better; 'max': higher; 'auto': 'max' for accuracies and AUCs, else 'min' (Keras). */
export type MonitorMode = 'auto' | 'min' | 'max';

/** @internal 'min' or 'max' for a monitored quantity, Keras' 'auto' rule: names with "acc" or "auc" go up. */
export function resolveMode(what: string, monitor: string, mode: unknown): 'min' | 'max' {
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max')
    throw new Error(`${what}: mode must be 'auto', 'min' or 'max', got ${show(mode)}`);
  if (mode !== 'auto') return mode;
  return /acc|auc/.test(monitor) ? 'max' : 'min';
}

/** @internal logs[monitor], or an error naming the quantities there are. */
export function monitored(what: string, monitor: string, logs: Logs, epoch: number): number {
  const v = logs[monitor];
  if (typeof v === 'number') return v;
  const have = Object.keys(logs);
  const hint = monitor.startsWith('val_') ? '; pass validationData or validationSplit to fit' : '';
  throw new Error(
    `${what}: monitor ${show(monitor)} is not in the logs at the end of epoch ${epoch + 1} (they have ${have.join(', ') || 'nothing'})${hint}`,
  );
}

const nonNegNumber = (v: unknown) => (typeof v === 'number' && v >= 0 && Number.isFinite(v) ? null : 'a number >= 0');
const nonNegInt = (v: unknown) => (Number.isInteger(v) && (v as number) >= 0 ? null : 'a non-negative integer');
const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a finite number');
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string');
const boolean = (v: unknown) => (typeof v === 'boolean' ? null : 'true or false');
const verbosity = (v: unknown) => (v === 0 || v === 1 ? null : '0 or 1');
const anything = () => null;

/** Options of {@link EarlyStopping} (Keras names and defaults). */
export interface EarlyStoppingConfig {
  /** Logged quantity to watch (default 'val_loss'). */
  monitor?: string;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Epochs without improvement before stopping (default 0). */
  patience?: number;
  /** 1 prints a line when stopping (default 0). */
  verbose?: number;
  mode?: MonitorMode;
  /** Stop unless the quantity beats this value within `patience` epochs (default none). */
  baseline?: number;
  /** When stopping, put back the weights of the best epoch (default false; as Keras, only when it stops). */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching at all (default 0). */
  startFromEpoch?: number;
}

/**
 * Stops training when a monitored quantity has stopped improving, as keras.callbacks.EarlyStopping:
 * after `patience` epochs without an improvement of at least `minDelta`. With `restoreBestWeights`
 * the weights of the best epoch (all of them, BatchNormalization statistics included) are put back
 * when it stops.
 *
 * @example
 * ```ts
 * await model.fit(x, y, { epochs: 50, validationSplit: 0.1,
 *   callbacks: [new sn.EarlyStopping({ patience: 3, restoreBestWeights: true })] });
 * ```
 */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly verbose: number;
  readonly mode: 'min' | 'max';
  readonly baseline: number | null;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  /** Epochs since the last improvement. */
  wait = 0;
  /** Epoch at which training was stopped (0 when it was not, as Keras). */
  stoppedEpoch = 0;
  /** Best value seen, and its epoch. */
  best = Infinity;
  bestEpoch = 0;
  private bestWeights: Float32Array[] | null = null;

  constructor(cfg: EarlyStoppingConfig = {}) {
    super();
    const spec: Spec = {
      monitor: str,
      minDelta: nonNegNumber,
      patience: nonNegInt,
      verbose: verbosity,
      mode: anything,
      baseline: finite,
      restoreBestWeights: boolean,
      startFromEpoch: nonNegInt,
    };
    checkOptions('EarlyStopping', cfg, spec);
    this.monitor = cfg.monitor ?? 'val_loss';
    this.minDelta = cfg.minDelta ?? 0;
    this.patience = cfg.patience ?? 0;
    this.verbose = cfg.verbose ?? 0;
    this.mode = resolveMode('EarlyStopping', this.monitor, cfg.mode ?? 'auto');
    this.baseline = cfg.baseline ?? null;
    this.restoreBestWeights = cfg.restoreBestWeights ?? false;
    this.startFromEpoch = cfg.startFromEpoch ?? 0;
  }

  private improves(v: number, ref: number): boolean {
    return this.mode === 'min' ? v + this.minDelta < ref : v - this.minDelta > ref;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.bestWeights = null;
    this.bestEpoch = 0;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored('EarlyStopping', this.monitor, logs, epoch);
    if (epoch < this.startFromEpoch) return;
    const model = this.trainee;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = copyWeights(model);
    this.wait++;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = copyWeights(model);
      // Only an improvement over the baseline too restarts the count.
      if (this.baseline === null || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      model.stopTraining();
      if (this.restoreBestWeights && this.bestWeights) {
        if (this.verbose > 0)
          this.say(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
        model.setWeights(this.bestWeights);
      }
    }
  }

  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) this.say(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
  }
}

/** Copies of every weight array of the model (getWeights order), as plain Float32Arrays. */
function copyWeights(model: Model): Float32Array[] {
  return model.getWeights().map((t) => {
    const a = t.dataSync() as Float32Array;
    t.dispose();
    return a;
  });
}

/** Options of {@link ReduceLROnPlateau} (Keras names and defaults). */
export interface ReduceLROnPlateauConfig {
  /** Logged quantity to watch (default 'val_loss'). */
  monitor?: string;
  /** New rate = rate * factor (default 0.1; must be < 1). */
  factor?: number;
  /** Epochs without improvement before lowering the rate (default 10). */
  patience?: number;
  /** 1 prints a line when lowering (default 0). */
  verbose?: number;
  mode?: MonitorMode;
  /** Smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The rate is never lowered below this (default 0). */
  minLr?: number;
}

/**
 * Lowers the optimizer's learning rate when a monitored quantity has stopped improving, as
 * keras.callbacks.ReduceLROnPlateau. It adds `learning_rate` to the epoch logs. Not together with
 * fit's learningRateSchedule, which would overwrite the rate at the next step.
 */
export class ReduceLROnPlateau extends Callback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly verbose: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  wait = 0;
  cooldownCounter = 0;
  best = Infinity;

  constructor(cfg: ReduceLROnPlateauConfig = {}) {
    super();
    const spec: Spec = {
      monitor: str,
      factor: nonNegNumber,
      patience: nonNegInt,
      verbose: verbosity,
      mode: anything,
      minDelta: nonNegNumber,
      cooldown: nonNegInt,
      minLr: nonNegNumber,
    };
    checkOptions('ReduceLROnPlateau', cfg, spec);
    this.monitor = cfg.monitor ?? 'val_loss';
    this.factor = cfg.factor ?? 0.1;
    if (!(this.factor < 1)) throw new Error(`ReduceLROnPlateau: factor must be below 1, got ${this.factor}`);
    this.patience = cfg.patience ?? 10;
    this.verbose = cfg.verbose ?? 0;
    this.mode = resolveMode('ReduceLROnPlateau', this.monitor, cfg.mode ?? 'auto');
    this.minDelta = cfg.minDelta ?? 1e-4;
    this.cooldown = cfg.cooldown ?? 0;
    this.minLr = cfg.minLr ?? 0;
  }

  onTrainBegin(): void {
    if (this.params?.hasSchedule)
      throw new Error(
        'ReduceLROnPlateau: fit has a learningRateSchedule, which sets the learning rate before every step; use one or the other',
      );
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const opt = this.trainee.optimizer;
    if (!opt) throw new Error('ReduceLROnPlateau: the model has no optimizer (compile it first)');
    logs.learning_rate = opt.learningRate;
    const current = monitored('ReduceLROnPlateau', this.monitor, logs, epoch);
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    const better = this.mode === 'min' ? current < this.best - this.minDelta : current > this.best + this.minDelta;
    if (better) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = opt.learningRate;
        if (old > this.minLr) {
          opt.learningRate = Math.max(old * this.factor, this.minLr);
          if (this.verbose > 0)
            this.say(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${opt.learningRate}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

/**
 * Stops training when the loss becomes NaN or infinite, as keras.callbacks.TerminateOnNaN. fit then
 * returns normally (instead of throwing), and the weights are those from before the failed batch.
 */
export class TerminateOnNaN extends Callback {
  /** The batch at which it stopped training, or null. */
  stoppedBatch: number | null = null;
  onTrainBegin(): void {
    this.stoppedBatch = null;
  }
  onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs.loss;
    if (typeof loss === 'number' && !Number.isFinite(loss)) {
      this.say(`Batch ${batch}: invalid loss, terminating training`);
      this.stoppedBatch = batch;
      this.trainee.stopTraining();
    }
  }
}
