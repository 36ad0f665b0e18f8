// Zero padding and cropping of NHWC images (ZeroPadding2D, Cropping2D) as one copy with offsets:
//   out (N, OH, OW, C)[n, oh, ow, c] = x (N, H, W, C)[n, oh - top, ow - left, c], 0 where that is outside x.
// Cropping is the same copy with top, left <= 0; the offsets are signed, so they are arguments of
// their own rather than the geometry's (non-negative) padding fields. Geometry fields used: H, W, C, OH, OW.
// The in-bounds part of an output row is one contiguous run of pixels * C floats in both tensors, so
// forward is memory.copy/fill of runs and backward adds runs (SIMD over the run, channels included).
// Backward ACCUMULATES into dinp; the caller zeroes.

import { geometry } from "../geometry";

// dst (n) += src (n)
// @ts-ignore: decorator
@inline function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// out (N, OH, OW, C) = x (N, H, W, C) shifted by (top, left), zero elsewhere.
export function pad2d_forward(out: usize, inp: usize, geom: usize, N: i32, top: i32, left: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW, PT = top, PL = left;
  const ow0 = max(0, PL), ow1 = min(OW, W + PL); // output columns that come from x
  const rowBytes = <usize>(OW * C) << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const o = out + (<usize>((n * OH + oh) * OW * C) << 2);
      const h = oh - PT;
      if (h < 0 || h >= H || ow1 <= ow0) {
        memory.fill(o, 0, rowBytes);
        continue;
      }
      memory.fill(o, 0, <usize>(ow0 * C) << 2);
      memory.copy(o + (<usize>(ow0 * C) << 2), inp + (<usize>(((n * H + h) * W + ow0 - PL) * C) << 2),
        <usize>((ow1 - ow0) * C) << 2);
      memory.fill(o + (<usize>(ow1 * C) << 2), 0, <usize>((OW - ow1) * C) << 2);
    }
  }
}

// dinp (N, H, W, C) += the part of dout (N, OH, OW, C) that pad2d_forward copied from x.
export function pad2d_backward(dinp: usize, dout: usize, geom: usize, N: i32, top: i32, left: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW, PT = top, PL = left;
  const ow0 = max(0, PL), ow1 = min(OW, W + PL);
  if (ow1 <= ow0) return;
  const oh0 = max(0, PT), oh1 = min(OH, H + PT);
  for (let n = 0; n < N; n++) {
    for (let oh = oh0; oh < oh1; oh++) {
      addRun(dinp + (<usize>(((n * H + oh - PT) * W + ow0 - PL) * C) << 2),
        dout + (<usize>(((n * OH + oh) * OW + ow0) * C) << 2), (ow1 - ow0) * C);
    }
  }
}
