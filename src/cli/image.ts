// Reads a PNG (via pngjs) or PGM (P2/P5) image as grey levels in [0, 1]; every error names the file.
// toMnistInput (src/data/mnist-input.ts, shared with the draw page) then makes the model's input.
import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import type { Grey } from '../data/mnist-input.js';
import { show } from '../show.js';

function parsePgm(bytes: Uint8Array, path: string): Grey {
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 1024)));
  const m = /^(P[25])\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s/.exec(text);
  if (!m) throw new Error(`${path}: not a PGM file (expected a P2 or P5 header)`);
  const [, kind, w, h, mx] = m;
  const width = +w,
    height = +h,
    maxv = +mx;
  if (width < 1 || height < 1 || width * height > 1 << 26 || maxv < 1 || maxv > 65535)
    throw new Error(`${path}: invalid PGM size ${width}x${height} or max value ${maxv}`);
  const data = new Float32Array(width * height);
  if (kind === 'P5') {
    const bpp = maxv > 255 ? 2 : 1;
    const start = m[0].length;
    if (bytes.length < start + width * height * bpp) throw new Error(`${path}: PGM data is truncated`);
    for (let i = 0; i < data.length; i++) {
      const v = bpp === 1 ? bytes[start + i] : (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1];
      // Samples above maxval break the format; they are clamped (as netpbm readers do), never > 1.
      data[i] = Math.min(v, maxv) / maxv;
    }
  } else {
    const words = new TextDecoder('latin1')
      .decode(bytes)
      .slice(m[0].length)
      .replace(/#[^\n]*/g, '')
      .trim()
      .split(/\s+/);
    if (words.length < data.length || words[0] === '')
      throw new Error(
        `${path}: PGM data is truncated (${words[0] === '' ? 0 : words.length} of ${data.length} samples)`,
      );
    for (let i = 0; i < data.length; i++) {
      if (!/^[0-9]+$/.test(words[i]!))
        throw new Error(`${path}: PGM sample ${i} is ${show(words[i]!.slice(0, 20))}, not a non-negative integer`);
      data[i] = Math.min(Number(words[i]), maxv) / maxv;
    }
  }
  return { width, height, data };
}

function parsePng(bytes: Uint8Array, path: string): Grey {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new Error(`${path}: not a readable PNG (${(e as Error).message})`);
  }
  const { width, height } = png;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = png.data[4 * i],
      g = png.data[4 * i + 1],
      b = png.data[4 * i + 2],
      a = png.data[4 * i + 3] / 255;
    // Transparent pixels count as background (black).
    data[i] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * a;
  }
  return { width, height, data };
}

/** Loads a .png or .pgm file as grey levels in [0, 1]. */
export async function readGrey(path: string): Promise<Grey> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read image ${path}: ${(e as Error).message}`);
  }
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return parsePng(bytes, path);
  if (bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) return parsePgm(bytes, path);
  throw new Error(`${path}: unsupported image format (use PNG or PGM)`);
}
