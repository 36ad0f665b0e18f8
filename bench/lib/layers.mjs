// Every conv layer of the seed model on its own, at batch 128 on all threads, forward and backward,
// with each algorithm that applies: effective GFLOP/s = the DIRECT convolution's flops ÷ time, against
// the probe × threads taken just before (> 1.0× means a fast algorithm beat the direct kernel's ceiling).
// Backward = (forward + backward with input, weight and bias gradients) − forward, 2× the forward flops;
// best call of each (null when the difference drowns in noise).
import { timeCalls, warmUp } from '../peers/timing.mjs';
import { BATCH } from './constants.mjs';

/** The seed model's conv layers: input H×W×C, K filters of KH×KW, 'same', ReLU. */
export const SEED_CONVS = [
  { name: 'conv1 5×5 1→32 @28×28', H: 28, W: 28, C: 1, K: 32, KS: 5 },
  { name: 'conv2 5×5 32→32 @28×28', H: 28, W: 28, C: 32, K: 32, KS: 5 },
  { name: 'conv3 3×3 32→64 @14×14', H: 14, W: 14, C: 32, K: 64, KS: 3 },
  { name: 'conv4 3×3 64→64 @14×14', H: 14, W: 14, C: 64, K: 64, KS: 3 },
];

/**
 * Algorithms measured per layer: [label of a 3×3 layer, label of a 5×5 one, conv2d options]. On 5×5
 * kernels tile 2 runs F(2,3) on four 3×3 pieces and tile 4 runs F(4,5).
 * @type {Array<[string, string, object]>}
 */
const ALGOS = [
  ['direct', 'direct', { algorithm: 'direct' }],
  ['winograd F(2,3)', 'winograd F(2,3) pieces', { algorithm: 'winograd', winogradTile: 2 }],
  ['winograd F(4,3)', 'winograd F(4,5)', { algorithm: 'winograd', winogradTile: 4 }],
];

/**
 * Times each layer × algorithm; returns rows { layer, algorithm, fwd_ms, bwd_ms, fwd_gflops,
 * bwd_gflops, probe_gflops, fwd_x_probe, bwd_x_probe }.
 */
export async function measureLayers({ sn, T, quick, probes, log, elapsed }) {
  await sn.setThreads(T);
  const N = quick ? 16 : BATCH;
  const opts = quick ? { reps: 3, time: 0.3, maxTime: 3 } : { reps: 5, time: 1, maxTime: 6 };
  const warm = quick ? { calls: 1, time: 0.1, maxTime: 2 } : { calls: 2, time: 0.3, maxTime: 4 };
  const rows = [];
  let seed = 1;
  const rand = (n) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = seed / 2 ** 32 - 0.5;
    }
    return a;
  };
  for (const L of SEED_CONVS) {
    const x = sn.tensor(rand(N * L.H * L.W * L.C), [N, L.H, L.W, L.C]);
    const w = sn.tensor(rand(L.KS * L.KS * L.C * L.K), [L.KS, L.KS, L.C, L.K]);
    const b = sn.tensor(rand(L.K), [L.K]);
    const dy = sn.tensor(rand(N * L.H * L.W * L.K), [N, L.H, L.W, L.K]);
    const flop = 2 * N * L.H * L.W * L.K * L.KS * L.KS * L.C;
    const probe = probes.take(`layer ${L.name}`);
    for (const [label3, label5, o] of ALGOS) {
      const label = L.KS === 5 ? label5 : label3;
      const conv = (xx, ww, bb) => sn.conv2d(xx, ww, { bias: bb, padding: 'same', activation: 'relu', ...o });
      const fwd = () => conv(x, w, b).dispose();
      const vg = sn.valueAndGrads(conv);
      const both = () => {
        const r = vg([x, w, b], dy);
        r.value.dispose();
        for (const g of r.grads) g.dispose();
      };
      await warmUp(fwd, warm);
      const tf = await timeCalls(fwd, opts);
      await warmUp(both, warm);
      const tb = await timeCalls(both, opts);
      // best of the calls, not medians: a difference of two noisy medians can come out near 0 or below
      const bwd = tb.best - tf.best;
      const ok = bwd > 0.1 * tf.best;
      const fg = flop / tf.best / 1e9,
        bg = ok ? (2 * flop) / bwd / 1e9 : null;
      rows.push({
        layer: L.name,
        algorithm: label,
        batch: N,
        threads: T,
        fwd_ms: tf.best * 1e3,
        bwd_ms: ok ? bwd * 1e3 : null,
        fwd_gflops: fg,
        bwd_gflops: bg,
        probe_gflops: probe,
        fwd_x_probe: fg / (probe * T),
        bwd_x_probe: ok ? bg / (probe * T) : null,
      });
    }
    for (const t of [x, w, b, dy]) t.dispose();
  }
  log(`simdnet per-layer conv timings done (${elapsed()})`);
  return rows;
}
