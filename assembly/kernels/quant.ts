// 8-bit quantization: float32 <-> int8/uint8 tensors, and requantization of int32 accumulators to int8.
//
// quantize:   q = clamp(nearest_even(x / scale_c) + zp_c, qmin, qmax)   (ONNX QuantizeLinear; f32 division)
// dequantize: x = f32(q - zp_c) * scale_c                                (ONNX DequantizeLinear)
// c = i % C: C = 1 is per-tensor, C > 1 per channel along the last (contiguous) axis.
//
// Requantization int32 -> int8, as onnxruntime's QLinearConv (MLAS) and XNNPACK's fp32 kernels compute it:
//   out = clamp(nearest_even(f32(acc) * scale_c), qmin - zp, qmax - zp) + zp
// with scale_c = f32(f32(x.scale * w.scale[c]) / out.scale), f32(acc) rounded to nearest even, one f32
// product. Rounding the clamped product by adding 1.5 * 2^23 (the sum's ulp is 1, so the float adder rounds
// half to even) is exact while |y| <= 2^22, so y is first clamped to +-2^22 (the output range lies inside).
// The parameter block `req` (i32): [zp, qmin, qmax, 0 | scale f32 (NP) | unused (NP)], NP = N rounded up to 8.
// Everything here is integer or correctly rounded f32 arithmetic: SIMD and scalar builds give the same bits.

// Bytes of the requantization block of N output channels.
export function requant_size(N: i32): i32 {
  return 16 + (((N + 7) & ~7) << 3);
}

// Byte offsets into a requantization block of N channels: the scales, then an unused run of NP words.
// @ts-ignore: decorator
@inline export function req_mult(req: usize): usize {
  return req + 16;
}

// @ts-ignore: decorator
@inline export function req_pow(req: usize, N: i32): usize {
  return req + 16 + (<usize>((N + 7) & ~7) << 2);
}

const LIMIT: f32 = 4194304.0; // 2^22
const MAGIC: f32 = 12582912.0; // 1.5 * 2^23
const MAGIC_BITS: i32 = 0x4b400000;

// One accumulator to int8 (see header); scale: the channel's f32 scale as i32 bits (the block's word);
// lo = qmin - zp, hi = qmax - zp. `pow` is unused.
// @ts-ignore: decorator
@inline export function requant1(acc: i32, scale: i32, pow: i32, lo: i32, hi: i32, zp: i32): i32 {
  const y = min(max(<f32>acc * reinterpret<f32>(scale), -LIMIT), LIMIT);
  const r = reinterpret<i32>(y + MAGIC) - MAGIC_BITS;
  return min(max(r, lo), hi) + zp;
}

// Four accumulators (one per lane) to int8 values in i32 lanes; the same arithmetic as requant1.
// vscale: four f32 scales; vpow is unused.
// @ts-ignore: decorator
@inline export function requant4(acc: v128, vscale: v128, vpow: v128, vlo: v128, vhi: v128, vzp: v128): v128 {
  const y = f32x4.pmin(f32x4.pmax(f32x4.mul(f32x4.convert_i32x4_s(acc), vscale), f32x4.splat(-LIMIT)), f32x4.splat(LIMIT));
  const r = i32x4.sub(f32x4.add(y, f32x4.splat(MAGIC)), i32x4.splat(MAGIC_BITS));
  return i32x4.add(i32x4.min_s(i32x4.max_s(r, vlo), vhi), vzp);
}

// out int8 (M, N) <- requantized acc int32 (M, N); channel j of each row uses the block's column j.
export function requantize(out: usize, acc: usize, req: usize, M: i32, N: i32): void {
  const zp = load<i32>(req), lo = load<i32>(req, 4) - zp, hi = load<i32>(req, 8) - zp;
  const pm = req_mult(req), pp = req_pow(req, N);
  for (let i = 0; i < M; i++) {
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vzp = i32x4.splat(zp), vlo = i32x4.splat(lo), vhi = i32x4.splat(hi);
      for (; j + 8 <= N; j += 8) {
        const jB = <usize>j << 2;
        const r0 = requant4(v128.load(acc + jB), v128.load(pm + jB), v128.load(pp + jB), vlo, vhi, vzp);
        const r1 = requant4(v128.load(acc + jB, 16), v128.load(pm + jB, 16), v128.load(pp + jB, 16), vlo, vhi, vzp);
        const b = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(r0, r1), i16x8.splat(0));
        v128.store64_lane(out + <usize>j, b, 0);
      }
    }
    for (; j < N; j++) {
      const jB = <usize>j << 2;
      store<i8>(out + <usize>j, <i8>requant1(load<i32>(acc + jB), load<i32>(pm + jB), load<i32>(pp + jB), lo, hi, zp));
    }
    out += <usize>N;
    acc += <usize>N << 2;
  }
}

// out (n) 8-bit <- quantized inp f32 (n); scales f32 (C), zps i32 (C); qmin/qmax: -128/127 (int8) or 0/255 (uint8).
// Inputs must be finite (the ops check). The quotient is clamped to [qmin - zp, qmax - zp] (integers, so
// clamping before rounding changes nothing) and rounded half to even by adding 1.5 * 2^23; the zero point
// is added to the integer. 16 values a step, narrowed to bytes with saturation that never triggers.
export function quantize(out: usize, inp: usize, scales: usize, zps: usize, n: i32, C: i32, qmin: i32, qmax: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD && C == 1) {
    const s = f32x4.splat(load<f32>(scales));
    const zp = load<i32>(zps);
    const flo = f32x4.splat(<f32>(qmin - zp)), fhi = f32x4.splat(<f32>(qmax - zp));
    const magic = f32x4.splat(MAGIC), bias = i32x4.splat(zp - MAGIC_BITS);
    for (; i + 16 <= n; i += 16) {
      const p = inp + (<usize>i << 2);
      const q0 = i32x4.add(f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.div(v128.load(p), s), flo), fhi), magic), bias);
      const q1 = i32x4.add(f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.div(v128.load(p, 16), s), flo), fhi), magic), bias);
      const q2 = i32x4.add(f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.div(v128.load(p, 32), s), flo), fhi), magic), bias);
      const q3 = i32x4.add(f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.div(v128.load(p, 48), s), flo), fhi), magic), bias);
      const lo = i16x8.narrow_i32x4_s(q0, q1), hi = i16x8.narrow_i32x4_s(q2, q3);
      v128.store(out + <usize>i, qmin < 0 ? i8x16.narrow_i16x8_s(lo, hi) : i8x16.narrow_i16x8_u(lo, hi));
    }
  }
  for (; i < n; i++) {
    const c = C == 1 ? 0 : i % C;
    const zp = load<i32>(zps + (<usize>c << 2));
    let y = load<f32>(inp + (<usize>i << 2)) / load<f32>(scales + (<usize>c << 2));
    y = min(max(y, <f32>(qmin - zp)), <f32>(qmax - zp));
    store<u8>(out + <usize>i, <u8>((reinterpret<i32>(y + MAGIC) - MAGIC_BITS) + zp));
  }
}

// out f32 (n) <- dequantized inp 8-bit (n), int8 when signed != 0 else uint8; scales f32 (C), zps i32 (C).
export function dequantize(out: usize, inp: usize, scales: usize, zps: usize, n: i32, C: i32, signed: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD && C == 1) {
    const s = f32x4.splat(load<f32>(scales));
    const vzp = i32x4.splat(load<i32>(zps));
    for (; i + 4 <= n; i += 4) {
      const raw = v128.load32_zero(inp + <usize>i);
      const q = signed
        ? i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(raw))
        : i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(raw));
      v128.store(out + (<usize>i << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(q, vzp)), s));
    }
  }
  for (; i < n; i++) {
    const c = C == 1 ? 0 : i % C;
    const q: i32 = signed ? <i32>load<i8>(inp + <usize>i) : <i32>load<u8>(inp + <usize>i);
    store<f32>(out + (<usize>i << 2), <f32>(q - load<i32>(zps + (<usize>c << 2))) * load<f32>(scales + (<usize>c << 2)));
  }
}
