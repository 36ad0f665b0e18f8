#!/usr/bin/env node
// Kernel micro-benchmark: GEMM and conv2d (forward / backward) of the SIMD and scalar wasm builds,
// against a wasm-SIMD mul+add peak probe measured in the same run; the depthwise conv kernel against
// tfjs-backend-wasm's depthwiseConv2d (XNNPACK f32-dwconv, one thread) on the same shapes;
// and, SIMD build only, the seed model's
// 3x3 layers on the direct kernels vs Winograd F(2x2,3x3) and F(4x4,3x3) as effective GFLOP/s
// (direct-convolution flops / time), each timed side by side with the probe.
//
//   npm run build && node bench/kernels.mjs [--quick] [--json FILE]
//
// Instantiates the kernel wasm directly from dist/wasm/kernels.bytes.js (one memory per build; buffers
// bump-allocated from heap_base(), 16-byte aligned, 64 bytes of slack after each). Every timed result
// is spot-checked against plain JS loops, so a broken kernel cannot report a fast-looking number.
// See bench/README.md for the columns.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createProbe, PROBE_ACC, PROBE_UNROLL } from './peers/probe.mjs';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const JSON_FILE = jsonIdx >= 0 ? args[jsonIdx + 1] : null;
if (jsonIdx >= 0 && !JSON_FILE) {
  console.error('--json needs a file name');
  process.exit(2);
}
for (const a of args) {
  if (a.startsWith('--') && a !== '--quick' && a !== '--json') {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}
const MIN_TIME = QUICK ? 0.1 : 0.3; // seconds per timed repetition
const WARM_TIME = QUICK ? 0.1 : 0.2; // seconds of small warm-up calls (V8 tiers Liftoff → TurboFan)
const REPS = 3; // best of

let bytesMod, abiMod;
try {
  bytesMod = await import(new URL('../dist/wasm/kernels.bytes.js', import.meta.url).href);
  abiMod = await import(new URL('../dist/wasm/abi.js', import.meta.url).href);
} catch {
  console.error('dist/wasm/kernels.bytes.js or abi.js not found: run `npm run build` first.');
  process.exit(1);
}
const wasmBytes = (build) => Buffer.from(build === 'simd' ? bytesMod.simdBase64 : bytesMod.scalarBase64, 'base64');

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

// Smallest batch size n such that n calls of fn take >= MIN_TIME s.
function calibrate(fn) {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = (performance.now() - t0) / 1000;
    if (dt >= MIN_TIME) return { n, first: dt / n };
    n = dt > 0 ? Math.max(n + 1, Math.ceil((n * MIN_TIME * 1.1) / dt)) : n * 2;
    if (n > 1e7) throw new Error('calibrate: function too fast to time');
  }
}

function batch(fn, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - t0) / 1000 / n;
}

// Best seconds per call of fn over REPS batches of >= MIN_TIME s.
function timeBest(fn) {
  const c = calibrate(fn);
  let best = c.first;
  for (let r = 1; r < REPS; r++) best = Math.min(best, batch(fn, c.n));
  return best;
}

// Like timeBest, but alternates batches of fn with batches of the peak probe, so the kernel and
// the probe it is compared with see the same machine load. Returns both bests.
function timePaired(fn, probe) {
  const ck = calibrate(fn),
    cp = calibrate(probe);
  let best = ck.first,
    bestP = cp.first;
  for (let r = 1; r < REPS; r++) {
    bestP = Math.min(bestP, batch(probe, cp.n));
    best = Math.min(best, batch(fn, ck.n));
  }
  return { sec: best, probeSec: bestP };
}

// Small calls for WARM_TIME seconds (at least 3), then one full-size call.
function warm(small, full) {
  const t0 = performance.now();
  let i = 0;
  while (i < 3 || performance.now() - t0 < WARM_TIME * 1000) {
    small();
    i++;
  }
  full();
}

// ---------------------------------------------------------------------------------------------
// Peak probe: a hand-assembled wasm module, PROBE_ACC independent f32x4 accumulators updated as
// acc = acc*b + b (f32x4.mul then f32x4.add: 8 flops per pair), no memory traffic; b = 0.999, so
// every lane converges to 999 (no overflow, no subnormals).
// Why not the textbook `acc = a*b + acc`: V8's TurboFan value-numbers the loop-invariant a*b into a
// single vmulps, so that loop times adds only (checked with node --print-wasm-code). With the
// multiply on the accumulator's chain, each chain is mul→add (3+3 cycles on this Zen 4), and 2
// pairs/cycle need >= 12 chains in flight: 12 sits exactly at that boundary, 13 (+ b = 14 xmm
// registers, no spills) leaves a little margin; 8 ran at ~36 vs ~52 GFLOP/s. Unrolling by 4 or 8
// ran slower than by 2 here. A well-blocked GEMM, whose multiplies are off the chain, can still
// edge a few % above this probe.
// ---------------------------------------------------------------------------------------------

// The probe module itself lives in ./peers/probe.mjs (shared with bench/run.js).
async function measureProbe() {
  const p = createProbe();
  warm(
    () => p.call(),
    () => p.call(),
  );
  const sec = timeBest(p.call);
  return { call: p.call, flops: p.flops, gflops: p.flops / sec / 1e9 };
}

// ---------------------------------------------------------------------------------------------
// Kernel instances
// ---------------------------------------------------------------------------------------------

async function instantiateKernels(build) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536 });
  const { instance } = await WebAssembly.instantiate(wasmBytes(build), { env: { memory } });
  const k = /** @type {any} */ (instance.exports);
  const base = Math.ceil(k.heap_base() / 16) * 16;
  let top = base;
  const eng = {
    build,
    k,
    memory,
    reset() {
      top = base;
    },
    alloc(floats) {
      const ptr = top;
      top = ptr + Math.ceil((floats * 4 + 64) / 16) * 16; // 64 bytes of slack after each buffer
      const need = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (need > 0) memory.grow(need);
      new Float32Array(memory.buffer, ptr, floats).fill(0);
      return ptr;
    },
    f32(ptr, n) {
      return new Float32Array(memory.buffer, ptr, n);
    }, // fresh view each time (growth detaches)
    // A Geometry2d struct (assembly/geometry.ts) for the conv/pool kernels.
    geometry(g) {
      const ptr = eng.alloc(abiMod.GEOMETRY2D_BYTES / 4);
      abiMod.writeGeometry2d(new Int32Array(memory.buffer), ptr, g);
      return ptr;
    },
  };
  return eng;
}

// Deterministic pseudo-random fill in [-1, 1).
function fill(view, seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < view.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    view[i] = (s / 4294967296) * 2 - 1;
  }
}

function close(got, want, scale, what) {
  const tol = 1e-4 * Math.max(1, scale);
  if (!(Math.abs(got - want) <= tol)) throw new Error(`CHECK FAILED ${what}: got ${got}, expected ${want}`);
}

// ---------------------------------------------------------------------------------------------
// Full small-case checks against naive JS (odd sizes, all tile tails, strides, padding, stride 2)
// ---------------------------------------------------------------------------------------------

function checkSmall(e) {
  const { k } = e;
  e.reset();
  // GEMM: C (M,N) = bias + A·B, A read transposed through strides, then GEMM_ACC on top.
  {
    const M = 13,
      N = 11,
      K = 17;
    const a = e.alloc(K * M),
      b = e.alloc(K * N),
      bias = e.alloc(N),
      w = e.alloc(k.pack_b_size(K, N)),
      c = e.alloc(M * N);
    fill(e.f32(a, K * M), 1);
    fill(e.f32(b, K * N), 2);
    fill(e.f32(bias, N), 3);
    k.pack_b(w, b, bias, K, N, N, 1);
    k.gemm(c, a, w, M, N, K, 1, M, N, 0); // A stored (K, M): element (i,p) at p*M + i
    const A = e.f32(a, K * M),
      Bv = e.f32(b, K * N),
      bi = e.f32(bias, N);
    let C = e.f32(c, M * N);
    const ref = new Float64Array(M * N);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = bi[j];
        for (let p = 0; p < K; p++) s += A[p * M + i] * Bv[p * N + j];
        ref[i * N + j] = s;
        close(C[i * N + j], s, K, `${e.build} gemm small (${i},${j})`);
      }
    k.gemm(c, a, w, M, N, K, 1, M, N, 1 | 2); // GEMM_ACC | GEMM_RELU
    C = e.f32(c, M * N);
    for (let i = 0; i < M * N; i++)
      close(C[i], Math.max(0, ref[i] + ref[i] - bi[i % N]), K, `${e.build} gemm acc+relu [${i}]`);
  }
  // conv2d forward / backward: N=2, 7x6x3 -> 3x3x5, stride 2, pads 1/1.
  {
    const g = { N: 2, H: 7, W: 6, C: 3, K: 5, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1 };
    g.OH = Math.floor((g.H + 2 - g.KH) / g.SH) + 1;
    g.OW = Math.floor((g.W + 2 - g.KW) / g.SW) + 1;
    runConvChecks(e, g, 4, 1e9);
  }
}

// Allocates and fills a conv problem; `MB` pixel block; sample = how many entries to check (1e9 = all).
function convSetup(e, g, MB) {
  const { k } = e;
  const { N, H, W, C, K, KH, KW, OH, OW } = g;
  const KK = KH * KW * C;
  const p = {
    inp: e.alloc(N * H * W * C),
    weight: e.alloc(KK * K),
    bias: e.alloc(K),
    out: e.alloc(N * OH * OW * K),
    dout: e.alloc(N * OH * OW * K),
    dinp: e.alloc(N * H * W * C),
    dweight: e.alloc(KK * K),
    dbias: e.alloc(K),
    wpack: e.alloc(k.pack_b_size(KK, K)),
    cols: e.alloc(MB * KK),
    wpackT: e.alloc(k.pack_b_size(K, KK)),
    dcols: e.alloc(MB * KK),
    cols2: e.alloc(MB * KK),
    dpack: e.alloc(k.pack_b_size(MB, K)),
  };
  fill(e.f32(p.inp, N * H * W * C), 11);
  fill(e.f32(p.weight, KK * K), 12);
  fill(e.f32(p.bias, K), 13);
  fill(e.f32(p.dout, N * OH * OW * K), 14);
  const geom = e.geometry({ H, W, C, K, KH, KW, SH: g.SH, SW: g.SW, PT: g.PT, PL: g.PL, OH, OW, DH: 1, DW: 1, G: 1 });
  const calls = {
    fwd: (n = N) => k.conv2d_forward(p.out, p.inp, p.weight, p.bias, p.wpack, p.cols, geom, n, MB, 0),
    bwdInput: (n = N) => k.conv2d_backward_input(p.dinp, p.dout, p.weight, p.wpackT, p.dcols, geom, n, MB),
    bwdWeight: (n = N) => k.conv2d_backward_weight(p.dweight, p.dbias, p.dout, p.inp, p.cols2, p.dpack, geom, n, MB),
  };
  return { p, calls };
}

// Checks `sample` entries (spread over the output) of each conv kernel against naive sums.
function checkConv(e, g, p, calls, which, sample) {
  const { N, H, W, C, K, KH, KW, SH, SW, PT, PL, OH, OW } = g;
  const inp = e.f32(p.inp, N * H * W * C),
    wt = e.f32(p.weight, KH * KW * C * K),
    bias = e.f32(p.bias, K);
  const dout = e.f32(p.dout, N * OH * OW * K);
  const pick = (len) => {
    if (sample >= len) return Array.from({ length: len }, (_, i) => i);
    return Array.from({ length: sample }, (_, i) => Math.floor((((i * 2654435761) % 4294967296) / 4294967296) * len));
  };
  const X = (n, ih, iw, c) => (ih < 0 || ih >= H || iw < 0 || iw >= W ? 0 : inp[((n * H + ih) * W + iw) * C + c]);
  const Wt = (kh, kw, c, kk) => wt[((kh * KW + kw) * C + c) * K + kk];
  if (which === 'fwd') {
    calls.fwd();
    const out = e.f32(p.out, N * OH * OW * K);
    for (const idx of pick(out.length)) {
      const kk = idx % K,
        ow = Math.floor(idx / K) % OW,
        oh = Math.floor(idx / K / OW) % OH,
        n = Math.floor(idx / K / OW / OH);
      let s = bias[kk];
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          for (let c = 0; c < C; c++) {
            s += X(n, oh * SH - PT + kh, ow * SW - PL + kw, c) * Wt(kh, kw, c, kk);
          }
      close(out[idx], s, KH * KW * C, `${e.build} conv2d_forward [${idx}]`);
    }
  } else if (which === 'bwdInput') {
    e.f32(p.dinp, N * H * W * C).fill(0); // the backward kernels accumulate
    calls.bwdInput();
    const dinp = e.f32(p.dinp, N * H * W * C);
    for (const idx of pick(dinp.length)) {
      const c = idx % C,
        iw = Math.floor(idx / C) % W,
        ih = Math.floor(idx / C / W) % H,
        n = Math.floor(idx / C / W / H);
      let s = 0;
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const kh = ih - oh * SH + PT,
            kw = iw - ow * SW + PL;
          if (kh < 0 || kh >= KH || kw < 0 || kw >= KW) continue;
          for (let kk = 0; kk < K; kk++) s += dout[((n * OH + oh) * OW + ow) * K + kk] * Wt(kh, kw, c, kk);
        }
      close(dinp[idx], s, K * KH * KW, `${e.build} conv2d_backward_input [${idx}]`);
    }
  } else {
    e.f32(p.dweight, KH * KW * C * K).fill(0);
    e.f32(p.dbias, K).fill(0);
    calls.bwdWeight();
    const dw = e.f32(p.dweight, KH * KW * C * K),
      db = e.f32(p.dbias, K);
    for (const idx of pick(dw.length)) {
      const kk = idx % K,
        c = Math.floor(idx / K) % C,
        kw = Math.floor(idx / K / C) % KW,
        kh = Math.floor(idx / K / C / KW);
      let s = 0;
      for (let n = 0; n < N; n++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            s += X(n, oh * SH - PT + kh, ow * SW - PL + kw, c) * dout[((n * OH + oh) * OW + ow) * K + kk];
          }
      close(dw[idx], s, Math.sqrt(N * OH * OW) * 4, `${e.build} conv2d_backward_weight [${idx}]`);
    }
    for (let kk = 0; kk < K; kk++) {
      let s = 0;
      for (let r = 0; r < N * OH * OW; r++) s += dout[r * K + kk];
      close(db[kk], s, Math.sqrt(N * OH * OW) * 4, `${e.build} conv2d_backward_weight dbias [${kk}]`);
    }
  }
}

function runConvChecks(e, g, MB, sample) {
  const { p, calls } = convSetup(e, g, MB);
  for (const which of ['fwd', 'bwdInput', 'bwdWeight']) checkConv(e, g, p, calls, which, sample);
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

const GEMM_SHAPES = [
  { name: 'conv2 as GEMM', M: 784, N: 32, K: 800 },
  { name: 'dense1 fwd', M: 128, N: 128, K: 3136 },
  { name: 'square', M: 256, N: 256, K: 256 },
];

// Seed model layer 2: 28x28x32 -> 5x5x32, 'same' (pads 2/2), stride 1.
const CONV_N = QUICK ? 8 : 16;
const CONV = { N: CONV_N, H: 28, W: 28, C: 32, K: 32, KH: 5, KW: 5, SH: 1, SW: 1, PT: 2, PL: 2, OH: 28, OW: 28 };
const CONV_KK = CONV.KH * CONV.KW * CONV.C;
const CONV_MB = Math.max(4, Math.floor(32768 / CONV_KK / 4) * 4);
const CONV_FLOPS = 2 * CONV.N * CONV.OH * CONV.OW * CONV.K * CONV.KH * CONV.KW * CONV.C;

// Times fn: paired with the probe for the SIMD build, alone for the scalar build.
// Returns { sec, probeGflops } (probeGflops null when not paired).
function timeKernel(e, fn) {
  if (e.build !== 'simd') return { sec: timeBest(fn), probeGflops: null };
  const r = timePaired(fn, PROBE.call);
  return { sec: r.sec, probeGflops: PROBE.flops / r.probeSec / 1e9 };
}

function benchGemm(e, s) {
  const { k } = e;
  const { M, N, K } = s;
  e.reset();
  const a = e.alloc(M * K),
    b = e.alloc(K * N),
    bias = e.alloc(N),
    w = e.alloc(k.pack_b_size(K, N)),
    c = e.alloc(M * N);
  fill(e.f32(a, M * K), 21);
  fill(e.f32(b, K * N), 22);
  fill(e.f32(bias, N), 23);
  const gemmOnly = (m = M) => k.gemm(c, a, w, m, N, K, K, 1, N, 0);
  const packOnly = (kk = K) => k.pack_b(w, b, bias, kk, N, N, 1);
  const packGemm = (m = M) => {
    k.pack_b(w, b, bias, K, N, N, 1);
    k.gemm(c, a, w, m, N, K, K, 1, N, 0);
  };
  const small = Math.min(M, 8);
  warm(
    () => packOnly(16),
    () => packOnly(),
  );
  const pack = timeBest(() => packOnly());
  warm(
    () => packGemm(small),
    () => packGemm(),
  );
  const withPack = timeKernel(e, () => packGemm());
  warm(
    () => gemmOnly(small),
    () => gemmOnly(),
  );
  const gemm = timeKernel(e, () => gemmOnly());
  // spot-check 64 entries of the timed result
  packGemm();
  const A = e.f32(a, M * K),
    B = e.f32(b, K * N),
    bi = e.f32(bias, N),
    C = e.f32(c, M * N);
  for (let t = 0; t < 64; t++) {
    const i = (t * 7919) % M,
      j = (t * 104729) % N;
    let sum = bi[j];
    for (let p = 0; p < K; p++) sum += A[i * K + p] * B[p * N + j];
    close(C[i * N + j], sum, Math.sqrt(K) * 4, `${e.build} gemm ${M}x${N}x${K} (${i},${j})`);
  }
  return { flops: 2 * M * N * K, gemm, packGemm: withPack, pack };
}

function benchConv(e) {
  e.reset();
  const { p, calls } = convSetup(e, CONV, CONV_MB);
  const out = {};
  for (const which of ['fwd', 'bwdInput', 'bwdWeight']) {
    warm(
      () => calls[which](1),
      () => calls[which](),
    );
    out[which] = timeKernel(e, () => calls[which]());
    checkConv(e, CONV, p, calls, which, 48);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Depthwise conv vs tfjs-backend-wasm (XNNPACK), batch 1, 'same' padding, no bias, one thread each.
// MobileNet-like shapes: 3x3 and 5x5, stride 1 and 2, 32-256 channels.
// ---------------------------------------------------------------------------------------------

const DW_SHAPES = [
  { H: 56, C: 32, K: 3, S: 1 },
  { H: 56, C: 64, K: 3, S: 2 },
  { H: 28, C: 128, K: 3, S: 1 },
  { H: 28, C: 128, K: 3, S: 2 },
  { H: 14, C: 256, K: 3, S: 1 },
  { H: 28, C: 64, K: 5, S: 1 },
  { H: 28, C: 128, K: 5, S: 2 },
  { H: 14, C: 256, K: 5, S: 1 },
];

async function loadTfjsWasm() {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount?.(1);
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
    await tf.ready();
    return { tf, simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), version: tf.version_core };
  } catch (e) {
    console.error(`tfjs-backend-wasm unavailable, depthwise rows run without the peer: ${e.message}`);
    return null;
  }
}

// Best seconds per call of a and b, their batches interleaved so both see the same machine load.
function timeTwo(a, b) {
  const ca = calibrate(a),
    cb = calibrate(b);
  let ba = ca.first,
    bb = cb.first;
  for (let r = 0; r < REPS + 2; r++) {
    ba = Math.min(ba, batch(a, ca.n));
    bb = Math.min(bb, batch(b, cb.n));
  }
  return [ba, bb];
}

function benchDepthwise(e, peer) {
  const k = e.k;
  /** @type {Record<string, any>[]} */
  const out = [];
  for (const s of DW_SHAPES) {
    e.reset();
    const { H, C, K: KS, S } = s;
    const W = H;
    const OH = Math.ceil(H / S),
      OW = OH;
    const total = Math.max((OH - 1) * S + KS - H, 0);
    const PT = Math.floor(total / 2);
    const inp = e.alloc(H * W * C),
      weight = e.alloc(KS * KS * C),
      o = e.alloc(OH * OW * C);
    const x = e.f32(inp, H * W * C),
      w = e.f32(weight, KS * KS * C);
    fill(x, 21);
    fill(w, 22);
    const geom = e.geometry({ H, W, C, K: C, KH: KS, KW: KS, SH: S, SW: S, PT, PL: PT, OH, OW, DH: 1, DW: 1, G: C });
    const ours = () => k.dwconv2d_forward(o, inp, weight, 0, geom, 1, 0, 0, OH);
    warm(ours, ours);
    // Spot check against a plain JS sum.
    const got = e.f32(o, OH * OW * C);
    for (let t = 0; t < 40; t++) {
      const idx = (t * 7919) % (OH * OW * C);
      const c = idx % C,
        ow = Math.floor(idx / C) % OW,
        oh = Math.floor(idx / C / OW);
      let sum = 0;
      for (let kh = 0; kh < KS; kh++)
        for (let kw = 0; kw < KS; kw++) {
          const ih = oh * S - PT + kh,
            iw = ow * S - PT + kw;
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) sum += x[(ih * W + iw) * C + c] * w[(kh * KS + kw) * C + c];
        }
      close(got[idx], sum, KS * KS, `dwconv2d_forward ${JSON.stringify(s)} [${idx}]`);
    }
    const flops = 2 * OH * OW * C * KS * KS;
    /** @type {Record<string, any>} */
    let row = { shape: `${H}×${W}×${C} k${KS} s${S}`, mflop: flops / 1e6 };
    if (peer) {
      const { tf } = peer;
      const xt = tf.tensor4d(Float32Array.from(x), [1, H, W, C]);
      const wt = tf.tensor4d(Float32Array.from(w), [KS, KS, C, 1]);
      const theirs = () => tf.depthwiseConv2d(xt, wt, S, 'same').dispose();
      warm(theirs, theirs);
      const ty = tf.depthwiseConv2d(xt, wt, S, 'same');
      const td = ty.dataSync();
      ty.dispose();
      for (let i = 0; i < td.length; i += 97) close(got[i], td[i], KS * KS, `tfjs-wasm depthwiseConv2d vs ours [${i}]`);
      const [a, b] = timeTwo(ours, theirs);
      row = {
        ...row,
        simd_ms: a * 1e3,
        simd_gflops: flops / a / 1e9,
        tfjs_ms: b * 1e3,
        tfjs_gflops: flops / b / 1e9,
        ratio: b / a,
      };
      xt.dispose();
      wt.dispose();
    } else {
      const a = timeBest(ours);
      row = { ...row, simd_ms: a * 1e3, simd_gflops: flops / a / 1e9 };
    }
    // Backward kernels (simdnet only: tfjs-backend-wasm has no depthwise backward kernels).
    const dy = e.alloc(OH * OW * C),
      dx = e.alloc(H * W * C),
      dw = e.alloc(KS * KS * C);
    fill(e.f32(dy, OH * OW * C), 23);
    const bwdIn = () => k.dwconv2d_backward_input(dx, dy, weight, geom, 1);
    const bwdW = () => k.dwconv2d_backward_weight(dw, 0, dy, inp, geom, 1);
    warm(bwdIn, bwdIn);
    warm(bwdW, bwdW);
    const ti = timeBest(bwdIn),
      tw = timeBest(bwdW);
    out.push({
      ...row,
      bwd_input_ms: ti * 1e3,
      bwd_input_gflops: flops / ti / 1e9,
      bwd_weight_ms: tw * 1e3,
      bwd_weight_gflops: flops / tw / 1e9,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Winograd vs direct on the seed model's 3x3 layers (after the first pool): 14x14, 'same', stride 1
// ---------------------------------------------------------------------------------------------

const WINO_N = QUICK ? 8 : 128;
const WINO_SHAPES = [
  { H: 14, W: 14, C: 32, K: 64 },
  { H: 14, W: 14, C: 64, K: 64 },
];
// Tiles per block, as src/ops/winograd.ts chooses them.
function winoBlock(m, C, K, tiles) {
  const T = (m + 2) ** 2;
  return Math.min(Math.max(4, Math.floor(65536 / (T * (C + K)) / 4) * 4), Math.max(1, tiles));
}

// Every value of a against b within the tile's error bound (test/kernels/winograd.test.ts: KAPPA_4 = 20,
// measured <= 7, times u*9*cin), so a broken or skipped kernel cannot report a fast time.
function checkAll(e, a, b, n, cin, what) {
  const x = e.f32(a, n),
    y = e.f32(b, n);
  const tol = 30 * 2 ** -24 * 9 * cin;
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(x[i] - y[i]) <= tol)) throw new Error(`CHECK FAILED ${what} [${i}]: got ${x[i]}, direct ${y[i]}`);
  }
}

function benchWinograd(e, s) {
  const { k } = e;
  e.reset();
  const N = WINO_N,
    { H, W, C, K } = s;
  const g = { N, H, W, C, K, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: H, OW: W };
  const KK = 9 * C;
  const MB = Math.max(4, Math.floor(32768 / KK / 4) * 4);
  const { p, calls } = convSetup(e, g, MB);
  const geom = e.geometry({ H, W, C, K, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: H, OW: W, DH: 1, DW: 1, G: 1 });
  const back = e.geometry({
    H,
    W,
    C: K,
    K: C,
    KH: 3,
    KW: 3,
    SH: 1,
    SW: 1,
    PT: 1,
    PL: 1,
    OH: H,
    OW: W,
    DH: 1,
    DW: 1,
    G: 1,
  });
  const flops = 2 * N * H * W * K * KK;
  const res = { shape: `N=${N} ${H}×${W}×${C} → ${K} same`, flops, fwd: {}, bwdInput: {}, bwdWeight: {} };
  warm(
    () => calls.fwd(1),
    () => calls.fwd(),
  );
  res.fwd.direct = timeKernel(e, () => calls.fwd());
  warm(
    () => calls.bwdInput(1),
    () => calls.bwdInput(),
  );
  res.bwdInput.direct = timeKernel(e, () => calls.bwdInput());
  warm(
    () => calls.bwdWeight(1),
    () => calls.bwdWeight(),
  );
  res.bwdWeight.direct = timeKernel(e, () => calls.bwdWeight());
  const wref = e.alloc(KK * K);
  e.f32(p.dweight, KK * K).fill(0);
  calls.bwdWeight();
  e.f32(wref, KK * K).set(e.f32(p.dweight, KK * K));
  calls.fwd();
  const dref = e.alloc(N * H * W * C);
  e.f32(p.dinp, N * H * W * C).fill(0);
  calls.bwdInput();
  e.f32(dref, N * H * W * C).set(e.f32(p.dinp, N * H * W * C));
  for (const m of [2, 4]) {
    const tiles = N * Math.ceil(H / m) * Math.ceil(W / m);
    const tb = winoBlock(m, C, K, tiles),
      tbB = winoBlock(m, K, C, tiles);
    const upack = e.alloc(k.winograd_pack_size(m, 3, C, K)),
      upackT = e.alloc(k.winograd_pack_size(m, 3, K, C));
    const wwork = e.alloc(k.winograd_weight_work(m, 3, C, K));
    const work = e.alloc(k.winograd_forward_work(m, 3, tb, C, K)),
      workB = e.alloc(k.winograd_forward_work(m, 3, tbB, K, C));
    const out = e.alloc(N * H * W * K),
      dinp = e.alloc(N * H * W * C);
    // The weight transform is part of every call, as in the op.
    const fwd = (t1 = tiles) => {
      k.winograd_weight(upack, p.weight, wwork, C, K, m, 3, 0);
      k.winograd_forward(out, p.inp, upack, p.bias, work, geom, m, 3, tb, 0, t1, 0, 0, 0);
    };
    const bwd = (t1 = tiles) => {
      k.winograd_weight(upackT, p.weight, wwork, C, K, m, 3, 1);
      k.winograd_forward(dinp, p.dout, upackT, 0, workB, back, m, 3, tbB, 0, t1, 2, 0, 0); // WINO_ACC
    };
    // dW: dU per tile block, then Gᵀ dU G (one shard; the op sums shards first). dbias is not included
    // here (the direct row includes it: a column sum, ~1 % of the time).
    const du = e.alloc((m + 2) ** 2 * C * K),
      dwork = e.alloc(k.winograd_backward_weight_work(m, 3, tb, C, K));
    const gtmp = e.alloc(3 * (m + 2) * K),
      dw = e.alloc(KK * K);
    const bww = (t1 = tiles) => {
      e.f32(du, (m + 2) ** 2 * C * K).fill(0);
      k.winograd_backward_weight(du, p.dout, p.inp, dwork, geom, m, 3, tb, 0, t1, 0, 0);
      k.winograd_weight_grad(dw, du, gtmp, C, K, m, 3);
    };
    warm(
      () => bww(4),
      () => bww(),
    );
    res.bwdWeight[`F${m}`] = timeKernel(e, () => bww());
    e.f32(dw, KK * K).fill(0);
    bww();
    const got = e.f32(dw, KK * K),
      want = e.f32(wref, KK * K);
    const wtol = 50 * 2 ** -24 * N * H * W;
    for (let i = 0; i < KK * K; i++) {
      if (!(Math.abs(got[i] - want[i]) <= wtol))
        throw new Error(`CHECK FAILED winograd F(${m},3) weight gradient [${i}]: got ${got[i]}, direct ${want[i]}`);
    }
    warm(
      () => fwd(4),
      () => fwd(),
    );
    res.fwd[`F${m}`] = timeKernel(e, () => fwd());
    warm(
      () => bwd(4),
      () => bwd(),
    );
    res.bwdInput[`F${m}`] = timeKernel(e, () => bwd());
    fwd();
    checkAll(e, out, p.out, N * H * W * K, C, `winograd F(${m},3) forward ${res.shape}`);
    e.f32(dinp, N * H * W * C).fill(0);
    bwd();
    checkAll(e, dinp, dref, N * H * W * C, K, `winograd F(${m},3) input gradient ${res.shape}`);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const t0 = performance.now();
const PROBE = await measureProbe();
const engines = {};
for (const build of ['simd', 'scalar']) {
  engines[build] = await instantiateKernels(build);
  checkSmall(engines[build]);
}

const results = { simd: { gemm: [], conv: null }, scalar: { gemm: [], conv: null } };
for (const build of ['simd', 'scalar']) {
  for (const s of GEMM_SHAPES) results[build].gemm.push(benchGemm(engines[build], s));
  results[build].conv = benchConv(engines[build]);
}

const PEER = await loadTfjsWasm();
const dwRows = benchDepthwise(engines.simd, PEER);
const winoResults = WINO_SHAPES.map((s) => benchWinograd(engines.simd, s));

const rows = [];
const gf = (flops, sec) => flops / sec / 1e9;
const row = (kernel, shape, flops, ts, tc) =>
  rows.push({
    kernel,
    shape,
    mflop: flops / 1e6,
    simd_ms: ts.sec * 1e3,
    simd_gflops: gf(flops, ts.sec),
    probe_gflops: ts.probeGflops,
    pct_probe: (100 * gf(flops, ts.sec)) / ts.probeGflops,
    scalar_ms: tc.sec * 1e3,
    scalar_gflops: gf(flops, tc.sec),
    speedup: tc.sec / ts.sec,
  });
GEMM_SHAPES.forEach((s, i) => {
  const rs = results.simd.gemm[i],
    rc = results.scalar.gemm[i];
  row('gemm (B pre-packed)', `${s.M}×${s.N}×${s.K} (${s.name})`, rs.flops, rs.gemm, rc.gemm);
  row('pack_b + gemm', `${s.M}×${s.N}×${s.K} (${s.name})`, rs.flops, rs.packGemm, rc.packGemm);
});
const convShape = `N=${CONV.N} 28×28×32 → 5×5×32 same, MB=${CONV_MB}`;
for (const [kind, key] of [
  ['conv2d_forward', 'fwd'],
  ['conv2d_backward_input', 'bwdInput'],
  ['conv2d_backward_weight', 'bwdWeight'],
]) {
  row(kind, convShape, CONV_FLOPS, results.simd.conv[key], results.scalar.conv[key]);
}
const winoRows = [];
for (const r of winoResults) {
  for (const [pass, key] of [
    ['forward', 'fwd'],
    ['input gradient', 'bwdInput'],
    ['weight gradient', 'bwdWeight'],
  ]) {
    const t = r[key];
    const eff = (x) => gf(r.flops, x.sec);
    const probe = Math.min(...Object.values(t).map((x) => x.probeGflops)); // the slowest probe of the three
    winoRows.push({
      shape: r.shape,
      pass,
      mflop: r.flops / 1e6,
      direct_ms: t.direct.sec * 1e3,
      f2_ms: t.F2.sec * 1e3,
      f4_ms: t.F4.sec * 1e3,
      direct_gflops: eff(t.direct),
      f2_gflops: eff(t.F2),
      f4_gflops: eff(t.F4),
      probe_direct: t.direct.probeGflops,
      probe_f2: t.F2.probeGflops,
      probe_f4: t.F4.probeGflops,
      f2_speedup: t.direct.sec / t.F2.sec,
      f4_speedup: t.direct.sec / t.F4.sec,
      direct_vs_probe: eff(t.direct) / t.direct.probeGflops,
      f2_vs_probe: eff(t.F2) / t.F2.probeGflops,
      f4_vs_probe: eff(t.F4) / t.F4.probeGflops,
      probe_min: probe,
    });
  }
}
const probes = [
  ...rows.map((r) => r.probe_gflops),
  ...winoRows.flatMap((r) => [r.probe_direct, r.probe_f2, r.probe_f4]),
];
const probeSummary = { start: PROBE.gflops, min: Math.min(...probes), max: Math.max(...probes) };

const f = (x, d = 1) => x.toFixed(d);
console.log(
  `\nsimdnet kernel bench — Node ${process.version}, V8 ${process.versions.v8}${QUICK ? ', --quick' : ''}; best of ${REPS}, ≥ ${MIN_TIME} s each\n`,
);
console.log(
  `wasm SIMD mul+add probe (${PROBE_ACC} accumulators): ${f(PROBE.gflops)} GFLOP/s at start; ` +
    `${f(probeSummary.min)}–${f(probeSummary.max)} GFLOP/s in the batches interleaved with the SIMD rows`,
);
if (probeSummary.max > 1.25 * probeSummary.min)
  console.log(
    'WARNING: the probe moved > 25 % during the run: the machine is noisy; "% of probe" pairs each row with its own probe batches.',
  );
console.log('correctness: small-case full checks and sampled checks of every timed result passed (simd and scalar)\n');
console.log(
  '| kernel | shape (M×N×K) | MFLOP/call | SIMD ms | SIMD GFLOP/s | probe GFLOP/s | % of probe | scalar ms | scalar GFLOP/s | SIMD/scalar |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.kernel} | ${r.shape} | ${f(r.mflop)} | ${f(r.simd_ms, 2)} | ${f(r.simd_gflops)} | ${f(r.probe_gflops)} | ${f(r.pct_probe, 0)} % | ${f(r.scalar_ms, 2)} | ${f(r.scalar_gflops, 2)} | ${f(r.speedup)}× |`,
  );
}
const packs = GEMM_SHAPES.map((s, i) => {
  const sec = results.simd.gemm[i].pack;
  const bytes = 4 * (s.K * s.N + s.N + engines.simd.k.pack_b_size(s.K, s.N)); // read B + bias, write panels
  return {
    shape: `${s.K}×${s.N}`,
    simd_ms: sec * 1e3,
    simd_gbps: bytes / sec / 1e9,
    scalar_ms: results.scalar.gemm[i].pack * 1e3,
    pct_of_gemm: (100 * sec) / results.simd.gemm[i].gemm.sec,
  };
});
console.log(
  '\npack_b alone (SIMD build): ' +
    packs
      .map(
        (q) => `K×N ${q.shape}: ${f(q.simd_ms, 3)} ms, ${f(q.simd_gbps, 1)} GB/s, ${f(q.pct_of_gemm, 0)} % of its gemm`,
      )
      .join('; '),
);
console.log(
  `\ndepthwise conv, batch 1, 'same', no bias, one thread: dwconv2d_forward (SIMD build) vs tfjs-backend-wasm ` +
    `depthwiseConv2d${PEER ? ` (tfjs ${PEER.version}, XNNPACK, SIMD ${PEER.simd ? 'on' : 'off'})` : ' (not available)'}, batches interleaved\n`,
);
console.log(
  '| shape (H×W×C kernel stride) | MFLOP/call | simdnet ms | simdnet GFLOP/s | tfjs-wasm ms | tfjs-wasm GFLOP/s | tfjs-wasm ms / simdnet ms | backward-input ms (GFLOP/s) | backward-weight ms (GFLOP/s) |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of dwRows) {
  const peerCols =
    r.tfjs_ms === undefined ? '– | – | –' : `${f(r.tfjs_ms, 3)} | ${f(r.tfjs_gflops, 2)} | ${f(r.ratio, 2)}×`;
  console.log(
    `| ${r.shape} | ${f(r.mflop, 2)} | ${f(r.simd_ms, 3)} | ${f(r.simd_gflops, 2)} | ${peerCols} | ` +
      `${f(r.bwd_input_ms, 3)} (${f(r.bwd_input_gflops, 2)}) | ${f(r.bwd_weight_ms, 3)} (${f(r.bwd_weight_gflops, 2)}) |`,
  );
}
console.log(
  '\nWinograd vs direct, SIMD build, one thread, weight transform included; effective GFLOP/s = direct-conv flops / time; ' +
    '"× probe" divides by the probe batches timed next to that kernel:\n',
);
console.log(
  '| 3x3 layer | pass | direct ms | F(2,3) ms | F(4,3) ms | direct GFLOP/s | F(2,3) eff. | F(4,3) eff. | F(2,3)/direct | F(4,3)/direct | direct × probe | F(2,3) × probe | F(4,3) × probe |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of winoRows) {
  console.log(
    `| ${r.shape} | ${r.pass} | ${f(r.direct_ms, 2)} | ${f(r.f2_ms, 2)} | ${f(r.f4_ms, 2)} | ${f(r.direct_gflops)} | ` +
      `${f(r.f2_gflops)} | ${f(r.f4_gflops)} | ${f(r.f2_speedup, 2)}× | ${f(r.f4_speedup, 2)}× | ${f(r.direct_vs_probe, 2)} | ` +
      `${f(r.f2_vs_probe, 2)} | ${f(r.f4_vs_probe, 2)} |`,
  );
}
console.log(`\n(total ${f((performance.now() - t0) / 1000)} s)`);

if (JSON_FILE) {
  writeFileSync(
    JSON_FILE,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        v8: process.versions.v8,
        quick: QUICK,
        min_time_s: MIN_TIME,
        reps: REPS,
        probe: {
          accumulators: PROBE_ACC,
          unroll: PROBE_UNROLL,
          start_gflops: PROBE.gflops,
          paired_min_gflops: probeSummary.min,
          paired_max_gflops: probeSummary.max,
        },
        conv: { ...CONV, MB: CONV_MB },
        rows,
        pack_b: packs,
        winograd: winoRows,
        depthwise: { peer: PEER ? `tfjs-backend-wasm ${PEER.version}` : null, rows: dwRows },
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${JSON_FILE}`);
}
