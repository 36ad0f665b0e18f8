// Winograd convolution F(m x m, r x r) for stride-1 layers: F(2,3) (tile alpha = m + r - 1 = 4), F(4,3)
// (alpha 6) and F(4,5) (alpha 8, interpolation points 0, ±1, ±½, ±2, ∞); alpha names the variant below.
// Layouts as in conv2d.ts: inp (N, H, W, C), weight (r, r, C, K), out (N, OH, OW, K); geometry in `geom`.
// Output tiles of m x m pixels are numbered over the whole batch, t = (n*TH + th)*TW + tw, with
// TH = ceil(OH/m), TW = ceil(OW/m); a call handles tiles t0 .. t1-1 in blocks of TB tiles:
//
//   U (T = alpha^2 matrices of (C, K)) = G g Gᵀ            once per call, packed for gemm (no bias)
//   V (T, TB, C)   = Bᵀ d Bᵀᵀ of each tile's alpha x alpha input patch (zeros in the padding)
//   M (T, TB, K)   = V[xi] · U[xi]                          T GEMMs on the 4x8 microkernel
//   out tile       = Aᵀ M A (+ bias, + old value, relu)      partial tiles store only what is inside
//
// Every transform runs vectorised over the contiguous channel axis (4 lanes, scalar tail) with the
// same operations in the same order in both builds, and each output depends only on its own tile and
// the GEMM row of its tile (summed over C in order), so neither the block size nor the split of the
// tiles into calls changes any bit.
// The backward pass w.r.t. the input of a stride-1 convolution is the same computation on dout with
// the kernel flipped and its channel axes swapped (winograd_weight with flip = 1) and the padding
// mirrored (r-1 - PT, r-1 - PL); WINO_ACC accumulates into the output the way the direct kernels do.
// The weight gradient runs the transposed chain: dM = A dY Aᵀ per tile, dU[xi] += V[xi]ᵀ · dM[xi] (GEMMs
// accumulating tile after tile in tile order, whatever the block), and at the end dg = Gᵀ dU G.

import { gemm, pack_b, pack_b_size, size_count, GEMM_ACC } from "./gemm";
import { geometry } from "../geometry";

export const WINO_RELU: i32 = 1; // relu before storing
export const WINO_ACC: i32 = 2; // add into the output instead of overwriting it
// store the 2x2 max pooling (stride 2, 'valid') of the output instead of the output: out is then
// (N, OH/2, OW/2, K) rounded down; not with WINO_ACC (m is even, so every pooling window is in one tile)
export const WINO_POOL: i32 = 4;

// ---------------------------------------------------------------------------------------------
// Lane-generic arithmetic: T is v128 (4 channels) or f32 (a tail channel, or the scalar build).
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function add<T>(a: T, b: T): T {
  if (isVector<T>()) return <T>f32x4.add(<v128>a, <v128>b);
  else return a + b;
}
// @ts-ignore: decorator
@inline function sub<T>(a: T, b: T): T {
  if (isVector<T>()) return <T>f32x4.sub(<v128>a, <v128>b);
  else return a - b;
}
// @ts-ignore: decorator
@inline function neg<T>(a: T): T {
  if (isVector<T>()) return <T>f32x4.neg(<v128>a);
  else return <T>(-<f32>a);
}
// a * k for a constant k
// @ts-ignore: decorator
@inline function mulk<T>(a: T, k: f32): T {
  if (isVector<T>()) return <T>f32x4.mul(<v128>a, f32x4.splat(k));
  else return <T>(<f32>a * k);
}
// @ts-ignore: decorator
@inline function relu<T>(a: T): T {
  if (isVector<T>()) return <T>f32x4.pmax(<v128>a, f32x4.splat(0));
  else return <T>(<f32>a < 0 ? <f32>0 : <f32>a);
}
// @ts-ignore: decorator
@inline function ld<T>(p: usize, o: usize): T { return load<T>(p + o); }
// @ts-ignore: decorator
@inline function st<T>(p: usize, o: usize, v: T): void { store<T>(p + o, v); }

// ---------------------------------------------------------------------------------------------
// 1-D transforms of one lane group at byte offset o. Sources and destinations are separate pointers
// so that padding (a shared zero row) and partial tiles (a sink row) need no special cases.
// ---------------------------------------------------------------------------------------------

// F(2,3) input: Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; destinations d + i*ds.
// @ts-ignore: decorator
@inline function bt4<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, d: usize, ds: usize): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o), x3 = ld<T>(s3, o);
  st<T>(d, o, sub<T>(x0, x2));
  st<T>(d + ds, o, add<T>(x1, x2));
  st<T>(d + 2 * ds, o, sub<T>(x2, x1));
  st<T>(d + 3 * ds, o, sub<T>(x1, x3));
}

// F(4,3) input, Bᵀ of Lavin & Gray (rows 4,0,-5,0,1,0 / 0,-4,-4,1,1,0 / 0,4,-4,-1,1,0 / 0,-2,-1,2,1,0 /
// 0,2,-1,-2,1,0 / 0,4,0,-5,0,1), with the shared sums factored out. All coefficients are exact in f32.
// @ts-ignore: decorator
@inline function bt6<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize,
  d: usize, ds: usize): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o);
  const x3 = ld<T>(s3, o), x4 = ld<T>(s4, o), x5 = ld<T>(s5, o);
  st<T>(d, o, add<T>(sub<T>(mulk<T>(x0, 4), mulk<T>(x2, 5)), x4));
  st<T>(d + ds, o, sub<T>(add<T>(x3, x4), mulk<T>(add<T>(x1, x2), 4)));
  st<T>(d + 2 * ds, o, add<T>(sub<T>(x4, x3), mulk<T>(sub<T>(x1, x2), 4)));
  const a = sub<T>(x4, x2), b = mulk<T>(sub<T>(x3, x1), 2);
  st<T>(d + 3 * ds, o, add<T>(a, b));
  st<T>(d + 4 * ds, o, sub<T>(a, b));
  st<T>(d + 5 * ds, o, add<T>(sub<T>(mulk<T>(x1, 4), mulk<T>(x3, 5)), x5));
}

// F(4,5) input, Bᵀ for the points 0, 1, -1, ½, -½, 2, -2, ∞ (rows 1 0 -21/4 0 21/4 0 -1 0 /
// 0 1 1 -17/4 -17/4 1 1 0 / 0 -1 1 17/4 -17/4 -1 1 0 / 0 2 4 -5/2 -5 ½ 1 0 / 0 -2 4 5/2 -5 -½ 1 0 /
// 0 ½ ¼ -5/2 -5/4 2 1 0 / 0 -½ ¼ 5/2 -5/4 -2 1 0 / 0 -1 0 21/4 0 -21/4 0 1): each ± pair of points
// shares its even and odd parts. All coefficients are exact in f32.
// @ts-ignore: decorator
@inline function bt8<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize,
  s6: usize, s7: usize, d: usize, ds: usize): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o), x3 = ld<T>(s3, o);
  const x4 = ld<T>(s4, o), x5 = ld<T>(s5, o), x6 = ld<T>(s6, o), x7 = ld<T>(s7, o);
  st<T>(d, o, add<T>(sub<T>(x0, x6), mulk<T>(sub<T>(x4, x2), 5.25)));
  let e = sub<T>(add<T>(x2, x6), mulk<T>(x4, 4.25));
  let f = sub<T>(add<T>(x1, x5), mulk<T>(x3, 4.25));
  st<T>(d + ds, o, add<T>(e, f));
  st<T>(d + 2 * ds, o, sub<T>(e, f));
  e = add<T>(sub<T>(mulk<T>(x2, 4), mulk<T>(x4, 5)), x6);
  f = add<T>(sub<T>(mulk<T>(x1, 2), mulk<T>(x3, 2.5)), mulk<T>(x5, 0.5));
  st<T>(d + 3 * ds, o, add<T>(e, f));
  st<T>(d + 4 * ds, o, sub<T>(e, f));
  e = add<T>(sub<T>(mulk<T>(x2, 0.25), mulk<T>(x4, 1.25)), x6);
  f = add<T>(sub<T>(mulk<T>(x1, 0.5), mulk<T>(x3, 2.5)), mulk<T>(x5, 2));
  st<T>(d + 5 * ds, o, add<T>(e, f));
  st<T>(d + 6 * ds, o, sub<T>(e, f));
  st<T>(d + 7 * ds, o, add<T>(sub<T>(x7, x1), mulk<T>(sub<T>(x3, x5), 5.25)));
}

// F(2,3) weight: G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
// @ts-ignore: decorator
@inline function g4<T>(o: usize, s0: usize, s1: usize, s2: usize, d: usize, ds: usize): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o);
  const e = add<T>(x0, x2);
  st<T>(d, o, x0);
  st<T>(d + ds, o, mulk<T>(add<T>(e, x1), 0.5));
  st<T>(d + 2 * ds, o, mulk<T>(sub<T>(e, x1), 0.5));
  st<T>(d + 3 * ds, o, x2);
}

// F(4,3) weight: G = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1].
// @ts-ignore: decorator
@inline function g6<T>(o: usize, s0: usize, s1: usize, s2: usize, d: usize, ds: usize): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o);
  const e = add<T>(x0, x2);
  const f = add<T>(mulk<T>(x0, <f32>(1.0 / 24)), mulk<T>(x2, <f32>(1.0 / 6)));
  const h = mulk<T>(x1, <f32>(1.0 / 12));
  st<T>(d, o, mulk<T>(x0, 0.25));
  st<T>(d + ds, o, mulk<T>(add<T>(e, x1), <f32>(-1.0 / 6)));
  st<T>(d + 2 * ds, o, mulk<T>(sub<T>(e, x1), <f32>(-1.0 / 6)));
  st<T>(d + 3 * ds, o, add<T>(f, h));
  st<T>(d + 4 * ds, o, sub<T>(f, h));
  st<T>(d + 5 * ds, o, x2);
}

// F(4,5) weight: G rows 1 0 0 0 0 / -2/9 (1 1 1 1 1) / -2/9 (1 -1 1 -1 1) / (32 16 8 4 2)/45 /
// (32 -16 8 -4 2)/45 / (½ 1 2 4 8)/45 / (½ -1 2 -4 8)/45 / 0 0 0 0 1 (sources s + i*ss).
// @ts-ignore: decorator
@inline function g8<T>(o: usize, s: usize, ss: usize, d: usize, ds: usize): void {
  const x0 = ld<T>(s, o), x1 = ld<T>(s + ss, o), x2 = ld<T>(s + 2 * ss, o);
  const x3 = ld<T>(s + 3 * ss, o), x4 = ld<T>(s + 4 * ss, o);
  st<T>(d, o, x0);
  let e = add<T>(add<T>(x0, x2), x4), f = add<T>(x1, x3);
  st<T>(d + ds, o, mulk<T>(add<T>(e, f), <f32>(-2.0 / 9)));
  st<T>(d + 2 * ds, o, mulk<T>(sub<T>(e, f), <f32>(-2.0 / 9)));
  e = add<T>(add<T>(mulk<T>(x0, <f32>(32.0 / 45)), mulk<T>(x2, <f32>(8.0 / 45))), mulk<T>(x4, <f32>(2.0 / 45)));
  f = add<T>(mulk<T>(x1, <f32>(16.0 / 45)), mulk<T>(x3, <f32>(4.0 / 45)));
  st<T>(d + 3 * ds, o, add<T>(e, f));
  st<T>(d + 4 * ds, o, sub<T>(e, f));
  e = add<T>(add<T>(mulk<T>(x0, <f32>(1.0 / 90)), mulk<T>(x2, <f32>(2.0 / 45))), mulk<T>(x4, <f32>(8.0 / 45)));
  f = add<T>(mulk<T>(x1, <f32>(1.0 / 45)), mulk<T>(x3, <f32>(4.0 / 45)));
  st<T>(d + 5 * ds, o, add<T>(e, f));
  st<T>(d + 6 * ds, o, sub<T>(e, f));
  st<T>(d + 7 * ds, o, x4);
}

// Epilogue of the last output pass: + bias, + old value (WINO_ACC), relu (WINO_RELU).
// @ts-ignore: decorator
@inline function emit<T>(o: usize, d: usize, v: T, bias: usize, flags: i32): void {
  if (bias != 0) v = add<T>(v, ld<T>(bias, o));
  if (flags & WINO_ACC) v = add<T>(ld<T>(d, o), v);
  if (flags & WINO_RELU) v = relu<T>(v);
  st<T>(d, o, v);
}

// F(2,3) output: Aᵀ = [1 1 1 0; 0 1 -1 -1].
// @ts-ignore: decorator
@inline function at4<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, d0: usize, d1: usize,
  bias: usize, flags: i32): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o), x3 = ld<T>(s3, o);
  emit<T>(o, d0, add<T>(add<T>(x0, x1), x2), bias, flags);
  emit<T>(o, d1, sub<T>(sub<T>(x1, x2), x3), bias, flags);
}

// F(4,3) output: Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
// @ts-ignore: decorator
@inline function at6<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize,
  d0: usize, d1: usize, d2: usize, d3: usize, bias: usize, flags: i32): void {
  const x0 = ld<T>(s0, o), x1 = ld<T>(s1, o), x2 = ld<T>(s2, o);
  const x3 = ld<T>(s3, o), x4 = ld<T>(s4, o), x5 = ld<T>(s5, o);
  const p12 = add<T>(x1, x2), m12 = sub<T>(x1, x2), p34 = add<T>(x3, x4), m34 = sub<T>(x3, x4);
  emit<T>(o, d0, add<T>(add<T>(x0, p12), p34), bias, flags);
  emit<T>(o, d1, add<T>(m12, mulk<T>(m34, 2)), bias, flags);
  emit<T>(o, d2, add<T>(p12, mulk<T>(p34, 4)), bias, flags);
  emit<T>(o, d3, add<T>(add<T>(m12, mulk<T>(m34, 8)), x5), bias, flags);
}

// F(4,5) output: Aᵀ = [1 1 1 1 1 1 1 0; 0 1 -1 ½ -½ 2 -2 0; 0 1 1 ¼ ¼ 4 4 0; 0 1 -1 ⅛ -⅛ 8 -8 1].
// @ts-ignore: decorator
@inline function at8<T>(o: usize, s: usize, ss: usize, d0: usize, d1: usize, d2: usize, d3: usize,
  bias: usize, flags: i32): void {
  const x0 = ld<T>(s, o), x1 = ld<T>(s + ss, o), x2 = ld<T>(s + 2 * ss, o), x3 = ld<T>(s + 3 * ss, o);
  const x4 = ld<T>(s + 4 * ss, o), x5 = ld<T>(s + 5 * ss, o), x6 = ld<T>(s + 6 * ss, o), x7 = ld<T>(s + 7 * ss, o);
  const p1 = add<T>(x1, x2), m1 = sub<T>(x1, x2), p2 = add<T>(x3, x4), m2 = sub<T>(x3, x4);
  const p3 = add<T>(x5, x6), m3 = sub<T>(x5, x6);
  emit<T>(o, d0, add<T>(add<T>(add<T>(x0, p1), p2), p3), bias, flags);
  emit<T>(o, d1, add<T>(add<T>(m1, mulk<T>(m2, 0.5)), mulk<T>(m3, 2)), bias, flags);
  emit<T>(o, d2, add<T>(add<T>(p1, mulk<T>(p2, 0.25)), mulk<T>(p3, 4)), bias, flags);
  emit<T>(o, d3, add<T>(add<T>(add<T>(m1, mulk<T>(m2, 0.125)), mulk<T>(m3, 8)), x7), bias, flags);
}

// Transposed F(2,3) output transform (A = (Aᵀ)ᵀ): m = 2 values of dY -> alpha = 4 values of dM.
// @ts-ignore: decorator
@inline function a4<T>(o: usize, s0: usize, s1: usize, d: usize, ds: usize): void {
  const y0 = ld<T>(s0, o), y1 = ld<T>(s1, o);
  st<T>(d, o, y0);
  st<T>(d + ds, o, add<T>(y0, y1));
  st<T>(d + 2 * ds, o, sub<T>(y0, y1));
  st<T>(d + 3 * ds, o, neg<T>(y1));
}

// Transposed F(4,3) output transform: 4 values -> 6.
// @ts-ignore: decorator
@inline function a6<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, d: usize, ds: usize): void {
  const y0 = ld<T>(s0, o), y1 = ld<T>(s1, o), y2 = ld<T>(s2, o), y3 = ld<T>(s3, o);
  const e = add<T>(y0, y2), f = add<T>(y1, y3);
  const e4 = add<T>(y0, mulk<T>(y2, 4)), f8 = add<T>(mulk<T>(y1, 2), mulk<T>(y3, 8));
  st<T>(d, o, y0);
  st<T>(d + ds, o, add<T>(e, f));
  st<T>(d + 2 * ds, o, sub<T>(e, f));
  st<T>(d + 3 * ds, o, add<T>(e4, f8));
  st<T>(d + 4 * ds, o, sub<T>(e4, f8));
  st<T>(d + 5 * ds, o, y3);
}

// Transposed F(4,5) output transform: 4 values -> 8.
// @ts-ignore: decorator
@inline function a8<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, d: usize, ds: usize): void {
  const y0 = ld<T>(s0, o), y1 = ld<T>(s1, o), y2 = ld<T>(s2, o), y3 = ld<T>(s3, o);
  let e = add<T>(y0, y2), f = add<T>(y1, y3);
  st<T>(d, o, y0);
  st<T>(d + ds, o, add<T>(e, f));
  st<T>(d + 2 * ds, o, sub<T>(e, f));
  e = add<T>(y0, mulk<T>(y2, 0.25));
  f = add<T>(mulk<T>(y1, 0.5), mulk<T>(y3, 0.125));
  st<T>(d + 3 * ds, o, add<T>(e, f));
  st<T>(d + 4 * ds, o, sub<T>(e, f));
  e = add<T>(y0, mulk<T>(y2, 4));
  f = add<T>(mulk<T>(y1, 2), mulk<T>(y3, 8));
  st<T>(d + 5 * ds, o, add<T>(e, f));
  st<T>(d + 6 * ds, o, sub<T>(e, f));
  st<T>(d + 7 * ds, o, y3);
}

// Transposed weight transform Gᵀ: alpha values (s + i*ss) -> r (d + i*ds), added into d when acc (the final dW).
// @ts-ignore: decorator
@inline function gt<T>(o: usize, alpha: i32, s: usize, ss: usize, d: usize, ds: usize, acc: bool): void {
  const x0 = ld<T>(s, o), x1 = ld<T>(s + ss, o), x2 = ld<T>(s + 2 * ss, o), x3 = ld<T>(s + 3 * ss, o);
  let o0: T, o1: T, o2: T;
  let o3 = x0, o4 = x0; // outputs 3 and 4 exist for alpha 8 (r = 5) only
  if (alpha == 4) {
    const p = mulk<T>(add<T>(x1, x2), 0.5);
    o0 = add<T>(x0, p);
    o1 = mulk<T>(sub<T>(x1, x2), 0.5);
    o2 = add<T>(p, x3);
  } else if (alpha == 6) {
    const x4 = ld<T>(s + 4 * ss, o), x5 = ld<T>(s + 5 * ss, o);
    const p12 = mulk<T>(add<T>(x1, x2), <f32>(-1.0 / 6)), p34 = add<T>(x3, x4);
    o0 = add<T>(add<T>(mulk<T>(x0, 0.25), p12), mulk<T>(p34, <f32>(1.0 / 24)));
    o1 = add<T>(mulk<T>(sub<T>(x2, x1), <f32>(1.0 / 6)), mulk<T>(sub<T>(x3, x4), <f32>(1.0 / 12)));
    o2 = add<T>(add<T>(p12, mulk<T>(p34, <f32>(1.0 / 6))), x5);
  } else {
    const x4 = ld<T>(s + 4 * ss, o), x5 = ld<T>(s + 5 * ss, o), x6 = ld<T>(s + 6 * ss, o), x7 = ld<T>(s + 7 * ss, o);
    // the ± pairs of G's rows: P = sum (even powers), M = difference (odd powers)
    const P1 = mulk<T>(add<T>(x1, x2), <f32>(-2.0 / 9)), M1 = mulk<T>(sub<T>(x1, x2), <f32>(-2.0 / 9));
    const P2 = add<T>(x3, x4), M2 = sub<T>(x3, x4), P3 = add<T>(x5, x6), M3 = sub<T>(x5, x6);
    o0 = add<T>(add<T>(add<T>(x0, P1), mulk<T>(P2, <f32>(32.0 / 45))), mulk<T>(P3, <f32>(1.0 / 90)));
    o1 = add<T>(add<T>(M1, mulk<T>(M2, <f32>(16.0 / 45))), mulk<T>(M3, <f32>(1.0 / 45)));
    o2 = add<T>(add<T>(P1, mulk<T>(P2, <f32>(8.0 / 45))), mulk<T>(P3, <f32>(2.0 / 45)));
    o3 = add<T>(add<T>(M1, mulk<T>(M2, <f32>(4.0 / 45))), mulk<T>(M3, <f32>(4.0 / 45)));
    o4 = add<T>(add<T>(add<T>(P1, mulk<T>(P2, <f32>(2.0 / 45))), mulk<T>(P3, <f32>(8.0 / 45))), x7);
  }
  if (acc) {
    o0 = add<T>(ld<T>(d, o), o0); o1 = add<T>(ld<T>(d + ds, o), o1); o2 = add<T>(ld<T>(d + 2 * ds, o), o2);
  }
  st<T>(d, o, o0); st<T>(d + ds, o, o1); st<T>(d + 2 * ds, o, o2);
  if (alpha == 8) {
    if (acc) { o3 = add<T>(ld<T>(d + 3 * ds, o), o3); o4 = add<T>(ld<T>(d + 4 * ds, o), o4); }
    st<T>(d + 3 * ds, o, o3); st<T>(d + 4 * ds, o, o4);
  }
}

// d <- the max of s0, s1, s2, s3 in that order, a later value taken only when greater (as max pooling
// does: the first maximum wins, and the bits are those of the separate pooling kernel).
// @ts-ignore: decorator
@inline function max4<T>(o: usize, s0: usize, s1: usize, s2: usize, s3: usize, d: usize): void {
  let b = ld<T>(s0, o);
  if (isVector<T>()) {
    let v = ld<T>(s1, o);
    b = <T>v128.bitselect(<v128>v, <v128>b, f32x4.gt(<v128>v, <v128>b));
    v = ld<T>(s2, o);
    b = <T>v128.bitselect(<v128>v, <v128>b, f32x4.gt(<v128>v, <v128>b));
    v = ld<T>(s3, o);
    b = <T>v128.bitselect(<v128>v, <v128>b, f32x4.gt(<v128>v, <v128>b));
  } else {
    let v = ld<T>(s1, o);
    if (<f32>v > <f32>b) b = v;
    v = ld<T>(s2, o);
    if (<f32>v > <f32>b) b = v;
    v = ld<T>(s3, o);
    if (<f32>v > <f32>b) b = v;
  }
  st<T>(d, o, b);
}

// ---------------------------------------------------------------------------------------------
// The same transforms over a whole channel vector of n floats: v128 groups, then a scalar tail.
// ---------------------------------------------------------------------------------------------

// max4 over a channel vector of n floats.
function max4_n(n: i32, s0: usize, s1: usize, s2: usize, s3: usize, d: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) max4<v128>(o, s0, s1, s2, s3, d); }
  for (; o < end; o += 4) max4<f32>(o, s0, s1, s2, s3, d);
}

// Bᵀ of the 4 or 6 sources s0 .. (F(2,3), F(4,3)).
function bt_n(alpha: i32, n: i32, s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize,
  d: usize, ds: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (alpha == 4) {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) bt4<v128>(o, s0, s1, s2, s3, d, ds); }
    for (; o < end; o += 4) bt4<f32>(o, s0, s1, s2, s3, d, ds);
  } else {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) bt6<v128>(o, s0, s1, s2, s3, s4, s5, d, ds); }
    for (; o < end; o += 4) bt6<f32>(o, s0, s1, s2, s3, s4, s5, d, ds);
  }
}

function bt8_n(n: i32, s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize, s6: usize, s7: usize,
  d: usize, ds: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) bt8<v128>(o, s0, s1, s2, s3, s4, s5, s6, s7, d, ds); }
  for (; o < end; o += 4) bt8<f32>(o, s0, s1, s2, s3, s4, s5, s6, s7, d, ds);
}

// G of the r sources s + i*ss.
function g_n(alpha: i32, n: i32, s: usize, ss: usize, d: usize, ds: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (alpha == 4) {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) g4<v128>(o, s, s + ss, s + 2 * ss, d, ds); }
    for (; o < end; o += 4) g4<f32>(o, s, s + ss, s + 2 * ss, d, ds);
  } else if (alpha == 6) {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) g6<v128>(o, s, s + ss, s + 2 * ss, d, ds); }
    for (; o < end; o += 4) g6<f32>(o, s, s + ss, s + 2 * ss, d, ds);
  } else {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) g8<v128>(o, s, ss, d, ds); }
    for (; o < end; o += 4) g8<f32>(o, s, ss, d, ds);
  }
}

// Aᵀ of the alpha sources s + i*ss into d0 .. d(m-1) (d2, d3 unused for F(2,3)).
function at_n(alpha: i32, n: i32, s: usize, ss: usize, d0: usize, d1: usize, d2: usize, d3: usize,
  bias: usize, flags: i32): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (alpha == 4) {
    const s1 = s + ss, s2 = s + 2 * ss, s3 = s + 3 * ss;
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) at4<v128>(o, s, s1, s2, s3, d0, d1, bias, flags); }
    for (; o < end; o += 4) at4<f32>(o, s, s1, s2, s3, d0, d1, bias, flags);
  } else if (alpha == 6) {
    const s1 = s + ss, s2 = s + 2 * ss, s3 = s + 3 * ss, s4 = s + 4 * ss, s5 = s + 5 * ss;
    if (ASC_FEATURE_SIMD) {
      for (; o + 16 <= end; o += 16) at6<v128>(o, s, s1, s2, s3, s4, s5, d0, d1, d2, d3, bias, flags);
    }
    for (; o < end; o += 4) at6<f32>(o, s, s1, s2, s3, s4, s5, d0, d1, d2, d3, bias, flags);
  } else {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) at8<v128>(o, s, ss, d0, d1, d2, d3, bias, flags); }
    for (; o < end; o += 4) at8<f32>(o, s, ss, d0, d1, d2, d3, bias, flags);
  }
}

// A of the m sources s0 .. (s2, s3 unused for F(2,3)).
function a_n(alpha: i32, n: i32, s0: usize, s1: usize, s2: usize, s3: usize, d: usize, ds: usize): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (alpha == 4) {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) a4<v128>(o, s0, s1, d, ds); }
    for (; o < end; o += 4) a4<f32>(o, s0, s1, d, ds);
  } else if (alpha == 6) {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) a6<v128>(o, s0, s1, s2, s3, d, ds); }
    for (; o < end; o += 4) a6<f32>(o, s0, s1, s2, s3, d, ds);
  } else {
    if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) a8<v128>(o, s0, s1, s2, s3, d, ds); }
    for (; o < end; o += 4) a8<f32>(o, s0, s1, s2, s3, d, ds);
  }
}

function gt_n(alpha: i32, n: i32, s: usize, ss: usize, d: usize, ds: usize, acc: bool): void {
  const end = <usize>n << 2;
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) { for (; o + 16 <= end; o += 16) gt<v128>(o, alpha, s, ss, d, ds, acc); }
  for (; o < end; o += 4) gt<f32>(o, alpha, s, ss, d, ds, acc);
}

// ---------------------------------------------------------------------------------------------
// Sizes (floats) of the buffers the TypeScript side allocates. (m, r) is (2, 3), (4, 3) or (4, 5).
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function alphaOf(m: i32, r: i32): i32 { return m + r - 1; }

// Packed transformed weights: alpha^2 gemm panels sets of a (Cin, Cout) matrix.
// (Sizes are element counts computed in i64 and saturated by size_count: see gemm.ts.)
export function winograd_pack_size(m: i32, r: i32, Cin: i32, Cout: i32): i32 {
  const a = <i64>alphaOf(m, r);
  return size_count(a * a * <i64>pack_b_size(Cin, Cout));
}

// Scratch of winograd_weight for a (r, r, C, K) weight (either direction).
export function winograd_weight_work(m: i32, r: i32, C: i32, K: i32): i32 {
  const a = <i64>alphaOf(m, r), CK = <i64>C * <i64>K;
  return size_count(a * a * CK + a * <i64>r * <i64>max(C, K) + <i64>(r * r) * CK);
}

// Scratch of one winograd_forward call: V and M blocks, a transform row buffer, a zero row, a sink row and
// an output tile (for WINO_POOL).
export function winograd_forward_work(m: i32, r: i32, TB: i32, C: i32, K: i32): i32 {
  const a = <i64>alphaOf(m, r), mx = <i64>max(C, K);
  const T = a * a;
  return size_count(T * <i64>TB * <i64>C + T * <i64>TB * <i64>K + T * mx + mx + <i64>K + <i64>(m * m) * <i64>K + 8);
}

// Scratch of one winograd_backward_weight call: V and dM blocks, a row buffer, a zero row, a packed dM.
export function winograd_backward_weight_work(m: i32, r: i32, TB: i32, C: i32, K: i32): i32 {
  const a = <i64>alphaOf(m, r), mx = <i64>max(C, K);
  const T = a * a;
  return size_count(T * <i64>TB * <i64>C + T * <i64>TB * <i64>K + T * mx + mx + <i64>pack_b_size(TB, K) + 8);
}

// ---------------------------------------------------------------------------------------------
// Weight transform
// ---------------------------------------------------------------------------------------------

// upack <- U = G g Gᵀ of each (cin, cout) pair, as alpha^2 packed (Cin, Cout) gemm operands.
// flip = 0: g[kh][kw][c][k] is the weight itself, Cin = C, Cout = K.
// flip = 1: g[kh][kw][k][c] = weight[r-1-kh][r-1-kw][c][k] (the kernel of the input gradient), Cin = K, Cout = C.
export function winograd_weight(upack: usize, weight: usize, work: usize, C: i32, K: i32, m: i32, r: i32,
  flip: i32): void {
  const a = alphaOf(m, r);
  const T = a * a;
  let Cin = C, Cout = K;
  let g = weight;
  const u = work; // (T, Cin, Cout)
  const tmp = work + (<usize>(T * C * K) << 2); // (a, r, Cout)
  if (flip) {
    Cin = K; Cout = C;
    g = tmp + (<usize>(a * r * max(C, K)) << 2); // (r, r, K, C)
    const taps = r * r;
    for (let t = 0; t < taps; t++) {
      const src = weight + (<usize>((taps - 1 - t) * C * K) << 2);
      const dst = g + (<usize>(t * C * K) << 2);
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < K; k++) {
          store<f32>(dst + (<usize>(k * C + c) << 2), load<f32>(src + (<usize>(c * K + k) << 2)));
        }
      }
    }
  }
  const rowB = <usize>Cout << 2;
  const uStride = <usize>(Cin * Cout) << 2; // between the matrices of U
  const tapRow = <usize>(r * Cin * Cout) << 2; // from kernel row to the next
  for (let c = 0; c < Cin; c++) {
    // tmp[i][b] = Σ_a G[i][a] g[a][b][c]: the r kernel rows a of column b, vectorised over Cout.
    for (let b = 0; b < r; b++) {
      g_n(a, Cout, g + (<usize>((b * Cin + c) * Cout) << 2), tapRow, tmp + <usize>b * rowB, <usize>r * rowB);
    }
    // U[i*a + j][c] = Σ_b tmp[i][b] G[j][b]
    for (let i = 0; i < a; i++) {
      g_n(a, Cout, tmp + <usize>(i * r) * rowB, rowB, u + <usize>(i * a) * uStride + <usize>c * rowB, uStride);
    }
  }
  const P = <usize>pack_b_size(Cin, Cout) << 2;
  for (let xi = 0; xi < T; xi++) {
    pack_b(upack + <usize>xi * P, u + <usize>xi * uStride, 0, Cin, Cout, Cout, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------------------------

// out (N, OH, OW, K) <- winograd conv of inp (N, H, W, C) for output tiles t0 .. t1-1 (see header);
// upack from winograd_weight (flip 0, or flip 1 for the input gradient); bias (K) or 0;
// work: winograd_forward_work(m, r, TB, C, K) floats; flags: WINO_RELU | WINO_ACC. (oy, ox) shift the input
// window (an r x r piece of a larger kernel, whose padding minus the offset can be negative).
export function winograd_forward(out: usize, inp: usize, upack: usize, bias: usize, work: usize,
  geom: usize, m: i32, r: i32, TB: i32, t0: i32, t1: i32, flags: i32, oy: i32, ox: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, PT = g.PT, PL = g.PL, OH = g.OH, OW = g.OW;
  const a = alphaOf(m, r);
  const T = a * a;
  const TH = (OH + m - 1) / m, TW = (OW + m - 1) / m;
  const KB = <usize>K << 2;
  const vbuf = work;
  const mbuf = vbuf + (<usize>(T * TB * C) << 2);
  const tmp = mbuf + (<usize>(T * TB * K) << 2);
  const zeros = tmp + (<usize>(a * a * max(C, K)) << 2);
  const sink = zeros + (<usize>max(C, K) << 2);
  const tile = sink + KB; // (m, m, K): one output tile before its pooling
  memory.fill(zeros, 0, <usize>max(C, K) << 2);
  const pool = (flags & WINO_POOL) != 0;
  const POH = OH >> 1, POW = OW >> 1;
  const vStride = <usize>(TB * C) << 2; // between the matrices of V
  const mStride = <usize>(TB * K) << 2;
  const P = <usize>pack_b_size(C, K) << 2;
  for (let tb = t0; tb < t1; tb += TB) {
    const nb = min(TB, t1 - tb);
    input_block(vbuf, inp, tmp, zeros, tb, nb, TB, H, W, C, PT - oy, PL - ox, m, a, TH, TW);
    // The alpha^2 products, each (nb, C) x (C, K).
    for (let xi = 0; xi < T; xi++) {
      gemm(mbuf + <usize>xi * mStride, vbuf + <usize>xi * vStride, upack + <usize>xi * P, nb, K, C, C, 1, K, 0);
    }
    // Output transform of each tile.
    const oRow = <usize>a * KB; // tmp row for the output transform
    for (let q = 0; q < nb; q++) {
      const t = tb + q;
      const n = t / (TH * TW);
      const rem = t - n * TH * TW;
      const th = rem / TW, tw = rem - th * TW;
      const oh0 = th * m, ow0 = tw * m;
      const oimg = out + <usize>n * <usize>(OH * OW) * KB;
      const mq = mbuf + <usize>q * KB;
      // tmp[i][j] = Σ_r Aᵀ[i][r] M[r*a + j], column by column (i < m).
      for (let j = 0; j < a; j++) {
        const d = tmp + <usize>j * KB;
        at_n(a, K, mq + <usize>j * mStride, <usize>a * mStride, d, d + oRow, d + 2 * oRow, d + 3 * oRow, 0, 0);
      }
      if (pool) {
        // the whole m x m tile (+ bias, relu), then each 2x2 window of it whose pooled pixel is inside
        for (let i = 0; i < m; i++) {
          const d = tile + <usize>(i * m) * KB;
          at_n(a, K, tmp + <usize>i * oRow, KB, d, d + KB, d + 2 * KB, d + 3 * KB, bias, flags & WINO_RELU);
        }
        const pimg = out + <usize>n * <usize>(POH * POW) * KB;
        for (let pi = 0; pi < m >> 1; pi++) {
          const ph = (oh0 >> 1) + pi;
          if (ph >= POH) break;
          for (let pj = 0; pj < m >> 1; pj++) {
            const pw = (ow0 >> 1) + pj;
            if (pw >= POW) break;
            const s = tile + <usize>(2 * pi * m + 2 * pj) * KB;
            max4_n(K, s, s + KB, s + <usize>m * KB, s + <usize>(m + 1) * KB, pimg + <usize>(ph * POW + pw) * KB);
          }
        }
        continue;
      }
      // out[oh0 + i][ow0 + j] = Σ_c tmp[i][c] Aᵀ[j][c]; pixels past the image edge go to the sink.
      for (let i = 0; i < m; i++) {
        const oh = oh0 + i;
        const rowOk = oh < OH;
        const base = oimg + <usize>(oh * OW) * KB;
        const d0 = rowOk && ow0 < OW ? base + <usize>ow0 * KB : sink;
        const d1 = rowOk && ow0 + 1 < OW ? base + <usize>(ow0 + 1) * KB : sink;
        const d2 = rowOk && ow0 + 2 < OW ? base + <usize>(ow0 + 2) * KB : sink;
        const d3 = rowOk && ow0 + 3 < OW ? base + <usize>(ow0 + 3) * KB : sink;
        at_n(a, K, tmp + <usize>i * oRow, KB, d0, d1, d2, d3, bias, flags);
      }
    }
  }
}


// V (T, TB, C) rows 0 .. nb-1 <- Bᵀ d B of the input patches of tiles tb .. tb+nb-1 (see header).
function input_block(vbuf: usize, inp: usize, tmp: usize, zeros: usize, tb: i32, nb: i32, TB: i32,
  H: i32, W: i32, C: i32, PT: i32, PL: i32, m: i32, a: i32, TH: i32, TW: i32): void {
  const CB = <usize>C << 2;
  const tRow = <usize>a * CB; // tmp row (a values of C)
  const vStride = <usize>(TB * C) << 2;
  // Input transform of each tile of the block.
  for (let q = 0; q < nb; q++) {
    const t = tb + q;
    const n = t / (TH * TW);
    const rem = t - n * TH * TW;
    const th = rem / TW, tw = rem - th * TW;
    const ih0 = th * m - PT, iw0 = tw * m - PL;
    const img = inp + <usize>n * <usize>(H * W) * CB;
    // tmp[i][j] = Σ_r Bᵀ[i][r] d[r][j], column by column; rows of the patch outside the image read zeros.
    for (let j = 0; j < a; j++) {
      const iw = iw0 + j;
      const colIn = iw >= 0 && iw < W;
      const p0 = pix(img, zeros, ih0, iw, colIn, H, W, CB);
      const p1 = pix(img, zeros, ih0 + 1, iw, colIn, H, W, CB);
      const p2 = pix(img, zeros, ih0 + 2, iw, colIn, H, W, CB);
      const p3 = pix(img, zeros, ih0 + 3, iw, colIn, H, W, CB);
      const p4 = pix(img, zeros, ih0 + 4, iw, colIn, H, W, CB);
      const p5 = pix(img, zeros, ih0 + 5, iw, colIn, H, W, CB);
      const d = tmp + <usize>j * CB;
      if (a == 8) {
        const p6 = pix(img, zeros, ih0 + 6, iw, colIn, H, W, CB);
        const p7 = pix(img, zeros, ih0 + 7, iw, colIn, H, W, CB);
        bt8_n(C, p0, p1, p2, p3, p4, p5, p6, p7, d, tRow);
      } else {
        bt_n(a, C, p0, p1, p2, p3, p4, p5, d, tRow);
      }
    }
    // V[i*a + j][q] = Σ_c tmp[i][c] Bᵀ[j][c]
    for (let i = 0; i < a; i++) {
      const s = tmp + <usize>i * tRow;
      const d = vbuf + <usize>(i * a) * vStride + <usize>q * CB;
      if (a == 8) {
        bt8_n(C, s, s + CB, s + 2 * CB, s + 3 * CB, s + 4 * CB, s + 5 * CB, s + 6 * CB, s + 7 * CB, d, vStride);
      } else {
        bt_n(a, C, s, s + CB, s + 2 * CB, s + 3 * CB, s + 4 * CB, s + 5 * CB, d, vStride);
      }
    }
  }
}

// Address of pixel (ih, iw) of img, or of the zero row when it lies in the padding.
// @ts-ignore: decorator
@inline function pix(img: usize, zeros: usize, ih: i32, iw: i32, colIn: bool, H: i32, W: i32, CB: usize): usize {
  return colIn && ih >= 0 && ih < H ? img + <usize>(ih * W + iw) * CB : zeros;
}

// ---------------------------------------------------------------------------------------------
// Weight gradient
// ---------------------------------------------------------------------------------------------

// du (T, C, K) += Σ over tiles t0 .. t1-1 of V[xi][t]ᵀ dM[xi][t], dM = A dY Aᵀ of each tile's m x m block of
// dout (N, OH, OW, K) (zeros past the edge); inp (N, H, W, C). work: winograd_backward_weight_work floats.
export function winograd_backward_weight(du: usize, dout: usize, inp: usize, work: usize,
  geom: usize, m: i32, r: i32, TB: i32, t0: i32, t1: i32, oy: i32, ox: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, K = g.K, PT = g.PT, PL = g.PL, OH = g.OH, OW = g.OW;
  const a = alphaOf(m, r);
  const T = a * a;
  const TH = (OH + m - 1) / m, TW = (OW + m - 1) / m;
  const KB = <usize>K << 2;
  const vbuf = work;
  const mbuf = vbuf + (<usize>(T * TB * C) << 2);
  const tmp = mbuf + (<usize>(T * TB * K) << 2);
  const zeros = tmp + (<usize>(a * a * max(C, K)) << 2);
  const dpack = zeros + (<usize>max(C, K) << 2);
  memory.fill(zeros, 0, <usize>max(C, K) << 2);
  const vStride = <usize>(TB * C) << 2;
  const mStride = <usize>(TB * K) << 2;
  const uStride = <usize>(C * K) << 2;
  const oRow = <usize>a * KB;
  for (let tb = t0; tb < t1; tb += TB) {
    const nb = min(TB, t1 - tb);
    input_block(vbuf, inp, tmp, zeros, tb, nb, TB, H, W, C, PT - oy, PL - ox, m, a, TH, TW);
    for (let q = 0; q < nb; q++) {
      const t = tb + q;
      const n = t / (TH * TW);
      const rem = t - n * TH * TW;
      const th = rem / TW, tw = rem - th * TW;
      const oh0 = th * m, ow0 = tw * m;
      const oimg = dout + <usize>n * <usize>(OH * OW) * KB;
      // tmp[i][s] = Σ_j dY[i][j] Aᵀ[j][s] row by row (i < m), then dM[r*a + s][q] = Σ_i Aᵀ[i][r] tmp[i][s].
      for (let i = 0; i < m; i++) {
        const oh = oh0 + i;
        const rowOk = oh < OH;
        const base = oimg + <usize>(oh * OW) * KB;
        const p0 = rowOk && ow0 < OW ? base + <usize>ow0 * KB : zeros;
        const p1 = rowOk && ow0 + 1 < OW ? base + <usize>(ow0 + 1) * KB : zeros;
        const p2 = rowOk && ow0 + 2 < OW ? base + <usize>(ow0 + 2) * KB : zeros;
        const p3 = rowOk && ow0 + 3 < OW ? base + <usize>(ow0 + 3) * KB : zeros;
        a_n(a, K, p0, p1, p2, p3, tmp + <usize>i * oRow, KB);
      }
      for (let s2 = 0; s2 < a; s2++) {
        const s = tmp + <usize>s2 * KB;
        a_n(a, K, s, s + oRow, s + 2 * oRow, s + 3 * oRow, mbuf + <usize>s2 * mStride + <usize>q * KB, <usize>a * mStride);
      }
    }
    for (let xi = 0; xi < T; xi++) {
      pack_b(dpack, mbuf + <usize>xi * mStride, 0, nb, K, K, 1);
      // A = V[xi]ᵀ (C, nb): element (c, q) at q*C + c -> rsa = 1, csa = C.
      gemm(du + <usize>xi * uStride, vbuf + <usize>xi * vStride, dpack, C, K, nb, 1, C, K, GEMM_ACC);
    }
  }
}

// dweight (r, r, C, K) += Gᵀ dU G of du (T, C, K); tmp: r * alpha * K floats.
export function winograd_weight_grad(dweight: usize, du: usize, tmp: usize, C: i32, K: i32, m: i32, r: i32): void {
  const a = alphaOf(m, r);
  const KB = <usize>K << 2;
  const uStride = <usize>(C * K) << 2;
  const tap = <usize>(C * K) << 2; // between kernel taps of dweight
  for (let c = 0; c < C; c++) {
    // tmp[p][j] = Σ_i G[i][p] dU[i*a + j][c]  (p < r), then dW[p][q][c] += Σ_j tmp[p][j] G[j][q].
    for (let j = 0; j < a; j++) {
      gt_n(a, K, du + <usize>j * uStride + <usize>c * KB, <usize>a * uStride, tmp + <usize>j * KB, <usize>a * KB, false);
    }
    for (let p = 0; p < r; p++) {
      gt_n(a, K, tmp + <usize>(p * a) * KB, KB, dweight + <usize>(r * p) * tap + <usize>c * KB, tap, true);
    }
  }
}
