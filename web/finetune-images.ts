// Pixels for the fine-tune page: crop, resize and normalise decoded RGBA images the way the imported model
// expects them. Pure computation on RGBA arrays (no DOM, no canvas scaling), so Node runs the same code on
// the same pixels and gets the same floats: only +, −, ×, ÷ and rounding-free comparisons, which IEEE
// doubles do alike in every engine.

/** A decoded image: `width × height` RGBA bytes, row by row (as ImageData holds them). */
export interface Rgba {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** How pixel values become model inputs: `(v / 255 − mean) / std` per channel, or `v / 255` ('unit'). */
export interface Normalisation {
  mode: 'meanstd' | 'unit';
  mean: number[];
  std: number[];
}

/** torchvision's ImageNet statistics, what its pretrained classifiers were trained with. */
export const IMAGENET: Normalisation = { mode: 'meanstd', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** The largest centred region of a `w × h` image with the aspect ratio of `tw × th` (the model's input). */
export function centreCrop(
  w: number,
  h: number,
  tw: number,
  th: number,
): { x: number; y: number; w: number; h: number } {
  // Compare w/h with tw/th without division: w·th vs h·tw.
  if (w * th > h * tw) {
    const cw = (h * tw) / th;
    return { x: (w - cw) / 2, y: 0, w: cw, h };
  }
  const ch = (w * th) / tw;
  return { x: 0, y: (h - ch) / 2, w, h: ch };
}

/**
 * The taps of a 1-D resampling from `[start, start + len)` of a row of `size` pixels to `out` pixels: a
 * triangle filter whose radius grows with the shrink factor (antialiased like PIL's bilinear resize), so
 * a 4000-pixel photo averages every pixel instead of sampling a few.
 */
function taps(size: number, start: number, len: number, out: number): { first: Int32Array; w: Float64Array[] } {
  const scale = len / out;
  const radius = Math.max(1, scale);
  const first = new Int32Array(out);
  const w: Float64Array[] = [];
  for (let i = 0; i < out; i++) {
    const centre = start + (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - radius));
    const hi = Math.min(size - 1, Math.ceil(centre + radius));
    const wi = new Float64Array(hi - lo + 1);
    let sum = 0;
    for (let j = lo; j <= hi; j++) {
      const t = 1 - Math.abs((j + 0.5 - centre) / radius);
      const v = t > 0 ? t : 0;
      wi[j - lo] = v;
      sum += v;
    }
    for (let k = 0; k < wi.length; k++) wi[k] /= sum;
    first[i] = lo;
    w.push(wi);
  }
  return { first, w };
}

/**
 * The centred crop of `img` with the target's aspect ratio, resampled to `outW × outH` RGB values in
 * [0, 255] (alpha is ignored: the page decodes without premultiplying). Rows first, then columns.
 */
export function resizeRgb(img: Rgba, outW: number, outH: number): Float64Array {
  const { width: W, height: H, data } = img;
  if (!(W > 0 && H > 0) || data.length !== W * H * 4)
    throw new Error(`resizeRgb: expected ${W}×${H} RGBA pixels (${W * H * 4} bytes), got ${data.length} bytes`);
  if (!(Number.isInteger(outW) && Number.isInteger(outH) && outW > 0 && outH > 0))
    throw new Error(`resizeRgb: the output size must be positive integers, got ${outW}×${outH}`);
  const c = centreCrop(W, H, outW, outH);
  const tx = taps(W, c.x, c.w, outW);
  const ty = taps(H, c.y, c.h, outH);
  // Horizontal pass over the rows the vertical taps read.
  const rowLo = ty.first[0];
  const rowHi = ty.first[outH - 1] + ty.w[outH - 1].length - 1;
  const tmp = new Float64Array((rowHi - rowLo + 1) * outW * 3);
  for (let y = rowLo; y <= rowHi; y++) {
    const src = y * W * 4;
    const dst = (y - rowLo) * outW * 3;
    for (let x = 0; x < outW; x++) {
      const wx = tx.w[x];
      let p = src + tx.first[x] * 4;
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < wx.length; k++, p += 4) {
        r += wx[k] * data[p];
        g += wx[k] * data[p + 1];
        b += wx[k] * data[p + 2];
      }
      tmp[dst + x * 3] = r;
      tmp[dst + x * 3 + 1] = g;
      tmp[dst + x * 3 + 2] = b;
    }
  }
  const out = new Float64Array(outW * outH * 3);
  const rowLen = outW * 3;
  for (let y = 0; y < outH; y++) {
    const wy = ty.w[y];
    const base = (ty.first[y] - rowLo) * rowLen;
    for (let k = 0; k < wy.length; k++) {
      const src = base + k * rowLen;
      const wk = wy[k];
      for (let i = 0; i < rowLen; i++) out[y * rowLen + i] += wk * tmp[src + i];
    }
  }
  return out;
}

/**
 * RGB values in [0, 255] (`resizeRgb`'s output) as the model's input, written into `out` at `offset`:
 * `channels` 3 keeps RGB, 1 takes the luma (0.299 R + 0.587 G + 0.114 B) and the first mean and std.
 */
export function normalise(
  rgb: Float64Array,
  channels: number,
  norm: Normalisation,
  out: Float32Array = new Float32Array((rgb.length / 3) * channels),
  offset = 0,
): Float32Array {
  if (channels !== 1 && channels !== 3)
    throw new Error(`normalise: the model must take 1 or 3 channels, got ${channels}`);
  const px = rgb.length / 3;
  const mean = norm.mode === 'unit' ? [0, 0, 0] : norm.mean;
  const std = norm.mode === 'unit' ? [1, 1, 1] : norm.std;
  for (let i = 0; i < px; i++) {
    if (channels === 3) {
      for (let c = 0; c < 3; c++) out[offset + i * 3 + c] = (rgb[i * 3 + c] / 255 - mean[c]) / std[c];
    } else {
      const y = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
      out[offset + i] = (y / 255 - mean[0]) / std[0];
    }
  }
  return out;
}

/**
 * A batch of images as one NHWC Float32Array for a model taking `[height, width, channels]`: each
 * image centre-cropped to the model's aspect ratio, resized, normalised.
 */
export function toBatch(images: Rgba[], shape: readonly [number, number, number], norm: Normalisation): Float32Array {
  const [h, w, c] = shape;
  const out = new Float32Array(images.length * h * w * c);
  images.forEach((img, i) => normalise(resizeRgb(img, w, h), c, norm, out, i * h * w * c));
  return out;
}

/** Three numbers from text such as "0.485, 0.456, 0.406"; `what` names the field in the error. */
export function parseTriple(text: string, what: string, positive: boolean): number[] {
  const parts = text
    .split(/[\s,;]+/)
    .filter((s) => s !== '')
    .map(Number);
  if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v)))
    throw new Error(`${what}: expected three numbers such as "0.485, 0.456, 0.406", got "${text}"`);
  if (positive && parts.some((v) => v <= 0)) throw new Error(`${what}: every value must be above 0, got "${text}"`);
  return parts;
}
