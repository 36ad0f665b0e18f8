// The limits every model loader applies to a file it did not make: a byte budget for tensor data,
// checked before anything is allocated, bounds on counts and nesting, and finite weights. The
// defaults fit every CNN the project targets; `maxBytes` raises the budget, `allowNonFinite` lets
// NaN/Inf weights through.

/** Default budget of tensor data a loader may hold: 1 GiB. */
export const DEFAULT_MAX_BYTES = 2 ** 30;
/** The most elements one tensor may have (stored, folded or planned). */
export const MAX_ELEMENTS = 2 ** 28;
/** The most axes a tensor may have. */
export const MAX_RANK = 32;
/**
 * The most nodes (ONNX) or layers (Keras) a graph may have: far above any CNN, and low enough that the
 * model's own graph building (which lists layers with a linear scan each) stays within seconds.
 */
export const MAX_NODES = 2 ** 16;
/** The most inputs, outputs or attributes one node may have, and values in one attribute list. */
export const MAX_NODE_FIELDS = 2 ** 16;
/** The deepest nesting of a layer's arguments in a Keras 3 config. */
export const MAX_NESTING = 64;

/** The limits a loader was given. */
export interface Limits {
  maxBytes: number;
  allowNonFinite: boolean;
}

/** Limits from a loader's options (`who` names the loader in the error for a bad value). */
export function limitsOf(opts: { maxBytes?: unknown; allowNonFinite?: unknown } | undefined, who: string): Limits {
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
    throw new Error(`${who}: maxBytes must be a positive number of bytes, got ${String(maxBytes)}`);
  }
  const allow = opts?.allowNonFinite ?? false;
  if (typeof allow !== 'boolean') throw new Error(`${who}: allowNonFinite must be true or false, got ${String(allow)}`);
  return { maxBytes, allowNonFinite: allow };
}

/** "268435456 bytes (256 MiB)". */
export function bytesText(n: number): string {
  const mib = n / 2 ** 20;
  return `${n} bytes (${mib >= 1 ? `${mib.toFixed(mib < 10 ? 1 : 0)} MiB` : `${(n / 1024).toFixed(1)} KiB`})`;
}

/** Index of the first NaN or infinite value, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** A running total of the bytes a loader holds, refused past the budget with what would exceed it. */
export class Budget {
  used = 0;
  constructor(
    readonly maxBytes: number,
    private readonly fail: (msg: string) => never,
  ) {}

  /**
   * Claims `elements` elements of `bytesPer` bytes for `what` (shape `dims`): refused when one tensor
   * has more than MAX_ELEMENTS elements or the total would pass maxBytes.
   */
  take(what: string, dims: readonly number[], bytesPer: number): void {
    const elements = dims.reduce((a, b) => a * b, 1);
    const bytes = elements * bytesPer;
    if (!(elements <= MAX_ELEMENTS)) {
      this.fail(`${what} would have shape [${dims}], ${elements} elements, more than ${MAX_ELEMENTS} per tensor`);
    }
    if (this.used + bytes > this.maxBytes) {
      this.fail(
        `${what} would have shape [${dims}], ${bytesText(bytes)}, past the budget of ${bytesText(this.maxBytes)} ` +
          `(${bytesText(this.used)} already held; raise it with the maxBytes option)`,
      );
    }
    this.used += bytes;
  }
}
