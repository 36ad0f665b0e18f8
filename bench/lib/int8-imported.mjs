// The imported int8 row: MobileNetV2 (width 1.0) and ResNet-18 at 224x224, exported by PyTorch in eval mode
// with BatchNorm folded and seeded random weights (scripts/fixtures/export_onnx.py --int8; not committed),
// loaded by sn.loadONNX, quantized by sn.quantize (int8 activations, calibrated on CAL_N seeded random
// images in [-1, 1]) and written by toONNX as a QDQ file. That QDQ file is what every int8 system runs:
// simdnet imports it back with sn.loadONNX ("int8"), onnxruntime-web (wasm, 1 and 2 threads, one process
// each) and onnxruntime-node load the same bytes. Also timed: the model sn.quantize returned ("int8
// direct") and the float32 import. ms per whole call at batch 1 and 8, 1 and 2 threads, by the imported
// row's warm-up and timing rule (lib/imported.mjs), simdnet's three in alternating blocks. Before a peer
// times anything its logits on AGREE_N images must be within PEER_TOL of simdnet's int8 logits (relative
// to their largest magnitude; int8 systems may round a requantization differently, a step of the
// output's scale). Top-1 agreement of the int8 import with float32 on TOP1_N other random images is
// reported. Never throws.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxAbsDiff, median, reason, timeCalls } from '../peers/timing.mjs';
import { fmtMs, fmtX, msCell } from './format.mjs';
import { importedPlan, warmUntilSteady } from './imported.mjs';
import { uniform } from './mnv2.mjs';
import { runPeer } from './peers.mjs';

const MODELS = [
  { name: 'mobilenet_v2_fold_224', label: 'MobileNetV2 224²' },
  { name: 'resnet18_fold_224', label: 'ResNet-18 224²' },
];
export const INT8_IMPORTED_BATCHES = [1, 8];
/** Calibration images (seeded uniform [-1, 1]) and their seed. */
const CAL_N = 32;
const CAL_SEED = 31;
/** Images of the peers' agreement check; the timed inputs are their first `batch`. */
const AGREE_N = 8;
const X_SEED = 21;
/** Images of the top-1 agreement of int8 with float32, in chunks of TOP1_CHUNK (seeds TOP1_SEED + chunk). */
const TOP1_N = 1000;
const TOP1_CHUNK = 25;
const TOP1_SEED = 1000;
/** Largest max|peer − simdnet int8| / max|simdnet int8 logit| before a peer is timed. */
const PEER_TOL = 0.05;
/** simdnet's systems are timed in this many alternating blocks each. */
const ROUNDS = 4;
/** Wanted: int8 this many times faster than simdnet float32, and than onnxruntime-web at equal threads. */
const FLOAT_FACTOR = 2;
const WEB_FACTOR = 3;

const signed = (n, seed) => uniform(n, seed).map((v) => 2 * v - 1);

function runner(model, input, pixels) {
  return (x, n) => {
    const p = model.predict({ data: x.subarray(0, n * pixels), shape: [n, ...input] }, { batchSize: n });
    const d = p.dataSync();
    p.dispose();
    return d;
  };
}

/** Layer classes of a model, counted: "QuantizedConv2D×35, Add×10". */
function layerCounts(model, keep) {
  const m = new Map();
  for (const l of model.layers) if (keep(l.className)) m.set(l.className, (m.get(l.className) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k}×${v}`).join(', ');
}

/** Top-1 of float32 vs int8 on N images, with the spread of float's classes and the logit error. */
function top1(runF, runQ, pixels, classes, N) {
  let same = 0;
  let err = 0;
  let top = 0;
  const seen = new Set();
  const argmax = (d, i) => {
    let b = 0;
    for (let k = 1; k < classes; k++) if (d[i * classes + k] > d[i * classes + b]) b = k;
    return b;
  };
  for (let c = 0; c * TOP1_CHUNK < N; c++) {
    const n = Math.min(TOP1_CHUNK, N - c * TOP1_CHUNK);
    const x = signed(n * pixels, TOP1_SEED + c);
    const f = Float32Array.from(runF(x, n));
    const q = runQ(x, n);
    for (let i = 0; i < n; i++) {
      const a = argmax(f, i);
      seen.add(a);
      if (argmax(q, i) === a) same++;
    }
    err = Math.max(err, maxAbsDiff(q, f));
    for (const v of f) top = Math.max(top, Math.abs(v));
  }
  return { agree: same / N, n: N, float_classes: seen.size, rel_logit_err: err / (top || 1) };
}

/** Loads, quantizes, exports and re-imports one model; times it in this process. */
async function simdnetModel(sn, def, spec, file, threads, P, first, top1N) {
  const M = { label: def.label, simdnet: {}, batches: INT8_IMPORTED_BATCHES };
  const live = [];
  try {
    const input = spec.inputShape.slice(1);
    const pixels = input.reduce((a, b) => a * b, 1);
    const bytes = readFileSync(file);
    M.input = input;
    M.bytes = { float32: bytes.length };
    const float = await sn.loadONNX(bytes);
    live.push(float);
    const cal = sn.tensor(signed(CAL_N * pixels, CAL_SEED), [CAL_N, ...input]);
    let q;
    try {
      q = sn.quantize(float, { calibration: cal, activations: 'int8', batchSize: 8 });
    } finally {
      cal.dispose();
    }
    live.push(q);
    const qdq = await sn.toONNX(q);
    M.bytes.qdq = qdq.length;
    const qi = await sn.loadONNX(qdq);
    live.push(qi);
    M.quantized = layerCounts(qi, (c) => c.startsWith('Quantized'));
    M.float_layers = layerCounts(qi, (c) => !c.startsWith('Quantized') && c !== 'InputLayer');
    M.out_scale = qi.layers.findLast((l) => l.cfg?.outputScale)?.cfg.outputScale;
    const systems = {
      int8: runner(qi, input, pixels),
      direct: runner(q, input, pixels),
      float32: runner(float, input, pixels),
    };
    const x = signed(AGREE_N * pixels, X_SEED);
    let logits;
    for (const t of threads) {
      await sn.setThreads(t);
      const l = Float32Array.from(systems.int8(x, AGREE_N));
      if (!logits) logits = l;
      else if (maxAbsDiff(l, logits) !== 0) M.thread_mismatch = maxAbsDiff(l, logits);
      if (t === threads[0] && maxAbsDiff(systems.direct(x, AGREE_N), l) !== 0)
        M.direct_mismatch = maxAbsDiff(systems.direct(x, AGREE_N), l);
      for (const b of INT8_IMPORTED_BATCHES) {
        for (const run of Object.values(systems)) {
          await warmUntilSteady(() => run(x, b), P.warm, first.value ? P.first : 0);
          first.value = false;
        }
        // the systems take turns (ROUNDS blocks each), so a burst of other work on the machine hits them alike
        const samples = {};
        const block = {
          reps: Math.ceil(P.time.reps / ROUNDS),
          time: P.time.time / ROUNDS,
          maxTime: P.time.maxTime / ROUNDS,
        };
        for (let r = 0; r < ROUNDS; r++)
          for (const [sys, run] of Object.entries(systems)) {
            const tm = await timeCalls(() => run(x, b), block);
            (samples[sys] ??= []).push(...tm.samples);
          }
        for (const [sys, v] of Object.entries(samples))
          M.simdnet[`${sys}/${t}/b${b}`] = { ms: median(v) * 1e3, reps: v.length };
      }
    }
    M.max_logit = logits.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    M.top1 = top1(systems.float32, systems.int8, pixels, spec.outputShape.at(-1), top1N);
    return { M, payload: { name: def.name, onnx: qdq, input, pixels, x, agreeN: AGREE_N, logits } };
  } catch (e) {
    M.failed = reason(e);
    return { M, payload: null };
  } finally {
    for (const m of live) m.dispose();
  }
}

/**
 * Measures the row (skipped in --quick and when the fixture files are absent). Restores simdnet's
 * thread count to `T`. Never throws: failures are recorded per model or per peer. `plan` and `top1N`
 * (default: the imported row's full plan, TOP1_N images) are for trial runs of this row alone.
 */
export async function measureInt8Imported({ sn, root, quick, T, log, elapsed, plan = undefined, top1N = TOP1_N }) {
  const R = { batches: INT8_IMPORTED_BATCHES, cal_n: CAL_N, tol: PEER_TOL, models: {}, peers: {} };
  if (quick) {
    R.skipped = 'not in --quick';
    return R;
  }
  const P = plan ?? importedPlan(false);
  const dir = join(root, 'test', 'fixtures', 'onnx');
  R.threads = [...new Set([1, Math.min(2, T)])];
  let manifest = {};
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    R.failed = `cannot read ${join(dir, 'manifest.json')}: ${reason(e)}`;
    return R;
  }
  const payloadModels = [];
  const first = { value: true };
  for (const def of MODELS) {
    const spec = manifest[def.name];
    const file = join(dir, spec?.file ?? `${def.name}.onnx`);
    if (!spec || !existsSync(file)) {
      R.models[def.name] = { label: def.label, skipped: `${file} absent (scripts/fixtures/export_onnx.py --int8)` };
      log(`int8 imported ${def.name}: skipped (${R.models[def.name].skipped})`);
      continue;
    }
    const { M, payload } = await simdnetModel(sn, def, spec, file, R.threads, P, first, top1N);
    R.models[def.name] = M;
    if (M.failed) {
      log(`int8 imported ${def.name} failed: ${M.failed}`);
      continue;
    }
    payloadModels.push({ ...payload, batches: INT8_IMPORTED_BATCHES });
    log(
      `int8 imported ${def.name} simdnet: ${Object.entries(M.simdnet)
        .map(([k, v]) => `${k} ${v.ms.toFixed(2)} ms`)
        .join(', ')}; top-1 agreement ${(100 * M.top1.agree).toFixed(1)} % (${elapsed()})`,
    );
  }
  try {
    await sn.setThreads(T);
  } catch (e) {
    R.failed = `setThreads(${T}): ${reason(e)}`;
  }
  if (payloadModels.length === 0) return R;
  const defs = [
    ...R.threads.map((t) => ({ id: `ort-web-${t}`, label: 'onnxruntime-web', variant: 'ort-web', threads: t })),
    { id: 'ort-node', label: 'onnxruntime-node', variant: 'ort-node', threads: 1 },
  ];
  for (const def of defs) {
    const payload = { plan: P, models: payloadModels, batches: INT8_IMPORTED_BATCHES, tol: PEER_TOL };
    const r = await runPeer(
      { ...def, peer: 'imported', budget: 300 },
      { root, quick, T, payload: { ...payload, nodeThreads: R.threads } },
    );
    R.peers[def.id] = r;
    log(
      `int8 imported ${def.id}: ${payloadModels
        .map((m) => {
          const a = r[`${m.name}/agree`];
          return `${m.name} agree ${a?.rel_diff !== undefined ? a.rel_diff.toExponential(1) : `failed (${a?.failed ?? 'no answer'})`}`;
        })
        .join('; ')} (${elapsed()})`,
    );
  }
  return R;
}

/** One cell's peer measurement (undefined when not measured). */
const peerCell = (R, id, model, t, b) => R.peers[id]?.[`${model}/${t}/b${b}`];

/** Rows { model, t, b, int8, float32, web, node } of the measured cells (ratios: other ms / int8 ms). */
function cells(R) {
  const rows = [];
  for (const [name, M] of Object.entries(R.models)) {
    if (M.skipped || M.failed) continue;
    for (const b of M.batches)
      for (const t of R.threads) {
        const s = (k) => M.simdnet[`${k}/${t}/b${b}`];
        const w = peerCell(R, `ort-web-${t}`, name, t, b);
        const n = peerCell(R, 'ort-node', name, t, b);
        rows.push({ name, label: M.label, t, b, int8: s('int8'), direct: s('direct'), float32: s('float32'), w, n });
      }
  }
  return rows;
}

/** The row's targets, each with ok and the figures behind it. */
export function int8ImportedTargets(R) {
  const rows = cells(R);
  const ratio = (r, o) => (r.int8 && o && !o.failed ? o.ms / r.int8.ms : undefined);
  const fmt = (r, v) => `${r.label} b${r.b} ${r.t}T ${v === undefined ? 'not measured' : fmtX(v)}`;
  const check = (name, key, want) => {
    const vs = rows.map((r) => ratio(r, r[key]));
    return {
      name,
      ok: rows.length > 0 && vs.every((v) => v !== undefined && v >= want),
      detail: rows.map((r, i) => fmt(r, vs[i])).join(', '),
    };
  };
  return rows.length === 0
    ? []
    : [
        check(`imported int8 ≥ ${FLOAT_FACTOR}× simdnet float32`, 'float32', FLOAT_FACTOR),
        check(`imported int8 ≥ ${WEB_FACTOR}× onnxruntime-web on the same QDQ file at equal threads`, 'w', WEB_FACTOR),
      ];
}

/** The row's table (failed cells numbered into `notes`). */
function table(R, rows, notes, out) {
  const ver = (id) => R.peers[id]?.info?.version ?? '';
  out(
    `| model | batch | threads | int8 ms | int8 direct ms | float32 ms | × float32 | ort-web ${ver('ort-web-1')} ms | × ort-web | ort-node ${ver('ort-node')} ms | × ort-node |`,
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const show = msCell(notes);
  const x = (s, o) => (s && o && !o.failed ? fmtX(o.ms / s.ms) : '—');
  for (const r of rows)
    out(
      `| ${r.label} | ${r.b} | ${r.t} | ${fmtMs(r.int8?.ms)} | ${fmtMs(r.direct?.ms)} | ${fmtMs(r.float32?.ms)} | ` +
        `${x(r.int8, r.float32)} | ${show(r.w)} | ${x(r.int8, r.w)} | ${show(r.n)} | ${x(r.int8, r.n)} |`,
    );
  out();
  out(
    '"int8": the QDQ file imported back by sn.loadONNX (the file the onnxruntimes run); "int8 direct": the model ' +
      `sn.quantize returned; calibration: ${R.cal_n} seeded random images in [-1, 1]. "× X": X ms / int8 ms.`,
  );
  out();
}

/** The row's markdown: table, one line per model, notes and targets. */
export function int8ImportedMarkdown(R) {
  if (!R) return [];
  const lines = [
    '',
    '### Imported int8 (QDQ) models: simdnet int8 vs simdnet float32 and onnxruntime on the same QDQ file',
    '',
  ];
  const out = (s = '') => lines.push(s);
  if (R.skipped) return [...lines, `skipped (${R.skipped})`];
  if (R.failed) out(`failed: ${R.failed}`);
  const rows = cells(R);
  const notes = [];
  if (rows.length > 0) table(R, rows, notes, out);
  for (const [name, M] of Object.entries(R.models)) {
    if (M.skipped || M.failed) {
      out(`- ${M.label}: ${M.skipped ? `skipped (${M.skipped})` : `simdnet failed: ${M.failed}`}`);
      continue;
    }
    const mb = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;
    const agree = Object.keys(R.peers).map((id) => {
      const a = R.peers[id][`${name}/agree`];
      if (a?.rel_diff === undefined) return `${id} failed (${a?.failed ?? 'no answer'})`;
      const steps = M.out_scale ? ` = ${((a.rel_diff * M.max_logit) / M.out_scale).toFixed(1)} output steps` : '';
      return `${id} ${a.rel_diff.toExponential(1)}${steps}${a.ok ? '' : ' (too far: not timed)'}`;
    });
    const t = M.top1;
    out(
      `- ${M.label}: files float32 ${mb(M.bytes.float32)}, QDQ ${mb(M.bytes.qdq)}; top-1 int8 = float32 on ` +
        `${(100 * t.agree).toFixed(1)} % of ${t.n} random images (float32 picks ${t.float_classes} distinct classes; ` +
        `max |int8 − float32| / max |float32 logit| ${t.rel_logit_err.toFixed(3)}); peers vs simdnet int8 on ` +
        `${AGREE_N} images, max |diff| / max |logit| (${M.max_logit.toFixed(2)}), want < ${R.tol}: ${agree.join(', ')}` +
        `${M.thread_mismatch !== undefined ? `; 1 vs 2 threads differ by ${M.thread_mismatch}` : ''}` +
        `${M.direct_mismatch !== undefined ? `; direct vs imported differ by ${M.direct_mismatch}` : ''}`,
    );
    out(`  - int8 layers: ${M.quantized}; float layers: ${M.float_layers}`);
  }
  for (const [i, n] of notes.entries()) out(`[${i + 1}] ${n}`);
  out();
  for (const t of int8ImportedTargets(R)) out(`- ${t.ok ? '✓' : '✗'} ${t.name}: ${t.detail}`);
  return lines;
}
