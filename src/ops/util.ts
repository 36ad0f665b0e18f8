// Shared checks and scratch memory for the ops.
import { Tensor } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { show } from '../show.js';
import { getArena } from '../wasm/arena.js';
import { getEngine } from '../wasm/bindings.js';
import { recordingKernels, recordTasks } from './trace.js';
import { GEOMETRY2D_BYTES, writeGeometry2d, type Geometry2d, type KernelExports, type Task } from '../wasm/abi.js';

/** The kernel exports ops call (the recording ones while a kernel trace records: see trace.ts). */
export function k(): KernelExports {
  return recordingKernels() ?? getEngine().k;
}

/** Throws unless x is a live float32 tensor of the given rank. */
export function expectTensor(x: unknown, rank: number | null, what: string, name: string): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${what}: ${name} must be a Tensor, got ${typeof x}`);
  x.assertLive();
  if (x.dtype !== 'float32') throw new Error(`${what}: ${name} must be float32, got ${x.dtype}`);
  if (rank !== null && x.rank !== rank) {
    throw new Error(`${what}: ${name} must have rank ${rank}, got shape [${x.shape}] (rank ${x.rank})`);
  }
  return x;
}

/** Throws if x holds NaN or ±Infinity, naming the op, the argument and the first bad index. */
export function expectFinite(x: Tensor, what: string, name: string): void {
  const i = k().find_nonfinite(x.ptr, x.size);
  if (i >= 0) {
    const v = x.view()[i];
    throw new Error(`${what}: ${name} contains ${v} at flat index ${i} (shape [${x.shape}])`);
  }
}

/**
 * Runs fn with `floats` floats of scratch memory, released afterwards: zeroed unless `zero` is false
 * (for buffers the kernels overwrite whole before reading, such as im2col blocks and packed weights).
 */
export function withScratch<T>(floats: number[], fn: (...ptrs: number[]) => T, zero = true): T {
  const arena = getArena();
  const ptrs = floats.map((n) => arena.alloc(Math.max(1, n) * 4, zero));
  try {
    return fn(...ptrs);
  } finally {
    for (const p of ptrs) arena.release(p);
  }
}

/**
 * Runs fn with a pointer to `g` written into wasm memory as the kernels' Geometry2d struct, released
 * afterwards: the one place geometry crosses into wasm.
 */
export function withGeometry<T>(g: Geometry2d, fn: (geom: number) => T): T {
  const arena = getArena();
  const ptr = arena.alloc(GEOMETRY2D_BYTES, false); // written whole below
  try {
    writeGeometry2d(arena.i32(), ptr, g);
    return fn(ptr);
  } finally {
    arena.release(ptr);
  }
}

/**
 * Fixed number of shards a batch is cut into for the threaded kernels. It never depends on the
 * thread count, so 1, 2 or 8 threads run the same shards and sum weight gradients in the same order.
 */
export const SHARDS = 4;

/** [start, count] of each non-empty shard of n items. */
export function shardRanges(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const base = Math.floor(n / SHARDS),
    extra = n % SHARDS;
  let start = 0;
  for (let s = 0; s < SHARDS; s++) {
    const count = base + (s < extra ? 1 : 0);
    if (count > 0) out.push([start, count]);
    start += count;
  }
  return out;
}

/**
 * Multiply-adds (or like steps) a task should have to be worth handing to another thread, ~25 µs of
 * work: below that the hand-over and the wait for the slowest thread cost more than they save
 * (measured on batch-1 ResNet-18 and MobileNetV2 layers of ~10^5 multiply-adds, and the seed model's
 * ~10^7). Running tasks on one thread or several gives the same bits.
 */
export const MIN_TASK_WORK = 1 << 18;

/**
 * Runs sharded kernel calls on the engine's threads; all on the calling thread when their total
 * `work` (multiply-adds; unknown: Infinity) is too small to share.
 */
export function runTasks(tasks: Task[], work = Number.POSITIVE_INFINITY): void {
  const inline = work < 2 * MIN_TASK_WORK;
  recordTasks(tasks, inline);
  getEngine().pool.run(tasks, inline);
}

/** How many pieces of at least MIN_TASK_WORK `work` makes, between 1 and `max`. */
export function taskParts(work: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(work / MIN_TASK_WORK)));
}

/** dy where the fused-relu output `y` is > 0, else 0: the gradient behind a fused relu (caller disposes). */
export function reluMasked(dy: Tensor, y: Tensor): Tensor {
  const m = new Tensor(y.shape);
  k().relu_backward(m.ptr, dy.ptr, y.ptr, y.size);
  return m;
}

/** Throws unless bias is null or a vector of the K output channels; `channels` says what K is, for the error. */
export function expectBias(bias: Tensor | null | undefined, K: number, what: string, channels: string): Tensor | null {
  if (!bias) return null;
  expectTensor(bias, 1, what, 'bias');
  if (bias.size !== K) throw new Error(`${what}: bias has ${bias.size} values but ${channels}`);
  return bias;
}

/**
 * The activation a convolution fuses into its store, 'linear' (default), 'relu' or 'relu6', as the
 * kernels' code (0, 1, 2).
 */
export function fusedRelu(act: unknown, what: string): 0 | 1 | 2 {
  const a = act ?? 'linear';
  if (a !== 'linear' && a !== 'relu' && a !== 'relu6')
    throw new Error(`${what}: activation must be 'linear', 'relu' or 'relu6', got ${show(act)}`);
  return a === 'relu6' ? 2 : a === 'relu' ? 1 : 0;
}

/** Throws if any of the named inputs holds NaN or ±Infinity (skipped where a layer checked the data already). */
export function expectAllFinite(what: string, skip: boolean | undefined, inputs: [Tensor | null, string][]): void {
  if (skip) return;
  for (const [t, name] of inputs) if (t) expectFinite(t, what, name);
}

/**
 * Records a convolution's backward on the tape: `back` gets dy (masked where a fused relu was 0) and
 * the gradient pointers of x, the weight and the bias (0 where none is wanted). With `storeDx`, gx may be
 * a fresh unfilled buffer: then `gxAdd` is false and `back` must write every element of it (else it adds).
 */
export function recordConv(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  out: Tensor,
  relu: 0 | 1 | 2,
  back: (d: Tensor, gx: number, gw: number, gb: number, gxAdd: boolean) => void,
  storeDx = false,
): void {
  if (relu === 2 && (needsGrad(x) || needsGrad(weight) || (bias !== null && needsGrad(bias))))
    throw new Error("a fused 'relu6' has no backward here: apply it as a layer of its own when training");
  record(bias ? [x, weight, bias] : [x, weight], out, (dy, grad, store) => {
    const masked = relu ? reluMasked(dy, out) : null;
    const gx = storeDx ? store(x) : { ptr: grad(x), add: true };
    back(masked ?? dy, gx?.ptr ?? 0, grad(weight), bias ? grad(bias) : 0, gx?.add ?? true);
    masked?.dispose();
  });
}
