// The int8 row: the trained seed model of the draw page (web/model/mnist.simdnet) quantized with
// sn.quantize (calibrated on the first 1,000 MNIST training images, int8 activations), against the
// same model in float32 with the 'direct' and 'auto' convolutions: test accuracy, file size, inference
// img/s at batch 128 and latency at batch 1, all threads, timed by the same rule as every other row.
// Never throws: { failed } when something is missing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reason, timeCalls, warmUp } from '../peers/timing.mjs';
import { f1, fmtMs, fmtRate, fmtX } from './format.mjs';

const BATCH = 128;

function accuracy(model, images, labels) {
  const n = labels.length;
  const p = model.predict({ data: images, shape: [n, 28, 28, 1] }, { batchSize: 256 });
  const d = p.dataSync();
  p.dispose();
  let right = 0;
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let k = 1; k < 10; k++) if (d[i * 10 + k] > d[i * 10 + b]) b = k;
    if (b === labels[i]) right++;
  }
  return right / n;
}

async function timed(model, x, n, P) {
  const call = () => {
    const p = model.predict({ data: x.subarray(0, n * 784), shape: [n, 28, 28, 1] }, { batchSize: n });
    p.dataSync();
    p.dispose();
  };
  const lat = n === 1;
  await warmUp(call, lat ? P.latWarm : P.thrWarm);
  const t = await timeCalls(call, lat ? P.lat : P.thr);
  return { imgPerSec: n / t.median, ms: t.median * 1e3, reps: t.reps };
}

/**
 * @param {object} o
 * @param {any} o.sn the library (dist/)
 * @param {any} o.snNode simdnet/node (MNIST reader)
 * @param {string} o.root the project's folder
 * @param {boolean} o.quick 1,000 test images instead of 10,000
 * @param {number} o.T threads
 * @param {any} o.plan timing plan (peers/timing.mjs plan())
 * @param {(s: string) => void} o.log progress log
 * @param {() => string} o.elapsed the run's clock
 */
export async function measureInt8({ sn, snNode, root, quick, T, plan: P, log, elapsed }) {
  try {
    const d = await snNode.loadIdxDir(snNode.defaultMnistDir(), { trainLimit: 1000, testLimit: quick ? 1000 : 10000 });
    const bytes = new Uint8Array(readFileSync(join(root, 'web', 'model', 'mnist.simdnet')));
    const float = sn.loadModel(bytes);
    const cal = sn.tensor(d.train.images, [1000, 28, 28, 1]);
    const q = sn.quantize(float, { calibration: cal, activations: 'int8' });
    cal.dispose();
    await sn.setThreads(T);
    const r = {
      threads: T,
      test_images: d.test.labels.length,
      accuracy: { float32: accuracy(float, d.test.images, d.test.labels), int8: 0 },
      bytes: { float32: sn.saveModel(float).byteLength, int8: sn.saveModel(q).byteLength },
      infer: {},
      latency: {},
    };
    r.accuracy.int8 = accuracy(q, d.test.images, d.test.labels);
    const x = d.test.images;
    for (const [name, model, algo] of [
      ['direct', float, 'direct'],
      ['auto', float, 'auto'],
      ['int8', q, 'direct'],
    ]) {
      sn.setConvAlgorithm(algo);
      r.infer[name] = await timed(model, x, BATCH, P);
      r.latency[name] = await timed(model, x, 1, P);
    }
    sn.setConvAlgorithm('direct');
    float.dispose();
    q.dispose();
    log(
      `simdnet int8 ${T}T: accuracy ${(100 * r.accuracy.int8).toFixed(2)} % (float32 ${(100 * r.accuracy.float32).toFixed(2)} %), ` +
        `file ${r.bytes.int8} B (${fmtX(r.bytes.int8 / r.bytes.float32)} of float32), infer b${BATCH} ` +
        `${fmtRate(r.infer.int8.imgPerSec)} img/s (direct ${fmtRate(r.infer.direct.imgPerSec)}, auto ` +
        `${fmtRate(r.infer.auto.imgPerSec)}), latency ${fmtMs(r.latency.int8.ms)} ms (auto ${fmtMs(r.latency.auto.ms)}) (${elapsed()})`,
    );
    return r;
  } catch (e) {
    log(`simdnet int8: failed: ${reason(e)}`);
    return { failed: reason(e) };
  }
}

/** The int8 targets as rows { target, measured, want, ok }. */
export function int8Targets(r) {
  if (!r || r.failed) return [];
  const points = 100 * (r.accuracy.float32 - r.accuracy.int8);
  const size = r.bytes.int8 / r.bytes.float32;
  const vsDirect = r.infer.int8.imgPerSec / r.infer.direct.imgPerSec;
  const vsAuto = r.infer.int8.imgPerSec / r.infer.auto.imgPerSec;
  return [
    {
      target: 'int8 test accuracy within 0.1 points of float32',
      measured: `${f1(points, 2)} points`,
      ok: points <= 0.1,
    },
    { target: 'int8 file ≤ 0.27× the float32 file', measured: fmtX(size), ok: size <= 0.27 },
    { target: `int8 inference b${BATCH} ≥ 1.5× float32 'direct'`, measured: fmtX(vsDirect), ok: vsDirect >= 1.5 },
    { target: `int8 inference b${BATCH} ≥ 1.0× float32 'auto'`, measured: fmtX(vsAuto), ok: vsAuto >= 1.0 },
    {
      target: "int8 batch-1 latency below float32 'auto'",
      measured: `${fmtMs(r.latency.int8.ms)} vs ${fmtMs(r.latency.auto.ms)} ms`,
      ok: r.latency.int8.ms < r.latency.auto.ms,
    },
  ];
}

/** Markdown lines of the int8 row and its targets. */
export function int8Markdown(r) {
  if (!r) return [];
  if (r.failed) return ['', `## int8 (seed model): failed — ${r.failed}`];
  const row = (label, key, acc, bytes) =>
    `| ${label} | ${acc == null ? '—' : `${(100 * acc).toFixed(2)} %`} | ${bytes ?? '—'} | ` +
    `${fmtRate(r.infer[key].imgPerSec)} | ${fmtMs(r.latency[key].ms)} |`;
  return [
    '',
    `## int8 (seed model, ${r.threads} threads, ${r.test_images} MNIST test images)`,
    '',
    `| model | test accuracy | file bytes | img/s b${BATCH} | ms b1 |`,
    '|---|---|---|---|---|',
    row("float32 'direct'", 'direct', r.accuracy.float32, r.bytes.float32),
    row("float32 'auto'", 'auto', null, null),
    row('int8', 'int8', r.accuracy.int8, r.bytes.int8),
    '',
    ...int8Targets(r).map((t) => `- ${t.ok ? '✓' : '✗'} ${t.target}: ${t.measured}`),
  ];
}
