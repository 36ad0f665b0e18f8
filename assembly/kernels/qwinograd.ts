// int8 convolution by integer Winograd F(2x2, 3x3), exact: the same int32 sums as the direct kernel
// (qgemm.ts), so the same output bits, with 16 multiplies per 2x2 outputs and 3x3 kernel piece instead of 36.
//
// With d = x - za (the input's zero point taken out, so padding is 0) and the usual transforms
//   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A,
// B^T and A^T hold only 0 and ±1, and G's halves go away in 2G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]:
//   U = (2G) g (2G)^T = 4 G g G^T   (|U| <= 9 * 127 = 1143: i16)
//   V = B^T d B                      (|V| <= 4 * 255 = 1020: i16)
//   4 * sum = A^T [ sum over channels of U ⊙ V ] A,
// all in integers, so the sum is exact and the shift by 2 divides exactly. The channel sums are
// i32x4.dot_i16x8_s GEMMs, one per tile position (16). Integer adds wrap modulo 2^32 and wrapping is a
// ring map, so intermediate sums may wrap: only 4 * sum must fit in i32, which holds while
// taps * C * 255 * 127 * 4 < 2^31 (the op checks; kernels of 3x3 taps: C up to ~1,800).
// Larger kernels at stride 1 are cut into 3x3 pieces (a 5x5 kernel, zero-padded to 6x6, into four): each
// piece is a 3x3 convolution of the input shifted by (3a, 3b), and the pieces' channels are stacked along
// the GEMM's k axis. (5x5 kernels over up to 328 channels take F(4, 5) along the rows instead: the second
// part of this file.)
//
// Layouts (NHWC): inp int8 (N, H, W, C); out int8 (N, OH, OW, K); weight int8 (KH, KW, C, K).
// Packed weight (qwinograd_pack): [ bias i32 (K8) | position 0 panels | ... | position 15 panels ],
// each position's panels like qgemm_pack's (8 columns, k in i16 pairs) without their bias header, k running
// over pieces then channels (KD = P * C, rounded up to even KD2); K8 = K rounded up to 8.
// Scratch per task: V i16 (16, MB, KD2), then M i32 (16, MB, K8) for blocks of MB tiles.
// Everything is integer: the scalar and SIMD builds, any cut of the tiles and the direct kernel give the same bits.

import { geometry, Geometry2d } from "../geometry";
import { req_mult, req_pow, requant1 } from "./quant";
import { requant_row, store_tail } from "./qgemm";

// @ts-ignore: decorator
@inline function pieces(KH: i32, KW: i32): i32 {
  return ((KH + 2) / 3) * ((KW + 2) / 3);
}

// @ts-ignore: decorator
@inline function even(n: i32): i32 {
  return n + (n & 1);
}

// @ts-ignore: decorator
@inline function up8(n: i32): i32 {
  return (n + 7) & ~7;
}

// Bytes of one position's panels.
// @ts-ignore: decorator
@inline function position_bytes(KD2: i32, K8: i32): usize {
  return <usize>K8 * <usize>KD2 << 1;
}

// Bytes of qwinograd_pack's output (i32.MAX_VALUE when it would not fit).
export function qwinograd_pack_size(KH: i32, KW: i32, C: i32, K: i32): i32 {
  const KD2 = <i64>even(pieces(KH, KW) * C), K8 = <i64>up8(K);
  const n = (K8 << 2) + 16 * ((K8 * KD2) << 1);
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// out: the packed weight (see header) of w int8 (KH, KW, C, K) with bias i32 (K) or 0.
export function qwinograd_pack(out: usize, w: usize, bias: usize, KH: i32, KW: i32, C: i32, K: i32): void {
  const PW = (KW + 2) / 3, P = pieces(KH, KW);
  const KD2 = even(P * C), K8 = up8(K);
  memory.fill(out, 0, <usize>qwinograd_pack_size(KH, KW, C, K));
  for (let c = 0; c < K; c++) store<i32>(out + (<usize>c << 2), bias != 0 ? load<i32>(bias + (<usize>c << 2)) : 0);
  const base = out + (<usize>K8 << 2), posB = position_bytes(KD2, K8), panelB = <usize>KD2 << 4;
  for (let p = 0; p < P; p++) {
    const a = p / PW, b = p - a * PW;
    for (let ic = 0; ic < C; ic++) {
      const kk = p * C + ic;
      for (let oc = 0; oc < K; oc++) {
        const panel = base + <usize>(oc >> 3) * panelB + (<usize>(kk >> 1) << 5) + (<usize>(oc & 7) << 2) + (<usize>(kk & 1) << 1);
        // t = (2G) g column by column, then each row i of t times (2G)^T: U[i][0..3]
        for (let s = 0; s < 3; s++) {
          const g0 = tap(w, KH, KW, C, K, 3 * a, 3 * b + s, ic, oc);
          const g1 = tap(w, KH, KW, C, K, 3 * a + 1, 3 * b + s, ic, oc);
          const g2 = tap(w, KH, KW, C, K, 3 * a + 2, 3 * b + s, ic, oc);
          // column s of t, rows 0..3, parked in U's position slots (i, s) until the rows are complete
          store<i16>(panel + <usize>s * posB, <i16>(2 * g0));
          store<i16>(panel + <usize>(4 + s) * posB, <i16>(g0 + g1 + g2));
          store<i16>(panel + <usize>(8 + s) * posB, <i16>(g0 - g1 + g2));
          store<i16>(panel + <usize>(12 + s) * posB, <i16>(2 * g2));
        }
        for (let i = 0; i < 4; i++) {
          const dst = panel + <usize>(i * 4) * posB;
          const t0 = <i32>load<i16>(dst), t1 = <i32>load<i16>(dst + posB), t2 = <i32>load<i16>(dst + 2 * posB);
          store<i16>(dst, <i16>(2 * t0));
          store<i16>(dst + posB, <i16>(t0 + t1 + t2));
          store<i16>(dst + 2 * posB, <i16>(t0 - t1 + t2));
          store<i16>(dst + 3 * posB, <i16>(2 * t2));
        }
      }
    }
  }
}

// The weight's tap (kh, kw, ic, oc), 0 outside the kernel (the pieces' zero padding).
// @ts-ignore: decorator
@inline function tap(w: usize, KH: i32, KW: i32, C: i32, K: i32, kh: i32, kw: i32, ic: i32, oc: i32): i32 {
  return kh < KH && kw < KW ? <i32>load<i8>(w + <usize>((kh * KW + kw) * C + ic) * K + oc) : 0;
}

// Rows and columns of the padded image a task widens: every input row and column some tile's pieces read,
// padding included (r = ih + PT, s = iw + PL).
// @ts-ignore: decorator
@inline function padded_rows(g: Geometry2d): i32 {
  return 2 * ((g.OH + 1) >> 1) + 3 * ((g.KH + 2) / 3) - 1;
}
// @ts-ignore: decorator
@inline function padded_cols(g: Geometry2d): i32 {
  return 2 * ((g.OW + 1) >> 1) + 3 * ((g.KW + 2) / 3) - 1;
}

// Bytes of qwinograd_forward's scratch (per task) for blocks of MB tiles: the padded image (i16), V, M.
export function qwinograd_scratch_size(geom: usize, MB: i32): i32 {
  const g = geometry(geom);
  const img = (<i64>padded_rows(g) * <i64>padded_cols(g) * <i64>g.C) << 1;
  const n = img + (<i64>MB << 4) * ((<i64>even(pieces(g.KH, g.KW) * g.C) << 1) + (<i64>up8(g.K) << 2));
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// pad i16 rows r0 .. r1-1 of the padded image (Wp columns): x - za inside the image, 0 in the padding.
function widen_rows(pad: usize, img: usize, g: Geometry2d, za: i32, r0: i32, r1: i32, Wp: i32): void {
  const C = g.C;
  const left = min(g.PL, Wp), width = max(0, min(g.W, Wp - g.PL));
  const right = Wp - left - width;
  for (let r = r0; r < r1; r++) {
    let o = pad + (<usize>(r * Wp * C) << 1);
    const ih = r - g.PT;
    if (ih < 0 || ih >= g.H) {
      memory.fill(o, 0, <usize>(Wp * C) << 1);
      continue;
    }
    memory.fill(o, 0, <usize>(left * C) << 1);
    o += <usize>(left * C) << 1;
    const src = img + <usize>(ih * g.W) * C;
    const n = width * C;
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const vza = i16x8.splat(<i16>za);
      for (; i + 8 <= n; i += 8) v128.store(o + (<usize>i << 1), i16x8.sub(v128.load8x8_s(src + <usize>i), vza));
    }
    for (; i < n; i++) store<i16>(o + (<usize>i << 1), <i16>(<i32>load<i8>(src + <usize>i) - za));
    memory.fill(o + (<usize>n << 1), 0, <usize>(right * C) << 1);
  }
}

// V at v + pos * vs (8 channels, or 1 with the scalar form) = B^T d B of the 4x4 window of the padded image
// at a (rs: bytes between its rows, C2: between its pixels): first B^T down each column into the 16 slots,
// then B along each row of the slots, in place.
// @ts-ignore: decorator
@inline function input_transform8(a: usize, rs: usize, C2: usize, v: usize, vs: usize): void {
  for (let j = 0; j < 4; j++) {
    const p = a + <usize>j * C2;
    const d0 = v128.load(p), d1 = v128.load(p + rs), d2 = v128.load(p + 2 * rs), d3 = v128.load(p + 3 * rs);
    const o = v + <usize>j * vs;
    v128.store(o, i16x8.sub(d0, d2));
    v128.store(o + 4 * vs, i16x8.add(d1, d2));
    v128.store(o + 8 * vs, i16x8.sub(d2, d1));
    v128.store(o + 12 * vs, i16x8.sub(d1, d3));
  }
  for (let i = 0; i < 4; i++) {
    const o = v + <usize>(i * 4) * vs;
    const e0 = v128.load(o), e1 = v128.load(o + vs), e2 = v128.load(o + 2 * vs), e3 = v128.load(o + 3 * vs);
    v128.store(o, i16x8.sub(e0, e2));
    v128.store(o + vs, i16x8.add(e1, e2));
    v128.store(o + 2 * vs, i16x8.sub(e2, e1));
    v128.store(o + 3 * vs, i16x8.sub(e1, e3));
  }
}

// @ts-ignore: decorator
@inline function input_transform1(a: usize, rs: usize, C2: usize, v: usize, vs: usize): void {
  for (let j = 0; j < 4; j++) {
    const p = a + <usize>j * C2;
    const d0 = <i32>load<i16>(p), d1 = <i32>load<i16>(p + rs), d2 = <i32>load<i16>(p + 2 * rs), d3 = <i32>load<i16>(p + 3 * rs);
    const o = v + <usize>j * vs;
    store<i16>(o, <i16>(d0 - d2));
    store<i16>(o + 4 * vs, <i16>(d1 + d2));
    store<i16>(o + 8 * vs, <i16>(d2 - d1));
    store<i16>(o + 12 * vs, <i16>(d1 - d3));
  }
  for (let i = 0; i < 4; i++) {
    const o = v + <usize>(i * 4) * vs;
    const e0 = <i32>load<i16>(o), e1 = <i32>load<i16>(o + vs), e2 = <i32>load<i16>(o + 2 * vs), e3 = <i32>load<i16>(o + 3 * vs);
    store<i16>(o, <i16>(e0 - e2));
    store<i16>(o + vs, <i16>(e1 + e2));
    store<i16>(o + 2 * vs, <i16>(e2 - e1));
    store<i16>(o + 3 * vs, <i16>(e1 - e3));
  }
}

// V rows of tiles tt .. tt+mb-1 of one image (tile t: output rows 2*(t / TW) .., columns 2*(t % TW) ..)
// from the padded image pad (Wp columns).
function input_block(V: usize, pad: usize, g: Geometry2d, tt: i32, mb: i32, TW: i32, KD2: i32, Wp: i32): void {
  const C = g.C, PW = (g.KW + 2) / 3, P = pieces(g.KH, g.KW);
  const vs = <usize>mb * <usize>KD2 << 1; // bytes between positions
  const C2 = <usize>C << 1, rs = <usize>Wp * C2;
  for (let m = 0; m < mb; m++) {
    const t = tt + m, th = t / TW, tw = t - th * TW;
    const row = V + (<usize>m * <usize>KD2 << 1);
    if (KD2 != P * C) {
      for (let q = 0; q < 16; q++) store<i16>(row + <usize>q * vs + (<usize>(P * C) << 1), 0);
    }
    for (let p = 0; p < P; p++) {
      const a = p / PW, b = p - a * PW;
      const win = pad + <usize>(2 * th + 3 * a) * rs + <usize>(2 * tw + 3 * b) * C2;
      const vp = row + (<usize>(p * C) << 1);
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        for (; c + 8 <= C; c += 8) input_transform8(win + (<usize>c << 1), rs, C2, vp + (<usize>c << 1), vs);
      }
      for (; c < C; c++) input_transform1(win + (<usize>c << 1), rs, C2, vp + (<usize>c << 1), vs);
    }
  }
}

// M (mb, K8) i32 = V (mb, KD2) i16 · the position's panels, 4 rows by 8 columns at a time.
function position_gemm(M: usize, V: usize, U: usize, mb: i32, KD2: i32, K8: i32): void {
  const KP = KD2 >> 1, lda = <usize>KD2 << 1, ldm = <usize>K8 << 2, panelB = <usize>KD2 << 4;
  for (let j = 0; j < K8; j += 8) {
    const w0 = U + <usize>(j >> 3) * panelB;
    for (let i = 0; i < mb; i += 4) {
      const mr = min(4, mb - i);
      const a0 = V + <usize>i * lda, c0 = M + <usize>i * ldm + (<usize>j << 2);
      if (ASC_FEATURE_SIMD) {
        gemm_4x8_simd(mr, KP, a0, lda, w0, c0, ldm);
      } else {
        for (let r = 0; r < mr; r++) {
          const ar = a0 + <usize>r * lda, cr = c0 + <usize>r * ldm;
          for (let jj = 0; jj < 8; jj++) {
            let acc = 0;
            let wp = w0 + (<usize>jj << 2);
            for (let p = 0; p < KP; p++) {
              acc += <i32>load<i16>(ar + (<usize>p << 2)) * <i32>load<i16>(wp);
              acc += <i32>load<i16>(ar + (<usize>p << 2), 2) * <i32>load<i16>(wp, 2);
              wp += 32;
            }
            store<i32>(cr + (<usize>jj << 2), acc);
          }
        }
      }
    }
  }
}

// One 4x8 tile of i32 sums over KP pairs (rows past mr alias the previous row: stored twice, same values).
// @ts-ignore: decorator
@inline function gemm_4x8_simd(mr: i32, KP: i32, a0: usize, lda: usize, w: usize, c0: usize, ldc: usize): void {
  let a1 = a0 + lda, c1 = c0 + ldc;
  if (mr < 2) { a1 = a0; c1 = c0; }
  let a2 = a1 + lda, c2 = c1 + ldc;
  if (mr <= 2) { a2 = a1; c2 = c1; }
  let a3 = a2 + lda, c3 = c2 + ldc;
  if (mr != 4) { a3 = a2; c3 = c2; }
  let v00 = i32x4.splat(0), v01 = v00, v10 = v00, v11 = v00, v20 = v00, v21 = v00, v30 = v00, v31 = v00;
  for (let p = 0; p < KP; p++) {
    const b0 = v128.load(w), b1 = v128.load(w, 16);
    let va = v128.load32_splat(a0);
    v00 = i32x4.add(v00, i32x4.dot_i16x8_s(va, b0));
    v01 = i32x4.add(v01, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(a1);
    v10 = i32x4.add(v10, i32x4.dot_i16x8_s(va, b0));
    v11 = i32x4.add(v11, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(a2);
    v20 = i32x4.add(v20, i32x4.dot_i16x8_s(va, b0));
    v21 = i32x4.add(v21, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(a3);
    v30 = i32x4.add(v30, i32x4.dot_i16x8_s(va, b0));
    v31 = i32x4.add(v31, i32x4.dot_i16x8_s(va, b1));
    w += 32; a0 += 4; a1 += 4; a2 += 4; a3 += 4;
  }
  v128.store(c3, v30); v128.store(c3, v31, 16);
  v128.store(c2, v20); v128.store(c2, v21, 16);
  v128.store(c1, v10); v128.store(c1, v11, 16);
  v128.store(c0, v00); v128.store(c0, v01, 16);
}

// The 2x2 outputs A^T m A / 4 of 16 i32x4 vectors (position p at M + p * ms), plus bias, each requantized
// with the next 4 channels' (at +16) into 8 int8 values and stored at y00 .. y11 (0: not stored).
// @ts-ignore: decorator
@inline function output8(M: usize, ms: usize, U: usize, pm: usize, pp: usize, vlo: v128, vhi: v128, vzp: v128,
  y00: usize, y01: usize, y10: usize, y11: usize, nc: i32): void {
  let r00a = i32x4.splat(0), r01a = r00a, r10a = r00a, r11a = r00a;
  let r00b = r00a, r01b = r00a, r10b = r00a, r11b = r00a;
  for (let h = 0; h < 2; h++) {
    const off = <usize>(h << 4);
    // rows of A^T m: s0j = m0j + m1j + m2j, s1j = m1j - m2j - m3j; then along j
    let s00 = i32x4.splat(0), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    for (let j = 0; j < 4; j++) {
      const m0 = v128.load(M + off + <usize>j * ms), m1 = v128.load(M + off + <usize>(4 + j) * ms);
      const m2 = v128.load(M + off + <usize>(8 + j) * ms), m3 = v128.load(M + off + <usize>(12 + j) * ms);
      const a = i32x4.add(i32x4.add(m0, m1), m2), b = i32x4.sub(i32x4.sub(m1, m2), m3);
      if (j == 0) { s00 = a; s10 = b; } else if (j == 1) { s01 = a; s11 = b; } else if (j == 2) { s02 = a; s12 = b; } else { s03 = a; s13 = b; }
    }
    const bias = v128.load(U + off);
    const q00 = i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(s00, s01), s02), 2), bias);
    const q01 = i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(s01, s02), s03), 2), bias);
    const q10 = i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(s10, s11), s12), 2), bias);
    const q11 = i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(s11, s12), s13), 2), bias);
    if (h == 0) { r00a = q00; r01a = q01; r10a = q10; r11a = q11; } else { r00b = q00; r01b = q01; r10b = q10; r11b = q11; }
  }
  emit8(y00, r00a, r00b, pm, pp, vlo, vhi, vzp, nc);
  if (y01) emit8(y01, r01a, r01b, pm, pp, vlo, vhi, vzp, nc);
  if (y10) emit8(y10, r10a, r10b, pm, pp, vlo, vhi, vzp, nc);
  if (y11) emit8(y11, r11a, r11b, pm, pp, vlo, vhi, vzp, nc);
}

// 8 channels' sums (a: the first 4, b: the next) requantized and stored at y; not inlined: the four calls
// per tile would otherwise repeat the requantization's code four times in the module.
function emit8(y: usize, a: v128, b: v128, pm: usize, pp: usize, vlo: v128, vhi: v128, vzp: v128, nc: i32): void {
  store_tail(y, requant_row(a, b, v128.load(pm), v128.load(pm, 16), v128.load(pp), v128.load(pp, 16), vlo, vhi, vzp), nc);
}

// Outputs of tiles tt .. tt+mb-1 of one image from M: + bias, requantized, stored where inside the image.
function output_block(o: usize, M: usize, U: usize, req: usize, g: Geometry2d, tt: i32, mb: i32, TW: i32, K8: i32): void {
  const K = g.K, OH = g.OH, OW = g.OW;
  const ms = <usize>mb * <usize>K8 << 2; // bytes between positions
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, K);
  for (let m = 0; m < mb; m++) {
    const t = tt + m, th = t / TW, tw = t - th * TW;
    const oh = 2 * th, ow = 2 * tw;
    const row = M + (<usize>m * <usize>K8 << 2);
    const px0 = o + <usize>(oh * OW + ow) * K, px1 = px0 + <usize>(OW * K);
    const right = ow + 1 < OW, down = oh + 1 < OH;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
      const KB = <usize>K;
      for (; j < K; j += 8) {
        const jB = <usize>j << 2, J = <usize>j;
        output8(row + jB, ms, U + jB, pm + jB, pp + jB, vlo, vhi, vzp, px0 + J, right ? px0 + J + KB : 0,
          down ? px1 + J : 0, right && down ? px1 + J + KB : 0, min(8, K - j));
      }
      continue; // the vectors cover every channel (the last 8 stored in part)
    }
    for (; j < K; j++) {
      const jB = <usize>j << 2;
      const bias = load<i32>(U + jB), mult = load<i32>(pm + jB), pow = load<i32>(pp + jB);
      for (let i = 0; i < 2; i++) {
        if (i == 1 && !down) break;
        // row i of A^T m, then along it
        let e0 = 0, e1 = 0, e2 = 0, e3 = 0;
        for (let q = 0; q < 4; q++) {
          const m0 = load<i32>(row + jB + <usize>q * ms), m1 = load<i32>(row + jB + <usize>(4 + q) * ms);
          const m2 = load<i32>(row + jB + <usize>(8 + q) * ms), m3 = load<i32>(row + jB + <usize>(12 + q) * ms);
          const e = i == 0 ? m0 + m1 + m2 : m1 - m2 - m3;
          if (q == 0) e0 = e; else if (q == 1) e1 = e; else if (q == 2) e2 = e; else e3 = e;
        }
        const px = (i == 0 ? px0 : px1) + <usize>j;
        store<i8>(px, <i8>requant1(((e0 + e1 + e2) >> 2) + bias, mult, pow, lo, hi, zp));
        if (right) store<i8>(px + <usize>K, <i8>requant1(((e1 - e2 - e3) >> 2) + bias, mult, pow, lo, hi, zp));
      }
    }
  }
}

// out int8 (N, OH, OW, K) <- the stride-1, dilation-1 convolution of inp int8 (N, H, W, C) (zero point za)
// with U = qwinograd_pack of the weight, for tiles t0 .. t1-1 of each image (tiles of 2x2 outputs, row-major,
// ceil(OW / 2) a row); scratch: qwinograd_scratch_size(KH, KW, C, K, MB) bytes; req: the requantization block.
export function qwinograd_forward(out: usize, inp: usize, U: usize, req: usize, scratch: usize, geom: usize, N: i32,
  MB: i32, za: i32, t0: i32, t1: i32): void {
  const g = geometry(geom);
  const KD2 = even(pieces(g.KH, g.KW) * g.C), K8 = up8(g.K), TW = (g.OW + 1) >> 1;
  const inImg = <usize>g.H * g.W * g.C, outImg = <usize>g.OH * g.OW * g.K;
  const posB = position_bytes(KD2, K8), panels = U + (<usize>K8 << 2);
  const Wp = padded_cols(g);
  const pad = scratch;
  const V = pad + ((<usize>padded_rows(g) * <usize>Wp * <usize>g.C) << 1);
  const M = V + (<usize>(MB << 4) * <usize>KD2 << 1);
  // the padded rows these tiles read
  const r0 = 2 * (t0 / TW), r1 = 2 * ((t1 - 1) / TW) + 3 * ((g.KH + 2) / 3) + 1;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * inImg, o = out + <usize>n * outImg;
    widen_rows(pad, img, g, za, r0, r1, Wp);
    for (let tt = t0; tt < t1; tt += MB) {
      const mb = min(MB, t1 - tt);
      input_block(V, pad, g, tt, mb, TW, KD2, Wp);
      const vs = <usize>mb * <usize>KD2 << 1, ms = <usize>mb * <usize>K8 << 2;
      for (let p = 0; p < 16; p++) position_gemm(M + <usize>p * ms, V + <usize>p * vs, panels + <usize>p * posB, mb, KD2, K8);
      output_block(o, M, U, req, g, tt, mb, TW, K8);
    }
  }
}

// ---- 5x5 kernels by F(4, 5) along the rows ----
// A 5x5 kernel at stride 1 as five row convolutions of F(4, 5) (points 0, ±1, ±2, ±1/2, ∞), summed over the
// kernel rows in the GEMM: 8 multiplies per 4 outputs and kernel row, 10 an output instead of 16 (four 3x3
// pieces) or 25 (direct). Along one axis the transforms stay small enough for integers:
//   U = G' g   (each kernel row; |U| <= 31 * 127 = 3937: i16)
//   V = B' d   (each padded input row, d = x - za; |V| <= 50 * 255 = 12750: i16)
//   360 * sum = A' [ sum over kernel rows and channels of U ⊙ V ]
// with G', B', A' the integer forms of Toom-Cook's matrices (rows of G and B^T scaled to integers, the
// scales undone in A^T, whose denominators multiply to 360 = 8 * 45). The channel sums wrap modulo 2^32,
// as A' combines them: 360 * sum comes out modulo 2^32, then times 45's inverse modulo 2^32 gives 8 * sum
// modulo 2^32, which is 8 * sum itself while |8 * sum| < 2^31 (25 * C * 255 * 128 * 8: C up to 328, the op
// checks), and an arithmetic shift by 3 gives the sum. The same integers as the direct kernel's sums.
// Packed weight (qwinograd45_pack): [ bias i32 (K8) | position 0 panels | ... | position 7 panels ], a
// position's panels as qgemm's (8 columns, k in i16 pairs) with k over (kernel row, channel), C2 = C rounded
// up to even per kernel row. Scratch per task: the padded image (i16, as widen_rows), then V i16
// (8, RB + 4, TW, C2) and M i32 (8, RB, TW, K8) for blocks of RB output rows; TW = ceil(OW / 4).

const INV45: i32 = -1527099483; // 45 * INV45 = 1 modulo 2^32

// Bytes of qwinograd45_pack's output.
export function qwinograd45_pack_size(C: i32, K: i32): i32 {
  const K8 = <i64>up8(K), KD = <i64>(5 * even(C));
  const n = (K8 << 2) + 8 * ((K8 * KD) << 1);
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// out: the packed weight (see above) of the 5x5 w int8 (5, 5, C, K) with bias i32 (K) or 0.
export function qwinograd45_pack(out: usize, w: usize, bias: usize, C: i32, K: i32): void {
  const C2 = even(C), K8 = up8(K), KD = 5 * C2;
  memory.fill(out, 0, <usize>qwinograd45_pack_size(C, K));
  for (let c = 0; c < K; c++) store<i32>(out + (<usize>c << 2), bias != 0 ? load<i32>(bias + (<usize>c << 2)) : 0);
  const base = out + (<usize>K8 << 2), posB = position_bytes(KD, K8), panelB = <usize>KD << 4;
  for (let kh = 0; kh < 5; kh++) {
    for (let ic = 0; ic < C; ic++) {
      const kk = kh * C2 + ic;
      for (let oc = 0; oc < K; oc++) {
        const panel = base + <usize>(oc >> 3) * panelB + (<usize>(kk >> 1) << 5) + (<usize>(oc & 7) << 2) + (<usize>(kk & 1) << 1);
        const g0 = tap(w, 5, 5, C, K, kh, 0, ic, oc), g1 = tap(w, 5, 5, C, K, kh, 1, ic, oc);
        const g2 = tap(w, 5, 5, C, K, kh, 2, ic, oc), g3 = tap(w, 5, 5, C, K, kh, 3, ic, oc);
        const g4 = tap(w, 5, 5, C, K, kh, 4, ic, oc);
        store<i16>(panel + 0 * posB, <i16>(-g0));
        store<i16>(panel + 1 * posB, <i16>(-g0 - g1 - g2 - g3 - g4));
        store<i16>(panel + 2 * posB, <i16>(-g0 + g1 - g2 + g3 - g4));
        store<i16>(panel + 3 * posB, <i16>(g0 + 2 * g1 + 4 * g2 + 8 * g3 + 16 * g4));
        store<i16>(panel + 4 * posB, <i16>(g0 - 2 * g1 + 4 * g2 - 8 * g3 + 16 * g4));
        store<i16>(panel + 5 * posB, <i16>(16 * g0 + 8 * g1 + 4 * g2 + 2 * g3 + g4));
        store<i16>(panel + 6 * posB, <i16>(16 * g0 - 8 * g1 + 4 * g2 - 2 * g3 + g4));
        store<i16>(panel + 7 * posB, <i16>(g4));
      }
    }
  }
}

// Padded columns the row tiles read (tile t: columns 4t .. 4t+7).
// @ts-ignore: decorator
@inline function cols45(g: Geometry2d): i32 {
  return 4 * ((g.OW + 3) >> 2) + 4;
}

// Bytes of qwinograd45_forward's scratch (per task) for blocks of RB output rows.
export function qwinograd45_scratch_size(geom: usize, RB: i32): i32 {
  const g = geometry(geom);
  const TW = <i64>((g.OW + 3) >> 2), C2 = <i64>even(g.C), K8 = <i64>up8(g.K);
  const img = (<i64>(g.OH + 4) * <i64>cols45(g) * <i64>g.C) << 1;
  const n = img + 8 * TW * ((<i64>(RB + 4) * C2 << 1) + (<i64>RB * K8 << 2));
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// V (8 positions, vs bytes apart) of padded rows r0 .. r1-1 (relative row i at v + i * TW * C2 * 2): the row
// transform B' d of every tile's 8 columns, channel by channel (8 at a time with SIMD).
function input45(V: usize, vs: usize, pad: usize, Wp: i32, C: i32, C2: i32, TW: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const row = pad + (<usize>(r * Wp * C) << 1);
    for (let t = 0; t < TW; t++) {
      const a = row + (<usize>(4 * t * C) << 1);
      const v0 = V + (<usize>(((r - r0) * TW + t) * C2) << 1);
      const cs = <usize>C << 1;
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        for (; c + 8 <= C; c += 8) {
          const p = a + (<usize>c << 1), v = v0 + (<usize>c << 1);
          const d0 = v128.load(p), d1 = v128.load(p + cs), d2 = v128.load(p + 2 * cs), d3 = v128.load(p + 3 * cs);
          const d4 = v128.load(p + 4 * cs), d5 = v128.load(p + 5 * cs), d6 = v128.load(p + 6 * cs), d7 = v128.load(p + 7 * cs);
          v128.store(v + 0 * vs, i16x8.add(i16x8.sub(i16x8.add(i16x8.neg(i16x8.mul(d0, i16x8.splat(4))), i16x8.mul(d2, i16x8.splat(21))), i16x8.mul(d4, i16x8.splat(21))), i16x8.mul(d6, i16x8.splat(4))));
          v128.store(v + 1 * vs, i16x8.add(i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.mul(d1, i16x8.splat(4)), i16x8.mul(d2, i16x8.splat(4))), i16x8.mul(d3, i16x8.splat(17))), i16x8.mul(d4, i16x8.splat(17))), i16x8.mul(d5, i16x8.splat(4))), i16x8.mul(d6, i16x8.splat(4))));
          v128.store(v + 2 * vs, i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.add(i16x8.neg(i16x8.mul(d1, i16x8.splat(4))), i16x8.mul(d2, i16x8.splat(4))), i16x8.mul(d3, i16x8.splat(17))), i16x8.mul(d4, i16x8.splat(17))), i16x8.mul(d5, i16x8.splat(4))), i16x8.mul(d6, i16x8.splat(4))));
          v128.store(v + 3 * vs, i16x8.add(i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.mul(d1, i16x8.splat(2)), d2), i16x8.mul(d3, i16x8.splat(10))), i16x8.mul(d4, i16x8.splat(5))), i16x8.mul(d5, i16x8.splat(8))), i16x8.mul(d6, i16x8.splat(4))));
          v128.store(v + 4 * vs, i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.add(i16x8.neg(i16x8.mul(d1, i16x8.splat(2))), d2), i16x8.mul(d3, i16x8.splat(10))), i16x8.mul(d4, i16x8.splat(5))), i16x8.mul(d5, i16x8.splat(8))), i16x8.mul(d6, i16x8.splat(4))));
          v128.store(v + 5 * vs, i16x8.add(i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.mul(d1, i16x8.splat(4)), i16x8.mul(d2, i16x8.splat(8))), i16x8.mul(d3, i16x8.splat(5))), i16x8.mul(d4, i16x8.splat(10))), d5), i16x8.mul(d6, i16x8.splat(2))));
          v128.store(v + 6 * vs, i16x8.add(i16x8.sub(i16x8.sub(i16x8.add(i16x8.add(i16x8.neg(i16x8.mul(d1, i16x8.splat(4))), i16x8.mul(d2, i16x8.splat(8))), i16x8.mul(d3, i16x8.splat(5))), i16x8.mul(d4, i16x8.splat(10))), d5), i16x8.mul(d6, i16x8.splat(2))));
          v128.store(v + 7 * vs, i16x8.add(i16x8.sub(i16x8.add(i16x8.neg(i16x8.mul(d1, i16x8.splat(4))), i16x8.mul(d3, i16x8.splat(21))), i16x8.mul(d5, i16x8.splat(21))), i16x8.mul(d7, i16x8.splat(4))));
        }
      }
      for (; c < C2; c++) {
        const v = v0 + (<usize>c << 1);
        if (c >= C) {
          // the odd channel count's zero pad of the k pairs
          for (let q = 0; q < 8; q++) store<i16>(v + <usize>q * vs, 0);
          continue;
        }
        const p = a + (<usize>c << 1);
        const d0 = <i32>load<i16>(p), d1 = <i32>load<i16>(p + cs), d2 = <i32>load<i16>(p + 2 * cs), d3 = <i32>load<i16>(p + 3 * cs);
        const d4 = <i32>load<i16>(p + 4 * cs), d5 = <i32>load<i16>(p + 5 * cs), d6 = <i32>load<i16>(p + 6 * cs), d7 = <i32>load<i16>(p + 7 * cs);
        store<i16>(v + 0 * vs, <i16>(-4 * d0 + 21 * d2 - 21 * d4 + 4 * d6));
        store<i16>(v + 1 * vs, <i16>(4 * d1 + 4 * d2 - 17 * d3 - 17 * d4 + 4 * d5 + 4 * d6));
        store<i16>(v + 2 * vs, <i16>(-4 * d1 + 4 * d2 + 17 * d3 - 17 * d4 - 4 * d5 + 4 * d6));
        store<i16>(v + 3 * vs, <i16>(2 * d1 + d2 - 10 * d3 - 5 * d4 + 8 * d5 + 4 * d6));
        store<i16>(v + 4 * vs, <i16>(-2 * d1 + d2 + 10 * d3 - 5 * d4 - 8 * d5 + 4 * d6));
        store<i16>(v + 5 * vs, <i16>(4 * d1 + 8 * d2 - 5 * d3 - 10 * d4 + d5 + 2 * d6));
        store<i16>(v + 6 * vs, <i16>(-4 * d1 + 8 * d2 + 5 * d3 - 10 * d4 - d5 + 2 * d6));
        store<i16>(v + 7 * vs, <i16>(-4 * d1 + 21 * d3 - 21 * d5 + 4 * d7));
      }
    }
  }
}

// M (rows, K8) i32 = the sums over the 5 kernel rows (V rows rs bytes apart) and C2 channels of one position.
function gemm45(M: usize, V: usize, U: usize, rows: i32, C2: i32, K8: i32, rs: usize): void {
  const SP = C2 >> 1, lda = <usize>C2 << 1, panelB = <usize>(5 * C2) << 4;
  for (let m = 0; m < rows; m += 4) {
    const mr = min(4, rows - m);
    const a0 = V + <usize>m * lda;
    for (let j = 0; j < K8; j += 8) {
      const w = U + <usize>(j >> 3) * panelB, c0 = M + (<usize>(m * K8 + j) << 2);
      if (ASC_FEATURE_SIMD) gemm45_4x8(mr, SP, rs, a0, lda, w, c0, <usize>K8 << 2);
      else {
        for (let r = 0; r < mr; r++) {
          for (let jj = 0; jj < 8; jj++) {
            let acc = 0;
            let ar = a0 + <usize>r * lda, wp = w + (<usize>jj << 2);
            for (let kh = 0; kh < 5; kh++) {
              for (let p = 0; p < SP; p++) {
                acc += <i32>load<i16>(ar + (<usize>p << 2)) * <i32>load<i16>(wp) + <i32>load<i16>(ar + (<usize>p << 2), 2) * <i32>load<i16>(wp, 2);
                wp += 32;
              }
              ar += rs;
            }
            store<i32>(c0 + (<usize>(r * K8 + jj) << 2), acc);
          }
        }
      }
    }
  }
}

// One 4x8 tile of gemm45 (rows past mr alias the previous one; only mr rows are stored).
// @ts-ignore: decorator
@inline function gemm45_4x8(mr: i32, SP: i32, rs: usize, a0: usize, lda: usize, w: usize, c0: usize, ldc: usize): void {
  let a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
  if (mr < 2) a1 = a0;
  if (mr < 3) a2 = a1;
  if (mr < 4) a3 = a2;
  let c00 = i32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let kh = 0; kh < 5; kh++) {
    let b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    for (let p = 0; p < SP; p++) {
      const w0 = v128.load(w), w1 = v128.load(w, 16);
      let va = v128.load32_splat(b0);
      c00 = i32x4.add(c00, i32x4.dot_i16x8_s(va, w0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(va, w1));
      va = v128.load32_splat(b1);
      c10 = i32x4.add(c10, i32x4.dot_i16x8_s(va, w0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(va, w1));
      va = v128.load32_splat(b2);
      c20 = i32x4.add(c20, i32x4.dot_i16x8_s(va, w0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(va, w1));
      va = v128.load32_splat(b3);
      c30 = i32x4.add(c30, i32x4.dot_i16x8_s(va, w0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(va, w1));
      w += 32; b0 += 4; b1 += 4; b2 += 4; b3 += 4;
    }
    a0 += rs; a1 += rs; a2 += rs; a3 += rs;
  }
  v128.store(c0, c00); v128.store(c0, c01, 16);
  if (mr > 1) { v128.store(c0 + ldc, c10); v128.store(c0 + ldc, c11, 16); }
  if (mr > 2) { v128.store(c0 + 2 * ldc, c20); v128.store(c0 + 2 * ldc, c21, 16); }
  if (mr > 3) { v128.store(c0 + 3 * ldc, c30); v128.store(c0 + 3 * ldc, c31, 16); }
}

// Output rows oh0 .. oh0+rb-1 of one image from M (8 positions, ms bytes apart; row m = (oh - oh0) * TW + t).
function output45(o: usize, M: usize, ms: usize, U: usize, req: usize, g: Geometry2d, oh0: i32, rb: i32, TW: i32, K8: i32): void {
  const K = g.K, OW = g.OW;
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, K);
  for (let m = 0; m < rb * TW; m++) {
    const oh = oh0 + m / TW, t = m % TW;
    const row = M + (<usize>(m * K8) << 2);
    const px = o + <usize>(oh * OW + 4 * t) * K;
    const n = min(4, OW - 4 * t); // outputs of this tile inside the image
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi), inv = i32x4.splat(INV45);
      for (; j < K; j += 8) {
        const jB = <usize>j << 2;
        const nc = min(8, K - j);
        const bias0 = v128.load(U + jB), bias1 = v128.load(U + jB, 16);
        const vm0 = v128.load(pm + jB), vm1 = v128.load(pm + jB, 16), vp0 = v128.load(pp + jB), vp1 = v128.load(pp + jB, 16);
        for (let h = 0; h < 2; h++) {
          const hb = <usize>(h << 4);
          const m0 = v128.load(row + jB + hb), m1 = v128.load(row + jB + hb + ms), m2 = v128.load(row + jB + hb + 2 * ms);
          const m3 = v128.load(row + jB + hb + 3 * ms), m4 = v128.load(row + jB + hb + 4 * ms), m5 = v128.load(row + jB + hb + 5 * ms);
          const m6 = v128.load(row + jB + hb + 6 * ms), m7 = v128.load(row + jB + hb + 7 * ms);
          const s0 = i32x4.add(i32x4.add(i32x4.add(i32x4.add(i32x4.add(i32x4.add(i32x4.mul(m0, i32x4.splat(90)), i32x4.mul(m1, i32x4.splat(20))), i32x4.mul(m2, i32x4.splat(20))), m3), m4), i32x4.mul(m5, i32x4.splat(8))), i32x4.mul(m6, i32x4.splat(8)));
          const s1 = i32x4.sub(i32x4.add(i32x4.sub(i32x4.add(i32x4.sub(i32x4.mul(m1, i32x4.splat(20)), i32x4.mul(m2, i32x4.splat(20))), i32x4.mul(m3, i32x4.splat(2))), i32x4.mul(m4, i32x4.splat(2))), i32x4.mul(m5, i32x4.splat(4))), i32x4.mul(m6, i32x4.splat(4)));
          const s2 = i32x4.add(i32x4.add(i32x4.add(i32x4.add(i32x4.add(i32x4.mul(m1, i32x4.splat(20)), i32x4.mul(m2, i32x4.splat(20))), i32x4.mul(m3, i32x4.splat(4))), i32x4.mul(m4, i32x4.splat(4))), i32x4.mul(m5, i32x4.splat(2))), i32x4.mul(m6, i32x4.splat(2)));
          const s3 = i32x4.add(i32x4.sub(i32x4.add(i32x4.sub(i32x4.add(i32x4.sub(i32x4.mul(m1, i32x4.splat(20)), i32x4.mul(m2, i32x4.splat(20))), i32x4.mul(m3, i32x4.splat(8))), i32x4.mul(m4, i32x4.splat(8))), m5), m6), i32x4.mul(m7, i32x4.splat(90)));
          const b = h == 0 ? bias0 : bias1;
          // 360 * sum -> 8 * sum (times 45's inverse) -> sum, + bias
          const y0 = i32x4.add(i32x4.shr_s(i32x4.mul(s0, inv), 3), b), y1 = i32x4.add(i32x4.shr_s(i32x4.mul(s1, inv), 3), b);
          const y2 = i32x4.add(i32x4.shr_s(i32x4.mul(s2, inv), 3), b), y3 = i32x4.add(i32x4.shr_s(i32x4.mul(s3, inv), 3), b);
          // park the four outputs' halves in M's position slots 0..3 of this row (read above, no longer needed)
          v128.store(row + jB + hb, y0); v128.store(row + jB + hb + ms, y1);
          v128.store(row + jB + hb + 2 * ms, y2); v128.store(row + jB + hb + 3 * ms, y3);
        }
        for (let i = 0; i < n; i++) {
          const s = row + jB + <usize>i * ms;
          store_tail(px + <usize>(i * K + j), requant_row(v128.load(s), v128.load(s, 16), vm0, vm1, vp0, vp1, vlo, vhi, vzp), nc);
        }
      }
      continue;
    }
    for (; j < K; j++) {
      const jB = <usize>j << 2;
      const bias = load<i32>(U + jB), mult = load<i32>(pm + jB), pow = load<i32>(pp + jB);
      const m0 = load<i32>(row + jB), m1 = load<i32>(row + jB + ms), m2 = load<i32>(row + jB + 2 * ms), m3 = load<i32>(row + jB + 3 * ms);
      const m4 = load<i32>(row + jB + 4 * ms), m5 = load<i32>(row + jB + 5 * ms), m6 = load<i32>(row + jB + 6 * ms), m7 = load<i32>(row + jB + 7 * ms);
      const s0 = 90 * m0 + 20 * m1 + 20 * m2 + m3 + m4 + 8 * m5 + 8 * m6;
      const s1 = 20 * m1 - 20 * m2 + 2 * m3 - 2 * m4 + 4 * m5 - 4 * m6;
      const s2 = 20 * m1 + 20 * m2 + 4 * m3 + 4 * m4 + 2 * m5 + 2 * m6;
      const s3 = 20 * m1 - 20 * m2 + 8 * m3 - 8 * m4 + m5 - m6 + 90 * m7;
      for (let i = 0; i < n; i++) {
        const s = i == 0 ? s0 : i == 1 ? s1 : i == 2 ? s2 : s3;
        store<i8>(px + <usize>(i * K + j), <i8>requant1(((s * INV45) >> 3) + bias, mult, pow, lo, hi, zp));
      }
    }
  }
}

// out int8 (N, OH, OW, K) <- the stride-1, dilation-1 5x5 convolution of inp int8 (N, H, W, C) (zero point za)
// with U = qwinograd45_pack of the weight, for output rows r0 .. r1-1 of each image, in blocks of RB rows;
// scratch: qwinograd45_scratch_size(geom, RB) bytes; req: the requantization block.
export function qwinograd45_forward(out: usize, inp: usize, U: usize, req: usize, scratch: usize, geom: usize, N: i32,
  RB: i32, za: i32, r0: i32, r1: i32): void {
  const g = geometry(geom);
  const C = g.C, C2 = even(C), K8 = up8(g.K), TW = (g.OW + 3) >> 2, Wp = cols45(g);
  const inImg = <usize>g.H * g.W * C, outImg = <usize>g.OH * g.OW * g.K;
  const posB = position_bytes(5 * C2, K8), panels = U + (<usize>K8 << 2);
  const pad = scratch;
  const V = pad + ((<usize>(g.OH + 4) * <usize>Wp * <usize>C) << 1);
  const vs = (<usize>((RB + 4) * TW * C2)) << 1;
  const M = V + 8 * vs;
  const ms = (<usize>(RB * TW * K8)) << 2;
  const rs = (<usize>(TW * C2)) << 1;
  for (let n = 0; n < N; n++) {
    const img = inp + <usize>n * inImg, o = out + <usize>n * outImg;
    widen_rows(pad, img, g, za, r0, r1 + 4, Wp);
    for (let oh0 = r0; oh0 < r1; oh0 += RB) {
      const rb = min(RB, r1 - oh0);
      input45(V, vs, pad, Wp, C, C2, TW, oh0, oh0 + rb + 4);
      for (let p = 0; p < 8; p++) gemm45(M + <usize>p * ms, V + <usize>p * vs, panels + <usize>p * posB, rb * TW, C2, K8, rs);
      output45(o, M, ms, U, req, g, oh0, rb, TW, K8);
    }
  }
}
