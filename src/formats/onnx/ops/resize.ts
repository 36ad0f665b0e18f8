// Operators that change the spatial size of an NCHW image: Pad (zero padding, or cropping for negative
// pads) and Resize/Upsample (integer up-scaling, nearest or bilinear with the coordinate modes
// PyTorch and Keras use).
import { Cropping2D, UpSampling2D, ZeroPadding2D } from '../../../nn/reshaping.js';
import { BATCH, type Sym, image, normAxis } from './context.js';
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

export function Pad(n: NodeContext): Sym {
  const { b, base } = n;
  const x = n.ins[0];
  if (!x || x.kind !== 'sym') return n.fail('the input must be a model value');
  n.attrs.oneOf('mode', ['constant'], 'constant', 'only constant padding is supported');
  const r = x.shape.length;
  const { pads, value } = padArgs(n, r);
  if (pads.length !== 2 * r) n.fail(`pads [${pads}] must have ${2 * r} entries for a rank-${r} input`);
  if (value !== 0) n.fail(`only zero padding is supported (value ${value})`);
  if (pads.every((p) => p === 0)) return x;
  if (r !== 4 || pads[0] || pads[1] || pads[4] || pads[5])
    n.fail(`only padding the spatial axes of an NCHW image is supported (pads [${pads}])`);
  const [t, l, bo, ri] = [pads[2], pads[3], pads[6], pads[7]];
  let v = b.nhwc(x, base);
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
  return b.sym(v, [BATCH, x.shape[1], v.shape[0], v.shape[1]], 'nhwc');
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

/** Integer scales [sh, sw] of the spatial axes, from scales or sizes. */
function resizeScales(n: NodeContext, upsample: boolean, H: number, W: number): [number, number] {
  const { b, attrs, ins } = n;
  let scales: number[] | null = null;
  let sizes: number[] | null = null;
  const cv = (i: number) => {
    const v = ins[i];
    if (!v) return null;
    if (v.kind !== 'const') return n.fail(`input ${i} must be a constant`);
    return v.c.data.length > 0 ? Array.from(v.c.data) : null;
  };
  if (upsample) scales = b.opset < 9 ? attrs.floats('scales') : cv(1);
  else if (b.opset < 11) scales = cv(1);
  else {
    scales = cv(2);
    sizes = cv(3);
  }
  // Opset 18 may list the axes that scales/sizes cover; the importer reads them for all 4 axes.
  const axes = attrs.ints('axes');
  if (axes && axes.map((a) => (a < 0 ? a + 4 : a)).join() !== '0,1,2,3')
    n.fail(`attribute axes [${axes}] is not supported (scales and sizes must cover the 4 axes in order)`);
  if (sizes) {
    if (sizes.length !== 4) n.fail('sizes must have 4 entries');
    attrs.oneOf(
      'keep_aspect_ratio_policy',
      ['stretch'],
      'stretch',
      "only keep_aspect_ratio_policy 'stretch' is supported",
    );
    scales = [1, 1, sizes[2] / H, sizes[3] / W];
  }
  if (!scales || scales.length !== 4) return n.fail('scales (or sizes) for the 4 axes are missing');
  if (scales[0] !== 1 || scales[1] !== 1) n.fail(`only the spatial axes can be resized (scales [${scales}])`);
  const sh = Math.round(scales[2]),
    sw = Math.round(scales[3]);
  if (Math.abs(sh - scales[2]) > 1e-6 || Math.abs(sw - scales[3]) > 1e-6 || sh < 1 || sw < 1) {
    n.fail(`only integer up-scaling is supported (scales [${scales}])`);
  }
  return [sh, sw];
}

/** The UpSampling2D interpolation that matches mode / coordinate_transformation_mode / nearest_mode. */
function interpolation(n: NodeContext, upsample: boolean): 'nearest' | 'bilinear' {
  const { b, attrs } = n;
  const old = upsample || b.opset < 11;
  const mode = attrs.oneOf('mode', ['nearest', 'linear', 'bilinear', 'cubic'], 'nearest');
  const ctm = attrs.oneOf('coordinate_transformation_mode', COORDINATE_MODES, old ? 'asymmetric' : 'half_pixel');
  if (mode === 'nearest') {
    const nm = attrs.oneOf(
      'nearest_mode',
      ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'],
      'round_prefer_floor',
    );
    const ok =
      (ctm === 'asymmetric' && (nm === 'floor' || old)) ||
      ((ctm === 'half_pixel' || ctm === 'pytorch_half_pixel') && nm === 'round_prefer_floor');
    if (!ok)
      n.fail(`nearest resize with coordinate_transformation_mode '${ctm}' and nearest_mode '${nm}' is not supported`);
    return 'nearest';
  }
  if (mode === 'linear' || mode === 'bilinear') {
    if (ctm !== 'half_pixel' && ctm !== 'pytorch_half_pixel')
      n.fail(`linear resize with coordinate_transformation_mode '${ctm}' is not supported (use align_corners=False)`);
    return 'bilinear';
  }
  return n.fail(`resize mode '${mode}' is not supported`);
}

function resize(n: NodeContext, upsample: boolean): Sym {
  const { b, base } = n;
  const x = n.ins[0];
  if (!x || x.kind !== 'sym') return n.fail('the input must be a model value');
  const [C, H, W] = image(x, n.what);
  const [sh, sw] = resizeScales(n, upsample, H, W);
  const interp = interpolation(n, upsample);
  if (sh === 1 && sw === 1) return x;
  const t = b.apply(new UpSampling2D({ size: [sh, sw], interpolation: interp }), base, b.nhwc(x, base));
  return b.sym(t, [BATCH, C, H * sh, W * sw], 'nhwc');
}

export const Resize = (n: NodeContext) => resize(n, false);
export const Upsample = (n: NodeContext) => resize(n, true);
