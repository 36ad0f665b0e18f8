// Timing helpers shared by bench/run.js and the peer processes: warm up, then time whole calls
// (sync or async) and report the median. Every system is timed by the same rule.
import { performance } from 'node:perf_hooks';

/**
 * Calls fn (awaited) at least `calls` times and for at least `time` s (whichever ends later),
 * stopping early past `maxTime` s. V8 and the wasm engines tier up during these calls.
 */
export async function warmUp(fn, { calls = 2, time = 0.5, maxTime = Infinity } = {}) {
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    const el = (performance.now() - t0) / 1000;
    if ((i >= calls && el >= time) || (i >= 1 && el >= maxTime)) return;
    await fn();
  }
}

/**
 * Times whole calls of fn: at least `reps` calls and at least `time` s, at most `maxReps` calls,
 * and no new call once `maxTime` s have passed (after the first). Returns seconds per call:
 * median, best, and every sample, plus the process' CPU time per wall time over the loop.
 */
export async function timeCalls(fn, { reps = 5, time = 1, maxReps = 1000, maxTime = Infinity } = {}) {
  const samples = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (samples.length < maxReps) {
    const el = (performance.now() - t0) / 1000;
    if (samples.length >= reps && el >= time) break;
    if (samples.length >= 1 && el >= maxTime) break;
    const s = performance.now();
    await fn();
    samples.push((performance.now() - s) / 1000);
  }
  const cpu = process.cpuUsage(cpu0),
    wall = (performance.now() - t0) / 1000;
  // CPU seconds of the whole process (all its threads) per wall second: ~ the cores it kept busy
  const cpuPerWall = (cpu.user + cpu.system) / 1e6 / wall;
  return { median: median(samples), best: Math.min(...samples), reps: samples.length, samples, cpuPerWall };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Largest |a[i] - b[i]| (Infinity on NaN or length mismatch). */
export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** One line from an error, for tables ('Kernel ... not registered for backend ...'). */
export function reason(e) {
  const s = String((e && e.message) || e)
    .split('\n')[0]
    .trim();
  return s.length > 160 ? s.slice(0, 157) + '...' : s;
}

/** Warm-up and timing options per kind of measurement, the same for simdnet and every peer. */
export function plan(quick) {
  return quick
    ? {
        latWarm: { calls: 3, time: 0.2, maxTime: 5 },
        lat: { reps: 10, time: 0.3, maxTime: 3 },
        thrWarm: { calls: 1, time: 0.2, maxTime: 5 },
        thr: { reps: 3, time: 0.5, maxTime: 5 },
      }
    : {
        latWarm: { calls: 5, time: 1, maxTime: 10 },
        lat: { reps: 30, time: 2, maxTime: 10 },
        thrWarm: { calls: 2, time: 1, maxTime: 20 },
        thr: { reps: 7, time: 4, maxTime: 20 },
      };
}
