// Concat and its inverses Split and Slice, along a non-batch axis mapped onto the stored layout.
// A Concat of 2-d values in a permuted feature order keeps a permuted order (the next Gemm's rows
// follow it). All-constant Concat and Slice are folded.
import { Concatenate } from '../../../nn/merge.js';
import { Slice as SliceLayer } from '../../../nn/reshaping.js';
import { type Const, clampSlice, concatConst, sliceConst } from '../fold.js';
import { type Sym, type Val, normAxis, storedAxis } from './context.js';
import type { NodeContext } from './node.js';

/** A 2-d Concat with a permuted input: stored as given, its permutation the inputs' one after another. */
function concatPerm(n: NodeContext, vs: Sym[], shape: number[]): Sym {
  const { b, base } = n;
  const perm: number[] = [];
  let off = 0;
  for (const v of vs) {
    const len = v.shape[1];
    if (v.layout === 'perm') for (const j of v.perm!) perm.push(off + j);
    else for (let j = 0; j < len; j++) perm.push(off + j);
    off += len;
  }
  const t = b.apply(
    new Concatenate({ axis: -1 }),
    base,
    vs.map((v) => v.t),
  );
  return b.sym(t, shape, 'perm', {
    perm,
    toNative: () =>
      b.apply(
        new Concatenate({ axis: -1 }),
        `${base}_native`,
        vs.map((v) => b.native(v, base)),
      ),
  });
}

export function Concat(n: NodeContext): Sym {
  const { b, base } = n;
  const xs = n.ins.filter((v): v is Val => !!v);
  if (xs.length === 0) n.fail('inputs are missing');
  if (xs.some((v) => v.kind !== 'sym')) n.fail('concatenating constants with model values is not supported');
  const vs = xs as Sym[];
  const r = vs[0].shape.length;
  if (vs.some((v) => v.shape.length !== r)) n.fail('inputs have different ranks');
  const axis = normAxis(n.attrs.int('axis', 1), r, n.what);
  if (axis === 0) n.fail('concatenation along the batch axis is not supported');
  const shape = [...vs[0].shape];
  shape[axis] = vs.reduce((a, v) => a + v.shape[axis], 0);
  if (vs.some((v) => v.shape.some((d, i) => i !== axis && d !== vs[0].shape[i])))
    n.fail(`input shapes differ off axis ${axis}`);
  if (vs.length === 1) return vs[0];
  if (r === 4) {
    const layer = new Concatenate({ axis: storedAxis({ layout: 'nhwc' }, axis) });
    const t = b.apply(
      layer,
      base,
      vs.map((v) => b.nhwc(v, base)),
    );
    return b.sym(t, shape, 'nhwc');
  }
  if (r === 2 && vs.some((v) => v.layout === 'perm')) return concatPerm(n, vs, shape);
  const t = b.apply(
    new Concatenate({ axis }),
    base,
    vs.map((v) => b.native(v, base)),
  );
  return b.sym(t, shape, 'native');
}

export function foldConcat(n: NodeContext): Const {
  const xs = n.ins.flatMap((v) => (v?.kind === 'const' ? [v.c] : []));
  if (xs.length === 0) n.fail('inputs are missing');
  return concatConst(xs, normAxis(n.attrs.int('axis', 0), xs[0].dims.length, n.what), n.what, n.claim);
}

/** Axis `axis` of x cut to [begin, end). */
function sliceSym(n: NodeContext, base: string, x: Sym, axis: number, begin: number, end: number): Sym {
  const { b } = n;
  if (axis === 0) n.fail('slicing the batch axis is not supported');
  const v = x.layout === 'perm' ? b.sym(b.native(x, base), x.shape, 'native') : x;
  const shape = [...x.shape];
  shape[axis] = end - begin;
  const t = b.apply(new SliceLayer({ axis: storedAxis(v, axis), begin, end }), base, v.t);
  return b.sym(t, shape, v.layout);
}

export function Split(n: NodeContext): Sym[] {
  const { b, attrs, outs } = n;
  const x = n.sym(0);
  const axis = normAxis(attrs.int('axis', 0), x.shape.length, n.what);
  const len = x.shape[axis];
  let parts: number[];
  const sp = b.opset >= 13 ? n.optConst(1, 'split') : null;
  if (sp) parts = Array.from(sp.data);
  else if (attrs.has('split')) parts = attrs.ints('split')!;
  else {
    const k = attrs.int('num_outputs', outs.length);
    // Checked before the sizes list is made: a num_outputs of 1e9 must not allocate.
    if (k !== outs.length) n.fail(`num_outputs ${k} differs from the node's ${outs.length} outputs`);
    const each = Math.ceil(len / k);
    parts = Array.from({ length: k }, (_, i) => Math.min(each, len - i * each));
  }
  if (
    parts.length !== outs.length ||
    parts.some((p) => !Number.isInteger(p) || p < 1) ||
    parts.reduce((a, p) => a + p, 0) !== len
  ) {
    n.fail(`split sizes [${parts}] do not divide axis ${axis} of length ${len} into ${outs.length} outputs`);
  }
  let off = 0;
  return parts.map((p, i) => {
    const v = sliceSym(n, `${n.base}_${i}`, x, axis, off, off + p);
    off += p;
    return v;
  });
}

/** starts, ends, axes and steps of a Slice: attributes before opset 10, inputs since. */
function sliceArgs(n: NodeContext, r: number) {
  const { b, attrs } = n;
  let starts: number[], ends: number[], axes: number[] | null, steps: number[] | null;
  if (b.opset < 10) {
    starts = attrs.ints('starts') ?? [];
    ends = attrs.ints('ends') ?? [];
    axes = attrs.ints('axes');
    steps = null;
  } else {
    starts = Array.from(n.constIn(1, 'starts').data);
    ends = Array.from(n.constIn(2, 'ends').data);
    const a = n.optConst(3, 'axes'),
      s = n.optConst(4, 'steps');
    axes = a ? Array.from(a.data) : null;
    steps = s ? Array.from(s.data) : null;
  }
  return { starts, ends, axes: (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r, n.what)), steps };
}

export function Slice(n: NodeContext): Sym {
  const x = n.sym(0);
  const { starts, ends, axes, steps } = sliceArgs(n, x.shape.length);
  let v: Sym = x;
  axes.forEach((a, i) => {
    const step = steps?.[i] ?? 1;
    if (step !== 1) n.fail(`steps other than 1 are not supported (got ${step})`);
    if (a === 0) {
      if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1) return;
      n.fail('slicing the batch axis is not supported');
    }
    const [s, e] = clampSlice(starts[i], ends[i], 1, v.shape[a]);
    if (e <= s) n.fail(`the slice [${starts[i]}, ${ends[i]}) of axis ${a} is empty`);
    if (s === 0 && e === v.shape[a]) return;
    v = sliceSym(n, `${n.base}_${a}`, v, a, s, e);
  });
  return v;
}

export function foldSlice(n: NodeContext): Const {
  const { b, attrs, what } = n;
  const x = n.need(0);
  const r = x.dims.length;
  const cs = n.ins.map((v) => (v?.kind === 'const' ? v.c : null));
  const attr = (name: string) => attrs.ints(name) ?? n.fail(`attribute ${name} is missing`);
  const starts = b.opset < 10 ? attr('starts') : Array.from(n.need(1).data);
  const ends = b.opset < 10 ? attr('ends') : Array.from(n.need(2).data);
  const axes = (b.opset < 10 ? attrs.ints('axes') : cs[3] ? Array.from(cs[3].data) : null) ?? starts.map((_, i) => i);
  const steps = (b.opset >= 10 && cs[4] ? Array.from(cs[4].data) : null) ?? starts.map(() => 1);
  const ax = axes.map((a) => normAxis(a, r, what));
  if (starts.length !== ax.length || ends.length !== ax.length || steps.length !== ax.length)
    n.fail(
      `starts, ends, axes and steps have different lengths (${starts.length}, ${ends.length}, ${ax.length}, ${steps.length})`,
    );
  if (new Set(ax).size !== ax.length) n.fail(`axes [${axes}] repeat an axis`);
  const bad = steps.find((s) => !Number.isInteger(s) || s === 0);
  if (bad !== undefined) n.fail(`step ${bad} is not a non-zero integer`);
  const se = ax.map((a, i) => clampSlice(starts[i], ends[i], steps[i], x.dims[a]));
  return sliceConst(
    x,
    se.map((p) => p[0]),
    se.map((p) => p[1]),
    ax,
    steps,
    n.claim,
  );
}
