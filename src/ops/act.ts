// Element-wise activations (relu, sigmoid, tanh, elu, leakyRelu, gelu exact and tanh, erf, Keras' ReLU
// with its arguments, relu6, hardSigmoid, hardSwish, swish), softmax over any axis, logSoftmax and the fused
// softmax + cross-entropy loss over assembly/kernels/act.ts. exp/tanh/erfc run in wasm, never JS Math.
import { Tensor, uninitialized } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { expectFinite, expectTensor, k, runTasks, shardRanges } from './util.js';
import { show } from '../show.js';
import { KERNEL_ARITY, type KernelName, type Task } from '../wasm/abi.js';
import { aroundAxis, nonBatchAxis } from './slice.js';

// One element-wise activation: out = fwd(x, ...params); backward dx += bwd(dy, saved, ...params), where
// `saved` is the op's input or its output (sigmoid and tanh differentiate through y, which is cheaper).
type UnaryKernel = { [K in KernelName]: K extends `${string}_forward` | `${string}_backward` ? K : never }[KernelName];
function unary(
  x: Tensor,
  what: string,
  fwd: UnaryKernel,
  bwd: UnaryKernel,
  saved: 'input' | 'output',
  ...params: number[]
): Tensor {
  expectTensor(x, null, what, 'x');
  // Every unary kernel takes (out, inp, n, ...params) / (dinp, dout, saved, n, ...params).
  if (KERNEL_ARITY[fwd] !== 3 + params.length || KERNEL_ARITY[bwd] !== 4 + params.length) {
    throw new Error(`${what}: ${fwd}/${bwd} do not take ${params.length} parameters`);
  }
  // every value is written by the kernel: no zero fill
  const out = uninitialized(x.shape);
  const work = x.size * (fwd === 'relu_forward' ? 1 : UNARY_COST);
  runTasks(elementTasks(fwd, [out.ptr, x.ptr], x.size, params), work);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) runTasks(elementTasks(bwd, [gx, dy.ptr, (saved === 'output' ? out : x).ptr], x.size, params), work);
  });
  return out;
}

// An activation's value costs about this many multiply-adds (the threads' unit of work): the exp, erf and
// tanh kernels take 3-10 ns a value.
const UNARY_COST = 16;

// One call of element-wise kernel `name` over the n float32 values at `ptrs`, cut into the fixed shards:
// every value is computed on its own, so any cut gives the same bits.
function elementTasks(name: UnaryKernel, ptrs: number[], n: number, params: number[]): Task[] {
  return shardRanges(n)
    .filter(([, c]) => c > 0)
    .map(([a, c]) => [name, ...ptrs.map((p) => p + 4 * a), c, ...params] as unknown as Task);
}

/** max(x, 0) element-wise. */
export function relu(x: Tensor): Tensor {
  return unary(x, 'relu', 'relu_forward', 'relu_backward', 'output');
}

/** 1 / (1 + exp(-x)) element-wise. */
export function sigmoid(x: Tensor): Tensor {
  return unary(x, 'sigmoid', 'sigmoid_forward', 'sigmoid_backward', 'output');
}

/** tanh(x) element-wise. */
export function tanh(x: Tensor): Tensor {
  return unary(x, 'tanh', 'tanh_forward', 'tanh_backward', 'output');
}

function checkAlpha(alpha: unknown, what: string): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw new Error(`${what}: alpha must be a finite number, got ${show(alpha)}`);
  return alpha;
}

/** x > 0 ? x : alpha * (exp(x) - 1), as Keras ELU (alpha 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return unary(x, 'elu', 'elu_forward', 'elu_backward', 'input', checkAlpha(alpha, 'elu'));
}

/** x > 0 ? x : alpha * x, as Keras LeakyReLU (alpha / negative_slope 0.3). */
export function leakyRelu(x: Tensor, alpha = 0.3): Tensor {
  return unary(x, 'leakyRelu', 'leaky_relu_forward', 'leaky_relu_backward', 'input', checkAlpha(alpha, 'leakyRelu'));
}

/**
 * GELU, as Keras' `gelu(x, approximate)`. Exact by default: x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2))
 * (what `activation: 'gelu'` means, PyTorch's `approximate='none'`). `approximate: true` is the tanh form
 * 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))), PyTorch's `approximate='tanh'`.
 */
export function gelu(x: Tensor, approximate = false): Tensor {
  if (typeof approximate !== 'boolean')
    throw new Error(`gelu: approximate must be true or false, got ${show(approximate)}`);
  return approximate
    ? unary(x, 'gelu', 'gelu_tanh_forward', 'gelu_tanh_backward', 'input')
    : unary(x, 'gelu', 'gelu_forward', 'gelu_backward', 'input');
}

/** The error function erf(x) = 2/sqrt(pi) * integral of exp(-t^2) from 0 to x, element-wise (ONNX Erf). */
export function erf(x: Tensor): Tensor {
  return unary(x, 'erf', 'erf_forward', 'erf_backward', 'input');
}

function rowsCols(x: Tensor, what: string): [number, number] {
  if (x.rank < 1) throw new Error(`${what}: input must have at least one axis, got a scalar`);
  const K = x.shape[x.rank - 1];
  if (K < 1) throw new Error(`${what}: the last axis is empty (shape [${x.shape}])`);
  return [x.size / K, K];
}

/**
 * Softmax along `axis` (default the last; negative counts from the end), stable: the max along the
 * axis is subtracted first.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  expectTensor(x, null, 'softmax', 'logits');
  if (!Number.isInteger(axis) || axis < -x.rank || axis >= x.rank) {
    throw new Error(`softmax: axis ${show(axis)} is out of range for shape [${x.shape}]`);
  }
  const a = axis < 0 ? axis + x.rank : axis;
  if (a !== x.rank - 1) return softmaxAxis(x, a);
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
  if (!probsOut && !needsGrad(loss)) probs.dispose();
  return loss;
}

// Softmax along a middle axis a: x viewed as (outer, K, inner).
function softmaxAxis(x: Tensor, a: number): Tensor {
  const K = x.shape[a];
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const kx = k();
  const out = new Tensor(x.shape);
  if (out.size === 0) return out;
  kx.softmax_axis_forward(out.ptr, x.ptr, outer, K, inner);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.softmax_axis_backward(gx, dy.ptr, out.ptr, outer, K, inner);
  });
  return out;
}

/** log(softmax(x)) along a non-batch `axis`: x - max - log Σ exp(x - max), in wasm (f64 sums); differentiable. */
export function logSoftmax(x: Tensor, axis = -1, what = 'logSoftmax'): Tensor {
  expectTensor(x, null, what, 'x');
  const a = nonBatchAxis(axis, x.rank, what);
  const [outer, K, inner] = aroundAxis(x.shape, a);
  const kx = k();
  const out = new Tensor(x.shape);
  if (out.size === 0) return out;
  kx.log_softmax_axis_forward(out.ptr, x.ptr, outer, K, inner);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.log_softmax_axis_backward(gx, dy.ptr, out.ptr, outer, K, inner);
  });
  return out;
}

/** Arguments of {@link reluGeneral} (Keras ReLU). */
export interface ReluOptions {
  /** Upper bound of the output (default none: +Infinity); 6 gives ReLU6. Must be >= 0. */
  maxValue?: number | null;
  /** Slope below the threshold (default 0). Must be >= 0. */
  negativeSlope?: number;
  /** Values at or below it are on the sloped part (default 0). Must be >= 0. */
  threshold?: number;
}

/** Checks Keras' ReLU arguments; returns [maxValue (Infinity for none), negativeSlope, threshold]. */
export function reluArgs(o: ReluOptions, what: string): [number, number, number] {
  const num = (v: unknown, name: string, dflt: number, allowNull: boolean): number => {
    if (v === undefined || (allowNull && v === null)) return dflt;
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (!allowNull && !Number.isFinite(v))) {
      throw new Error(`${what}: ${name} must be a non-negative number, got ${show(v)}`);
    }
    return v;
  };
  return [
    num(o.maxValue, 'maxValue', Infinity, true),
    num(o.negativeSlope, 'negativeSlope', 0, false),
    num(o.threshold, 'threshold', 0, false),
  ];
}

/**
 * Keras ReLU: x > threshold ? min(x, maxValue) : negativeSlope * (x - threshold). With the defaults
 * it is relu; maxValue 6 is ReLU6.
 */
export function reluGeneral(x: Tensor, opts: ReluOptions = {}): Tensor {
  expectTensor(x, null, 'reluGeneral', 'x');
  return unary(
    x,
    'reluGeneral',
    'relu_general_forward',
    'relu_general_backward',
    'input',
    ...reluArgs(opts, 'reluGeneral'),
  );
}

/** min(max(x, 0), 6) element-wise (tf.relu6). */
export function relu6(x: Tensor): Tensor {
  return reluGeneral(x, { maxValue: 6 });
}

/**
 * relu6(x + 3) / 6 element-wise: Keras 3's `hard_sigmoid` (= clip(x / 6 + 0.5, 0, 1), ONNX
 * HardSigmoid with alpha 1/6). Keras 2 and tfjs use the steeper clip(0.2 x + 0.5, 0, 1).
 */
export function hardSigmoid(x: Tensor): Tensor {
  return unary(x, 'hardSigmoid', 'hard_sigmoid_forward', 'hard_sigmoid_backward', 'input');
}

/** x * relu6(x + 3) / 6 element-wise: Keras 3's `hard_swish` (MobileNetV3, ONNX HardSwish). */
export function hardSwish(x: Tensor): Tensor {
  return unary(x, 'hardSwish', 'hard_swish_forward', 'hard_swish_backward', 'input');
}

/** x * sigmoid(x) element-wise: Keras' `swish`, also called `silu`. */
export function swish(x: Tensor): Tensor {
  return unary(x, 'swish', 'swish_forward', 'swish_backward', 'input');
}
