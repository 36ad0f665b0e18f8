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
