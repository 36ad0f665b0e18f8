// Integer references of the 8-bit kernels (assembly/kernels/quant.ts, qgemm.ts, qdwconv2d.ts), in plain loops.
// Requantization is onnxruntime's (MLAS MlasRequantizeOutput): the accumulator converted to float32, times the
// float32 scale, clamped, rounded half to even, plus the zero point; written here with Math.fround and an
// explicit round-half-even, so it checks the kernels' magic-number rounding independently.
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

/** The float32 scale of one channel: f32(f32(xScale * wScale) / outScale), as onnxruntime computes it. */
export function requantScaleRef(xScale: number, wScale: number, outScale: number): number {
  return Math.fround(Math.fround(Math.fround(xScale) * Math.fround(wScale)) / Math.fround(outScale));
}

/** One accumulator to the output range: clamp(roundHalfEven(f32(f32(acc) * scale)) + zp, qmin, qmax). */
export function requantRef(acc: number, scale: number, zp: number, qmin: number, qmax: number): number {
  const y = Math.fround(Math.fround(acc) * Math.fround(scale));
  return Math.min(qmax, Math.max(qmin, roundHalfEven(y) + zp));
}

/** Per-channel requantization parameters and the output quantization. */
export interface ReqRef {
  /** float32 scales, one per channel. */
  scale: ArrayLike<number>;
  zp: number;
  qmin: number;
  qmax: number;
}

/** acc (M, N) -> int8 (M, N). */
export function requantizeRef(acc: ArrayLike<number>, N: number, r: ReqRef): Int32Array {
  return Int32Array.from(acc, (v, i) => requantRef(v, r.scale[i % N]!, r.zp, r.qmin, r.qmax));
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
