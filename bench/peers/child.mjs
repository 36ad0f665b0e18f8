// Entry point of one peer process, forked by bench/run.js (one process per peer, so a peer that
// crashes, hangs or leaks cannot take the run down, and the parent can stop it at its time cap).
//
// Parent → child (one IPC message, 'advanced' serialization):
//   { peer: 'tfjs'|'ort'|'convnetjs'|'torch', variant, quick, threads, budget (s), weights: [{shape, data}],
//     onnx: Uint8Array, x8, xInfer, xTrain, yTrain (one-hot), inferBatch, trainBatch }
//   or, for peer 'mnv2' (the MobileNetV2 row): { ..., plan, onnx, layers: [{layer, weights}], x, x8, probs8 }
//   or, for peer 'imported' (lib/imported.mjs): { ..., plan, models: [{name, onnx, input, x, logits}], batches, tol }
// Child → parent: { key, value } per measurement as soon as it is known (value.failed = reason when
// it failed), then { done: true }. Measurement keys: info, agree, latency, infer, train.
import { plan, reason } from './timing.mjs';

const PEERS = {
  tfjs: () => import('./tfjs.mjs'),
  ort: () => import('./ort.mjs'),
  convnetjs: () => import('./convnetjs.mjs'),
  mnv2: () => import('./mnv2.mjs'),
  imported: () => import('./imported.mjs'),
  torch: () => import('./torch.mjs'),
};

process.once('message', async (/** @type {any} */ p) => {
  const t0 = Date.now();
  const deadline = t0 + p.budget * 1000;
  const ctx = {
    ...p,
    opts: plan(p.quick),
    /** Seconds left before this peer's time cap. */
    remaining: () => (deadline - Date.now()) / 1000,
    emit: (key, value) => process.send({ key, value }),
    /** Runs one measurement; a throw becomes { failed: reason }. */
    async measure(key, fn) {
      try {
        ctx.emit(key, await fn());
      } catch (e) {
        ctx.emit(key, { failed: reason(e) });
      }
    },
  };
  try {
    const mod = await PEERS[p.peer]();
    await mod.run(ctx);
  } catch (e) {
    ctx.emit('setup', { failed: reason(e) });
  }
  process.send({ done: true }, () => process.exit(0));
});
