// LayerNorm as exporters write it before LayerNormalization existed (torch.onnx at opsets 9-16):
//   mean = ReduceMean(x, axes), d = x - mean, var = ReduceMean(d ^ 2, axes),
//   y = d / Sqrt(var + eps) * scale [+ bias]
// over trailing axes given from the end (axes [-1], [-2, -1], ...) with keepdims. A graph pass
// replaces each such chain by one LayerNormalization node (axis = the first normalized axis,
// epsilon, Scale, B), converted as the opset-17 operator is. A chain whose inner values are read
// elsewhere, or whose scale / bias is not a constant, is left as it is.
import type { Const } from '../fold.js';
import { type PatternNode, Wiring, out0, splice } from './fuse-gelu.js';
import type { Sym } from './context.js';
import type { NodeContext } from './node.js';
import * as norm from './norm.js';

/** Attribute the pass sets on the LayerNormalization nodes it makes: the last axis the chain normalized. */
export const FUSED_LAYERNORM_ATTR = 'simdnet_fused_last_axis';

const attr = (n: PatternNode, name: string) => (n.attribute ?? []).find((a) => a.name === name);

/**
 * The axes of a ReduceMean that keeps its dims and takes them as an attribute, when they are
 * contiguous and in order: [first, last] (negative ones must end at -1), as "first,last"; else null.
 */
function meanAxes(n: PatternNode): string | null {
  const keep = attr(n, 'keepdims');
  if ((n.input ?? []).length !== 1 || (keep && Number(keep.i) !== 1)) return null;
  const axes = (attr(n, 'axes')?.ints ?? []).map(Number);
  if (axes.length === 0 || axes.some((a, i) => a !== axes[0] + i || a < 0 !== axes[0] < 0)) return null;
  const last = axes[axes.length - 1];
  if (last < 0 && last !== -1) return null;
  return `${axes[0]},${last}`;
}

interface LayerNormMatch {
  x: string;
  scale: string;
  bias: string | null;
  axis: number;
  /** The last normalized axis (-1, or a positive one the converter checks is the last). */
  last: number;
  eps: number;
  y: string;
  chain: number[];
}

/** The chain whose division is node `div`, or null. */
function matchDiv<N extends PatternNode>(w: Wiring<N>, div: number): LayerNormMatch | null {
  const [d, s] = w.nodes[div].input ?? [];
  const sub = w.made(d ?? '', 'Sub');
  const sqrt = w.made(s ?? '', 'Sqrt');
  if (sub === null || sqrt === null || w.readersOf(s)?.length !== 1) return null;
  const [x, mean] = w.nodes[sub].input ?? [];
  const rm1 = w.made(mean ?? '', 'ReduceMean');
  if (rm1 === null || w.nodes[rm1].input?.[0] !== x || w.readersOf(mean)?.length !== 1) return null;
  const axes = meanAxes(w.nodes[rm1]);
  const add = w.made(w.nodes[sqrt].input?.[0] ?? '', 'Add');
  if (axes === null || add === null || w.readersOf(out0(w.nodes[add]))?.length !== 1) return null;
  const [a0, a1] = w.nodes[add].input ?? [];
  const [v, eps] = w.isConst(a1) ? [a0, w.scalar(a1)] : [a1, w.scalar(a0)];
  const rm2 = w.made(v ?? '', 'ReduceMean');
  if (eps === null || rm2 === null || meanAxes(w.nodes[rm2]) !== axes || w.readersOf(v)?.length !== 1) return null;
  // d ^ 2 as Pow(d, 2) (torch.onnx) or Mul(d, d) (simdnet's export); d read by it and the Div only.
  const sqIn = w.nodes[rm2].input?.[0] ?? '';
  const pow = w.made(sqIn, 'Pow') ?? w.made(sqIn, 'Mul');
  if (pow === null || w.readersOf(sqIn)?.length !== 1) return null;
  const [pd, p1] = w.nodes[pow].input ?? [];
  const square = w.nodes[pow].op_type === 'Pow' ? w.scalar(p1) === 2 : p1 === d;
  const dReaders = w.readersOf(d) ?? [];
  const dReads = w.nodes[pow].op_type === 'Pow' ? 2 : 3;
  if (pd !== d || !square || dReaders.length !== dReads || dReaders.some((r) => r !== pow && r !== div)) return null;
  const mul = w.onlyReader(out0(w.nodes[div]), 'Mul');
  const scale = mul === null ? null : w.other(mul, out0(w.nodes[div]));
  if (mul === null || !scale || !w.isConst(scale)) return null;
  const chain = [rm1, sub, pow, rm2, add, sqrt, div, mul];
  const addB = w.onlyReader(out0(w.nodes[mul]), 'Add');
  const bias = addB === null ? null : w.other(addB, out0(w.nodes[mul]));
  const withBias = addB !== null && !!bias && w.isConst(bias);
  const [axis, last] = axes.split(',').map(Number);
  const y = out0(w.nodes[withBias ? addB : mul]);
  return { x, scale, bias: withBias ? bias : null, axis, last, eps, y, chain: withBias ? [...chain, addB] : chain };
}

/**
 * `nodes` (topologically sorted) with each written-out LayerNorm replaced by one LayerNormalization
 * node, placed where the chain's last node was (its scale and bias are read before that).
 */
export function fuseLayerNorm<N extends PatternNode>(
  nodes: N[],
  consts: Map<string, Const>,
  outputs: readonly string[],
): N[] {
  const w = new Wiring(nodes, consts, outputs);
  const replaced = new Map<number, N | null>();
  nodes.forEach((n, i) => {
    if (n.op_type !== 'Div' || (n.domain && n.domain !== 'ai.onnx')) return;
    const m = matchDiv(w, i);
    if (!m || m.chain.some((k) => replaced.has(k))) return;
    for (const k of m.chain) replaced.set(k, null);
    const ln: PatternNode = {
      name: (n.name || `LayerNormalization_${m.y}`).replace(/Div$/, 'LayerNormalization'),
      op_type: 'LayerNormalization',
      input: m.bias ? [m.x, m.scale, m.bias] : [m.x, m.scale],
      output: [m.y],
      attribute: [
        { name: 'axis', type: 2, i: m.axis },
        { name: 'epsilon', type: 1, f: m.eps },
        { name: FUSED_LAYERNORM_ATTR, type: 2, i: m.last },
      ],
    };
    replaced.set(Math.max(...m.chain), ln as N);
  });
  return splice(nodes, replaced);
}

/**
 * LayerNormalization (ops/norm.ts), after checking that a fused chain over positive axes normalized
 * up to the last one: LayerNormalization always does.
 */
export function LayerNormalization(n: NodeContext): Sym {
  if (n.attrs.has(FUSED_LAYERNORM_ATTR)) {
    const last = n.attrs.int(FUSED_LAYERNORM_ATTR, -1);
    const r = n.sym(0).shape.length;
    if (last >= 0 && last !== r - 1)
      n.fail(`the written-out LayerNorm normalizes axes up to ${last} of a rank-${r} value, not the trailing ones`);
  }
  return norm.LayerNormalization(n);
}

/**
 * Pow has a row so that the written-out LayerNorm above reaches the pass; any Pow left after it (on a
 * model value) is refused here, naming the node.
 */
export function Pow(n: NodeContext): never {
  return n.fail(
    'Pow of a model value is read only inside a written-out LayerNorm ((x - mean) ^ 2 under ReduceMean, Sqrt, Div), ' +
      'as torch.onnx writes before opset 17',
  );
}
