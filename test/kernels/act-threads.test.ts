// The element-wise activations (src/ops/act.ts), add/sub/mul/div (ops/elementwise.ts) and layer
// normalization's rows (ops/layernorm.ts) run on the threads, cut into the fixed shards: every value (row)
// is computed on its own, so 1, 2 and 4 threads give the same bits, also for lengths that are not a multiple
// of the shards or of the kernels' 4-value groups.
import { describe, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { layerNorm } from '../../src/ops/layernorm.js';
import { sameBitsAcrossThreads } from './harness.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;

describe.runIf(build === 'threads')('activations across threads', () => {
  it('swish, gelu, sigmoid, tanh, elu, hardSwish and relu over 300,001 values: same bits at 1, 2 and 4 threads', async () => {
    await sn.ready();
    const n = 300_001;
    const data = Float32Array.from(makeRng(77).fill(n, -9, 9));
    const fns: Array<(t: sn.Tensor) => sn.Tensor> = [
      sn.swish,
      (t) => sn.gelu(t),
      sn.sigmoid,
      sn.tanh,
      (t) => sn.elu(t),
      sn.hardSwish,
      sn.relu,
    ];
    await sameBitsAcrossThreads(() =>
      fns.flatMap((f) => {
        const x = sn.tensor(data, [n]);
        const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(f(t!), t!)))([x]);
        const y = f(x);
        const out = [y, value, ...grads].map((t) => Float32Array.from(t.dataSync()));
        for (const t of [x, y, value, ...grads]) t.dispose();
        return out;
      }),
    );
  });

  it('add and mul with a repeating operand, and layer normalization over 9,001 rows: same bits at 1, 2 and 4 threads', async () => {
    await sn.ready();
    const [R, D] = [9001, 36];
    const rng = makeRng(78);
    const data = Float32Array.from(rng.fill(R * D, -3, 3));
    const row = Float32Array.from(rng.fill(D, -2, 2));
    await sameBitsAcrossThreads(() => {
      const x = sn.tensor(data, [R, D]),
        s = sn.tensor(row, [D]);
      const ys = [sn.add(x, s), sn.mul(s, x), sn.mul(x, x), layerNorm(x, { epsilon: 1e-5 })];
      const out = ys.map((t) => Float32Array.from(t.dataSync()));
      for (const t of [x, s, ...ys]) t.dispose();
      return out;
    });
  });
});
