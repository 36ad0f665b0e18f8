// Conv (plain, grouped, depthwise) and ConvTranspose. Weights are re-laid once here from ONNX's
// (K, C/g, KH, KW) to (KH, KW, C/g, K), or (KH, KW, C, M) for depthwise; explicit pads that are not
// 'same' become a ZeroPadding2D before the convolution (ConvTranspose: a Cropping2D after it).
import { Conv2D, Conv2DTranspose, DepthwiseConv2D } from '../../../nn/convolutional.js';
import type { Layer } from '../../../nn/layer.js';
import { Cropping2D, ZeroPadding2D } from '../../../nn/reshaping.js';
import { samePadding } from '../../../geom.js';
import { type Const, sizeOf } from '../fold.js';
import { BATCH, type Sym, f32, image } from './context.js';
import type { NodeContext } from './node.js';
import { AUTO_PAD, pair2, windowPads } from './window.js';

/** Depthwise weights [C*M, 1, KH, KW] -> (KH, KW, C, M); output channel c*M + m. */
function depthwiseKernel(w: Const, C: number, M: number): Float32Array {
  const [, , KH, KW] = w.dims;
  const kernel = new Float32Array(sizeOf(w.dims));
  for (let c = 0; c < C; c++)
    for (let m = 0; m < M; m++)
      for (let i = 0; i < KH; i++)
        for (let j = 0; j < KW; j++) kernel[((i * KW + j) * C + c) * M + m] = w.data[((c * M + m) * KH + i) * KW + j];
  return kernel;
}

/** (K, C/g, KH, KW) -> (KH, KW, C/g, K); also ConvTranspose's (C, F, KH, KW) -> (KH, KW, F, C). */
function convKernel(w: Const): Float32Array {
  const [K, Cg, KH, KW] = w.dims;
  const kernel = new Float32Array(sizeOf(w.dims));
  for (let k = 0; k < K; k++)
    for (let c = 0; c < Cg; c++)
      for (let i = 0; i < KH; i++)
        for (let j = 0; j < KW; j++) kernel[((i * KW + j) * Cg + c) * K + k] = w.data[((k * Cg + c) * KH + i) * KW + j];
  return kernel;
}

export function Conv(n: NodeContext): Sym {
  const { b, base, what, attrs } = n;
  const x = n.sym(0),
    w = n.floatConst(1, 'weights'),
    bias = n.ins[2] ? n.floatConst(2, 'bias') : null;
  const [C, H, W] = image(x, what);
  if (w.dims.length !== 4) n.fail(`weights must be 4-d [K, C/group, KH, KW], got [${w.dims}]`);
  const [K, Cg, KH, KW] = w.dims;
  const g = attrs.int('group', 1);
  if (g < 1 || C % g !== 0 || K % g !== 0 || Cg * g !== C)
    n.fail(`group ${g} does not fit ${C} input channels and weights [${w.dims}]`);
  const ks = attrs.ints('kernel_shape');
  if (ks && (ks[0] !== KH || ks[1] !== KW)) n.fail(`kernel_shape [${ks}] differs from the weights [${w.dims}]`);
  const s = pair2(attrs, 'strides', 1, what);
  const d = pair2(attrs, 'dilations', 1, what);
  if (bias && sizeOf(bias.dims) !== K) n.fail(`bias must have ${K} values, got [${bias.dims}]`);
  const [pt, pl, pb, pr] = windowPads(what, attrs, H, W, [KH, KW], s, d);
  let src = b.nhwc(x, base);
  let padding: 'valid' | 'same' = 'valid';
  const sameH = samePadding(H, (KH - 1) * d[0] + 1, s[0]),
    sameW = samePadding(W, (KW - 1) * d[1] + 1, s[1]);
  if (pt + pl + pb + pr === 0) padding = 'valid';
  else if (pt === sameH[0] && pb === sameH[1] && pl === sameW[0] && pr === sameW[1]) padding = 'same';
  else {
    const pads: [[number, number], [number, number]] = [
      [pt, pb],
      [pl, pr],
    ];
    src = b.apply(new ZeroPadding2D({ padding: pads }), `${base}_pad`, src);
  }
  const common = {
    kernelSize: [KH, KW] as [number, number],
    strides: s,
    padding,
    dilationRate: d,
    useBias: bias !== null,
  };
  let layer: Layer;
  let kernel: Float32Array;
  if (g === C && g > 1) {
    kernel = depthwiseKernel(w, C, K / C);
    layer = new DepthwiseConv2D({ ...common, depthMultiplier: K / C });
  } else {
    kernel = convKernel(w);
    layer = new Conv2D({ ...common, filters: K, groups: g });
  }
  const t = b.apply(layer, base, src, bias ? [kernel, f32(bias.data)] : [kernel]);
  return b.sym(t, [BATCH, K, ...t.shape.slice(0, 2)], 'nhwc');
}

/** [top, left, bottom, right] crop of a ConvTranspose's full output. */
function transposePads(n: NodeContext, H: number, W: number, s: number[], full: number[]): number[] {
  const { attrs } = n;
  let pads: number[];
  const os = attrs.ints('output_shape');
  const auto = attrs.oneOf('auto_pad', AUTO_PAD, 'NOTSET');
  if (os || auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const want = os ? os.slice(-2) : [H * s[0], W * s[1]];
    const tot = [full[0] - want[0], full[1] - want[1]];
    if (tot.some((t) => t < 0))
      n.fail(`output_shape [${want}] is larger than the transposed convolution's output [${full}]`);
    // ONNX: only SAME_UPPER puts the odd pixel at the end; output_shape alone pads like SAME_LOWER.
    const lower = auto !== 'SAME_UPPER';
    const split = (t: number) =>
      lower ? [t - Math.floor(t / 2), Math.floor(t / 2)] : [Math.floor(t / 2), t - Math.floor(t / 2)];
    const [a0, a1] = split(tot[0]),
      [c0, c1] = split(tot[1]);
    pads = [a0, c0, a1, c1];
  } else pads = auto === 'VALID' ? [0, 0, 0, 0] : (attrs.ints('pads') ?? [0, 0, 0, 0]);
  if (pads.length !== 4 || pads.some((v) => !Number.isInteger(v) || v < 0))
    n.fail(`pads must be 4 non-negative integers, got [${pads}]`);
  return pads;
}

export function ConvTranspose(n: NodeContext): Sym {
  const { b, base, what, attrs } = n;
  const x = n.sym(0),
    w = n.floatConst(1, 'weights'),
    bias = n.ins[2] ? n.floatConst(2, 'bias') : null;
  const [C, H, W] = image(x, what);
  if (w.dims.length !== 4 || w.dims[0] !== C) n.fail(`weights must be [${C}, F, KH, KW], got [${w.dims}]`);
  if (attrs.int('group', 1) !== 1) n.fail('grouped ConvTranspose is not supported');
  const [, F, KH, KW] = w.dims;
  const s = pair2(attrs, 'strides', 1, what);
  const d = pair2(attrs, 'dilations', 1, what);
  const op = attrs.ints('output_padding') ?? [0, 0];
  if (op.length !== 2 || op.some((v, i) => !Number.isInteger(v) || v < 0 || v >= s[i]))
    n.fail(`output_padding [${op}] must be below the strides [${s}]`);
  if (bias && sizeOf(bias.dims) !== F) n.fail(`bias must have ${F} values, got [${bias.dims}]`);
  const full = [(H - 1) * s[0] + (KH - 1) * d[0] + 1 + op[0], (W - 1) * s[1] + (KW - 1) * d[1] + 1 + op[1]];
  const [pt, pl, pb, pr] = transposePads(n, H, W, s, full);
  const layer = new Conv2DTranspose({
    filters: F,
    kernelSize: [KH, KW],
    strides: s,
    dilationRate: d,
    padding: 'valid',
    outputPadding: [op[0], op[1]],
    useBias: bias !== null,
  });
  const kernel = convKernel(w);
  let t = b.apply(layer, base, b.nhwc(x, base), bias ? [kernel, f32(bias.data)] : [kernel]);
  if (pt + pl + pb + pr > 0) {
    const crop: [[number, number], [number, number]] = [
      [pt, pb],
      [pl, pr],
    ];
    t = b.apply(new Cropping2D({ cropping: crop }), `${base}_crop`, t);
  }
  return b.sym(t, [BATCH, F, t.shape[0], t.shape[1]], 'nhwc');
}
