// Kernel rows and columns that only ever read padding. A dilated kernel wider than its input (DeepLab's
// ASPP: 3x3 taps 24 or 36 pixels apart over a 14x14 map) multiplies zeros with all but its middle taps, so
// the plan calls the convolution with those rows and columns cut off and the padding shortened to match:
// the same outputs (the cut taps added exact zeros) for a fraction of the multiplies.
import { convGeometry, type Padding } from '../../geom.js';
import { type Tensor, tensor } from '../../tensor.js';

/** A kernel cut to its live taps, with the padding and dilation to call it with. */
export interface TrimmedKernel {
  kernel: Tensor;
  padding: [[number, number], [number, number]];
  dilationRate: [number, number];
}

// The first and last kernel index along one axis whose taps read the input for some output: tap k reads
// rows k*D - lo + o*S for o in 0..O-1, an interval that must meet 0..n-1.
function liveRange(n: number, K: number, lo: number, O: number, S: number, D: number): [number, number] {
  const live = (k: number) => k * D - lo + (O - 1) * S >= 0 && k * D - lo <= n - 1;
  let a = 0;
  while (a < K - 1 && !live(a)) a++;
  let b = K - 1;
  while (b > a && !live(b)) b--;
  return [a, b];
}

/**
 * The kernel (KH, KW, C, K) of a convolution over an H x W input cut to the rows and columns whose taps
 * read some input pixel, or null when every row and column does.
 */
export function trimDeadTaps(
  kernel: Tensor,
  H: number,
  W: number,
  opts: { strides: [number, number]; dilationRate: [number, number]; padding: Padding },
  what: string,
): TrimmedKernel | null {
  const [KH, KW, C, K] = kernel.shape as [number, number, number, number];
  const [DH, DW] = opts.dilationRate;
  if (DH === 1 && DW === 1) return null; // an undilated window always has taps on the image
  const g = convGeometry(what, H, W, KH, KW, opts);
  const [h0, h1] = liveRange(H, KH, g.pad.top, g.OH, g.SH, DH);
  const [w0, w1] = liveRange(W, KW, g.pad.left, g.OW, g.SW, DW);
  if (h0 === 0 && h1 === KH - 1 && w0 === 0 && w1 === KW - 1) return null;
  const kh = h1 - h0 + 1,
    kw = w1 - w0 + 1;
  const src = kernel.view();
  const out = new Float32Array(kh * kw * C * K);
  const row = C * K;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const from = ((h0 + i) * KW + (w0 + j)) * row;
      out.set(src.subarray(from, from + row), (i * kw + j) * row);
    }
  // the output size stays: each side loses exactly the span of the cut taps
  const padding: [[number, number], [number, number]] = [
    [g.pad.top - h0 * DH, g.pad.bottom - (KH - 1 - h1) * DH],
    [g.pad.left - w0 * DW, g.pad.right - (KW - 1 - w1) * DW],
  ];
  if (padding.flat().some((v) => v < 0)) return null;
  return {
    kernel: tensor(out, [kh, kw, C, K]),
    padding,
    dilationRate: [kh === 1 ? 1 : DH, kw === 1 ? 1 : DW],
  };
}
