/** A grid of example images with predicted and true labels, as SVG. Browser-safe. */
import { esc, n2, svgOpen } from './svg.js';

/** Options for {@link samplesSvg}. */
export interface SamplesSvgOptions {
  /** Images per row (default 8). */
  cols?: number;
  /** Screen pixels per image pixel (default 3). */
  scale?: number;
  /** Class names used in captions (default: the class indices). */
  labels?: string[];
}

/**
 * Draws one image as horizontal runs of equal grey: pixels are quantised to
 * 8 bits anyway, and MNIST strokes are full of saturated runs, so this cuts
 * the element count several-fold against one rect per pixel. Zero pixels are
 * left to the black background.
 */
function pixelRuns(img: Float32Array, off: number, h: number, w: number, s: number): string {
  const out: string[] = [];
  for (let y = 0; y < h; y++) {
    let x = 0;
    while (x < w) {
      const g = grey(img[off + y * w + x]!);
      let end = x + 1;
      while (end < w && grey(img[off + y * w + end]!) === g) end++;
      if (g > 0) {
        out.push(`<rect x="${x * s}" y="${y * s}" width="${(end - x) * s}" height="${s}" fill="rgb(${g},${g},${g})"/>`);
      }
      x = end;
    }
  }
  return out.join('');
}

/** Maps a [0, 1] intensity to a byte; out-of-range and NaN clamp to black/white. */
function grey(v: number): number {
  return v > 0 ? (v >= 1 ? 255 : Math.round(v * 255)) : 0;
}

/**
 * Lays out examples in a grid, one `<g class="sample">` each, with the
 * caption "pred X / true Y"; misclassified ones get `class="sample wrong"`
 * and a red frame.
 * @param images N×height×width×1 intensities in [0, 1] (NHWC, one channel)
 * @param trueLabels N true classes
 * @param predLabels N predicted classes
 * @returns a standalone SVG document
 * @throws RangeError if the label counts differ or `images` is too short
 */
export function samplesSvg(
  images: Float32Array,
  height: number,
  width: number,
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
  opts: SamplesSvgOptions = {},
): string {
  const count = trueLabels.length;
  if (predLabels.length !== count) {
    throw new RangeError(`${count} true labels but ${predLabels.length} predictions`);
  }
  const px = height * width;
  if (images.length < count * px) {
    throw new RangeError(`images hold ${images.length} values, need ${count}×${height}×${width} = ${count * px}`);
  }
  const cols = Math.max(1, Math.min(opts.cols ?? 8, Math.max(count, 1)));
  const s = opts.scale ?? 3;
  const name = (c: number): string => opts.labels?.[c] ?? String(c);
  const pad = 6;
  const captionH = 18;
  const cellW = width * s + 2 * pad;
  const cellH = height * s + 2 * pad + captionH;
  const rows = Math.ceil(count / cols);
  const titleH = 26;
  const svgW = Math.max(cols * cellW, 200);
  const svgH = titleH + rows * cellH + 4;

  let wrong = 0;
  const groups: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = trueLabels[i]!;
    const p = predLabels[i]!;
    const bad = t !== p;
    if (bad) wrong++;
    const gx = (i % cols) * cellW;
    const gy = titleH + Math.floor(i / cols) * cellH;
    const frame = bad ? `stroke="#d62728" stroke-width="3"` : `stroke="#bbb" stroke-width="1"`;
    groups.push(
      `<g class="${bad ? 'sample wrong' : 'sample'}" transform="translate(${gx},${gy})" data-true="${esc(t)}" data-pred="${esc(p)}">` +
        `<rect class="frame" x="${pad - 2}" y="${pad - 2}" width="${width * s + 4}" height="${height * s + 4}" fill="none" ${frame}/>` +
        `<g transform="translate(${pad},${pad})"><rect width="${width * s}" height="${height * s}" fill="#000"/>` +
        pixelRuns(images, i * px, height, width, s) +
        `</g>` +
        `<text x="${n2(cellW / 2)}" y="${height * s + 2 * pad + 12}" text-anchor="middle" font-size="11"` +
        `${bad ? ' fill="#d62728" font-weight="bold"' : ''}>pred ${esc(name(p))} / true ${esc(name(t))}</text>` +
        `</g>`,
    );
  }
  return [
    svgOpen(svgW, svgH, 'sample predictions'),
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="6" y="18" font-size="14" font-weight="bold">Samples: ${count - wrong} of ${count} correct (wrong ones framed red)</text>`,
    ...groups,
    `</svg>`,
  ].join('\n');
}
