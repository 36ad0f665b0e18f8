// Reads a PNG (via pngjs) or PGM (P2/P5) image and turns it into an MNIST-style 28x28 input:
// grey levels in [0, 1], white digit on black. An image whose border is mostly light is taken to be
// a dark digit on a light background and is inverted. The whole image is resized to 28x28 by area
// averaging (no cropping or centring).
import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';

export interface Grey { width: number; height: number; data: Float32Array } // data in [0, 1]

function parsePgm(bytes: Uint8Array, path: string): Grey {
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 1024)));
  const m = /^(P[25])\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s/.exec(text);
  if (!m) throw new Error(`${path}: not a PGM file (expected a P2 or P5 header)`);
  const [, kind, w, h, mx] = m;
  const width = +w, height = +h, maxv = +mx;
  if (width < 1 || height < 1 || width * height > 1 << 26 || maxv < 1 || maxv > 65535) throw new Error(`${path}: invalid PGM size ${width}x${height} or max value ${maxv}`);
  const data = new Float32Array(width * height);
  if (kind === 'P5') {
    const bpp = maxv > 255 ? 2 : 1;
    const start = m[0].length;
    if (bytes.length < start + width * height * bpp) throw new Error(`${path}: PGM data is truncated`);
    for (let i = 0; i < data.length; i++) {
      const v = bpp === 1 ? bytes[start + i] : (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1];
      data[i] = v / maxv;
    }
  } else {
    const nums = new TextDecoder('latin1').decode(bytes).slice(m[0].length).replace(/#[^\n]*/g, '').trim().split(/\s+/).map(Number);
    if (nums.length < data.length) throw new Error(`${path}: PGM data is truncated`);
    for (let i = 0; i < data.length; i++) data[i] = nums[i] / maxv;
  }
  return { width, height, data };
}

function parsePng(bytes: Uint8Array, path: string): Grey {
  let png: PNG;
  try { png = PNG.sync.read(Buffer.from(bytes)); } catch (e) { throw new Error(`${path}: not a readable PNG (${(e as Error).message})`); }
  const { width, height } = png;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = png.data[4 * i], g = png.data[4 * i + 1], b = png.data[4 * i + 2], a = png.data[4 * i + 3] / 255;
    // Transparent pixels count as background (black).
    data[i] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * a;
  }
  return { width, height, data };
}

/** Loads a .png or .pgm file as grey levels in [0, 1]. */
export async function readGrey(path: string): Promise<Grey> {
  let bytes: Uint8Array;
  try { bytes = await readFile(path); } catch (e) { throw new Error(`cannot read image ${path}: ${(e as Error).message}`); }
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return parsePng(bytes, path);
  if (bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) return parsePgm(bytes, path);
  throw new Error(`${path}: unsupported image format (use PNG or PGM)`);
}

/** MNIST-style 28x28 input (white on black) from any grey image. */
export function toMnistInput(img: Grey, size = 28): Float32Array {
  const { width: W, height: H, data } = img;
  let border = 0, nb = 0;
  for (let x = 0; x < W; x++) { border += data[x] + data[(H - 1) * W + x]; nb += 2; }
  for (let y = 0; y < H; y++) { border += data[y * W] + data[y * W + W - 1]; nb += 2; }
  const invert = border / nb > 0.5;
  const out = new Float32Array(size * size);
  for (let oy = 0; oy < size; oy++) {
    const y0 = (oy * H) / size, y1 = ((oy + 1) * H) / size;
    for (let ox = 0; ox < size; ox++) {
      const x0 = (ox * W) / size, x1 = ((ox + 1) * W) / size;
      let s = 0, a = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          const v = data[y * W + x];
          s += (invert ? 1 - v : v) * wx * wy;
          a += wx * wy;
        }
      }
      out[oy * size + ox] = a > 0 ? s / a : 0;
    }
  }
  return out;
}
