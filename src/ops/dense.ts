// matMul and dense (x · W + b, optional fused relu) over assembly/kernels/dense.ts; records backward.
// x (N, IN), weight (IN, OUT), bias (OUT), out (N, OUT).
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { expectFinite, expectTensor, k, withScratch } from './util.js';

/** Options of {@link dense}. */
export interface DenseOptions {
  bias?: Tensor | null;
  activation?: 'linear' | 'relu';
  name?: string;
  /** @internal */
  skipFiniteCheck?: boolean;
}

/** x (N, IN) · weight (IN, OUT) + bias, as a Keras Dense layer computes it. */
export function dense(x: Tensor, weight: Tensor, opts: DenseOptions = {}): Tensor {
  const what = opts.name ?? 'dense';
  expectTensor(x, 2, what, 'input x (N, IN)');
  expectTensor(weight, 2, what, 'weight (IN, OUT)');
  const [N, IN] = x.shape;
  const [WIN, OUT] = weight.shape;
  if (WIN !== IN) throw new Error(`${what}: input has ${IN} features but the weight expects ${WIN} (weight shape [${weight.shape}], input shape [${x.shape}])`);
  const bias = opts.bias ?? null;
  if (bias) {
    expectTensor(bias, 1, what, 'bias');
    if (bias.size !== OUT) throw new Error(`${what}: bias has ${bias.size} values but the weight has ${OUT} outputs`);
  }
  const act = opts.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu') throw new Error(`${what}: activation must be 'linear' or 'relu', got ${JSON.stringify(act)}`);
  if (!opts.skipFiniteCheck) {
    expectFinite(x, what, 'input x');
    expectFinite(weight, what, 'weight');
    if (bias) expectFinite(bias, what, 'bias');
  }
  const kx = k();
  const relu = act === 'relu' ? 1 : 0;
  const out = new Tensor([N, OUT]);
  withScratch([kx.pack_b_size(IN, OUT)], (wpack) => {
    kx.dense_forward(out.ptr, x.ptr, weight.ptr, bias ? bias.ptr : 0, wpack, N, IN, OUT, relu);
  });
  record(bias ? [x, weight, bias] : [x, weight], out, (dy, grad) => {
    let d = dy;
    let masked: Tensor | null = null;
    if (relu) {
      masked = new Tensor(out.shape);
      kx.relu_backward(masked.ptr, dy.ptr, out.ptr, out.size);
      d = masked;
    }
    const gx = grad(x), gw = grad(weight), gb = bias ? grad(bias) : 0;
    if (gx) withScratch([kx.pack_b_size(OUT, IN)], (wpack) => kx.dense_backward_input(gx, d.ptr, weight.ptr, wpack, N, IN, OUT));
    if (gw) withScratch([kx.pack_b_size(N, OUT)], (dpack) => kx.dense_backward_weight(gw, gb, d.ptr, x.ptr, dpack, N, IN, OUT));
    else if (gb) kx.bias_backward(gb, d.ptr, N, OUT);
    masked?.dispose();
  });
  return out;
}

/** Matrix product a (M, K) · b (K, N), as tf.matMul. */
export function matMul(a: Tensor, b: Tensor): Tensor {
  expectTensor(a, 2, 'matMul', 'a (M, K)');
  expectTensor(b, 2, 'matMul', 'b (K, N)');
  if (a.shape[1] !== b.shape[0]) throw new Error(`matMul: inner dimensions differ: a is [${a.shape}], b is [${b.shape}]`);
  return dense(a, b, { name: 'matMul' });
}
