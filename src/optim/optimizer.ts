// Optimizers update parameters in place in wasm (assembly/kernels/optim.ts). State (moments, step
// count) lives in tensors owned by the optimizer so that a saved model resumes exactly.
import { type Tensor, zeros, keep } from '../tensor.js';
import { show } from '../show.js';

/** A parameter and its gradient buffer. */
export interface ParamGrad {
  name: string;
  value: Tensor;
  grad: Tensor;
}

/** Serializable optimizer state: config, step count and one list of slot arrays per parameter. */
export interface OptimizerState {
  className: string;
  config: Record<string, number | boolean>;
  iterations: number;
  slots: Record<string, Float32Array[]>;
}

/**
 * Base class of the optimizers (SGD, Adam, RMSprop).
 *
 * {@link Optimizer.step} updates every parameter in place with one wasm kernel call per parameter
 * (assembly/kernels/optim.ts); JavaScript only passes pointers and scalars. Per-parameter state
 * ("slots": momentum, Adam's m and v) lives in arena tensors keyed by parameter name, created zeroed
 * on first use, and round-trips through {@link Optimizer.getState} / {@link Optimizer.setState}, so a
 * saved model resumes training with the same bits.
 */
export abstract class Optimizer {
  /** Number of steps taken (Keras `iterations`). */
  iterations = 0;
  /** State tensors by parameter name, {@link Optimizer.slotsPerParam} per parameter. */
  protected slots = new Map<string, Tensor[]>();
  private lr = 0;

  /**
   * Step size of the next update. Settable (a schedule or a callback may change it between steps);
   * the value in effect is saved with the model.
   */
  get learningRate(): number {
    return this.lr;
  }
  set learningRate(v: number) {
    this.lr = checkRate(v, this.className, 'learningRate', 0, 1e6);
  }

  /** Keras class name, e.g. 'Adam' (saved with the model). */
  abstract get className(): string;
  /** Hyperparameters in Keras names (e.g. `beta_1`), saved with the model. */
  abstract getConfig(): Record<string, number | boolean>;
  /** Number of state arrays per parameter; see {@link Optimizer.slotsPerParam}. */
  protected abstract slotCount(): number;
  /** Applies one update to every parameter. */
  abstract step(params: ParamGrad[]): void;

  /** Number of state arrays kept per parameter (e.g. Adam 2: m and v). */
  get slotsPerParam(): number {
    return this.slotCount();
  }

  /** Creates the state of every parameter (zeros) if it does not exist yet. */
  prepare(params: ParamGrad[]): void {
    for (const p of params) this.slotsFor(p);
  }

  /** The state tensors of `p`, created zeroed on first use. */
  protected slotsFor(p: ParamGrad): Tensor[] {
    let s = this.slots.get(p.name);
    if (!s) {
      // Created lazily inside a training step's tidy(): keep() makes them outlive it.
      s = Array.from({ length: this.slotCount() }, () => keep(zeros(p.value.shape)));
      this.slots.set(p.name, s);
    }
    return s;
  }

  /** A copy of the state, for saving. */
  getState(params: ParamGrad[]): OptimizerState {
    const slots: Record<string, Float32Array[]> = {};
    for (const p of params) {
      const s = this.slots.get(p.name);
      if (s) slots[p.name] = s.map((t) => t.dataSync() as Float32Array);
    }
    return { className: this.className, config: this.getConfig(), iterations: this.iterations, slots };
  }

  /** Restores state saved by getState (shapes were checked by the loader). */
  setState(state: OptimizerState, params: ParamGrad[]): void {
    this.iterations = state.iterations;
    for (const p of params) {
      const saved = state.slots[p.name];
      if (!saved) continue;
      const s = this.slotsFor(p);
      saved.forEach((arr, i) => s[i].view().set(arr));
    }
  }

  /** @internal The live state tensors, named `<param>/slot<i>` (for undoing a failed step). */
  stateWeights(): Array<{ name: string; value: Tensor }> {
    return [...this.slots].flatMap(([name, ts]) => ts.map((value, i) => ({ name: `${name}/slot${i}`, value })));
  }

  /** Frees the state tensors. */
  dispose(): void {
    for (const s of this.slots.values()) for (const t of s) t.dispose();
    this.slots.clear();
  }
}

export function checkRate(v: unknown, what: string, name: string, lo: number, hi: number, loOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (loOpen && v === lo)) {
    throw new Error(`${what}: ${name} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${show(v)}`);
  }
  return v;
}
