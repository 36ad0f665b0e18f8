// add / sub / mul / div with broadcasting, sum / mean, reshape — over assembly/kernels/elementwise.ts.
// Broadcasting: shapes equal, or one operand's shape is a suffix of the other's (leading 1s ignored),
// e.g. [N, H, W, C] + [C], or a scalar. The kernel repeats the smaller operand.
import { Tensor, tensor, uninitialized } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import type { Task } from '../wasm/abi.js';
import { expectTensor, k, runTasks, shardRanges } from './util.js';

const OPS = { add: 0, sub: 1, mul: 2, div: 3 } as const;
type BinOp = keyof typeof OPS;

function stripOnes(s: readonly number[]): number[] {
  let i = 0;
  while (i < s.length && s[i] === 1) i++;
  return s.slice(i);
}

/** @internal Whether `small`, leading 1s aside, is a suffix of `big` (it repeats along big's values). */
export function isSuffix(small: readonly number[], big: readonly number[]): boolean {
  const s = stripOnes(small);
  if (s.length > big.length) return false;
  return s.every((d, i) => d === big[big.length - s.length + i]);
}

/**
 * @internal out = big op small (op: 0 add, 1 sub, 2 mul, 3 div; swap: small op big), small's shape a suffix of
 * big's or a scalar, cut into the fixed shards on whole repeats of small (or, same sizes, on values): every
 * value is computed on its own, so the bits are the same at any thread count.
 */
export function binaryTasks(out: Tensor, big: Tensor, small: Tensor, op: number, swap: number): Task[] {
  const nb = Math.max(1, small.size);
  if (nb === big.size)
    return shardRanges(nb)
      .filter(([, c]) => c > 0)
      .map(([i, c]) => ['binary_forward', out.ptr + 4 * i, big.ptr + 4 * i, small.ptr + 4 * i, c, c, op, swap]);
  return shardRanges(big.size / nb)
    .filter(([, c]) => c > 0)
    .map(([r, c]) => ['binary_forward', out.ptr + 4 * r * nb, big.ptr + 4 * r * nb, small.ptr, c * nb, nb, op, swap]);
}

function binary(op: BinOp, a: Tensor | number, b: Tensor | number): Tensor {
  // Check tensor operands before making scalars from numbers, so a bad call leaks nothing.
  if (typeof a !== 'number') expectTensor(a, null, op, 'a');
  if (typeof b !== 'number') expectTensor(b, null, op, 'b');
  const at = typeof a === 'number' ? tensor([a], []) : a;
  const bt = typeof b === 'number' ? tensor([b], []) : b;
  let swap = 0;
  let big = at,
    small = bt;
  if (at.size < bt.size || (at.size === bt.size && at.rank < bt.rank)) {
    big = bt;
    small = at;
    swap = 1;
  }
  if (!isSuffix(small.shape, big.shape)) {
    throw new Error(
      `${op}: shapes [${at.shape}] and [${bt.shape}] cannot be broadcast (the smaller must be a suffix of the larger, or a scalar)`,
    );
  }
  const kx = k();
  const out = uninitialized(big.shape); // every value is written by the kernel
  runTasks(binaryTasks(out, big, small, OPS[op], swap), big.size);
  record([at, bt], out, (dy, grad) => {
    const gBig = grad(big),
      gSmall = grad(small);
    if (gBig || gSmall)
      kx.binary_backward(gBig, gSmall, dy.ptr, big.ptr, small.ptr, big.size, Math.max(1, small.size), OPS[op], swap);
  });
  // Scalars made from plain numbers are ours to free, unless the tape still needs them.
  if (!needsGrad(out)) {
    if (typeof a === 'number') at.dispose();
    if (typeof b === 'number') bt.dispose();
  }
  return out;
}

/** a + b (broadcasting a suffix shape or scalar). */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('add', a, b);
}
/** a - b */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('sub', a, b);
}
/** a * b */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('mul', a, b);
}
/** a / b */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return binary('div', a, b);
}

/** Sum of all elements (a scalar), accumulated in float64 in index order. */
export function sum(x: Tensor): Tensor {
  expectTensor(x, null, 'sum', 'x');
  const kx = k();
  const out = new Tensor([]);
  out.view()[0] = kx.sum_all(x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.add_scalar(gx, dy.view()[0], x.size);
  });
  return out;
}

/** Mean of all elements (a scalar). */
export function mean(x: Tensor): Tensor {
  expectTensor(x, null, 'mean', 'x');
  if (x.size === 0) throw new Error('mean: the input is empty');
  const kx = k();
  const out = new Tensor([]);
  out.view()[0] = kx.sum_all(x.ptr, x.size) / x.size;
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.add_scalar(gx, dy.view()[0] / x.size, x.size);
  });
  return out;
}

/** A copy of x with a new shape of the same size; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor(x, null, 'reshape', 'x');
  const s = [...shape];
  const unknown = s.indexOf(-1);
  if (s.some((d, i) => !Number.isInteger(d) || (d < 0 && !(d === -1 && i === unknown)))) {
    throw new Error(`reshape: shape [${shape}] must hold non-negative integers and at most one -1`);
  }
  if (s.indexOf(-1, unknown + 1) >= 0 && unknown >= 0)
    throw new Error(`reshape: shape [${shape}] has more than one -1`);
  if (unknown >= 0) {
    const known = s.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
    if (known === 0 || x.size % known !== 0)
      throw new Error(`reshape: cannot reshape [${x.shape}] (${x.size} elements) to [${shape}]`);
    s[unknown] = x.size / known;
  }
  const size = s.reduce((a, b) => a * b, 1);
  if (size !== x.size)
    throw new Error(`reshape: cannot reshape [${x.shape}] (${x.size} elements) to [${shape}] (${size} elements)`);
  const kx = k();
  const out = new Tensor(s, 'float32', false);
  kx.copy_into(out.ptr, x.ptr, x.size);
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) kx.add_into(gx, dy.ptr, x.size);
  });
  return out;
}
