// Gemm and MatMul of a 2-d model value by constant weights: a Dense layer. The kernel's rows follow
// the stored feature order of the input (a Flatten of an NHWC image needs no transpose), and alpha
// and beta are multiplied into the kernel and the bias. MatMul of higher rank (batched, weights
// broadcast or one matrix per group of middle axes, constants on either side) is a 1x1 convolution
// over the last axis.
import { Conv2D } from '../../../nn/convolutional.js';
import { Dense } from '../../../nn/layers.js';
import { Permute, Reshape } from '../../../nn/reshaping.js';
import { type Const, broadcastDims, expandTo, sizeOf, transposeConst } from '../fold.js';
import { BATCH, type Builder, type Sym, f32, shapeText } from './context.js';
import type { NodeContext } from './node.js';

function dense(n: NodeContext, gemm: boolean): Sym {
  const { b, base, attrs } = n;
  const [a, bw] = n.ins;
  if (!a || !bw) return n.fail('inputs are missing');
  if (a.kind !== 'sym' || bw.kind !== 'const')
    return n.fail(
      a.kind === 'const' && bw.kind === 'sym'
        ? `constant A times the model value B [${shapeText(bw.shape)}] contracts or moves its batch axis`
        : 'only a model value times constant weights is supported',
    );
  if (a.shape.length !== 2) n.fail(`the input must be 2-d [N, features], got [${shapeText(a.shape)}]`);
  if (gemm && attrs.flag('transA', false))
    n.fail(`attribute transA 1 transposes the input [${shapeText(a.shape)}], which contracts its batch axis`);
  const B = n.floatConst(1, 'weights');
  if (B.dims.length !== 2) n.fail(`weights must be 2-d, got [${B.dims}]`);
  const transB = gemm && attrs.flag('transB', false);
  const [K, U] = transB ? [B.dims[1], B.dims[0]] : B.dims;
  if (K !== a.shape[1]) n.fail(`weights [${B.dims}] do not fit ${a.shape[1]} input features`);
  const alpha = gemm ? attrs.float('alpha', 1) : 1;
  const beta = gemm ? attrs.float('beta', 1) : 1;
  const perm = a.layout === 'perm' ? a.perm! : null;
  // kernel (K, U): row j is the weights of stored feature j.
  const kernel = new Float32Array(K * U);
  for (let j = 0; j < K; j++) {
    const src = perm ? perm[j] : j;
    for (let u = 0; u < U; u++) kernel[j * U + u] = alpha * (transB ? B.data[u * K + src] : B.data[src * U + u]);
  }
  const C = gemm && n.ins[2] ? n.ins[2] : undefined;
  let bias: Float32Array | null = null;
  if (C) {
    if (C.kind !== 'const') return n.fail('the bias C must be a constant');
    n.floatConst(2, 'bias C');
    const dims = broadcastDims(C.c.dims, [1, U]);
    if (!dims || dims.join() !== `1,${U}`) n.fail(`bias C of shape [${C.c.dims}] must broadcast to [1, ${U}]`);
    bias = f32(expandTo(C.c, [1, U]).map((v) => v * beta));
  }
  const layer = new Dense({ units: U, useBias: bias !== null });
  const t = b.apply(layer, base, a.t, bias ? [kernel, bias] : [kernel]);
  return b.sym(t, [BATCH, U], 'native');
}

export const Gemm = (n: NodeContext) => dense(n, true);

/** Permute dims (1-based, batch excluded) that put ONNX axes `order` (>= 1) in that order; null for none. */
const permuteDims = (order: number[]) => (order.every((a, i) => a === i + 1) ? null : order);

/**
 * x · W[g] over the last axis of a model value, one (K, U) matrix per index g of the group axes
 * `groups` (middle axes, row-major), as a 1x1 convolution (groups G) of x viewed as [rest, 1, G*K].
 * `w` holds the G matrices one after another; `trainable` false for fixed maps (resizing); `bias` (G*U
 * values) is added to every output.
 */
export function lastAxisMatmul(
  b: Builder,
  base: string,
  x: Sym,
  groups: number[],
  w: ArrayLike<number>,
  U: number,
  trainable = true,
  bias: ArrayLike<number> | null = null,
): Sym {
  const r = x.shape.length;
  const K = x.shape[r - 1];
  const rest = x.shape.map((_, i) => i).filter((i) => i > 0 && i < r - 1 && !groups.includes(i));
  const order = [...rest, ...groups, r - 1];
  const G = sizeOf(groups.map((a) => x.shape[a]));
  let t = b.native(x, base);
  const to = permuteDims(order);
  if (to) t = b.apply(new Permute({ dims: to }), `${base}_order`, t);
  t = b.apply(new Reshape({ targetShape: [sizeOf(rest.map((a) => x.shape[a])), 1, G * K] }), `${base}_rows`, t);
  const kernel = new Float32Array(K * G * U);
  for (let g = 0; g < G; g++)
    for (let k = 0; k < K; k++) for (let u = 0; u < U; u++) kernel[k * G * U + g * U + u] = w[(g * K + k) * U + u];
  const conv = new Conv2D({ filters: G * U, kernelSize: 1, groups: G, useBias: bias !== null });
  conv.trainable = trainable;
  t = b.apply(conv, base, t, bias ? [kernel, f32(bias)] : [kernel]);
  const held = [...rest, ...groups].map((a) => x.shape[a]);
  t = b.apply(new Reshape({ targetShape: [...held, U] }), `${base}_shape`, t);
  const back = permuteDims(x.shape.slice(1).map((_, i) => order.indexOf(i + 1) + 1));
  if (back) t = b.apply(new Permute({ dims: back }), `${base}_back`, t);
  return b.sym(t, [...x.shape.slice(0, -1), U], 'native');
}

/** x · W with W's leading axes broadcast against x's (never along the batch axis). */
function timesConst(n: NodeContext, x: Sym, W: Const, what: string): Sym {
  const r = x.shape.length,
    q = W.dims.length;
  if (q > r)
    n.fail(`${what} [${W.dims}] have more axes than the value [${shapeText(x.shape)}]; its batch axis would move`);
  const d = [...new Array(r - q).fill(1), ...W.dims];
  if (d[0] !== 1) n.fail(`${what} [${W.dims}] differ along the batch axis of [${shapeText(x.shape)}]`);
  if (d[r - 2] !== x.shape[r - 1]) n.fail(`${what} [${W.dims}] do not fit [${shapeText(x.shape)}]`);
  const groups: number[] = [];
  for (let i = 1; i < r - 2; i++) {
    if (d[i] === 1) continue;
    if (d[i] !== x.shape[i]) n.fail(`${what} [${W.dims}] do not broadcast with [${shapeText(x.shape)}] on axis ${i}`);
    groups.push(i);
  }
  return lastAxisMatmul(n.b, n.base, x, groups, W.data, d[r - 1]);
}

/** The model value with its last two axes swapped. */
function swapLast(n: NodeContext, x: Sym, tag: string): Sym {
  const r = x.shape.length;
  const dims = x.shape.slice(1).map((_, i) => i + 1);
  [dims[r - 3], dims[r - 2]] = [dims[r - 2], dims[r - 3]];
  const t = n.b.apply(new Permute({ dims }), `${n.base}_${tag}`, n.b.native(x, n.base));
  const shape = [...x.shape];
  [shape[r - 2], shape[r - 1]] = [shape[r - 1], shape[r - 2]];
  return n.b.sym(t, shape, 'native');
}

/** Drops axis `a` (of size 1) of a native model value. */
function dropAxis(n: NodeContext, x: Sym, a: number): Sym {
  const shape = x.shape.filter((_, i) => i !== a);
  if (shape.length < 2) n.fail(`the product of a vector leaves only the batch axis of [${shapeText(x.shape)}]`);
  const t = n.b.apply(new Reshape({ targetShape: shape.slice(1) }), `${n.base}_squeeze`, x.t);
  return n.b.sym(t, shape, 'native');
}

/** MatMul with numpy semantics: a model value on one side, constant weights on the other. */
export function MatMul(n: NodeContext): Sym {
  const [a, w] = n.ins;
  if (!a || !w) return n.fail('inputs are missing');
  if (a.kind === 'sym' && w.kind === 'const') {
    if (a.shape.length === 2 && w.c.dims.length === 2) return dense(n, false);
    const W = n.floatConst(1, 'weights');
    if (W.dims.length >= 2) return timesConst(n, a, W, 'weights');
    return dropAxis(n, timesConst(n, a, { ...W, dims: [W.dims[0] ?? 1, 1] }, 'weights'), a.shape.length - 1);
  }
  if (a.kind === 'const' && w.kind === 'sym') {
    // A · B = (Bᵀ · Aᵀ)ᵀ over the last two axes; B's batch axis must stay out of them.
    const A = n.floatConst(0, 'the constant A');
    const r = w.shape.length;
    if (r < 3) n.fail(`constant A times the model value B [${shapeText(w.shape)}] contracts its batch axis`);
    const A2 = A.dims.length >= 2 ? A : { ...A, dims: [1, A.dims[0] ?? 1] };
    const At = transposeConst(A2, [...A2.dims.slice(0, -2).map((_, i) => i), A2.dims.length - 1, A2.dims.length - 2]);
    const y = swapLast(n, timesConst(n, swapLast(n, w, 'in'), At, 'the constant A'), 'out');
    return A.dims.length >= 2 ? y : dropAxis(n, y, r - 2);
  }
  return n.fail('MatMul of two model values is not supported; one side must be constant weights');
}
