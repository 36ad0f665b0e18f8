// The pass before the importer's node loop for quantized graphs (see ops/quant.ts): each Q op gets its
// inputs' element types as an attribute (int8 and uint8 are told apart by the initializers' types, which
// folded constants do not keep), and each DequantizeLinear(x) + DequantizeLinear(int8 weights) -> Conv /
// Gemm / MatMul [-> Relu | Clip(0, 6)] -> QuantizeLinear chain that int8Refusal accepts becomes one
// QLinearConv / QLinearMatMul node marked with its float operator and activation. The chain's values
// must each be read once and not be graph outputs; its scales and zero points must be initializers.
import type { Const } from '../fold.js';
import { sizeOf } from '../fold.js';
import { type AttrMsg, int } from './attrs.js';
import { ACT, FUSED, INT8, type Int8Case, type QP, TYPES, UINT8, int8Refusal } from './quant.js';

/** The fields of a NodeProto the pass reads and writes. */
export interface QNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttrMsg[];
}

const Q_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul']);
// Operators that pass integers through unchanged in type (QOperator graphs pool and reshape uint8).
const KEEPS_TYPE = new Set([
  'MaxPool',
  'Reshape',
  'Flatten',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Identity',
  'Concat',
  'Slice',
  'Split',
  'Pad',
]);

const enc = (s: string) => new TextEncoder().encode(s);
const attrOf = (n: QNode, name: string) => (n.attribute ?? []).find((a) => a.name === name);

/** Element types of the graph's integer values: initializers, Constant nodes, and what Q ops produce. */
function elementTypes<N extends QNode>(nodes: N[], initTypes: ReadonlyMap<string, number>): Map<string, number> {
  const types = new Map(initTypes);
  for (const n of nodes) {
    const out = n.output?.[0];
    if (!out) continue;
    const ins = n.input ?? [];
    if (n.op_type === 'Constant') {
      const t = attrOf(n, 'value')?.t as { data_type?: number } | undefined;
      if (t?.data_type) types.set(out, t.data_type);
    } else if (n.op_type === 'QuantizeLinear') {
      const od = attrOf(n, 'output_dtype');
      types.set(out, ins[2] ? (types.get(ins[2]) ?? 0) : od ? int(od.i ?? 0, 'output_dtype') : UINT8);
    } else if (n.op_type === 'QLinearConv' || n.op_type === 'QLinearMatMul') {
      types.set(out, ins[7] ? (types.get(ins[7]) ?? 0) : UINT8);
    } else if (KEEPS_TYPE.has(n.op_type ?? '') && ins[0] && types.has(ins[0])) {
      for (const o of n.output ?? []) types.set(o, types.get(ins[0])!);
    }
  }
  return types;
}

/**
 * Adds each Q op's input element types as an attribute, and fuses the QDQ chains that compute in int8
 * into QLinearConv / QLinearMatMul nodes (see the file header). Nodes come and go in topological order.
 */
export function prepareQuant<N extends QNode>(
  nodes: N[],
  consts: ReadonlyMap<string, Const>,
  initTypes: ReadonlyMap<string, number>,
  outputs: readonly string[],
): N[] {
  if (!nodes.some((n) => Q_OPS.has(n.op_type ?? ''))) return nodes;
  const types = elementTypes(nodes, initTypes);
  const typed = nodes.map((n) =>
    Q_OPS.has(n.op_type ?? '')
      ? {
          ...n,
          // A file's own 'simdnet:' attributes are dropped: only this pass writes them.
          attribute: [
            ...(n.attribute ?? []).filter((a) => !a.name?.startsWith('simdnet:')),
            { name: TYPES, ints: (n.input ?? []).map((i) => types.get(i) ?? 0) },
          ],
        }
      : n,
  );
  return fuse(typed, consts, types, new Set(outputs));
}

/** A constant's single value, or null when it is not a one-value initializer. */
function scalar(consts: ReadonlyMap<string, Const>, name: string | undefined): number | null {
  const c = name ? consts.get(name) : undefined;
  return c && sizeOf(c.dims) === 1 ? c.data[0] : null;
}

/** 'relu' / 'relu6' of a Relu or Clip(0[, 6]) node, else null. */
function reluOf(n: QNode, consts: ReadonlyMap<string, Const>): 'relu' | 'relu6' | null {
  if (n.op_type === 'Relu') return 'relu';
  if (n.op_type !== 'Clip') return null;
  const a = (k: string) => attrOf(n, k)?.f;
  const [, lo, hi] = n.input ?? [];
  const min = attrOf(n, 'min') ? a('min') : lo ? scalar(consts, lo) : undefined;
  const max = attrOf(n, 'max') ? a('max') : hi ? scalar(consts, hi) : undefined;
  if (min !== 0) return null;
  if (max === undefined) return 'relu';
  return max === 6 ? 'relu6' : null;
}

/** The per-tensor QP of (scale, zero point) inputs of a Q / DQ node, or null. */
function qpOf(
  consts: ReadonlyMap<string, Const>,
  types: ReadonlyMap<string, number>,
  s: string | undefined,
  z: string | undefined,
  dflt: number,
): QP | null {
  const scale = scalar(consts, s);
  const zp = z ? scalar(consts, z) : 0;
  const dt = z ? types.get(z) : dflt;
  if (scale === null || zp === null || (dt !== INT8 && dt !== UINT8) || !(scale > 0)) return null;
  return { scale: Math.fround(scale), zp, dtype: dt === INT8 ? 'int8' : 'uint8' };
}

/** Nodes whose attributes go beyond what the fusion reads (block_size, saturate, output_dtype). */
const plainQ = (n: QNode) =>
  !(n.attribute ?? []).some((a) => ['block_size', 'saturate', 'output_dtype'].includes(a.name ?? ''));

/** The fused node for float node `f` at index i, or null when its chain does not compute in int8. */
function fusedNode<N extends QNode>(
  f: N,
  ctx: {
    consts: ReadonlyMap<string, Const>;
    types: ReadonlyMap<string, number>;
    producer: Map<string, N>;
    users: Map<string, N[]>;
    outputs: Set<string>;
  },
): { node: N; gone: N[] } | null {
  const { consts, types, producer, users, outputs } = ctx;
  const [xi, wi, bi] = f.input ?? [];
  const dqx = xi ? producer.get(xi) : undefined;
  const dqw = wi ? producer.get(wi) : undefined;
  if (dqx?.op_type !== 'DequantizeLinear' || dqw?.op_type !== 'DequantizeLinear' || !plainQ(dqx) || !plainQ(dqw))
    return null;
  const [xq, xs, xz] = dqx.input ?? [];
  const [wq, wsn, wzn] = dqw.input ?? [];
  if (!xq || consts.has(xq) || !wq || !consts.has(wq) || !wsn || !consts.has(wsn)) return null;
  if (bi && !consts.has(bi) && producer.get(bi)?.op_type !== 'DequantizeLinear') return null;
  // The chain: f -> [Relu | Clip] -> QuantizeLinear, each value read once and not a graph output.
  const only = (v: string | undefined) => {
    const u = v ? users.get(v) : undefined;
    return v && u && u.length === 1 && !outputs.has(v) ? u[0] : null;
  };
  let next = only(f.output?.[0]);
  const gone: N[] = [f];
  let act = 'linear';
  const r = next ? reluOf(next, consts) : null;
  if (next && r) {
    act = r;
    gone.push(next);
    next = only(next.output?.[0]);
  }
  if (next?.op_type !== 'QuantizeLinear' || !plainQ(next)) return null;
  gone.push(next);
  const q = next;
  const x = qpOf(consts, types, xs, xz, types.get(xq) ?? 0);
  const y = qpOf(consts, types, q.input?.[1], q.input?.[2], UINT8);
  if (!x || !y) return null;
  const w = consts.get(wq)!;
  const ws = consts.get(wsn)!.data;
  const wz = wzn ? consts.get(wzn)?.data : new Float64Array(1);
  const get = (n: string, d: number) => {
    const a = attrOf(f, n);
    return a ? (n === 'alpha' ? (a.f ?? 1) : int(a.i ?? 0, n)) : d;
  };
  const op = f.op_type as Int8Case['op'];
  const axis = op === 'Conv' || (op === 'Gemm' && get('transB', 0) === 1) ? 0 : w.dims.length - 1;
  if (op === 'Gemm' && get('transA', 0) !== 0) return null;
  // The weight's per-channel axis must be its output-channel axis.
  if (ws.length > 1) {
    const a = attrOf(dqw, 'axis');
    const da = a ? int(a.i ?? 0, 'axis') : 1;
    if ((da < 0 ? da + w.dims.length : da) !== axis) return null;
  }
  if (!wz) return null;
  const c: Int8Case = {
    op,
    group: get('group', 1),
    wDims: w.dims,
    wType: types.get(wq) ?? 0,
    wScale: ws,
    wZero: wz,
    axis,
    x,
    y,
    act,
    alpha: get('alpha', 1),
  };
  if (int8Refusal(c)) return null;
  const ins = [xq, xs!, xz ?? '', wq, wsn, wzn ?? '', q.input?.[1] ?? '', q.input?.[2] ?? '', bi ?? ''];
  const attribute: AttrMsg[] = [
    ...(f.attribute ?? []),
    { name: FUSED, s: enc(op) },
    { name: ACT, s: enc(act) },
    { name: TYPES, ints: ins.map((i) => types.get(i) ?? 0) },
  ];
  const node = {
    ...f,
    op_type: op === 'Conv' ? 'QLinearConv' : 'QLinearMatMul',
    domain: '',
    input: ins,
    output: [q.output![0]!],
    attribute,
  };
  return { node, gone };
}

function fuse<N extends QNode>(
  nodes: N[],
  consts: ReadonlyMap<string, Const>,
  types: ReadonlyMap<string, number>,
  outputs: Set<string>,
): N[] {
  const producer = new Map<string, N>();
  const users = new Map<string, N[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) if (o) producer.set(o, n);
    for (const i of n.input ?? []) if (i) users.set(i, [...(users.get(i) ?? []), n]);
  }
  const replace = new Map<N, N | null>();
  for (const f of nodes) {
    if (!['Conv', 'Gemm', 'MatMul'].includes(f.op_type ?? '') || (f.domain && f.domain !== 'ai.onnx')) continue;
    const r = fusedNode(f, { consts, types, producer, users, outputs });
    if (!r) continue;
    // The fused node takes the QuantizeLinear's place: every input it reads is made before that.
    r.gone.forEach((g, i) => replace.set(g, i === r.gone.length - 1 ? r.node : null));
  }
  if (replace.size === 0) return nodes;
  return nodes.flatMap((n) => {
    const r = replace.get(n);
    return r === undefined ? [n] : r ? [r] : [];
  });
}
