#!/usr/bin/env node
// Soak test of the library (not a unit test): a small model trains for 20,000 steps and answers
// 100,000 predict calls while wasm memory (arena live bytes, high-water mark, memory size) and
// process RSS are sampled (each after a full GC). After warm-up every arena figure must stay exactly flat and RSS within a
// small band; the run prints the samples' summary and exits 1 when a figure grows.
//
//   npm run build && node bench/soak.mjs [--steps N] [--predicts N] [--threads N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as sn from '../dist/index.js';
import * as adv from '../dist/advanced.js';

const { values: o } = parseArgs({
  options: {
    steps: { type: 'string' },
    predicts: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
const STEPS = Number(o.steps ?? 20000),
  PREDICTS = Number(o.predicts ?? 100000),
  THREADS = Number(o.threads ?? 1);
for (const [k, v] of [
  ['steps', STEPS],
  ['predicts', PREDICTS],
  ['threads', THREADS],
]) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    console.error(`soak: --${k} must be a positive integer`);
    process.exit(1);
  }
}
const keepAlive = setInterval(() => {}, 1 << 30); // the pool's workers are unref'd
await sn.ready({ threads: THREADS });
const arena = adv.getArena();
const L = sn.layers;
const model = sn.sequential({
  seed: 1,
  layers: [
    L.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [12, 12, 1] }),
    L.batchNormalization(),
    L.maxPooling2d({ poolSize: 2 }),
    L.flatten(),
    L.dropout({ rate: 0.1 }),
    L.dense({ units: 4, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

// Seeded data: 256 images of 4 classes (a bright quadrant), batches of 16.
const rng = new sn.Rng(7);
const N = 256,
  B = 16,
  PX = 144;
const xs = new Float32Array(N * PX),
  ys = new Float32Array(N);
for (let i = 0; i < N; i++) {
  const c = i % 4;
  ys[i] = c;
  for (let p = 0; p < PX; p++) {
    const y = Math.floor(p / 12),
      x = p % 12;
    xs[i * PX + p] = rng.uniform() * 0.3 + (y < 6 === c < 2 && x < 6 === (c % 2 === 0) ? 0.7 : 0);
  }
}
const batch = (b) => {
  const s = (b * B) % N;
  return [
    { data: xs.subarray(s * PX, (s + B) * PX), shape: [B, 12, 12, 1] },
    { data: ys.subarray(s, s + B), shape: [B] },
  ];
};

// A full GC before each sample, so the figures are what is retained, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const samples = [];
const sample = (phase, i) =>
  gc() ??
  samples.push({
    phase,
    i,
    live: arena.liveBytes,
    high: arena.highWaterMark,
    memory: sn.getEngine().memory.buffer.byteLength,
    rss: process.memoryUsage().rss,
    heap: process.memoryUsage().heapUsed,
  });

const t0 = performance.now();
let loss = NaN;
for (let s = 0; s < STEPS; s++) {
  const [x, y] = batch(s);
  [loss] = model.trainOnBatch(x, y);
  if (s % Math.max(1, Math.floor(STEPS / 100)) === 0) sample('train', s);
}
sample('train', STEPS);
const tTrain = performance.now() - t0;
const one = { data: xs.subarray(0, PX), shape: [1, 12, 12, 1] };
const t1 = performance.now();
for (let p = 0; p < PREDICTS; p++) {
  sn.tidy(() => {
    model.predict(one);
  });
  if (p % Math.max(1, Math.floor(PREDICTS / 100)) === 0) sample('predict', p);
}
sample('predict', PREDICTS);
const tPredict = performance.now() - t1;

// Flatness: after the first 10 % of each phase (warm-up), the arena figures may not move at all and
// RSS may not drift by more than 16 MiB (GC noise) from its median nor climb 8 MiB between quarters.
const verdicts = [];
for (const phase of ['train', 'predict']) {
  const ss = samples.filter((x) => x.phase === phase);
  const after = ss.slice(Math.floor(ss.length / 10));
  const range = (k) => [Math.min(...after.map((x) => x[k])), Math.max(...after.map((x) => x[k]))];
  const rss = after.map((x) => x.rss).sort((a, b) => a - b);
  const median = rss[Math.floor(rss.length / 2)];
  const drift = Math.max(...rss.map((r) => Math.abs(r - median)));
  // Trend: mean RSS of the last quarter against the second quarter (a leak climbs; GC noise does not).
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const q = Math.max(1, Math.floor(after.length / 4));
  const trend = mean(after.slice(-q).map((x) => x.rss)) - mean(after.slice(q, 2 * q).map((x) => x.rss));
  const v = {
    phase,
    samples: ss.length,
    live: range('live'),
    high: range('high'),
    memory: range('memory'),
    rssMiB: range('rss').map((r) => +(r / 2 ** 20).toFixed(1)),
    rssDriftMiB: +(drift / 2 ** 20).toFixed(1),
    rssTrendMiB: +(trend / 2 ** 20).toFixed(1),
    heapMiB: range('heap').map((r) => +(r / 2 ** 20).toFixed(1)),
  };
  v.flat =
    v.live[0] === v.live[1] &&
    v.high[0] === v.high[1] &&
    v.memory[0] === v.memory[1] &&
    drift <= 16 * 2 ** 20 &&
    trend <= 8 * 2 ** 20;
  verdicts.push(v);
}
model.dispose();
await sn.shutdown();
clearInterval(keepAlive);

const result = {
  steps: STEPS,
  predicts: PREDICTS,
  threads: sn.getThreads(),
  finalLoss: loss,
  trainSeconds: +(tTrain / 1000).toFixed(2),
  stepsPerSecond: Math.round(STEPS / (tTrain / 1000)),
  predictSeconds: +(tPredict / 1000).toFixed(2),
  predictsPerSecond: Math.round(PREDICTS / (tPredict / 1000)),
  verdicts,
};
for (const v of verdicts) {
  console.log(
    `${v.phase.padEnd(8)} ${v.flat ? 'flat ✓' : 'GROWS ✗'}  arena live ${v.live.join('..')} B · high-water ${v.high.join('..')} B · ` +
      `wasm memory ${v.memory.join('..')} B · RSS ${v.rssMiB.join('..')} MiB (drift ±${v.rssDriftMiB} MiB, ` +
      `trend ${v.rssTrendMiB >= 0 ? '+' : ''}${v.rssTrendMiB} MiB) · JS heap ${v.heapMiB.join('..')} MiB over ${v.samples} samples`,
  );
}
console.log(
  `${STEPS} steps in ${result.trainSeconds} s (${result.stepsPerSecond}/s, final loss ${loss.toFixed(4)}); ` +
    `${PREDICTS} predicts in ${result.predictSeconds} s (${result.predictsPerSecond}/s)`,
);
if (o.json) writeFileSync(o.json, JSON.stringify({ result, samples }, null, 2));
process.exitCode = verdicts.every((v) => v.flat) ? 0 : 1;
