import { getEngine } from '../wasm/bindings.js';
import { Optimizer, type ParamGrad, checkRate } from './optimizer.js';

/** Options of {@link SGD} (Keras names and defaults). */
export interface SGDConfig {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as keras.optimizers.SGD. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(cfg: SGDConfig = {}) {
    super();
    this.learningRate = cfg.learningRate ?? 0.01;
    this.momentum = checkRate(cfg.momentum ?? 0, 'SGD', 'momentum', 0, 1);
    this.nesterov = !!cfg.nesterov;
  }

  get className(): string {
    return 'SGD';
  }
  getConfig() {
    return { learningRate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov };
  }
  protected slotCount(): number {
    return this.momentum === 0 ? 0 : 1;
  }

  step(params: ParamGrad[]): void {
    const k = getEngine().k;
    this.iterations++;
    for (const p of params) {
      const [v] = this.slotsFor(p);
      k.sgd_step(
        p.value.ptr,
        p.grad.ptr,
        v ? v.ptr : 0,
        p.value.size,
        this.learningRate,
        this.momentum,
        this.nesterov ? 1 : 0,
      );
    }
  }
}
