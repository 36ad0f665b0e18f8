// batchNorm over the last axis: checks and bookkeeping, then assembly/kernels/batchnorm.ts; records
// the backward (x, gamma, beta) on the tape. x (..., C) is seen as (R, C), R = size / C (N·H·W for
// NHWC); gamma, beta, movingMean, movingVariance (C). Rows are cut into the fixed shards of util.ts;
// each shard sums into its own f64 partials and the partials are added in shard order, so any
// thread count gives the same bits.
import { Tensor } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { expectFinite, expectTensor, k, runTasks, shardRanges, withScratch } from './util.js';
import type { Task } from '../wasm/abi.js';
import { show } from '../show.js';

/** Options of {@link batchNorm} (Keras BatchNormalization names and defaults). */
export interface BatchNormOptions {
  /** Scale (C); omitted or null: 1 (Keras `scale: false`). */
  gamma?: Tensor | null;
  /** Offset (C); omitted or null: 0 (Keras `center: false`). */
  beta?: Tensor | null;
  /** Moving statistics (C): read in inference; in training updated in place when given. */
  movingMean?: Tensor | null;
  movingVariance?: Tensor | null;
  /** true: normalize with the batch statistics (and update the moving ones); false (default): with the moving ones. */
  training?: boolean;
  /** moving = moving * momentum + batch * (1 - momentum); default 0.99. */
  momentum?: number;
  /** Added to the variance; default 1e-3. */
  epsilon?: number;
  /**
   * Update the moving variance with the unbiased batch variance (÷ (n − 1), PyTorch's running_var)
   * instead of the biased one (÷ n, Keras); the batch is normalized with the biased one either way.
   * Default false.
   */
  unbiasedMovingVariance?: boolean;
  name?: string;
  /** @internal */
  skipFiniteCheck?: boolean;
}

function channelVector(t: Tensor | null | undefined, C: number, what: string, name: string): Tensor | null {
  if (t === undefined || t === null) return null;
  expectTensor(t, 1, what, name);
  if (t.size !== C)
    throw new Error(`${what}: ${name} has ${t.size} values but the input has ${C} channels (last axis)`);
  return t;
}

interface Checked {
  what: string;
  C: number;
  R: number;
  training: boolean;
  momentum: number;
  eps: number;
  unbiased: boolean;
  gamma: Tensor | null;
  beta: Tensor | null;
  movingMean: Tensor | null;
  movingVariance: Tensor | null;
}

// Every argument of batchNorm checked, with its defaults.
function checkArgs(x: Tensor, opts: BatchNormOptions): Checked {
  const what = opts.name ?? 'batchNorm';
  expectTensor(x, null, what, 'input x');
  if (x.rank < 2) throw new Error(`${what}: input must have a batch axis and a channel axis, got shape [${x.shape}]`);
  const C = x.shape[x.rank - 1];
  if (C < 1 || x.size === 0) throw new Error(`${what}: the input is empty (shape [${x.shape}])`);
  const R = x.size / C;
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.99;
  const eps = opts.epsilon ?? 1e-3;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))
    throw new Error(`${what}: momentum must be a number in [0, 1], got ${show(momentum)}`);
  if (typeof eps !== 'number' || !(eps > 0 && Number.isFinite(eps)))
    throw new Error(`${what}: epsilon must be a positive number, got ${show(eps)}`);
  const unbiased = opts.unbiasedMovingVariance ?? false;
  if (typeof unbiased !== 'boolean')
    throw new Error(`${what}: unbiasedMovingVariance must be true or false, got ${show(unbiased)}`);
  const gamma = channelVector(opts.gamma, C, what, 'gamma');
  const beta = channelVector(opts.beta, C, what, 'beta');
  const movingMean = channelVector(opts.movingMean, C, what, 'movingMean');
  const movingVariance = channelVector(opts.movingVariance, C, what, 'movingVariance');
  if (!!movingMean !== !!movingVariance)
    throw new Error(`${what}: give both movingMean and movingVariance, or neither`);
  if (!training && !movingMean)
    throw new Error(`${what}: inference (training: false) needs movingMean and movingVariance`);
  if (training && R < 2) {
    throw new Error(
      `${what}: training needs more than one value per channel to compute a batch variance, got input shape [${x.shape}] ` +
        `(a batch of 1 example of a [N, features] input, e.g. the last partial batch of an epoch: choose a batchSize that leaves no batch of 1)`,
    );
  }
  if (!opts.skipFiniteCheck) {
    expectFinite(x, what, 'input x');
    for (const [t, n] of [
      [gamma, 'gamma'],
      [beta, 'beta'],
      [movingMean, 'movingMean'],
      [movingVariance, 'movingVariance'],
    ] as const) {
      if (t) expectFinite(t, what, n);
    }
  }
  return { what, C, R, training, momentum, eps, unbiased, gamma, beta, movingMean, movingVariance };
}

const rowBytes = (r0: number, C: number) => r0 * C * 4;

// The batch mean into a new tensor and invstd from the batch variance; updates the moving statistics.
function batchStatistics(x: Tensor, a: Checked, shards: [number, number][], invstd: Tensor): Tensor {
  const { C, R } = a;
  const S = shards.length;
  const kx = k();
  const mean = new Tensor([C]);
  const variance = new Tensor([C]);
  // Two passes (mean, then squared deviations from it): no cancellation as in E[x^2] - E[x]^2.
  withScratch([S * C * 2], (psum) => {
    runTasks(
      shards.map(([r0, rc], s): Task => ['batchnorm_stats_sum', psum + s * C * 8, x.ptr + rowBytes(r0, C), rc, C]),
    );
    kx.batchnorm_stats_reduce(mean.ptr, psum, S, C, R);
    runTasks(
      shards.map(
        ([r0, rc], s): Task => ['batchnorm_stats_sqdev', psum + s * C * 8, x.ptr + rowBytes(r0, C), mean.ptr, rc, C],
      ),
    );
    kx.batchnorm_stats_reduce(variance.ptr, psum, S, C, R);
    kx.batchnorm_invstd(invstd.ptr, variance.ptr, C, a.eps);
    // PyTorch's running variance: the same sums of squared deviations over n - 1.
    if (a.unbiased) kx.batchnorm_stats_reduce(variance.ptr, psum, S, C, R - 1);
  });
  if (a.movingMean && a.movingVariance)
    kx.batchnorm_update_moving(a.movingMean.ptr, a.movingVariance.ptr, mean.ptr, variance.ptr, C, a.momentum);
  variance.dispose();
  return mean;
}

/**
 * Batch normalization over the last axis, as Keras BatchNormalization: in training
 * (x - mean) / sqrt(var + eps) * gamma + beta with the batch mean and biased variance over every
 * axis but the last, and the moving statistics updated in place; in inference the moving ones.
 */
export function batchNorm(x: Tensor, opts: BatchNormOptions = {}): Tensor {
  const a = checkArgs(x, opts);
  const { C, R, training, gamma, beta } = a;
  const kx = k();
  const shards = shardRanges(R);
  const S = shards.length;
  const row = (r0: number) => rowBytes(r0, C);
  const invstd = new Tensor([C]);
  let mean: Tensor;
  if (training) mean = batchStatistics(x, a, shards, invstd);
  else {
    mean = a.movingMean!;
    kx.batchnorm_invstd(invstd.ptr, a.movingVariance!.ptr, C, a.eps);
  }
  const out = new Tensor(x.shape);
  const g = gamma ? gamma.ptr : 0,
    b = beta ? beta.ptr : 0;
  runTasks(
    shards.map(
      ([r0, rc]): Task => ['batchnorm_forward', out.ptr + row(r0), x.ptr + row(r0), mean.ptr, invstd.ptr, g, b, rc, C],
    ),
  );
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  record(inputs, out, (dy, grad) => {
    const gx = grad(x),
      gg = gamma ? grad(gamma) : 0,
      gb = beta ? grad(beta) : 0;
    const needSums = gg || gb || (gx && training);
    withScratch([needSums ? S * C * 4 : 0, 2 * C], (psum, means) => {
      if (needSums) {
        runTasks(
          shards.map(
            ([r0, rc], s): Task => [
              'batchnorm_backward_sums',
              psum + s * C * 16,
              dy.ptr + row(r0),
              x.ptr + row(r0),
              mean.ptr,
              invstd.ptr,
              rc,
              C,
            ],
          ),
        );
        kx.batchnorm_backward_reduce(gg, gb, training ? means : 0, psum, S, C, R);
      }
      if (gx) {
        runTasks(
          shards.map(
            ([r0, rc]): Task => [
              'batchnorm_backward_input',
              gx + row(r0),
              dy.ptr + row(r0),
              x.ptr + row(r0),
              mean.ptr,
              invstd.ptr,
              g,
              training ? means : 0,
              rc,
              C,
            ],
          ),
        );
      }
    });
  });
  // Nothing reads the saved statistics again unless backward runs.
  if (!needsGrad(out)) {
    invstd.dispose();
    if (training) mean.dispose();
  }
  return out;
}
