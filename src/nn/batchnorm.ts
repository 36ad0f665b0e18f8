// BatchNormalization (Keras): gamma/beta trainable, moving mean/variance non-trainable state saved
// with the model. Training mode (fit, trainOnBatch) normalizes with the batch statistics and updates
// the moving ones; inference (predict, evaluate) uses the moving ones. The math is ops/batchnorm.ts.
import type { Tensor } from '../tensor.js';
import type { Rng } from '../rng.js';
import { batchNorm } from '../ops/batchnorm.js';
import { type CallArgs, Layer, initialize } from './layer.js';
import {
  type OptionValues,
  bool,
  int,
  layerConfig,
  num,
  readOptions,
  savedUnless,
  type LayerCommon,
} from './options.js';

/** Options of {@link BatchNormalization} (Keras names and defaults). */
export interface BatchNormalizationConfig extends LayerCommon {
  /** The channel axis: only the last one (-1, or its index counting the batch axis). Default -1. */
  axis?: number;
  /** moving = moving * momentum + batch * (1 - momentum). Default 0.99. */
  momentum?: number;
  /** Added to the variance. Default 1e-3. */
  epsilon?: number;
  /** Learn an offset beta (initialised to 0). Default true. */
  center?: boolean;
  /** Learn a scale gamma (initialised to 1). Default true. */
  scale?: boolean;
  /**
   * Update the moving variance with the unbiased batch variance, ÷ (N·H·W − 1), as PyTorch's
   * running_var (ONNX import sets it), instead of Keras' biased one. Default false.
   */
  unbiasedMovingVariance?: boolean;
  /**
   * Normalize with the batch statistics in inference too, and keep no moving statistics, as PyTorch's
   * BatchNorm with `track_running_stats=False` (ONNX import sets it). Predictions then depend on the
   * batch, as in PyTorch. Default false.
   */
  useBatchStatsAlways?: boolean;
}

/**
 * Batch normalization over the last (channel) axis of NHWC or [N, features] inputs, as
 * keras.layers.BatchNormalization. The moving variance is updated with the biased batch variance
 * (÷ N·H·W), as Keras 3 does, or with `unbiasedMovingVariance` the unbiased one as PyTorch (÷ (N·H·W − 1);
 * ONNX import sets it). Frozen
 * (`trainable = false`), it normalizes with its moving statistics in fit as well and does not update
 * them, as Keras 3 does, and as PyTorch's `bn.eval()`; imported ONNX BatchNormalization keeps the file's
 * momentum (PyTorch's 0.1 is exported as 0.9, this layer's convention). With `useBatchStatsAlways` it
 * normalizes with the batch statistics in inference as well and has no moving statistics (PyTorch's
 * `track_running_stats=False`).
 */
export class BatchNormalization extends Layer {
  static readonly className = 'BatchNormalization';
  /** unbiasedMovingVariance is saved only when set, so the files of Keras-style layers stay as they were. */
  static readonly options = {
    axis: int(-1),
    momentum: num('a number in [0, 1]', (x) => x >= 0 && x <= 1, 0.99),
    epsilon: num('a positive number', (x) => x > 0 && Number.isFinite(x), 1e-3),
    center: bool(true),
    scale: bool(true),
    unbiasedMovingVariance: savedUnless(bool(false), false),
    useBatchStatsAlways: savedUnless(bool(false), false),
  };
  readonly cfg: OptionValues<typeof BatchNormalization.options>;
  constructor(cfg: BatchNormalizationConfig = {}) {
    const c = readOptions(BatchNormalization.options, cfg, 'BatchNormalization');
    super(cfg);
    this.cfg = c;
  }
  computeOutputShape(s: readonly number[]): number[] {
    const what = this.name || 'BatchNormalization';
    if (s.length < 1) throw new Error(`${what}: expected an input with a channel axis, got [${s}]`);
    // With the batch axis the input has rank s.length + 1; its last axis is index s.length.
    if (this.cfg.axis !== -1 && this.cfg.axis !== s.length) {
      throw new Error(
        `${what}: only the last axis can be normalized (axis -1 or ${s.length} for input [None, ${s}]), got axis ${this.cfg.axis}`,
      );
    }
    return [...s];
  }
  weightShapes(s: readonly number[]): Array<[string, number[]]> {
    const C = s[s.length - 1];
    const w: Array<[string, number[]]> = [];
    if (this.cfg.scale) w.push(['gamma', [C]]);
    if (this.cfg.center) w.push(['beta', [C]]);
    return w;
  }
  stateShapes(s: readonly number[]): Array<[string, number[]]> {
    const C = s[s.length - 1];
    if (this.cfg.useBatchStatsAlways) return [];
    return [
      ['moving_mean', [C]],
      ['moving_variance', [C]],
    ];
  }
  protected buildWeights(s: readonly number[], rng: Rng): void {
    const C = s[s.length - 1];
    if (this.cfg.scale) this.addWeight('gamma', initialize('ones', [C], C, C, rng, this.name));
    if (this.cfg.center) this.addWeight('beta', initialize('zeros', [C], C, C, rng, this.name));
    if (this.cfg.useBatchStatsAlways) return;
    this.addState('moving_mean', initialize('zeros', [C], C, C, rng, this.name));
    this.addState('moving_variance', initialize('ones', [C], C, C, rng, this.name));
  }
  private param(suffix: string): Tensor | null {
    return this.weights.find((w) => w.name === `${this.name}/${suffix}`)?.value ?? null;
  }
  call(x: Tensor, args: CallArgs): Tensor {
    const always = this.cfg.useBatchStatsAlways;
    return batchNorm(x, {
      gamma: this.param('gamma'),
      beta: this.param('beta'),
      movingMean: always ? null : this.stateWeights[0].value,
      movingVariance: always ? null : this.stateWeights[1].value,
      training: always || args.training,
      momentum: this.cfg.momentum,
      epsilon: this.cfg.epsilon,
      unbiasedMovingVariance: this.cfg.unbiasedMovingVariance,
      name: this.name,
      skipFiniteCheck: true,
    });
  }
  getConfig() {
    return layerConfig(this, BatchNormalization.options, this.cfg);
  }
}
