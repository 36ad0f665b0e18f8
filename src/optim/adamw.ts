import { getEngine } from '../wasm/bindings.js';
import { Optimizer, type ParamGrad, checkRate } from './optimizer.js';

/** Options of {@link AdamW} (Keras names and defaults). */
export interface AdamWConfig {
  learningRate?: number;
  /** Decoupled decay per step, scaled by the learning rate: p -= learningRate · weightDecay · p. */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter), as keras.optimizers.AdamW with its
 * defaults (lr 0.001, weightDecay 0.004, β1 0.9, β2 0.999, ε 1e-7): every step first shrinks each
 * parameter by `learningRate · weightDecay · p`, then takes the Adam step; the decay never enters the
 * moments (unlike L2 regularisation added to the gradient). Every parameter is decayed, biases too,
 * as Keras does by default.
 */
export class AdamW extends Optimizer {
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(cfg: AdamWConfig = {}) {
    super();
    this.learningRate = cfg.learningRate ?? 0.001;
    this.weightDecay = checkRate(cfg.weightDecay ?? 0.004, 'AdamW', 'weightDecay', 0, 1e6);
    this.beta1 = checkRate(cfg.beta1 ?? 0.9, 'AdamW', 'beta1', 0, 0.999999999);
    this.beta2 = checkRate(cfg.beta2 ?? 0.999, 'AdamW', 'beta2', 0, 0.999999999);
    this.epsilon = checkRate(cfg.epsilon ?? 1e-7, 'AdamW', 'epsilon', 0, 1, true);
  }

  get className(): string {
    return 'AdamW';
  }
  getConfig() {
    return {
      learningRate: this.learningRate,
      weightDecay: this.weightDecay,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }
  protected slotCount(): number {
    return 2;
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
