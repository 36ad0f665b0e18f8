// The graph passes run on the sorted nodes before conversion: operator chains older exporters write
// for one operation, each replaced by one node of the operation (fuse-gelu.ts, fuse-layernorm.ts,
// fuse-swish.ts).
import type { Const } from '../fold.js';
import { type PatternNode, fuseGelu } from './fuse-gelu.js';
import { fuseLayerNorm } from './fuse-layernorm.js';
import { fuseSwish } from './fuse-swish.js';

/**
 * `nodes` with the GELU chains (exact and tanh), the written-out LayerNorms and x · sigmoid(x) /
 * x · hardsigmoid(x) folded into one node each.
 */
export function fusePatterns<N extends PatternNode>(
  nodes: N[],
  consts: Map<string, Const>,
  outputs: readonly string[],
): N[] {
  return fuseSwish(fuseLayerNorm(fuseGelu(nodes, consts, outputs), consts, outputs), consts, outputs);
}
