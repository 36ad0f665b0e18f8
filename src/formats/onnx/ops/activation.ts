// Activations: element-wise ones keep the layout of their input (a permuted feature order too);
// Softmax and LogSoftmax map their axis onto the stored layout. Gelu (opset 20, and the Erf chains
// of older exports that fuse-gelu.ts folds into one) and Erf run their own kernels.
import type { Layer } from '../../../nn/layer.js';
import { Activation, LeakyReLU } from '../../../nn/layers.js';
import {
  Clip as ClipLayer,
  Erf as ErfLayer,
  GELU,
  HardSigmoid as HardSigmoidLayer,
  LogSoftmax as LogSoftmaxLayer,
  PRelu as PReluLayer,
  ScaledElu,
} from '../../../nn/activations.js';
import { ReLU, Softmax as SoftmaxLayer } from '../../../nn/reshaping.js';
import { sizeOf } from '../fold.js';
import { type Sym, constFor, normAxis, storedAxis } from './context.js';
import { FUSED_GELU_ATTR } from './fuse-gelu.js';
import { FUSED_SWISH_ATTR } from './fuse-swish.js';
import type { NodeContext } from './node.js';

/**
 * The element-wise layer of `make` on input 0 (read first, so a missing input is named before any
 * attribute). The value keeps its layout, a permuted feature order included.
 */
function act(n: NodeContext, make: () => Layer): Sym {
  const { b, base } = n;
  const x = n.sym(0);
  const layer = make();
  const t = b.apply(layer, base, x.t);
  const out = b.sym(t, x.shape, x.layout, { perm: x.perm });
  if (x.layout === 'perm') {
    // Built again from the config when an ONNX-ordered copy is needed.
    const Make = layer.constructor as new (cfg: Record<string, unknown>) => Layer;
    out.toNative = () =>
      b.apply(new Make({ ...layer.getConfig(), name: undefined }), `${base}_native`, b.native(x, base));
  }
  return out;
}

const named = (activation: 'relu' | 'sigmoid' | 'tanh' | 'hardSwish') => (n: NodeContext) =>
  act(n, () => new Activation({ activation }));

export const Relu = named('relu');
export const Sigmoid = named('sigmoid');
export const Tanh = named('tanh');
export const HardSwish = named('hardSwish');

export const LeakyRelu = (n: NodeContext) => act(n, () => new LeakyReLU({ alpha: n.attrs.float('alpha', 0.01) }));

export function Elu(n: NodeContext): Sym {
  return act(n, () => {
    const a = n.attrs.float('alpha', 1);
    return a === 1 ? new Activation({ activation: 'elu' }) : new ScaledElu({ alpha: a });
  });
}

export function Selu(n: NodeContext): Sym {
  return act(n, () => {
    const alpha = n.attrs.float('alpha', Math.fround(1.6732632423543772));
    const scale = n.attrs.float('gamma', Math.fround(1.0507009873554805));
    return new ScaledElu({ alpha, scale });
  });
}

export function HardSigmoid(n: NodeContext): Sym {
  return act(n, () => {
    const a = n.attrs.float('alpha', 0.2),
      be = n.attrs.float('beta', 0.5);
    const hs = Math.abs(a - 1 / 6) < 1e-7 && be === 0.5;
    return hs ? new Activation({ activation: 'hardSigmoid' }) : new HardSigmoidLayer({ alpha: a, beta: be });
  });
}

export function Clip(n: NodeContext): Sym {
  const { attrs } = n;
  let lo: number | null, hi: number | null;
  if (n.b.opset < 11) {
    lo = attrs.has('min') ? attrs.float('min', 0) : null;
    hi = attrs.has('max') ? attrs.float('max', 0) : null;
  } else {
    const l = n.optConst(1, 'min'),
      h = n.optConst(2, 'max');
    if ((l && sizeOf(l.dims) !== 1) || (h && sizeOf(h.dims) !== 1)) n.fail('min and max must be scalars');
    lo = l ? l.data[0] : null;
    hi = h ? h.data[0] : null;
  }
  if (lo !== null && !Number.isFinite(lo)) lo = lo < 0 ? null : n.fail(`min is ${lo}`);
  if (hi !== null && !Number.isFinite(hi)) hi = hi > 0 ? null : n.fail(`max is ${hi}`);
  const layer =
    lo === 0 && hi === null
      ? new Activation({ activation: 'relu' })
      : lo === 0 && hi !== null && hi > 0
        ? new ReLU({ maxValue: hi })
        : new ClipLayer({ min: lo, max: hi });
  return act(n, () => layer);
}

export function PRelu(n: NodeContext): Sym {
  const { b, base } = n;
  const x = n.sym(0);
  const slope = n.floatConst(1, 'slope');
  const v = b.plain(x, base);
  const { shape, data } = constFor(slope, v, n.what);
  const t = b.apply(new PReluLayer({ alphaShape: shape }), base, v.t, [data]);
  return b.sym(t, x.shape, v.layout);
}

function softmax(n: NodeContext, L: typeof SoftmaxLayer | typeof LogSoftmaxLayer): Sym {
  const { b, base } = n;
  const x = n.sym(0);
  const r = x.shape.length;
  const axis = normAxis(n.attrs.int('axis', b.opset < 13 ? 1 : -1), r, n.what);
  if (axis === 0) n.fail('softmax over the batch axis is not supported');
  if (b.opset < 13 && axis !== r - 1 && x.shape.slice(axis + 1).some((d) => d !== 1)) {
    n.fail(`opset ${b.opset} Softmax over the flattened axes ${axis}..${r - 1} is not supported`);
  }
  if (x.layout === 'perm' && r === 2) {
    // Over all features: the stored order does not matter.
    const t = b.apply(new L({ axis: 1 }), base, x.t);
    return b.sym(t, x.shape, 'perm', {
      perm: x.perm,
      toNative: () => b.apply(new L({ axis: 1 }), `${base}_native`, b.native(x, base)),
    });
  }
  const src = x.layout === 'perm' ? b.native(x, base) : x.t;
  const layout = x.layout === 'perm' ? 'native' : x.layout;
  const t = b.apply(new L({ axis: storedAxis({ layout }, axis) }), base, src);
  return b.sym(t, x.shape, layout);
}

export const Softmax = (n: NodeContext) => softmax(n, SoftmaxLayer);
export const LogSoftmax = (n: NodeContext) => softmax(n, LogSoftmaxLayer);

/** Erf on its own, by the erf kernel (exact to float32 rounding). */
export const Erf = (n: NodeContext) => act(n, () => new ErfLayer());

/** Mul(x, Sigmoid(x)) as one swish layer: made only by the import's pass (fuse-swish.ts), not an ONNX operator. */
export function Swish(n: NodeContext): Sym {
  if (!n.attrs.has(FUSED_SWISH_ATTR)) n.fail('Swish is not an operator of the default ONNX domain');
  return act(n, () => new Activation({ activation: 'swish' }));
}

/** Gelu (opset 20): approximate 'none' is the exact GELU, 'tanh' the tanh form; one GELU layer either way. */
export function Gelu(n: NodeContext): Sym {
  if (n.b.opset < 20 && !n.attrs.has(FUSED_GELU_ATTR))
    n.fail(`Gelu is an operator of opset 20 and later; the model declares opset ${n.b.opset}`);
  return act(n, () => new GELU({ approximate: n.attrs.oneOf('approximate', ['none', 'tanh'], 'none') === 'tanh' }));
}
