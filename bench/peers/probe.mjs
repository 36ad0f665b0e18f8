// The wasm-SIMD mul+add peak probe of bench/kernels.mjs, as a module (same bytes, same timing rule),
// plus a concurrent variant that runs one probe per worker thread at the same time.
//
//   import { measureProbe, measureProbeThreads } from './peers/probe.mjs';
//   const p = await measureProbe({ minTime: 0.1, reps: 3 });     // { gflops, flops, call }
//   const q = await measureProbeThreads(2, { minTime: 0.2 });    // { gflops (sum), perThread[] }
//
// The probe is a hand-assembled function: PROBE_ACC independent f32x4 accumulators updated as
// acc = acc*b + b (f32x4.mul then f32x4.add: 8 flops per pair), no memory traffic; b = 0.999, so every
// lane converges to 999 (no overflow, no subnormals). See bench/README.md ("The probe") for why the
// multiply sits on the accumulator chain (V8 hoists a loop-invariant a*b out of `acc = a*b + acc`).
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export const PROBE_ACC = 13;
export const PROBE_UNROLL = 2; // mul+add pairs per accumulator per loop trip
const PROBE_B = 0.999;
const ITERS = 1 << 16;

function uleb(n) {
  const o = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    o.push(b);
  } while (n);
  return o;
}
function f32le(x) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...b];
}
function section(id, body) {
  return [id, ...uleb(body.length), ...body];
}
function str(s) {
  const b = [...Buffer.from(s)];
  return [...uleb(b.length), ...b];
}

/** The probe module's bytes: export `probe(iters: i32) -> f32`. */
export function probeModule() {
  const SIMD = (op) => [0xfd, ...uleb(op)];
  const SPLAT = SIMD(0x13),
    ADD = SIMD(0xe4),
    MUL = SIMD(0xe6),
    LANE0 = [...SIMD(0x1f), 0];
  const lget = (i) => [0x20, ...uleb(i)],
    lset = (i) => [0x21, ...uleb(i)];
  const acc = (j) => 1 + j; // local 0 is the i32 iteration count
  const B = 1 + PROBE_ACC;
  const code = [];
  for (let j = 0; j < PROBE_ACC; j++) code.push(0x43, ...f32le(1 + j / 64), ...SPLAT, ...lset(acc(j)));
  code.push(0x43, ...f32le(PROBE_B), ...SPLAT, ...lset(B));
  code.push(0x02, 0x40, 0x03, 0x40); // block, loop
  code.push(...lget(0), 0x45, 0x0d, 1); // if (iters == 0) break
  for (let u = 0; u < PROBE_UNROLL; u++) {
    for (let j = 0; j < PROBE_ACC; j++)
      code.push(...lget(acc(j)), ...lget(B), ...MUL, ...lget(B), ...ADD, ...lset(acc(j)));
  }
  code.push(...lget(0), 0x41, 1, 0x6b, ...lset(0), 0x0c, 0, 0x0b, 0x0b); // iters--, continue; end loop, end block
  code.push(...lget(acc(0)));
  for (let j = 1; j < PROBE_ACC; j++) code.push(...lget(acc(j)), ...ADD);
  code.push(...LANE0, 0x0b);
  const body = [1, ...uleb(PROBE_ACC + 1), 0x7b, ...code]; // one local group: PROBE_ACC+1 v128
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7d]), // type 0: (i32) -> f32
    ...section(3, [1, 0]),
    ...section(7, [1, ...str('probe'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** Flops of one `probe(ITERS)` call. */
export const PROBE_FLOPS = ITERS * PROBE_UNROLL * PROBE_ACC * 8;

/** A ready, warmed-up probe: `call()` runs PROBE_FLOPS flops. Throws if the result is wrong. */
export function createProbe() {
  const bytes = probeModule();
  if (!WebAssembly.validate(bytes)) throw new Error('probe module does not validate (no wasm SIMD?)');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const probe = /** @type {(iters: number) => number} */ (instance.exports.probe);
  const t0 = performance.now();
  let i = 0;
  while (i < 3 || performance.now() - t0 < 200) {
    probe(256);
    i++;
  } // tier up Liftoff → TurboFan
  const r = probe(ITERS);
  const want = (PROBE_ACC * PROBE_B) / (1 - PROBE_B); // each lane converges to 999
  if (!(Math.abs(r - want) < 0.01 * want)) throw new Error(`probe returned ${r}, expected ~${want}`);
  return { call: () => probe(ITERS), flops: PROBE_FLOPS };
}

let shared = null;

/**
 * Single-thread probe GFLOP/s: the best of `reps` batches of >= `minTime` s (kernels.mjs' rule).
 */
export function measureProbe({ minTime = 0.1, reps = 3 } = {}) {
  shared ??= createProbe();
  const { call, flops } = shared;
  let n = 1,
    first;
  for (;;) {
    // calibrate: smallest n with n calls >= minTime
    const t0 = performance.now();
    for (let i = 0; i < n; i++) call();
    const dt = (performance.now() - t0) / 1000;
    if (dt >= minTime) {
      first = dt / n;
      break;
    }
    n = dt > 0 ? Math.max(n + 1, Math.ceil((n * minTime * 1.1) / dt)) : n * 2;
  }
  let best = first;
  for (let r = 1; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) call();
    best = Math.min(best, (performance.now() - t0) / 1000 / n);
  }
  return { gflops: flops / best / 1e9, flops, call };
}

// Worker source for the concurrent probe: builds the module from the bytes it is given, warms up,
// waits at a barrier, then counts calls for `ms` milliseconds.
const WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, ms, flops, barrier } = workerData;
const probe = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports.probe;
const t0 = performance.now();
while (performance.now() - t0 < 200) probe(256);
probe(${ITERS});
const b = new Int32Array(barrier);
Atomics.add(b, 0, 1);
Atomics.notify(b, 0);
while (Atomics.load(b, 1) === 0) Atomics.wait(b, 1, 0, 50);
let calls = 0;
const s = performance.now();
let e = s;
while (e - s < ms) { probe(${ITERS}); calls++; e = performance.now(); }
parentPort.postMessage({ gflops: calls * flops / ((e - s) / 1000) / 1e9 });
`;

/**
 * n probes running at the same time on n worker threads for `minTime` s: the machine's combined
 * wasm-SIMD rate when every thread is busy (on a VM whose vCPUs share cores, well below n × probe).
 */
export async function measureProbeThreads(n, { minTime = 0.3 } = {}) {
  const bytes = probeModule();
  const barrier = new SharedArrayBuffer(8);
  const b = new Int32Array(barrier);
  const workers = [],
    results = [];
  for (let i = 0; i < n; i++) {
    const w = new Worker(WORKER_SRC, {
      eval: true,
      workerData: { bytes, ms: minTime * 1000, flops: PROBE_FLOPS, barrier },
    });
    workers.push(w);
    results.push(
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
    );
  }
  try {
    const t0 = performance.now();
    while (Atomics.load(b, 0) < n) {
      if (performance.now() - t0 > 20000) throw new Error('concurrent probe: workers did not start within 20 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    Atomics.store(b, 1, 1);
    Atomics.notify(b, 1);
    const per = (await Promise.all(results)).map((r) => r.gflops);
    return { threads: n, gflops: per.reduce((a, x) => a + x, 0), perThread: per };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
