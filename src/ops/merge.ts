// Ops of the merge layers over assembly/kernels/merge.ts: element-wise add / sub / mul / maximum /
// minimum of two tensors with numpy broadcasting (shapes aligned on the right; each axis equal or 1),
// and concatenation along an axis. Strides, not copies: a broadcast operand is read with stride 0.
import { type Tensor, uninitialized } from '../tensor.js';
import { record } from '../autograd.js';
import { getArena } from '../wasm/arena.js';
import { binaryTasks, isSuffix } from './elementwise.js';
import { expectTensor, k, runTasks, withScratch } from './util.js';

const OPS = { add: 0, sub: 1, mul: 2, maximum: 3, minimum: 4 } as const;
/** Element-wise ops {@link broadcastBinary} computes. */
export type MergeOp = keyof typeof OPS;

/** numpy broadcasting of two shapes (right-aligned, each axis equal or 1); null when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Element strides of `s` read as `out` (right-aligned; 0 along broadcast axes). */
function stridesFor(s: readonly number[], out: readonly number[]): number[] {
  const st = new Array(out.length).fill(0);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    const o = out.length - s.length + i;
    st[o] = s[i] === 1 ? 0 : acc;
    acc *= s[i];
  }
  return st;
}

// When one operand is the output's shape and the other repeats along it (its shape, leading 1s aside, a
// suffix of the output's: a per-channel scale, a bias, a scalar) and op is add, sub or mul: the element-wise
// kernel's case, 4 values at a time and on the threads. The same IEEE operation per value either way.
function repeats(a: Tensor, b: Tensor, shape: readonly number[], op: MergeOp) {
  if (op !== 'add' && op !== 'sub' && op !== 'mul') return null;
  const same = (s: readonly number[]) => s.length === shape.length && s.every((d, i) => d === shape[i]);
  if (same(a.shape) && isSuffix(b.shape, shape)) return { big: a, small: b, swap: 0 };
  if (same(b.shape) && isSuffix(a.shape, shape)) return { big: b, small: a, swap: 1 };
  return null;
}

/** a op b with numpy broadcasting, in wasm; differentiable. */
export function broadcastBinary(op: MergeOp, a: Tensor, b: Tensor): Tensor {
  expectTensor(a, null, op, 'a');
  expectTensor(b, null, op, 'b');
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape)
    throw new Error(
      `${op}: shapes [${a.shape}] and [${b.shape}] do not broadcast (each axis, aligned on the right, must be equal or 1)`,
    );
  // Rank 0 runs as rank 1 of one element.
  const dims = shape.length === 0 ? [1] : shape;
  const as = stridesFor(a.shape, dims),
    bs = stridesFor(b.shape, dims);
  const rank = dims.length;
  const kx = k();
  // every value is written by either kernel: no zero fill
  const out = uninitialized(shape);
  const withMeta = (fn: (d: number, sa: number, sb: number) => void) =>
    withScratch(
      [rank, rank, rank],
      (d, sa, sb) => {
        const i32 = getArena().i32();
        i32.set(dims, d >>> 2);
        i32.set(as, sa >>> 2);
        i32.set(bs, sb >>> 2);
        fn(d, sa, sb);
      },
      false,
    );
  const rep = repeats(a, b, shape, op);
  if (rep) runTasks(binaryTasks(out, rep.big, rep.small, OPS[op], rep.swap), out.size);
  else if (out.size > 0)
    withMeta((d, sa, sb) => kx.merge_binary_forward(out.ptr, a.ptr, b.ptr, d, sa, sb, rank, OPS[op]));
  record([a, b], out, (dy, grad) => {
    const ga = grad(a),
      gb = grad(b);
    if ((ga || gb) && out.size > 0)
      withMeta((d, sa, sb) => kx.merge_binary_backward(ga, gb, dy.ptr, a.ptr, b.ptr, d, sa, sb, rank, OPS[op]));
  });
  return out;
}

/** max(a, b) element-wise with numpy broadcasting (a tie passes the gradient to a). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return broadcastBinary('maximum', a, b);
}

/** min(a, b) element-wise with numpy broadcasting (a tie passes the gradient to a). */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return broadcastBinary('minimum', a, b);
}

/** The shape of concatenating `shapes` along `axis` (negative counts from the end); throws naming the mismatch. */
export function concatShape(shapes: readonly (readonly number[])[], axis: number, what = 'concat'): number[] {
  if (shapes.length === 0) throw new Error(`${what}: needs at least one input`);
  const r = shapes[0].length;
  const ax = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(axis) || ax < 0 || ax >= r)
    throw new Error(`${what}: axis ${axis} is out of range for rank ${r} inputs`);
  const out = [...shapes[0]];
  for (const s of shapes.slice(1)) {
    if (s.length !== r || s.some((d, i) => i !== ax && d !== shapes[0][i])) {
      throw new Error(
        `${what}: shapes ${shapes.map((x) => `[${x}]`).join(', ')} differ on an axis other than the concatenation axis ${axis}`,
      );
    }
    out[ax] += s[ax];
  }
  return out;
}

/** Concatenation of xs along `axis` (negative counts from the end), in wasm; differentiable. */
export function concat(xs: Tensor[], axis = -1): Tensor {
  if (!Array.isArray(xs)) throw new Error('concat: xs must be a list of tensors');
  xs.forEach((x, i) => expectTensor(x, null, 'concat', `xs[${i}]`));
  const shape = concatShape(
    xs.map((x) => x.shape),
    axis,
  );
  const ax = axis < 0 ? axis + shape.length : axis;
  const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const outInner = shape.slice(ax).reduce((a, b) => a * b, 1);
  const inners = xs.map((x) => x.shape.slice(ax).reduce((a, b) => a * b, 1));
  const kx = k();
  // every value is written by either kernel: no zero fill
  const out = uninitialized(shape);
  let off = 0;
  const offsets = inners.map((n) => {
    const o = off;
    off += n;
    return o;
  });
  xs.forEach((x, i) => kx.concat_forward(out.ptr, x.ptr, outer, inners[i], outInner, offsets[i]));
  record(xs, out, (dy, grad) => {
    xs.forEach((x, i) => {
      const g = grad(x);
      if (g) kx.concat_backward(g, dy.ptr, outer, inners[i], outInner, offsets[i]);
    });
  });
  return out;
}
