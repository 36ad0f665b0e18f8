// Dense, Flatten, BatchNormalization, Activation, and the layers that are the identity at inference.
// Flatten goes back to NHWC first, which makes the flattened order simdnet's, so the Dense kernels are
// written unchanged. BatchNormalization is exported in inference form (moving statistics,
// BatchNormalization op with C on axis 1), or with useBatchStatsAlways in the training-mode form
// torch.onnx.export writes. LayerNormalization is written as the ReduceMean/Sub/Mul/Sqrt/Div pattern
// opset 13 has (the LayerNormalization op needs opset 17), over the NHWC trailing axes.
import type { LayerNormalization } from '../../../nn/layernorm.js';
import { type Emitter, float, int, ints, weightData, type Emitters } from './graph.js';

/** Dropout and the training-only augmentations: the identity at inference, so nothing is written. */
export const identity: Emitter = () => {};

export const flatten: Emitter = (g, { name }) => {
  g.toNHWC(name);
  if (g.rank > 2) g.node('Flatten', name, [g.cur], [int('axis', 1)]);
  g.rank = 2;
};

export const dense: Emitter = (g, { layer, name, cfg, inShape: s }) => {
  if (g.rank !== 2) throw new Error(`toONNX: layer ${name} (Dense) needs a flat input; add a Flatten layer before it`);
  const IN = s[0];
  const OUT = cfg.units as number;
  const kernel = weightData(layer, 'kernel');
  if (!kernel || kernel.shape.join() !== [IN, OUT].join()) {
    throw new Error(`toONNX: layer ${name} (Dense) has no kernel of shape [${[IN, OUT]}]`);
  }
  const inputs = [g.cur, g.init(`${name}/kernel`, kernel.data, [IN, OUT])];
  if (cfg.useBias !== false) {
    const bias = weightData(layer, 'bias');
    if (!bias) throw new Error(`toONNX: layer ${name} (Dense) has useBias but no bias weight`);
    inputs.push(g.init(`${name}/bias`, bias.data, [OUT]));
  }
  g.node('Gemm', name, inputs, [int('transA', 0), int('transB', 0)]);
  g.activation(cfg.activation, name);
};

export const batchNorm: Emitter = (g, { layer, name, cfg, inShape: s }) => {
  // Channels are the last axis: axis 1 once an image is NCHW, and already axis 1 for [N, C].
  if (g.rank === 4) g.toNCHW(name, 'BatchNormalization');
  else if (g.rank !== 2)
    throw new Error(`toONNX: layer ${name} (BatchNormalization) needs a [height, width, channels] or [features] input`);
  const C = s[s.length - 1];
  const get = (suffix: string, fill: number) => weightData(layer, suffix)?.data ?? new Float32Array(C).fill(fill);
  const x = g.cur;
  const affine = [g.init(`${name}/gamma`, get('gamma', 1), [C]), g.init(`${name}/beta`, get('beta', 0), [C])];
  if (cfg.useBatchStatsAlways) {
    // As torch.onnx.export writes track_running_stats=False: a training-mode BatchNormalization (at
    // opset 13, its running-statistics outputs asked for) normalizes with the batch statistics; its
    // mean and var inputs, the batch's, feed only those outputs, which nothing reads.
    const axes = [ints('axes', g.rank === 4 ? [0, 2, 3] : [0]), int('keepdims', 0)];
    const mean = g.node('ReduceMean', name, [x], axes);
    const d = g.node('Sub', name, [x, g.node('ReduceMean', name, [x], [axes[0], int('keepdims', 1)])]);
    const variance = g.node('ReduceMean', name, [g.node('Mul', name, [d, d])], axes);
    g.node('BatchNormalization', name, [x, ...affine, mean, variance], [float('epsilon', cfg.epsilon as number)]);
    const bn = g.nodes[g.nodes.length - 1];
    // Opset 9-13 allows 1 or 5 outputs: Y, running mean and var, saved mean and var.
    for (const out of ['running_mean', 'running_var', 'saved_mean', 'saved_var'])
      bn.output.push(g.unique(`${name}/${out}`));
    return;
  }
  const inputs = [
    x,
    ...affine,
    g.init(`${name}/moving_mean`, get('moving_mean', 0), [C]),
    g.init(`${name}/moving_variance`, get('moving_variance', 1), [C]),
  ];
  g.node('BatchNormalization', name, inputs, [float('epsilon', cfg.epsilon as number)]);
};

export const activation: Emitter = (g, { name, cfg }) => g.activation(cfg.activation, name);

export const layerNorm: Emitter = (g, { layer, name, cfg, inShape: s }) => {
  g.toNHWC(name);
  const first = (layer as LayerNormalization).firstAxis(s);
  const reduce = [
    ints(
      'axes',
      Array.from({ length: g.rank - first }, (_, i) => first + i),
    ),
    int('keepdims', 1),
  ];
  const x = g.cur;
  const d = g.node('Sub', name, [x, g.node('ReduceMean', name, [x], reduce)]);
  const variance = g.node('ReduceMean', name, [g.node('Mul', name, [d, d])], reduce);
  const std = g.node('Sqrt', name, [
    g.node('Add', name, [variance, g.scalarInit(`${name}/epsilon`, cfg.epsilon as number)]),
  ]);
  g.node('Div', name, [d, std]);
  const shape = s.slice(first - 1);
  for (const [suffix, op] of [
    ['gamma', 'Mul'],
    ['beta', 'Add'],
  ] as const) {
    const w = weightData(layer, suffix);
    if (w) g.node(op, name, [g.cur, g.init(`${name}/${suffix}`, w.data, shape)]);
  }
};

/** This family's rows of the exporter's table. */
export const coreEmitters = {
  Flatten: flatten,
  Dense: dense,
  Dropout: identity,
  Activation: activation,
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  // Training-only augmentation: identity at inference, so nothing is exported.
  RandomTranslation: identity,
  RandomRotation: identity,
  RandomZoom: identity,
  RandomContrast: identity,
} satisfies Emitters;
