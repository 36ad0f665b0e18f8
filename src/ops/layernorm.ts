// layerNorm over assembly/kernels/layernorm.ts: x (..., D) is seen as (R, D) rows normalized over their
// trailing D values, with gamma and beta (D) after. The row statistics are saved for the backward.
// One kernel call per pass (rows are independent; the gamma/beta sums run in row order), so any thread
// count gives the same bits.
import { type Tensor, uninitialized } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import type { Task } from '../wasm/abi.js';
import { expectFinite, expectTensor, k, runTasks, shardRanges } from './util.js';
import { show } from '../show.js';

/** Options of {@link layerNorm} (Keras LayerNormalization / ONNX LayerNormalization names). */
export interface LayerNormOptions {
  /** First normalized axis (batch is 0; negative from the end): axes [axis, rank) are normalized. Default -1. */
  axis?: number;
  /** Scale over the normalized axes (their shape, or flat); omitted or null: 1. */
  gamma?: Tensor | null;
  /** Offset over the normalized axes; omitted or null: 0. */
  beta?: Tensor | null;
  /** Added to the variance; default 1e-3 (Keras; ONNX and PyTorch use 1e-5). */
  epsilon?: number;
  name?: string;
  /** @internal */
  skipFiniteCheck?: boolean;
}

/**
 * Layer normalization, as keras.layers.LayerNormalization and ONNX LayerNormalization: each sample's
 * values over the axes [axis, rank) become (x - mean) / sqrt(var + eps) * gamma + beta, with their
 * mean and biased variance. Differentiable in x, gamma and beta.
 */
export function layerNorm(x: Tensor, opts: LayerNormOptions = {}): Tensor {
  const what = opts.name ?? 'layerNorm';
  expectTensor(x, null, what, 'input x');
  const axis = opts.axis ?? -1;
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(axis) || a < 1 || a >= x.rank) {
    throw new Error(`${what}: axis ${show(axis)} must be a non-batch axis of the rank-${x.rank} input [${x.shape}]`);
  }
  const D = x.shape.slice(a).reduce((p, d) => p * d, 1);
  if (x.size === 0) throw new Error(`${what}: the input is empty (shape [${x.shape}])`);
  const R = x.size / D;
  const eps = opts.epsilon ?? 1e-3;
  if (typeof eps !== 'number' || !(eps > 0 && Number.isFinite(eps)))
    throw new Error(`${what}: epsilon must be a positive number, got ${show(eps)}`);
  const vec = (t: Tensor | null | undefined, name: string): Tensor | null => {
    if (t === undefined || t === null) return null;
    expectTensor(t, null, what, name);
    if (t.size !== D) {
      throw new Error(`${what}: ${name} has ${t.size} values but the normalized axes [${x.shape.slice(a)}] hold ${D}`);
    }
    return t;
  };
  const gamma = vec(opts.gamma, 'gamma');
  const beta = vec(opts.beta, 'beta');
  if (!opts.skipFiniteCheck) expectFinite(x, what, 'input x');
  const kx = k();
  // every value, mean and invstd is written by the kernel: no zero fill
  const out = uninitialized(x.shape);
  const mean = uninitialized([R]);
  const invstd = uninitialized([R]);
  // rows are independent: cut into the fixed shards (the same bits at any thread count)
  runTasks(
    shardRanges(R)
      .filter(([, c]) => c > 0)
      .map(
        ([r, c]): Task => [
          'layernorm_forward',
          out.ptr + 4 * r * D,
          mean.ptr + 4 * r,
          invstd.ptr + 4 * r,
          x.ptr + 4 * r * D,
          gamma?.ptr ?? 0,
          beta?.ptr ?? 0,
          c,
          D,
          eps,
        ],
      ),
    R * D * 8,
  );
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  record(inputs, out, (dy, grad) => {
    const gx = grad(x),
      gg = gamma ? grad(gamma) : 0,
      gb = beta ? grad(beta) : 0;
    kx.layernorm_backward(gx, gg, gb, dy.ptr, x.ptr, gamma?.ptr ?? 0, mean.ptr, invstd.ptr, R, D);
  });
  // Nothing reads the saved statistics again unless backward runs.
  if (!needsGrad(out)) {
    mean.dispose();
    invstd.dispose();
  }
  return out;
}
