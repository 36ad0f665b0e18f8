// The imported-models row: PyTorch-exported ONNX files (test/fixtures/onnx: ResNet-18 at width 16,
// MobileNetV2 at width 0.35, and the full-width ResNet-18 when scripts/fixtures/export_onnx.py --big
// has written it) loaded by sn.loadONNX, against onnxruntime-web (wasm, 1 and 2 threads) and
// onnxruntime-node running the same bytes. Inference only, ms per whole call at batch 1 and 16, for
// simdnet and each peer at 1 and 2 threads. Each peer's logits on 16 random images must be within
// IMPORTED_TOL of simdnet's (max |diff| / max |simdnet logit|) before it times anything.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { maxAbsDiff, reason, timeCalls } from '../peers/timing.mjs';
import { fmtMs, fmtX, msCell } from './format.mjs';
import { countMacs } from './macs.mjs';
import { uniform } from './mnv2.mjs';
import { runPeer } from './peers.mjs';

/** Largest max|peer − simdnet| / max|simdnet logit| before a peer is timed. */
export const IMPORTED_TOL = 1e-3;
export const IMPORTED_BATCHES = [1, 16];
const AGREE_N = 16;
/** Wanted: simdnet at least this many times faster than onnxruntime-web at equal threads. */
const WEB_FACTOR = 1.5;
/** Wanted on the 224×224 torchvision models. */
const ZOO_WEB_FACTOR = 3;

/** The 224×224 torchvision models (scripts/fixtures/export_onnx.py --zoo224): batch 1 and 8. */
const ZOO_BATCHES = [1, 8];
const MODELS = [
  { name: 'resnet18_w12', label: 'ResNet-18 (width 12)' },
  { name: 'mobilenet_v2_w35', label: 'MobileNetV2 (width 0.35)' },
  { name: 'resnet18', label: 'ResNet-18', optional: true, full: true },
  { name: 'resnet50_224', label: 'ResNet-50 224²', optional: true, full: true, batches: ZOO_BATCHES },
  { name: 'mobilenet_v3_large_224', label: 'MobileNetV3-L 224²', optional: true, full: true, batches: ZOO_BATCHES },
  { name: 'efficientnet_b0_224', label: 'EfficientNet-B0 224²', optional: true, full: true, batches: ZOO_BATCHES },
  { name: 'convnext_tiny_224', label: 'ConvNeXt-tiny 224²', optional: true, full: true, batches: ZOO_BATCHES },
  {
    name: 'deeplabv3_mobilenet_v3_large_224',
    label: 'DeepLabV3-MNv3 224²',
    optional: true,
    full: true,
    batches: ZOO_BATCHES,
  },
];

/** Warm-up and timing options per (system, model, batch, threads). */
export function importedPlan(quick) {
  return quick
    ? { first: 1, warm: { calls: 3, time: 0.1, maxTime: 2.5 }, time: { reps: 5, time: 0.15, maxTime: 1 } }
    : { first: 4, warm: { calls: 5, time: 0.3, maxTime: 12 }, time: { reps: 20, time: 1.5, maxTime: 8 } };
}

/**
 * Warm-up until steady: at least `minTime` s, then blocks of calls (each at least `calls` calls and
 * `time` s) until two blocks in a row have a median no more than 10 % below the one before, or
 * `maxTime` s have passed. A fixed warm-up is not enough here: onnxruntime-web's large wasm module
 * runs in V8's baseline tier while its optimized code compiles on the same cores (seen, under load:
 * 15–27 ms per call for ~1.5 s of calls, then 1.6–2.8 ms), so each process' first measurement
 * gets `minTime` = the plan's `first`.
 */
export async function warmUntilSteady(fn, { calls, time, maxTime }, minTime = 0) {
  const t0 = performance.now();
  const el = () => (performance.now() - t0) / 1000;
  while (el() < minTime) await fn();
  let prev = Infinity;
  let steady = 0;
  for (;;) {
    const t = await timeCalls(fn, { reps: calls, time, maxTime: time });
    steady = t.median > 0.9 * prev ? steady + 1 : 0;
    if (steady >= 2 || el() >= maxTime + minTime) return;
    prev = t.median;
  }
}

/** max|a − b| relative to the largest |b| (Infinity on NaN or length mismatch). */
export function relDiff(a, b) {
  let top = 0;
  for (const v of b ?? []) top = Math.max(top, Math.abs(v));
  return maxAbsDiff(a, b) / (top || 1);
}

/**
 * Measures the row: simdnet in this process at 1 and 2 threads, then onnxruntime-web at 1 and at 2
 * threads and onnxruntime-node (1 and 2 threads) each in its own process. Restores simdnet's thread
 * count to `T`. Never throws: failures are recorded per model or per peer.
 */
export async function measureImported({ sn, root, quick, T, log, elapsed, probes }) {
  const P = importedPlan(quick);
  const dir = join(root, 'test', 'fixtures', 'onnx');
  const threads = [...new Set([1, Math.min(2, T)])];
  const R = { tolerance: IMPORTED_TOL, batches: IMPORTED_BATCHES, threads, models: {}, peers: {} };
  // the machine's 1-thread wasm-SIMD peak now, for the fraction of it each whole-model call reaches
  if (probes) R.probe_gflops = probes.take('imported models');
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    R.failed = `cannot read ${join(dir, 'manifest.json')}: ${reason(e)}`;
    return R;
  }
  const maxB = Math.max(...IMPORTED_BATCHES, ...ZOO_BATCHES, AGREE_N);
  const payloadModels = [];
  let first = true;
  for (const def of MODELS) {
    const spec = manifest[def.name];
    const file = join(dir, spec?.file ?? `${def.name}.onnx`);
    if (def.optional && !existsSync(file)) {
      const flag = def.batches ? '--zoo224' : '--big';
      R.models[def.name] = { label: def.label, skipped: `${file} absent (scripts/fixtures/export_onnx.py ${flag})` };
      continue;
    }
    // --quick keeps to the committed fixtures
    if (def.full && quick) {
      R.models[def.name] = { label: def.label, skipped: 'not in --quick' };
      continue;
    }
    const batches = def.batches ?? IMPORTED_BATCHES;
    const M = { label: def.label, simdnet: {}, batches };
    R.models[def.name] = M;
    let model;
    try {
      if (!spec) throw new Error(`${def.name} is not in manifest.json`);
      const input = spec.inputShape.slice(1);
      const pixels = input.reduce((a, b) => a * b, 1);
      const bytes = readFileSync(file);
      M.input = input;
      M.bytes = bytes.length;
      model = await sn.loadONNX(bytes);
      M.params = model.countParams?.();
      const x = uniform(maxB * pixels, 21).map((v) => 2 * v - 1);
      const run = (n) => {
        const p = model.predict({ data: x.subarray(0, n * pixels), shape: [n, ...input] }, { batchSize: n });
        const d = p.dataSync();
        p.dispose();
        return d;
      };
      M.macs = (await countMacs(root, model, input)).total;
      let logits;
      // the 224² models are timed with the default 'direct' convolutions and with 'auto' (Winograd where it pays)
      const algorithms = def.batches ? ['direct', 'auto'] : ['direct'];
      for (const t of threads) {
        await sn.setThreads(t);
        const l = Float32Array.from(run(AGREE_N));
        if (!logits) logits = l;
        // the thread counts must give the same bits (fixed shards)
        else if (maxAbsDiff(l, logits) !== 0) M.thread_mismatch = maxAbsDiff(l, logits);
        for (const algo of algorithms) {
          sn.setConvAlgorithm(algo);
          try {
            if (algo !== 'direct') M.auto_rel_diff = relDiff(run(AGREE_N), logits);
            const into = algo === 'direct' ? M.simdnet : (M.simdnet_auto ??= {});
            for (const b of batches) {
              await warmUntilSteady(() => run(b), P.warm, first ? P.first : 0);
              first = false;
              const tm = await timeCalls(() => run(b), P.time);
              into[`${t}/b${b}`] = { ms: tm.median * 1e3, reps: tm.reps, cpu_per_wall: tm.cpuPerWall };
            }
          } finally {
            sn.setConvAlgorithm('direct');
          }
        }
      }
      let top = 0;
      for (const v of logits) top = Math.max(top, Math.abs(v));
      M.max_logit = top;
      // wasm memory never shrinks: its size is the process' high-water mark so far
      M.wasm_bytes = sn.getEngine().memory.buffer.byteLength;
      log(
        `imported ${def.name} simdnet: ${Object.entries(M.simdnet)
          .map(([k, v]) => `${k} ${v.ms.toFixed(2)} ms`)
          .join(', ')} (${elapsed()})`,
      );
      payloadModels.push({ name: def.name, onnx: bytes, input, pixels, x, agreeN: AGREE_N, logits, batches });
    } catch (e) {
      M.failed = reason(e);
      log(`imported ${def.name} failed: ${M.failed}`);
    } finally {
      model?.dispose();
    }
  }
  try {
    await sn.setThreads(T);
  } catch (e) {
    R.failed = `setThreads(${T}): ${reason(e)}`;
  }
  if (payloadModels.length === 0) return R;
  const mb = payloadModels.reduce((a, m) => a + m.onnx.length, 0) / 2 ** 20;
  const budget = Math.round((quick ? 25 : 120) + mb * (quick ? 0.2 : 3));
  const defs = [
    ...threads.map((t) => ({
      id: `ort-web-${t}`,
      label: 'onnxruntime-web',
      peer: 'imported',
      variant: 'ort-web',
      threads: t,
    })),
    { id: 'ort-node', label: 'onnxruntime-node', peer: 'imported', variant: 'ort-node', threads: 1 },
  ];
  for (const def of defs) {
    const r = await runPeer(
      { ...def, budget },
      {
        root,
        quick,
        T,
        payload: { plan: P, models: payloadModels, batches: IMPORTED_BATCHES, tol: IMPORTED_TOL, nodeThreads: threads },
      },
    );
    R.peers[def.id] = r;
    log(
      `imported ${def.id}: ${payloadModels
        .map((m) => {
          const a = r[`${m.name}/agree`];
          return `${m.name} agree ${a?.rel_diff !== undefined ? a.rel_diff.toExponential(1) : `failed (${a?.failed ?? 'no answer'})`}`;
        })
        .join('; ')} (${elapsed()})`,
    );
  }
  return R;
}

/** ms of one cell ('failed: …' / undefined when not measured). */
function peerCell(R, peerId, model, t, b) {
  const r = R.peers[peerId];
  if (!r) return undefined;
  return r[`${model}/${t}/b${b}`];
}

/** The row's markdown table and target lines. */
export function importedMarkdown(R) {
  const lines = [];
  const out = (s = '') => lines.push(s);
  out('### Imported ONNX models (PyTorch exports), inference: simdnet vs onnxruntime on the same .onnx file');
  out();
  if (R.failed) {
    out(`failed: ${R.failed}`);
    out();
  }
  const ver = (id) => R.peers[id]?.info?.version ?? '';
  const webId = (t) => `ort-web-${t}`;
  out(
    `| model | batch | threads | simdnet ms | 'auto' ms | ort-web ${ver(webId(1))} ms | × ort-web | ort-node ${ver('ort-node')} ms | × ort-node | simdnet × probe | ort-web × probe |`,
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const notes = [];
  const show = msCell(notes);
  const ratio = (s, p) => (s && p && !p.failed ? fmtX(p.ms / s.ms) : '—');
  // GFLOP/s of a call (2 flops a multiply-add of the direct algorithm) over the probe × threads
  const ofProbe = (M, v, t, b) =>
    v && !v.failed && M.macs && R.probe_gflops
      ? ((2 * M.macs * b) / (v.ms * 1e6) / (R.probe_gflops * t)).toFixed(2)
      : '—';
  /** @type {{ model: string, t: number, b: number, web?: number, zoo: boolean }[]} */
  const cmp = [];
  for (const [name, M] of Object.entries(R.models)) {
    if (M.skipped || M.failed) continue;
    for (const b of M.batches ?? R.batches) {
      for (const t of R.threads) {
        const d = M.simdnet[`${t}/b${b}`];
        const a = M.simdnet_auto?.[`${t}/b${b}`];
        // the faster of the two algorithms is what a user who sets 'auto' where it pays gets
        const s = a && d && a.ms < d.ms ? a : d;
        const w = peerCell(R, webId(t), name, t, b);
        const n = peerCell(R, 'ort-node', name, t, b);
        out(
          `| ${M.label} | ${b} | ${t} | ${fmtMs(d?.ms)} | ${a ? fmtMs(a.ms) : '—'} | ${show(w)} | ${ratio(s, w)} | ${show(n)} | ${ratio(s, n)} | ${ofProbe(M, s, t, b)} | ${ofProbe(M, w, t, b)} |`,
        );
        cmp.push({ model: M.label, t, b, web: s && w && !w.failed ? w.ms / s.ms : undefined, zoo: !!M.simdnet_auto });
      }
    }
  }
  out();
  out(
    "\"× peer\": peer ms / simdnet ms (the faster of 'direct' and 'auto' where both ran), how many times faster simdnet is " +
      '(medians of whole calls after warm-up). "× probe": GFLOP/s of the call (2 flops per multiply-add of the direct ' +
      `algorithm, counted from the layers' shapes) over the wasm-SIMD probe (${R.probe_gflops ? `${R.probe_gflops.toFixed(1)} GFLOP/s per thread, taken before the row` : 'not taken'}) × threads.`,
  );
  out();
  for (const [name, M] of Object.entries(R.models)) {
    if (M.skipped) {
      out(`- ${M.label}: skipped (${M.skipped})`);
      continue;
    }
    if (M.failed) {
      out(`- ${M.label}: simdnet failed: ${M.failed}`);
      continue;
    }
    const agree = Object.keys(R.peers).map((id) => {
      const a = R.peers[id][`${name}/agree`];
      return `${id} ${a?.rel_diff !== undefined ? `${a.rel_diff.toExponential(1)}${a.ok ? '' : ' (too far: not timed)'}` : `failed (${a?.failed ?? 'no answer'})`}`;
    });
    out(
      `- ${M.label} (${(M.bytes / 2 ** 20).toFixed(1)} MB, input ${M.input.join('x')}${M.params ? `, ${M.params.toLocaleString('en-US')} params` : ''}, ` +
        `${M.macs ? `${(M.macs / 1e9).toFixed(3)} GMAC per image, ` : ''}wasm memory ${(M.wasm_bytes / 2 ** 20).toFixed(0)} MiB after it${M.auto_rel_diff !== undefined ? `; 'auto' vs 'direct' logits ${M.auto_rel_diff.toExponential(1)}` : ''}): ` +
        `agreement on ${AGREE_N} random images, max |peer − simdnet| / max |logit| (${M.max_logit.toFixed(2)}), want < ${R.tolerance}: ` +
        `${agree.join(', ')}${M.thread_mismatch !== undefined ? `; simdnet 1 vs 2 threads differ by ${M.thread_mismatch}` : ''}`,
    );
  }
  for (const [i, n] of notes.entries()) out(`[${i + 1}] ${n}`);
  out();
  for (const t of importedTargets(R, cmp)) out(`- ${t.ok ? '✓' : '✗'} ${t.name}: ${t.detail}`);
  out();
  return lines;
}

/** The row's two targets, each with ok and the figures behind it. */
export function importedTargets(R, cmp = null) {
  const rows =
    cmp ??
    Object.entries(R.models).flatMap(([name, M]) =>
      M.skipped || M.failed
        ? []
        : (M.batches ?? R.batches).flatMap((b) =>
            R.threads.map((t) => {
              const d = M.simdnet[`${t}/b${b}`];
              const a = M.simdnet_auto?.[`${t}/b${b}`];
              const s = a && d && a.ms < d.ms ? a : d;
              const w = peerCell(R, `ort-web-${t}`, name, t, b);
              return {
                model: M.label,
                t,
                b,
                web: s && w && !w.failed ? w.ms / s.ms : undefined,
                zoo: !!M.simdnet_auto,
              };
            }),
          ),
    );
  const fmt = (r) => `${r.model} b${r.b} ${r.t}thr ${r.web === undefined ? 'not measured' : fmtX(r.web)}`;
  const small = rows.filter((r) => !r.zoo);
  const zoo = rows.filter((r) => r.zoo);
  const all = small.filter((r) => r.web !== undefined);
  const b1 = small.filter((r) => r.b === 1);
  const b1ok = b1.filter((r) => r.web !== undefined);
  const out = [
    {
      name: `imported models: ≥ ${WEB_FACTOR}× onnxruntime-web at equal threads`,
      ok: all.length === small.length && small.length > 0 && all.every((r) => r.web >= WEB_FACTOR),
      detail: small.map(fmt).join(', '),
    },
    {
      name: "imported models: batch-1 latency below onnxruntime-web's",
      ok: b1ok.length === b1.length && b1.length > 0 && b1ok.every((r) => r.web > 1),
      detail: b1.map(fmt).join(', '),
    },
  ];
  if (zoo.length > 0)
    out.push({
      name: `224² torchvision models: ≥ ${ZOO_WEB_FACTOR}× onnxruntime-web at equal threads`,
      ok: zoo.every((r) => r.web !== undefined && r.web >= ZOO_WEB_FACTOR),
      detail: zoo.map(fmt).join(', '),
    });
  return out;
}
