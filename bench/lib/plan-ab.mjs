// predict with and without its inference plan (src/nn/inference.ts: BatchNormalization folded into the
// convolution before it, Winograd weight transforms kept), in alternating rounds so that the machine's
// drift falls on both alike; medians over every round.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, timeCalls, warmUp } from '../peers/timing.mjs';

/**
 * `calls`: { name: fn } (each fn one whole predict call). Returns { rounds, [name]: { on_s, off_s,
 * gain (off ÷ on) } }; the plan is left on.
 */
export async function planAB(root, quick, calls) {
  const plan = await import(pathToFileURL(join(root, 'dist/nn/inference.js')).href);
  const rounds = quick ? 2 : 3;
  const opts = { reps: 3, time: quick ? 0.2 : 0.8, maxTime: quick ? 2 : 5 };
  const samples = Object.fromEntries(Object.keys(calls).map((k) => [k, { on: [], off: [] }]));
  try {
    for (let i = 0; i < rounds; i++) {
      for (const mode of ['off', 'on']) {
        plan.setInferencePlanEnabled(mode === 'on');
        for (const [k, fn] of Object.entries(calls)) {
          if (i === 0) await warmUp(fn, { calls: 1, time: 0.1, maxTime: 2 });
          samples[k][mode].push(...(await timeCalls(fn, opts)).samples);
        }
      }
    }
  } finally {
    plan.setInferencePlanEnabled(true);
  }
  const out = { rounds };
  for (const [k, s] of Object.entries(samples)) {
    const on = median(s.on),
      off = median(s.off);
    out[k] = { on_s: on, off_s: off, gain: off / on };
  }
  return out;
}
