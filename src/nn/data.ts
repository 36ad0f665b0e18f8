// What fit/evaluate/predict accept: a Tensor in wasm memory, or a host array with a shape (so a
// 60,000-image data set need not live in wasm memory). Batches are gathered row by row into the arena.
import { Tensor } from '../tensor.js';

/** Examples as a tensor or as a host array `{data, shape}` with the batch axis first. */
export type Data = Tensor | { data: ArrayLike<number>; shape: number[] };

/** Loss names (Keras). */
export type LossName =
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'binaryCrossentropy';

/** Every loss compile accepts. */
export const LOSSES: readonly LossName[] = [
  'categoricalCrossentropy',
  'sparseCategoricalCrossentropy',
  'meanSquaredError',
  'meanAbsoluteError',
  'binaryCrossentropy',
];

/**
 * Checks targets of the element-wise losses: the shape of the model's output, finite values, and
 * for binaryCrossentropy values in [0, 1].
 */
export function checkTargets(ys: DataSource, loss: LossName, outShape: readonly number[], what: string): void {
  if (ys.rowShape.join() !== outShape.join()) {
    throw new Error(
      `${what}: ${loss} needs targets of the output's shape [N, ${outShape}], got [${ys.n}, ${ys.rowShape}]`,
    );
  }
  ys.checkFinite(what);
  if (loss === 'binaryCrossentropy') {
    const v = ys.values();
    for (let i = 0; i < v.length; i++) {
      if (!(v[i] >= 0 && v[i] <= 1))
        throw new Error(`${what}: binaryCrossentropy targets must lie in [0, 1], got ${v[i]} at flat index ${i}`);
    }
  }
}

export interface DataSource {
  n: number;
  rowShape: number[];
  rowSize: number;
  /** Copies rows idx[start..start+count) into dst (count * rowSize floats). */
  gather(idx: Int32Array, start: number, count: number, dst: Float32Array): void;
  checkFinite(what: string): void;
  checkLabels(loss: LossName, K: number, what: string): void;
  values(): ArrayLike<number>;
}

/** Wraps x for batch gathering, checking its shape. */
export function toSource(x: Data, what: string): DataSource {
  let shape: number[];
  let values: () => ArrayLike<number>;
  if (x instanceof Tensor) {
    x.assertLive();
    if (x.dtype !== 'float32') throw new Error(`${what}: expected a float32 tensor, got ${x.dtype}`);
    shape = [...x.shape];
    values = () => x.view();
  } else if (x && typeof x === 'object' && 'data' in x && 'shape' in x) {
    shape = [...x.shape];
    if (shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new Error(`${what}: shape [${shape}] must hold non-negative integers`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (x.data.length !== size)
      throw new Error(`${what}: ${x.data.length} values do not fill shape [${shape}] (${size})`);
    const d = x.data;
    values = () => d;
  } else {
    throw new Error(`${what}: expected a Tensor or {data, shape}, got ${x === null ? 'null' : typeof x}`);
  }
  if (shape.length < 1) throw new Error(`${what}: needs a batch axis, got a scalar`);
  return makeSource(shape, values);
}

/**
 * Examples start..start+count of src (no copy for typed arrays and tensors: the rows are read
 * through the parent each time, so a tensor's view stays valid after memory growth).
 */
export function sliceSource(src: DataSource, start: number, count: number): DataSource {
  const r = src.rowSize;
  let cached: ArrayLike<number> | null = null;
  const values = (): ArrayLike<number> => {
    const v = src.values();
    if (ArrayBuffer.isView(v)) return (v as Float32Array).subarray(start * r, (start + count) * r);
    // Plain arrays never move: copy the slice once.
    return (cached ??= Array.prototype.slice.call(v, start * r, (start + count) * r) as number[]);
  };
  return makeSource([count, ...src.rowShape], values);
}

function makeSource(shape: number[], values: () => ArrayLike<number>): DataSource {
  const n = shape[0];
  const rowShape = shape.slice(1);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  return {
    n,
    rowShape,
    rowSize,
    values,
    gather(idx, start, count, dst) {
      const v = values();
      for (let i = 0; i < count; i++) {
        const r = idx[start + i] * rowSize;
        if (v instanceof Float32Array) dst.set(v.subarray(r, r + rowSize), i * rowSize);
        else for (let j = 0; j < rowSize; j++) dst[i * rowSize + j] = v[r + j];
      }
    },
    checkFinite(w) {
      const v = values();
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i]))
          throw new Error(
            `${w}: contains ${v[i]} at flat index ${i} (example ${Math.floor(i / Math.max(1, rowSize))})`,
          );
      }
    },
    checkLabels(loss, K, w) {
      const v = values();
      if (loss === 'sparseCategoricalCrossentropy') {
        if (rowSize !== 1)
          throw new Error(
            `${w}: sparseCategoricalCrossentropy needs integer class labels of shape [N] or [N, 1], got [${shape}]`,
          );
        for (let i = 0; i < n; i++) {
          const c = v[i];
          if (!Number.isInteger(c) || c < 0 || c >= K)
            throw new Error(`${w}: label ${c} of example ${i} is not a class index in [0, ${K})`);
        }
      } else {
        if (rowShape.length !== 1 || rowSize !== K) {
          throw new Error(
            `${w}: categoricalCrossentropy needs one-hot labels of shape [N, ${K}], got [${shape}]${rowSize === 1 ? ' (use sparseCategoricalCrossentropy for class indices)' : ''}`,
          );
        }
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            const p = v[i * K + k];
            if (!(p >= 0 && p <= 1))
              throw new Error(`${w}: example ${i} is not a one-hot (or probability) row: value ${p} at class ${k}`);
            s += p;
          }
          if (Math.abs(s - 1) > 1e-3)
            throw new Error(`${w}: example ${i} is not a one-hot (or probability) row: it sums to ${s}`);
        }
      }
    },
  };
}

/** Writes one-hot rows for the batch into dst (count * K floats, zeroed by the caller). */
export function labelsToOneHot(
  ys: DataSource,
  idx: Int32Array,
  start: number,
  count: number,
  loss: LossName,
  K: number,
  dst: Float32Array,
): void {
  if (loss === 'categoricalCrossentropy') {
    ys.gather(idx, start, count, dst);
    return;
  }
  const v = ys.values();
  for (let i = 0; i < count; i++) dst[i * K + v[idx[start + i]]] = 1;
}
