// Output-size and padding arithmetic shared by the conv and pool references.

/** Explicit zero padding, in pixels, on each side of the H×W plane. */
export interface Pad {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Keras-style padding: a name, one size for every side, or [[top, bottom], [left, right]]. */
export type PaddingSpec = 'valid' | 'same' | number | [[number, number], [number, number]];

// n input size, k kernel, s stride, pBefore/pAfter padding -> output size floor((n+pB+pA-k)/s)+1
export function outSize(n: number, k: number, s: number, pBefore: number, pAfter: number): number {
  const span = n + pBefore + pAfter - k;
  // A window larger than the padded input has no valid position at all.
  if (span < 0) throw new Error(`outSize: kernel ${k} exceeds padded input ${n + pBefore + pAfter}`);
  return Math.floor(span / s) + 1;
}

// n input size, k kernel, s stride -> TF 'same' padding {before, after}; the odd pixel goes after
export function samePadding(n: number, k: number, s: number): { before: number; after: number } {
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + k - n, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before };
}

// padding spec, input H W, kernel KH KW, strides SH SW -> Pad {top, bottom, left, right}
export function resolvePadding(
  padding: PaddingSpec,
  H: number,
  W: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
): Pad {
  if (padding === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  if (padding === 'same') {
    const v = samePadding(H, KH, SH);
    const h = samePadding(W, KW, SW);
    return { top: v.before, bottom: v.after, left: h.before, right: h.after };
  }
  if (typeof padding === 'number') return { top: padding, bottom: padding, left: padding, right: padding };
  const [[top, bottom], [left, right]] = padding;
  return { top, bottom, left, right };
}
