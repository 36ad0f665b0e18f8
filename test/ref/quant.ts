// Integer references of the 8-bit kernels (assembly/kernels/quant.ts, qgemm.ts, qdwconv2d.ts), in plain loops.
// Requantization follows TFLite's reference code literally (QuantizeMultiplier, SaturatingRoundingDoublingHighMul
// with C's truncating division, RoundingDivideByPOT with its mask and threshold), in BigInt, so it checks the
// kernels' shift-based form of the same rounding independently.
// Layouts: x (N, H, W, C), conv weight (KH, KW, C, K), depthwise weight (KH, KW, C), out (N, OH, OW, K).

/** Round half to even (ONNX QuantizeLinear, wasm f32.nearest). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** q = clamp(roundHalfEven(f32(x / s_c)) + zp_c), c = i % C. */
export function quantizeRef(
  x: ArrayLike<number>,
  scales: ArrayLike<number>,
  zps: ArrayLike<number>,
  qmin: number,
  qmax: number,
): Int32Array {
  const C = scales.length;
  return Int32Array.from(x, (v, i) => {
    const c = i % C;
    const y = roundHalfEven(Math.fround(v / scales[c]!)) + zps[c]!;
    return Math.min(qmax, Math.max(qmin, y));
  });
}

/** x = f32(f32(q - zp_c) * s_c). */
export function dequantizeRef(q: ArrayLike<number>, scales: ArrayLike<number>, zps: ArrayLike<number>): Float32Array {
  const C = scales.length;
  return Float32Array.from(q, (v, i) => Math.fround((v - zps[i % C]!) * scales[i % C]!));
}

/** TFLite QuantizeMultiplier for 0 <= M < 1: M ~ mult * 2^-(31 + e), mult in [2^30, 2^31), e >= 0. */
export function quantizeMultiplierRef(M: number): { mult: number; e: number } {
  if (M === 0) return { mult: 0, e: 0 };
  // frexp: M = q * 2^shift, q in [0.5, 1)
  let q = M,
    shift = 0;
  while (q >= 1) {
    q /= 2;
    shift++;
  }
  while (q < 0.5) {
    q *= 2;
    shift--;
  }
  let qFixed = Math.round(q * 2 ** 31);
  if (qFixed === 2 ** 31) {
    qFixed /= 2;
    shift++;
  }
  let e = -shift;
  if (e > 30) {
    // beyond the kernels' largest shift: fewer bits of multiplier
    qFixed = Math.round(qFixed / 2 ** (e - 30));
    e = 30;
  }
  return { mult: qFixed, e };
}

const I64 = (v: number | bigint) => BigInt.asIntN(64, BigInt(v));

/** TFLite SaturatingRoundingDoublingHighMul (no saturation case: b is never INT32_MIN here). */
export function srdhm(a: number, b: number): number {
  const ab = I64(a) * I64(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n)); // BigInt division truncates toward zero, as C's does
}

/** TFLite RoundingDivideByPOT: x / 2^e rounded half away from zero. */
export function roundingDivideByPOT(x: number, e: number): number {
  const mask = (1 << e) - 1 || 0;
  const remainder = e === 0 ? 0 : (x & mask) >>> 0;
  const threshold = (mask >>> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/** One accumulator to the output range: MultiplyByQuantizedMultiplier + zp, clamped to [qmin, qmax]. */
export function requantRef(acc: number, mult: number, e: number, zp: number, qmin: number, qmax: number): number {
  const r = roundingDivideByPOT(srdhm(acc, mult), e) + zp;
  return Math.min(qmax, Math.max(qmin, r));
}

/** Per-channel requantization parameters and the output quantization. */
export interface ReqRef {
  mult: ArrayLike<number>;
  e: ArrayLike<number>;
  zp: number;
  qmin: number;
  qmax: number;
}

/** acc (M, N) -> int8 (M, N). */
export function requantizeRef(acc: ArrayLike<number>, N: number, r: ReqRef): Int32Array {
  return Int32Array.from(acc, (v, i) => requantRef(v, r.mult[i % N]!, r.e[i % N]!, r.zp, r.qmin, r.qmax));
}

/** acc (M, N) = bias + sum_k (a[i,k] - za) * w[k,j], in exact integers. */
export function qgemmAccRef(
  a: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  M: number,
  N: number,
  K: number,
  za: number,
): Int32Array {
  const out = new Int32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = bias ? bias[j]! : 0;
      for (let k = 0; k < K; k++) acc += (a[i * K + k]! - za) * w[k * N + j]!;
      out[i * N + j] = acc;
    }
  return out;
}

/** Convolution geometry of the references (dilation and groups of 1 unless given). */
export interface QGeom {
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PT: number;
  PL: number;
  OH: number;
  OW: number;
  DH?: number;
  DW?: number;
}

/** int32 accumulators (N, OH, OW, K) of an int8 convolution; taps in the padding contribute nothing. */
export function qconv2dAccRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  g: QGeom,
  N: number,
  za: number,
  depthwise = false,
): Int32Array {
  const { H, W, C, K, KH, KW, SH, SW, PT, PL, OH, OW } = g;
  const DH = g.DH ?? 1,
    DW = g.DW ?? 1;
  const out = new Int32Array(N * OH * OW * K);
  let o = 0;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let k = 0; k < K; k++) {
          let acc = bias ? bias[k]! : 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - PT + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - PL + kw * DW;
              if (iw < 0 || iw >= W) continue;
              const px = ((n * H + ih) * W + iw) * C;
              if (depthwise) acc += (x[px + k]! - za) * w[(kh * KW + kw) * C + k]!;
              else for (let c = 0; c < C; c++) acc += (x[px + c]! - za) * w[((kh * KW + kw) * C + c) * K + k]!;
            }
          }
          out[o++] = acc;
        }
  return out;
}
