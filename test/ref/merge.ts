// Merge references, float64: element-wise ops with numpy broadcasting and concatenation.

export type MergeOpName = 'add' | 'sub' | 'mul' | 'maximum' | 'minimum';

// a shape, b shape -> numpy broadcast shape (right-aligned, each axis equal or 1)
export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`ref: [${a}] and [${b}] do not broadcast`);
    return Math.max(x, y);
  });
}

// flat output index i of shape out -> flat index into an operand of shape s (broadcast on the right)
function sourceIndex(i: number, out: number[], s: number[]): number {
  let idx = 0,
    stride = 1,
    rem = i;
  for (let d = out.length - 1; d >= 0; d--) {
    const coord = rem % out[d]!;
    rem = Math.floor(rem / out[d]!);
    const sd = d - (out.length - s.length);
    if (sd >= 0) {
      if (s[sd] !== 1) idx += coord * stride;
      stride *= s[sd]!;
    }
  }
  return idx;
}

function apply(op: MergeOpName, x: number, y: number): number {
  if (op === 'add') return x + y;
  if (op === 'sub') return x - y;
  if (op === 'mul') return x * y;
  if (op === 'maximum') return y > x ? y : x;
  return y < x ? y : x;
}

// a (shape sa), b (shape sb) -> a op b (broadcast shape)
export function binary(
  op: MergeOpName,
  a: ArrayLike<number>,
  sa: number[],
  b: ArrayLike<number>,
  sb: number[],
): Float64Array {
  const out = broadcastShape(sa, sb);
  const n = out.reduce((p, q) => p * q, 1);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = apply(op, a[sourceIndex(i, out, sa)]!, b[sourceIndex(i, out, sb)]!);
  return y;
}

// dout (broadcast shape), a, b -> da (shape sa), db (shape sb); ties of max/min go to a
export function binaryBackward(
  op: MergeOpName,
  dout: ArrayLike<number>,
  a: ArrayLike<number>,
  sa: number[],
  b: ArrayLike<number>,
  sb: number[],
): { da: Float64Array; db: Float64Array } {
  const out = broadcastShape(sa, sb);
  const da = new Float64Array(a.length),
    db = new Float64Array(b.length);
  for (let i = 0; i < dout.length; i++) {
    const ia = sourceIndex(i, out, sa),
      ib = sourceIndex(i, out, sb);
    const g = dout[i]!,
      x = a[ia]!,
      y = b[ib]!;
    if (op === 'add') {
      da[ia] += g;
      db[ib] += g;
    } else if (op === 'sub') {
      da[ia] += g;
      db[ib] -= g;
    } else if (op === 'mul') {
      da[ia] += g * y;
      db[ib] += g * x;
    } else if (op === 'maximum') {
      if (x >= y) da[ia] += g;
      else db[ib] += g;
    } else if (x <= y) da[ia] += g;
    else db[ib] += g;
  }
  return { da, db };
}

// xs with shapes, axis (non-negative) -> concatenation along axis
export function concat(xs: ArrayLike<number>[], shapes: number[][], axis: number): Float64Array {
  const outer = shapes[0]!.slice(0, axis).reduce((p, q) => p * q, 1);
  const inners = shapes.map((s) => s.slice(axis).reduce((p, q) => p * q, 1));
  const total = inners.reduce((p, q) => p + q, 0);
  const y = new Float64Array(outer * total);
  for (let o = 0; o < outer; o++) {
    let off = 0;
    xs.forEach((x, k) => {
      for (let j = 0; j < inners[k]!; j++) y[o * total + off + j] = x[o * inners[k]! + j]!;
      off += inners[k]!;
    });
  }
  return y;
}
