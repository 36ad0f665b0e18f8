// Kernel traces of predict's small batches. A batch of fewer than SHARDS examples (a latency call), on
// a graph made only of traceable layer classes (rules.ts), records its kernel calls once per batch
// size and replays them from then on (ops/trace.ts): the same kernels on the same arguments, so the
// same bits, without the layers' and ops' JavaScript between them, which is most of the time of a
// small model's call.
import { Tensor, tidy } from '../../tensor.js';
import { getArena } from '../../wasm/arena.js';
import { KEPT_BLOCK, KernelTrace } from '../../ops/trace.js';
import { SHARDS } from '../../ops/util.js';
import type { Layer } from '../layer.js';
import { TRACE_MAX_BYTES, kernelTracesEnabled } from './switches.js';

/** predict's replayable forward of one batch size: the trace and where its inputs and outputs live. */
export interface TracedForward {
  trace: KernelTrace;
  /** Byte addresses of the inputs (N, ...) to write before a replay. */
  inputs: number[];
  /** Byte addresses of the outputs to read after it. */
  outputs: number[];
}

/** Where a batch comes from and where its outputs go. */
export interface BatchIO {
  /** Shape of each input without the batch axis. */
  inputShapes: readonly (readonly number[])[];
  /** Values per example of each output. */
  outputSizes: readonly number[];
  /** Writes input i's `count` rows into `dest`. */
  write(i: number, dest: Float32Array): void;
  /** Takes output i's `count` rows (a view, valid until the next allocation). */
  read(i: number, y: Float32Array): void;
}

type Forward = (xs: Tensor[]) => Tensor[];

/**
 * The traces of one plan by batch size (null: the forward could not be traced), and every weight the
 * traces read with its view count when they were recorded: a view taken since may have written
 * through, so the traces are then dropped.
 */
export class TraceCache extends Map<number, TracedForward | null> {
  private weights: Array<[Tensor, number]> = [];

  constructor(private readonly layers: readonly Layer[]) {
    super();
  }

  /** Runs one batch: replays its trace, records one, or runs the forward as it is. */
  runBatch(count: number, io: BatchIO, traceable: boolean, forward: Forward): void {
    const traced = traceable && count < SHARDS ? this.lookup(count) : null;
    if (traced) {
      this.replay(traced, count, io).forEach((y, i) => io.read(i, y));
      return;
    }
    if (traced === null) {
      this.run(count, io, forward);
      return;
    }
    let expected: Float32Array[] = [];
    const r = KernelTrace.record(() => {
      const out = this.run(count, io, forward);
      expected = out.values;
      return out;
    }, TRACE_MAX_BYTES);
    const t = r.trace && { trace: r.trace, inputs: r.result.inputs, outputs: r.result.outputs };
    const ok = t !== null && this.reproduces(() => this.replay(t, count, io), expected);
    if (t && !ok) t.trace.dispose();
    // A layer that made a cache it keeps (an int8 layer's packed weights, on its first call) leaves a
    // block in use: the next call of this size records again, once.
    if (!ok && r.why === KEPT_BLOCK && !this.retried.has(count)) {
      this.retried.add(count);
      return;
    }
    this.keep(count, ok ? t : null);
  }
  private readonly retried = new Set<number>();

  // The trace of `count` examples: undefined when there is none yet, null when the forward could not
  // be traced. Traces are dropped when a weight was viewed since they were recorded.
  private lookup(count: number): TracedForward | null | undefined {
    if (!kernelTracesEnabled()) return null;
    if (this.size > 0 && !this.weights.every(([t, n]) => !t.isDisposed && t.viewCount === n)) this.dispose();
    return this.get(count);
  }

  private keep(count: number, t: TracedForward | null): void {
    this.get(count)?.trace.dispose();
    if (this.size === 0) {
      this.weights = this.layers.flatMap((l) =>
        [...l.weights, ...l.stateWeights].map((w): [Tensor, number] => [w.value, w.value.viewCount]),
      );
    }
    this.set(count, t);
  }

  // A forward of the batch, its outputs read (and copied, to check a new trace's replay against);
  // the input and output addresses.
  private run(count: number, io: BatchIO, forward: Forward) {
    return tidy(() => {
      const xb = io.inputShapes.map((s, i) => {
        const t = new Tensor([count, ...s], 'float32', false);
        io.write(i, t.view());
        return t;
      });
      const ys = forward(xb);
      ys.forEach((y, i) => io.read(i, y.view()));
      return { inputs: xb.map((t) => t.ptr), outputs: ys.map((y) => y.ptr), values: ys.map((y) => y.view().slice()) };
    });
  }

  // The outputs of a replay of `t` (views, valid until the next allocation).
  private replay(t: TracedForward, count: number, io: BatchIO): Float32Array[] {
    const f = getArena().f32();
    io.inputShapes.forEach((s, i) => {
      const p = t.inputs[i]! >>> 2;
      io.write(i, f.subarray(p, p + count * s.reduce((a, b) => a * b, 1)));
    });
    t.trace.replay();
    const g = getArena().f32();
    return t.outputs.map((ptr, i) => g.subarray(ptr >>> 2, (ptr >>> 2) + count * io.outputSizes[i]!));
  }

  // Whether a new trace's first replay gives the bits of its recorded run (a layer breaking the
  // tracing rules would show here: it is then never traced). A trap counts as a no.
  private reproduces(replay: () => Float32Array[], expected: Float32Array[]): boolean {
    try {
      const ys = replay();
      return ys.every((y, i) => y.length === expected[i]!.length && y.every((v, j) => Object.is(v, expected[i]![j])));
    } catch {
      return false;
    }
  }

  /** Frees every trace. */
  dispose(): void {
    for (const t of this.values()) t?.trace.dispose();
    this.clear();
  }
}
