// Gemm and MatMul of a 2-d model value by constant weights: a Dense layer. The kernel's rows follow
// the stored feature order of the input (a Flatten of an NHWC image needs no transpose), and alpha
// and beta are multiplied into the kernel and the bias.
import { Dense } from '../../../nn/layers.js';
import { broadcastDims, expandTo } from '../fold.js';
import { BATCH, type Sym, f32, shapeText } from './context.js';
import type { NodeContext } from './node.js';

function dense(n: NodeContext, gemm: boolean): Sym {
  const { b, base, attrs } = n;
  const [a, bw] = n.ins;
  if (!a || !bw) return n.fail('inputs are missing');
  if (a.kind !== 'sym' || bw.kind !== 'const') return n.fail('only a model value times constant weights is supported');
  if (a.shape.length !== 2) n.fail(`the input must be 2-d [N, features], got [${shapeText(a.shape)}]`);
  if (gemm && attrs.flag('transA', false)) n.fail('transA is not supported');
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
export const MatMul = (n: NodeContext) => dense(n, false);
