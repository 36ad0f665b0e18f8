// LayerNormalization (Keras): each sample is normalized over its trailing axes (by default the last,
// the channels of NHWC), then scaled by gamma and offset by beta, both of the normalized axes' shape.
// The same in training and inference (no moving statistics). The math is ops/layernorm.ts.
import type { Tensor } from '../tensor.js';
import { layerNorm } from '../ops/layernorm.js';
import { Layer, type WeightSpec } from './layer.js';
import { show } from '../show.js';
import { type OptionValues, bool, custom, layerConfig, num, readOptions, type LayerCommon } from './options.js';

/** Options of {@link LayerNormalization} (Keras names and defaults). */
export interface LayerNormalizationConfig extends LayerCommon {
  /**
   * The normalized axis or axes, counting the batch axis as 0, negative from the end; default -1. They
   * must be the trailing axes (e.g. [1, 2, 3] or [-3, -2, -1] for the whole [H, W, C] sample).
   */
  axis?: number | number[];
  /** Added to the variance. Default 1e-3 (Keras; PyTorch's LayerNorm and ONNX use 1e-5). */
  epsilon?: number;
  /** Learn an offset beta (initialised to 0). Default true. */
  center?: boolean;
  /** Learn a scale gamma (initialised to 1). Default true. */
  scale?: boolean;
}

/** Layer normalization over the trailing axes, as keras.layers.LayerNormalization. */
export class LayerNormalization extends Layer {
  static readonly className = 'LayerNormalization';
  static readonly options = {
    axis: custom((v, what, key): number | number[] => {
      const axis = v ?? -1;
      const axes = Array.isArray(axis) ? axis : [axis];
      if (axes.length === 0 || !axes.every(Number.isInteger))
        throw new Error(`${what}: ${key} must be an integer or a non-empty list of integers, got ${show(v)}`);
      return Array.isArray(axis) ? [...axis] : (axis as number);
    }),
    epsilon: num('a positive number', (x) => x > 0 && Number.isFinite(x), 1e-3),
    center: bool(true),
    scale: bool(true),
  };
  readonly cfg: OptionValues<typeof LayerNormalization.options>;
  constructor(cfg: LayerNormalizationConfig = {}) {
    const c = readOptions(LayerNormalization.options, cfg, 'LayerNormalization');
    super(cfg ?? {});
    this.cfg = c;
  }
  /** The first normalized axis counting the batch axis, for an input of shape [None, ...s]; checked. */
  firstAxis(s: readonly number[]): number {
    const rank = s.length + 1;
    const axes = (Array.isArray(this.cfg.axis) ? this.cfg.axis : [this.cfg.axis]).map((a) => (a < 0 ? a + rank : a));
    const sorted = [...new Set(axes)].sort((a, b) => a - b);
    const first = sorted[0]!;
    const trailing =
      sorted.length === axes.length && sorted.every((a, i) => a === first + i) && sorted.at(-1) === rank - 1;
    if (!trailing || first < 1) {
      throw new Error(
        `${this.name || 'LayerNormalization'}: axis ${show(this.cfg.axis)} must name the trailing non-batch axes of input [None, ${s}] (e.g. -1)`,
      );
    }
    return first;
  }
  computeOutputShape(s: readonly number[]): number[] {
    this.firstAxis(s);
    return [...s];
  }
  protected weightSpecs(s: readonly number[]): WeightSpec[] {
    const shape = s.slice(this.firstAxis(s) - 1);
    const n = shape.reduce((a, b) => a * b, 1);
    const w: WeightSpec[] = [];
    if (this.cfg.scale) w.push({ suffix: 'gamma', shape, init: 'ones', fanIn: n, fanOut: n });
    if (this.cfg.center) w.push({ suffix: 'beta', shape, init: 'zeros', fanIn: n, fanOut: n });
    return w;
  }
  private param(suffix: string): Tensor | null {
    return this.weights.find((w) => w.name === `${this.name}/${suffix}`)?.value ?? null;
  }
  call(x: Tensor): Tensor {
    return layerNorm(x, {
      axis: this.firstAxis(x.shape.slice(1)),
      gamma: this.param('gamma'),
      beta: this.param('beta'),
      epsilon: this.cfg.epsilon,
      name: this.name,
      skipFiniteCheck: true,
    });
  }
  getConfig() {
    return layerConfig(this, LayerNormalization.options, this.cfg);
  }
}
