// Small SIMD helpers shared by the kernels. madd is mul then add (two roundings), never fused:
// f32x4.relaxed_madd rounds differently on FMA and non-FMA CPUs, which would break the
// same-bits-everywhere promise. The scalar build never reaches these (guarded by ASC_FEATURE_SIMD).

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

// The GEMM microkernel's multiply-add: fused (f32x4.relaxed_madd: one rounding on FMA hardware, two
// elsewhere) in the opt-in relaxed build only, so that build's results depend on the CPU; madd in all others.
// @ts-ignore: decorator
@inline export function madd_gemm(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// relu as pmax(x, 0) = (x < 0 ? 0 : x); the scalar build uses the same select, so -0 and +0 agree.
// @ts-ignore: decorator
@inline export function relu4(x: v128): v128 {
  return f32x4.pmax(x, f32x4.splat(0));
}

// @ts-ignore: decorator
@inline export function relu1(x: f32): f32 {
  return x < 0 ? <f32>0 : x;
}

// The activations a kernel's store can apply, by code: 0 none, 1 relu, 2 relu6 = min(relu(x), 6)
// (pmin(x, 6) = 6 < x ? 6 : x; the scalar form is the same select).
// @ts-ignore: decorator
@inline export function act4(x: v128, act: i32): v128 {
  if (act == 0) return x;
  const r = f32x4.pmax(x, f32x4.splat(0));
  return act == 2 ? f32x4.pmin(r, f32x4.splat(6)) : r;
}

// @ts-ignore: decorator
@inline export function act1(x: f32, act: i32): f32 {
  if (act == 0) return x;
  const r: f32 = x < 0 ? <f32>0 : x;
  return act == 2 && <f32>6 < r ? <f32>6 : r;
}
