import { getEngine } from '../wasm/bindings.js';
import { Adam, type AdamConfig } from './adam.js';
import { type ParamGrad, checkRate } from './optimizer.js';

/** Options of {@link AdamW} (Keras names and defaults). */
export interface AdamWConfig extends AdamConfig {
  /** Decoupled decay per step, scaled by the learning rate: p -= learningRate · weightDecay · p. */
  weightDecay?: number;
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter), as keras.optimizers.AdamW with its
 * defaults (lr 0.001, weightDecay 0.004, β1 0.9, β2 0.999, ε 1e-7): every step first shrinks each
 * parameter by `learningRate · weightDecay · p`, then takes the Adam step; the decay never enters the
 * moments (unlike L2 regularisation added to the gradient). Every parameter is decayed, biases too,
 * as Keras does by default.
 */
export class AdamW extends Adam {
  readonly weightDecay: number;

  constructor(cfg: AdamWConfig = {}) {
    super(cfg);
    this.weightDecay = checkRate(cfg.weightDecay ?? 0.004, 'AdamW', 'weightDecay', 0, 1e6);
  }

  get className(): string {
    return 'AdamW';
  }
  getConfig() {
    return { ...super.getConfig(), weightDecay: this.weightDecay };
  }

  step(params: ParamGrad[]): void {
    const k = getEngine().k;
    this.iterations++;
    for (const p of params) {
      const [m, v] = this.slotsFor(p);
      k.adamw_step(
        p.value.ptr,
        p.grad.ptr,
        m.ptr,
        v.ptr,
        p.value.size,
        this.learningRate,
        this.beta1,
        this.beta2,
        this.epsilon,
        this.weightDecay,
        this.iterations,
      );
    }
  }
}
