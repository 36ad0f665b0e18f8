import { getEngine } from '../wasm/bindings.js';
import { Optimizer, type ParamGrad, checkRate } from './optimizer.js';
import { show } from '../show.js';

/** Options of {@link RMSprop} (Keras names and defaults). */
export interface RMSpropConfig {
  learningRate?: number;
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
}

/**
 * RMSprop with Keras 3 semantics and defaults (lr 0.001, rho 0.9, momentum 0, ε 1e-7, not centered),
 * as keras.optimizers.RMSprop: v = ρv + (1-ρ)g²; Δ = lr·g / sqrt(v + ε) (centered: v - ḡ² + ε with
 * ḡ = ρḡ + (1-ρ)g); with momentum m = μm + Δ, p -= m; else p -= Δ. Slots per parameter: velocity,
 * then the momentum buffer (momentum > 0), then the average gradient (centered).
 */
export class RMSprop extends Optimizer {
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;

  constructor(cfg: RMSpropConfig = {}) {
    super();
    this.learningRate = cfg.learningRate ?? 0.001;
    this.rho = checkRate(cfg.rho ?? 0.9, 'RMSprop', 'rho', 0, 1);
    this.momentum = checkRate(cfg.momentum ?? 0, 'RMSprop', 'momentum', 0, 1);
    this.epsilon = checkRate(cfg.epsilon ?? 1e-7, 'RMSprop', 'epsilon', 0, 1, true);
    if (cfg.centered !== undefined && typeof cfg.centered !== 'boolean')
      throw new Error(`RMSprop: centered must be a boolean, got ${show(cfg.centered)}`);
    this.centered = cfg.centered ?? false;
  }

  get className(): string {
    return 'RMSprop';
  }
  getConfig() {
    return {
      learningRate: this.learningRate,
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
    };
  }
  protected slotCount(): number {
    return 1 + (this.momentum > 0 ? 1 : 0) + (this.centered ? 1 : 0);
  }

  step(params: ParamGrad[]): void {
    const k = getEngine().k;
    this.iterations++;
    for (const p of params) {
      const s = this.slotsFor(p);
      const mom = this.momentum > 0 ? s[1].ptr : 0;
      const avg = this.centered ? s[s.length - 1].ptr : 0;
      k.rmsprop_step(
        p.value.ptr,
        p.grad.ptr,
        s[0].ptr,
        mom,
        avg,
        p.value.size,
        this.learningRate,
        this.rho,
        this.momentum,
        this.epsilon,
        this.centered ? 1 : 0,
      );
    }
  }
}
