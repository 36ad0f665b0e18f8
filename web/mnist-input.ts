// A drawing → an MNIST-style input, the way MNIST's digits were made: the bounding box of the ink is
// scaled (area averaging, aspect kept) to fit a 20×20 box, then placed in a 28×28 field so that its
// centre of mass sits at the centre. Pure functions over grey levels; no DOM.

/** Grey image, values in [0, 1], row-major. */
export interface Grey { width: number; height: number; data: Float32Array }

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
  let x0 = g.width, y0 = g.height, x1 = -1, y1 = -1;
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
    const a = j * step, b = (j + 1) * step;
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
  const wx = areaWeights(w, tw), wy = areaWeights(h, th);
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

/**
 * The 28×28 input (784 floats in [0, 1], white digit on black) for a drawing, or null if nothing is
 * drawn: ink bounding box → fit in 20×20 keeping the aspect ratio → centre of mass at (14, 14).
 */
export function toMnistInput(g: Grey): Float32Array | null {
  const box = inkBox(g);
  if (!box) return null;
  const [x0, y0, x1, y1] = box;
  const w = x1 - x0, h = y1 - y0;
  const s = 20 / Math.max(w, h);
  const tw = Math.max(1, Math.min(20, Math.round(w * s))), th = Math.max(1, Math.min(20, Math.round(h * s)));
  const small = resizeArea(g, x0, y0, w, h, tw, th);
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small.data[y * tw + x];
      m += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    }
  }
  // Top-left corner that puts the centre of mass at the centre of the 28×28 field (whole pixels).
  const ox = Math.round(14 - mx / m), oy = Math.round(14 - my / m);
  const out = new Float32Array(28 * 28);
  for (let y = 0; y < th; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= 28) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < 28) out[ty * 28 + tx] = small.data[y * tw + x];
    }
  }
  return out;
}
