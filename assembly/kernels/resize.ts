// Image resizing of NHWC tensors for UpSampling2D. Geometry fields used: H, W, C (input), OH, OW
// (output), SH, SW (integer factors, nearest only). Every pixel is C contiguous floats: the loops run
// over output pixels and the SIMD axis is the channels.
//  nearest:  out[oh, ow] = x[oh / SH, ow / SW] (integer division; Keras' repeat, TF's nearest
//            without half-pixel centers).
//  bilinear: TF resize with half-pixel centers (tf.image.resize, which tf.keras UpSampling2D calls):
//            source y = (oh + 0.5) * H / OH - 0.5, clamped at 0; rows floor(y) and min(ceil(y), H - 1)
//            weighted by the fraction; the same along x. Arithmetic in f32 in TF's order:
//            top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx, out = top + (bottom - top) * fy.
// Backward ACCUMULATES into dinp (the caller zeroes), in a fixed order of output pixels.

import { geometry } from "../geometry";

// dst (n) += src (n) * s
// @ts-ignore: decorator
@inline function addScaled(dst: usize, src: usize, s: f32, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vs = f32x4.splat(s);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(v128.load(src + o), vs)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o) * s);
  }
}

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

// out (N, OH, OW, C) = nearest x (N, H, W, C); rows that repeat one source row are copied whole.
export function resize_nearest_forward(out: usize, inp: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW, SH = g.SH, SW = g.SW;
  const pix = <usize>C << 2, rowBytes = <usize>(OW * C) << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const o = out + (<usize>((n * OH + oh) * OW * C) << 2);
      if (oh % SH != 0) {
        memory.copy(o, o - rowBytes, rowBytes);
        continue;
      }
      const src = inp + (<usize>((n * H + oh / SH) * W * C) << 2);
      for (let ow = 0; ow < OW; ow++) memory.copy(o + <usize>ow * pix, src + <usize>(ow / SW) * pix, pix);
    }
  }
}

// dinp (N, H, W, C) += each dout pixel added into its source pixel, output pixels in row-major order.
export function resize_nearest_backward(dinp: usize, dout: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW, SH = g.SH, SW = g.SW;
  const pix = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const dst = dinp + (<usize>((n * H + oh / SH) * W * C) << 2);
      const src = dout + (<usize>((n * OH + oh) * OW * C) << 2);
      for (let ow = 0; ow < OW; ow++) addRun(dst + <usize>(ow / SW) * pix, src + <usize>ow * pix, C);
    }
  }
}

// Source coordinate of output index o (half-pixel centers, clamped at 0), in f32 as TF computes it.
// @ts-ignore: decorator
@inline function source(o: i32, scale: f32): f32 {
  const s: f32 = (<f32>o + <f32>0.5) * scale - <f32>0.5;
  return s < 0 ? <f32>0 : s;
}

// out (N, OH, OW, C) = bilinear x (N, H, W, C), half-pixel centers.
export function resize_bilinear_forward(out: usize, inp: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW;
  const sy = <f32>H / <f32>OH, sx = <f32>W / <f32>OW;
  const pix = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const y = source(oh, sy), yf = Mathf.floor(y);
      const fy = y - yf;
      const h0 = <i32>yf, h1 = min(<i32>Mathf.ceil(y), H - 1);
      const r0 = inp + (<usize>((n * H + h0) * W * C) << 2), r1 = inp + (<usize>((n * H + h1) * W * C) << 2);
      const o = out + (<usize>((n * OH + oh) * OW * C) << 2);
      for (let ow = 0; ow < OW; ow++) {
        const x = source(ow, sx), xf = Mathf.floor(x);
        const fx = x - xf;
        const w0 = <usize>(<i32>xf) * pix, w1 = <usize>min(<i32>Mathf.ceil(x), W - 1) * pix;
        const tl = r0 + w0, tr = r0 + w1, bl = r1 + w0, br = r1 + w1, op = o + <usize>ow * pix;
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          const vx = f32x4.splat(fx), vy = f32x4.splat(fy);
          for (; c + 4 <= C; c += 4) {
            const b = <usize>c << 2;
            const a = v128.load(tl + b), d = v128.load(bl + b);
            const top = f32x4.add(a, f32x4.mul(f32x4.sub(v128.load(tr + b), a), vx));
            const bot = f32x4.add(d, f32x4.mul(f32x4.sub(v128.load(br + b), d), vx));
            v128.store(op + b, f32x4.add(top, f32x4.mul(f32x4.sub(bot, top), vy)));
          }
        }
        for (; c < C; c++) {
          const b = <usize>c << 2;
          const a = load<f32>(tl + b), d = load<f32>(bl + b);
          const top = a + (load<f32>(tr + b) - a) * fx;
          const bot = d + (load<f32>(br + b) - d) * fx;
          store<f32>(op + b, top + (bot - top) * fy);
        }
      }
    }
  }
}

// dinp (N, H, W, C) += each dout pixel spread on its four source pixels with the forward's weights
// (TF's ResizeBilinearGrad order: top-left, top-right, bottom-left, bottom-right).
export function resize_bilinear_backward(dinp: usize, dout: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, OH = g.OH, OW = g.OW;
  const sy = <f32>H / <f32>OH, sx = <f32>W / <f32>OW;
  const pix = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const y = source(oh, sy), yf = Mathf.floor(y);
      const fy = y - yf;
      const h0 = <i32>yf, h1 = min(<i32>Mathf.ceil(y), H - 1);
      const r0 = dinp + (<usize>((n * H + h0) * W * C) << 2), r1 = dinp + (<usize>((n * H + h1) * W * C) << 2);
      const o = dout + (<usize>((n * OH + oh) * OW * C) << 2);
      for (let ow = 0; ow < OW; ow++) {
        const x = source(ow, sx), xf = Mathf.floor(x);
        const fx = x - xf;
        const w0 = <usize>(<i32>xf) * pix, w1 = <usize>min(<i32>Mathf.ceil(x), W - 1) * pix;
        const op = o + <usize>ow * pix;
        const top: f32 = <f32>1 - fy, left: f32 = <f32>1 - fx;
        addScaled(r0 + w0, op, top * left, C);
        addScaled(r0 + w1, op, top * fx, C);
        addScaled(r1 + w0, op, fy * left, C);
        addScaled(r1 + w1, op, fy * fx, C);
      }
    }
  }
}
