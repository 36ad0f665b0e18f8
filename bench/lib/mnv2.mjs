// The MobileNetV2-style row: simdnet (all threads) against onnxruntime-node, onnxruntime-web and
// tfjs-backend-wasm on the model of mnv2-arch.mjs, inference only, batch 32 throughput and batch 1
// latency. Same weights everywhere: simdnet's seeded init with the BatchNormalization state drawn at
// random too (a fresh BN is nearly the identity, which would hide a wrong BN in a peer); toONNX() for
// ort, the same arrays layer by layer (by name) for tfjs-layers. Each peer checks its softmax outputs
// on 8 random images against simdnet's before it times anything.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { maxAbsDiff, reason, timeCalls, warmUp } from '../peers/timing.mjs';
import { planAB } from './plan-ab.mjs';
import { fmtMs, fmtRate, fmtX } from './format.mjs';
import { MNV2_INPUT, MNV2_PIXELS, buildMnv2 } from './mnv2-arch.mjs';
import { runPeer } from './peers.mjs';

export const MNV2_BATCH = 32;
/** Largest |peer − simdnet| softmax difference before a peer is timed. */
export const MNV2_TOL = 1e-4;

/** Warm-up and timing options: the model is small, so even the full run stays short. */
export function mnv2Plan(quick) {
  return quick
    ? {
        latWarm: { calls: 3, time: 0.1, maxTime: 2 },
        lat: { reps: 10, time: 0.2, maxTime: 2 },
        thrWarm: { calls: 1, time: 0.1, maxTime: 2 },
        thr: { reps: 3, time: 0.3, maxTime: 3 },
      }
    : {
        latWarm: { calls: 5, time: 0.5, maxTime: 5 },
        lat: { reps: 30, time: 1.5, maxTime: 8 },
        thrWarm: { calls: 2, time: 0.5, maxTime: 5 },
        thr: { reps: 7, time: 2, maxTime: 10 },
      };
}

/** Deterministic uniform [0, 1) floats (mulberry32), so every run feeds the same images and weights. */
export function uniform(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** The model with its weights, grouped by layer for the tfjs copy, and its ONNX export. */
export async function mnv2Reference(sn) {
  const model = buildMnv2({ L: sn.layers, input: sn.input, model: sn.model }, { seed: 1 });
  model.build();
  const specs = model.weightSpecs();
  // getWeights' order: per layer its weights, then its state (the order weightSpecs lists layers in)
  const byLayer = new Map();
  for (const s of [...specs.weights, ...specs.state]) {
    const layer = s.name.slice(0, s.name.lastIndexOf('/'));
    if (!byLayer.has(layer)) byLayer.set(layer, { layer, names: [] });
  }
  for (const s of specs.weights) byLayer.get(s.name.slice(0, s.name.lastIndexOf('/'))).names.push(s.name);
  for (const s of specs.state) byLayer.get(s.name.slice(0, s.name.lastIndexOf('/'))).names.push(s.name);
  const order = [...byLayer.values()].flatMap((g) => g.names);
  const ws = model.getWeights();
  if (ws.length !== order.length) throw new Error(`weight arrays: ${ws.length}, specs name ${order.length}`);
  let seed = 7;
  const arrays = ws.map((w, i) => {
    const name = order[i];
    let data = Float32Array.from(w.view());
    const shape = [...w.shape];
    w.dispose();
    const r = /\/(gamma|beta|moving_mean|moving_variance)$/.exec(name);
    if (r) {
      const u = uniform(data.length, seed++);
      const [lo, hi] = r[1] === 'gamma' || r[1] === 'moving_variance' ? [0.5, 1.5] : [-0.2, 0.2];
      data = u.map((v) => lo + (hi - lo) * v);
    } else if (name.endsWith('/kernel') || name.endsWith('/depthwise_kernel')) {
      // He-uniform kernels: with Glorot's (and BN's moving statistics, not batch statistics, in
      // inference) activations shrink block by block and the softmax comes out uniform to 1e-4,
      // which would make the agreement check pass for any peer. Depthwise fan-in is kh·kw.
      const fanIn = name.endsWith('/depthwise_kernel') ? shape[0] * shape[1] : data.length / shape[shape.length - 1];
      const a = Math.sqrt(6 / fanIn);
      data = uniform(data.length, seed++).map((v) => (2 * v - 1) * a);
    }
    return { name, shape, data };
  });
  model.setWeights(arrays.map((a) => a.data));
  const layers = [...byLayer.values()].map((g) => ({
    layer: g.layer,
    weights: g.names.map((n) => {
      const a = arrays[order.indexOf(n)];
      return { shape: a.shape, data: a.data };
    }),
  }));
  return { model, layers, params: arrays.reduce((a, w) => a + w.data.length, 0), onnx: await sn.toONNX(model) };
}

/** simdnet's softmax outputs of the first n images, as one whole predict call. */
export function mnv2Predict(model, x, n) {
  const p = model.predict({ data: x.subarray(0, n * MNV2_PIXELS), shape: [n, ...MNV2_INPUT] }, { batchSize: n });
  const d = p.dataSync();
  p.dispose();
  return d;
}

function peerDefs(quick, T) {
  const budget = quick ? 20 : 45;
  return [
    { id: 'ort-node', label: 'onnxruntime-node', peer: 'mnv2', variant: 'ort-node', threads: T, budget },
    { id: 'ort-web', label: 'onnxruntime-web', peer: 'mnv2', variant: 'ort-web', threads: 1, budget },
    { id: 'tfjs-wasm', label: 'tfjs-backend-wasm', peer: 'mnv2', variant: 'tfjs-wasm', threads: 1, budget },
  ];
}

/**
 * Measures the whole row: simdnet at `T` threads, then each peer in its own process. Never throws:
 * a failure of simdnet's side is returned as `{ failed }`.
 */
export async function measureMnv2({ sn, root, quick, T, log, elapsed }) {
  const P = mnv2Plan(quick);
  const x = uniform(MNV2_BATCH * MNV2_PIXELS, 11);
  let ref;
  const R = { input: MNV2_INPUT, batch: MNV2_BATCH, threads: T, tolerance: MNV2_TOL, simdnet: {}, peers: {} };
  try {
    await sn.setThreads(T);
    ref = await mnv2Reference(sn);
    R.params = ref.params;
    R.onnx_bytes = ref.onnx.length;
    const probs8 = Float32Array.from(mnv2Predict(ref.model, x, 8));
    // how far the outputs are from uniform: the agreement check means something only when this ≫ MNV2_TOL
    R.softmax_range = [Math.min(...probs8), Math.max(...probs8)];
    const x1 = x.slice(0, MNV2_PIXELS);
    await warmUp(() => mnv2Predict(ref.model, x1, 1), P.latWarm);
    const lat = await timeCalls(() => mnv2Predict(ref.model, x1, 1), P.lat);
    const call = () => mnv2Predict(ref.model, x, MNV2_BATCH);
    await warmUp(call, P.thrWarm);
    const thr = await timeCalls(call, P.thr);
    R.simdnet = {
      latency: { ms: lat.median * 1e3, reps: lat.reps, cpu_per_wall: lat.cpuPerWall },
      infer: { imgPerSec: MNV2_BATCH / thr.median, reps: thr.reps, cpu_per_wall: thr.cpuPerWall },
    };
    // The same without predict's inference plan (each BatchNormalization its own pass).
    const plan = await import(pathToFileURL(join(root, 'dist/nn/inference.js')).href);
    plan.setInferencePlanEnabled(false);
    let probsU;
    try {
      probsU = mnv2Predict(ref.model, x, 8);
    } finally {
      plan.setInferencePlanEnabled(true);
    }
    const ab = await planAB(root, quick, { b1: () => mnv2Predict(ref.model, x1, 1), batch: call });
    R.folding = {
      rounds: ab.rounds,
      folded: { ms_b1: ab.b1.on_s * 1e3, img_per_s: MNV2_BATCH / ab.batch.on_s },
      unfolded: { ms_b1: ab.b1.off_s * 1e3, img_per_s: MNV2_BATCH / ab.batch.off_s },
      max_abs_diff_vs_folded: maxAbsDiff(probsU, probs8),
    };
    log(
      `mobilenetv2 (${ref.params.toLocaleString('en-US')} params, softmax outputs ` +
        `${R.softmax_range.map((v) => v.toFixed(3)).join('–')}) simdnet ${T}T: ` +
        `${R.simdnet.infer.imgPerSec.toFixed(0)} img/s b${MNV2_BATCH}, ${R.simdnet.latency.ms.toFixed(2)} ms b1; ` +
        `BatchNormalization folded vs not, alternating rounds: ${R.folding.folded.img_per_s.toFixed(0)} vs ` +
        `${R.folding.unfolded.img_per_s.toFixed(0)} img/s, ${R.folding.folded.ms_b1.toFixed(2)} vs ` +
        `${R.folding.unfolded.ms_b1.toFixed(2)} ms (${elapsed()})`,
    );
    for (const def of peerDefs(quick, T)) {
      const r = await runPeer(def, {
        root,
        quick,
        T,
        payload: { plan: P, onnx: ref.onnx, layers: ref.layers, x, x8: x.slice(0, 8 * MNV2_PIXELS), probs8 },
      });
      if (r.agree?.probs) {
        r.agree = { max_abs_diff: maxAbsDiff(r.agree.probs, probs8), ok: r.agree.ok };
      }
      R.peers[def.id] = r;
      const show = (k, f) => (r[k]?.failed ? `failed: ${r[k].failed}` : r[k] ? f(r[k]) : '—');
      log(
        `mobilenetv2 ${def.id}: agree ${show('agree', (v) => v.max_abs_diff.toExponential(2))}; ` +
          `infer ${show('infer', (v) => `${v.imgPerSec.toFixed(0)} img/s`)}; ` +
          `latency ${show('latency', (v) => `${v.ms.toFixed(2)} ms`)} (${elapsed()})`,
      );
    }
  } catch (e) {
    R.failed = reason(e);
    log(`mobilenetv2 row failed: ${R.failed}`);
  } finally {
    ref?.model.dispose();
  }
  return R;
}

/** The row's markdown table as lines. */
export function mnv2Markdown(M) {
  const lines = [];
  const out = (s = '') => lines.push(s);
  out(
    `### MobileNetV2-style model, inference (${M.input.join('x')} input${M.params ? `, ${M.params.toLocaleString('en-US')} params` : ''}, ` +
      `same weights; simdnet ${M.threads} thr)`,
  );
  out();
  if (M.failed) {
    out(`failed: ${M.failed}`);
    out();
    return lines;
  }
  const ids = Object.keys(M.peers);
  const name = (id) => {
    const r = M.peers[id];
    return `${r.label}${r.info?.version ? ` ${r.info.version}` : ''} (${r.info?.threads ?? '?'} thr)`;
  };
  const head = ['metric', 'simdnet'];
  for (const id of ids) head.push(name(id), `× ${id}`);
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const notes = [];
  const row = (metric, k, val, fmt, ratio) => {
    const c = [metric, fmt(val(M.simdnet[k]))];
    for (const id of ids) {
      const v = M.peers[id][k];
      if (!v || v.failed) {
        notes.push(`${name(id)}, ${k}: ${v?.failed ?? 'not measured'}`);
        c.push(`failed [${notes.length}]`, '—');
      } else c.push(fmt(val(v)), fmtX(ratio(val(M.simdnet[k]), val(v))));
    }
    out(`| ${c.join(' | ')} |`);
  };
  row(
    `img/s, batch ${M.batch}`,
    'infer',
    (v) => v.imgPerSec,
    fmtRate,
    (s, p) => s / p,
  );
  row(
    'ms, batch 1',
    'latency',
    (v) => v.ms,
    fmtMs,
    (s, p) => p / s,
  );
  const agree = ids.map((id) => {
    const a = M.peers[id].agree;
    return `${id} ${a?.max_abs_diff !== undefined ? a.max_abs_diff.toExponential(1) : `failed (${a?.failed})`}`;
  });
  out();
  out(
    `Agreement before timing (max |peer − simdnet| softmax, 8 random images whose outputs span ` +
      `${M.softmax_range.map((v) => v.toFixed(3)).join('–')}; want < ${M.tolerance}): ${agree.join(', ')}. ` +
      '"× peer": how many times faster simdnet is.',
  );
  const F = M.folding;
  if (F) {
    out();
    out(
      `BatchNormalization folded into the convolution before it (predict's default) vs run as its own pass, ` +
        `${F.rounds} alternating rounds, medians: batch ${M.batch} ${fmtRate(F.folded.img_per_s)} vs ` +
        `${fmtRate(F.unfolded.img_per_s)} img/s (${fmtX(F.folded.img_per_s / F.unfolded.img_per_s)}), batch 1 ` +
        `${fmtMs(F.folded.ms_b1)} vs ${fmtMs(F.unfolded.ms_b1)} ms (${fmtX(F.unfolded.ms_b1 / F.folded.ms_b1)}); ` +
        `softmax within ${F.max_abs_diff_vs_folded.toExponential(1)}.`,
    );
  }
  for (const [i, n] of notes.entries()) out(`[${i + 1}] ${n}`);
  out();
  return lines;
}
