// A .simdnet file taken apart (version, header JSON, data) and put back together with a valid
// checksum, for tests that edit one field of a real file.
import { crc32 } from '../../src/io/crc32.js';

export type Parts = { version: number; header: any; data: Uint8Array };

export function split(file: Uint8Array): Parts {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hlen = dv.getUint32(12, true);
  const version = dv.getUint32(8, true);
  return {
    version,
    header: JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen))),
    data: file.slice(16 + hlen, version >= 2 ? file.length - 4 : file.length),
  };
}

/** The parts as file bytes, sealed with a valid CRC-32 from version 2 on. */
export function join(p: Parts): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(p.header));
  const padded = Math.ceil(json.length / 4) * 4;
  const body = 16 + padded + p.data.length;
  const out = new Uint8Array(body + (p.version >= 2 ? 4 : 0));
  out.set(new TextEncoder().encode('SIMDNET\0'));
  const dv = new DataView(out.buffer);
  dv.setUint32(8, p.version, true);
  dv.setUint32(12, padded, true);
  out.fill(0x20, 16, 16 + padded);
  out.set(json, 16);
  out.set(p.data, 16 + padded);
  if (p.version >= 2) dv.setUint32(body, crc32(out.subarray(0, body)), true);
  return out;
}

/** `file` with one edit of its parts, resealed. */
export function edited(file: Uint8Array, edit: (p: Parts) => void): Uint8Array {
  const p = split(file);
  edit(p);
  return join(p);
}

/** The header entry (weight or state) named `name`. */
export function entry(p: Parts, name: string) {
  const e = [...p.header.weights, ...(p.header.state ?? [])].find((w: { name: string }) => w.name === name);
  if (!e) throw new Error(`no entry ${name}`);
  return e;
}
