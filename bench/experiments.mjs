#!/usr/bin/env node
// Measures the CLI's experiment targets from its own --json lines, wall time from spawn to exit:
//   1. `simdnet train --model fast` for 5 seeds: each ≥ 99.0 % test accuracy within 30 s wall
//      (data loading included), and the mean over the seeds ≥ 99.0 %;
//   2. a 12-trial `simdnet sweep` on a 10,000-image training subset within 10 minutes;
//   3. `simdnet train --model accurate` (seed 1; --accurate-seeds N for more): ≥ 99.6 % test accuracy
//      within 15 minutes wall.
// Prints each figure with ✓ or ✗. Not part of npm test (about 10 minutes on an idle 2-core machine).
// Usage: node bench/experiments.mjs [--seeds N] [--accurate-seeds N] [--skip-fast] [--skip-sweep]
//        [--skip-accurate] [--keep DIR]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    seeds: { type: 'string', default: '5' },
    'skip-fast': { type: 'boolean' },
    'skip-sweep': { type: 'boolean' },
    'accurate-seeds': { type: 'string', default: '1' },
    'skip-accurate': { type: 'boolean' },
    keep: { type: 'string' },
  },
});
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'simdnet.js');
const root = o.keep ?? (await mkdtemp(join(tmpdir(), 'simdnet-experiments-')));
const mark = (ok) => (ok ? '✓' : '✗');
let failed = 0;
const check = (ok, line) => {
  if (!ok) failed++;
  console.log(`${mark(ok)} ${line}`);
};

/** Runs the CLI; resolves with its last stdout line parsed and the wall seconds. */
function runCli(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '',
      err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`simdnet ${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`));
      const lines = out.trim().split('\n');
      resolve({ json: JSON.parse(lines[lines.length - 1]), wall });
    });
  });
}

console.log(
  `machine load average at start: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(', ')}`,
);
if (!o['skip-fast']) {
  const n = Number(o.seeds);
  const accs = [];
  for (let seed = 1; seed <= n; seed++) {
    const { json, wall } = await runCli([
      'train',
      '--model',
      'fast',
      '--seed',
      String(seed),
      '--out',
      join(root, `fast-${seed}`),
      '--overwrite',
      '--json',
    ]);
    accs.push(json.test_accuracy);
    check(
      json.test_accuracy >= 0.99 && wall <= 30,
      `fast seed ${seed}: ${(json.test_accuracy * 100).toFixed(2)} % on ${json.test_examples} test images, ` +
        `${wall.toFixed(1)} s wall (training ${json.seconds.toFixed(1)} s, ${json.cpu_seconds?.toFixed(1)} CPU s; ` +
        `target ≥ 99.00 %, ≤ 30 s; load ${loadavg()[0].toFixed(1)})`,
    );
  }
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, accs.length - 1));
  check(
    mean >= 0.99,
    `fast mean over ${n} seeds: ${(mean * 100).toFixed(2)} % ± ${(sd * 100).toFixed(2)} (target ≥ 99.00 %)`,
  );
}
if (!o['skip-sweep']) {
  const out = join(root, 'sweep');
  await rm(out, { recursive: true, force: true });
  const { json, wall } = await runCli([
    'sweep',
    '--model',
    'fast',
    '--train-limit',
    '10000',
    '--kernel-size',
    '3,5',
    '--filters',
    '16,24,32',
    '--activation',
    'relu,gelu',
    '--out',
    out,
    '--json',
  ]);
  check(
    json.trials.length === 12 && wall <= 600,
    `sweep: ${json.trials.length} trials on 10,000 training images in ${wall.toFixed(0)} s wall ` +
      `(target 12 in ≤ 600 s); best ${(json.best.test_accuracy * 100).toFixed(2)} %; results in ${out}`,
  );
}
if (!o['skip-accurate']) {
  for (let seed = 1; seed <= Number(o['accurate-seeds']); seed++) {
    const { json, wall } = await runCli([
      'train',
      '--model',
      'accurate',
      '--seed',
      String(seed),
      '--out',
      join(root, `accurate-${seed}`),
      '--overwrite',
      '--json',
    ]);
    check(
      json.test_accuracy >= 0.996 && wall <= 900,
      `accurate seed ${seed}: ${(json.test_accuracy * 100).toFixed(2)} % on ${json.test_examples} test images, ` +
        `${wall.toFixed(1)} s wall (training ${json.seconds.toFixed(1)} s, ${json.cpu_seconds?.toFixed(1)} CPU s; ` +
        `target ≥ 99.60 %, ≤ 900 s; load ${loadavg()[0].toFixed(1)})`,
    );
  }
}
if (!o.keep) await rm(root, { recursive: true, force: true });
process.exit(failed > 0 ? 1 : 0);
