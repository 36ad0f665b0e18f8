// The .simdnet container: one self-describing binary.
//
//   0   "SIMDNET\0"            magic (8 bytes)
//   8   u32 version            2, or FORMAT_VERSION (3) when an array is not stored as float32
//   12  u32 headerBytes        length of the JSON header (padded with spaces to a multiple of 4)
//   16  JSON header            architecture, weight and optimizer-slot table, RNG states
//   ..  data                   little-endian arrays: trainable weights, then layer state, then optimizer
//                              slots. Version 1-2: float32 only, {offset, length} in floats. Version 3:
//                              {offset} in bytes, {length} in values, and each weight or state entry
//                              names its "dtype" (float32, float16, int8; io/weight-dtypes.ts)
//   ..  u32 CRC-32             (version 2 on) of every byte before it
//
// A model whose arrays are all float32 (the default) is written as version 2, byte for byte what
// earlier builds wrote and can read. This module writes model artifacts as those bytes and knows
// nothing of models, so the model's default save() can use it; reading a file back into a model
// (every check, then the layers) is formats/simdnet/serialize.ts.
import type { CompileConfig, GraphConfig, IOHandler, LayerEntry, ModelArtifacts, NamedArray } from './artifacts.js';
import { crc32 } from './crc32.js';
export type { WeightDtype } from './weight-dtypes.js';
import { show } from '../show.js';
import {
  DTYPES,
  type Encoded,
  type WeightDtype,
  float16Bytes,
  float32Bytes,
  integerBytes,
  quantizeInt8,
} from './weight-dtypes.js';

/** The file's first 8 bytes, "SIMDNET\0". */
export const MAGIC: readonly number[] = [0x53, 0x49, 0x4d, 0x44, 0x4e, 0x45, 0x54, 0x00];
/** Version of the model file format written by this build. */
export const FORMAT_VERSION = 3;

/** Where an array lives in the data: offset in floats (version 1-2) or bytes (version 3), length in values. */
export interface Slice {
  offset: number;
  length: number;
}

/** A weight or state entry of the header: version 3 adds its storage type and, for quantized int8, its scales. */
export interface Entry extends Slice {
  name: string;
  shape: number[];
  dtype?: WeightDtype;
  scale?: number[];
  axis?: number;
}

/**
 * Options of `model.save(options)` and `saveModel(model, options)`.
 *
 * Arrays a quantized layer holds as integers (`kernel_q`) are stored as int8 bytes whatever the options.
 */
export interface SaveOptions {
  /**
   * How float weights and layer state are stored, dequantized to float32 at load: 'float32' (default,
   * exact), 'float16' (half precision, round to nearest even; an array with a value beyond ±65504 stays
   * float32), or 'int8' (arrays of rank 2 or more, i.e. kernels: symmetric int8 with one scale per output
   * channel; biases and other 1-D arrays stay float32). Optimizer slots always stay float32.
   */
  weightDtype?: WeightDtype;
  /** Keep the optimizer's step count and slots (default true); false keeps the compile settings only. */
  includeOptimizer?: boolean;
}

/** Whether save()'s argument is an IOHandler (has a save method) rather than {@link SaveOptions}. */
export function isIOHandler<R>(x: unknown): x is IOHandler<R> {
  return typeof (x as { save?: unknown } | null)?.save === 'function';
}

function checkSaveOptions(o: unknown): Required<SaveOptions> {
  if (o === undefined) return { weightDtype: 'float32', includeOptimizer: true };
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new Error(`save: options must be an object ({ weightDtype, includeOptimizer }), got ${show(o)}`);
  for (const k of Object.keys(o))
    if (k !== 'weightDtype' && k !== 'includeOptimizer')
      throw new Error(`save: unknown option ${show(k)} (weightDtype, includeOptimizer)`);
  const { weightDtype = 'float32', includeOptimizer = true } = o as SaveOptions;
  if (!DTYPES.includes(weightDtype))
    throw new Error(`save: weightDtype must be one of ${DTYPES.join(', ')}, got ${show(weightDtype)}`);
  if (typeof includeOptimizer !== 'boolean')
    throw new Error(`save: includeOptimizer must be true or false, got ${show(includeOptimizer)}`);
  return { weightDtype, includeOptimizer };
}

// One weight or state array as stored under `mode`.
function encodeArray(w: NamedArray, mode: WeightDtype, what: string): Encoded {
  if (w.dtype === 'int8') return { dtype: 'int8', bytes: integerBytes(w.values, what) };
  if (mode === 'float16') {
    const b = float16Bytes(w.values);
    if (b) return { dtype: 'float16', bytes: b };
  }
  if (mode === 'int8' && w.shape.length >= 2) return quantizeInt8(w.values, w.shape, what);
  return { dtype: 'float32', bytes: float32Bytes(w.values) };
}

/** The JSON header of a model file. */
export interface Header {
  format: 'simdnet-model';
  version: number;
  name: string;
  seed: number;
  layers: LayerEntry[];
  weights: Entry[];
  /** Non-trainable layer state; absent when the model has none. */
  state?: Entry[];
  compile: CompileConfig | null;
  optimizerState: { iterations: number; slots: Record<string, Slice[]> } | null;
  rng: { init: number[]; train: number[] };
  /** The topology of a functional model; absent for a Sequential one. */
  graph?: GraphConfig;
}

/**
 * The artifacts as .simdnet bytes (see {@link SaveOptions}). Layer state is listed under the header key
 * "state" only when there is some, and a Sequential model writes no "graph" key, so float32 files are
 * byte for byte what older versions wrote.
 */
export function encodeSimdnet(a: ModelArtifacts, options?: SaveOptions): ArrayBuffer {
  const { weightDtype, includeOptimizer } = checkSaveOptions(options);
  const stored = [
    ...a.weights.map((w) => encodeArray(w, weightDtype, `weight ${w.name}`)),
    ...a.state.map((w) => encodeArray(w, weightDtype, `state ${w.name}`)),
  ];
  // Version 2 (offsets in floats) unless some array is not float32.
  const version = stored.every((e) => e.dtype === 'float32') ? 2 : FORMAT_VERSION;
  const unit = version === 2 ? 4 : 1;
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const put = (b: Uint8Array, length: number): Slice => {
    chunks.push(b);
    const s = { offset: bytes / unit, length };
    bytes += b.length;
    return s;
  };
  const entries = [...a.weights, ...a.state].map((w, i): Entry => {
    const e = stored[i]!;
    const at = { name: w.name, shape: w.shape, ...put(e.bytes, w.values.length) };
    return version === 2 ? at : { ...at, dtype: e.dtype, ...(e.scale ? { scale: e.scale, axis: e.axis } : {}) };
  });
  const weights = entries.slice(0, a.weights.length);
  const state = entries.slice(a.weights.length);
  let optimizerState: Header['optimizerState'] = null;
  if (a.optimizerState && includeOptimizer) {
    const slots: Record<string, Slice[]> = {};
    for (const [name, arrs] of Object.entries(a.optimizerState.slots))
      slots[name] = arrs.map((v) => put(float32Bytes(v), v.length));
    optimizerState = { iterations: a.optimizerState.iterations, slots };
  }
  const header: Header = {
    format: 'simdnet-model',
    version,
    name: a.name,
    seed: a.seed,
    layers: a.layers,
    weights,
    ...(state.length > 0 ? { state } : {}),
    compile: a.compile,
    optimizerState,
    rng: a.rng,
    ...(a.graph ? { graph: a.graph } : {}),
  };
  return container(header, chunks, bytes);
}

// magic, version, padded header, the data, the checksum
function container(header: Header, chunks: Uint8Array[], bytes: number): ArrayBuffer {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  const hdr = new Uint8Array(padded).fill(0x20);
  hdr.set(json);
  const body = 16 + padded + bytes;
  const buf = new ArrayBuffer(body + 4);
  const u8 = new Uint8Array(buf);
  u8.set(MAGIC, 0);
  const dv = new DataView(buf);
  dv.setUint32(8, header.version, true);
  dv.setUint32(12, padded, true);
  u8.set(hdr, 16);
  let at = 16 + padded;
  for (const c of chunks) {
    u8.set(c, at);
    at += c.length;
  }
  dv.setUint32(body, crc32(u8.subarray(0, body)), true);
  return buf;
}
