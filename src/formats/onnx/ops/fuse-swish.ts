// Swish (SiLU) and hard swish as exporters write them: Mul(x, Sigmoid(x)) (torch.onnx's SiLU at every
// opset, EfficientNet's 49) and Mul(x, HardSigmoid(x)) with alpha 1/6 and beta 0.5 (torch's Hardswish
// before opset 14), the operands of the Mul in either order. A graph pass, run on the sorted nodes before
// conversion, replaces each such pair by one node, so the model gets one activation layer, one pass over
// the values, instead of two. A Sigmoid read by anything else, or a graph output, is left as it is.
import type { Const } from '../fold.js';
import { isForeign, out0, type PatternNode, splice, Wiring } from './fuse-gelu.js';

/** Attribute the pass sets on the Swish and HardSwish nodes it makes: they may stand in a graph of any opset. */
export const FUSED_SWISH_ATTR = 'simdnet_fused_swish';

// HardSigmoid's alpha and beta are torch's hardsigmoid's: relu6(x + 3) / 6.
function isTorchHardSigmoid(n: PatternNode): boolean {
  const f = (name: string, d: number) => {
    const a = n.attribute?.find((x) => x.name === name);
    return a && typeof a.f === 'number' ? a.f : d;
  };
  return Math.abs(f('alpha', 0.2) - 1 / 6) < 1e-7 && f('beta', 0.5) === 0.5;
}

/**
 * `nodes` (topologically sorted) with each Mul(x, Sigmoid(x)) replaced by one Swish node and each
 * Mul(x, HardSigmoid(x)) of torch's constants by one HardSwish node, placed where the Mul was.
 */
export function fuseSwish<N extends PatternNode>(
  nodes: N[],
  consts: Map<string, Const>,
  outputs: readonly string[],
): N[] {
  const w = new Wiring(nodes, consts, outputs);
  const replaced = new Map<number, N | null>();
  nodes.forEach((n, i) => {
    const hard = n.op_type === 'HardSigmoid';
    if ((n.op_type !== 'Sigmoid' && !hard) || isForeign(n) || (hard && !isTorchHardSigmoid(n))) return;
    const x = n.input?.[0];
    if (!x || (n.input ?? []).length !== 1 || w.isConst(x)) return;
    const s = out0(n);
    const m = w.onlyReader(s, 'Mul');
    if (m === null || w.other(m, s) !== x || replaced.has(m)) return;
    const mul = nodes[m]!;
    replaced.set(i, null);
    replaced.set(m, {
      name: mul.name || `${hard ? 'HardSwish' : 'Swish'}_${out0(mul)}`,
      op_type: hard ? 'HardSwish' : 'Swish',
      input: [x],
      output: [out0(mul)],
      attribute: [{ name: FUSED_SWISH_ATTR, type: 2, i: 1 }],
    } as N);
  });
  return splice(nodes, replaced);
}
