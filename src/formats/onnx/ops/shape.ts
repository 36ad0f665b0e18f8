// Operators that change only the shape: Flatten, Reshape, Squeeze, Unsqueeze, Transpose. The batch
// axis stays axis 0 throughout. Flatten of an NHWC image keeps the stored (h, w, c) order and marks
// the value 'perm' (the next Gemm's rows are permuted instead); a channel shuffle (view to 5-d,
// transpose, view back) stays a reshape of the stored tensor. All-constant nodes are folded.
import { Flatten as FlattenLayer } from '../../../nn/layers.js';
import { Permute, Reshape as ReshapeLayer } from '../../../nn/reshaping.js';
import { type Const, sizeOf, transposeConst } from '../fold.js';
import { MAX_RANK } from '../../limits.js';
import { BATCH, type Builder, NHWC5, type Sym, normAxis, shapeText } from './context.js';
import type { NodeContext } from './node.js';

/** Flatten(axis 1) of x: [N, features]. */
function flattenSym(b: Builder, base: string, x: Sym): Sym {
  const feat = sizeOf(x.shape.slice(1));
  if (x.layout === 'nhwc') {
    const [, C, H, W] = x.shape;
    const t = b.apply(new FlattenLayer(), base, x.t);
    if (H * W === 1 || C === 1) return b.sym(t, [BATCH, feat], 'native');
    // Stored order (h, w, c); ONNX order (c, h, w).
    const perm = new Array(feat);
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) perm[(h * W + w) * C + c] = (c * H + h) * W + w;
    return b.sym(t, [BATCH, feat], 'perm', {
      perm,
      toNative: () => b.apply(new FlattenLayer(), `${base}_native`, b.native(x, base)),
    });
  }
  if (x.layout === 'perm' || x.shape.length === 2) return x;
  const t = b.apply(new FlattenLayer(), base, b.native(x, base));
  return b.sym(t, [BATCH, feat], 'native');
}

/** Flatten's axis in [0, r]; a negative one counts from the back (-1 is r - 1). */
function flattenAxis(n: NodeContext, raw: number, r: number): number {
  const a = raw < 0 ? raw + r : raw;
  if (!Number.isInteger(a) || a < 0 || a > r) n.fail(`axis ${raw} is out of range for rank ${r}`);
  return a;
}

export function Flatten(n: NodeContext): Sym {
  const x = n.sym(0);
  const raw = n.attrs.int('axis', 1);
  const axis = flattenAxis(n, raw, x.shape.length);
  // ONNX gives [prod(dims[:axis]), prod(dims[axis:])]: the batch axis stays alone only when the
  // axes between it and `axis` have size 1.
  const outer = axis === 0 ? 0 : sizeOf(x.shape.slice(1, axis));
  if (outer !== 1) {
    const to = axis === 0 ? `1, N*${sizeOf(x.shape.slice(1))}` : `N*${outer}, ${sizeOf(x.shape.slice(axis))}`;
    n.fail(
      `attribute axis ${raw} flattens [${shapeText(x.shape)}] to [${to}], which merges the batch axis; ` +
        'only axis 1 (or an axis after axes of size 1) is supported',
    );
  }
  return flattenSym(n.b, n.base, x);
}

export function foldFlatten(n: NodeContext): Const {
  const x = n.need(0);
  const a = flattenAxis(n, n.attrs.int('axis', 1), x.dims.length);
  return { ...x, dims: [sizeOf(x.dims.slice(0, a)), sizeOf(x.dims.slice(a))] };
}

/** A Reshape target resolved against the input shape; the first entry must keep the batch axis. */
function reshapeTarget(n: NodeContext, inShape: number[], rawTarget: number[]): number[] {
  const target = rawTarget.map((d) => (Number.isNaN(d) ? 'N' : String(d))).join(', ');
  if (rawTarget.length === 0) n.fail('reshaping to a scalar is not supported');
  const feat = sizeOf(inShape.slice(1));
  const t0 = rawTarget[0];
  const rest = rawTarget.slice(1).map((d, i) => (d === 0 ? inShape[i + 1] : d));
  if (rest.some((d) => Number.isNaN(d))) n.fail('the target shape depends on the batch size off the batch axis');
  if (!(n.b.isBatch(t0) || t0 === 0 || (t0 === -1 && !rest.includes(-1)))) {
    n.fail(`the target shape [${target}] changes the batch axis, which is not supported`);
  }
  const u = rest.indexOf(-1);
  if (rest.filter((d) => d === -1).length > 1) n.fail(`target shape [${target}] has more than one -1`);
  const known = rest.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (u >= 0) {
    if (known === 0 || feat % known !== 0) n.fail(`cannot reshape [${shapeText(inShape)}] to [${target}]`);
    rest[u] = feat / known;
  }
  if (rest.some((d) => !Number.isInteger(d) || d < 1) || sizeOf(rest) !== feat)
    n.fail(`cannot reshape [${shapeText(inShape)}] to [${target}]`);
  return [BATCH, ...rest];
}

/** x viewed as `shape` (batch axis first). */
function reshapeSym(b: Builder, base: string, x: Sym, shape: number[]): Sym {
  if (shape.join() === x.shape.join()) return x;
  // view(N, -1) of an image is a Flatten: keep the NHWC order and permute the next Gemm's rows.
  if (shape.length === 2 && x.shape.length === 4 && x.layout === 'nhwc') return flattenSym(b, base, x);
  // Channel shuffle: splitting the channels of an NHWC image, and merging them back, is a reshape of
  // the stored tensor (channel c = i * b + j either way).
  if (x.layout === 'nhwc' && shape.length === 5 && shape[3] === x.shape[2] && shape[4] === x.shape[3]) {
    const t = b.apply(new ReshapeLayer({ targetShape: [shape[3], shape[4], shape[1], shape[2]] }), base, x.t);
    return b.sym(t, shape, 'nhwc5');
  }
  if (x.layout === 'nhwc5' && shape.length === 4 && shape[2] === x.shape[3] && shape[3] === x.shape[4]) {
    const t = b.apply(new ReshapeLayer({ targetShape: [shape[2], shape[3], shape[1]] }), base, x.t);
    return b.sym(t, shape, 'nhwc');
  }
  // An NHWC image of 1x1 pixels (or 1 channel) stores its values in ONNX order.
  const onnxOrder = x.layout === 'nhwc' && (x.shape[2] * x.shape[3] === 1 || x.shape[1] === 1);
  const src = onnxOrder ? x.t : b.native(x, base);
  const t = b.apply(new ReshapeLayer({ targetShape: shape.slice(1) }), base, src);
  return b.sym(t, shape, 'native');
}

export function Reshape(n: NodeContext): Sym {
  const x = n.sym(0);
  const target = Array.from(n.constIn(1, 'shape').data);
  if (n.attrs.flag('allowzero', false) && target.includes(0))
    n.fail('allowzero with a 0 in the shape is not supported');
  return reshapeSym(n.b, n.base, x, reshapeTarget(n, x.shape, target));
}

export function foldReshape(n: NodeContext): Const {
  const x = n.need(0);
  const t = Array.from(n.need(1).data);
  let unknown = -1,
    known = 1;
  const dims = t.map((d, i) => {
    if (d === 0) d = x.dims[i];
    if (d === -1) unknown = i;
    else known *= d;
    return d;
  });
  if (unknown >= 0) dims[unknown] = sizeOf(x.dims) / known;
  if (dims.length > MAX_RANK) n.fail(`a target shape of ${dims.length} axes is more than ${MAX_RANK}`);
  if (dims.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(dims) !== sizeOf(x.dims))
    n.fail(`cannot reshape constant [${x.dims}] to [${t}]`);
  return { ...x, dims };
}

/** Squeeze/Unsqueeze axes: an input since opset 13 (else the attribute), an attribute before. */
function axesOf(n: NodeContext): number[] | null {
  const ax = n.b.opset >= 13 ? n.optConst(1, 'axes') : null;
  return ax ? Array.from(ax.data) : n.attrs.ints('axes');
}

/** `shape` with size-1 axes inserted at `raw` (Unsqueeze). */
function unsqueezed(n: NodeContext, shape: number[], raw: number[] | null): number[] {
  if (!raw) return n.fail('axes are missing');
  const r = shape.length + raw.length;
  if (r > MAX_RANK) n.fail(`unsqueezing ${raw.length} axes gives rank ${r}, more than ${MAX_RANK}`);
  const axes = new Set(raw.map((a) => normAxis(a, r, n.what)));
  if (axes.size !== raw.length) n.fail(`axes [${raw}] repeat an axis`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(axes.has(i) ? 1 : shape[j++]);
  return out;
}

export function Squeeze(n: NodeContext): Sym {
  const x = n.sym(0);
  const raw = axesOf(n);
  const r = x.shape.length;
  const axes = raw
    ? raw.map((a) => normAxis(a, r, n.what))
    : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  if (axes.some((a) => x.shape[a] !== 1)) n.fail(`axes [${raw}] are not all of size 1 in [${shapeText(x.shape)}]`);
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  if (shape[0] !== BATCH) n.fail('changing the batch axis is not supported');
  return reshapeSym(n.b, n.base, x, shape);
}

export function Unsqueeze(n: NodeContext): Sym {
  const x = n.sym(0);
  const shape = unsqueezed(n, x.shape, axesOf(n));
  if (shape[0] !== BATCH) n.fail('changing the batch axis is not supported');
  return reshapeSym(n.b, n.base, x, shape);
}

export function foldSqueeze(n: NodeContext): Const {
  const x = n.need(0);
  const raw = axesOf(n);
  const axes = raw ? raw.map((a) => normAxis(a, x.dims.length, n.what)) : x.dims.map((d, i) => (d === 1 ? i : -1));
  return { ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) };
}

export function foldUnsqueeze(n: NodeContext): Const {
  const x = n.need(0);
  return { ...x, dims: unsqueezed(n, x.dims, axesOf(n)) };
}

export function Transpose(n: NodeContext): Sym {
  const { b, base } = n;
  const x = n.sym(0);
  const r = x.shape.length;
  const perm = n.attrs.ints('perm') ?? x.shape.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort().some((p, i) => p !== i))
    n.fail(`perm [${perm}] is not a permutation of ${r} axes`);
  if (perm[0] !== 0) n.fail(`moving the batch axis (perm [${perm}]) is not supported`);
  const shape = perm.map((p) => x.shape[p]);
  if (perm.every((p, i) => p === i)) return x;
  if (r === 4) {
    // NCHW -> NHWC of an NHWC-stored value is the stored tensor itself, and back.
    if (x.layout === 'nhwc' && perm.join() === '0,2,3,1') return b.sym(x.t, shape, 'native');
    if (x.layout === 'native' && perm.join() === '0,3,1,2') return b.sym(x.t, shape, 'nhwc');
  }
  if (x.layout === 'nhwc5') {
    // Stored axis k of the output holds ONNX axis perm[NHWC5[k]] of the input, at stored NHWC5.indexOf(that).
    const dims = [1, 2, 3, 4].map((k) => NHWC5.indexOf(perm[NHWC5[k]]));
    const t = b.apply(new Permute({ dims }), base, x.t);
    return b.sym(t, shape, 'nhwc5');
  }
  const t = b.apply(new Permute({ dims: perm.slice(1) }), base, b.native(x, base));
  return b.sym(t, shape, 'native');
}

export function foldTranspose(n: NodeContext): Const {
  const x = n.need(0);
  const perm = n.attrs.ints('perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
  return transposeConst(x, perm, n.claim);
}
