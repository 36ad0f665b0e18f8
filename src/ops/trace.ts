// Kernel traces: the kernel calls of one run of some code (an inference forward), recorded with the
// arguments they had and the memory they used, then replayed as a flat list: no layers, tensors,
// shape checks or allocations between the calls. Every op reaches the kernels through util.ts' k()
// and runTasks(), which hand the calls to the recorder while one runs.
//
// A replay computes what the recorded run computed when that code
// - writes tensor data only through kernel calls (JavaScript may write metadata such as geometry
//   structs into blocks it allocated without zero-filling: those blocks, and their contents, stay
//   the trace's own; a zero fill is replayed, so it would erase what JavaScript wrote after it),
// - reads no kernel's result (except the pure size queries below), so its control flow cannot have
//   depended on the data, and
// - keeps none of the memory it allocated (everything it allocated was released by its end).
// The recorder checks the last two and gives no trace otherwise; the caller vouches for the first
// (predict traces only the layer classes known to keep it).
import { getArena } from '../wasm/arena.js';
import { getEngine } from '../wasm/bindings.js';
import type { ThreadPool } from '../wasm/pool.js';
import type { KernelExports, Task } from '../wasm/abi.js';

type KernelFn = (...args: number[]) => unknown;
type Call = { fn: KernelFn; args: number[] } | { tasks: Task[]; inline: boolean };

// Exports whose result is a size computed from their integer arguments alone: called, not recorded.
const SIZE_QUERIES = new Set<string>([
  'heap_base',
  'geometry2d_bytes',
  'pack_b_size',
  'winograd_pack_size',
  'winograd_weight_work',
  'winograd_forward_work',
  'winograd_backward_weight_work',
  // the int8 convolutions' scratch and pack sizes (from a geometry struct JavaScript wrote, or shapes)
  'qconv2d_scratch_size',
  'qwinograd_pack_size',
  'qwinograd_scratch_size',
  'qwinograd45_pack_size',
  'qwinograd45_scratch_size',
  'qdwconv2d_pack_bytes',
]);

class Recorder {
  readonly calls: Call[] = [];
  /** Why the run cannot be replayed, once something made it so. */
  failed: string | null = null;
  readonly k: KernelExports;

  constructor(real: KernelExports) {
    const k: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(real)) {
      if (typeof v !== 'function') {
        k[name] = v;
        continue;
      }
      const fn = v as KernelFn;
      k[name] = (...args: number[]) => {
        const r = fn(...args);
        if (r === undefined) this.calls.push({ fn, args });
        // a finiteness check that passed changes nothing; one that failed throws in its op
        else if (!SIZE_QUERIES.has(name) && !(name === 'find_nonfinite' && r === -1))
          this.failed ??= `JavaScript read the result of ${name}`;
        return r;
      };
    }
    this.k = k as unknown as KernelExports;
  }
}

let recording: Recorder | null = null;

/** @internal The exports ops call while a trace records (util.ts' k()), else null. */
export function recordingKernels(): KernelExports | null {
  return recording ? recording.k : null;
}

/** @internal Notes a batch of thread-pool tasks (util.ts' runTasks) while a trace records. */
export function recordTasks(tasks: Task[], inline: boolean): void {
  recording?.calls.push({ tasks: tasks.map((t) => [...t] as Task), inline });
}

/** @internal Why a run has no trace when it kept memory it allocated (a cache made on a first call). */
export const KEPT_BLOCK = 'a block it allocated is still in use';

/** What {@link KernelTrace.record} returns: the run's result, and its trace or why there is none. */
export interface Recorded<T> {
  result: T;
  trace: KernelTrace | null;
  /** Why there is no trace. */
  why?: string;
}

/** @internal A recorded list of kernel calls over memory of its own (see the top of this file). */
export class KernelTrace {
  private disposed = false;

  private constructor(
    private readonly calls: Call[],
    private readonly blocks: number[],
    private readonly pool: ThreadPool,
    /** Bytes of memory the trace keeps. */
    readonly bytes: number,
  ) {}

  /**
   * Runs fn once, recording its kernel calls; returns its result and a trace, or no trace (and why)
   * when the run cannot be replayed or allocated more than `maxBytes`. If fn throws, nothing is kept.
   */
  static record<T>(fn: () => T, maxBytes: number): Recorded<T> {
    if (recording) throw new Error('kernel trace: a trace is already recording');
    const engine = getEngine();
    const arena = getArena();
    const rec = new Recorder(engine.k);
    const zero = engine.k.zero_fill as KernelFn;
    arena.beginCapture((ptr, bytes) => rec.calls.push({ fn: zero, args: [ptr, bytes] }), maxBytes);
    recording = rec;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      recording = null;
      for (const b of arena.endCapture() ?? []) arena.release(b);
      throw e;
    }
    recording = null;
    const bytes = arena.capturedBytes;
    const blocks = arena.endCapture();
    const why =
      bytes > maxBytes ? `it allocated ${bytes} bytes (more than ${maxBytes})` : !blocks ? KEPT_BLOCK : rec.failed;
    if (why) {
      for (const b of blocks ?? []) arena.release(b);
      return { result, trace: null, why };
    }
    return { result, trace: new KernelTrace(rec.calls, blocks!, engine.pool, bytes) };
  }

  /** Runs the recorded calls again, in order. */
  replay(): void {
    if (this.disposed) throw new Error('kernel trace: replay of a disposed trace');
    for (const c of this.calls) {
      if ('fn' in c) c.fn(...c.args);
      else this.pool.run(c.tasks, c.inline);
    }
  }

  /** Releases the trace's memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const arena = getArena();
    for (const b of this.blocks) arena.release(b);
  }
}
