// Convolutions: Conv2D is Conv with its dilations and group; DepthwiseConv2D is Conv with group = C
// (kernel (KH, KW, C, M) read as (KH, KW, 1, C*M)); SeparableConv2D is that Conv then a 1x1 Conv;
// Conv2DTranspose is ConvTranspose with explicit pads (and output_padding where Keras' output is
// larger than the taps reach, i.e. kernel < stride with 'valid'). 'same' padding becomes explicit pads
// computed by simdnet's own geometry (TF semantics: the extra pixel goes bottom/right).
import { conv2dTransposeShape, convGeometry, type ConvWindowOptions } from '../../../geom.js';
import {
  type Attr,
  type Emitter,
  type GraphWriter,
  type LayerStep,
  int,
  ints,
  pair,
  weightData,
  type Emitters,
} from './graph.js';

/** (KH, KW, C, K) → (K, C, KH, KW). */
function hwioToOihw(w: Float32Array, KH: number, KW: number, C: number, K: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      for (let c = 0; c < C; c++) {
        const src = ((i * KW + j) * C + c) * K;
        for (let k = 0; k < K; k++) out[((k * C + c) * KH + i) * KW + j] = w[src + k];
      }
    }
  }
  return out;
}

/** Keras' Conv2DTranspose kernel (KH, KW, F, C) → ONNX ConvTranspose's (C, F, KH, KW). */
function hwioToIohw(w: Float32Array, KH: number, KW: number, F: number, C: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      for (let f = 0; f < F; f++) {
        const src = ((i * KW + j) * F + f) * C;
        for (let c = 0; c < C; c++) out[((c * F + f) * KH + i) * KW + j] = w[src + c];
      }
    }
  }
  return out;
}

/** A Conv's window attributes and its bias input, after moving the input to NCHW. */
interface Window {
  KH: number;
  KW: number;
  /** Input channels. */
  C: number;
  attrs: Attr[];
  /** The bias initializer as Conv's third input (none without useBias); K values are expected. */
  bias: (K: number) => string[];
}

function convWindow(g: GraphWriter, st: LayerStep): Window {
  const { layer, name, cfg } = st;
  const what = layer.className;
  g.toNCHW(name, what);
  const [KH, KW] = pair(cfg.kernelSize);
  const [H, W, C] = st.inShape;
  const geo = convGeometry(name, H, W, KH, KW, cfg as ConvWindowOptions);
  const { SH, SW, DH, DW } = geo;
  const attrs = [
    ints('kernel_shape', [KH, KW]),
    ints('strides', [SH, SW]),
    ints('dilations', [DH, DW]),
    ints('pads', [geo.pad.top, geo.pad.left, geo.pad.bottom, geo.pad.right]),
  ];
  const bias = (K: number): string[] => {
    if (cfg.useBias === false) return [];
    const b = weightData(layer, 'bias');
    if (!b || b.data.length !== K)
      throw new Error(`toONNX: layer ${name} (${what}) has useBias but no bias of ${K} values`);
    return [g.init(`${name}/bias`, b.data, [K])];
  };
  return { KH, KW, C, attrs, bias };
}

export const conv2d: Emitter = (g, st) => {
  const { layer, name, cfg } = st;
  const { KH, KW, C, attrs, bias } = convWindow(g, st);
  const G = (cfg.groups as number | undefined) ?? 1;
  const K = cfg.filters as number;
  const kernel = weightData(layer, 'kernel');
  if (!kernel || kernel.shape.join() !== [KH, KW, C / G, K].join()) {
    throw new Error(`toONNX: layer ${name} (Conv2D) has no kernel of shape [${[KH, KW, C / G, K]}]`);
  }
  const w = g.init(`${name}/kernel`, hwioToOihw(kernel.data, KH, KW, C / G, K), [K, C / G, KH, KW]);
  g.node('Conv', name, [g.cur, w, ...bias(K)], [...attrs, int('group', G)]);
  g.activation(cfg.activation, name);
};

/** The depthwise kernel as Conv weights: output channel c*M + m of group c, (KH, KW, C, M) read as (KH, KW, 1, C*M). */
function depthwiseKernel(g: GraphWriter, st: LayerStep, w: Window, M: number): string {
  const { KH, KW, C } = w;
  const dk = weightData(st.layer, 'depthwise_kernel');
  if (!dk || dk.shape.join() !== [KH, KW, C, M].join()) {
    throw new Error(
      `toONNX: layer ${st.name} (${st.layer.className}) has no depthwise_kernel of shape [${[KH, KW, C, M]}]`,
    );
  }
  return g.init(`${st.name}/depthwise_kernel`, hwioToOihw(dk.data, KH, KW, 1, C * M), [C * M, 1, KH, KW]);
}

export const depthwiseConv2d: Emitter = (g, st) => {
  const { name, cfg } = st;
  const win = convWindow(g, st);
  const C = win.C;
  const M = cfg.depthMultiplier as number;
  const w = depthwiseKernel(g, st, win, M);
  g.node('Conv', name, [g.cur, w, ...win.bias(C * M)], [...win.attrs, int('group', C)]);
  g.activation(cfg.activation, name);
};

export const separableConv2d: Emitter = (g, st) => {
  const { layer, name, cfg } = st;
  const win = convWindow(g, st);
  const C = win.C;
  const M = cfg.depthMultiplier as number;
  const w = depthwiseKernel(g, st, win, M);
  g.node('Conv', name, [g.cur, w], [...win.attrs, int('group', C)]);
  const F = cfg.filters as number;
  const pk = weightData(layer, 'pointwise_kernel');
  if (!pk || pk.shape.join() !== [1, 1, C * M, F].join()) {
    throw new Error(`toONNX: layer ${name} (SeparableConv2D) has no pointwise_kernel of shape [${[1, 1, C * M, F]}]`);
  }
  const pw = g.init(`${name}/pointwise_kernel`, hwioToOihw(pk.data, 1, 1, C * M, F), [F, C * M, 1, 1]);
  g.node(
    'Conv',
    name,
    [g.cur, pw, ...win.bias(F)],
    [
      ints('kernel_shape', [1, 1]),
      ints('strides', [1, 1]),
      ints('dilations', [1, 1]),
      ints('pads', [0, 0, 0, 0]),
      int('group', 1),
    ],
  );
  g.activation(cfg.activation, name);
};

export const conv2dTranspose: Emitter = (g, st) => {
  const { layer, name, cfg } = st;
  g.toNCHW(name, 'Conv2DTranspose');
  const [KH, KW] = pair(cfg.kernelSize);
  const [SH, SW] = pair(cfg.strides ?? 1);
  const [DH, DW] = pair(cfg.dilationRate ?? 1);
  const [H, W, C] = st.inShape;
  const F = cfg.filters as number;
  const [OH, OW] = st.outShape;
  const t = conv2dTransposeShape(
    H,
    W,
    KH,
    KW,
    {
      strides: [SH, SW],
      dilationRate: [DH, DW],
      padding: cfg.padding as 'valid' | 'same',
      outputPadding: cfg.outputPadding as [number, number] | null,
    },
    name,
  );
  const kernel = weightData(layer, 'kernel');
  if (!kernel || kernel.shape.join() !== [KH, KW, F, C].join()) {
    throw new Error(`toONNX: layer ${name} (Conv2DTranspose) has no kernel of shape [${[KH, KW, F, C]}]`);
  }
  // ONNX: out = S*(in-1) + output_padding + (k-1)*D+1 - pad_begin - pad_end. Keras' 'valid' with a
  // kernel smaller than the stride has rows no tap reaches: they become output_padding, not a negative pad.
  const end = (n: number, k: number, s: number, d: number, o: number, b: number) =>
    s * (n - 1) + (k - 1) * d + 1 - o - b;
  const eh = end(H, KH, SH, DH, OH, t.PT),
    ew = end(W, KW, SW, DW, OW, t.PL);
  const b = cfg.useBias === false ? null : weightData(layer, 'bias');
  if (cfg.useBias !== false && (!b || b.data.length !== F))
    throw new Error(`toONNX: layer ${name} (Conv2DTranspose) has useBias but no bias of ${F} values`);
  // ONNX's ConvTranspose weight is (C_in, C_out, KH, KW).
  const w = g.init(`${name}/kernel`, hwioToIohw(kernel.data, KH, KW, F, C), [C, F, KH, KW]);
  g.node(
    'ConvTranspose',
    name,
    [g.cur, w, ...(b ? [g.init(`${name}/bias`, b.data, [F])] : [])],
    [
      ints('kernel_shape', [KH, KW]),
      ints('strides', [SH, SW]),
      ints('dilations', [DH, DW]),
      int('group', 1),
      ints('pads', [t.PT, t.PL, Math.max(eh, 0), Math.max(ew, 0)]),
      ints('output_padding', [Math.max(-eh, 0), Math.max(-ew, 0)]),
    ],
  );
  g.activation(cfg.activation, name);
};

/** This family's rows of the exporter's table. */
export const convEmitters = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose,
} satisfies Emitters;
