// Tensors are views into the one wasm memory: {ptr, shape, dtype}. No math here — ops/ does that.
// tidy(fn) is the per-step region: tensors created inside are disposed when it returns, except the
// ones it returns (or passes to keep()).
import { getArena } from './wasm/arena.js';

/** Element type of a tensor. */
export type DType = 'float32' | 'int32';

let nextId = 1;
/** wasm32 memory holds at most 4 GiB, so no tensor can be larger. */
export const MAX_TENSOR_BYTES = 2 ** 32;
const scopes: Set<Tensor>[] = [];

/** An n-dimensional array living in wasm memory. */
export class Tensor {
  /** Unique id (used by the autograd tape). */
  readonly id: number;
  /** Byte address of the first element in wasm memory. */
  readonly ptr: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  private disposed = false;
  /**
   * @internal How many times {@link Tensor.view} was taken: a write through a view may follow, so caches of
   * data derived from this tensor (predict's folded weights) compare it to know they are stale.
   */
  viewCount = 0;

  /**
   * @internal Use {@link tensor} or {@link zeros}. `fill = false` leaves the memory as it was (ops whose
   * kernel writes every element, see {@link uninitialized}).
   */
  constructor(shape: readonly number[], dtype: DType = 'float32', fill = true) {
    checkShape(shape, 'tensor');
    checkDType(dtype, 'tensor');
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    if (this.size * 4 > MAX_TENSOR_BYTES) {
      throw new Error(
        `tensor: shape [${shape}] has ${this.size} elements (${((this.size * 4) / 2 ** 30).toFixed(1)} GiB); ` +
          'wasm memory holds at most 4 GiB',
      );
    }
    this.ptr = getArena().alloc(this.size * 4, fill);
    this.id = nextId++;
    if (scopes.length > 0) scopes[scopes.length - 1].add(this);
  }

  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A live Float32Array view (invalid after any allocation): for internal use and tests. */
  view(): Float32Array {
    this.assertLive();
    this.viewCount++;
    const start = this.ptr >>> 2;
    return getArena()
      .f32()
      .subarray(start, start + this.size);
  }

  /** A copy of the data. */
  dataSync(): Float32Array | Int32Array {
    this.assertLive();
    const start = this.ptr >>> 2;
    return this.dtype === 'int32'
      ? getArena()
          .i32()
          .slice(start, start + this.size)
      : getArena()
          .f32()
          .slice(start, start + this.size);
  }

  /** The data as nested arrays (like tfjs `arraySync`). */
  arraySync(): unknown {
    const d = Array.from(this.dataSync());
    if (this.shape.length === 0) return d[0];
    const build = (dim: number, off: number): unknown => {
      const n = this.shape[dim];
      if (dim === this.shape.length - 1) return d.slice(off, off + n);
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** Releases the memory. Using the tensor afterwards is an error. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    getArena().release(this.ptr);
    for (const s of scopes) s.delete(this);
  }

  /** Throws if the tensor was disposed. */
  assertLive(): void {
    if (this.disposed) throw new Error(`tensor #${this.id} (shape [${this.shape}]) was disposed`);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype})`;
  }
}

/** Throws unless every dim is a non-negative integer. */
export function checkShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape)) throw new Error(`${what}: shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${what}: shape [${shape}] has a dimension that is not a non-negative integer (${d})`);
  }
}

const DTYPES: readonly DType[] = ['float32', 'int32'];

/** Throws unless dtype is one simdnet stores (4-byte elements; there is no float64 kernel). */
export function checkDType(dtype: unknown, what: string): void {
  if (!DTYPES.includes(dtype as DType)) {
    throw new Error(
      `${what}: dtype must be 'float32' or 'int32', got ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}`,
    );
  }
}

/** Nested arrays of numbers, as {@link tensor} takes them (e.g. [[1, 2], [3, 4]]). */
export type Nested = number | Nested[];

function inferShape(v: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  return shape;
}

/**
 * Creates a tensor from values (flat or nested arrays, or a typed array) and an optional shape.
 * @example sn.tensor([[1, 2], [3, 4]]) or sn.tensor(new Float32Array(6), [2, 3])
 */
export function tensor(
  values: ArrayLike<number> | Nested,
  shape?: readonly number[],
  dtype: DType = 'float32',
): Tensor {
  let flat: ArrayLike<number>;
  if (typeof values === 'number') flat = [values];
  else if (Array.isArray(values) && values.some(Array.isArray)) {
    const inferred = inferShape(values);
    flat = (values as unknown[]).flat(Infinity) as number[];
    if (flat.length !== inferred.reduce((a, b) => a * b, 1))
      throw new Error(`tensor(): nested array is ragged (inferred shape [${inferred}])`);
    shape = shape ?? inferred;
  } else flat = values as ArrayLike<number>;
  const s = shape ?? (typeof values === 'number' ? [] : [flat.length]);
  checkShape(s, 'tensor()');
  checkDType(dtype, 'tensor()');
  const size = s.reduce((a, b) => a * b, 1);
  if (flat.length !== size)
    throw new Error(`tensor(): ${flat.length} values do not fill shape [${s}] (${size} elements)`);
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number') throw new Error(`tensor(): value at index ${i} is not a number`);
  }
  const t = new Tensor(s, dtype, false); // written whole below
  const start = t.ptr >>> 2;
  if (dtype === 'int32') getArena().i32().set(flat, start);
  else getArena().f32().set(flat, start);
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  checkDType(dtype, 'zeros()');
  return new Tensor(shape, dtype);
}

/**
 * @internal A float32 tensor whose memory is NOT zeroed: only for an op's output that its kernel overwrites
 * entirely before anything reads it.
 */
export function uninitialized(shape: readonly number[]): Tensor {
  return new Tensor(shape, 'float32', false);
}

/** A scalar tensor. */
export function scalar(v: number): Tensor {
  return tensor([v], []);
}

/**
 * Runs fn; disposes every tensor it created except those it returns (a tensor, an array or an
 * object of tensors) and those passed to {@link keep}.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) {
      if (scopes.length > 0) scopes[scopes.length - 1].add(t);
    } else t.dispose();
  }
  return result;
}

/**
 * @internal Whether `t` belongs to the innermost tidy() scope: made in it (or returned into it) and not
 * kept, so the scope would dispose it anyway. predict frees such values once nothing reads them.
 */
export function isScoped(t: Tensor): boolean {
  return scopes.length > 0 && scopes[scopes.length - 1]!.has(t);
}

/** Makes a tensor outlive the enclosing tidy() scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) for (const x of Object.values(v)) collect(x, out);
}
