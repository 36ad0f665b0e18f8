import { getEngine } from '../wasm/bindings.js';
import { Optimizer, type ParamGrad, checkRate } from './optimizer.js';

/** Options of {@link Adam} (Keras names and defaults). */
export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adam with Keras defaults (lr 0.001, β1 0.9, β2 0.999, ε 1e-7), as keras.optimizers.Adam. */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(cfg: AdamConfig = {}) {
    super();
    const who = this.className; // 'AdamW' when constructing the subclass
    this.learningRate = cfg.learningRate ?? 0.001;
    this.beta1 = checkRate(cfg.beta1 ?? 0.9, who, 'beta1', 0, 0.999999999);
    this.beta2 = checkRate(cfg.beta2 ?? 0.999, who, 'beta2', 0, 0.999999999);
    this.epsilon = checkRate(cfg.epsilon ?? 1e-7, who, 'epsilon', 0, 1, true);
  }

  get className(): string {
    return 'Adam';
  }
  getConfig() {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
  protected slotCount(): number {
    return 2;
  }

  step(params: ParamGrad[]): void {
    const k = getEngine().k;
    this.iterations++;
    for (const p of params) {
      const [m, v] = this.slotsFor(p);
      k.adam_step(
        p.value.ptr,
        p.grad.ptr,
        m.ptr,
        v.ptr,
        p.value.size,
        this.learningRate,
        this.beta1,
        this.beta2,
        this.epsilon,
        this.iterations,
      );
    }
  }
}
