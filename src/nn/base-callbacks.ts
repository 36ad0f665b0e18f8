// What fit needs of its callbacks, as tfjs-layers' base_callbacks: the hooks (BaseCallback), the
// older object of functions, and CallbackList, which runs either. The model being trained is seen
// here only as what a hook may ask of it, so that the model's modules can import this one; the
// Callback class of callbacks.ts types it as the Model.
import { show } from '../show.js';

/** Logs passed to callbacks. */
export type Logs = Record<string, number>;

/** What fit's callbacks may ask of the model being trained here (callbacks.ts' Callback sees the Model). */
export interface TrainingModel {
  /** Stops a running fit after the current batch. */
  stopTraining(): void;
}

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
 * The hooks of fit's callbacks, as tfjs' BaseCallback; extend {@link Callback}, which sees the model
 * being trained as a Model. Override the hooks you need. Epochs are
 * numbered from 0 (from fit's initialEpoch), batches from 0 within the epoch. `logs` at a batch end
 * hold the running means of the epoch so far (`loss`, `accuracy`); at an epoch end also `val_loss` /
 * `val_accuracy` when fit validates. Hooks may be async; fit awaits them. To stop training call
 * `this.model.stopTraining()`.
 */
export class BaseCallback {
  /** The model being trained (set by fit before onTrainBegin). */
  model: TrainingModel | null = null;
  /** fit's settings (set by fit before onTrainBegin). */
  params: FitParams | null = null;

  /** @internal Called by fit. */
  setModel(model: TrainingModel): void {
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
  if (Array.isArray(v)) return v.every((c) => c instanceof BaseCallback) ? null : want;
  if (v === null || typeof v !== 'object') return want;
  for (const [k, f] of Object.entries(v)) {
    if (!(HOOKS as readonly string[]).includes(k)) return `${want}; ${show(k)} is not a hook`;
    if (f !== undefined && typeof f !== 'function') return `${want}; ${k} is ${show(f)}`;
  }
  return null;
}

/** @internal Runs fit's callbacks in order; each hook resolves to true when training should stop. */
export class CallbackList {
  private readonly list: BaseCallback[];
  private readonly fns: CallbackFunctions;

  constructor(cbs: BaseCallback[] | CallbackFunctions | undefined, model: TrainingModel, params: FitParams) {
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
