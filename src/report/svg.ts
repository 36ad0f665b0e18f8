/** Small shared helpers for building SVG strings. Browser-safe. */

/** Escapes text for use in XML content or a double-quoted attribute. */
export function esc(text: string | number): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rounds a coordinate to 2 decimals: keeps the SVG short without visible loss. */
export function n2(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/** Opens an SVG document with the given pixel size and a default font. */
export function svgOpen(width: number, height: number, label: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n2(width)}" height="${n2(height)}" ` +
    `viewBox="0 0 ${n2(width)} ${n2(height)}" role="img" aria-label="${esc(label)}" ` +
    `font-family="sans-serif" font-size="12">`
  );
}

/** Evenly spaced "round" tick values covering [lo, hi]. */
export interface Ticks {
  lo: number;
  hi: number;
  step: number;
  values: number[];
  /** Decimals needed to print the ticks distinctly. */
  decimals: number;
}

/**
 * Picks about `target` round tick values (steps of 1, 2 or 5 × 10^k) that
 * cover [min, max]; a zero-width range is widened so it still gets an axis.
 */
export function niceTicks(min: number, max: number, target = 5): Ticks {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const values: number[] = [];
  for (let v = lo; v <= hi + step * 1e-6; v += step) values.push(Number(v.toFixed(decimals)));
  return { lo, hi, step, values, decimals };
}
