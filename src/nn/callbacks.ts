// Keras callbacks for fit: the Callback base class, which sees the model it trains as a Model, and
// EarlyStopping, ReduceLROnPlateau and TerminateOnNaN (the file-writing ones, ModelCheckpoint and
// CSVLogger, live in src/node/callbacks.ts). The hooks and the list fit runs are base-callbacks.ts,
// which the model imports (this module imports the model). A callback stops training as in Keras,
// with model.stopTraining(): fit finishes the current batch (or, from onEpochEnd, the epoch) and returns.
import type { Model } from './model.js';
import { show } from '../show.js';
import { BaseCallback, type Logs } from './base-callbacks.js';

export { BaseCallback };
export type { CallbackFunctions, FitParams, TrainingModel } from './base-callbacks.js';
import { checkOptions, type Spec } from './options.js';

/**
 * Base class of fit callbacks, as keras.callbacks.Callback: override the hooks you need (see
 * {@link BaseCallback}). To stop training call `this.model.stopTraining()`.
 */
export class Callback extends BaseCallback {
  /** The model being trained (set by fit before onTrainBegin). */
  declare model: Model | null;

  /** @internal Called by fit. */
  setModel(model: Model): void {
    this.model = model;
  }
  /** The model, or an error naming the callback when it is used outside fit. */
  protected get trainee(): Model {
    if (!this.model) throw new Error(`${this.constructor.name}: not attached to a model (pass it to fit's callbacks)`);
    return this.model;
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
