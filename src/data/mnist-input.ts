// An image → an MNIST-style input, the way MNIST's digits were made: the bounding box of the ink is
// scaled (area averaging, aspect kept) to fit a 20×20 box, then placed in a 28×28 field so that its
// centre of mass sits at the centre. One implementation for the CLI's predict and the draw page, so
// the same digit gets the same input (and prediction) in both. Pure functions over grey levels.

/** Grey image, values in [0, 1], row-major. */
export interface Grey {
  width: number;
  height: number;
  data: Float32Array;
}

/** Ink below this level is treated as background when finding the bounding box. */
const INK = 0.05;

/** Grey levels of an RGBA image drawn white-on-black (the red channel). */
export function greyFromRgba(rgba: Uint8ClampedArray, width: number, height: number): Grey {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = rgba[4 * i] / 255;
  return { width, height, data };
}

/** [x0, y0, x1, y1) of the pixels above INK, or null for an empty image. */
export function inkBox(g: Grey): [number, number, number, number] | null {
  let x0 = g.width,
    y0 = g.height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < g.height; y++) {
    for (let x = 0; x < g.width; x++) {
      if (g.data[y * g.width + x] > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

// Weights of an area-averaging resize of n source samples onto m target samples: target j covers
// source [j*n/m, (j+1)*n/m) and takes each source sample in proportion to its overlap.
function areaWeights(n: number, m: number): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  const step = n / m;
  for (let j = 0; j < m; j++) {
    const a = j * step,
      b = (j + 1) * step;
    const w: Array<[number, number]> = [];
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const overlap = Math.min(b, i + 1) - Math.max(a, i);
      if (overlap > 0) w.push([i, overlap / step]);
    }
    out.push(w);
  }
  return out;
}

/** Area-averaging resize of the region [x0, x0+w) × [y0, y0+h) of `g` to tw × th. */
export function resizeArea(g: Grey, x0: number, y0: number, w: number, h: number, tw: number, th: number): Grey {
  const wx = areaWeights(w, tw),
    wy = areaWeights(h, th);
  const rows = new Float32Array(h * tw); // horizontal pass
  for (let y = 0; y < h; y++) {
    const src = (y0 + y) * g.width + x0;
    for (let tx = 0; tx < tw; tx++) {
      let s = 0;
      for (const [i, f] of wx[tx]) s += g.data[src + i] * f;
      rows[y * tw + tx] = s;
    }
  }
  const data = new Float32Array(tw * th); // vertical pass
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      let s = 0;
      for (const [i, f] of wy[ty]) s += rows[i * tw + tx] * f;
      data[ty * tw + tx] = Math.min(1, s);
    }
  }
  return { width: tw, height: th, data };
}

/** Options of {@link toMnistInput}. */
export interface MnistInputOptions {
  /** Side of the square output (default 28); the ink box is scaled to fit size × 20/28. */
  size?: number;
  /**
   * Whether to turn a dark digit on a light background into MNIST's white on black: `'auto'`
   * (default) inverts when the image's border is mostly light.
   */
  invert?: boolean | 'auto';
}

/** Mean grey level of the outermost rows and columns. */
export function borderMean(g: Grey): number {
  const { width: W, height: H, data } = g;
  let s = 0,
    n = 0;
  for (let x = 0; x < W; x++) {
    s += data[x] + data[(H - 1) * W + x];
    n += 2;
  }
  for (let y = 0; y < H; y++) {
    s += data[y * W] + data[y * W + W - 1];
    n += 2;
  }
  return n > 0 ? s / n : 0;
}

/**
 * The size×size input (floats in [0, 1], white digit on black) for an image, or null if it has no
 * ink: (inversion) → ink bounding box → fit in 20×20 keeping the aspect ratio → centre of mass at the
 * centre of the 28×28 field (both scaled with `size`).
 */
export function toMnistInput(g: Grey, opts: MnistInputOptions = {}): Float32Array | null {
  const size = opts.size ?? 28;
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`toMnistInput: size must be a positive integer, got ${size}`);
  if (!(g.width >= 1 && g.height >= 1 && g.data.length === g.width * g.height)) {
    throw new Error(
      `toMnistInput: expected a grey image with width × height values, got ${g.width}x${g.height} with ${g.data.length}`,
    );
  }
  const invert = opts.invert ?? 'auto';
  if (invert === true || (invert === 'auto' && borderMean(g) > 0.5)) {
    g = { width: g.width, height: g.height, data: g.data.map((v) => 1 - v) };
  }
  const boxSide = Math.max(1, Math.round((size * 20) / 28));
  const box = inkBox(g);
  if (!box) return null;
  const [x0, y0, x1, y1] = box;
  const w = x1 - x0,
    h = y1 - y0;
  const s = boxSide / Math.max(w, h);
  const tw = Math.max(1, Math.min(boxSide, Math.round(w * s))),
    th = Math.max(1, Math.min(boxSide, Math.round(h * s)));
  const small = resizeArea(g, x0, y0, w, h, tw, th);
  let m = 0,
    mx = 0,
    my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small.data[y * tw + x];
      // Index coordinates, as MNIST's own digits: their centre of mass lies at pixel index (14, 14).
      m += v;
      mx += v * x;
      my += v * y;
    }
  }
  // Top-left corner that puts the centre of mass at the centre of the field (whole pixels).
  const ox = Math.round(size / 2 - mx / m),
    oy = Math.round(size / 2 - my / m);
  const out = new Float32Array(size * size);
  for (let y = 0; y < th; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= size) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < size) out[ty * size + tx] = small.data[y * tw + x];
    }
  }
  return out;
}
