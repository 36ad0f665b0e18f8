// How one array of the model file is stored (format version 3 on): float32, float16, or int8. An int8
// array without a scale holds integers verbatim (a quantized layer's int8 kernel, `kernel_q`); with
// scales it is a float array quantized symmetrically per channel along `axis`:
//   value = float32(q × scale[channel]),   q in [-127, 127],   scale = float32(max |w| over the channel / 127)
// (q × scale is exact in double, so rounding it once to float32 gives what a float32 multiply gives
// in any other implementation). The writer (io/simdnet.ts) and the loader (formats/simdnet/) share it.
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

/** How `model.save()` stores the model's float weights; see {@link SaveOptions}. */
export type WeightDtype = 'float32' | 'float16' | 'int8';
/** The storage types of the file's arrays. */
export const DTYPES: readonly WeightDtype[] = ['float32', 'float16', 'int8'];
/** Bytes per value of each storage type. */
export const DTYPE_BYTES: Record<WeightDtype, number> = { float32: 4, float16: 2, int8: 1 };

/** One array as stored: its type, its bytes and, for quantized int8, the scales and their axis. */
export interface Encoded {
  dtype: WeightDtype;
  bytes: Uint8Array;
  scale?: number[];
  axis?: number;
}

/** The axis int8 scales run along: the last one longer than 1 (Conv2D's and Dense's output channels, DepthwiseConv2D's channels). */
export function quantAxis(shape: readonly number[]): number {
  for (let a = shape.length - 1; a >= 0; a--) if (shape[a]! > 1) return a;
  return shape.length - 1;
}

/** Values after `axis` in row-major order: channel of flat index i = floor(i / inner) % shape[axis]. */
export function innerSize(shape: readonly number[], axis: number): number {
  return shape.slice(axis + 1).reduce((a, b) => a * b, 1);
}

/** float32 little-endian bytes of `v`. */
export function float32Bytes(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i]!, true);
  return out;
}

/** float16 bytes of `v`, or null when a finite value would overflow half precision (beyond ±65504). */
export function float16Bytes(v: Float32Array): Uint8Array | null {
  const out = new Uint8Array(v.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) {
    const h = float32ToFloat16(v[i]!);
    if ((h & 0x7fff) === 0x7c00 && Number.isFinite(v[i]!)) return null;
    dv.setUint16(i * 2, h, true);
  }
  return out;
}

/** int8 bytes of integer values; throws naming `what` when a value is not an integer in [-128, 127]. */
export function integerBytes(v: Float32Array, what: string): Uint8Array {
  const out = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isInteger(x) || x < -128 || x > 127 || Object.is(x, -0))
      throw new Error(`${what} is stored as int8 but holds ${x} at index ${i} (not an integer in [-128, 127])`);
    out[i] = x;
  }
  return new Uint8Array(out.buffer);
}

/** Symmetric per-channel int8 quantization of `v` (shape `shape`, rank 2 or more) along {@link quantAxis}. */
export function quantizeInt8(v: Float32Array, shape: readonly number[], what: string): Encoded {
  const axis = quantAxis(shape);
  const C = shape[axis]!;
  const inner = innerSize(shape, axis);
  const maxAbs = new Float64Array(C);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new Error(`${what} holds ${x} at index ${i}: only finite weights can be quantized`);
    const c = Math.floor(i / inner) % C;
    if (Math.abs(x) > maxAbs[c]!) maxAbs[c] = Math.abs(x);
  }
  // An all-zero channel (or one too small for a float32 scale) gets scale 1: all its values are 0.
  const scale = Array.from(maxAbs, (m) => {
    const s = Math.fround(m / 127);
    return s > 0 ? s : 1;
  });
  const q = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const r = v[i]! / scale[Math.floor(i / inner) % C]!;
    // Half away from zero, so that w and -w quantize to q and -q.
    q[i] = Math.max(-127, Math.min(127, Math.sign(r) * Math.round(Math.abs(r))));
  }
  return { dtype: 'int8', bytes: new Uint8Array(q.buffer), scale, axis };
}

/** Where one stored array is and how to read it (`at`: byte offset of its first value). */
export interface StoredArray {
  dtype: WeightDtype;
  at: number;
  length: number;
  shape?: readonly number[];
  scale?: readonly number[];
  axis?: number;
}

/** A reader of the stored array's values as float32 numbers, by index (no allocation). */
export function valueReader(dv: DataView, s: StoredArray): (i: number) => number {
  const { at } = s;
  if (s.dtype === 'float32') return (i) => dv.getFloat32(at + i * 4, true);
  if (s.dtype === 'float16') return (i) => float16ToFloat32(dv.getUint16(at + i * 2, true));
  const scale = s.scale;
  if (!scale) return (i) => dv.getInt8(at + i);
  const C = scale.length;
  const inner = innerSize(s.shape!, s.axis!);
  return (i) => Math.fround(dv.getInt8(at + i) * scale[Math.floor(i / inner) % C]!);
}

/** The stored array's values as a new Float32Array. */
export function readArray(dv: DataView, s: StoredArray): Float32Array {
  const get = valueReader(dv, s);
  const a = new Float32Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = get(i);
  return a;
}
