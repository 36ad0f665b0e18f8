// Element-wise activations (relu, sigmoid, tanh, elu, leakyRelu, gelu), softmax and the fused
// softmax + cross-entropy loss over assembly/kernels/act.ts. exp/tanh/erfc run in wasm, never JS Math.
import { Tensor } from '../tensor.js';
import { activeTape, record } from '../autograd.js';
import { expectFinite, expectTensor, k } from './util.js';
import { show } from '../show.js';

/** max(x, 0) element-wise. */
export function relu(x: Tensor): Tensor {
  expectTensor(x, null, 'relu', 'x');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.relu_forward(out.ptr, x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.relu_backward(gx, dy.ptr, out.ptr, out.size);
  });
  return out;
}

/** 1 / (1 + exp(-x)) element-wise. */
export function sigmoid(x: Tensor): Tensor {
  expectTensor(x, null, 'sigmoid', 'x');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.sigmoid_forward(out.ptr, x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.sigmoid_backward(gx, dy.ptr, out.ptr, out.size);
  });
  return out;
}

/** tanh(x) element-wise. */
export function tanh(x: Tensor): Tensor {
  expectTensor(x, null, 'tanh', 'x');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.tanh_forward(out.ptr, x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.tanh_backward(gx, dy.ptr, out.ptr, out.size);
  });
  return out;
}

function checkAlpha(alpha: unknown, what: string): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new Error(`${what}: alpha must be a finite number, got ${show(alpha)}`);
  return alpha;
}

/** x > 0 ? x : alpha * (exp(x) - 1), as Keras ELU (alpha 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  expectTensor(x, null, 'elu', 'x');
  checkAlpha(alpha, 'elu');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.elu_forward(out.ptr, x.ptr, x.size, alpha);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.elu_backward(gx, dy.ptr, x.ptr, x.size, alpha);
  });
  return out;
}

/** x > 0 ? x : alpha * x, as Keras LeakyReLU (alpha / negative_slope 0.3). */
export function leakyRelu(x: Tensor, alpha = 0.3): Tensor {
  expectTensor(x, null, 'leakyRelu', 'x');
  checkAlpha(alpha, 'leakyRelu');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.leaky_relu_forward(out.ptr, x.ptr, x.size, alpha);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.leaky_relu_backward(gx, dy.ptr, x.ptr, x.size, alpha);
  });
  return out;
}

/**
 * GELU, exact: x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2)) — Keras `gelu` with approximate=False
 * (its default and what `activation: 'gelu'` means), not the tanh approximation.
 */
export function gelu(x: Tensor): Tensor {
  expectTensor(x, null, 'gelu', 'x');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.gelu_forward(out.ptr, x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.gelu_backward(gx, dy.ptr, x.ptr, x.size);
  });
  return out;
}

function rowsCols(x: Tensor, what: string): [number, number] {
  if (x.rank < 1) throw new Error(`${what}: input must have at least one axis, got a scalar`);
  const K = x.shape[x.rank - 1];
  if (K < 1) throw new Error(`${what}: the last axis is empty (shape [${x.shape}])`);
  return [x.size / K, K];
}

/** Softmax over the last axis (stable: the row max is subtracted first). */
export function softmax(x: Tensor): Tensor {
  expectTensor(x, null, 'softmax', 'logits');
  const [R, K] = rowsCols(x, 'softmax');
  const kx = k();
  const out = new Tensor(x.shape);
  kx.softmax_forward(out.ptr, x.ptr, R, K);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.softmax_backward(gx, dy.ptr, out.ptr, R, K);
  });
  return out;
}

/**
 * Mean over rows of the categorical cross-entropy between one-hot (or soft) `labels` and
 * softmax(`logits`), fused and numerically stable (tf.losses.softmaxCrossEntropy). Returns a scalar.
 * `probsOut`, when given, receives the softmax probabilities.
 */
export function softmaxCrossEntropy(labels: Tensor, logits: Tensor, probsOut?: Tensor): Tensor {
  const what = 'softmaxCrossEntropy';
  expectTensor(logits, null, what, 'logits');
  expectTensor(labels, null, what, 'labels');
  if (labels.shape.join() !== logits.shape.join()) {
    throw new Error(`${what}: labels shape [${labels.shape}] differs from logits shape [${logits.shape}]`);
  }
  expectFinite(labels, what, 'labels');
  const [R, K] = rowsCols(logits, what);
  // The mean over no rows is 0/0: refuse it rather than return NaN (PyTorch's mean reduction gives NaN).
  if (R === 0) throw new Error(`${what}: the batch is empty (logits shape [${logits.shape}])`);
  const kx = k();
  const probs = probsOut ?? new Tensor(logits.shape);
  const loss = new Tensor([]);
  const value = kx.softmax_xent_forward(probs.ptr, logits.ptr, labels.ptr, R, K);
  loss.view()[0] = value;
  record([logits], loss, (dy, grad) => {
    const gl = grad(logits);
    if (gl) kx.softmax_xent_backward(gl, probs.ptr, labels.ptr, R, K, dy.view()[0] / R);
  });
  // Nothing will read the probabilities again unless the caller asked for them or backward runs.
  if (!probsOut && !activeTape()?.tracked.has(loss.id)) probs.dispose();
  return loss;
}
