// Pooling runs in NCHW. AveragePooling2D excludes padding from the divisor (count_include_pad=0), as
// simdnet's avgPool2d does; the global pools become GlobalAveragePool/GlobalMaxPool + Flatten.
import { type Padding, windowGeometry } from '../../../geom.js';
import { type Attr, type Emitter, type GraphWriter, int, ints, pair, type Emitters } from './graph.js';

/** MaxPool, or AveragePool without the padding in the divisor. */
function poolNode(g: GraphWriter, name: string, max: boolean, attrs: Attr[]): void {
  if (max) g.node('MaxPool', name, [g.cur], attrs);
  else g.node('AveragePool', name, [g.cur], [...attrs, int('count_include_pad', 0)]);
}

/** MaxPooling2D and AveragePooling2D. */
export const pool2d: Emitter = (g, { layer, name, cfg, inShape: s }) => {
  g.toNCHW(name, layer.className);
  const [KH, KW] = pair(cfg.poolSize);
  const [SH, SW] = pair(cfg.strides ?? cfg.poolSize);
  const geo = windowGeometry(name, s[0], s[1], KH, KW, SH, SW, cfg.padding as Padding);
  const attrs = [
    ints('kernel_shape', [KH, KW]),
    ints('strides', [SH, SW]),
    ints('pads', [geo.pad.top, geo.pad.left, geo.pad.bottom, geo.pad.right]),
  ];
  poolNode(g, name, layer.className === 'MaxPooling2D', attrs);
};

/** GlobalAveragePooling2D and GlobalMaxPooling2D. */
export const globalPool2d: Emitter = (g, { layer, name, cfg }) => {
  g.toNCHW(name, layer.className);
  g.node(layer.className === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', name, [g.cur]);
  // keepdims: the [N, C, 1, 1] result stays an NCHW image ([N, 1, 1, C] once back in NHWC).
  if (cfg.keepdims === true) return;
  g.node('Flatten', name, [g.cur], [int('axis', 1)]);
  g.layout = 'nhwc';
  g.rank = 2;
};

/** The importer's Pool2D: explicit pads, max or average. */
export const pool2dExplicit: Emitter = (g, { name, cfg }) => {
  g.toNCHW(name, 'Pool2D');
  const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
  const attrs = [
    ints('kernel_shape', cfg.poolSize as number[]),
    ints('strides', cfg.strides as number[]),
    ints('pads', [t, l, b, r]),
  ];
  poolNode(g, name, cfg.mode === 'max', attrs);
};

/** This family's rows of the exporter's table. */
export const poolEmitters = {
  MaxPooling2D: pool2d,
  AveragePooling2D: pool2d,
  GlobalAveragePooling2D: globalPool2d,
  GlobalMaxPooling2D: globalPool2d,
  Pool2D: pool2dExplicit,
} satisfies Emitters;
