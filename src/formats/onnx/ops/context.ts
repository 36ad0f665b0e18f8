// What every operator converter shares: graph values and their layouts, the Builder that names and
// applies layers, and the helpers that map axes and constants onto a stored layout.
//
// Layouts. A graph value is 'nhwc' (a rank-4 value stored channels-last), 'native' (stored as ONNX
// orders it), 'perm' (a rank-2 value whose features are stored in a known permutation) or 'nhwc5'
// (a rank-5 [N, a, b, H, W] split of an NHWC image's channels, stored [N, H, W, a, b]).
import type { Layer, SymbolicTensor } from '../../../nn/layer.js';
import { Permute } from '../../../nn/reshaping.js';
import { type Budget, MAX_ELEMENTS, MAX_RANK, firstNonFinite } from '../../limits.js';
import { type Const, broadcastDims, sizeOf, transposeConst } from '../fold.js';

/** Every importer error starts "loadONNX:", so the node loop can tell them from a layer's own checks. */
export const fail = (msg: string): never => {
  throw new Error(`loadONNX: ${msg}`);
};

/** The batch axis (always axis 0) in an ONNX shape. */
export const BATCH = -1;

/** The largest tensor (elements) a file may declare or the import may compute. */
export { MAX_ELEMENTS };

/** ONNX TensorProto element types by number, for messages. */
export const DTYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** Whether ONNX element type `dt` is an integer (or bool) type. */
export const isIntType = (dt: number) => dt !== 1 && dt !== 10 && dt !== 11 && dt !== 16;

/** Refuses a negative, fractional or absurd dimension, more than MAX_RANK axes, and a tensor over MAX_ELEMENTS. */
export function checkDims(dims: number[], what: string): void {
  if (dims.length > MAX_RANK) fail(`${what} has ${dims.length} axes, more than ${MAX_RANK}`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 2 ** 31 - 1)
      fail(`${what} has an invalid dimension ${d} (dims [${dims}])`);
  }
  if (sizeOf(dims) > MAX_ELEMENTS)
    fail(`${what} declares ${sizeOf(dims)} elements (dims [${dims}]), more than ${MAX_ELEMENTS}`);
}

export type Layout = 'nhwc' | 'native' | 'perm' | 'nhwc5';

/** Stored axis k of an 'nhwc5' value holds ONNX axis NHWC5[k]. */
export const NHWC5 = [0, 3, 4, 1, 2];

/** A value computed from the model inputs. */
export interface Sym {
  kind: 'sym';
  /** ONNX shape; the batch axis (always axis 0) is -1. */
  shape: number[];
  layout: Layout;
  t: SymbolicTensor;
  /** For 'perm': stored feature j is ONNX feature perm[j]. */
  perm?: number[];
  /** For 'perm': builds the value in ONNX order (cached). */
  toNative?: () => SymbolicTensor;
  cache: { native?: SymbolicTensor; nhwc?: SymbolicTensor };
}
/** A value known at import (initializer, Constant, folded shape arithmetic). */
export interface Cst {
  kind: 'const';
  c: Const;
}
export type Val = Sym | Cst;

export const shapeText = (s: readonly number[]) => s.map((d) => (d === BATCH ? 'N' : String(d))).join(', ');

export const f32 = (d: ArrayLike<number>) => Float32Array.from(d);

/** Names and applies the layers of the imported graph, and converts values between layouts. */
export class Builder {
  readonly weights = new Map<Layer, Float32Array[]>();
  /** Per layer, the file's names of its weights: the node's constant inputs, when one per weight. */
  readonly sources = new Map<Layer, string[]>();
  /** The current node's constant inputs by name ('' for the others), set by the node loop. */
  constInputs: string[] = [];
  private readonly names = new Set<string>();
  /** The next suffix to try per base name: naming stays linear when thousands of nodes share one name. */
  private readonly next = new Map<string, number>();
  /**
   * @param budget bytes of constants the import may hold (every fold claims its result first)
   * @param allowNonFinite let NaN/Inf weights through instead of refusing them
   */
  constructor(
    readonly opset: number,
    private readonly staticBatch: number | null,
    readonly budget: Budget,
    readonly allowsNonFinite = false,
  ) {}

  uniqueName(base: string): string {
    let b = base.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    if (/^[0-9]/.test(b)) b = `n${b}`;
    let n = b,
      i = this.next.get(b) ?? 1;
    // Names are never freed, so every suffix below `next` is taken: the same names as counting from 1.
    if (this.names.has(n)) n = `${b}_${i++}`;
    while (this.names.has(n)) n = `${b}_${i++}`;
    this.next.set(b, i);
    this.names.add(n);
    return n;
  }

  /** Applies a new layer named after `base` and records the values of its weights (refused if not finite). */
  apply(layer: Layer, base: string, xs: SymbolicTensor | SymbolicTensor[], weights?: Float32Array[]): SymbolicTensor {
    layer.name = this.uniqueName(base);
    if (weights) {
      if (!this.allowsNonFinite) {
        weights.forEach((w, k) => {
          const i = firstNonFinite(w);
          if (i >= 0)
            fail(
              `layer '${layer.name}' (node '${base}') would get weight ${k} holding ${w[i]} at index ${i}; ` +
                'non-finite weights are refused (allowNonFinite: true loads them)',
            );
        });
      }
      this.weights.set(layer, weights);
      const names = this.constInputs.filter((s) => s);
      if (names.length === weights.length) this.sources.set(layer, names);
    }
    return layer.apply(xs);
  }

  /** A model value; its shape per sample must stay within MAX_ELEMENTS (an up-sampling by 1e6 is refused). */
  sym(t: SymbolicTensor, shape: number[], layout: Layout, extra: Partial<Sym> = {}): Sym {
    const per = sizeOf(shape.slice(1));
    if (!(per <= MAX_ELEMENTS))
      fail(`value of shape [${shapeText(shape)}] has ${per} elements per sample, more than ${MAX_ELEMENTS}`);
    return { kind: 'sym', t, shape, layout, cache: {}, ...extra };
  }

  /** The value stored in ONNX order. */
  native(v: Sym, base: string): SymbolicTensor {
    if (v.layout === 'native') return v.t;
    if (!v.cache.native) {
      v.cache.native =
        v.layout === 'perm'
          ? v.toNative!()
          : this.apply(new Permute({ dims: v.layout === 'nhwc5' ? [3, 4, 1, 2] : [3, 1, 2] }), `${base}_to_nchw`, v.t);
    }
    return v.cache.native;
  }

  /** A rank-4 value stored NHWC. */
  nhwc(v: Sym, base: string): SymbolicTensor {
    if (v.shape.length !== 4) fail(`${base}: expected a 4-d NCHW image, got shape [${shapeText(v.shape)}]`);
    if (v.layout === 'nhwc') return v.t;
    if (!v.cache.nhwc)
      v.cache.nhwc = this.apply(new Permute({ dims: [2, 3, 1] }), `${base}_to_nhwc`, this.native(v, base));
    return v.cache.nhwc;
  }

  /** A 'perm' or 'nhwc5' value as a 'native' one; others unchanged. */
  plain(v: Sym, base: string): Sym {
    return v.layout === 'perm' || v.layout === 'nhwc5' ? this.sym(this.native(v, base), v.shape, 'native') : v;
  }

  /** Whether the batch entry of a target shape / a dim means "the batch axis". */
  isBatch(d: number): boolean {
    return Number.isNaN(d) || d === BATCH || (this.staticBatch !== null && d === this.staticBatch);
  }
}

/** The stored axis (with batch) of ONNX axis `a` of a value in `layout`. */
export function storedAxis(v: Pick<Sym, 'layout'>, a: number): number {
  if (v.layout === 'nhwc5') return NHWC5.indexOf(a);
  if (v.layout !== 'nhwc') return a;
  return [0, 3, 1, 2][a];
}

export function normAxis(a: number, rank: number, what: string): number {
  const x = a < 0 ? a + rank : a;
  if (!Number.isInteger(x) || x < 0 || x >= rank) fail(`${what}: axis ${a} is out of range for rank ${rank}`);
  return x;
}

/** A constant broadcast against value v, as stored in v's layout, without the batch axis. */
export function constFor(c: Const, v: Sym, what: string): { shape: number[]; data: Float32Array } {
  const r = v.shape.length;
  if (c.dims.length > r)
    fail(`${what}: constant of shape [${c.dims}] has more axes than the value [${shapeText(v.shape)}]`);
  const dims = [...new Array(r - c.dims.length).fill(1), ...c.dims];
  const out = broadcastDims(dims.slice(1), v.shape.slice(1));
  if (dims[0] !== 1 || !out || out.join() !== v.shape.slice(1).join()) {
    fail(`${what}: constant of shape [${c.dims}] would change the shape of the value [${shapeText(v.shape)}]`);
  }
  if (sizeOf(c.dims) === 1) return { shape: [1], data: f32([c.data[0]]) };
  let t: Const = { dims, data: c.data, int: c.int };
  if (v.layout === 'nhwc') t = transposeConst(t, [0, 2, 3, 1]);
  return { shape: t.dims.slice(1), data: f32(t.data) };
}

/** [C, H, W] of a 4-d NCHW value. */
export function image(x: Sym, what: string): [number, number, number] {
  if (x.shape.length !== 4)
    fail(
      `${what}: expected a 4-d NCHW input, got [${shapeText(x.shape)}] (only 2-d convolutions and pools are supported)`,
    );
  return [x.shape[1], x.shape[2], x.shape[3]];
}
