// Operators that change the spatial size of an NCHW image: Pad (zero padding or cropping of the
// spatial axes as ZeroPadding2D/Cropping2D; any other mode, value or axis as a fixed selection matrix per
// axis) and Resize/Upsample. Integer up-scaling of the spatial axes in the modes PyTorch and Keras use
// is an UpSampling2D; any other scale or size (up or down, nearest/linear/cubic, every coordinate
// transformation, tf_crop_and_resize's region and extrapolation value included) is one fixed
// interpolation matrix per resized axis, built as onnx's reference computes it and applied as a frozen
// 1x1 convolution over that axis.
import { Cropping2D, Permute, UpSampling2D, ZeroPadding2D } from '../../../nn/reshaping.js';
import type { SymbolicTensor } from '../../../nn/layer.js';
import { BATCH, type Sym, image, normAxis } from './context.js';
import { lastAxisMatmul } from './gemm.js';
import type { NodeContext } from './node.js';

/** Pads of all axes (begin..., end...), value and mode: attributes before opset 11, inputs since. */
function padArgs(n: NodeContext, r: number): { pads: number[]; value: number } {
  const { b, attrs, ins } = n;
  if (b.opset < 11) return { pads: attrs.ints('pads') ?? [], value: attrs.float('value', 0) };
  const p = ins[1];
  if (!p || p.kind !== 'const') return n.fail('pads must be a constant');
  let pads = Array.from(p.c.data);
  let value = 0;
  const v = ins[2];
  if (v) {
    if (v.kind !== 'const') return n.fail('the constant value must be a constant');
    value = v.c.data[0] ?? 0;
  }
  const ax = ins[3];
  if (ax) {
    if (ax.kind !== 'const') return n.fail('axes must be a constant');
    const axes = Array.from(ax.c.data).map((a) => normAxis(a, r, n.what));
    const full = new Array(2 * r).fill(0);
    axes.forEach((a, i) => {
      full[a] = pads[i];
      full[a + r] = pads[i + axes.length];
    });
    pads = full;
  }
  return { pads, value };
}

/**
 * x with ONNX axis `a` mapped by the fixed (O x I) matrix `w` (row-major [i][o]) plus `bias`: the axis
 * is moved last, multiplied (a frozen 1x1 convolution) and moved back.
 */
function mapAxis(n: NodeContext, x: Sym, a: number, O: number, w: ArrayLike<number>, bias: ArrayLike<number> | null) {
  const { b, base } = n;
  const r = x.shape.length;
  const swap = x.shape.slice(1).map((_, i) => i + 1);
  [swap[a - 1], swap[r - 2]] = [swap[r - 2], swap[a - 1]];
  const swapped = (s: number[]) => {
    const t = [...s];
    [t[a], t[r - 1]] = [t[r - 1], t[a]];
    return t;
  };
  let v = b.plain(x, base);
  if (a !== r - 1)
    v = b.sym(b.apply(new Permute({ dims: swap }), `${base}_axis${a}`, b.native(v, base)), swapped(v.shape), 'native');
  v = lastAxisMatmul(b, `${base}_${a}`, v, [], w, O, false, bias);
  if (a !== r - 1) v = b.sym(b.apply(new Permute({ dims: swap }), `${base}_back${a}`, v.t), swapped(v.shape), 'native');
  return v;
}

/**
 * Pad in any mode (constant with any value, reflect, edge, wrap) on any axes but the batch: each
 * padded axis is a fixed selection matrix (plus the constant as a bias where nothing is selected).
 */
function padAny(n: NodeContext, x: Sym, pads: number[], value: number, mode: string): Sym {
  const r = x.shape.length;
  if (pads[0] !== 0 || pads[r] !== 0) n.fail(`padding the batch axis (pads [${pads}]) is not supported`);
  let v = x;
  for (let a = r - 1; a >= 1; a--) {
    const [p0, p1] = [pads[a], pads[a + r]];
    if (p0 === 0 && p1 === 0) continue;
    const I = x.shape[a],
      O = I + p0 + p1;
    if (O < 1) n.fail(`pads [${pads}] leave nothing of axis ${a} (size ${I})`);
    if (mode === 'reflect' && (p0 >= I || p1 >= I))
      n.fail(`reflect pads [${pads}] must be smaller than axis ${a} (size ${I})`);
    const w = new Float64Array(I * O);
    const bias = mode === 'constant' && value !== 0 ? new Float64Array(O) : null;
    for (let o = 0; o < O; o++) {
      let i = o - p0;
      if (i < 0 || i >= I) {
        if (mode === 'constant') {
          if (bias) bias[o] = value;
          continue;
        }
        if (mode === 'edge') i = Math.min(Math.max(i, 0), I - 1);
        else if (mode === 'wrap') i = ((i % I) + I) % I;
        else i = i < 0 ? -i : 2 * (I - 1) - i;
      }
      w[i * O + o] = 1;
    }
    v = mapAxis(n, v, a, O, w, bias);
  }
  return v;
}

export function Pad(n: NodeContext): Sym {
  const { b, base } = n;
  const x = n.ins[0];
  if (!x || x.kind !== 'sym') return n.fail('the input must be a model value');
  const mode = n.attrs.oneOf('mode', ['constant', 'reflect', 'edge', 'wrap'], 'constant');
  const r = x.shape.length;
  const { pads, value } = padArgs(n, r);
  if (pads.length !== 2 * r) n.fail(`pads [${pads}] must have ${2 * r} entries for a rank-${r} input`);
  if (pads.every((p) => p === 0)) return x;
  if (mode !== 'constant' || value !== 0 || r !== 4 || pads[0] || pads[4]) return padAny(n, x, pads, value, mode);
  // Zero padding or cropping of ONNX axes 1 and 2 of a value stored in ONNX order (an NHWC tensor, as
  // tf2onnx and NHWC exporters pad): the stored axes are a ZeroPadding2D's/Cropping2D's own H and W.
  if (x.layout === 'native' && !pads[3] && !pads[7]) {
    const v = padCrop(n, x.t, pads[1], pads[2], pads[5], pads[6]);
    return b.sym(v, [BATCH, ...v.shape.slice(0, 2), x.shape[3]], 'native');
  }
  // Zero padding or cropping of an image's spatial axes.
  if (pads[1] || pads[5]) return padAny(n, x, pads, value, mode);
  const v = padCrop(n, b.nhwc(x, base), pads[2], pads[3], pads[6], pads[7]);
  return b.sym(v, [BATCH, x.shape[1], v.shape[0], v.shape[1]], 'nhwc');
}

/** ZeroPadding2D and Cropping2D of a stored (H, W, C) tensor: the positive and the negative pads. */
function padCrop(n: NodeContext, x: SymbolicTensor, t: number, l: number, bo: number, ri: number): SymbolicTensor {
  const { b, base } = n;
  let v = x;
  const pos = (q: number) => Math.max(q, 0),
    neg = (q: number) => Math.max(-q, 0);
  if (t > 0 || l > 0 || bo > 0 || ri > 0) {
    const padding: [[number, number], [number, number]] = [
      [pos(t), pos(bo)],
      [pos(l), pos(ri)],
    ];
    v = b.apply(new ZeroPadding2D({ padding }), base, v);
  }
  if (t < 0 || l < 0 || bo < 0 || ri < 0) {
    const cropping: [[number, number], [number, number]] = [
      [neg(t), neg(bo)],
      [neg(l), neg(ri)],
    ];
    v = b.apply(new Cropping2D({ cropping }), `${base}_crop`, v);
  }
  return v;
}

const COORDINATE_MODES = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
  'tf_crop_and_resize',
] as const;
type Ctm = (typeof COORDINATE_MODES)[number];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;
type NearestMode = (typeof NEAREST_MODES)[number];

/** The scale of every axis and the output shape: from scales or sizes, over all axes or `axes` (opset 18). */
function resizeShape(
  n: NodeContext,
  upsample: boolean,
  shape: number[],
  crop: boolean,
): { scales: number[]; out: number[]; roi: number[] } {
  const { b, attrs, ins } = n;
  const r = shape.length;
  const cv = (i: number) => {
    const v = ins[i];
    if (!v) return null;
    if (v.kind !== 'const') return n.fail(`input ${i} must be a constant`);
    return v.c.data.length > 0 ? Array.from(v.c.data) : null;
  };
  let scales: number[] | null = null;
  let sizes: number[] | null = null;
  if (upsample) scales = b.opset < 9 ? attrs.floats('scales') : cv(1);
  else if (b.opset < 11) scales = cv(1);
  else {
    scales = cv(2);
    sizes = cv(3);
  }
  const axes = (attrs.ints('axes') ?? shape.map((_, i) => i)).map((a) => normAxis(a, r, n.what));
  if (new Set(axes).size !== axes.length) n.fail(`attribute axes [${attrs.ints('axes')}] repeats an axis`);
  const given = sizes ?? scales;
  if (!given) return n.fail('scales (or sizes) are missing');
  if (given.length !== axes.length)
    n.fail(`${sizes ? 'sizes' : 'scales'} [${given}] must have ${axes.length} entries, one per resized axis`);
  const sc = shape.map(() => 1);
  const out = [...shape];
  // tf_crop_and_resize reads the region of interest [starts..., ends...] of the resized axes.
  const roi = [...shape.map(() => 0), ...shape.map(() => 1)];
  const rawRoi = crop ? cv(1) : null;
  if (crop) {
    if (!rawRoi || rawRoi.length !== 2 * axes.length)
      n.fail(`roi [${rawRoi ?? ''}] must have ${2 * axes.length} entries for tf_crop_and_resize`);
    axes.forEach((a, i) => {
      roi[a] = rawRoi![i];
      roi[a + r] = rawRoi![i + axes.length];
    });
    if (roi[0] !== 0 || roi[r] !== 1) n.fail(`roi [${rawRoi}] crops the batch axis`);
  }
  if (sizes) {
    const policy = attrs.oneOf('keep_aspect_ratio_policy', ['stretch', 'not_larger', 'not_smaller'], 'stretch');
    // The batch size is not known here: a size on the batch axis is read as the batch (as exporters write
    // it), and may be the batch itself, taken from Shape of a model value (NaN while folding).
    if (sizes.some((d, i) => !(axes[i] === 0 && Number.isNaN(d)) && (!Number.isInteger(d) || d < 1)))
      n.fail(`sizes [${sizes}] must be positive integers`);
    const ratios = axes.map((a, i) => (a === 0 ? 1 : sizes![i] / shape[a]));
    const keep = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
    axes.forEach((a, i) => {
      if (a === 0) sc[a] = ratios[i];
      else {
        sc[a] = policy === 'stretch' ? ratios[i] : keep;
        out[a] = policy === 'stretch' ? sizes![i] : Math.round(keep * shape[a]);
      }
    });
  } else {
    if (scales!.some((v) => !(v > 0))) n.fail(`scales [${scales}] must be positive`);
    axes.forEach((a, i) => {
      sc[a] = scales![i];
      // As onnx's reference and onnxruntime: the region does not enter the output size.
      out[a] = Math.floor(shape[a] * scales![i]);
    });
  }
  if (sc[0] !== 1) n.fail(`resizing the batch axis (scales [${scales}]) is not supported`);
  out.forEach((d, i) => {
    if (i > 0 && d < 1) n.fail(`axis ${i} of size ${shape[i]} would be resized to ${d}`);
  });
  return { scales: sc, out, roi };
}

/** Interpolation mode, coordinate mode and rounding as the node's version reads them. */
function resizeModes(n: NodeContext, upsample: boolean) {
  const { b, attrs } = n;
  const old = upsample || b.opset < 11;
  const raw = attrs.oneOf('mode', ['nearest', 'linear', 'bilinear', 'cubic'], 'nearest');
  const mode = raw === 'bilinear' ? 'linear' : raw;
  const ctm: Ctm = old ? 'asymmetric' : attrs.oneOf('coordinate_transformation_mode', COORDINATE_MODES, 'half_pixel');
  const nearest: NearestMode = old ? 'floor' : attrs.oneOf('nearest_mode', NEAREST_MODES, 'round_prefer_floor');
  return { mode, ctm, nearest, old };
}

/** UpSampling2D's interpolation for integer up-scaling of the two spatial axes, or null when it differs. */
function kernelInterp(m: ReturnType<typeof resizeModes>): 'nearest' | 'bilinear' | null {
  const { mode, ctm, nearest, old } = m;
  if (mode === 'nearest') {
    const ok =
      (ctm === 'asymmetric' && (nearest === 'floor' || old)) ||
      ((ctm === 'half_pixel' || ctm === 'pytorch_half_pixel') && nearest === 'round_prefer_floor');
    return ok ? 'nearest' : null;
  }
  if (mode === 'linear' && (ctm === 'half_pixel' || ctm === 'pytorch_half_pixel')) return 'bilinear';
  return null;
}

/** The (O x I) interpolation matrix of one axis, as onnx's reference computes it, row-major [i][o]. */
function axisMatrix(
  n: NodeContext,
  m: ReturnType<typeof resizeModes>,
  I: number,
  O: number,
  s: number,
  [start, end]: [number, number],
): { w: Float64Array; bias: Float64Array | null } {
  const { attrs } = n;
  // tf_crop_and_resize: outside the region the output is extrapolation_value (a bias, no weights).
  const bias = m.ctm === 'tf_crop_and_resize' ? new Float64Array(O) : null;
  const fill = attrs.float('extrapolation_value', 0);
  const A = attrs.float('cubic_coeff_a', -0.75);
  const exclude = attrs.int('exclude_outside', 0) === 1;
  const w = new Float64Array(I * O);
  // The resized length as a real number (onnx's reference): I * scale, which O rounds down.
  const L = I * s;
  for (let o = 0; o < O; o++) {
    let x: number;
    switch (m.ctm) {
      case 'half_pixel':
        x = (o + 0.5) / s - 0.5;
        break;
      case 'half_pixel_symmetric': {
        const adj = O / L;
        x = (I / 2) * (1 - adj) + (o + 0.5) / s - 0.5;
        break;
      }
      case 'pytorch_half_pixel':
        x = L > 1 ? (o + 0.5) / s - 0.5 : 0;
        break;
      case 'align_corners':
        x = L === 1 ? 0 : (o * (I - 1)) / (L - 1);
        break;
      case 'tf_half_pixel_for_nn':
        x = (o + 0.5) / s;
        break;
      case 'tf_crop_and_resize':
        x = O > 1 ? start * (I - 1) + (o * (end - start) * (I - 1)) / (O - 1) : 0.5 * (start + end) * (I - 1);
        if (x < 0 || x > I - 1) {
          bias![o] = fill;
          continue;
        }
        break;
      default:
        x = o / s;
    }
    // Neighbours f-k+1 .. f+k around x (f = x - 1 for an integer x, so ratio 1), edge-clamped.
    const f = Number.isInteger(x) ? x - 1 : Math.floor(x);
    const t = x - f;
    let c: number[];
    if (m.mode === 'nearest') {
      const up = Number.isInteger(x)
        ? true
        : m.nearest === 'round_prefer_floor'
          ? t > 0.5
          : m.nearest === 'round_prefer_ceil'
            ? t >= 0.5
            : m.nearest === 'ceil';
      c = up ? [0, 1] : [1, 0];
    } else if (m.mode === 'linear') c = [1 - t, t];
    else {
      const u = 1 - t;
      c = [
        ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
        ((A + 2) * t - (A + 3)) * t * t + 1,
        ((A + 2) * u - (A + 3)) * u * u + 1,
        ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A,
      ];
    }
    const first = f - c.length / 2 + 1;
    if (exclude) {
      let sum = 0;
      c = c.map((v, j) => (first + j < 0 || first + j >= I ? 0 : v));
      for (const v of c) sum += v;
      c = c.map((v) => v / sum);
    }
    c.forEach((v, j) => {
      const i = Math.min(Math.max(first + j, 0), I - 1);
      w[i * O + o] += v;
    });
  }
  return { w, bias };
}

/** Resize of any axes but the batch: one fixed interpolation matrix per resized axis, on the last axis. */
function resizeAny(
  n: NodeContext,
  x: Sym,
  m: ReturnType<typeof resizeModes>,
  { scales, out, roi }: ReturnType<typeof resizeShape>,
): Sym {
  const { b, attrs } = n;
  if (attrs.int('antialias', 0) !== 0 && scales.some((v) => v < 1))
    n.fail(`attribute antialias ${attrs.int('antialias', 0)} when down-scaling is not supported`);
  if (m.old && m.mode === 'nearest' && scales.some((v) => v < 1))
    n.fail(`nearest down-scaling (scales [${scales}]) at opset ${b.opset} is not supported`);
  const r = x.shape.length;
  let v = x;
  for (let a = r - 1; a >= 1; a--) {
    if (out[a] === x.shape[a] && scales[a] === 1 && roi[a] === 0 && roi[a + r] === 1) continue;
    const { w, bias } = axisMatrix(n, m, x.shape[a], out[a], scales[a], [roi[a], roi[a + r]]);
    v = mapAxis(n, v, a, out[a], w, bias);
  }
  return v;
}

function resize(n: NodeContext, upsample: boolean): Sym {
  const { b, base } = n;
  const x = n.ins[0];
  if (!x || x.kind !== 'sym') return n.fail('the input must be a model value');
  const m = resizeModes(n, upsample);
  const shape = resizeShape(n, upsample, x.shape, m.ctm === 'tf_crop_and_resize');
  const { scales, out } = shape;
  if (m.ctm !== 'tf_crop_and_resize' && out.every((d, i) => d === x.shape[i]) && scales.every((v) => v === 1)) return x;
  // Integer up-scaling of an image's two spatial axes in the modes UpSampling2D computes.
  const [sh, sw] = [scales[2], scales[3]];
  const interp = kernelInterp(m);
  if (
    x.shape.length === 4 &&
    interp &&
    scales[1] === 1 &&
    Number.isInteger(sh) &&
    Number.isInteger(sw) &&
    out[2] === x.shape[2] * sh &&
    out[3] === x.shape[3] * sw &&
    n.attrs.int('antialias', 0) === 0
  ) {
    const [C, H, W] = image(x, n.what);
    const t = b.apply(new UpSampling2D({ size: [sh, sw], interpolation: interp }), base, b.nhwc(x, base));
    return b.sym(t, [BATCH, C, H * sh, W * sw], 'nhwc');
  }
  return resizeAny(n, x, m, shape);
}

export const Resize = (n: NodeContext) => resize(n, false);
export const Upsample = (n: NodeContext) => resize(n, true);
