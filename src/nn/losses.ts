// The losses of `sn.losses`: Keras' loss objects, which compile takes (`new SparseCategoricalCrossentropy(
// { fromLogits: true })`), and tfjs-style functions of (labels, predictions) such as tf.losses'
// softmaxCrossEntropy and sigmoidCrossEntropy. All reduce by the mean (over rows for the categorical
// ones, over every element for the others) and are differentiable; the math is the fused wasm kernels of
// ops/act.ts (softmax + cross-entropy, log-sum-exp) and ops/loss.ts (sigmoid + cross-entropy).
// Labels are data: label smoothing and sparse-to-one-hot happen here, on the host, without a gradient.
import { Tensor, tensor } from '../tensor.js';
import { softmaxCrossEntropy as fusedSoftmaxXent } from '../ops/act.js';
import {
  binaryCrossentropy as bceProbs,
  meanAbsoluteError as maeOp,
  meanSquaredError as mseOp,
  sigmoidCrossEntropy as fusedSigmoidXent,
} from '../ops/loss.js';
import type { LossName } from './data.js';
import { show } from '../show.js';

/** Options of the cross-entropy losses (Keras names). */
export interface CrossentropyConfig {
  /**
   * The predictions are logits (unnormalised scores, as a PyTorch classifier ends), not probabilities:
   * the softmax (categorical) or sigmoid (binary) is fused into the loss, in its stable log-sum-exp
   * form. Default false.
   */
  fromLogits?: boolean;
  /**
   * In [0, 1): trains against `(1 - a) · onehot + a / classes` (categorical) or `(1 - a) · y + a / 2`
   * (binary) instead of the labels, as Keras' `label_smoothing`. Default 0.
   */
  labelSmoothing?: number;
}

function checkSmoothing(a: unknown, what: string): number {
  const v = a ?? 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1))
    throw new Error(`${what}: labelSmoothing must be a number in [0, 1), got ${show(a)}`);
  return v;
}

// The options of a loss object (fromLogits, labelSmoothing), or of a function (labelSmoothing only: a
// function's name says whether it takes logits).
function checkConfig(
  cfg: CrossentropyConfig | undefined,
  what: string,
  known = ['fromLogits', 'labelSmoothing'],
): { fromLogits: boolean; smoothing: number } {
  if (cfg === undefined) return { fromLogits: false, smoothing: 0 };
  if (cfg instanceof Tensor)
    throw new Error(`${what}: per-example weights are not supported (the mean is taken); options are {${known}}`);
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new Error(`${what}: options must be an object {${known}}, got ${show(cfg)}`);
  for (const key of Object.keys(cfg))
    if (!known.includes(key)) throw new Error(`${what}: unknown option ${show(key)} (known: ${known.join(', ')})`);
  if (cfg.fromLogits !== undefined && typeof cfg.fromLogits !== 'boolean')
    throw new Error(`${what}: fromLogits must be true or false, got ${show(cfg.fromLogits)}`);
  return { fromLogits: cfg.fromLogits ?? false, smoothing: checkSmoothing(cfg.labelSmoothing, what) };
}

// Labels as a fresh tensor with `fn` applied to every value (the caller's tidy frees it).
function mapLabels(labels: Tensor, fn: (v: number) => number): Tensor {
  const src = labels.view(),
    out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fn(src[i]);
  return tensor(out, labels.shape);
}

// Class indices (shape [R] or [R, 1]) as one-hot rows of K, checked.
function oneHot(labels: Tensor, K: number, R: number, what: string): Tensor {
  if (!(labels instanceof Tensor)) throw new Error(`${what}: labels must be a Tensor, got ${typeof labels}`);
  labels.assertLive();
  if (labels.size !== R || labels.shape[0] !== R || labels.rank > 2)
    throw new Error(`${what}: labels must be class indices of shape [${R}] or [${R}, 1], got [${labels.shape}]`);
  const v = labels.view(),
    out = new Float32Array(R * K);
  for (let r = 0; r < R; r++) {
    const c = v[r];
    if (!Number.isInteger(c) || c < 0 || c >= K)
      throw new Error(`${what}: label ${c} of row ${r} is not a class index in [0, ${K})`);
    out[r * K + c] = 1;
  }
  return tensor(out, [R, K]);
}

// The loss against smoothed labels: a copy that lives as long as any tensor of the caller's scope
// (the fused backward reads it).
function withLabels(labels: Tensor, smooth: ((v: number) => number) | null, fn: (y: Tensor) => Tensor): Tensor {
  if (!smooth || !(labels instanceof Tensor)) return fn(labels);
  labels.assertLive();
  return fn(mapLabels(labels, smooth));
}

/**
 * Mean over rows of the categorical cross-entropy between `onehotLabels` (R, K) and softmax(`logits`),
 * fused and stable, as tf.losses.softmaxCrossEntropy (mean reduction; per-example weights are not
 * supported). `labelSmoothing` a in [0, 1) trains against (1 - a) · labels + a / K.
 */
export function softmaxCrossEntropy(
  onehotLabels: Tensor,
  logits: Tensor,
  opts: { labelSmoothing?: number } = {},
): Tensor {
  const what = 'losses.softmaxCrossEntropy';
  const a = checkConfig(opts, what, ['labelSmoothing']).smoothing;
  const K = logits instanceof Tensor ? logits.shape[logits.rank - 1] : 0;
  return withLabels(onehotLabels, a > 0 ? (v) => v * (1 - a) + a / K : null, (y) => fusedSoftmaxXent(y, logits));
}

/**
 * Mean over rows of the cross-entropy between class indices `labels` ([R] or [R, 1]) and
 * softmax(`logits`) (R, K), fused and stable: PyTorch's `CrossEntropyLoss` and Keras'
 * sparse categorical cross-entropy with `fromLogits: true`.
 */
export function sparseSoftmaxCrossEntropy(
  labels: Tensor,
  logits: Tensor,
  opts: { labelSmoothing?: number } = {},
): Tensor {
  const what = 'losses.sparseSoftmaxCrossEntropy';
  const a = checkConfig(opts, what, ['labelSmoothing']).smoothing;
  if (!(logits instanceof Tensor) || logits.rank !== 2)
    throw new Error(
      `${what}: logits must be a Tensor of shape [rows, classes], got ${logits instanceof Tensor ? `[${logits.shape}]` : typeof logits}`,
    );
  const [R, K] = logits.shape;
  const y = oneHot(labels, K, R, what);
  return softmaxCrossEntropy(y, logits, { labelSmoothing: a });
}

/**
 * Mean over every element of the binary cross-entropy between `labels` in [0, 1] and
 * sigmoid(`logits`), fused and stable (max(x, 0) - x·y + log(1 + exp(-|x|))), as
 * tf.losses.sigmoidCrossEntropy and PyTorch's BCEWithLogitsLoss. `labelSmoothing` a trains against
 * (1 - a) · labels + a / 2.
 */
export function sigmoidCrossEntropy(labels: Tensor, logits: Tensor, opts: { labelSmoothing?: number } = {}): Tensor {
  const a = checkConfig(opts, 'losses.sigmoidCrossEntropy', ['labelSmoothing']).smoothing;
  return withLabels(labels, a > 0 ? (v) => v * (1 - a) + a / 2 : null, (y) => fusedSigmoidXent(y, logits));
}

/** Mean over every element of (predictions - labels)², as tf.losses.meanSquaredError. */
export function meanSquaredError(labels: Tensor, predictions: Tensor): Tensor {
  return mseOp(labels, predictions);
}

/** Mean over every element of |predictions - labels|, as tf.losses.absoluteDifference. */
export function absoluteDifference(labels: Tensor, predictions: Tensor): Tensor {
  return maeOp(labels, predictions);
}

/** Mean over every element of |predictions - labels| (Keras' name of {@link absoluteDifference}). */
export const meanAbsoluteError = absoluteDifference;

/**
 * Base of Keras' loss objects: what {@link Model.compile} takes as `loss`, and a function of
 * (yTrue, yPred) through {@link Loss.call}, as Keras' `loss(y_true, y_pred)`.
 */
export abstract class Loss {
  /** The loss name compile stores and saves (Keras' function name, camel case). */
  abstract readonly name: LossName;
  /** The predictions are logits (see {@link CrossentropyConfig.fromLogits}). */
  readonly fromLogits: boolean;
  /** See {@link CrossentropyConfig.labelSmoothing}. */
  readonly labelSmoothing: number;
  protected constructor(cfg: CrossentropyConfig | undefined, what: string, options = true) {
    if (!options && cfg !== undefined && (cfg === null || typeof cfg !== 'object' || Object.keys(cfg).length > 0))
      throw new Error(`${what}: takes no options, got ${show(cfg)}`);
    const c = checkConfig(cfg, what);
    this.fromLogits = c.fromLogits;
    this.labelSmoothing = c.smoothing;
  }
  /** The mean loss of predictions `yPred` against `yTrue`, a scalar on the tape. */
  abstract call(yTrue: Tensor, yPred: Tensor): Tensor;
  /** The options, as Keras' `get_config()`. */
  getConfig(): { fromLogits: boolean; labelSmoothing: number } {
    return { fromLogits: this.fromLogits, labelSmoothing: this.labelSmoothing };
  }
}

const needsLogits = (what: string): never => {
  throw new Error(
    `${what}.call: probabilities are only taken by model.compile (which fuses the model's final softmax into the loss); pass logits with fromLogits: true`,
  );
};

/** keras.losses.CategoricalCrossentropy: one-hot (or probability) labels of shape (N, classes). */
export class CategoricalCrossentropy extends Loss {
  readonly name = 'categoricalCrossentropy';
  constructor(cfg?: CrossentropyConfig) {
    super(cfg, 'CategoricalCrossentropy');
  }
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    if (!this.fromLogits) return needsLogits('CategoricalCrossentropy');
    return softmaxCrossEntropy(yTrue, yPred, { labelSmoothing: this.labelSmoothing });
  }
}

/** keras.losses.SparseCategoricalCrossentropy: integer class labels of shape (N) or (N, 1). */
export class SparseCategoricalCrossentropy extends Loss {
  readonly name = 'sparseCategoricalCrossentropy';
  constructor(cfg?: CrossentropyConfig) {
    super(cfg, 'SparseCategoricalCrossentropy');
  }
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    if (!this.fromLogits) return needsLogits('SparseCategoricalCrossentropy');
    return sparseSoftmaxCrossEntropy(yTrue, yPred, { labelSmoothing: this.labelSmoothing });
  }
}

/**
 * keras.losses.BinaryCrossentropy: targets in [0, 1] of the output's shape; on probabilities clipped to
 * [1e-7, 1 - 1e-7] as Keras, or on logits with the sigmoid fused (`fromLogits: true`).
 */
export class BinaryCrossentropy extends Loss {
  readonly name = 'binaryCrossentropy';
  constructor(cfg?: CrossentropyConfig) {
    super(cfg, 'BinaryCrossentropy');
  }
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    const a = this.labelSmoothing;
    if (this.fromLogits) return sigmoidCrossEntropy(yTrue, yPred, { labelSmoothing: a });
    return withLabels(yTrue, a > 0 ? (v) => v * (1 - a) + a / 2 : null, (y) => bceProbs(y, yPred));
  }
}

/** keras.losses.MeanSquaredError (no options). */
export class MeanSquaredError extends Loss {
  readonly name = 'meanSquaredError';
  constructor(cfg?: Record<string, never>) {
    super(cfg, 'MeanSquaredError', false);
  }
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    return mseOp(yTrue, yPred);
  }
}

/** keras.losses.MeanAbsoluteError (no options). */
export class MeanAbsoluteError extends Loss {
  readonly name = 'meanAbsoluteError';
  constructor(cfg?: Record<string, never>) {
    super(cfg, 'MeanAbsoluteError', false);
  }
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    return maeOp(yTrue, yPred);
  }
}
