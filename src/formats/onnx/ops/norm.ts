// BatchNormalization in inference form: a BN layer holding the running statistics, so the imported
// model fine-tunes it as one, updating its running variance with the unbiased batch variance as PyTorch.
// In training mode (training_mode 1, or before opset 14 a running-statistics output asked for) ONNX
// normalizes with the batch statistics: that is how torch.onnx.export writes a BatchNorm with
// track_running_stats=False, in any export mode, its mean and var inputs computed from the input by
// ReduceMean nodes that only feed the running-statistics outputs nobody reads. It becomes a BN layer
// with useBatchStatsAlways, and those nodes are dropped before conversion (dropBatchStatGraphs).
import { BatchNormalization as BatchNormLayer } from '../../../nn/batchnorm.js';
import { type AttrMsg, Attrs } from './attrs.js';
import { LayerNormalization as LayerNormLayer } from '../../../nn/layernorm.js';
import { sizeOf } from '../fold.js';
import { Reshape } from '../../../nn/reshaping.js';
import { BATCH, type Sym, f32 } from './context.js';
import type { NodeContext } from './node.js';

/** The fields of a graph node dropBatchStatGraphs reads. */
interface GraphNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  attribute?: AttrMsg[];
}

/** A BatchNormalization node that normalizes with the batch statistics (ONNX's training mode). */
function isTrainingBN(op: string | undefined, attrs: Attrs, outs: readonly string[]): boolean {
  return op === 'BatchNormalization' && (attrs.flag('training_mode', false) || outs.slice(1).some((o) => o));
}

/**
 * `nodes` (in topological order) without the nodes whose results only feed the mean and var inputs
 * of training-mode BatchNormalization nodes (directly or through other such nodes), and those inputs
 * blanked: the BN does not read them for its output, and they compute statistics over the batch axis
 * (which no layer can), often with the export's batch size written into a Reshape. Nodes that nothing
 * reads at all are kept as they were.
 */
export function dropBatchStatGraphs<N extends GraphNode>(nodes: readonly N[], outputs: readonly string[]): N[] {
  const live = new Set(outputs); // read by a node that is kept, or a graph output
  const fed = new Set<string>(); // read only as a training-mode BN's statistics, so far
  const dropped = new Set<N>();
  const blank = new Set<N>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const outs = node.output ?? [];
    const ins = node.input ?? [];
    if (!outs.some((o) => o && live.has(o)) && outs.some((o) => o && fed.has(o))) {
      dropped.add(node);
      for (const x of ins) if (x) fed.add(x);
      continue;
    }
    const training = isTrainingBN(node.op_type, new Attrs(node.attribute ?? [], node.name ?? ''), outs);
    ins.forEach((x, j) => {
      if (x) (training && j >= 3 ? fed : live).add(x);
    });
    if (training) blank.add(node);
  }
  if (dropped.size === 0) return [...nodes];
  // Only the inputs computed by dropped nodes are blanked: running statistics stored in the file stay.
  const computed = new Set([...dropped].flatMap((d) => d.output ?? []));
  return nodes
    .filter((node) => !dropped.has(node))
    .map((node) =>
      blank.has(node)
        ? { ...node, input: (node.input ?? []).map((x, j) => (j >= 3 && computed.has(x) ? '' : x)) }
        : node,
    );
}

export function BatchNormalization(n: NodeContext): Sym {
  const { b, base, attrs } = n;
  const x = n.sym(0);
  if (isTrainingBN(n.op, attrs, n.outs)) return batchStatsBN(n, x);
  // Before opset 7, is_test 0 (the default) computes batch statistics; before 9, spatial 0 per-value ones.
  if (b.opset < 7 && attrs.int('is_test', 0) !== 1)
    n.fail(`attribute is_test ${attrs.int('is_test', 0)} (training mode) is not supported at opset ${b.opset}`);
  const spatial = b.opset < 9 ? attrs.int('spatial', 1) : 1;
  const [scale, bias, mean, vari] = ['scale', 'B', 'mean', 'var'].map((label, i) => n.floatConst(i + 1, label));
  const C = x.shape[1];
  for (const c of [scale, bias, mean, vari]) {
    if (sizeOf(c.dims) === C) continue;
    if (spatial !== 1) n.fail(`attribute spatial ${spatial} with parameters of shape [${c.dims}] is not supported`);
    n.fail(`parameters must have ${C} values (one per channel), got [${c.dims}]`);
  }
  if (vari.data.some((v) => v < 0)) n.fail('the running variance has a negative value');
  const r = x.shape.length;
  // [N, C, ...] of rank 3 or above 4 is normalized as the image [N, C, rest, 1]: per channel either way.
  const v =
    r === 3 || r > 4
      ? b.sym(
          b.apply(new Reshape({ targetShape: [C, sizeOf(x.shape.slice(2)), 1] }), `${base}_image`, b.native(x, base)),
          [BATCH, C, sizeOf(x.shape.slice(2)), 1],
          'native',
        )
      : x;
  const src = r === 2 ? b.native(x, base) : b.nhwc(v, base);
  const layer = new BatchNormLayer({
    epsilon: attrs.float('epsilon', 1e-5),
    momentum: attrs.float('momentum', 0.9),
    unbiasedMovingVariance: true,
  });
  const t = b.apply(layer, base, src, [f32(scale.data), f32(bias.data), f32(mean.data), f32(vari.data)]);
  if (r === 2 || r === 4) return b.sym(t, x.shape, r === 4 ? 'nhwc' : 'native');
  const img = b.native(b.sym(t, v.shape, 'nhwc'), base);
  return b.sym(b.apply(new Reshape({ targetShape: x.shape.slice(1) }), `${base}_shape`, img), x.shape, 'native');
}

// ONNX's training mode: Y with the batch mean and (biased) variance; the mean and var inputs only
// update the running statistics (outputs 1 and 2, which no layer computes, so nothing may read them).
function batchStatsBN(n: NodeContext, x: Sym): Sym {
  const { b, base, attrs } = n;
  if (n.ins[3]?.kind === 'const' || n.ins[4]?.kind === 'const') {
    n.fail(
      'BatchNormalization in training mode with stored running statistics (a TrainingMode.TRAINING export) ' +
        'is not supported; export in eval mode (a BatchNorm with track_running_stats=False imports in any mode)',
    );
  }
  if (n.ins[3] || n.ins[4])
    n.fail('in training mode, the mean and var inputs must feed nothing but BatchNormalization');
  const C = x.shape[1];
  const r = x.shape.length;
  if (r !== 2 && r !== 4) n.fail(`training mode needs an input of rank 2 or 4, got [${x.shape}]`);
  const [scale, bias] = ['scale', 'B'].map((label, i) => n.floatConst(i + 1, label));
  for (const c of [scale, bias]) {
    if (sizeOf(c.dims) !== C) n.fail(`parameters must have ${C} values (one per channel), got [${c.dims}]`);
  }
  const layer = new BatchNormLayer({ epsilon: attrs.float('epsilon', 1e-5), useBatchStatsAlways: true });
  const src = r === 2 ? b.native(x, base) : b.nhwc(x, base);
  const t = b.apply(layer, base, src, [f32(scale.data), f32(bias.data)]);
  return b.sym(t, x.shape, r === 4 ? 'nhwc' : 'native');
}

// LayerNormalization (opset 17): over the axes [axis, rank) of the value in ONNX's own layout (after
// torchvision's permute to channels-last that is the channels), then Scale and B. The statistics are
// summed in float64 whatever stash_type says (at least as exact as float32).
export function LayerNormalization(n: NodeContext): Sym {
  const { b, base, attrs } = n;
  const x = n.sym(0);
  if (n.outs.length > 1 && n.outs.slice(1).some((o) => o)) {
    n.fail('the Mean and InvStdDev outputs are not supported (only the normalized value)');
  }
  const r = x.shape.length;
  const axisAttr = attrs.int('axis', -1);
  const axis = axisAttr < 0 ? axisAttr + r : axisAttr;
  if (axis < 1 || axis >= r) n.fail(`attribute axis ${axisAttr} must be a non-batch axis of the rank-${r} input`);
  const stash = attrs.int('stash_type', 1);
  if (stash !== 1) n.fail(`attribute stash_type ${stash} is not supported (1: float32 statistics)`);
  const normalized = x.shape.slice(axis);
  const size = sizeOf(normalized);
  const scale = n.floatConst(1, 'Scale');
  const bias = n.optConst(2, 'B');
  for (const [c, label] of [
    [scale, 'Scale'],
    [bias, 'B'],
  ] as const) {
    if (c && sizeOf(c.dims) !== size) {
      n.fail(`${label} of shape [${c.dims}] must hold one value per normalized element ([${normalized}])`);
    }
  }
  // ONNX's axis starts the normalized axes; Keras' axis lists them.
  const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
  const layer = new LayerNormLayer({
    axis: axes.length === 1 ? -1 : axes,
    epsilon: attrs.float('epsilon', 1e-5),
    center: bias !== null,
  });
  const weights = [f32(scale.data), ...(bias ? [f32(bias.data)] : [])];
  return b.sym(b.apply(layer, base, b.native(x, base), weights), x.shape, 'native');
}
