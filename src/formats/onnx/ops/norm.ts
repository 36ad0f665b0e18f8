// BatchNormalization in inference form: a BN layer holding the running statistics, so the imported
// model fine-tunes it as one, updating its running variance with the unbiased batch variance as PyTorch.
import { BatchNormalization as BatchNormLayer } from '../../../nn/batchnorm.js';
import { LayerNormalization as LayerNormLayer } from '../../../nn/layernorm.js';
import { sizeOf } from '../fold.js';
import { Reshape } from '../../../nn/reshaping.js';
import { BATCH, type Sym, f32 } from './context.js';
import type { NodeContext } from './node.js';

export function BatchNormalization(n: NodeContext): Sym {
  const { b, base, attrs } = n;
  const x = n.sym(0);
  if (attrs.flag('training_mode', false) || (n.outs.length > 1 && n.outs.slice(1).some((o) => o))) {
    n.fail('BatchNormalization in training mode (extra outputs) is not supported; export in eval mode');
  }
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
