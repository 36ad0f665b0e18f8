// Model.predict's batching: each batch of the inputs gathered into the arena, run through the
// inference plan (which fuses, packs and replays kernel traces: nn/inference/), or through the
// model's own forward when the plan is off, and its outputs copied into the result tensors.
import { Tensor, tidy } from '../tensor.js';
import { noGrad } from '../autograd.js';
import type { Rng } from '../rng.js';
import type { DataSource } from './data.js';
import type { BatchIO, InferencePlan } from './inference.js';

/** The outputs (N, ...) for the inputs, `batchSize` examples at a time, without a tape. */
export function predictSources(
  xs: DataSource[],
  outShapes: number[][],
  batchSize: number,
  plan: () => InferencePlan | undefined,
  forward: (xb: Tensor[]) => Tensor[],
  rng: Rng,
): Tensor[] {
  const n = xs[0].n;
  const rowSizes = outShapes.map((s) => s.reduce((a, b) => a * b, 1));
  // Not keep(): inside the caller's tidy() the result is the caller's to return or lose (as tfjs).
  const outs = outShapes.map((s) => new Tensor([n, ...s]));
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  noGrad(() => {
    const p = plan();
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start);
      const io: BatchIO = {
        inputShapes: xs.map((src) => src.rowShape),
        outputSizes: rowSizes,
        write: (i, dest) => xs[i].gather(idx, start, count, dest),
        read: (i, y) => outs[i].view().set(y, start * rowSizes[i]),
      };
      if (p) p.runBatch(count, io, rng);
      else
        tidy(() => {
          const xb = xs.map((src, i) => {
            const t = new Tensor([count, ...src.rowShape], 'float32', false);
            io.write(i, t.view());
            return t;
          });
          forward(xb).forEach((y, i) => io.read(i, y.view()));
        });
    }
  });
  return outs;
}
