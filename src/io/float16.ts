// IEEE 754 half precision <-> float32, for float16 weights: tfjs' converter writes them
// (`--quantize_float16`), ONNX files may store float16 tensors, and `model.save({ weightDtype: 'float16' })`
// writes them. Decoding is exact; encoding rounds to nearest even.

/** The float32 value of the half-precision bit pattern `h` (0..65535): subnormals, infinities and NaN included. */
export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal: frac · 2^-14 · 2^-10
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The half-precision bit pattern nearest to `v` (ties to even); overflow gives ±Infinity. */
export function float32ToFloat16(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  // Subnormal range: multiples of 2^-24, rounded to even.
  if (a < 2 ** -14) return sign | roundEven(a * 2 ** 24);
  let exp = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two.
  if (2 ** exp > a) exp--;
  else if (2 ** (exp + 1) <= a) exp++;
  let frac = roundEven((a / 2 ** exp - 1) * 1024);
  if (frac === 1024) {
    frac = 0;
    exp++;
  }
  if (exp > 15) return sign | 0x7c00;
  return sign | ((exp + 15) << 10) | frac;
}

function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}
