// Reshaping layers. ZeroPadding2D → Pad, Cropping2D → Slice, UpSampling2D → Resize (nearest:
// asymmetric + floor, which is pixel repetition; bilinear: linear with half_pixel, TF's resize), all on
// the current layout's H and W axes; Reshape, Permute, Slice and Affine work on simdnet's element order,
// so they go back to NHWC first (Reshape keeps the batch dim with 0).
import { type Emitter, axisOf, ints, str, weightData, type Emitters } from './graph.js';

type Sides = [[number, number], [number, number]];

/** ZeroPadding2D and Cropping2D. */
export const padOrCrop: Emitter = (g, { layer, name, cfg, inShape: s }) => {
  if (g.rank !== 4) {
    throw new Error(`toONNX: layer ${name} (${layer.className}) needs a [height, width, channels] input`);
  }
  const [[t, b], [l, r]] = (layer.className === 'ZeroPadding2D' ? cfg.padding : cfg.cropping) as Sides;
  const [h, w] = [g.imageAxis(1), g.imageAxis(2)];
  if (layer.className === 'ZeroPadding2D') {
    const pads = new Array<number>(8).fill(0);
    pads[h] = t;
    pads[w] = l;
    pads[4 + h] = b;
    pads[4 + w] = r;
    g.node('Pad', name, [g.cur, g.initI64(`${name}/pads`, pads)], [str('mode', 'constant')]);
  } else {
    g.node('Slice', name, [
      g.cur,
      g.initI64(`${name}/starts`, [t, l]),
      g.initI64(`${name}/ends`, [s[0] - b, s[1] - r]),
      g.initI64(`${name}/axes`, [h, w]),
    ]);
  }
};

export const upSampling2d: Emitter = (g, { name, cfg }) => {
  g.toNCHW(name, 'UpSampling2D');
  const [SH, SW] = cfg.size as [number, number];
  const scales = g.init(`${name}/scales`, Float32Array.of(1, 1, SH, SW), [4]);
  const attrs =
    cfg.interpolation === 'bilinear'
      ? [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')]
      : [str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor')];
  g.node('Resize', name, [g.cur, '', scales], attrs);
};

export const reshape: Emitter = (g, { name, outShape }) => {
  g.toNHWC(name);
  g.node('Reshape', name, [g.cur, g.initI64(`${name}/shape`, [0, ...outShape])]);
  g.rank = outShape.length + 1;
};

export const permute: Emitter = (g, { name, cfg }) => {
  g.toNHWC(name);
  g.node('Transpose', name, [g.cur], [ints('perm', [0, ...(cfg.dims as number[])])]);
};

/** The importer's Slice: one axis, begin..end. */
export const slice: Emitter = (g, { name, cfg }) => {
  g.toNHWC(name);
  const a = axisOf(cfg, g.rank);
  g.node('Slice', name, [
    g.cur,
    g.initI64(`${name}/starts`, [cfg.begin as number]),
    g.initI64(`${name}/ends`, [cfg.end as number]),
    g.initI64(`${name}/axes`, [a]),
  ]);
};

/** The importer's Affine: x * scale + offset, each broadcast in simdnet's layout and optional. */
export const affine: Emitter = (g, { layer, name, cfg }) => {
  g.toNHWC(name);
  const sc = cfg.scaleShape ? weightData(layer, 'scale') : null;
  const of = cfg.offsetShape ? weightData(layer, 'offset') : null;
  if (sc) g.node('Mul', name, [g.cur, g.init(`${name}/scale`, sc.data, sc.shape)]);
  if (of) g.node('Add', name, [g.cur, g.init(`${name}/offset`, of.data, of.shape)]);
  if (!sc && !of) g.node('Identity', name, [g.cur]);
};

/** This family's rows of the exporter's table. */
export const reshapingEmitters = {
  ZeroPadding2D: padOrCrop,
  Cropping2D: padOrCrop,
  UpSampling2D: upSampling2d,
  Reshape: reshape,
  Permute: permute,
  Slice: slice,
  Affine: affine,
} satisfies Emitters;
