#!/usr/bin/env node
// simdnet vs its JavaScript peers on the seed model, in one run on one machine:
//
//   npm run build && node bench/run.js [--quick] [--json FILE]
//
// One process for simdnet (this one) and one child process per peer (bench/peers/child.mjs), so a
// peer that fails, hangs or crashes is reported as "failed: reason" and the run goes on. Every system
// runs the seed model with the SAME weights: sn.seedModel({seed: 1}) → getWeights() into tfjs-layers
// and convnetjs (Keras layout), toONNX() into onnxruntime-web and onnxruntime-node; agreement is
// checked on 8 MNIST test images before anything is compared. Measured:
//   training img/s at batch 128 · inference img/s at batch 128 · latency at batch 1 (medians of
//   whole calls, Float32Array in → Float32Array out, after warm-up) · simdnet's batch sweep
//   (1..256) · the same-run wasm-SIMD peak probe and the fraction of it each simdnet phase reaches ·
//   peak wasm memory and process RSS while training · the performance targets, each ✓/✗.
// Then a second, inference-only row on a MobileNetV2-style model (lib/mnv2.mjs): img/s at batch 32
// and ms at batch 1, simdnet on all threads vs onnxruntime-node, onnxruntime-web, tfjs-backend-wasm.
// Then the int8 row (lib/int8.mjs): the trained seed model quantized by sn.quantize vs float32
// 'direct' and 'auto' — accuracy, file size, img/s at batch 128, latency — with its targets.
// Then the imported-models row (lib/imported.mjs): PyTorch-exported ONNX files through sn.loadONNX vs
// onnxruntime-web and onnxruntime-node on the same files, batch 1 and 16, 1 and 2 threads.
// Then the imported int8 row (lib/int8-imported.mjs, when export_onnx.py --int8 has written its files):
// MobileNetV2 and ResNet-18 at 224x224 quantized by sn.quantize, written as QDQ by toONNX, that file run by
// simdnet (sn.loadONNX), onnxruntime-web and onnxruntime-node, vs simdnet float32; top-1 agreement.
// --quick (CI smoke test, < 3 min): fewer repetitions, tiny steps for the slow peers. Exit code 0
// unless simdnet itself fails (or disagrees with every reference peer). See bench/README.md.
//
// This file is the driver; the parts live in bench/lib: machine.mjs (machine, stale build),
// memory.mjs (RSS sampler), probes.mjs, data.mjs, simdnet.mjs (simdnet's measurements), peers.mjs
// (peer processes, agreement), targets.mjs (probe fractions, targets), report.mjs (markdown, JSON).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { plan, reason } from './peers/timing.mjs';
import { AGREE_TOL } from './lib/constants.mjs';
import { loadData } from './lib/data.mjs';
import { fmtRate, startClock } from './lib/format.mjs';
import { machineInfo, staleBuildNote } from './lib/machine.mjs';
import { RssSampler } from './lib/memory.mjs';
import { agreement, runPeers } from './lib/peers.mjs';
import { measureImported } from './lib/imported.mjs';
import { int8Markdown, measureInt8 } from './lib/int8.mjs';
import { int8ImportedMarkdown, measureInt8Imported } from './lib/int8-imported.mjs';
import { measureLayers } from './lib/layers.mjs';
import { measureRelaxed } from './lib/relaxed.mjs';
import { measureMnv2 } from './lib/mnv2.mjs';
import { ProbeLog } from './lib/probes.mjs';
import { markdown, writeJson } from './lib/report.mjs';
import { SimdnetRunner, loadSimdnet } from './lib/simdnet.mjs';
import { fractions, targets } from './lib/targets.mjs';

// simdnet's thread pool awaits unref'd workers: keep the event loop alive while we await it.
const keepAlive = setInterval(() => {}, 1 << 30);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const JSON_FILE = jsonIdx >= 0 ? args[jsonIdx + 1] : null;
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node bench/run.js [--quick] [--json FILE]');
  process.exit(0);
}
if (jsonIdx >= 0 && (!JSON_FILE || JSON_FILE.startsWith('--'))) {
  console.error('--json needs a file name');
  process.exit(2);
}
for (const a of args) {
  if (a.startsWith('--') && a !== '--quick' && a !== '--json') {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}

const clock = startClock();
const log = (s) => console.log(s);
const machine = machineInfo();

let sn, snNode;
try {
  ({ sn, snNode } = await loadSimdnet(ROOT));
} catch (e) {
  console.error(`cannot load dist/ (${reason(e)}): run \`npm run build\` first.`);
  process.exit(1);
}
const staleNote = staleBuildNote(ROOT);

log(`# simdnet bench — seed model (484,714 params), ${QUICK ? '--quick' : 'full run'}`);
log(
  `machine: ${machine.cpu}, ${machine.cores} threads, ${machine.platform}, Node ${machine.node} (V8 ${machine.v8}); ` +
    `load average ${machine.loadavg_start.join(' ')}`,
);
if (machine.loadavg_start[0] > 1.5) {
  log(
    `WARNING: load average ${machine.loadavg_start[0]} > 1.5: other work is running; ratios within this run still compare, ` +
      'absolute figures will be low.',
  );
}
if (staleNote) log(`WARNING: ${staleNote}`);

const sampler = new RssSampler();
const data = await loadData(snNode);
log(`data: ${data.source}`);

const R = {
  simdnet: {},
  simdnetAuto: null,
  layers: [],
  peers: {},
  sweep: [],
  fractions: [],
  memory: {},
  agreement: {},
  targets: [],
};
const probes = new ProbeLog(QUICK);
const runner = new SimdnetRunner({
  sn,
  root: ROOT,
  data,
  plan: plan(QUICK),
  quick: QUICK,
  probes,
  sampler,
  log,
  elapsed: clock.elapsed,
});
let failedSimdnet = null;
try {
  await runner.measure(R, machine);
} catch (e) {
  failedSimdnet = e;
  console.error(`simdnet FAILED: ${e?.stack || e}`);
}
const T = runner.threads;
if (!failedSimdnet) {
  try {
    R.layers = await measureLayers({ sn, T, quick: QUICK, probes, log, elapsed: clock.elapsed });
  } catch (e) {
    log(`per-layer conv timings failed: ${reason(e)}`);
  }
  // the opt-in relaxed-SIMD build, in its own process (simdnet's default engine here is not relaxed)
  R.relaxed = await measureRelaxed({
    root: ROOT,
    quick: QUICK,
    probs8: runner.reference.probs8,
    log,
    elapsed: clock.elapsed,
  });
}

if (!failedSimdnet) {
  R.peers = await runPeers({
    root: ROOT,
    quick: QUICK,
    T,
    reference: runner.reference,
    data,
    probes,
    log,
    elapsed: clock.elapsed,
  });
  R.mnv2 = await measureMnv2({ sn, root: ROOT, quick: QUICK, T, log, elapsed: clock.elapsed });
  R.int8 = await measureInt8({
    sn,
    snNode,
    root: ROOT,
    quick: QUICK,
    T,
    plan: plan(QUICK),
    log,
    elapsed: clock.elapsed,
  });
  R.imported = await measureImported({ sn, root: ROOT, quick: QUICK, T, log, elapsed: clock.elapsed, probes });
  R.int8Imported = await measureInt8Imported({ sn, root: ROOT, quick: QUICK, T, log, elapsed: clock.elapsed });
  R.drift = await runner.drift(R);
  if (!R.drift.failed) {
    log(
      `re-measured after the peers: ${Object.entries(R.drift)
        .map(([k, d]) => `${k} ${d.threads}T ${fmtRate(d.start)} → ${fmtRate(d.end)} img/s`)
        .join('; ')} (${clock.elapsed()})`,
    );
  }
  const agree = agreement(R.peers, runner.reference.probs8);
  R.agreement = agree.byPeer;
  if (agree.disagrees)
    failedSimdnet = new Error(`simdnet's predictions differ from every reference peer by more than ${AGREE_TOL}`);
  R.fractions = fractions(R, T, runner.probeThreads);
  R.targets = targets(R, T);
}

const ctx = { machine, quick: QUICK, T, probes, probeThreads: runner.probeThreads, staleNote, elapsed: clock.elapsed };
const lines =
  !failedSimdnet || R.simdnet.train
    ? [...markdown(R, ctx), ...int8Markdown(R.int8), ...int8ImportedMarkdown(R.int8Imported)]
    : [];
log('');
for (const l of lines) log(l);

if (JSON_FILE) {
  writeJson(JSON_FILE, R, {
    ...ctx,
    data,
    failed: failedSimdnet ? reason(failedSimdnet) : null,
    seconds: clock.seconds(),
    lines,
  });
  log(`wrote ${JSON_FILE}`);
}

try {
  await sn.shutdown();
} catch {
  /* exiting anyway */
}
await sampler.stop();
clearInterval(keepAlive);
if (failedSimdnet) {
  console.error(`simdnet failed: ${reason(failedSimdnet)}`);
  process.exitCode = 1;
}
