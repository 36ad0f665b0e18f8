// Conv by the rank of its input: 2-d as ops/conv.ts converts it; 1-d (input [N, C, L], weights
// [K, C/group, KW]) as that same 2-d convolution over a height-1 image: a Reshape to [N, C, 1, L],
// the Conv2D/DepthwiseConv2D with a (1, KW) kernel and the attributes widened by a height of 1
// (stride 1, dilation 1, no padding), and a Reshape back to [N, K, L']. 3-d convolutions are refused.
import { Reshape } from '../../../nn/reshaping.js';
import type { Const } from '../fold.js';
import { type AttrMsg, Attrs } from './attrs.js';
import { BATCH, type Sym, shapeText } from './context.js';
import { Conv as Conv2d } from './conv.js';
import type { NodeContext } from './node.js';

/** The 1-d attributes as 2-d ones of a height-1 window; auto_pad and group carry over unchanged. */
function widened(n: NodeContext, KW: number): Attrs {
  const { attrs, what } = n;
  const one = (name: string, dflt: number): number[] => {
    const v = attrs.ints(name) ?? [dflt];
    if (v.length !== 1) n.fail(`${name} must have 1 entry for a 1-d convolution, got [${v}]`);
    return [name === 'pads' ? 0 : 1, v[0]];
  };
  const pads = attrs.ints('pads') ?? [0, 0];
  if (pads.length !== 2) n.fail(`pads must have 2 entries for a 1-d convolution, got [${pads}]`);
  const ks = attrs.ints('kernel_shape');
  if (ks && (ks.length !== 1 || ks[0] !== KW)) n.fail(`kernel_shape [${ks}] differs from the weights' width ${KW}`);
  const list: AttrMsg[] = [
    { name: 'strides', type: 7, ints: one('strides', 1) },
    { name: 'dilations', type: 7, ints: one('dilations', 1) },
    { name: 'pads', type: 7, ints: [0, pads[0], 0, pads[1]] },
    { name: 'kernel_shape', type: 7, ints: [1, KW] },
  ];
  if (attrs.has('group')) list.push({ name: 'group', type: 2, i: attrs.int('group', 1) });
  if (attrs.has('auto_pad'))
    list.push({ name: 'auto_pad', type: 3, s: new TextEncoder().encode(attrs.str('auto_pad', '')) });
  return new Attrs(list, what);
}

/** A 1-d Conv on x [N, C, L]. */
function conv1d(n: NodeContext, x: Sym): Sym {
  const { b, base } = n;
  const w = n.floatConst(1, 'weights');
  if (w.dims.length !== 3) n.fail(`weights of a 1-d convolution must be 3-d [K, C/group, KW], got [${w.dims}]`);
  const [K, Cg, KW] = w.dims;
  const [, C, L] = x.shape;
  const x4 = b.apply(new Reshape({ targetShape: [C, 1, L] }), `${base}_to_2d`, b.native(x, base));
  const w4: Const = { dims: [K, Cg, 1, KW], data: w.data, int: w.int };
  const ctx: NodeContext = {
    ...n,
    attrs: widened(n, KW),
    sym: (i) => (i === 0 ? b.sym(x4, [BATCH, C, 1, L], 'native') : n.sym(i)),
    floatConst: (i, label) => (i === 1 ? w4 : n.floatConst(i, label)),
  };
  const y = Conv2d(ctx);
  const Lo = y.shape[3];
  const t = b.apply(new Reshape({ targetShape: [K, Lo] }), `${base}_to_1d`, b.native(y, base));
  return b.sym(t, [BATCH, K, Lo], 'native');
}

/** ONNX Conv: 1-d and 2-d. */
export function Conv(n: NodeContext): Sym {
  const x = n.sym(0);
  const r = x.shape.length;
  if (r === 3) return conv1d(n, x);
  if (r > 4)
    n.fail(`a ${r - 2}-d convolution (input [${shapeText(x.shape)}]) is not supported; 1-d and 2-d convolutions are`);
  if (r < 3) n.fail(`input [${shapeText(x.shape)}] has no spatial axis to convolve over`);
  return Conv2d(n);
}
