// Optimizers update parameters in place in wasm (assembly/kernels/optim.ts). State (moments, step
// count) lives in tensors owned by the optimizer so that a saved model resumes exactly.
import { Tensor, zeros, keep } from '../tensor.js';
import { show } from '../show.js';

/** A parameter and its gradient buffer. */
export interface ParamGrad { name: string; value: Tensor; grad: Tensor }

/** Serializable optimizer state: config, step count and one list of slot arrays per parameter. */
export interface OptimizerState {
  className: string;
  config: Record<string, number | boolean>;
  iterations: number;
  slots: Record<string, Float32Array[]>;
}

export abstract class Optimizer {
  /** Number of steps taken (Keras `iterations`). */
  iterations = 0;
  protected slots = new Map<string, Tensor[]>();
  private lr = 0;

  /**
   * Step size of the next update. Settable (a schedule or a callback may change it between steps);
   * the value in effect is saved with the model.
   */
  get learningRate(): number { return this.lr; }
  set learningRate(v: number) { this.lr = checkRate(v, this.className, 'learningRate', 0, 1e6); }

  abstract get className(): string;
  abstract getConfig(): Record<string, number | boolean>;
  protected abstract slotCount(): number;
  /** Applies one update to every parameter. */
  abstract step(params: ParamGrad[]): void;

  /** Number of state arrays kept per parameter (e.g. Adam 2: m and v). */
  get slotsPerParam(): number { return this.slotCount(); }

  /** Creates the state of every parameter (zeros) if it does not exist yet. */
  prepare(params: ParamGrad[]): void { for (const p of params) this.slotsFor(p); }

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
