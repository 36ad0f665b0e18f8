// Instantiates the embedded kernel module (SIMD build, or the scalar build where SIMD does not
// validate) over one WebAssembly.Memory owned here. Our own ~40-line instantiation replaces the
// deprecated @assemblyscript/loader: the module imports only `env.memory` and exports plain functions.
import { simdBase64, scalarBase64, threadsBase64 } from './kernels.bytes.js';
import { MAX_THREADS, ThreadPool } from './pool.js';
import type { KernelExports } from './abi.js';
import { completeKernels } from './missing.js';
import { show } from '../show.js';

export type { KernelExports } from './abi.js';
export { MAX_THREADS };

/** The engine memory's maximum, in 64 KiB pages: all 4 GiB a wasm32 memory can address. */
export const MEMORY_MAX_PAGES = 65536;

/**
 * Which compiled build of the kernels is running: 'threads' is the SIMD build over a shared memory
 * (worker threads possible), 'simd' the same kernels over a plain memory, 'scalar' the fallback for
 * engines without wasm SIMD. All three run the same sources.
 */
export type Build = 'simd' | 'scalar' | 'threads';

export interface Engine {
  readonly build: Build;
  readonly memory: WebAssembly.Memory;
  readonly k: KernelExports;
  readonly module: WebAssembly.Module;
  /** Runs sharded kernel calls on the worker threads (or in order on this thread). */
  readonly pool: ThreadPool;
  /** True when the relaxed-SIMD variant of the 'threads' build runs (see {@link ReadyOptions.relaxed}). */
  readonly relaxed: boolean;
}

let engine: Engine | null = null;
let pending: Promise<Engine> | null = null;

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The raw bytes of one build (used by tests, benchmarks and the browser bundle). */
export function wasmBytes(build: Build): Uint8Array<ArrayBuffer> {
  return decode(build === 'simd' ? simdBase64 : build === 'threads' ? threadsBase64 : scalarBase64);
}

/** True when this engine validates the SIMD build. */
export function simdSupported(): boolean {
  return WebAssembly.validate(wasmBytes('simd'));
}

/** Options for {@link ready}. */
export interface ReadyOptions {
  /** 'auto' (default): 'threads' where shared memory and SIMD work, else 'simd', else 'scalar'. */
  build?: Build | 'auto';
  /** Threads to run kernels on (default: the machine's cores; 1 unless the build is 'threads'). */
  threads?: number;
  /**
   * Opt-in speed mode: the 'threads' build with fused multiply-add (`f32x4.relaxed_madd`) in the GEMM
   * microkernel. Results are NOT bit-reproducible across CPUs (fused on FMA hardware, unfused elsewhere)
   * and differ from the other builds in the last bits. Used only where the engine validates relaxed SIMD
   * (Chrome 114+; Node 20 only with `--experimental-wasm-relaxed-simd`) and the 'threads' build can run;
   * otherwise the usual build runs and a one-time notice says why. Default false.
   */
  relaxed?: boolean;
}

/** True where a shared WebAssembly.Memory can be handed to workers (Node; cross-origin-isolated pages). */
export function sharedMemorySupported(): boolean {
  const g = globalThis as {
    SharedArrayBuffer?: unknown;
    crossOriginIsolated?: boolean;
    process?: { versions?: { node?: string } };
  };
  if (typeof g.SharedArrayBuffer !== 'function') return false;
  if (typeof g.process?.versions?.node === 'string') return true;
  return g.crossOriginIsolated === true;
}

/** Number of logical cores (Node: os.availableParallelism; browsers: navigator.hardwareConcurrency). */
export async function hardwareThreads(): Promise<number> {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { versions?: { node?: string } } };
  if (typeof g.process?.versions?.node === 'string') {
    const spec = 'node:os';
    const os = await import(/* @vite-ignore */ spec);
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return g.navigator?.hardwareConcurrency ?? 1;
}

let noticeShown = false;

// Thread-count requests (ready, setThreads, shutdown) form one queue: each one records the count it
// wants and queues a step that applies the latest wanted count, so concurrent or overlapping calls
// end at the last request's count and every promise settles, however they interleave.
let wantedThreads = 1;
let threadQueue: Promise<unknown> = Promise.resolve();
let threadRequests = 0;

// Registers the request at once (call order is what decides), applies it once the engine exists.
function requestThreads(n: number): Promise<number> {
  wantedThreads = n;
  threadRequests++;
  const engineReady = pending!;
  const step = threadQueue.then(async () => {
    const e = await engineReady;
    if (e.build !== 'threads') return 1;
    if (e.pool.threads !== wantedThreads) await e.pool.start(wantedThreads, e.module, e.memory);
    return e.pool.threads;
  });
  threadQueue = step.catch(() => {});
  return step;
}

function checkThreads(n: unknown, what: string): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new Error(`${what}: threads must be an integer from 1 to ${MAX_THREADS} (MAX_THREADS), got ${show(n)}`);
  }
}

/**
 * Sets the number of threads kernels run on (1 to {@link MAX_THREADS}). Results are bit-identical
 * for any count (work is cut into fixed shards). Needs the 'threads' build; elsewhere it stays at 1
 * and says why once. Overlapping calls (and shutdown) take effect in call order: the last one wins.
 * Resolves with the thread count once this request has been applied.
 */
export function setThreads(n: number): Promise<number> {
  try {
    checkThreads(n, 'setThreads');
  } catch (err) {
    return Promise.reject(err);
  }
  if (!pending) ready().catch(() => {}); // starts the engine; failures surface below
  const applied = requestThreads(n);
  return applied.then(async (threads) => {
    const e = await pending!;
    if (e.build !== 'threads' && n > 1 && !noticeShown) {
      noticeShown = true;
      console.warn(
        `simdnet: running on 1 thread — the '${e.build}' build has no shared memory${typeof (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === 'boolean' && !(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? ' (this page is not cross-origin isolated: serve it with COOP/COEP headers)' : ''}`,
      );
    }
    return threads;
  });
}

/** Threads currently running kernels (a worker that died is not counted). */
export function getThreads(): number {
  return engine ? engine.pool.threads : 1;
}

/**
 * Stops the worker threads; kernels then run on the calling thread (the process may also simply
 * exit: workers never keep it alive). Queued like setThreads(1).
 */
export async function shutdown(): Promise<void> {
  if (!pending) return;
  await requestThreads(1);
}

/**
 * Instantiates the kernels once; later calls return the same engine. Asking for a different build
 * than the one already running is an error (one memory, one module per realm).
 */
export async function ready(opts: ReadyOptions = {}): Promise<Engine> {
  const want = opts.build ?? 'auto';
  if (want !== 'auto' && want !== 'simd' && want !== 'scalar' && want !== 'threads') {
    throw new Error(`ready(): build must be 'auto', 'threads', 'simd' or 'scalar', got ${show(want)}`);
  }
  if (opts.threads !== undefined) checkThreads(opts.threads, 'ready()');
  if (opts.relaxed !== undefined && typeof opts.relaxed !== 'boolean')
    throw new Error(`ready(): relaxed must be true or false, got ${show(opts.relaxed)}`);
  const first = !pending;
  if (!pending) {
    relaxedAsked = opts.relaxed === true;
    pending = instantiate(want, relaxedAsked);
  }
  // Registered before any await, so requests made after this call win over it.
  const req = opts.threads !== undefined ? requestThreads(opts.threads) : null;
  const seen = threadRequests;
  const e = await pending;
  if (req) await req;
  else if (first && e.build === 'threads') {
    const n = Math.min(await hardwareThreads(), MAX_THREADS);
    // A setThreads/shutdown made meanwhile came later than this call: it wins.
    if (threadRequests === seen) await requestThreads(n);
    else await threadQueue;
  }
  if (want !== 'auto' && e.build !== want) {
    throw new Error(`ready(): the '${e.build}' build is already running; cannot switch to '${want}'`);
  }
  if (opts.relaxed !== undefined && opts.relaxed !== relaxedAsked) {
    throw new Error(
      `ready(): the engine is already running ${relaxedAsked ? 'with' : 'without'} relaxed SIMD; ` +
        `ask for relaxed: ${opts.relaxed} in the first ready() call`,
    );
  }
  return e;
}

// What the first ready() asked for (the engine may have fallen back: see Engine.relaxed).
let relaxedAsked = false;

/** One-time notice (console.warn) when relaxed SIMD was asked for and cannot run. */
function relaxedNotice(why: string, build: Build): void {
  console.warn(`simdnet: relaxed SIMD not used — ${why}; running the '${build}' build`);
}

// The relaxed build's bytes: their own module, imported only here, so bundles built from the default
// entry points never contain them (a computed specifier: bundlers leave it to run time).
async function relaxedBytes(): Promise<Uint8Array<ArrayBuffer> | null> {
  const spec = './kernels.relaxed.bytes.js';
  try {
    const m = (await import(/* @vite-ignore */ spec)) as { relaxedBase64: string | null };
    return m.relaxedBase64 ? decode(m.relaxedBase64) : null;
  } catch {
    return null;
  }
}

async function instantiate(want: Build | 'auto', relaxed: boolean): Promise<Engine> {
  const build: Build =
    want !== 'auto'
      ? want
      : !simdSupported()
        ? 'scalar'
        : sharedMemorySupported() && WebAssembly.validate(wasmBytes('threads'))
          ? 'threads'
          : 'simd';
  if (build !== 'scalar' && !simdSupported()) throw new Error('ready(): this engine does not support WebAssembly SIMD');
  if (build === 'threads' && !sharedMemorySupported())
    throw new Error(
      'ready(): the threads build needs a shared memory (SharedArrayBuffer; in browsers, cross-origin isolation)',
    );
  let bytes = wasmBytes(build);
  let useRelaxed = false;
  if (relaxed) {
    if (build !== 'threads') relaxedNotice("it is a variant of the 'threads' build (shared memory)", build);
    else {
      const r = await relaxedBytes();
      if (!r) relaxedNotice('this copy of simdnet has no relaxed build (its assembler could not make one)', build);
      else if (!WebAssembly.validate(r))
        relaxedNotice(
          'this engine does not validate it (Node 20: run node with --experimental-wasm-relaxed-simd)',
          build,
        );
      else {
        bytes = r;
        useRelaxed = true;
      }
    }
  }
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: 16, maximum: MEMORY_MAX_PAGES, shared: build === 'threads' });
  } catch (e) {
    // The engine reserves address space for its 4 GiB maximum up front; a process memory limit
    // (ulimit -v, a container's cap) can refuse that before anything is computed.
    throw new Error(
      `ready: could not reserve the wasm memory (up to ${(MEMORY_MAX_PAGES * 65536) / 2 ** 30} GiB of address space; ` +
        `is the process's virtual memory limited, e.g. by ulimit -v?): ${(e as Error).message}`,
    );
  }
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const k = completeKernels(instance.exports);
  engine = { build, memory, k, module, pool: new ThreadPool(k), relaxed: useRelaxed };
  return engine;
}

/** The running engine; throws a clear error before `await ready()`. */
export function getEngine(): Engine {
  if (!engine) throw new Error('simdnet is not initialised: call `await sn.ready()` first');
  return engine;
}
