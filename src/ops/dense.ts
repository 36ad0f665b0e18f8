// matMul and dense (x · W + b, optional fused relu) over assembly/kernels/dense.ts; records backward.
// x (N, IN), weight (IN, OUT), bias (OUT), out (N, OUT).
import { type Tensor, uninitialized } from '../tensor.js';
import { record } from '../autograd.js';
import { expectFinite, expectTensor, k, runTasks, shardRanges, withScratch, reluMasked } from './util.js';
import type { Task } from '../wasm/abi.js';
import { show } from '../show.js';

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
  if (WIN !== IN)
    throw new Error(
      `${what}: input has ${IN} features but the weight expects ${WIN} (weight shape [${weight.shape}], input shape [${x.shape}])`,
    );
  const bias = opts.bias ?? null;
  if (bias) {
    expectTensor(bias, 1, what, 'bias');
    if (bias.size !== OUT) throw new Error(`${what}: bias has ${bias.size} values but the weight has ${OUT} outputs`);
  }
  const act = opts.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu')
    throw new Error(`${what}: activation must be 'linear' or 'relu', got ${show(act)}`);
  if (!opts.skipFiniteCheck) {
    expectFinite(x, what, 'input x');
    expectFinite(weight, what, 'weight');
    if (bias) expectFinite(bias, what, 'bias');
  }
  const kx = k();
  const relu = act === 'relu' ? 1 : 0;
  const out = uninitialized([N, OUT]); // stored by the GEMM or the row kernel: no zero fill
  // Rows are cut into fixed shards (see SHARDS), each packing the weights into its own scratch.
  const shards = shardRanges(N);
  const packF = kx.pack_b_size(IN, OUT);
  if (N < 4) {
    // A few rows (batch-1 inference): straight from the weight, no packing; the same bits.
    kx.dense_forward_rows(out.ptr, x.ptr, weight.ptr, bias ? bias.ptr : 0, N, IN, OUT, relu);
  } else {
    withScratch(
      shards.map(() => packF),
      (...wpack) => {
        runTasks(
          shards.map(
            ([r0, rc], i): Task => [
              'dense_forward',
              out.ptr + r0 * OUT * 4,
              x.ptr + r0 * IN * 4,
              weight.ptr,
              bias ? bias.ptr : 0,
              wpack[i],
              rc,
              IN,
              OUT,
              relu,
            ],
          ),
          N * IN * OUT,
        );
      },
      false,
    );
  }
  record(bias ? [x, weight, bias] : [x, weight], out, (dy, grad) => {
    const masked = relu ? reluMasked(dy, out) : null;
    const d = masked ?? dy;
    const gx = grad(x),
      gw = grad(weight),
      gb = bias ? grad(bias) : 0;
    denseBackward(d, x, weight, gx, gw, gb, shards);
    masked?.dispose();
  });
  return out;
}

// The gradients of dense into gx, gw, gb (0: not needed), from d = dy (relu-masked where fused).
function denseBackward(
  d: Tensor,
  x: Tensor,
  weight: Tensor,
  gx: number,
  gw: number,
  gb: number,
  shards: Array<[number, number]>,
): void {
  const kx = k();
  const [N, IN] = x.shape;
  const OUT = weight.shape[1];
  if (gx) {
    const packN = kx.pack_b_size(OUT, IN);
    withScratch(
      shards.map(() => packN),
      (...wpack) => {
        runTasks(
          shards.map(
            ([r0, rc], i): Task => [
              'dense_backward_input',
              gx + r0 * IN * 4,
              d.ptr + r0 * OUT * 4,
              weight.ptr,
              wpack[i],
              rc,
              IN,
              OUT,
            ],
          ),
        );
      },
    );
  }
  if (gw) {
    // Per-shard dW/db, then added in shard order: the same bits for any thread count.
    const wSize = IN * OUT;
    withScratch(
      shards.flatMap(([, rc]) => [wSize, OUT, kx.pack_b_size(rc, OUT)]),
      (...s) => {
        runTasks(
          shards.map(
            ([r0, rc], i): Task => [
              'dense_backward_weight',
              s[3 * i],
              gb ? s[3 * i + 1] : 0,
              d.ptr + r0 * OUT * 4,
              x.ptr + r0 * IN * 4,
              s[3 * i + 2],
              rc,
              IN,
              OUT,
            ],
          ),
        );
        shards.forEach((_, i) => {
          kx.add_into(gw, s[3 * i], wSize);
          if (gb) kx.add_into(gb, s[3 * i + 1], OUT);
        });
      },
    );
  } else if (gb) kx.bias_backward(gb, d.ptr, N, OUT);
}

/** Matrix product a (M, K) · b (K, N), as tf.matMul. */
export function matMul(a: Tensor, b: Tensor): Tensor {
  expectTensor(a, 2, 'matMul', 'a (M, K)');
  expectTensor(b, 2, 'matMul', 'b (K, N)');
  if (a.shape[1] !== b.shape[0])
    throw new Error(`matMul: inner dimensions differ: a is [${a.shape}], b is [${b.shape}]`);
  return dense(a, b, { name: 'matMul' });
}
