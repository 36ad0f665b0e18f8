// The .simdnet container: one self-describing binary.
//
//   0   "SIMDNET\0"            magic (8 bytes)
//   8   u32 version            FORMAT_VERSION
//   12  u32 headerBytes        length of the JSON header (padded with spaces to a multiple of 4)
//   16  JSON header            architecture, weight and optimizer-slot table, RNG states
//   ..  float32[] blob         little-endian, addressed by {offset, length} in floats:
//                              trainable weights, then layer state, then optimizer slots
//   ..  u32 CRC-32             (version 2 on) of every byte before it
//
// This module writes model artifacts as those bytes and knows nothing of models, so the model's
// default save() can use it; reading a file back into a model (every check, then the layers) is
// formats/simdnet/serialize.ts.
import type { CompileConfig, GraphConfig, LayerEntry, ModelArtifacts, NamedArray } from './artifacts.js';
import { crc32 } from './crc32.js';

/** The file's first 8 bytes, "SIMDNET\0". */
export const MAGIC: readonly number[] = [0x53, 0x49, 0x4d, 0x44, 0x4e, 0x45, 0x54, 0x00];
/** Version of the model file format written by this build. */
export const FORMAT_VERSION = 2;

/** Where an array lives in the blob, in floats. */
export interface Slice {
  offset: number;
  length: number;
}

/** The JSON header of a model file. */
export interface Header {
  format: 'simdnet-model';
  version: number;
  name: string;
  seed: number;
  layers: LayerEntry[];
  weights: Array<{ name: string; shape: number[] } & Slice>;
  /** Non-trainable layer state; absent when the model has none. */
  state?: Array<{ name: string; shape: number[] } & Slice>;
  compile: CompileConfig | null;
  optimizerState: { iterations: number; slots: Record<string, Slice[]> } | null;
  rng: { init: number[]; train: number[] };
  /** The topology of a functional model; absent for a Sequential one. */
  graph?: GraphConfig;
}

/**
 * The artifacts as .simdnet bytes. Layer state is listed under the header key "state" only when there
 * is some, and a Sequential model writes no "graph" key, so such files are byte for byte what older
 * versions wrote.
 */
export function encodeSimdnet(a: ModelArtifacts): ArrayBuffer {
  const chunks: Float32Array[] = [];
  let offset = 0;
  const put = (v: Float32Array): Slice => {
    chunks.push(v);
    const s = { offset, length: v.length };
    offset += v.length;
    return s;
  };
  const entry = (w: NamedArray) => ({ name: w.name, shape: w.shape, ...put(w.values) });
  const weights = a.weights.map(entry);
  const state = a.state.map(entry);
  let optimizerState: Header['optimizerState'] = null;
  if (a.optimizerState) {
    const slots: Record<string, Slice[]> = {};
    for (const [name, arrs] of Object.entries(a.optimizerState.slots)) slots[name] = arrs.map(put);
    optimizerState = { iterations: a.optimizerState.iterations, slots };
  }
  const header: Header = {
    format: 'simdnet-model',
    version: FORMAT_VERSION,
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
  return container(header, chunks, offset);
}

// magic, version, padded header, the floats, the checksum
function container(header: Header, chunks: Float32Array[], floats: number): ArrayBuffer {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  const hdr = new Uint8Array(padded).fill(0x20);
  hdr.set(json);
  const body = 16 + padded + floats * 4;
  const buf = new ArrayBuffer(body + 4);
  const u8 = new Uint8Array(buf);
  u8.set(MAGIC, 0);
  const dv = new DataView(buf);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, padded, true);
  u8.set(hdr, 16);
  let at = 16 + padded;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) dv.setFloat32(at + i * 4, c[i]!, true);
    at += c.length * 4;
  }
  dv.setUint32(body, crc32(u8.subarray(0, body)), true);
  return buf;
}
