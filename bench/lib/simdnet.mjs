// simdnet's side of the peer benchmark, in this process: training, inference, latency and the batch
// sweep of the seed model, each paired with a 1-thread probe taken just before it, and the reference
// model whose weights, ONNX and predictions go to the peers.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureProbeThreads } from '../peers/probe.mjs';
import { reason, timeCalls, warmUp } from '../peers/timing.mjs';
import { BATCH, MB, SWEEP } from './constants.mjs';
import { planAB } from './plan-ab.mjs';

/** Imports the built library from `root`/dist; throws when it is not built. */
export async function loadSimdnet(root) {
  const lib = await import(pathToFileURL(join(root, 'dist/index.js')).href);
  const snNode = await import(pathToFileURL(join(root, 'dist/node/index.js')).href);
  // The seed article's CNN is one of the CLI's presets.
  const { seedModel } = await import(pathToFileURL(join(root, 'dist/cli/presets.js')).href);
  return { sn: { ...lib, seedModel }, snNode };
}

export class SimdnetRunner {
  /** Default thread count of the engine (1 until `measure` has started it). */
  threads = 1;
  /** The concurrent probe: one per thread at once. */
  probeThreads = null;
  /** The untrained seed model the peers copy: { model, weights, onnx, probs8 }. */
  reference = null;

  /**
   * @param {object} o
   * @param {object} o.sn the library (dist/index.js)
   * @param {string} o.root the project's folder (for dist/nn/inference.js)
   * @param {object} o.data images from loadData
   * @param {object} o.plan warm-up and timing options (peers/timing.mjs plan)
   * @param {boolean} o.quick
   * @param {import('./probes.mjs').ProbeLog} o.probes
   * @param {import('./memory.mjs').RssSampler} o.sampler
   * @param {(s: string) => void} o.log
   * @param {() => string} o.elapsed
   */
  constructor({ sn, root, data, plan, quick, probes, sampler, log, elapsed }) {
    this.root = root;
    this.sn = /** @type {any} */ (sn);
    this.data = /** @type {any} */ (data);
    this.plan = /** @type {any} */ (plan);
    this.quick = quick;
    this.probes = probes;
    this.sampler = sampler;
    this.log = log;
    this.elapsed = elapsed;
  }

  /** Softmax outputs of the first n test images, as one whole predict call. */
  predict(model, x, n) {
    const p = model.predict({ data: x.subarray(0, n * 784), shape: [n, 28, 28, 1] }, { batchSize: n });
    const d = p.dataSync();
    p.dispose();
    return d;
  }

  /** Training steps at batch n on a fresh seed model; with `memory`, the peak wasm memory and RSS too. */
  async train(n, threads, { memory = false } = {}) {
    const { sn, data, plan: P } = this;
    await sn.setThreads(threads);
    const model = sn.seedModel({ seed: 1 });
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    const x = { data: data.xTrain.subarray(0, n * 784), shape: [n, 28, 28, 1] };
    const y = { data: data.yTrain.subarray(0, n * 10), shape: [n, 10] };
    const step = () => model.trainOnBatch(x, y);
    try {
      const probe = this.probes.take(`train b${n} ${threads}T`);
      if (memory) await this.sampler.reset();
      await warmUp(step, P.thrWarm);
      const t = await timeCalls(step, P.thr);
      const out = {
        imgPerSec: n / t.median,
        batch: n,
        threads,
        reps: t.reps,
        median_s: t.median,
        best_s: t.best,
        probe,
        cpu_per_wall: t.cpuPerWall,
      };
      if (memory) {
        out.wasmBytes = sn.getEngine().memory.buffer.byteLength;
        out.rssPeak = Math.max(await this.sampler.peak(), process.memoryUsage.rss());
        out.maxRssOS = process.resourceUsage().maxRSS * 1024; // the kernel's high-water mark, whole run so far
      }
      return out;
    } finally {
      model.dispose();
    }
  }

  /** Inference at batch n (latency when n = 1). */
  async infer(model, n, threads) {
    const { sn, data, plan: P } = this;
    await sn.setThreads(threads);
    const call = () => this.predict(model, data.xTest, n);
    const probe = this.probes.take(`infer b${n} ${threads}T`);
    const lat = n === 1;
    await warmUp(call, lat ? P.latWarm : P.thrWarm);
    const t = await timeCalls(call, lat ? P.lat : P.thr);
    return {
      imgPerSec: n / t.median,
      ms: t.median * 1e3,
      batch: n,
      threads,
      reps: t.reps,
      median_s: t.median,
      best_s: t.best,
      probe,
      cpu_per_wall: t.cpuPerWall,
    };
  }

  /**
   * Every simdnet measurement, in order, into `R` (probe, memory, simdnet, sweep) and `machine`
   * (simdnet_build). Throws on the first failure; what was measured before it stays in `R`.
   */
  async measure(R, machine) {
    const { sn, data, log, elapsed, quick } = this;
    const rssBase = process.memoryUsage.rss();
    const eng = await sn.ready();
    this.threads = sn.getThreads();
    const T = this.threads;
    machine.simdnet_build = eng.build;
    log(`simdnet: '${eng.build}' build, ${T} thread${T > 1 ? 's' : ''} by default`);

    const p1 = this.probes.take('start');
    this.probeThreads = await measureProbeThreads(T, { minTime: quick ? 0.2 : 0.5 });
    const pt = this.probeThreads;
    R.probe = { single_start: p1, concurrent: pt };
    log(
      `wasm-SIMD probe: ${p1.toFixed(1)} GFLOP/s on 1 thread; ${pt.gflops.toFixed(1)} GFLOP/s with ${T} running at once ` +
        `(${pt.perThread.map((g) => g.toFixed(1)).join(' + ')}) (${elapsed()})`,
    );

    // The reference model: never trained; its weights and ONNX go to the peers.
    const model = sn.seedModel({ seed: 1 });
    model.build();
    const ws = model.getWeights();
    const weights = ws.map((w) => ({ shape: [...w.shape], data: Float32Array.from(w.view()) }));
    for (const w of ws) w.dispose();
    const onnx = await sn.toONNX(model);
    const probs8 = Float32Array.from(this.predict(model, data.xTest, 8));
    this.reference = { model, weights, onnx, probs8 };
    log(
      `weights: ${weights.length} arrays, ${weights.reduce((a, w) => a + w.data.length, 0).toLocaleString('en-US')} params; ` +
        `ONNX ${(onnx.length / 1e6).toFixed(2)} MB`,
    );

    // Training, batch 128, all threads first (peak memory measured here), then 1 thread.
    const trT = await this.train(BATCH, T, { memory: true });
    R.memory = {
      wasm_bytes: trT.wasmBytes,
      rss_peak_bytes: trT.rssPeak,
      rss_before_simdnet_bytes: rssBase,
      max_rss_os_bytes: trT.maxRssOS,
    };
    log(
      `simdnet train b${BATCH} ${T}T: ${trT.imgPerSec.toFixed(1)} img/s; wasm memory ${MB(trT.wasmBytes).toFixed(1)} MB, ` +
        `peak RSS ${MB(trT.rssPeak).toFixed(0)} MB (${elapsed()})`,
    );
    const tr1 = T > 1 ? await this.train(BATCH, 1) : trT;
    log(`simdnet train b${BATCH} 1T: ${tr1.imgPerSec.toFixed(1)} img/s (${elapsed()})`);

    const in1 = await this.infer(model, BATCH, 1);
    const lat1 = await this.infer(model, 1, 1);
    const inT = T > 1 ? await this.infer(model, BATCH, T) : in1;
    const latT = T > 1 ? await this.infer(model, 1, T) : lat1;
    R.simdnet = { train: { 1: tr1, [T]: trT }, infer: { 1: in1, [T]: inT }, latency: { 1: lat1, [T]: latT } };
    log(
      `simdnet infer b${BATCH}: ${in1.imgPerSec.toFixed(0)} img/s 1T, ${inT.imgPerSec.toFixed(0)} img/s ${T}T; ` +
        `latency b1: ${lat1.ms.toFixed(2)} ms 1T, ${latT.ms.toFixed(2)} ms ${T}T (${elapsed()})`,
    );

    // The same on all threads with sn.setConvAlgorithm('auto') (Winograd where it pays), and how far its
    // softmax moves from the direct path's.
    sn.setConvAlgorithm('auto');
    try {
      const train = await this.train(BATCH, T);
      const infer = await this.infer(model, BATCH, T);
      const latency = await this.infer(model, 1, T);
      const probs = this.predict(model, data.xTest, 8);
      let diff = 0;
      for (let i = 0; i < probs.length; i++) diff = Math.max(diff, Math.abs(probs[i] - probs8[i]));
      // what keeping the Winograd weight transforms (predict's inference plan) gains here
      const xb = data.xTest;
      const transforms = await planAB(this.root, quick, {
        b1: () => this.predict(model, xb, 1),
        batch: () => this.predict(model, xb, BATCH),
      });
      R.simdnetAuto = { threads: T, train, infer, latency, max_abs_diff_vs_direct: diff, transforms };
      log(
        `simdnet 'auto' ${T}T: train ${train.imgPerSec.toFixed(1)} img/s, infer ${infer.imgPerSec.toFixed(0)} img/s, ` +
          `latency ${latency.ms.toFixed(2)} ms; softmax within ${diff.toExponential(1)} of 'direct'; Winograd transforms ` +
          `kept vs made per call: ×${transforms.b1.gain.toFixed(2)} at batch 1, ×${transforms.batch.gain.toFixed(2)} at ` +
          `batch ${BATCH} (${elapsed()})`,
      );
    } finally {
      sn.setConvAlgorithm('direct');
    }

    // How cost grows with the batch (all threads).
    for (const n of SWEEP) {
      const inf = n === BATCH ? inT : n === 1 ? latT : await this.infer(model, n, T);
      const tr = n === BATCH ? trT : await this.train(n, T);
      R.sweep.push({ batch: n, infer: inf, train: tr });
    }
    log(`simdnet batch sweep done (${elapsed()})`);
  }

  /**
   * The same simdnet measurements again, after the peers (training too in the full run: simdnet's
   * 2-thread training rate was seen to differ by up to ~30 % between pool starts). Never throws.
   */
  async drift(R) {
    const T = this.threads;
    try {
      const again = await this.infer(this.reference.model, BATCH, T);
      const drift = {
        infer: { threads: T, start: R.simdnet.infer[T].imgPerSec, end: again.imgPerSec, probe_end: again.probe },
      };
      if (!this.quick) {
        for (const thr of T > 1 ? [T, 1] : [1]) {
          const tr = await this.train(BATCH, thr);
          drift[`train_${thr}`] = {
            threads: thr,
            start: R.simdnet.train[thr].imgPerSec,
            end: tr.imgPerSec,
            probe_end: tr.probe,
            cpu_per_wall_end: tr.cpu_per_wall,
          };
        }
      }
      return drift;
    } catch (e) {
      return { failed: reason(e) };
    }
  }
}
