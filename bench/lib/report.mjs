// The report: markdown tables (main comparison, targets, probe fractions, batch sweep, memory,
// agreement, noise) and the JSON file with every figure and the markdown.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { AGREE_TOL, BATCH, INFER_FLOP, MB, TRAIN_FLOP, gflops } from './constants.mjs';
import { f1, fmtMs, fmtRate, fmtX } from './format.mjs';
import { loadavg } from './machine.mjs';
import { importedMarkdown, importedTargets } from './imported.mjs';
import { mnv2Markdown } from './mnv2.mjs';

/**
 * The markdown report as lines.
 * @param {object} R results: simdnet, peers, sweep, fractions, memory, agreement, targets, probe, drift
 * @param {object} ctx { machine, quick, T, probes (ProbeLog), probeThreads, staleNote, elapsed }
 */
export function markdown(R, { machine, quick, T, probes, probeThreads, staleNote, elapsed }) {
  const lines = [];
  const out = (s = '') => lines.push(s);
  const S = R.simdnet;
  const peerIds = Object.keys(R.peers);
  const colName = (id) => {
    const r = R.peers[id];
    const thr = r.info?.threads;
    return `${r.label}${r.info?.version ? ` ${r.info.version}` : ''}${
      thr !== undefined && thr !== 1 ? ` (${thr} thr)` : id.startsWith('ort-web') && thr === 1 ? ' (1 thr)' : ''
    }`;
  };
  out(
    `## simdnet vs peers — seed model, same weights, ${machine.cpu} (${machine.cores} threads), Node ${machine.node}${quick ? ', --quick' : ''}`,
  );
  out();
  out(
    'Values: img/s (higher is better) or ms (lower is better), medians of whole calls after warm-up. "× peer": how many times ' +
      `faster simdnet is than that peer — with ${T} threads, and (in brackets) with 1 thread.`,
  );
  out();
  const A = R.simdnetAuto;
  const X = R.relaxed?.train ? R.relaxed : null;
  const head = [
    'metric',
    'simdnet 1 thr',
    `simdnet ${T} thr`,
    ...(A ? [`simdnet 'auto' ${T} thr`] : []),
    ...(X ? [`simdnet relaxed ${X.threads} thr`] : []),
  ];
  for (const id of peerIds) {
    const short = R.peers[id].label.replace('tfjs-backend-', 'tfjs-').replace('onnxruntime-', 'ort-');
    head.push(colName(id), `× ${short}${id === 'ort-web-mt' ? ` ${T}thr` : ''}`);
  }
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const notes = [];
  const cell = (id, k, fmt) => {
    const v = R.peers[id][k];
    if (!v) return '—';
    if (v.failed) {
      notes.push(`${colName(id)}, ${k}: failed: ${v.failed}`);
      return `failed [${notes.length}]`;
    }
    if (v.na) return 'n/a';
    let s = fmt(v);
    if (v.note) {
      notes.push(`${colName(id)}, ${k}: ${v.note}`);
      s += ` [${notes.length}]`;
    }
    return s;
  };
  const row = (metric, snFmt, k, valOf, ratio) => {
    const c = [metric, snFmt(S[k][1]), snFmt(S[k][T]), ...(A ? [snFmt(A[k])] : []), ...(X ? [snFmt(X[k])] : [])];
    for (const id of peerIds) {
      const v = R.peers[id][k];
      c.push(cell(id, k, (x) => (k === 'latency' ? fmtMs(valOf(x)) : fmtRate(valOf(x)))));
      c.push(v && !v.failed && !v.na ? `${fmtX(ratio(S[k][T], v))} (${fmtX(ratio(S[k][1], v))})` : '—');
    }
    out(`| ${c.join(' | ')} |`);
  };
  row(
    `training img/s, batch ${BATCH}`,
    (s) => fmtRate(s.imgPerSec),
    'train',
    (v) => v.imgPerSec,
    (s, v) => s.imgPerSec / v.imgPerSec,
  );
  row(
    `inference img/s, batch ${BATCH}`,
    (s) => fmtRate(s.imgPerSec),
    'infer',
    (v) => v.imgPerSec,
    (s, v) => s.imgPerSec / v.imgPerSec,
  );
  row(
    'latency ms, batch 1',
    (s) => fmtMs(s.ms),
    'latency',
    (v) => v.ms,
    (s, v) => v.ms / s.ms,
  );
  out();
  if (A) {
    out(
      `simdnet columns: the default 'direct' algorithm, and sn.setConvAlgorithm('auto') (Winograd F(4,3) and F(4,5), F(2,3) on small 3x3 outputs, ` +
        `on the layers where it pays); 'auto' softmax within ${A.max_abs_diff_vs_direct.toExponential(1)} ` +
        `of 'direct' on 8 images. "× peer" compares the 'direct' column.` +
        (A.transforms
          ? ` predict keeps the Winograd weight transforms while the weights do not change: ×${f1(A.transforms.b1.gain, 2)} ` +
            `at batch 1, ×${f1(A.transforms.batch.gain, 2)} at batch ${BATCH} against transforming on every call ` +
            `(${A.transforms.rounds} alternating rounds, medians).`
          : ''),
    );
    out();
  }
  if (X) {
    out(
      `simdnet relaxed: ready({ relaxed: true }) in its own process (node --experimental-wasm-relaxed-simd), fused ` +
        `multiply-add in the GEMM microkernel, 'direct' algorithm; not bit-reproducible across CPUs; softmax within ` +
        `${X.max_abs_diff_vs_direct.toExponential(1)} of the default build.`,
    );
    out();
  } else if (R.relaxed) {
    out(`simdnet relaxed: ${R.relaxed.na ? `not available: ${R.relaxed.na}` : `failed: ${R.relaxed.failed}`}.`);
    out();
  }
  for (const [i, n] of notes.entries()) out(`[${i + 1}] ${n}`);
  if (notes.length) out();
  if (R.mnv2) for (const l of mnv2Markdown(R.mnv2)) out(l);
  if (R.imported) for (const l of importedMarkdown(R.imported)) out(l);

  if (R.targets.length) {
    out('### Targets');
    out();
    out('| target | measured | want | | shortfall |');
    out('|---|---|---|:-:|---|');
    for (const t of R.targets)
      out(
        `| ${t.target} | ${t.measured} | ${t.want} | ${t.ok === null ? '?' : t.ok ? '✓' : '✗'} | ${t.shortfall ?? ''} |`,
      );
    out();
  }

  if (R.layers?.length) {
    const L = R.layers;
    out(
      `### Seed-model conv layers, batch ${L[0].batch}, ${L[0].threads} threads: effective GFLOP/s (direct-convolution flops ÷ time) ` +
        'and its multiple of the probe × threads',
    );
    out();
    out(
      'Backward = input, weight and bias gradients (best fwd+bwd call − best fwd call, 2× the forward flops). > 1.0× means the ' +
        "fast algorithm beat the direct kernel's ceiling.",
    );
    out();
    out(
      '| layer | algorithm | fwd ms | fwd GFLOP/s | fwd × probe | bwd ms | bwd GFLOP/s | bwd × probe | probe GFLOP/s |',
    );
    out('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const l of L) {
      out(
        `| ${l.layer} | ${l.algorithm} | ${fmtMs(l.fwd_ms)} | ${f1(l.fwd_gflops)} | ${f1(l.fwd_x_probe, 2)} | ` +
          `${l.bwd_ms == null ? '—' : fmtMs(l.bwd_ms)} | ${f1(l.bwd_gflops)} | ${f1(l.bwd_x_probe, 2)} | ${f1(l.probe_gflops)} |`,
      );
    }
    out();
  }

  if (R.fractions.length) {
    out(
      `### Fraction of the wasm-SIMD peak probe (useful FLOPs: ${(TRAIN_FLOP / 1e6).toFixed(1)} MFLOP per trained image, ` +
        `${(INFER_FLOP / 1e6).toFixed(1)} MFLOP per inferred image)`,
    );
    out();
    out(
      `Probe: ${f1(R.probe.single_start)} GFLOP/s on 1 thread at the start; ${f1(probeThreads.gflops)} GFLOP/s with ${T} probes running at once. ` +
        'Each phase is paired with a 1-thread probe taken just before it; fraction = GFLOP/s ÷ (probe × threads).',
    );
    out();
    out(
      '| phase | threads | img/s | GFLOP/s | probe GFLOP/s | fraction of probe × threads | of the concurrent probe | cores busy (CPU s ÷ wall s) |',
    );
    out('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const f of R.fractions) {
      const conc = f.fraction_of_concurrent_probe !== undefined ? f1(f.fraction_of_concurrent_probe, 2) : '';
      out(
        `| ${f.phase} | ${f.threads} | ${fmtRate(f.img_per_s)} | ${f1(f.gflops)} | ${f1(f.probe_gflops)} | ${f1(f.fraction, 2)} | ${conc} | ` +
          `${f1(f.cpu_per_wall, 2)} |`,
      );
    }
    out();
  }

  if (R.sweep.length) {
    out(`### simdnet, how cost grows with the batch (${T} threads)`);
    out();
    out(
      '| batch | inference img/s | ms per call | GFLOP/s | fraction | training img/s | ms per step | GFLOP/s | fraction |',
    );
    out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of R.sweep) {
      out(
        `| ${s.batch} | ${fmtRate(s.infer.imgPerSec)} | ${fmtMs(s.infer.median_s * 1e3)} | ${f1(gflops(s.infer.imgPerSec, INFER_FLOP))} | ` +
          `${f1(s.infer_fraction, 2)} | ${fmtRate(s.train.imgPerSec)} | ${fmtMs(s.train.median_s * 1e3)} | ` +
          `${f1(gflops(s.train.imgPerSec, TRAIN_FLOP))} | ${f1(s.train_fraction, 2)} |`,
      );
    }
    out();
  }

  const M = R.memory;
  if (M.wasm_bytes) {
    out(`### Memory while training at batch ${BATCH} (${T} threads)`);
    out();
    out(
      `wasm memory ${f1(MB(M.wasm_bytes))} MB; process RSS peak ${f1(MB(M.rss_peak_bytes), 0)} MB (sampled every 5 ms; ` +
        `${f1(MB(M.rss_before_simdnet_bytes), 0)} MB before simdnet started; OS high-water mark so far ${f1(MB(M.max_rss_os_bytes), 0)} MB).`,
    );
    out();
  }

  if (Object.keys(R.agreement).length) {
    out('### Agreement (same weights, 8 MNIST test images, softmax outputs)');
    out();
    out(`| peer | max |peer − simdnet| | within ${AGREE_TOL} |`);
    out('|---|---:|:-:|');
    for (const [id, a] of Object.entries(R.agreement)) {
      out(
        `| ${colName(id)}${a.checked ? '' : ' (info)'} | ${a.failed ? `failed: ${a.failed}` : a.max_abs_diff.toExponential(2)} | ` +
          `${a.failed ? '?' : a.ok ? '✓' : '✗'} |`,
      );
    }
    out();
  }

  const busy = [`simdnet ${f1(S.infer[T].cpu_per_wall, 2)}`];
  for (const id of peerIds) {
    if (R.peers[id].infer?.cpu_per_wall !== undefined)
      busy.push(`${colName(id)} ${f1(R.peers[id].infer.cpu_per_wall, 2)}`);
  }
  out(`Cores kept busy during batch-${BATCH} inference (process CPU s ÷ wall s): ${busy.join(', ')}.`);
  const ps = probes.checks.map((p) => p.gflops);
  const drift = R.drift && !R.drift.failed ? Object.entries(R.drift) : null;
  const driftText = drift
    ? `; simdnet re-measured after the peers (img/s, before → after): ${drift
        .map(([k, d]) => `${k.replace(/_\d+$/, '')} b${BATCH} ${d.threads} thr ${fmtRate(d.start)} → ${fmtRate(d.end)}`)
        .join(', ')}.`
    : '.';
  out(
    `Noise: the 1-thread probe ranged ${f1(Math.min(...ps))}–${f1(Math.max(...ps))} GFLOP/s over ${ps.length} checks in this run` +
      driftText +
      ` Load average at start ${machine.loadavg_start.join(' ')}, at end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}. Total ${elapsed()}.`,
  );
  const moved = drift ? drift.filter(([, d]) => Math.abs(d.end / d.start - 1) > 0.15) : [];
  if (moved.length) {
    const worst = Math.max(...moved.map(([, d]) => Math.abs(d.end / d.start - 1)));
    out(
      `WARNING: ${moved.map(([k, d]) => `${k.replace(/_\d+$/, '')} ${d.threads} thr`).join(', ')} moved > 15 % between the two ` +
        `measurements: the tables use the first; treat those figures (and targets built on them) as ±${Math.round(worst * 100)} %.`,
    );
  }
  if (staleNote) out(`WARNING: ${staleNote}.`);
  return lines;
}

/** Writes every figure of the run, and the markdown, as JSON. */
export function writeJson(file, R, { machine, quick, T, data, probes, failed, seconds, lines }) {
  const strip = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'samples' || k === 'probs' ? undefined : v)));
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        machine: { ...machine, loadavg_end: loadavg() },
        quick,
        flop_per_image: { inference: INFER_FLOP, training: TRAIN_FLOP },
        threads: T,
        data: data.source,
        probe: { ...R.probe, checks: probes.checks },
        simdnet: strip(R.simdnet),
        simdnet_auto: R.simdnetAuto ? strip(R.simdnetAuto) : null,
        simdnet_relaxed: R.relaxed ?? null,
        conv_layers: R.layers ?? [],
        peers: strip(R.peers),
        sweep: strip(R.sweep),
        fractions: R.fractions,
        memory: R.memory,
        agreement: R.agreement,
        targets: R.targets,
        drift: R.drift,
        mobilenetv2: R.mnv2 ? strip(R.mnv2) : null,
        imported: R.imported ? { ...strip(R.imported), targets: importedTargets(R.imported) } : null,
        simdnet_failed: failed,
        elapsed_s: seconds,
        markdown: lines.join('\n'),
      },
      null,
      2,
    )}\n`,
  );
}
