// ONNX TensorProto reading for the importer: element types (float32/64, float16 and bfloat16 converted
// once, the integer types), raw or typed fields, external data checked against the dims before it is
// read, and the budget claimed before a value array exists.
import { float16ToFloat32 } from '../float16.js';
import type { Claim, Const } from './fold.js';
import { sizeOf } from './fold.js';
import { int } from './ops/attrs.js';
import { DTYPE_NAMES, checkDims, fail, isIntType } from './ops/context.js';

/**
 * Reads the bytes of a tensor stored outside the model file: `location` (relative to the model),
 * `offset`, `length` (undefined: to the end of the file); `what` names the tensor for errors.
 */
export type ExternalData = (location: string, offset: number, length: number | undefined, what: string) => Uint8Array;

/** A TensorProto as protobufjs decodes it. */
export interface TensorMsg {
  dims?: unknown[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: unknown[];
  double_data?: number[];
  uint64_data?: unknown[];
  raw_data?: Uint8Array;
  name?: string;
  external_data?: unknown[];
  data_location?: number;
}

/** Bytes per element of the element types the importer reads. */
const DTYPE_BYTES: ReadonlyMap<number, number> = new Map([
  [1, 4],
  [2, 1],
  [3, 1],
  [4, 2],
  [5, 2],
  [6, 4],
  [7, 8],
  [9, 1],
  [10, 2],
  [11, 8],
  [16, 2],
]);

/**
 * The bytes of a tensor kept outside the model file, or null for a tensor inside it. `need` is what
 * the dims and element type take: a different declared length is refused before anything is read.
 */
function externalBytes(t: TensorMsg, name: string, need: number, external?: ExternalData): Uint8Array | null {
  if (t.data_location !== 1 && !(t.external_data && t.external_data.length > 0)) return null;
  const kv = new Map(
    (t.external_data ?? []).map((e) => {
      const { key, value } = e as { key?: string; value?: string };
      return [key ?? '', value ?? ''] as const;
    }),
  );
  const location = kv.get('location') ?? '';
  if (!external) {
    fail(
      `${name} keeps its data outside the model file (external data in '${location}'); in Node, ` +
        'loadONNXFile(path) reads it from next to the model, or save the model as one file ' +
        '(onnx.save_model(m, path, save_as_external_data=False))',
    );
  }
  const num = (k: string) => {
    const v = kv.get(k);
    if (v === undefined) return undefined;
    if (!/^[0-9]+$/.test(v)) return fail(`${name}: external data ${k} '${v}' is not a non-negative integer`);
    return Number(v);
  };
  if (!location) fail(`${name}: external data without a location`);
  const length = num('length');
  if (length !== undefined && length !== need) {
    fail(`${name}: external data length ${length} differs from the ${need} bytes its dims and type take`);
  }
  return external!(location, num('offset') ?? 0, length, name);
}

const bf16 = new DataView(new ArrayBuffer(4));
/** The float32 value of a bfloat16 bit pattern (the top half of a float32). */
function bfloat16ToFloat32(h: number): number {
  bf16.setUint32(0, (h & 0xffff) * 65536);
  return bf16.getFloat32(0);
}

/** How a TensorProto is read: external data, the budget's claim, and whether NaN/Inf may pass. */
export interface ReadOpts {
  external?: ExternalData;
  claim?: Claim;
  allowNonFinite?: boolean;
}

/** A TensorProto's values; checks the data against the dims. */
export function readTensor(t: TensorMsg, what: string, o: ReadOpts = {}): Const {
  const name = `${what}${t.name ? ` '${t.name}'` : ''}`;
  const dims = (t.dims ?? []).map((d) => int(d, `${name} dims`));
  checkDims(dims, name);
  o.claim?.(dims);
  const n = sizeOf(dims);
  const dt = t.data_type ?? 0;
  if (!DTYPE_BYTES.has(dt)) fail(`${name} has element type ${DTYPE_NAMES[dt] ?? dt}, which the importer does not read`);
  const ext = externalBytes(t, name, n * DTYPE_BYTES.get(dt)!, o.external);
  const raw = ext ?? (t.raw_data && t.raw_data.length > 0 ? t.raw_data : null);
  const isInt = isIntType(dt);
  const fromRaw = (bytes: number, read: (v: DataView, o: number) => number): Float64Array => {
    if (!raw) return new Float64Array(0);
    if (raw.length !== n * bytes) {
      fail(`${name}: raw_data has ${raw.length} bytes, dims [${dims}] of ${DTYPE_NAMES[dt]} need ${n * bytes}`);
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = read(v, i * bytes);
    return out;
  };
  let data: Float64Array;
  let field: ArrayLike<unknown> | undefined;
  switch (dt) {
    case 1:
      data = raw ? fromRaw(4, (v, o) => v.getFloat32(o, true)) : Float64Array.from(t.float_data ?? []);
      field = t.float_data;
      break;
    case 10:
    case 16: {
      // Half precision: converted once to float32 values. int32_data holds the 16-bit patterns.
      const half = dt === 10 ? float16ToFloat32 : bfloat16ToFloat32;
      data = raw
        ? fromRaw(2, (v, o) => half(v.getUint16(o, true)))
        : Float64Array.from(t.int32_data ?? [], (h) => half(h));
      field = t.int32_data;
      break;
    }
    case 11:
      data = raw ? fromRaw(8, (v, o) => v.getFloat64(o, true)) : Float64Array.from(t.double_data ?? []);
      field = t.double_data;
      break;
    case 7:
      data = raw
        ? fromRaw(8, (v, o) => Number(v.getBigInt64(o, true)))
        : Float64Array.from((t.int64_data ?? []).map((x) => int(x, name)));
      field = t.int64_data;
      break;
    case 6:
    case 5:
    case 3:
    case 2:
    case 4:
    case 9: {
      const size = { 6: 4, 5: 2, 3: 1, 2: 1, 4: 2, 9: 1 }[dt]!;
      const rd = {
        6: (v: DataView, o: number) => v.getInt32(o, true),
        5: (v: DataView, o: number) => v.getInt16(o, true),
        3: (v: DataView, o: number) => v.getInt8(o),
        2: (v: DataView, o: number) => v.getUint8(o),
        4: (v: DataView, o: number) => v.getUint16(o, true),
        9: (v: DataView, o: number) => v.getUint8(o),
      }[dt]!;
      data = raw ? fromRaw(size, rd) : Float64Array.from(t.int32_data ?? []);
      field = t.int32_data;
      break;
    }
    default:
      return fail(`${name} has element type ${DTYPE_NAMES[dt] ?? dt}, which the importer does not read`);
  }
  if (!raw && data.length !== n) {
    fail(`${name}: has ${field?.length ?? 0} values, dims [${dims}] need ${n}`);
  }
  if (!isInt && !o.allowNonFinite && data.some((x) => !Number.isFinite(x)))
    fail(`${name} holds a NaN or infinite value`);
  return { dims, data, int: isInt };
}
