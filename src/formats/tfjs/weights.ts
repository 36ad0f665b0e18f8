// Weight bytes of the tfjs-layers format: manifest entries (float32, int32, bool, or the converter's
// uint8/uint16 affine and float16 quantisations) decoded into a model's weights, matched by layer name
// and role, and a model's weights encoded the same ways.
import type { Model } from '../../nn/model.js';
import { show } from '../../show.js';
import { type LayersWeightData, type LayersWeightSpec, type SaveLayersOptions, isObj } from './artifacts.js';
import { float16ToFloat32, float32ToFloat16 } from '../float16.js';
import { Budget, type Limits, firstNonFinite } from '../limits.js';
import { checkPlannedModel } from '../planned.js';

/** The weight roles of simdnet layers: a spec of another role that matches no weight is skipped. */
const ROLES = new Set([
  'kernel',
  'bias',
  'gamma',
  'beta',
  'moving_mean',
  'moving_variance',
  'depthwise_kernel',
  'pointwise_kernel',
]);

/** Bytes per stored value of a spec; throws for dtypes that cannot be weights. */
function storedBytes(s: LayersWeightSpec): number {
  const q = s.quantization?.dtype;
  if (q !== undefined) {
    if (q === 'uint8') return 1;
    if (q === 'uint16' || q === 'float16') return 2;
    throw new Error(`loadLayersModel: weight ${s.name} has unknown quantization dtype ${show(q)}`);
  }
  if (s.dtype === 'float32' || s.dtype === 'int32') return 4;
  if (s.dtype === 'bool' || s.dtype === 'uint8') return 1;
  throw new Error(`loadLayersModel: weight ${s.name} has dtype ${show(s.dtype)}, which cannot be a weight`);
}

/** Bytes a manifest entry takes in the weight data (its values times the bytes each is stored in). */
export function weightSpecBytes(s: LayersWeightSpec): number {
  return s.shape.reduce((a, b) => a * b, 1) * storedBytes(s);
}

/** The float32 values of the spec stored at `bytes[offset..]`, dequantised. */
function decode(s: LayersWeightSpec, dv: DataView, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const q = s.quantization;
  if (q?.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = float16ToFloat32(dv.getUint16(offset + 2 * i, true));
  } else if (q) {
    const scale = q.scale,
      min = q.min;
    if (typeof scale !== 'number' || typeof min !== 'number' || !Number.isFinite(scale) || !Number.isFinite(min)) {
      throw new Error(`loadLayersModel: weight ${s.name} is quantised to ${q.dtype} without finite scale and min`);
    }
    for (let i = 0; i < n; i++) {
      const code = q.dtype === 'uint8' ? dv.getUint8(offset + i) : dv.getUint16(offset + 2 * i, true);
      out[i] = code * scale + min;
    }
  } else if (s.dtype === 'float32') {
    // Aligned float32 (the common case) is copied in one go; wasm and every host simdnet runs on are little-endian.
    const at = dv.byteOffset + offset;
    if (at % 4 === 0) out.set(new Float32Array(dv.buffer, at, n));
    else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  } else if (s.dtype === 'int32') {
    for (let i = 0; i < n; i++) out[i] = dv.getInt32(offset + 4 * i, true);
  } else {
    for (let i = 0; i < n; i++) out[i] = dv.getUint8(offset + i);
  }
  return out;
}

/** The weight bytes as one view (tfjs may hand several buffers). */
export function toBytes(d: LayersWeightData | undefined): Uint8Array {
  if (d === undefined) return new Uint8Array(0);
  if (Array.isArray(d)) {
    const parts = d.map((b) => toBytes(b));
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  throw new Error(`loadLayersModel: weightData must be an ArrayBuffer, a list of them or a byte view, got ${show(d)}`);
}

/** "conv2d/kernel:0" -> ["conv2d", "kernel"]; outer scopes ("model/conv2d/kernel") are dropped. */
function layerAndRole(name: string): [string, string] | null {
  const parts = name.replace(/:\d+$/, '').split('/');
  return parts.length < 2 ? null : [parts[parts.length - 2], parts[parts.length - 1]];
}

/** Asserts that manifest entry `i` is {name, shape: integers, dtype}. */
export function checkSpec(s: unknown, i: number): asserts s is LayersWeightSpec {
  if (
    !isObj(s) ||
    typeof s.name !== 'string' ||
    !Array.isArray(s.shape) ||
    !s.shape.every((d) => Number.isInteger(d) && d >= 0) ||
    typeof s.dtype !== 'string'
  ) {
    throw new Error(`loadLayersModel: weight spec ${i} must be {name, shape: integers, dtype}, got ${show(s)}`);
  }
}

interface Target {
  name: string;
  shape: readonly number[];
}
/** Where each matched spec goes: target index, spec, its byte offset and element count. */
type Match = { t: number; s: LayersWeightSpec; at: number; n: number };

/** Matches manifest specs to the model's weights by layer name and role; every problem listed. */
function matchWeights(targets: Target[], specs: LayersWeightSpec[]): { matches: Match[]; problems: string[] } {
  const byName = new Map<string, number>();
  targets.forEach((t, i) => byName.set(t.name, i));
  const found = targets.map(() => false);
  const problems: string[] = [];
  const matches: Match[] = [];
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    const at = offset;
    offset += n * storedBytes(s);
    if (s.group === 'optimizer') continue;
    const lr = layerAndRole(s.name);
    const i = lr ? byName.get(`${lr[0]}/${lr[1]}`) : undefined;
    if (i === undefined) {
      // Weights of roles simdnet has must land somewhere; other state (seed generators, counters) is skipped.
      if (lr && ROLES.has(lr[1])) problems.push(`weight ${s.name} matches no weight of the model`);
      continue;
    }
    if (found[i]) {
      problems.push(`weight ${s.name} is given twice`);
      continue;
    }
    found[i] = true;
    if (targets[i].shape.join() !== s.shape.join()) {
      problems.push(`weight ${s.name} has shape [${s.shape}], the layer needs [${targets[i].shape}]`);
      continue;
    }
    matches.push({ t: i, s, at, n });
  }
  targets.forEach((t, i) => {
    if (!found[i]) problems.push(`weight ${t.name} is missing from the weight specs`);
  });
  return { matches, problems };
}

function throwProblems(problems: string[]): void {
  if (problems.length > 0) {
    throw new Error(`loadLayersModel: the weights do not fit the model:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Checks the manifest against the bytes and the budget before any weight is read: every spec well
 * formed, no tensor over MAX_ELEMENTS, the total (as float32) within maxBytes, and the data's length.
 */
export function checkSpecs(specs: LayersWeightSpec[], bytes: number | null, limits: Limits): void {
  specs.forEach(checkSpec);
  const budget = new Budget(limits.maxBytes, (m) => fail(m));
  let need = 0;
  for (const s of specs) {
    budget.take(`weight ${s.name}`, s.shape, 4);
    need += weightSpecBytes(s);
  }
  if (bytes !== null && need !== bytes) {
    throw new Error(`loadLayersModel: the weight specs describe ${need} bytes but the weight data has ${bytes} bytes`);
  }
}

const fail = (m: string): never => {
  throw new Error(`loadLayersModel: ${m}`);
};

/**
 * Checks the weights the unbuilt model would create (their shapes, from its graph) against the budget
 * and the manifest, and the size of every layer's output, so a config whose layers need more than the file holds (a Dense of 8e6 units) is
 * refused before a byte is allocated. Problems are those setWeights would list.
 */
export function checkPlannedWeights(model: Model, specs: LayersWeightSpec[], limits: Limits): void {
  const targets = checkPlannedModel(model, limits.maxBytes, fail);
  throwProblems(matchWeights(targets, specs).problems);
}

/**
 * Fills every weight of `model` from the specs and bytes; all problems in one error, nothing written
 * before. Non-finite values are refused with the weight named unless `allowNonFinite`.
 */
export function setWeights(model: Model, specs: LayersWeightSpec[], bytes: Uint8Array, allowNonFinite = false): void {
  model.build();
  specs.forEach(checkSpec);
  const need = specs.reduce((a, s) => a + weightSpecBytes(s), 0);
  if (need !== bytes.length) {
    throw new Error(
      `loadLayersModel: the weight specs describe ${need} bytes but the weight data has ${bytes.length} bytes`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const weights = model.layers.flatMap((l) => [...l.weights, ...l.stateWeights]);
  const targets = weights.map((w) => ({ name: w.name, shape: w.value.shape }));
  const { matches, problems } = matchWeights(targets, specs);
  throwProblems(problems);
  const values = matches.map((m) => decode(m.s, dv, m.at, m.n));
  if (!allowNonFinite) {
    matches.forEach((m, k) => {
      const i = firstNonFinite(values[k]);
      if (i >= 0)
        fail(
          `weight ${m.s.name} holds ${values[k][i]} at index ${i}; non-finite weights are refused ` +
            '(pass allowNonFinite: true to load them)',
        );
    });
  }
  matches.forEach((m, k) => weights[m.t].value.view().set(values[k]));
}

/** Little-endian bytes of one weight, float32 or quantised. */
export function encode(
  v: Float32Array,
  q: SaveLayersOptions['quantize'],
): { bytes: Uint8Array; quantization?: LayersWeightSpec['quantization'] } {
  const dv = (n: number) => {
    const b = new Uint8Array(n);
    return { b, d: new DataView(b.buffer) };
  };
  if (q === undefined) {
    const { b, d } = dv(v.length * 4);
    for (let i = 0; i < v.length; i++) d.setFloat32(4 * i, v[i], true);
    return { bytes: b };
  }
  if (q === 'float16') {
    const { b, d } = dv(v.length * 2);
    for (let i = 0; i < v.length; i++) d.setUint16(2 * i, float32ToFloat16(v[i]), true);
    return { bytes: b, quantization: { dtype: 'float16' } };
  }
  // The range is widened to hold 0 and the grid shifted (by under half a step) so that 0 is a code:
  // zero biases and padding stay exactly zero.
  const levels = q === 'uint8' ? 255 : 65535;
  let lo = 0,
    hi = 0;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const scale = hi > lo ? (hi - lo) / levels : 1;
  const zero = Math.round(-lo / scale);
  const { b, d } = dv(v.length * (q === 'uint8' ? 1 : 2));
  for (let i = 0; i < v.length; i++) {
    const c = Math.min(levels, Math.max(0, Math.round(v[i] / scale) + zero));
    if (q === 'uint8') d.setUint8(i, c);
    else d.setUint16(2 * i, c, true);
  }
  return { bytes: b, quantization: { dtype: q, scale, min: -zero * scale } };
}
