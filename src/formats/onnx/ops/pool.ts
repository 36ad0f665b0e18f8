// Pooling: MaxPool and AveragePool (pads, auto_pad, ceil_mode, count_include_pad), the global pools,
// and ReduceMean/ReduceMax over any axes but the batch, which are global pools too.
import type { Layer } from '../../../nn/layer.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../../nn/layers.js';
import { Pool2D } from '../../../nn/layers.js';
import { Permute, Reshape, ZeroPadding2D } from '../../../nn/reshaping.js';
import { sizeOf } from '../fold.js';
import { type AttrMsg, Attrs } from './attrs.js';
import { BATCH, type Sym, fail, image, normAxis, shapeText } from './context.js';
import type { NodeContext } from './node.js';
import { pair2, windowPads } from './window.js';

type Pads2 = [[number, number], [number, number]];

/** Output size along one axis, and the extra end pixels ceil_mode adds (not counted by the average). */
function poolAxis(n: NodeContext, ceil: boolean, size: number, k: number, s: number, p0: number, p1: number) {
  const span = size + p0 + p1 - k;
  if (span < 0) n.fail(`the ${k}-pixel window does not fit the padded input (${size} + ${p0} + ${p1})`);
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // The last window must start inside the input or its leading padding (PyTorch, onnxruntime).
  if (ceil && (o - 1) * s >= size + p0) o--;
  return { o, extra: Math.max(0, (o - 1) * s + k - (size + p0 + p1)) };
}

function pool(n: NodeContext, mode: 'max' | 'avg', x = n.sym(0), attrs = n.attrs): Sym {
  const { b, base, what } = n;
  if (n.outs.length > 1 && n.outs[1]) n.fail('the Indices output of MaxPool is not supported');
  const [C, H, W] = image(x, what);
  const k = pair2(attrs, 'kernel_shape', 0, what);
  const s = pair2(attrs, 'strides', 1, what);
  const d = pair2(attrs, 'dilations', 1, what);
  if (d[0] !== 1 || d[1] !== 1) n.fail(`dilated pooling (dilations [${d}]) is not supported`);
  const [pt, pl, pb, pr] = windowPads(what, attrs, H, W, k, s, d);
  const ceil = attrs.flag('ceil_mode', false);
  const includePad = mode === 'avg' && attrs.flag('count_include_pad', false);
  const ah = poolAxis(n, ceil, H, k[0], s[0], pt, pb),
    aw = poolAxis(n, ceil, W, k[1], s[1], pl, pr);
  let src = b.nhwc(x, base);
  let pads: Pads2 = [
    [pt, pb + ah.extra],
    [pl, pr + aw.extra],
  ];
  if (includePad && pt + pl + pb + pr > 0) {
    const p: Pads2 = [
      [pt, pb],
      [pl, pr],
    ];
    src = b.apply(new ZeroPadding2D({ padding: p }), `${base}_pad`, src);
    pads = [
      [0, ah.extra],
      [0, aw.extra],
    ];
  }
  let layer: Layer;
  if (pads.every((p) => p[0] === 0 && p[1] === 0)) {
    const L = mode === 'max' ? MaxPooling2D : AveragePooling2D;
    layer = new L({ poolSize: k, strides: s, padding: 'valid' });
  } else {
    if (pads.some((p, i) => p[0] >= k[i] || p[1] >= k[i])) {
      n.fail(`padding [${pads.map((p) => `[${p}]`)}] must be smaller than the window [${k}] on every side`);
    }
    layer = new Pool2D({ mode, poolSize: k, strides: s, padding: pads });
  }
  const t = b.apply(layer, base, src);
  if (t.shape[0] !== ah.o || t.shape[1] !== aw.o) fail(`internal: ${what} gives ${t.shape} instead of ${ah.o}x${aw.o}`);
  return b.sym(t, [BATCH, C, ah.o, aw.o], 'nhwc');
}

/**
 * The attributes of a 2-d pass over spatial axes `pick` (indices into the node's r spatial axes; null
 * for an added axis of size 1: kernel 1, stride 1, no padding) of an r-d pool.
 */
function passAttrs(n: NodeContext, r: number, pick: Array<number | null>): Attrs {
  const { attrs } = n;
  const list: AttrMsg[] = [];
  const per = (name: string, v: number[] | null, fill: number) => {
    if (!v) return;
    if (v.length !== r) n.fail(`attribute ${name} [${v}] must have ${r} entries for a ${r}-d pool`);
    list.push({ name, type: 7, ints: pick.map((a) => (a === null ? fill : v[a])) });
  };
  per('kernel_shape', attrs.ints('kernel_shape'), 1);
  per('strides', attrs.ints('strides'), 1);
  per('dilations', attrs.ints('dilations'), 1);
  const p = attrs.ints('pads');
  if (p) {
    if (p.length !== 2 * r) n.fail(`attribute pads [${p}] must have ${2 * r} entries for a ${r}-d pool`);
    const at = (a: number | null, end: number) => (a === null ? 0 : p[a + end]);
    list.push({ name: 'pads', type: 7, ints: [at(pick[0], 0), at(pick[1], 0), at(pick[0], r), at(pick[1], r)] });
  }
  for (const k of ['ceil_mode', 'count_include_pad'])
    if (attrs.has(k)) list.push({ name: k, type: 2, i: attrs.int(k, 0) });
  if (attrs.has('auto_pad'))
    list.push({ name: 'auto_pad', type: 3, s: new TextEncoder().encode(attrs.str('auto_pad', '')) });
  return new Attrs(list, n.what);
}

/**
 * 1-d and 3-d pools as 2-d ones. [N, C, L] is the image [N, C, L, 1]. [N, C, D, H, W] is pooled over
 * (H, W) as [N, C*D, H, W], then over D as [N, C, D, H'*W']: a window is a box and the cells it counts
 * (padding excluded or not, ceil_mode's extra ones never) are a product of per-axis ranges, so the max
 * and the average both split that way.
 */
function poolNd(n: NodeContext, mode: 'max' | 'avg'): Sym {
  const { b, base } = n;
  const x = n.sym(0);
  const r = x.shape.length;
  if (r !== 3 && r !== 5) return pool(n, mode, x);
  const view = (v: Sym, shape: number[], tag: string) =>
    b.sym(b.apply(new Reshape({ targetShape: shape.slice(1) }), `${base}_${tag}`, b.native(v, base)), shape, 'native');
  if (r === 3) {
    const [, C, L] = x.shape;
    const y = pool(n, mode, view(x, [BATCH, C, L, 1], 'image'), passAttrs(n, 1, [0, null]));
    return view(y, [BATCH, C, y.shape[2]], 'shape');
  }
  const [, C, D, H, W] = x.shape;
  const hw = pool(n, mode, view(x, [BATCH, C * D, H, W], 'image'), passAttrs(n, 3, [1, 2]));
  const [Ho, Wo] = [hw.shape[2], hw.shape[3]];
  const d = pool(n, mode, view(hw, [BATCH, C, D, Ho * Wo], 'depth'), passAttrs(n, 3, [0, null]));
  return view(d, [BATCH, C, d.shape[2], Ho, Wo], 'shape');
}

export const MaxPool = (n: NodeContext) => poolNd(n, 'max');
export const AveragePool = (n: NodeContext) => poolNd(n, 'avg');

function globalPool(n: NodeContext, mode: 'max' | 'avg'): Sym {
  const x = n.sym(0);
  const L = mode === 'max' ? GlobalMaxPooling2D : GlobalAveragePooling2D;
  const t = n.b.apply(new L({ keepdims: true }), n.base, n.b.nhwc(x, n.base));
  return n.b.sym(t, [BATCH, x.shape[1], 1, 1], 'nhwc');
}

export const GlobalMaxPool = (n: NodeContext) => globalPool(n, 'max');
export const GlobalAveragePool = (n: NodeContext) => globalPool(n, 'avg');

/**
 * A reduction over any axes but the batch: the reduced axes are moved first (one Permute of the stored
 * tensor), viewed as the height of an [R, 1, K] image and pooled globally, and the K kept values are
 * viewed as the output shape.
 */
function reduceAny(n: NodeContext, x: Sym, axes: number[], keep: boolean, mode: 'max' | 'avg'): Sym {
  const { b, base } = n;
  const out = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  if (out.length < 2)
    n.fail(`reducing axes [${axes}] of [${shapeText(x.shape)}] without keepdims leaves only the batch axis`);
  const v = x.layout === 'nhwc' ? x : b.plain(x, base);
  // Stored axis k (batch excluded) holds ONNX axis order[k].
  const order = v.layout === 'nhwc' ? [2, 3, 1] : x.shape.slice(1).map((_, i) => i + 1);
  const kept = order.filter((a) => !axes.includes(a)).sort((p, q) => p - q);
  const want = [...axes, ...kept];
  let t = v.t;
  if (want.join() !== order.join())
    t = b.apply(new Permute({ dims: want.map((a) => order.indexOf(a) + 1) }), `${base}_order`, t);
  const R = sizeOf(axes.map((a) => x.shape[a])),
    K = sizeOf(kept.map((a) => x.shape[a]));
  t = b.apply(new Reshape({ targetShape: [R, 1, K] }), `${base}_view`, t);
  const L = mode === 'max' ? GlobalMaxPooling2D : GlobalAveragePooling2D;
  t = b.apply(new L({ keepdims: false }), base, t);
  if (out.length - 1 !== 1 || out[1] !== K) t = b.apply(new Reshape({ targetShape: out.slice(1) }), `${base}_shape`, t);
  return b.sym(t, out, 'native');
}

/** The axes of a reduction (an input since opset 18, an attribute before), or null for none given. */
function reduceAxes(n: NodeContext): number[] | null {
  const ax = n.b.opset >= 18 ? n.optConst(1, 'axes') : null;
  const raw = ax ? Array.from(ax.data) : n.attrs.ints('axes');
  return raw && raw.length > 0 ? raw : null;
}

function reduce(n: NodeContext, mode: 'max' | 'avg'): Sym {
  const { b, base, what, attrs } = n;
  const x = n.sym(0);
  const raw = reduceAxes(n);
  const r = x.shape.length;
  if (!raw && n.b.opset >= 18 && attrs.flag('noop_with_empty_axes', false)) return x;
  const axes = [...new Set((raw ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, r, what)))].sort((p, q) => p - q);
  if (axes.length !== (raw ?? axes).length) n.fail(`axes [${raw}] repeat an axis`);
  const keep = attrs.flag('keepdims', true);
  const L = mode === 'max' ? GlobalMaxPooling2D : GlobalAveragePooling2D;
  if (axes.includes(0))
    n.fail(`reducing over the batch axis (axes [${raw ?? 'all'}] of [${shapeText(x.shape)}]) is not supported`);
  // Axes [1, 2] of a value held as ONNX orders it: a channels-last image (tf2onnx's graphs).
  if (r === 4 && axes.join() === '1,2' && x.layout === 'native') {
    const t = b.apply(new L({ keepdims: keep }), base, x.t);
    const C = x.shape[3];
    return keep ? b.sym(t, [BATCH, 1, 1, C], 'native') : b.sym(t, [BATCH, C], 'native');
  }
  if (r !== 4 || axes.join() !== '2,3') return reduceAny(n, x, axes, keep, mode);
  const t = b.apply(new L({ keepdims: keep }), base, b.nhwc(x, base));
  return keep ? b.sym(t, [BATCH, x.shape[1], 1, 1], 'nhwc') : b.sym(t, [BATCH, x.shape[1]], 'native');
}

export const ReduceMax = (n: NodeContext) => reduce(n, 'max');
export const ReduceMean = (n: NodeContext) => reduce(n, 'avg');
