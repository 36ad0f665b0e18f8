// The graph passes run on the sorted nodes before conversion: operator chains older exporters write
// for one operation, each replaced by one node of the operation (fuse-gelu.ts, fuse-layernorm.ts).
import type { Const } from '../fold.js';
import { type PatternNode, fuseGelu } from './fuse-gelu.js';
import { fuseLayerNorm } from './fuse-layernorm.js';

/** `nodes` with the GELU chains (exact and tanh) and the written-out LayerNorms folded into one node each. */
export function fusePatterns<N extends PatternNode>(
  nodes: N[],
  consts: Map<string, Const>,
  outputs: readonly string[],
): N[] {
  return fuseLayerNorm(fuseGelu(nodes, consts, outputs), consts, outputs);
}
