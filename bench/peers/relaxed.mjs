// simdnet's relaxed-SIMD build (ready({ relaxed: true }): fused multiply-add in the GEMM microkernel) on
// the seed model, in a process of its own started with --experimental-wasm-relaxed-simd (Node 20 does
// not validate relaxed SIMD without it). Run by bench/lib/relaxed.mjs; prints one JSON line:
//   { relaxed, build, threads, train, infer, latency, probs8 } (relaxed false: the engine fell back).
//
//   node --experimental-wasm-relaxed-simd bench/peers/relaxed.mjs ROOT QUICK(0|1)
import { loadData } from '../lib/data.mjs';
import { ProbeLog } from '../lib/probes.mjs';
import { SimdnetRunner, loadSimdnet } from '../lib/simdnet.mjs';
import { plan } from './timing.mjs';

const keepAlive = setInterval(() => {}, 1 << 30);
const [root, q] = process.argv.slice(2);
const quick = q === '1';
const { sn, snNode } = await loadSimdnet(root);
const notices = [];
const warn = console.warn;
console.warn = (...a) => notices.push(a.join(' '));
const e = await sn.ready({ relaxed: true });
console.warn = warn;
const T = sn.getThreads();
const out = { relaxed: e.relaxed, build: e.build, threads: T, notices };
if (e.relaxed) {
  const data = await loadData(snNode);
  // no memory sampling here: train() is called without { memory }
  const sampler = /** @type {any} */ ({ reset: async () => {}, peak: async () => 0 });
  const runner = new SimdnetRunner({
    sn,
    root,
    data,
    plan: plan(quick),
    quick,
    probes: new ProbeLog(quick),
    sampler,
    log: () => {},
    elapsed: () => '',
  });
  out.train = await runner.train(128, T);
  const model = sn.seedModel({ seed: 1 });
  model.build();
  out.probs8 = Array.from(runner.predict(model, data.xTest, 8));
  out.infer = await runner.infer(model, 128, T);
  out.latency = await runner.infer(model, 1, T);
  model.dispose();
}
await sn.shutdown();
clearInterval(keepAlive);
console.log(JSON.stringify(out, (k, v) => (k === 'samples' ? undefined : v)));
