// Operators on values known at import: Constant, Shape, ConstantOfShape, Gather, Cast, the unary
// arithmetic exporters put into shape computations (Neg, Floor, Ceil, Sqrt), and the pass-through
// Identity and Dropout. Shape of a model value writes NaN for the batch size (see fold.ts).
import { clampSlice, constOf, gatherConst, sizeOf } from '../fold.js';
import { BATCH, type Cst, DTYPE_NAMES, type Val, checkDims, isIntType, normAxis } from './context.js';
import type { NodeContext } from './node.js';

const cst = (c: Cst['c']): Cst => ({ kind: 'const', c });

export function Constant(n: NodeContext): Val {
  const { attrs } = n;
  const t = n.tensorAttr('value');
  if (t) return cst(t);
  if (attrs.has('value_float')) return cst(constOf([attrs.float('value_float', 0)], [], false));
  if (attrs.has('value_floats')) {
    const f = attrs.floats('value_floats')!;
    return cst(constOf(f, [f.length], false));
  }
  if (attrs.has('value_int')) return cst(constOf([attrs.int('value_int', 0)], [], true));
  if (attrs.has('value_ints')) {
    const f = attrs.ints('value_ints')!;
    return cst(constOf(f, [f.length], true));
  }
  return n.fail('only value, value_float(s) and value_int(s) constants are read');
}

export function Identity(n: NodeContext): Val {
  return n.ins[0] ?? n.fail('input is missing');
}

export function Dropout(n: NodeContext): Val {
  const x = Identity(n);
  if (x.kind === 'sym' && n.attrs.flag('training_mode', false)) n.fail('training_mode dropout is not supported');
  const mode = n.ins[2];
  if (x.kind === 'sym' && mode?.kind === 'const' && mode.c.data.some((v) => v !== 0))
    n.fail('training_mode dropout is not supported');
  return x;
}

export function Cast(n: NodeContext): Val {
  const v = n.ins[0];
  if (!v) return n.fail('input is missing');
  const to = n.attrs.int('to', 1);
  if (v.kind === 'sym') {
    if (to !== 1) n.fail(`casting a model value to ${DTYPE_NAMES[to] ?? to} is not supported`);
    return v;
  }
  const isInt = isIntType(to);
  n.claim(v.c.dims);
  const data = isInt ? v.c.data.map((x) => (Number.isNaN(x) ? x : Math.trunc(x))) : v.c.data;
  return cst({ dims: v.c.dims, data, int: isInt });
}

export function Shape(n: NodeContext): Val {
  const v = n.ins[0];
  if (!v) return n.fail('input is missing');
  let dims = v.kind === 'const' ? v.c.dims : v.shape.map((d) => (d === BATCH ? Number.NaN : d));
  const r = dims.length;
  const [s, e] = clampSlice(n.attrs.int('start', 0), n.attrs.int('end', r), 1, r);
  dims = dims.slice(s, e);
  return cst(constOf(dims, [dims.length], true));
}

export function ConstantOfShape(n: NodeContext): Val {
  const dims = Array.from(n.constIn(0, 'shape').data);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) n.fail(`shape [${dims}] is not known or invalid`);
  checkDims(dims, n.what);
  n.claim(dims);
  const val = n.tensorAttr('value') ?? constOf([0], [1], false);
  return cst({ dims, data: new Float64Array(sizeOf(dims)).fill(val.data[0] ?? 0), int: val.int });
}

export function Gather(n: NodeContext): Val {
  const data = n.constIn(0, 'data'),
    idx = n.constIn(1, 'indices');
  const axis = normAxis(n.attrs.int('axis', 0), data.dims.length, n.what);
  return cst(gatherConst(data, idx, axis, n.what, n.claim));
}

/** Element-wise arithmetic on a constant. */
const constUnary =
  (f: (x: number) => number) =>
  (n: NodeContext): Val => {
    const c = n.constIn(0, 'input');
    n.claim(c.dims);
    return cst({ dims: c.dims, data: c.data.map(f), int: c.int });
  };

export const Neg = constUnary((x) => -x);
export const Floor = constUnary(Math.floor);
export const Ceil = constUnary(Math.ceil);
export const Sqrt = constUnary(Math.sqrt);
