// Image augmentation of NHWC images (the Keras preprocessing layers RandomTranslation, RandomRotation,
// RandomZoom, RandomContrast). Geometry fields used: H, W, C (input and output size).
//
// augment_affine: TF's ImageProjectiveTransformV3 restricted to affine matrices, the op behind
// tf.keras' random image layers. Image n has 6 f32 at mats + 24 n: [a0, a1, a2, b0, b1, b2], which map
// the output pixel (x, y) (column, row; pixel centres on integers) to the source point
//     sx = a0 * x + a1 * y + a2,   sy = b0 * x + b1 * y + b2   (f32, in this order, as TF).
// The source point is first mapped by the fill mode (TF's MapCoordinate, in f32), then sampled:
//   nearest:  the pixel at (round(sy), round(sx)), round half away from zero (std::round);
//   bilinear: with x0 = floor(sx), x1 = x0 + 1 (same for y), in TF's order
//             top = (x1 - sx) * f(y0, x0) + (sx - x0) * f(y0, x1), bottom likewise at y1,
//             out = (y1 - sy) * top + (sy - y0) * bottom;
// a pixel outside the image reads `fill`. Fill modes (`flags` >> 1): 0 constant (no mapping, outside
// reads fill), 1 nearest (clamp to the edge), 2 reflect (d c b a | a b c d | d c b a), 3 wrap
// (a b c d | a b c d). `flags` & 1: 0 nearest, 1 bilinear.
// Every pixel is C contiguous floats: loops run over output pixels, the SIMD axis is the channels,
// with plain f32 mul and add (no fusion), so every build gives the same bits.
//
// augment_contrast: out = clamp((x - mean) * factor + mean, lo, hi) with the mean per image and
// channel over H x W (f32 sums in pixel order); factor n at factors + 4 n.
// There is no backward: Keras does not differentiate through these layers (their inputs are data).

import { geometry } from "../geometry";

const MODE_CONSTANT = 0, MODE_NEAREST = 1, MODE_REFLECT = 2, MODE_WRAP = 3;

// TF's MapCoordinate for one axis of length len, in f32.
// @ts-ignore: decorator
@inline function mapCoord(c: f32, len: i32, mode: i32): f32 {
  if (mode == MODE_CONSTANT) return c;
  const lastI: i32 = len - 1, twoI: i32 = 2 * len;
  const last = <f32>lastI, flen = <f32>len, sz2 = <f32>twoI;
  if (mode == MODE_REFLECT) {
    if (c < 0) {
      if (len <= 1) c = 0;
      else {
        c = sz2 * Mathf.trunc(-c / sz2) + c;
        c = c < -flen ? c + sz2 : -c - <f32>1;
      }
    } else if (c > last) {
      if (len <= 1) c = 0;
      else {
        c -= sz2 * Mathf.trunc(c / sz2);
        if (c >= flen) c = sz2 - c - <f32>1;
      }
    }
  } else if (mode == MODE_WRAP) {
    if (c < 0) {
      if (len <= 1) c = 0;
      else c += flen * (Mathf.trunc(-c / last) + <f32>1);
    } else if (c > last) {
      if (len <= 1) c = 0;
      else c -= flen * Mathf.trunc(c / last);
    }
  }
  // Clamped in every mapped mode (reflect and wrap can land on len - 1 + a fraction).
  return c < 0 ? <f32>0 : c > last ? last : c;
}

// std::round: half away from zero (x - trunc(x) is exact for the magnitudes here).
// @ts-ignore: decorator
@inline function roundAway(x: f32): f32 {
  const t = Mathf.trunc(x);
  const d = x - t;
  return d >= <f32>0.5 ? t + <f32>1 : d <= <f32>-0.5 ? t - <f32>1 : t;
}

// dst (n) = fill
// @ts-ignore: decorator
@inline function fillRun(dst: usize, fill: f32, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(fill);
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), fill);
}

// dst (n) = src (n); a loop, since memory.copy is a runtime call that costs more than a few floats.
// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// Address of pixel (y, x) of the image at img, or 0 when (y, x) lies outside (then `fill` is read).
// y and x are whole numbers in f32; compared before conversion so a far coordinate never converts.
// @ts-ignore: decorator
@inline function pixelAt(img: usize, y: f32, x: f32, H: i32, W: i32, C: i32): usize {
  if (!(y >= 0 && y < <f32>H && x >= 0 && x < <f32>W)) return 0;
  return img + (<usize>((<i32>y * W + <i32>x) * C) << 2);
}

export function augment_affine(out: usize, inp: usize, mats: usize, geom: usize, N: i32, flags: i32, fill: f32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C;
  const bilinear = (flags & 1) != 0, mode = flags >> 1;
  const img = <usize>(H * W * C) << 2;
  for (let n = 0; n < N; n++) {
    const m = mats + (<usize>(n * 6) << 2);
    const a0 = load<f32>(m), a1 = load<f32>(m, 4), a2 = load<f32>(m, 8);
    const b0 = load<f32>(m, 12), b1 = load<f32>(m, 16), b2 = load<f32>(m, 20);
    const src = inp + <usize>n * img;
    let o = out + <usize>n * img;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const fx = <f32>x, fy = <f32>y;
        const sx = mapCoord(a0 * fx + a1 * fy + a2, W, mode);
        const sy = mapCoord(b0 * fx + b1 * fy + b2, H, mode);
        if (!bilinear) {
          const p = pixelAt(src, roundAway(sy), roundAway(sx), H, W, C);
          if (p) copyRun(o, p, C);
          else fillRun(o, fill, C);
        } else {
          const x0 = Mathf.floor(sx), y0 = Mathf.floor(sy);
          const x1 = x0 + <f32>1, y1 = y0 + <f32>1;
          const wx0 = x1 - sx, wx1 = sx - x0, wy0 = y1 - sy, wy1 = sy - y0;
          const p00 = pixelAt(src, y0, x0, H, W, C), p01 = pixelAt(src, y0, x1, H, W, C);
          const p10 = pixelAt(src, y1, x0, H, W, C), p11 = pixelAt(src, y1, x1, H, W, C);
          let c = 0;
          if (ASC_FEATURE_SIMD) {
            const vf = f32x4.splat(fill);
            const vx0 = f32x4.splat(wx0), vx1 = f32x4.splat(wx1), vy0 = f32x4.splat(wy0), vy1 = f32x4.splat(wy1);
            for (; c + 4 <= C; c += 4) {
              const b = <usize>c << 2;
              const f00 = p00 ? v128.load(p00 + b) : vf, f01 = p01 ? v128.load(p01 + b) : vf;
              const f10 = p10 ? v128.load(p10 + b) : vf, f11 = p11 ? v128.load(p11 + b) : vf;
              const top = f32x4.add(f32x4.mul(vx0, f00), f32x4.mul(vx1, f01));
              const bot = f32x4.add(f32x4.mul(vx0, f10), f32x4.mul(vx1, f11));
              v128.store(o + b, f32x4.add(f32x4.mul(vy0, top), f32x4.mul(vy1, bot)));
            }
          }
          for (; c < C; c++) {
            const b = <usize>c << 2;
            const f00 = p00 ? load<f32>(p00 + b) : fill, f01 = p01 ? load<f32>(p01 + b) : fill;
            const f10 = p10 ? load<f32>(p10 + b) : fill, f11 = p11 ? load<f32>(p11 + b) : fill;
            const top = wx0 * f00 + wx1 * f01, bot = wx0 * f10 + wx1 * f11;
            store<f32>(o + b, wy0 * top + wy1 * bot);
          }
        }
        o += <usize>C << 2;
      }
    }
  }
}

export function augment_contrast(out: usize, inp: usize, factors: usize, geom: usize, N: i32, lo: f32, hi: f32): void {
  const g = geometry(geom);
  const C = g.C, P = g.H * g.W;
  const img = <usize>(P * C) << 2;
  for (let n = 0; n < N; n++) {
    const f = load<f32>(factors + (<usize>n << 2));
    const src = inp + <usize>n * img, dst = out + <usize>n * img;
    // The channel sums, then the means, are kept in the output's first pixel, which is written last.
    for (let c = 0; c < C; c++) store<f32>(dst + (<usize>c << 2), 0);
    for (let p = 0; p < P; p++) {
      const s = src + (<usize>(p * C) << 2);
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        for (; c + 4 <= C; c += 4) {
          const b = <usize>c << 2;
          v128.store(dst + b, f32x4.add(v128.load(dst + b), v128.load(s + b)));
        }
      }
      for (; c < C; c++) {
        const b = <usize>c << 2;
        store<f32>(dst + b, load<f32>(dst + b) + load<f32>(s + b));
      }
    }
    const count = <f32>P;
    for (let c = 0; c < C; c++) store<f32>(dst + (<usize>c << 2), load<f32>(dst + (<usize>c << 2)) / count);
    for (let p = P - 1; p >= 0; p--) {
      const s = src + (<usize>(p * C) << 2), d = dst + (<usize>(p * C) << 2);
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        const vf = f32x4.splat(f), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
        for (; c + 4 <= C; c += 4) {
          const b = <usize>c << 2;
          const mean = v128.load(dst + b);
          const v = f32x4.add(f32x4.mul(f32x4.sub(v128.load(s + b), mean), vf), mean);
          // pmin/pmax with the bound first: lanes compare like the scalar ternaries below.
          v128.store(d + b, f32x4.pmin(vhi, f32x4.pmax(vlo, v)));
        }
      }
      for (; c < C; c++) {
        const b = <usize>c << 2;
        const mean = load<f32>(dst + b);
        const v = (load<f32>(s + b) - mean) * f + mean;
        const w = lo < v ? v : lo;
        store<f32>(d + b, w < hi ? w : hi);
      }
    }
  }
}
