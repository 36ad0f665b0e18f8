// Constant folding for the ONNX importer: the shape arithmetic exporters emit around flatten/view
// (Shape, Gather, Unsqueeze, Concat, Cast, Slice, Div, ...) and arithmetic on initializers, computed
// once at import in float64 on plain arrays. A value that depends on the batch size (Shape of a
// graph value) holds NaN there, which propagates through arithmetic; Reshape reads a NaN as "the
// batch axis" (see import.ts).

/** A constant tensor: dims and row-major values; `int` for integer element types (Div truncates). */
export interface Const {
  dims: number[];
  data: Float64Array;
  int: boolean;
}

export const sizeOf = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Called with the shape of a result before it is allocated: throws when the budget is exceeded. */
export type Claim = (dims: readonly number[]) => void;
const noClaim: Claim = () => {};

export function constOf(data: ArrayLike<number>, dims: number[], int: boolean): Const {
  return { dims: [...dims], data: Float64Array.from(data), int };
}

/** Row-major strides of `dims`. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** numpy broadcasting of shapes; null when they do not broadcast. */
export function broadcastDims(a: readonly number[], b: readonly number[]): number[] | null {
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

/** Values of `c` broadcast to `dims` (which must be a broadcast of c's dims). */
export function expandTo(c: Const, dims: readonly number[], claim: Claim = noClaim): Float64Array {
  const n = sizeOf(dims);
  if (c.dims.join() === dims.join()) return c.data;
  claim(dims);
  const r = dims.length;
  const cd = [...new Array(r - c.dims.length).fill(1), ...c.dims];
  const cs = strides(cd).map((s, i) => (cd[i] === 1 ? 0 : s));
  const os = strides(dims);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i,
      src = 0;
    for (let a = 0; a < r; a++) {
      const q = Math.floor(rem / os[a]);
      rem -= q * os[a];
      src += q * cs[a];
    }
    out[i] = c.data[src];
  }
  return out;
}

/** Element-wise a op b with numpy broadcasting. */
export function binaryConst(op: string, a: Const, b: Const, what: string, claim: Claim = noClaim): Const {
  const dims = broadcastDims(a.dims, b.dims);
  if (!dims) throw new Error(`${what}: constant shapes [${a.dims}] and [${b.dims}] do not broadcast`);
  claim(dims);
  const x = expandTo(a, dims, claim),
    y = expandTo(b, dims, claim);
  const int = a.int && b.int;
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const u = x[i],
      v = y[i];
    switch (op) {
      case 'Add':
        out[i] = u + v;
        break;
      case 'Sub':
        out[i] = u - v;
        break;
      case 'Mul':
        out[i] = u * v;
        break;
      case 'Div':
        out[i] = int ? Math.trunc(u / v) : u / v;
        break;
      default:
        throw new Error(`${what}: cannot fold ${op}`);
    }
  }
  return { dims, data: out, int };
}

/** Axes of `perm` applied to a constant (numpy transpose); `perm` must be a permutation of its axes. */
export function transposeConst(c: Const, perm: readonly number[], claim: Claim = noClaim): Const {
  const r = c.dims.length;
  const seen = new Set(perm);
  if (perm.length !== r || seen.size !== r || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= r))
    throw new Error(`perm [${perm}] is not a permutation of the ${r} axes of a constant of shape [${c.dims}]`);
  claim(c.dims);
  const dims = perm.map((p) => c.dims[p]);
  const is = strides(c.dims),
    os = strides(dims);
  const out = new Float64Array(c.data.length);
  for (let i = 0; i < out.length; i++) {
    let rem = i,
      src = 0;
    for (let a = 0; a < r; a++) {
      const q = Math.floor(rem / os[a]);
      rem -= q * os[a];
      src += q * is[perm[a]];
    }
    out[i] = c.data[src];
  }
  return { dims, data: out, int: c.int };
}

/** numpy take along `axis`. */
export function gatherConst(c: Const, idx: Const, axis: number, what: string, claim: Claim = noClaim): Const {
  const n = c.dims[axis];
  const outer = sizeOf(c.dims.slice(0, axis)),
    inner = sizeOf(c.dims.slice(axis + 1));
  const dims = [...c.dims.slice(0, axis), ...idx.dims, ...c.dims.slice(axis + 1)];
  claim(dims);
  const out = new Float64Array(sizeOf(dims));
  const m = idx.data.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      let k = idx.data[j];
      if (k < 0) k += n;
      if (!Number.isInteger(k) || k < 0 || k >= n)
        throw new Error(`${what}: index ${idx.data[j]} is out of range for axis of length ${n}`);
      for (let i = 0; i < inner; i++) out[(o * m + j) * inner + i] = c.data[(o * n + k) * inner + i];
    }
  }
  return { dims, data: out, int: c.int };
}

/** Concatenation along `axis`. */
export function concatConst(cs: Const[], axis: number, what: string, claim: Claim = noClaim): Const {
  const r = cs[0].dims.length;
  for (const c of cs) {
    if (c.dims.length !== r || c.dims.some((d, i) => i !== axis && d !== cs[0].dims[i])) {
      throw new Error(`${what}: constant shapes ${cs.map((x) => `[${x.dims}]`).join(', ')} differ off axis ${axis}`);
    }
  }
  const dims = [...cs[0].dims];
  dims[axis] = cs.reduce((a, c) => a + c.dims[axis], 0);
  claim(dims);
  const outer = sizeOf(dims.slice(0, axis)),
    inner = sizeOf(dims.slice(axis + 1));
  const out = new Float64Array(sizeOf(dims));
  let off = 0;
  for (let o = 0; o < outer; o++) {
    for (const c of cs) {
      const len = c.dims[axis] * inner;
      out.set(c.data.subarray(o * len, (o + 1) * len), off);
      off += len;
    }
  }
  return { dims, data: out, int: cs.every((c) => c.int) };
}

/** Slice with steps (ONNX Slice semantics, starts/ends already clamped per axis). */
export function sliceConst(
  c: Const,
  starts: number[],
  ends: number[],
  axes: number[],
  steps: number[],
  claim: Claim = noClaim,
): Const {
  const r = c.dims.length;
  const lo = new Array(r).fill(0),
    st = new Array(r).fill(1),
    len = [...c.dims];
  axes.forEach((a, i) => {
    lo[a] = starts[i];
    st[a] = steps[i];
    len[a] = Math.max(
      0,
      steps[i] > 0 ? Math.ceil((ends[i] - starts[i]) / steps[i]) : Math.ceil((ends[i] - starts[i]) / steps[i]),
    );
  });
  claim(len);
  const is = strides(c.dims),
    os = strides(len);
  const out = new Float64Array(sizeOf(len));
  for (let i = 0; i < out.length; i++) {
    let rem = i,
      src = 0;
    for (let a = 0; a < r; a++) {
      const q = Math.floor(rem / os[a]);
      rem -= q * os[a];
      src += (lo[a] + q * st[a]) * is[a];
    }
    out[i] = c.data[src];
  }
  return { dims: len, data: out, int: c.int };
}

/** ONNX Slice start/end clamping for one axis of length n (INT64 extremes mean "to the end"). */
export function clampSlice(start: number, end: number, step: number, n: number): [number, number] {
  const fix = (v: number) => (v < 0 ? v + n : v);
  let s = fix(start),
    e = fix(end);
  if (step > 0) {
    s = Math.min(Math.max(s, 0), n);
    e = Math.min(Math.max(e, 0), n);
  } else {
    s = Math.min(Math.max(s, -1), n - 1);
    e = Math.min(Math.max(e, -1), n - 1);
  }
  return [s, e];
}
