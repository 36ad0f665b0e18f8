// GEMM: C (M, N) = init + A (M, K) · B (K, N), the engine behind dense and conv2d, forward and backward.
//
// A is read through strides so one kernel serves A and Aᵀ: element (i, p) is at a + 4*(i*rsa + p*csa).
// B is first packed (pack_b) into panels of 8 columns, each panel prefixed by its 8 bias values:
//
//   panel q (columns 8q .. 8q+7):  [ bias(8) | B[0][8q..8q+7] | B[1][8q..8q+7] | ... | B[K-1][..] ]
//                                   zero-filled where a column is >= N
//
// so the 4x8 microkernel streams one panel sequentially (see: XNNPACK src/f32-gemm, 4x8 loadsplat).
// init: GEMM_BIAS starts from the panel's bias row (zeros when none was packed), GEMM_ACC from C itself.
// Every C element is init + p0 + p1 + ... in k order with mul-then-add, in both builds, so the SIMD
// and scalar builds give the same bits here.
// All pointers are byte addresses; all sizes are element counts.

import { madd_gemm, relu1, relu4 } from "../simd";

export const GEMM_ACC: i32 = 1; // accumulate into C instead of starting from the bias row
export const GEMM_RELU: i32 = 2; // apply relu before storing
export const GEMM_RELU6: i32 = 4; // with GEMM_RELU: then min(x, 6) (relu6)

// The GEMM flags of a kernel's activation code (0 none, 1 relu, 2 relu6).
// @ts-ignore: decorator
@inline export function act_flags(act: i32): i32 {
  return act == 2 ? GEMM_RELU | GEMM_RELU6 : act == 1 ? GEMM_RELU : 0;
}

// A size query's element count, computed in i64: past i32.MAX_VALUE it saturates there (8 GiB of floats,
// more than wasm32 memory holds), so the caller's allocation is refused instead of a wrapped count
// under-allocating a buffer the kernel then overruns.
// @ts-ignore: decorator
@inline export function size_count(n: i64): i32 {
  return n > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

// Floats needed by pack_b's output for a (K, N) matrix.
export function pack_b_size(K: i32, N: i32): i32 {
  return size_count(<i64>((N + 7) >> 3) * (<i64>K + 1) * 8);
}

// out: packed panels (see header); b: element (k, n) at b + 4*(k*rsb + n*csb); bias (N) or 0.
export function pack_b(out: usize, b: usize, bias: usize, K: i32, N: i32, rsb: i32, csb: i32): void {
  for (let j0 = 0; j0 < N; j0 += 8) {
    const nc = min(8, N - j0);
    for (let j = 0; j < 8; j++) {
      store<f32>(out + (<usize>j << 2), bias != 0 && j < nc ? load<f32>(bias + (<usize>(j0 + j) << 2)) : 0);
    }
    out += 32;
    for (let k = 0; k < K; k++) {
      const row = b + (<usize>(k * rsb + j0 * csb) << 2);
      if (csb == 1 && nc == 8) {
        // Two vector moves: memory.copy would be a call out of wasm per 32 bytes.
        if (ASC_FEATURE_SIMD) {
          v128.store(out, v128.load(row));
          v128.store(out, v128.load(row, 16), 16);
        } else {
          memory.copy(out, row, 32);
        }
      } else {
        for (let j = 0; j < 8; j++) {
          store<f32>(out + (<usize>j << 2), j < nc ? load<f32>(row + (<usize>(j * csb) << 2)) : 0);
        }
      }
      out += 32;
    }
  }
}

// c (M, N) row stride ldc; a via (rsa, csa); w = pack_b output for (K, N).
export function gemm(c: usize, a: usize, w: usize, M: i32, N: i32, K: i32, rsa: i32, csa: i32, ldc: i32, flags: i32): void {
  const panel = <usize>(K + 1) << 5; // bytes per packed panel
  const rsaB = <usize>rsa << 2;
  const csaB = <usize>csa << 2;
  const ldcB = <usize>ldc << 2;
  for (let i = 0; i < M; i += 4) {
    const mr = min(4, M - i);
    const ai = a + <usize>i * rsaB;
    const ci = c + <usize>i * ldcB;
    let wq = w;
    for (let j = 0; j < N; j += 8) {
      const nc = min(8, N - j);
      if (ASC_FEATURE_SIMD) {
        gemm_4x8_simd(mr, nc, K, ai, rsaB, csaB, wq, ci + (<usize>j << 2), ldcB, flags);
      } else {
        gemm_4x8_scalar(mr, nc, K, ai, rsaB, csaB, wq, ci + (<usize>j << 2), ldcB, flags);
      }
      wq += panel;
    }
  }
}

// One 4x8 tile. Rows past mr alias the previous row (so the k loop has no branches); aliased rows
// compute the same values as the row they alias, so storing them twice is harmless.
// @ts-ignore: decorator
@inline function gemm_4x8_simd(mr: i32, nc: i32, K: i32, a0: usize, rsaB: usize, csaB: usize, w: usize, c0: usize, ldcB: usize, flags: i32): void {
  let a1 = a0 + rsaB; let c1 = c0 + ldcB;
  if (mr < 2) { a1 = a0; c1 = c0; }
  let a2 = a1 + rsaB; let c2 = c1 + ldcB;
  if (mr <= 2) { a2 = a1; c2 = c1; }
  let a3 = a2 + rsaB; let c3 = c2 + ldcB;
  if (mr != 4) { a3 = a2; c3 = c2; }

  let vacc0x0123: v128, vacc0x4567: v128, vacc1x0123: v128, vacc1x4567: v128;
  let vacc2x0123: v128, vacc2x4567: v128, vacc3x0123: v128, vacc3x4567: v128;
  if (flags & GEMM_ACC) {
    // Lanes past nc read neighbouring memory but are never stored (the arena keeps slack at the top).
    vacc0x0123 = v128.load(c0); vacc0x4567 = v128.load(c0, 16);
    vacc1x0123 = v128.load(c1); vacc1x4567 = v128.load(c1, 16);
    vacc2x0123 = v128.load(c2); vacc2x4567 = v128.load(c2, 16);
    vacc3x0123 = v128.load(c3); vacc3x4567 = v128.load(c3, 16);
  } else {
    vacc0x0123 = v128.load(w); vacc0x4567 = v128.load(w, 16);
    vacc1x0123 = vacc0x0123; vacc1x4567 = vacc0x4567;
    vacc2x0123 = vacc0x0123; vacc2x4567 = vacc0x4567;
    vacc3x0123 = vacc0x0123; vacc3x4567 = vacc0x4567;
  }
  w += 32;
  for (let p = 0; p < K; p++) {
    const vb0123 = v128.load(w);
    const vb4567 = v128.load(w, 16);
    w += 32;
    const va0 = v128.load32_splat(a0); a0 += csaB;
    const va1 = v128.load32_splat(a1); a1 += csaB;
    const va2 = v128.load32_splat(a2); a2 += csaB;
    const va3 = v128.load32_splat(a3); a3 += csaB;
    vacc0x0123 = madd_gemm(va0, vb0123, vacc0x0123); vacc0x4567 = madd_gemm(va0, vb4567, vacc0x4567);
    vacc1x0123 = madd_gemm(va1, vb0123, vacc1x0123); vacc1x4567 = madd_gemm(va1, vb4567, vacc1x4567);
    vacc2x0123 = madd_gemm(va2, vb0123, vacc2x0123); vacc2x4567 = madd_gemm(va2, vb4567, vacc2x4567);
    vacc3x0123 = madd_gemm(va3, vb0123, vacc3x0123); vacc3x4567 = madd_gemm(va3, vb4567, vacc3x4567);
  }
  if (flags & GEMM_RELU) {
    vacc0x0123 = relu4(vacc0x0123); vacc0x4567 = relu4(vacc0x4567);
    vacc1x0123 = relu4(vacc1x0123); vacc1x4567 = relu4(vacc1x4567);
    vacc2x0123 = relu4(vacc2x0123); vacc2x4567 = relu4(vacc2x4567);
    vacc3x0123 = relu4(vacc3x0123); vacc3x4567 = relu4(vacc3x4567);
  }
  if (flags & GEMM_RELU6) {
    const six = f32x4.splat(6);
    vacc0x0123 = f32x4.pmin(vacc0x0123, six); vacc0x4567 = f32x4.pmin(vacc0x4567, six);
    vacc1x0123 = f32x4.pmin(vacc1x0123, six); vacc1x4567 = f32x4.pmin(vacc1x4567, six);
    vacc2x0123 = f32x4.pmin(vacc2x0123, six); vacc2x4567 = f32x4.pmin(vacc2x4567, six);
    vacc3x0123 = f32x4.pmin(vacc3x0123, six); vacc3x4567 = f32x4.pmin(vacc3x4567, six);
  }
  if (nc == 8) {
    v128.store(c3, vacc3x0123); v128.store(c3, vacc3x4567, 16);
    v128.store(c2, vacc2x0123); v128.store(c2, vacc2x4567, 16);
    v128.store(c1, vacc1x0123); v128.store(c1, vacc1x4567, 16);
    v128.store(c0, vacc0x0123); v128.store(c0, vacc0x4567, 16);
    return;
  }
  if (nc & 4) {
    v128.store(c3, vacc3x0123); v128.store(c2, vacc2x0123);
    v128.store(c1, vacc1x0123); v128.store(c0, vacc0x0123);
    vacc3x0123 = vacc3x4567; vacc2x0123 = vacc2x4567;
    vacc1x0123 = vacc1x4567; vacc0x0123 = vacc0x4567;
    c3 += 16; c2 += 16; c1 += 16; c0 += 16;
  }
  if (nc & 2) {
    v128.store64_lane(c3, vacc3x0123, 0); v128.store64_lane(c2, vacc2x0123, 0);
    v128.store64_lane(c1, vacc1x0123, 0); v128.store64_lane(c0, vacc0x0123, 0);
    vacc3x0123 = v128.shuffle<f32>(vacc3x0123, vacc3x0123, 2, 3, 2, 3);
    vacc2x0123 = v128.shuffle<f32>(vacc2x0123, vacc2x0123, 2, 3, 2, 3);
    vacc1x0123 = v128.shuffle<f32>(vacc1x0123, vacc1x0123, 2, 3, 2, 3);
    vacc0x0123 = v128.shuffle<f32>(vacc0x0123, vacc0x0123, 2, 3, 2, 3);
    c3 += 8; c2 += 8; c1 += 8; c0 += 8;
  }
  if (nc & 1) {
    v128.store32_lane(c3, vacc3x0123, 0); v128.store32_lane(c2, vacc2x0123, 0);
    v128.store32_lane(c1, vacc1x0123, 0); v128.store32_lane(c0, vacc0x0123, 0);
  }
}

// The same tile without SIMD, element by element in the same k order (the scalar build's path).
// @ts-ignore: decorator
@inline function gemm_4x8_scalar(mr: i32, nc: i32, K: i32, a0: usize, rsaB: usize, csaB: usize, w: usize, c0: usize, ldcB: usize, flags: i32): void {
  for (let r = 0; r < mr; r++) {
    const ar = a0 + <usize>r * rsaB;
    const cr = c0 + <usize>r * ldcB;
    for (let j = 0; j < nc; j++) {
      const jB = <usize>j << 2;
      let acc: f32 = (flags & GEMM_ACC) ? load<f32>(cr + jB) : load<f32>(w + jB);
      let ap = ar;
      let wp = w + 32 + jB;
      for (let p = 0; p < K; p++) {
        acc = acc + load<f32>(ap) * load<f32>(wp);
        ap += csaB;
        wp += 32;
      }
      if (flags & GEMM_RELU) acc = relu1(acc);
      if ((flags & GEMM_RELU6) && <f32>6 < acc) acc = 6;
      store<f32>(cr + jB, acc);
    }
  }
}
