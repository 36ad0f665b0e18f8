// Runs lists of kernel calls ("tasks") on the main thread plus worker threads that share the one
// WebAssembly.Memory. Ops cut their work into a fixed number of shards that does not depend on the
// thread count, each shard writing its own outputs, so the bits are the same with 1, 2 or 8 threads;
// threads only change who runs which shard.
//
// Protocol (a small SharedArrayBuffer, separate from wasm memory): the caller resets NEXT, writes the
// task table, resets FINISHED, stores COUNT, bumps GEN and notifies. Every thread (the caller too) claims
// task indices from NEXT until they run out, and bumps FINISHED after each task. Workers sleep in
// Atomics.wait(GEN) between batches. Errors inside a worker are caught there and flagged.
// NEXT holds (generation tag << 16 | next index) and is claimed by compare-exchange, so a worker still
// finishing its loop of the previous batch can never claim (and lose, or run with a stale count) an
// index of the next one: its tag no longer matches. (A plain Atomics.add here once lost or repeated a
// task when the caller had already started the next batch: a hang with "3/4 tasks done", or a shard
// run twice. test/wasm/pool.test.ts hammers exactly that.)
import { KERNEL_ARITY, type KernelExports, type KernelName, type Task } from './abi.js';
import { checkPresent } from './missing.js';

export type { Task } from './abi.js';

const GEN = 0,
  COUNT = 1,
  NEXT = 2,
  FINISHED = 3,
  ERR = 4,
  CTRL_WORDS = 8;
const STRIDE = 32; // float64 slots per task: fn index, argc, up to 30 arguments
const MAX_TASKS = 256;
const TAG_MASK = 0x7fff; // generation bits kept in NEXT's tag
const SPIN = 20000; // Atomics.load polls (~50 µs) before a thread sleeps in Atomics.wait

/**
 * The most threads a pool runs (workers + the calling thread). Each worker instantiates the module
 * and keeps its own stacks (~20 MB), and work is cut into 4 shards per op, so more threads only cost
 * memory; the cap keeps a typo such as `--threads 999` from starting hundreds of workers.
 */
export const MAX_THREADS = 64;

// Self-contained worker source: works as a Node worker_threads eval script and as a browser Worker.
const WORKER_SRC = `
'use strict';
let post, listen;
if (typeof require === 'function') {
  const { parentPort } = require('node:worker_threads');
  post = (m) => parentPort.postMessage(m);
  listen = (f) => parentPort.once('message', f);
} else {
  post = (m) => self.postMessage(m);
  listen = (f) => { self.onmessage = (e) => { self.onmessage = null; f(e.data); }; };
}
listen(({ module, memory, ctrl, table, names }) => {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const fns = names.map((n) => inst.exports[n]);
  const c = new Int32Array(ctrl), t = new Float64Array(table);
  post({ ready: true });
  let gen = 0;
  for (;;) {
    // Spin a little before sleeping: the next batch usually follows within microseconds (the next
    // layer), and a futex wake-up costs more than that.
    for (let s = 0; s < ${SPIN} && Atomics.load(c, ${GEN}) === gen; s++);
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    if (gen < 0) return;
    const count = Atomics.load(c, ${COUNT});
    const tag = (gen & ${TAG_MASK}) << 16;
    for (;;) {
      const v = Atomics.load(c, ${NEXT});
      if ((v & ~0xffff) !== tag || (v & 0xffff) >= count) break;
      if (Atomics.compareExchange(c, ${NEXT}, v, v + 1) !== v) continue;
      const i = v & 0xffff;
      const b = i * ${STRIDE};
      const args = Array.from(t.subarray(b + 2, b + 2 + t[b + 1]));
      try { fns[t[b]](...args); } catch (e) { Atomics.store(c, ${ERR}, i + 1); post({ error: String(e && e.message || e), task: i }); }
      if (Atomics.add(c, ${FINISHED}, 1) + 1 === count) Atomics.notify(c, ${FINISHED});
    }
  }
});
`;

interface WorkerLike {
  terminate(): unknown;
  postMessage(m: unknown): void;
}

/** A SharedArrayBuffer where the engine has one; a plain buffer otherwise (a browser page that is not
 * cross-origin isolated), where the pool never starts workers and only the calling thread reads it. */
function shared(bytes: number): ArrayBufferLike {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

/**
 * Runs batches of kernel calls ({@link Task}s) on the calling thread plus worker threads that
 * instantiate the same module over the one shared `WebAssembly.Memory`.
 *
 * Ops cut their work into a fixed number of shards that does not depend on the thread count, each
 * writing its own outputs, so results are bit-identical with 1, 2 or 8 threads: threads only change
 * who runs which shard. Without workers (1 thread, or no SharedArrayBuffer) every task runs inline.
 * A task that throws in a worker is rethrown by {@link ThreadPool.run} on the calling thread.
 */
export class ThreadPool {
  private readonly ctrl = new Int32Array(shared(CTRL_WORDS * 4));
  private readonly table = new Float64Array(shared(MAX_TASKS * STRIDE * 8));
  private readonly names = Object.keys(KERNEL_ARITY) as KernelName[];
  private readonly index = new Map<string, number>();
  private workers: WorkerLike[] = [];
  private lastError = '';
  // start/stop run one at a time, in call order, so a stop never races a worker that is booting.
  private queue: Promise<unknown> = Promise.resolve();
  /** Workers that died on their own (not stopped by us), since the pool was made. */
  deadWorkers = 0;

  /** @param k the calling thread's instance exports; tasks name its functions */
  constructor(private readonly k: KernelExports) {
    this.names.forEach((n, i) => this.index.set(n, i));
  }

  /** Number of threads that run tasks (workers + the calling thread). */
  get threads(): number {
    return this.workers.length + 1;
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.queue.then(op);
    this.queue = p.catch(() => {});
    return p;
  }

  /**
   * Runs on `n` threads: stops the workers, then starts `n - 1` over `memory` (which must be shared)
   * running `module`. Calls are queued behind any start/stop still in progress.
   */
  start(n: number, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<void> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
      return Promise.reject(
        new Error(`thread pool: thread count must be an integer from 1 to ${MAX_THREADS}, got ${n}`),
      );
    }
    return this.serial(async () => {
      await this.stopNow();
      const spawned: Promise<void>[] = [];
      for (let i = 0; i < n - 1; i++) spawned.push(this.spawn(module, memory));
      const r = await Promise.allSettled(spawned);
      const failed = r.find((x) => x.status === 'rejected');
      if (failed) {
        await this.stopNow();
        throw new Error(
          `thread pool: a worker failed to start (${(failed as PromiseRejectedResult).reason?.message ?? failed})`,
        );
      }
    });
  }

  // A worker that ended without being stopped (crash, out of memory, terminated from outside) is
  // dropped, so threads counts only live ones, and reported once on the console.
  private died(w: WorkerLike, why: string): void {
    const i = this.workers.indexOf(w);
    if (i < 0) return;
    this.workers.splice(i, 1);
    this.deadWorkers++;
    this.lastError = why;
    console.warn(
      `simdnet: a kernel worker thread died (${why}); continuing on ${this.threads} thread${this.threads > 1 ? 's' : ''}`,
    );
  }

  private async spawn(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<void> {
    const init = { module, memory, ctrl: this.ctrl.buffer, table: this.table.buffer, names: this.names };
    const isNode =
      typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
    let w: WorkerLike;
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; error?: string }) => {
        // Unref only once started: an unref'd worker still booting would let Node exit mid-await.
        if (m.ready) {
          (w as { unref?: () => void }).unref?.();
          resolve();
        }
        if (m.error) this.lastError = m.error;
      };
      if (isNode) {
        // A computed specifier keeps bundlers from pulling worker_threads into browser builds.
        const spec = 'node:worker_threads';
        import(/* @vite-ignore */ spec).then(({ Worker }) => {
          const nw = new Worker(WORKER_SRC, { eval: true });
          nw.on('message', onMessage);
          nw.on('error', (e: Error) => {
            this.lastError = e.message;
            reject(e);
          });
          nw.on('exit', (code: number) => {
            reject(new Error(`worker exited with code ${code}`));
            this.died(nw, `exit code ${code}`);
          });
          nw.postMessage(init);
          w = nw;
          this.workers.push(w);
        }, reject);
      } else {
        const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: 'text/javascript' }));
        const bw = new Worker(url);
        bw.onmessage = (e) => onMessage(e.data);
        bw.onerror = (e) => {
          this.lastError = e.message;
          reject(new Error(e.message));
          this.died(bw, e.message);
          bw.terminate();
        };
        bw.postMessage(init);
        w = bw;
        this.workers.push(w);
      }
    });
  }

  /** Stops all workers (after any start still in progress). */
  stop(): Promise<void> {
    return this.serial(() => this.stopNow());
  }

  private async stopNow(): Promise<void> {
    if (this.workers.length === 0) return;
    // Out of the list first: their exit events are ours, not deaths.
    const ws = this.workers;
    this.workers = [];
    Atomics.store(this.ctrl, GEN, -1);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(ws.map((w) => w.terminate()));
    Atomics.store(this.ctrl, NEXT, 0);
    Atomics.store(this.ctrl, GEN, 0);
  }

  /**
   * Runs every task exactly once (in any order, on any thread; all on this one when `inline`);
   * returns when all are done.
   */
  run(tasks: Task[], inline = false): void {
    // The types already demand every argument; this catches calls from untyped code (a forgotten
    // argument would otherwise reach the kernel as 0).
    for (const [name, ...args] of tasks) {
      const arity = KERNEL_ARITY[name];
      if (arity === undefined) throw new Error(`thread pool: no kernel named ${String(name)}`);
      if (arity !== args.length) throw new Error(`thread pool: ${name} takes ${arity} arguments, got ${args.length}`);
      checkPresent(this.k[name]);
    }
    if (inline || this.workers.length === 0 || tasks.length <= 1) {
      for (const [name, ...args] of tasks) (this.k[name] as (...a: number[]) => unknown)(...args);
      return;
    }
    if (tasks.length > MAX_TASKS) throw new Error(`thread pool: ${tasks.length} tasks exceed ${MAX_TASKS}`);
    const fis = tasks.map(([name, ...args]) => {
      const fi = this.index.get(name);
      if (fi === undefined || args.length > STRIDE - 2)
        throw new Error(`thread pool: task ${name} cannot run on workers`);
      return fi;
    });
    const c = this.ctrl;
    const count = tasks.length;
    const gen = (Atomics.load(c, GEN) + 1) & 0x3fffffff; // stays positive: a negative GEN stops the workers
    const tag = (gen & TAG_MASK) << 16;
    // NEXT first: from here on a worker still looping on the previous batch cannot claim anything,
    // even once it sees the new COUNT or reads the new table.
    Atomics.store(c, NEXT, tag);
    tasks.forEach(([, ...args], i) => {
      const b = i * STRIDE;
      this.table[b] = fis[i];
      this.table[b + 1] = args.length;
      for (let j = 0; j < args.length; j++) this.table[b + 2 + j] = args[j];
    });
    Atomics.store(c, ERR, 0);
    Atomics.store(c, FINISHED, 0);
    Atomics.store(c, COUNT, count);
    Atomics.store(c, GEN, gen);
    Atomics.notify(c, GEN);
    let mainError: unknown = null;
    for (;;) {
      const v = Atomics.load(c, NEXT);
      if ((v & 0xffff) >= count) break;
      if (Atomics.compareExchange(c, NEXT, v, v + 1) !== v) continue;
      const i = v & 0xffff;
      const [name, ...args] = tasks[i];
      try {
        (this.k[name] as (...a: number[]) => unknown)(...args);
      } catch (e) {
        mainError = e;
      }
      Atomics.add(c, FINISHED, 1);
    }
    for (let s = 0; s < SPIN && Atomics.load(c, FINISHED) < count; s++);
    const t0 = Date.now();
    for (;;) {
      const done = Atomics.load(c, FINISHED);
      if (done >= count) break;
      if (Date.now() - t0 > 60_000)
        throw new Error(`thread pool: a worker stopped responding (${done}/${count} tasks done after 60 s)`);
      try {
        Atomics.wait(c, FINISHED, done, 1000);
      } catch {
        /* main thread of a browser: spin */
      }
    }
    if (mainError) throw mainError;
    const err = Atomics.load(c, ERR);
    if (err)
      throw new Error(
        `thread pool: kernel ${tasks[err - 1][0]} failed in a worker${this.lastError ? `: ${this.lastError}` : ''}`,
      );
  }
}
