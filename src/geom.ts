// Output sizes and padding of convolution and pooling windows, computed once per call.
// Output size is floor((n + p_before + p_after - k) / s) + 1 (the seed article's formula); 'same'
// follows TensorFlow/Keras: out = ceil(n / s), and an odd total padding puts the extra pixel at the
// bottom/right.
import { show } from './show.js';

/** Padding as Keras names it, a number of pixels on every side, or explicit [[top, bottom], [left, right]]. */
export type Padding = 'valid' | 'same' | number | [[number, number], [number, number]];

export interface Pad {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export interface WindowGeometry {
  pad: Pad;
  OH: number;
  OW: number;
}

/** floor((n + p0 + p1 - k) / s) + 1 */
export function outSize(n: number, k: number, s: number, p0: number, p1: number): number {
  return Math.floor((n + p0 + p1 - k) / s) + 1;
}

/** TensorFlow 'same' padding along one axis: [before, after]. */
export function samePadding(n: number, k: number, s: number): [number, number] {
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + k - n, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** v, checked to be a positive integer; the error names the op or layer and the argument. */
export function posInt(v: unknown, what: string, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new Error(`${what}: ${name} must be a positive integer, got ${show(v)}`);
  }
  return v;
}

/** A size given as n or [n1, n2], checked to be positive integers. */
export function pair(v: number | readonly number[], what: string, name: string): [number, number] {
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new Error(`${what}: ${name} must be a number or [rows, cols], got ${show(v)}`);
    return [posInt(v[0], what, name), posInt(v[1], what, name)];
  }
  const n = posInt(v, what, name);
  return [n, n];
}

function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new Error(
      `${what}: padding must be 'valid', 'same', a non-negative integer or [[top, bottom], [left, right]], got ${show(v)}`,
    );
  }
  return v;
}

/** Resolves padding to explicit pixels on each side. */
export function resolvePadding(
  padding: Padding,
  H: number,
  W: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  what: string,
): Pad {
  if (padding === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  if (padding === 'same') {
    const [top, bottom] = samePadding(H, KH, SH);
    const [left, right] = samePadding(W, KW, SW);
    return { top, bottom, left, right };
  }
  if (typeof padding === 'number') {
    const p = nonNegInt(padding, what);
    return { top: p, bottom: p, left: p, right: p };
  }
  if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    Array.isArray(padding[0]) &&
    Array.isArray(padding[1]) &&
    padding[0].length === 2 &&
    padding[1].length === 2
  ) {
    return {
      top: nonNegInt(padding[0][0], what),
      bottom: nonNegInt(padding[0][1], what),
      left: nonNegInt(padding[1][0], what),
      right: nonNegInt(padding[1][1], what),
    };
  }
  throw new Error(
    `${what}: padding must be 'valid', 'same', a non-negative integer or [[top, bottom], [left, right]], got ${show(padding)}`,
  );
}

/** Padding and output size of a KHxKW window sliding with strides SH,SW; throws when the output is empty. */
export function windowGeometry(
  what: string,
  H: number,
  W: number,
  KH: number,
  KW: number,
  SH: number,
  SW: number,
  padding: Padding,
): WindowGeometry {
  if (!(KH >= 1 && KW >= 1))
    throw new Error(`${what}: the window is ${KH}x${KW}; it needs at least one row and one column`);
  const pad = resolvePadding(padding, H, W, KH, KW, SH, SW, what);
  const OH = outSize(H, KH, SH, pad.top, pad.bottom);
  const OW = outSize(W, KW, SW, pad.left, pad.right);
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${what}: a ${KH}x${KW} window with strides ${SH}x${SW} and padding ` +
        `[[${pad.top},${pad.bottom}],[${pad.left},${pad.right}]] does not fit a ${H}x${W} input (output would be ${OH}x${OW})`,
    );
  }
  return { pad, OH, OW };
}

/** Window options of a convolution: strides, dilation (taps d pixels apart) and padding. */
export interface ConvWindowOptions {
  /** Stride as n or [rows, cols]; default 1. */
  strides?: number | readonly number[];
  /** Dilation as n or [rows, cols]; default 1. */
  dilationRate?: number | readonly number[];
  /** Default 'valid'. */
  padding?: Padding;
}

/** {@link WindowGeometry} of a convolution, with its checked strides and dilation. */
export interface ConvGeometry extends WindowGeometry {
  SH: number;
  SW: number;
  DH: number;
  DW: number;
}

/**
 * Strides, dilation, padding and output size of a KH x KW convolution kernel over an H x W input, checked:
 * the effective window of a dilated kernel is (k - 1) * d + 1. The one place convolution ops, layers and
 * the ONNX exporter take it from.
 */
export function convGeometry(
  what: string,
  H: number,
  W: number,
  KH: number,
  KW: number,
  opts: ConvWindowOptions,
): ConvGeometry {
  const [SH, SW] = pair(opts.strides ?? 1, what, 'strides');
  const [DH, DW] = pair(opts.dilationRate ?? 1, what, 'dilationRate');
  const g = windowGeometry(what, H, W, (KH - 1) * DH + 1, (KW - 1) * DW + 1, SH, SW, opts.padding ?? 'valid');
  // a literal, not a spread: V8 makes the spread a slow dictionary-mode copy (~15 µs per conv call)
  return { pad: g.pad, OH: g.OH, OW: g.OW, SH, SW, DH, DW };
}

/** Window options of a transposed convolution (Keras Conv2DTranspose). */
export interface TransposeGeometryOptions {
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  /** Extra rows/columns at the bottom/right (each < its stride), or null for Keras' rule. */
  outputPadding?: number | [number, number] | null;
  dilationRate?: number | [number, number];
}

/** Keras' deconv_output_length for one axis (k already dilated). */
function deconvLength(n: number, k: number, s: number, padding: 'valid' | 'same', op: number | null): number {
  if (op === null) return padding === 'valid' ? n * s + Math.max(k - s, 0) : n * s;
  const pad = padding === 'same' ? Math.floor(k / 2) : 0;
  return (n - 1) * s + k - 2 * pad + op;
}

/** Output size and the padding of the convolution it is the transpose of, along one axis. */
function transposeAxis(
  n: number,
  k: number,
  s: number,
  padding: 'valid' | 'same',
  op: number | null,
  what: string,
  axis: string,
) {
  if (op !== null && !(Number.isInteger(op) && op >= 0 && op < s)) {
    throw new Error(`${what}: outputPadding along ${axis} must be an integer in [0, stride ${s}), got ${op}`);
  }
  const out = deconvLength(n, k, s, padding, op);
  if (out < 1) throw new Error(`${what}: output ${axis} would be ${out} for input ${n}, kernel ${k}, stride ${s}`);
  // The convolution out -> n this is the gradient of (TensorFlow's padding rule on the `out` side).
  const before = padding === 'same' ? samePadding(out, k, s)[0] : 0;
  const convN = padding === 'same' ? Math.ceil(out / s) : Math.floor((out - k) / s) + 1;
  if (convN !== n) {
    throw new Error(
      `${what}: no convolution maps ${axis} ${out} back to ${n} (kernel ${k}, stride ${s}, padding '${padding}'` +
        `${op !== null ? `, outputPadding ${op}` : ''})`,
    );
  }
  return { out, before };
}

/** Output height and width of {@link conv2dTranspose} for an H x W input (Keras' rule). */
export function conv2dTransposeShape(
  H: number,
  W: number,
  KH: number,
  KW: number,
  opts: TransposeGeometryOptions,
  what: string,
) {
  const [SH, SW] = pair(opts.strides ?? 1, what, 'strides');
  const [DH, DW] = pair(opts.dilationRate ?? 1, what, 'dilationRate');
  const padding = opts.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same')
    throw new Error(`${what}: padding must be 'valid' or 'same', got ${show(padding)}`);
  const opv = opts.outputPadding ?? null;
  const [OPH, OPW] = opv === null ? [null, null] : Array.isArray(opv) ? opv : [opv, opv];
  if (opv !== null && (typeof OPH !== 'number' || typeof OPW !== 'number')) {
    throw new Error(`${what}: outputPadding must be a number, [rows, cols] or null, got ${show(opv)}`);
  }
  const ekh = (KH - 1) * DH + 1,
    ekw = (KW - 1) * DW + 1;
  const h = transposeAxis(H, ekh, SH, padding, OPH, what, 'height');
  const w = transposeAxis(W, ekw, SW, padding, OPW, what, 'width');
  return { OH: h.out, OW: w.out, PT: h.before, PL: w.before, SH, SW, DH, DW };
}
