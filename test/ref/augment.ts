// References, float64, for the augmentation kernels (assembly/kernels/augment.ts).
// affine: output pixel (x, y) samples the source point (a0 x + a1 y + a2, b0 x + b1 y + b2) after the
// fill mode's coordinate mapping (TF's ImageProjectiveTransformV3). The source point and its mapping
// are computed in float32 (Math.fround after every operation), exactly as TF and the kernel do, since
// nearest sampling and the constant fill are discontinuous in it; the interpolation itself is float64.
// contrast: clamp((x - mean) * f + mean, lo, hi), mean per image and channel in float64.

export type FillModeRef = 'constant' | 'nearest' | 'reflect' | 'wrap';

const f = Math.fround;

// TF's MapCoordinate for one axis of length len, every step rounded to float32.
export function mapCoordRef(c: number, len: number, mode: FillModeRef): number {
  if (mode === 'constant') return c;
  if (mode === 'reflect') {
    if (c < 0) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        c = f(f(sz2 * Math.trunc(f(-c / sz2))) + c);
        c = c < -len ? f(c + sz2) : f(-c - 1);
      }
    } else if (c > len - 1) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        c = f(c - f(sz2 * Math.trunc(f(c / sz2))));
        if (c >= len) c = f(f(sz2 - c) - 1);
      }
    }
  } else if (mode === 'wrap') {
    if (c < 0) {
      if (len <= 1) c = 0;
      else c = f(c + f(len * (Math.trunc(f(-c / (len - 1))) + 1)));
    } else if (c > len - 1) {
      if (len <= 1) c = 0;
      else c = f(c - f(len * Math.trunc(f(c / (len - 1)))));
    }
  }
  return Math.min(Math.max(c, 0), len - 1);
}

// std::round: half away from zero.
const roundAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

export function affineRef(
  x: ArrayLike<number>,
  mats: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  interpolation: 'bilinear' | 'nearest',
  mode: FillModeRef,
  fill: number,
): Float64Array {
  const out = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) {
    const m = Array.from({ length: 6 }, (_, i) => f(mats[n * 6 + i]!));
    const px = (yy: number, xx: number, c: number) =>
      yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((n * H + yy) * W + xx) * C + c]! : fill;
    for (let y = 0; y < H; y++) {
      for (let xo = 0; xo < W; xo++) {
        const sx = mapCoordRef(f(f(f(m[0]! * xo) + f(m[1]! * y)) + m[2]!), W, mode);
        const sy = mapCoordRef(f(f(f(m[3]! * xo) + f(m[4]! * y)) + m[5]!), H, mode);
        const o = ((n * H + y) * W + xo) * C;
        for (let c = 0; c < C; c++) {
          if (interpolation === 'nearest') {
            out[o + c] = px(roundAway(sy), roundAway(sx), c);
            continue;
          }
          const x0 = Math.floor(sx),
            y0 = Math.floor(sy);
          const wx = sx - x0,
            wy = sy - y0;
          const top = (1 - wx) * px(y0, x0, c) + wx * px(y0, x0 + 1, c);
          const bot = (1 - wx) * px(y0 + 1, x0, c) + wx * px(y0 + 1, x0 + 1, c);
          out[o + c] = (1 - wy) * top + wy * bot;
        }
      }
    }
  }
  return out;
}

export function contrastRef(
  x: ArrayLike<number>,
  factors: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  C: number,
  lo: number,
  hi: number,
): Float64Array {
  const out = new Float64Array(N * H * W * C);
  const P = H * W;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let p = 0; p < P; p++) s += x[(n * P + p) * C + c]!;
      const mean = s / P;
      for (let p = 0; p < P; p++) {
        const i = (n * P + p) * C + c;
        out[i] = Math.min(Math.max((x[i]! - mean) * f(factors[n]!) + mean, lo), hi);
      }
    }
  }
  return out;
}
