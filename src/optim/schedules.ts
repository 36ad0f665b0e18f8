// Learning-rate schedules: pure functions of a step number, evaluated in wasm (assembly/kernels/
// optim.ts lr_*) so every engine gives the same bits — JS Math.pow/Math.cos may differ in the last
// bit between engines. Values are rounded to float32, the precision the optimizer kernels use.
//
// fit({learningRateSchedule}) calls the schedule with the optimizer's step count before each step
// (Keras LearningRateSchedule semantics: the first step sees 0). For a per-epoch schedule, call it
// from a callback instead: `onEpochBegin: (e) => { model.optimizer!.learningRate = s(e); }`.
import { getEngine } from '../wasm/bindings.js';
import { show } from '../show.js';

/** A learning rate as a function of the 0-based step (or epoch) number. */
export type LearningRateSchedule = (step: number) => number;

function num(v: unknown, what: string, name: string, ok: (x: number) => boolean, rule: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
    throw new Error(`${what}: ${name} must be ${rule}, got ${show(v)}`);
  return v;
}

function stepArg(step: number, what: string): number {
  if (!Number.isInteger(step) || step < 0 || step > 0x7fffffff)
    throw new Error(`${what}: step must be a non-negative integer, got ${step}`);
  return step;
}

/** Options of {@link stepDecay}. */
export interface StepDecayConfig {
  initial: number;
  dropEvery: number;
  factor: number;
}

/**
 * initial · factor^floor(step / dropEvery) — e.g. halve every 10 epochs with
 * `stepDecay({initial: 0.01, dropEvery: 10, factor: 0.5})` (Keras ExponentialDecay with staircase).
 */
export function stepDecay(cfg: StepDecayConfig): LearningRateSchedule {
  const what = 'stepDecay';
  if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected {initial, dropEvery, factor}`);
  const initial = num(cfg.initial, what, 'initial', (x) => x > 0, 'a positive number');
  const dropEvery = num(
    cfg.dropEvery,
    what,
    'dropEvery',
    (x) => Number.isInteger(x) && x >= 1 && x <= 0x7fffffff,
    'a positive integer',
  );
  const factor = num(cfg.factor, what, 'factor', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  return (step: number) => getEngine().k.lr_step_decay(initial, factor, dropEvery, stepArg(step, what));
}

/** Options of {@link cosineDecay} (Keras CosineDecay). */
export interface CosineDecayConfig {
  initial: number;
  decaySteps: number;
  alpha?: number;
}

/**
 * Keras CosineDecay: initial · ((1 - alpha) · ½(1 + cos(π · min(step, decaySteps) / decaySteps)) + alpha),
 * so it falls from `initial` to `initial · alpha` (default alpha 0) over decaySteps and stays there.
 */
export function cosineDecay(cfg: CosineDecayConfig): LearningRateSchedule {
  const what = 'cosineDecay';
  if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected {initial, decaySteps, alpha?}`);
  const initial = num(cfg.initial, what, 'initial', (x) => x > 0, 'a positive number');
  const decaySteps = num(
    cfg.decaySteps,
    what,
    'decaySteps',
    (x) => Number.isInteger(x) && x >= 1 && x <= 0x7fffffff,
    'a positive integer',
  );
  const alpha = num(cfg.alpha ?? 0, what, 'alpha', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  return (step: number) => getEngine().k.lr_cosine_decay(initial, alpha, decaySteps, stepArg(step, what));
}

/** Options of {@link oneCycle} (PyTorch OneCycleLR names, camel-cased). */
export interface OneCycleConfig {
  /** The peak learning rate. */
  maxLr: number;
  /** Steps in the cycle (e.g. epochs · steps per epoch). */
  totalSteps: number;
  /** Fraction of the steps spent rising to maxLr (default 0.3). */
  pctStart?: number;
  /** Shape of both phases (default 'cos'). */
  anneal?: 'cos' | 'linear';
  /** The cycle starts at maxLr / divFactor (default 25). */
  divFactor?: number;
  /** ... and ends at maxLr / divFactor / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
}

/**
 * PyTorch's OneCycleLR (two phases, `three_phase=False`): the rate rises from maxLr / divFactor to
 * maxLr over the first `pctStart · totalSteps - 1` steps, then falls to maxLr / divFactor /
 * finalDivFactor at step totalSteps - 1, each phase along a half cosine ('cos') or a line. Unlike
 * PyTorch, which throws past the end, later steps keep the final rate. `momentum` gives PyTorch's
 * cycled momentum for the same steps (it falls from `max` to `base` while the rate rises, and back),
 * which the CLI uses as Adam's β1.
 */
export function oneCycle(cfg: OneCycleConfig): LearningRateSchedule & {
  momentum: (step: number, base?: number, max?: number) => number;
} {
  const what = 'oneCycle';
  if (!cfg || typeof cfg !== 'object') throw new Error(`${what}: expected {maxLr, totalSteps, pctStart?, ...}`);
  const maxLr = num(cfg.maxLr, what, 'maxLr', (x) => x > 0, 'a positive number');
  const totalSteps = num(
    cfg.totalSteps,
    what,
    'totalSteps',
    (x) => Number.isInteger(x) && x >= 1 && x <= 0x7fffffff,
    'a positive integer',
  );
  const pctStart = num(cfg.pctStart ?? 0.3, what, 'pctStart', (x) => x > 0 && x < 1, 'a number in (0, 1)');
  const anneal = cfg.anneal ?? 'cos';
  if (anneal !== 'cos' && anneal !== 'linear')
    throw new Error(`${what}: anneal must be 'cos' or 'linear', got ${show(cfg.anneal)}`);
  const divFactor = num(cfg.divFactor ?? 25, what, 'divFactor', (x) => x > 0, 'a positive number');
  const finalDivFactor = num(cfg.finalDivFactor ?? 1e4, what, 'finalDivFactor', (x) => x > 0, 'a positive number');
  const initial = maxLr / divFactor;
  const min = initial / finalDivFactor;
  // PyTorch's phase boundaries: float(pct_start * total_steps) - 1 and total_steps - 1.
  const end1 = pctStart * totalSteps - 1;
  const end2 = totalSteps - 1;
  const cosine = anneal === 'cos' ? 1 : 0;
  // PyTorch's _get_lr: the first phase whose end the step has not passed (the last phase takes the rest).
  const at = (step: number, start1: number, peak: number, final: number): number => {
    const s = Math.min(stepArg(step, what), end2);
    const k = getEngine().k;
    if (s <= end1) return k.lr_anneal(start1, peak, end1 === 0 ? 0 : s / end1, cosine);
    return k.lr_anneal(peak, final, (s - end1) / (end2 - end1), cosine);
  };
  const schedule = (step: number) => at(step, initial, maxLr, min);
  schedule.momentum = (step: number, base = 0.85, max = 0.95) => at(step, max, base, max);
  return schedule;
}
