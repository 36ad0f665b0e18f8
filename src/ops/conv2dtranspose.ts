// conv2dTranspose (Keras Conv2DTranspose, tf.conv2dTranspose): the input gradient of a convolution,
// run as the conv2d kernels of assembly/kernels/conv2d.ts with the roles swapped, never by dilating
// the input with zeros in memory. Seen as the conv y -> x, with y the transposed conv's output:
//   forward         = conv2d_backward_input (col2im scatter of x · kernelᵀ)
//   backward input  = conv2d_forward of dy
//   backward weight = conv2d_backward_weight with conv input dy and conv output gradient x.
// x (N, H, W, C), kernel (KH, KW, F, C) as Keras' Conv2DTranspose kernel, bias (F), out (N, OH, OW, F).
import { Tensor } from '../tensor.js';
import { conv2dTransposeShape, type TransposeGeometryOptions } from '../geom.js';
import { expectAllFinite, expectBias, expectTensor, k, recordConv, withScratch } from './util.js';
import { blockRows, conv2dForwardImages, conv2dInputGrad, conv2dWeightGrad } from './shards.js';
import type { Geometry2d } from '../wasm/abi.js';

export { conv2dTransposeShape };

/** Options of {@link conv2dTranspose}. */
export interface Conv2dTransposeOptions extends TransposeGeometryOptions {
  /** Stride as n or [rows, cols]; default 1. */
  strides?: number | [number, number];
  /** 'valid' (default) or 'same', as Keras. */
  padding?: 'valid' | 'same';
  /** Extra rows/columns at the bottom/right (each < its stride), or null to let Keras' rule choose. */
  outputPadding?: number | [number, number] | null;
  /** Dilation as n or [rows, cols]; default 1. */
  dilationRate?: number | [number, number];
  /** Bias of shape [F]. */
  bias?: Tensor | null;
  /** Name used in error messages (a layer passes its own). */
  name?: string;
  /** @internal Skip the NaN/Infinity scan of the inputs. */
  skipFiniteCheck?: boolean;
}

/** Transposed 2-D convolution of NHWC `x` with `kernel` (KH, KW, F, C), as tf.conv2dTranspose / Keras Conv2DTranspose. */
export function conv2dTranspose(x: Tensor, kernel: Tensor, opts: Conv2dTransposeOptions = {}): Tensor {
  const what = opts.name ?? 'conv2dTranspose';
  expectTensor(x, 4, what, 'input x (N, H, W, C)');
  expectTensor(kernel, 4, what, 'kernel (KH, KW, filters, C)');
  const [N, H, W, C] = x.shape;
  const [KH, KW, F, KC] = kernel.shape;
  if (KC !== C)
    throw new Error(
      `${what}: input has ${C} channels but the kernel expects ${KC} (kernel shape [${kernel.shape}], input shape [${x.shape}])`,
    );
  const bias = expectBias(opts.bias, F, what, `the kernel has ${F} filters`);
  const t = conv2dTransposeShape(H, W, KH, KW, opts, what);
  const { OH, OW } = t;
  expectAllFinite(what, opts.skipFiniteCheck, [
    [x, 'input x'],
    [kernel, 'kernel'],
    [bias, 'bias'],
  ]);
  const kx = k();
  // The convolution (N, OH, OW, F) -> (N, H, W, C) whose input gradient this is.
  const geo: Geometry2d = {
    H: OH,
    W: OW,
    C: F,
    K: C,
    KH,
    KW,
    SH: t.SH,
    SW: t.SW,
    PT: t.PT,
    PL: t.PL,
    OH: H,
    OW: W,
    DH: t.DH,
    DW: t.DW,
    G: 1,
  };
  const KK = KH * KW * F;
  const MB = blockRows(KK, H * W);
  const out = new Tensor([N, OH, OW, F]);
  // The bias first, then every tap scatters onto it.
  if (bias) kx.binary_forward(out.ptr, out.ptr, bias.ptr, out.size, F, 0, 0);
  conv2dInputGrad(out.ptr, x.ptr, kernel.ptr, geo, N, MB);
  recordConv(x, kernel, bias, out, 0, (dy, gx, gw, gb) => {
    if (gx) {
      // conv2d_forward stores rather than accumulates: it writes a scratch tensor, added to dx.
      withScratch([N * H * W * C], (tmp) => {
        conv2dForwardImages(tmp, dy.ptr, kernel.ptr, 0, geo, N, MB, 0);
        kx.add_into(gx, tmp, N * H * W * C);
      });
    }
    if (gw) conv2dWeightGrad(gw, 0, x.ptr, dy.ptr, geo, N);
    if (gb) kx.bias_backward(gb, dy.ptr, N * OH * OW, F);
  });
  return out;
}
