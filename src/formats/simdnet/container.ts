// The model file's container, checked (src/io/simdnet.ts lays out and writes it): magic, version,
// checksum, header JSON, and the data: every array's slice in bounds, the slices tiling the data
// exactly, each storage type (version 3: float32, float16, int8 with or without per-channel scales)
// well formed, and every value finite. serialize.ts checks the rest against the architecture.
//
// Version 1-2 data is float32 only, sliced in floats; a "dtype", "scale" or "axis" key there is refused.
// Version 3 slices in bytes (lengths stay in values) and names each weight's and state's "dtype";
// optimizer slots are float32 in every version.
import { FORMAT_VERSION, type Entry, type Header, MAGIC, type Slice } from '../../io/simdnet.js';
import { DTYPE_BYTES, DTYPES, type StoredArray, type WeightDtype, valueReader } from '../../io/weight-dtypes.js';
import type { Optimizer } from '../../optim/optimizer.js';
import { show } from '../../show.js';
import { crc32 } from '../../io/crc32.js';

const MAX_HEADER = 16 << 20;
const MAX_FLOATS = 1 << 28; // 1 GiB of float32 weights once loaded

/** Throws the loader's error. */
export function failWith(msg: string): never {
  throw new Error(`loadModel: ${msg}`);
}

/** A model file opened and its container checked: the header, the data, and how to fail. */
export interface Opened {
  h: Header;
  dv: DataView;
  hlen: number;
  version: number;
  /** Bytes per unit of the header's offsets: 4 (floats, version 1-2) or 1 (bytes, version 3). */
  unit: number;
  /** Units in the data. */
  total: number;
  /** The checksum mismatch, if any (structural errors still tell a truncated file apart). */
  corrupt: string | null;
  fail: (msg: string) => never;
}

/** The data's arrays, checked, where they are in the file and how they are stored. */
export interface Checked {
  stateList: Entry[];
  slots: Record<string, Slice[]>;
  weights: StoredArray[];
  state: StoredArray[];
  slotArrays: Record<string, StoredArray[]>;
}

/** Magic, version, checksum, header length and JSON, and a whole number of units after it. */
export function openFile(data: ArrayBuffer | Uint8Array): Opened {
  const file =
    data instanceof Uint8Array
      ? data
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : failWith('expected an ArrayBuffer or Uint8Array');
  if (file.length < 16) failWith(`file is truncated (${file.length} bytes; the header alone is 16)`);
  for (let i = 0; i < 8; i++) if (file[i] !== MAGIC[i]) failWith('not a simdnet model file (wrong magic number)');
  const version = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(8, true);
  if (version > FORMAT_VERSION)
    failWith(`format version ${version} is newer than this simdnet reads (${FORMAT_VERSION}); upgrade simdnet`);
  if (version < 1) failWith(`invalid format version ${version}`);
  // The checksum is compared first; on a mismatch the structural checks still run, only to tell a
  // truncated file (the likelier story, and the more useful message) from one damaged in place.
  let corrupt: string | null = null;
  let u8 = file;
  if (version >= 2) {
    if (file.length < 20) failWith(`file is truncated (${file.length} bytes)`);
    u8 = file.subarray(0, file.length - 4);
    const stored = new DataView(file.buffer, file.byteOffset + u8.length, 4).getUint32(0, true);
    const actual = crc32(u8);
    if (stored !== actual) {
      const hex = (v: number) => v.toString(16).padStart(8, '0');
      corrupt = `file is corrupt: its CRC-32 is ${hex(actual)} but the file says ${hex(stored)} (damaged after it was saved; use another copy)`;
    }
  }
  const fail: (msg: string) => never = (msg) => failWith(corrupt && !msg.includes('truncated') ? corrupt : msg);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const hlen = dv.getUint32(12, true);
  if (hlen > MAX_HEADER || hlen % 4 !== 0) fail(`header length ${hlen} is invalid`);
  if (16 + hlen > u8.length) fail(`file is truncated (header needs ${16 + hlen} bytes, file has ${u8.length})`);
  let h: Header;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(16, 16 + hlen)));
  } catch {
    fail('header is not valid JSON (file damaged?)');
  }
  if (!h || h.format !== 'simdnet-model' || !Array.isArray(h.layers) || !Array.isArray(h.weights))
    fail('header does not describe a simdnet model');
  const blobBytes = u8.length - 16 - hlen;
  const unit = version >= 3 ? 1 : 4;
  if (blobBytes % unit !== 0)
    fail(`weight data is ${blobBytes} bytes, not a whole number of float32 values (truncated?)`);
  return { h, dv, hlen, version, unit, total: blobBytes / unit, corrupt, fail };
}

const unitName = (o: Opened) => (o.unit === 4 ? 'floats' : 'bytes');

// `s` is {offset, length} with length values of `bytes` bytes each inside the data.
function checkSlice(o: Opened, s: unknown, bytes: number, what: string): Slice {
  const sl = s as Slice;
  if (
    !sl ||
    !Number.isInteger(sl.offset) ||
    !Number.isInteger(sl.length) ||
    sl.offset < 0 ||
    sl.length < 0 ||
    sl.offset + (sl.length * bytes) / o.unit > o.total
  ) {
    o.fail(`${what} points outside the weight data (${show(s)}, file holds ${o.total} ${unitName(o)})`);
  }
  return sl;
}

// The storage type of a weight or state entry: "dtype" in version 3 (required), float32 before.
function entryDtype(o: Opened, w: unknown, what: string): WeightDtype {
  const e = (w && typeof w === 'object' ? w : {}) as Partial<Entry>;
  if (o.version < 3) {
    if (e.dtype !== undefined || e.scale !== undefined || e.axis !== undefined)
      o.fail(`${what} has a "dtype", "scale" or "axis" key, which version ${o.version} files do not have`);
    return 'float32';
  }
  if (!DTYPES.includes(e.dtype as WeightDtype))
    o.fail(`${what} has dtype ${show(e.dtype)}; expected one of ${DTYPES.join(', ')}`);
  return e.dtype as WeightDtype;
}

// An int8 entry's scales: none (integers as they are), or one positive finite number per channel along `axis`.
function checkScales(o: Opened, w: Entry, dtype: WeightDtype, what: string): void {
  if (w.scale === undefined && w.axis === undefined) return;
  if (dtype !== 'int8') o.fail(`${what} is ${dtype}, but only int8 arrays have a "scale" or "axis"`);
  if (!Number.isInteger(w.axis) || w.axis! < 0 || w.axis! >= w.shape.length)
    o.fail(`${what} has quantization axis ${show(w.axis)}, not an axis of its shape [${w.shape}]`);
  const C = w.shape[w.axis!]!;
  if (!Array.isArray(w.scale) || w.scale.length !== C)
    o.fail(`${what} needs ${C} scales (one per index of axis ${w.axis}), got ${show(w.scale)}`);
  w.scale.forEach((s, i) => {
    // 128 · scale must stay a finite float32: the dequantized values are float32.
    if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(Math.fround(s * 128)))
      o.fail(`${what} has scale ${show(s)} at index ${i}; scales are positive finite numbers`);
  });
}

/**
 * The slices account for the whole data (no truncation, no trailing junk), each is in bounds with a
 * known storage type and well-formed scales, and no two overlap.
 */
export function checkData(o: Opened): Checked {
  const { h, total, corrupt, fail } = o;
  const slots0 = (h.optimizerState && typeof h.optimizerState.slots === 'object' && h.optimizerState.slots) || {};
  if (h.state !== undefined && !Array.isArray(h.state)) fail('header "state" is not a list');
  const stateList = h.state ?? [];
  const entries = [
    ...h.weights.map((w) => ({ w, what: `weight ${w?.name}` })),
    ...stateList.map((w) => ({ w, what: `state ${w?.name}` })),
  ].map((x) => ({ ...x, dtype: entryDtype(o, x.w, x.what) }));
  const size = (length: unknown, dtype: WeightDtype) => ((Number(length) || 0) * DTYPE_BYTES[dtype]) / o.unit;
  let claimed = 0;
  for (const e of entries) claimed += size(e.w?.length, e.dtype);
  for (const arr of Object.values(slots0))
    if (Array.isArray(arr)) for (const sl of arr) claimed += size(sl?.length, 'float32');
  if (claimed > total)
    fail(
      `file is truncated: the header describes ${claimed} ${unitName(o)} of weights and state, the file holds ${total}`,
    );
  if (corrupt) fail(corrupt);
  const at = (sl: Slice) => 16 + o.hlen + sl.offset * o.unit;
  const named: Array<{ name: string; sl: Slice; size: number }> = [];
  let used = 0;
  let values = 0;
  const stored = entries.map(({ w, what, dtype }) => {
    checkSlice(o, w, DTYPE_BYTES[dtype], `weight ${w?.name}`);
    if (!Array.isArray(w.shape) || w.shape.some((d) => !Number.isInteger(d) || d < 1))
      fail(`weight ${w.name} has an invalid shape ${show(w.shape)}`);
    if (w.shape.reduce((a, b) => a * b, 1) !== w.length)
      fail(`weight ${w.name} has shape [${w.shape}] but ${w.length} values`);
    checkScales(o, w, dtype, what);
    named.push({ name: what, sl: w, size: size(w.length, dtype) });
    used += size(w.length, dtype);
    values += w.length;
    return { dtype, at: at(w), length: w.length, shape: w.shape, scale: w.scale, axis: w.axis };
  });
  const slots = h.optimizerState?.slots ?? {};
  const slotArrays: Record<string, StoredArray[]> = {};
  for (const [name, arr] of Object.entries(slots)) {
    if (!Array.isArray(arr)) fail(`optimizer state of ${name} is invalid`);
    slotArrays[name] = arr.map((s, i) => {
      const sl = checkSlice(o, s, 4, `optimizer state of ${name}`);
      if ((s as Partial<Entry>).dtype !== undefined) fail(`optimizer state of ${name} has a "dtype" (it is float32)`);
      named.push({ name: `optimizer state ${i} of ${name}`, sl, size: size(sl.length, 'float32') });
      used += size(sl.length, 'float32');
      values += sl.length;
      return { dtype: 'float32' as const, at: at(sl), length: sl.length };
    });
  }
  if (used !== total)
    fail(`weight data holds ${total} ${unitName(o)} but the header accounts for ${used} (truncated or damaged file)`);
  // With used === total, the slices tile the data exactly unless two overlap (one byte read twice).
  const sorted = named.filter((x) => x.size > 0).sort((a, b) => a.sl.offset - b.sl.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!,
      q = sorted[i]!;
    if (q.sl.offset < p.sl.offset + p.size) fail(`${p.name} and ${q.name} overlap in the weight data (damaged file)`);
  }
  if (values > MAX_FLOATS) fail(`model is too large (${values} floats)`);
  return {
    stateList,
    slots,
    weights: stored.slice(0, h.weights.length),
    state: stored.slice(h.weights.length),
    slotArrays,
  };
}

/** Values, as float32 once loaded: weights and state finite; variances and second moments not negative. */
export function checkValues(o: Opened, c: Checked, opt: Optimizer | null): void {
  const { h, dv, fail } = o;
  const scan = (s: StoredArray, what: string, nonNegative: boolean) => {
    const get = valueReader(dv, s);
    for (let i = 0; i < s.length; i++) {
      const v = get(i);
      if (!Number.isFinite(v)) fail(`${what} holds ${v} at index ${i}`);
      if (nonNegative && v < 0) fail(`${what} holds ${v} at index ${i}, but it cannot be negative`);
    }
  };
  c.weights.forEach((s, i) => scan(s, `weight ${h.weights[i]!.name}`, false));
  c.state.forEach((s, i) => {
    const name = c.stateList[i]!.name;
    scan(s, `state ${name}`, name.endsWith('/moving_variance'));
  });
  // Slots that hold running means of squared gradients: Adam's v (1), RMSprop's mean square (0).
  const squares = opt?.className === 'Adam' || opt?.className === 'AdamW' ? 1 : opt?.className === 'RMSprop' ? 0 : -1;
  for (const [name, arr] of Object.entries(c.slotArrays))
    arr.forEach((s, i) => scan(s, `optimizer state ${i} of ${name}`, i === squares));
}
