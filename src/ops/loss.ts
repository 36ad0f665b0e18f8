// Element-wise losses (Keras semantics: the mean over every element) over assembly/kernels/loss.ts:
// squared and absolute error, binary cross-entropy of probabilities and of logits. The gradient flows to the predictions only; the targets are data.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { expectFinite, expectTensor, k } from './util.js';

/** Keras' backend epsilon, the clipping margin of binaryCrossentropy. */
export const EPSILON = 1e-7;

function check(labels: Tensor, preds: Tensor, what: string): void {
  expectTensor(preds, null, what, 'predictions');
  expectTensor(labels, null, what, 'labels');
  if (labels.shape.join() !== preds.shape.join()) {
    throw new Error(`${what}: labels shape [${labels.shape}] differs from predictions shape [${preds.shape}]`);
  }
  if (preds.size === 0) throw new Error(`${what}: the input is empty`);
  expectFinite(labels, what, 'labels');
}

type Fwd = (p: number, y: number, n: number) => number;
type Bwd = (dp: number, p: number, y: number, n: number, scale: number) => void;

function elementLoss(labels: Tensor, preds: Tensor, fwd: Fwd, bwd: Bwd): Tensor {
  const out = new Tensor([]);
  const n = preds.size;
  out.view()[0] = fwd(preds.ptr, labels.ptr, n) / n;
  record([preds], out, (dy, grad) => {
    const g = grad(preds);
    if (g) bwd(g, preds.ptr, labels.ptr, n, dy.view()[0] / n);
  });
  return out;
}

/** mean((preds - labels)²) over every element (Keras' meanSquaredError). */
export function meanSquaredError(labels: Tensor, preds: Tensor): Tensor {
  check(labels, preds, 'meanSquaredError');
  const kx = k();
  return elementLoss(labels, preds, kx.mse_forward, kx.mse_backward);
}

/** mean(|preds - labels|) over every element (Keras' meanAbsoluteError); the gradient at a tie is 0. */
export function meanAbsoluteError(labels: Tensor, preds: Tensor): Tensor {
  check(labels, preds, 'meanAbsoluteError');
  const kx = k();
  return elementLoss(labels, preds, kx.mae_forward, kx.mae_backward);
}

/**
 * Binary cross-entropy of probabilities `preds` (not logits) against targets in [0, 1], the mean
 * over every element, with preds clipped to [1e-7, 1 - 1e-7] as Keras (no gradient where clipped).
 */
export function binaryCrossentropy(labels: Tensor, preds: Tensor): Tensor {
  check(labels, preds, 'binaryCrossentropy');
  const kx = k();
  return elementLoss(
    labels,
    preds,
    (p, y, n) => kx.bce_forward(p, y, n, EPSILON),
    (dp, p, y, n, s) => kx.bce_backward(dp, p, y, n, EPSILON, s),
  );
}

/**
 * Binary cross-entropy of `sigmoid(logits)` against targets in [0, 1], the mean over every element,
 * fused and stable: max(x, 0) - x·y + log(1 + exp(-|x|)) per element (tf.losses.sigmoidCrossEntropy,
 * Keras' binary cross-entropy with `fromLogits: true`, PyTorch's BCEWithLogitsLoss); no clipping.
 */
export function sigmoidCrossEntropy(labels: Tensor, logits: Tensor): Tensor {
  check(labels, logits, 'sigmoidCrossEntropy');
  const kx = k();
  return elementLoss(labels, logits, kx.bce_logits_forward, kx.bce_logits_backward);
}
