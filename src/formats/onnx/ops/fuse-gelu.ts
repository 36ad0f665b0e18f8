// GELU as exporters write it before opset 20 (torch.onnx at opsets 9-17, simdnet's own export), exact:
//   Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5
// and the tanh form: Mul(x, Mul(x, x)) → Mul 0.044715 → Add x → Mul √(2/π) → Tanh → Add 1 → Mul x → Mul 0.5,
// with the operands of each node in either order, the last two Muls in any grouping (x·(1 + f)·0.5,
// x·((1 + f)·0.5), (x·0.5)·(1 + f)) and Mul by 1/√2 in place of the Div. A graph pass, run on the
// sorted nodes before conversion, replaces each such chain by one Gelu node (converted like ONNX's
// opset-20 Gelu), so the model gets one GELU layer instead of five element-wise ones. A chain whose
// inner values are read elsewhere, or are graph outputs, is left as it is.
import type { Const } from '../fold.js';
import { type TensorMsg, readTensor } from '../tensor.js';
import type { AttrMsg } from './attrs.js';

/** The fields of a NodeProto the pass reads and writes. */
export interface PatternNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttrMsg[];
}

/** Attribute the pass sets on the Gelu nodes it makes: they may stand in a graph of any opset. */
export const FUSED_GELU_ATTR = 'simdnet_fused_gelu';

/** Whether `c` is `want` to within a float32 rounding (exporters write √2 as float32). */
const near = (c: number | null, want: number) => c !== null && Math.abs(c - want) <= 1e-6 * Math.abs(want);

/** The graph's wiring: who produces each value, who reads it, and the values' scalar constants. */
export class Wiring<N extends PatternNode> {
  private readonly producer = new Map<string, number>();
  private readonly readers = new Map<string, number[]>();
  private readonly graphOutputs: Set<string>;

  constructor(
    readonly nodes: N[],
    private readonly consts: Map<string, Const>,
    outputs: readonly string[],
  ) {
    this.graphOutputs = new Set(outputs);
    nodes.forEach((n, i) => {
      for (const o of n.output ?? []) if (o) this.producer.set(o, i);
      for (const x of n.input ?? []) {
        if (!x) continue;
        const r = this.readers.get(x);
        if (r) r.push(i);
        else this.readers.set(x, [i]);
      }
    });
  }

  /** The node index producing `v`, if a default-domain node of type `op` does. */
  made(v: string, op: string): number | null {
    const i = this.producer.get(v);
    return i !== undefined && this.nodes[i].op_type === op && !isForeign(this.nodes[i]) ? i : null;
  }

  /** The nodes reading `v` (one entry per input slot), none for a graph output (it is read outside too). */
  readersOf(v: string): readonly number[] | null {
    return this.graphOutputs.has(v) ? null : (this.readers.get(v) ?? []);
  }

  /** The only reader of `v` if it is an `op` node (Erf, Tanh or binary) and `v` no graph output; else null. */
  onlyReader(v: string, op: string): number | null {
    const r = this.readers.get(v);
    if (!r || r.length !== 1 || this.graphOutputs.has(v)) return null;
    const n = this.nodes[r[0]];
    const arity = op === 'Erf' || op === 'Tanh' ? 1 : 2;
    return n.op_type === op && !isForeign(n) && (n.input ?? []).length === arity ? r[0] : null;
  }

  /** The single value of scalar constant `v` (an initializer or a Constant node's tensor), else null. */
  scalar(v: string): number | null {
    const c = this.consts.get(v);
    // At most one axis: a [1, 1, 1] constant would broadcast the value to a higher rank.
    if (c) return c.data.length === 1 && c.dims.length <= 1 && !c.int ? c.data[0] : null;
    const i = this.made(v, 'Constant');
    if (i === null) return null;
    const attrs = this.nodes[i].attribute ?? [];
    const f = attrs.find((a) => a.name === 'value_float');
    if (f) return typeof f.f === 'number' ? f.f : null;
    const t = attrs.find((a) => a.name === 'value')?.t as TensorMsg | undefined;
    const dims = t?.dims ?? [];
    if (!t || dims.length > 1 || dims.some((d) => Number(d) !== 1)) return null;
    try {
      const k = readTensor(t, 'Constant');
      return k.data.length === 1 && !k.int ? k.data[0] : null;
    } catch {
      // A malformed constant is refused, with its message, when its own node is converted.
      return null;
    }
  }

  /** The input of binary node i other than `v` (null if `v` is not one of its two inputs). */
  other(i: number, v: string): string | null {
    const [a, b] = this.nodes[i].input ?? [];
    return a === v ? b : b === v ? a : null;
  }

  /** The first input of binary node i whose other input is the scalar `want`, and that scalar's input. */
  withScalar(i: number, want: number): string | null {
    const [a, b] = this.nodes[i].input ?? [];
    if (near(this.scalar(b), want)) return a;
    if (near(this.scalar(a), want)) return b;
    return null;
  }

  /** Whether `v` is known at import: an initializer, a Constant, or an Identity of one. */
  isConst(v: string): boolean {
    let u = v;
    // Identity chains are short in practice; a bound keeps a crafted one from costing more.
    for (let k = 0; k < 64; k++) {
      if (this.consts.has(u) || this.made(u, 'Constant') !== null) return true;
      const i = this.made(u, 'Identity');
      if (i === null) return false;
      u = this.nodes[i].input?.[0] ?? '';
    }
    return false;
  }
}

export const isForeign = (n: PatternNode) => !!n.domain && n.domain !== 'ai.onnx';
export const out0 = (n: PatternNode) => n.output?.[0] ?? '';

type Match = [x: string, y: string, nodes: number[]];

/** The tail both GELUs share after node f (Erf or Tanh): (1 + f) · x · 0.5 in any grouping. */
function matchTail<N extends PatternNode>(w: Wiring<N>, x: string, f: number): Match | null {
  const add = w.onlyReader(out0(w.nodes[f]), 'Add');
  if (add === null || w.withScalar(add, 1) !== out0(w.nodes[f])) return null;
  const a = out0(w.nodes[add]);
  const m1 = w.onlyReader(a, 'Mul');
  const o = m1 === null ? null : w.other(m1, a);
  if (m1 === null || o === null) return null;
  const chain = [f, add, m1];
  if (o === x || near(w.scalar(o), 0.5)) {
    // (x · a) · 0.5 or (a · 0.5) · x
    const m2 = w.onlyReader(out0(w.nodes[m1]), 'Mul');
    if (m2 === null) return null;
    const last = w.other(m2, out0(w.nodes[m1]));
    const ok = o === x ? near(w.scalar(last ?? ''), 0.5) : last === x;
    return ok ? [x, out0(w.nodes[m2]), [...chain, m2]] : null;
  }
  // (x · 0.5) · a, the x · 0.5 read by this Mul only
  const h = w.made(o, 'Mul');
  if (h === null || w.onlyReader(o, 'Mul') !== m1 || w.withScalar(h, 0.5) !== x) return null;
  return [x, out0(w.nodes[m1]), [h, ...chain]];
}

/** The exact GELU around Erf node `e`, or null when the Erf is something else. */
function matchErf<N extends PatternNode>(w: Wiring<N>, e: number): Match | null {
  const d = w.nodes[e].input?.[0];
  if (!d || (w.nodes[e].input ?? []).length !== 1 || w.onlyReader(d, 'Erf') !== e) return null;
  const div = w.made(d, 'Div') ?? w.made(d, 'Mul');
  if (div === null) return null;
  const isDiv = w.nodes[div].op_type === 'Div';
  const [x0, s] = w.nodes[div].input ?? [];
  const x = isDiv ? (near(w.scalar(s), Math.SQRT2) ? x0 : null) : w.withScalar(div, Math.SQRT1_2);
  if (!x || w.isConst(x)) return null;
  const tail = matchTail(w, x, e);
  return tail ? [x, tail[1], [div, ...tail[2]]] : null;
}

/** x³ as Mul(x, Mul(x, x)) in either order: the two Muls, or null. */
function matchCube<N extends PatternNode>(w: Wiring<N>, v: string, x: string): number[] | null {
  const c = w.made(v, 'Mul');
  if (c === null) return null;
  const [a, b] = w.nodes[c].input ?? [];
  const sq = a === x ? b : b === x ? a : null;
  const q = sq === null ? null : w.made(sq, 'Mul');
  if (q === null || w.onlyReader(sq ?? '', 'Mul') !== c || w.nodes[q].input?.some((i) => i !== x)) return null;
  return [q, c];
}

/**
 * The tanh GELU around Tanh node `t` (torch.onnx's approximate='tanh' before opset 20, simdnet's export):
 * tanh(√(2/π) · (x + 0.044715 · x³)) then the common tail; or null.
 */
function matchTanh<N extends PatternNode>(w: Wiring<N>, t: number): Match | null {
  const u = w.nodes[t].input?.[0] ?? '';
  const mk = w.made(u, 'Mul');
  if (mk === null || w.onlyReader(u, 'Tanh') !== t) return null;
  const inner = w.withScalar(mk, Math.sqrt(2 / Math.PI));
  const add = inner === null ? null : w.made(inner, 'Add');
  if (add === null || w.onlyReader(inner ?? '', 'Mul') !== mk) return null;
  const [p, q] = w.nodes[add].input ?? [];
  for (const [x, cq] of [
    [p, q],
    [q, p],
  ]) {
    const mc = w.made(cq, 'Mul');
    const cube = mc === null ? null : w.withScalar(mc, 0.044715);
    if (mc === null || cube === null || w.onlyReader(cq, 'Add') !== add || w.readersOf(cube)?.length !== 1) continue;
    const cubed = matchCube(w, cube, x);
    if (!cubed || w.isConst(x)) continue;
    const tail = matchTail(w, x, t);
    if (tail) return [x, tail[1], [...cubed, mc, add, mk, ...tail[2]]];
  }
  return null;
}

/**
 * `nodes` (topologically sorted) with each GELU chain replaced by one Gelu node, placed where
 * the chain's last node was (every value it reads is computed before that).
 */
export function fuseGelu<N extends PatternNode>(
  nodes: N[],
  consts: Map<string, Const>,
  outputs: readonly string[],
): N[] {
  const w = new Wiring(nodes, consts, outputs);
  const replaced = new Map<number, N | null>();
  nodes.forEach((n, i) => {
    if ((n.op_type !== 'Erf' && n.op_type !== 'Tanh') || isForeign(n)) return;
    const m = n.op_type === 'Erf' ? matchErf(w, i) : matchTanh(w, i);
    if (!m || m[2].some((k) => replaced.has(k))) return;
    const [x, y, chain] = m;
    const last = Math.max(...chain);
    for (const k of chain) replaced.set(k, null);
    const gelu: PatternNode = {
      name: (n.name || `Gelu_${y}`).replace(/(Erf|Tanh)$/, 'Gelu'),
      op_type: 'Gelu',
      input: [x],
      output: [y],
      attribute: [
        { name: FUSED_GELU_ATTR, type: 2, i: 1 },
        { name: 'approximate', type: 3, s: new TextEncoder().encode(n.op_type === 'Erf' ? 'none' : 'tanh') },
      ],
    };
    replaced.set(last, gelu as N);
  });
  return splice(nodes, replaced);
}

/**
 * `nodes` with each index of `replaced` dropped (null) or replaced by its node: a pass's chains each
 * become one node, placed where the chain's last node was.
 */
export function splice<N extends PatternNode>(nodes: N[], replaced: Map<number, N | null>): N[] {
  if (replaced.size === 0) return nodes;
  return nodes.flatMap((n, i) => {
    if (!replaced.has(i)) return [n];
    const r = replaced.get(i);
    return r ? [r] : [];
  });
}
