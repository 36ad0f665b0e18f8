// sliceAxis over assembly/kernels/slice.ts: a contiguous range of one axis (ONNX Slice with step 1, each
// output of Split). x is viewed as (outer, N, inner) around the axis; the backward adds dy back into
// the range of dx.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { expectTensor, k } from './util.js';

/** outer, the axis length and inner of `shape` around `axis`. */
export function aroundAxis(shape: readonly number[], axis: number): [number, number, number] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return [outer, shape[axis], inner];
}

/** A non-batch axis of a rank-`rank` tensor (negative from the end), checked. */
export function nonBatchAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 1 || a >= rank) {
    throw new Error(`${what}: axis ${axis} must be a non-batch axis of the rank-${rank} input (batch is axis 0)`);
  }
  return a;
}

/** x[..., begin:end, ...] along a non-batch `axis` (step 1); differentiable. */
export function sliceAxis(x: Tensor, axis: number, begin: number, end: number, what = 'sliceAxis'): Tensor {
  expectTensor(x, null, what, 'x');
  const a = nonBatchAxis(axis, x.rank, what);
  const [outer, n, inner] = aroundAxis(x.shape, a);
  if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end <= n && begin < end)) {
    throw new Error(`${what}: range [${begin}, ${end}) is empty or outside axis ${a} of length ${n}`);
  }
  const m = end - begin;
  const shape = [...x.shape];
  shape[a] = m;
  const out = new Tensor(shape);
  if (out.size === 0) return out;
  const kx = k();
  kx.slice_forward(out.ptr, x.ptr, outer, n, inner, begin, m);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.slice_backward(gx, dy.ptr, outer, n, inner, begin, m);
  });
  return out;
}
