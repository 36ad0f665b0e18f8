/**
 * IDX (MNIST-format) decoding. Browser-safe: uses only web-platform APIs
 * (`DecompressionStream`), so the same code serves Node and the browser.
 */

/** A decoded unsigned-byte IDX file: its dimensions and the raw payload. */
export interface IdxFile {
  dims: number[];
  data: Uint8Array;
}

/** One split of an MNIST-like data set, images NHWC with a single channel. */
export interface MnistSplit {
  /** `count × height × width × 1` floats in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** Train and test splits plus the number of classes. */
export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
  numClasses: number;
}

/** The four raw (or gzipped) IDX files of an MNIST-like data set. */
export interface MnistFiles {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

/** Options for {@link decodeMnist}. */
export interface DecodeMnistOptions {
  /** Keep only the first `trainLimit` training examples. */
  trainLimit?: number;
  /** Keep only the first `testLimit` test examples. */
  testLimit?: number;
  /** File names used in error messages (defaults: the standard MNIST names). */
  names?: Partial<Record<keyof MnistFiles, string>>;
}

/** Standard MNIST file names, used when the caller gives none. */
export const MNIST_FILE_NAMES: Readonly<Record<keyof MnistFiles, string>> = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

const UBYTE = 0x08;
// Caps well above any real image set; they catch headers that are garbage
// before we try to allocate or index gigabytes.
const MAX_DIMS = 4;
const MAX_ELEMENTS = 2 ** 31 - 1;

const hex = (n: number, width = 2): string => '0x' + n.toString(16).padStart(width, '0');

/** True when `bytes` starts with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses a gzip stream with the platform's `DecompressionStream`.
 * @param name file name, quoted in the error if the stream is corrupt
 * @param limit called once with the first bytes of output (at least `headBytes` of them, or all of a
 *   shorter output): returns the most bytes the output may have. Inflation stops as soon as the
 *   output passes it, so a small file that inflates to gigabytes (a gzip bomb) costs almost nothing.
 * @throws Error naming `name` when the data is not valid gzip or inflates past the limit
 */
export async function gunzip(
  bytes: Uint8Array,
  name: string,
  limit?: { headBytes: number; max: (head: Uint8Array) => number },
): Promise<Uint8Array> {
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  // Write without awaiting: the reader below must drain concurrently or a
  // large input would stall on back-pressure. Failures surface on read.
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let max = Infinity;
  let decided = !limit;
  const decide = () => {
    max = limit!.max(concat(chunks, total));
    decided = true;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
      if (!decided && total >= limit!.headBytes) decide();
      if (total > max) {
        reader.cancel().catch(() => {});
        throw new Error(
          `${name}: inflates to more than the ${max} bytes its IDX header declares (trailing data, or a gzip bomb)`,
        );
      }
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${name}: `)) throw err; // ours, not the stream's
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${name}: not valid gzip data (${why})`);
  }
  const out = concat(chunks, total);
  if (!decided) decide();
  return out;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

interface IdxHeader {
  dims: number[];
  headerLen: number;
  size: number;
}

/** Checks the magic, type and dimensions of an IDX header (the first bytes of a file). */
function parseIdxHeader(bytes: Uint8Array, name: string): IdxHeader {
  if (bytes.length < 4) {
    throw new Error(`${name}: too short for an IDX header (${bytes.length} bytes)`);
  }
  const [z0, z1, type, nd] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  if (z0 !== 0 || z1 !== 0) {
    const found = hex(((z0 << 24) | (z1 << 16) | (type << 8) | nd) >>> 0, 8);
    throw new Error(`${name}: not an IDX file (magic ${found}, expected 0x00000801 or 0x00000803)`);
  }
  if (type !== UBYTE) {
    throw new Error(`${name}: IDX element type ${hex(type)} is not supported (only unsigned byte, 0x08)`);
  }
  if (nd < 1 || nd > MAX_DIMS) {
    throw new Error(`${name}: IDX header declares ${nd} dimensions (expected 1 to ${MAX_DIMS})`);
  }
  const headerLen = 4 + 4 * nd;
  if (bytes.length < headerLen) {
    throw new Error(
      `${name}: too short for an IDX header with ${nd} dimensions (${bytes.length} of ${headerLen} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerLen);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < nd; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new Error(`${name}: dimension ${i} is 0`);
    size *= d;
    if (size > MAX_ELEMENTS) {
      throw new Error(`${name}: absurd dimensions ${[...dims, d].join('×')}… (more than ${MAX_ELEMENTS} elements)`);
    }
    dims.push(d);
  }
  return { dims, headerLen, size };
}

/**
 * Parses an unsigned-byte IDX file (magic `00 00 08 nd`, then `nd` big-endian
 * uint32 dimensions, then the bytes). The returned `data` is a view into `bytes`.
 * @param name file name, quoted in every error message
 * @throws Error on short header, wrong magic/type, zero or absurd dimensions,
 *   truncated data or trailing bytes
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxFile {
  const { dims, headerLen, size } = parseIdxHeader(bytes, name);
  const actual = bytes.length - headerLen;
  if (actual < size) {
    throw new Error(
      `${name}: truncated, dimensions ${dims.join('×')} need ${size} data bytes but only ${actual} present`,
    );
  }
  if (actual > size) {
    throw new Error(
      `${name}: ${actual - size} unexpected trailing bytes (dimensions ${dims.join('×')} need ${size} data bytes, file has ${actual})`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

/**
 * Reads an IDX file that may be gzipped (detected by its magic bytes).
 * @param name file name, quoted in error messages
 */
export async function readIdx(bytes: Uint8Array, name: string): Promise<IdxFile> {
  if (!isGzip(bytes)) return parseIdx(bytes, name);
  // Inflate no more than the header says the file holds (the header is checked on the first bytes).
  const limit = {
    headBytes: 4 + 4 * MAX_DIMS,
    max: (head: Uint8Array) => {
      if (head.length < 4 || head.length < 4 + 4 * head[3]!) return Infinity; // too short: parseIdx says so
      const h = parseIdxHeader(head, name);
      return h.headerLen + h.size;
    },
  };
  return parseIdx(await gunzip(bytes, name, limit), name);
}

function checkLimit(limit: number | undefined, what: string): number {
  if (limit === undefined) return Infinity;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${limit}`);
  }
  return limit;
}

// 256-entry table: one multiply-free lookup per pixel, and byte/255 exactly.
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

function toSplit(images: IdxFile, labels: IdxFile, limit: number, imgName: string, lblName: string): MnistSplit {
  if (images.dims.length !== 3) {
    throw new Error(`${imgName}: expected 3-D images (count×height×width), got dimensions ${images.dims.join('×')}`);
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${lblName}: expected 1-D labels, got dimensions ${labels.dims.join('×')}`);
  }
  const [n, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new Error(`${imgName} has ${n} images but ${lblName} has ${labels.dims[0]} labels`);
  }
  const count = Math.min(n, limit);
  const pixels = count * height * width;
  const src = images.data;
  const out = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = BYTE_TO_UNIT[src[i]!]!;
  // Copy the labels so the (possibly huge) file buffer can be freed.
  return { images: out, labels: labels.data.slice(0, count), count, height, width };
}

/**
 * Decodes the four IDX files of an MNIST-like data set (raw or gzipped)
 * into float images in [0, 1], laid out N×H×W×1, and byte labels.
 * `numClasses` is the largest label + 1, but at least 10.
 * @throws Error naming the offending file(s) on any format or count mismatch
 */
export async function decodeMnist(files: MnistFiles, opts: DecodeMnistOptions = {}): Promise<MnistData> {
  const names = { ...MNIST_FILE_NAMES, ...opts.names };
  const trainLimit = checkLimit(opts.trainLimit, 'trainLimit');
  const testLimit = checkLimit(opts.testLimit, 'testLimit');
  const [trI, trL, teI, teL] = await Promise.all([
    readIdx(files.trainImages, names.trainImages),
    readIdx(files.trainLabels, names.trainLabels),
    readIdx(files.testImages, names.testImages),
    readIdx(files.testLabels, names.testLabels),
  ]);
  const train = toSplit(trI, trL, trainLimit, names.trainImages, names.trainLabels);
  const test = toSplit(teI, teL, testLimit, names.testImages, names.testLabels);
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(
      `${names.trainImages} has ${train.height}×${train.width} images but ${names.testImages} has ${test.height}×${test.width}`,
    );
  }
  // Labels are bytes, so they are < 256 by construction; the class count
  // follows the data but never drops below MNIST's 10.
  let maxLabel = 0;
  for (const l of train.labels) if (l > maxLabel) maxLabel = l;
  for (const l of test.labels) if (l > maxLabel) maxLabel = l;
  return { train, test, numClasses: Math.max(10, maxLabel + 1) };
}

/**
 * One-hot encodes class labels into a `labels.length × numClasses` matrix.
 * @throws RangeError if a label is not below `numClasses`
 */
export function oneHot(labels: Uint8Array, numClasses: number): Float32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l >= numClasses) throw new RangeError(`label ${l} at index ${i} is not below numClasses ${numClasses}`);
    out[i * numClasses + l] = 1;
  }
  return out;
}
