// The MobileNetV2-style model of the bench's second row, written once against the Keras-like
// functional API that simdnet and tfjs-layers share, so both build the same graph under the same layer
// names (the peers copy weights layer by layer, by name). Inverted residual blocks: 1x1 expand, depthwise
// 3x3, ReLU6 after both, a linear 1x1 projection, BatchNormalization after each conv, residual add when
// the block keeps its shape. Input 32x32x3, 10 softmax outputs.

export const MNV2_INPUT = [32, 32, 3];
export const MNV2_PIXELS = MNV2_INPUT[0] * MNV2_INPUT[1] * MNV2_INPUT[2];
export const MNV2_CLASSES = 10;
/** [filters, stride, expansion] per inverted residual block; the first has expansion 1, as in the paper. */
const BLOCKS = [
  [16, 1, 1],
  [24, 2, 6],
  [24, 1, 6],
  [32, 2, 6],
  [32, 1, 6],
  [32, 1, 6],
];

/**
 * Builds the model with `api`: { L (layer factories), input(cfg), model(cfg) }. `extra` is merged
 * into the model() config (simdnet's seed).
 */
export function buildMnv2(api, extra = {}) {
  const { L } = api;
  const gap = L.globalAveragePooling2d ?? L.globalAveragePooling2D;
  const bn = (x, relu6, name) => {
    const b = L.batchNormalization({ name: `${name}_bn` }).apply(x);
    return relu6 ? L.reLU({ maxValue: 6, name: `${name}_relu6` }).apply(b) : b;
  };
  const conv1x1 = (x, filters, name) => L.conv2d({ filters, kernelSize: 1, useBias: false, name }).apply(x);
  const input = api.input({ shape: MNV2_INPUT, name: 'input' });
  let x = bn(
    L.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }).apply(input),
    true,
    'stem',
  );
  BLOCKS.forEach(([filters, strides, t], i) => {
    const name = `block${i + 1}`;
    const inChannels = x.shape[x.shape.length - 1];
    let h = t === 1 ? x : bn(conv1x1(x, inChannels * t, `${name}_expand`), true, `${name}_expand`);
    h = L.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false, name: `${name}_dw` }).apply(h);
    h = bn(h, true, `${name}_dw`);
    h = bn(conv1x1(h, filters, `${name}_project`), false, `${name}_project`);
    x = strides === 1 && inChannels === filters ? L.add({ name: `${name}_add` }).apply([x, h]) : h;
  });
  x = bn(conv1x1(x, 128, 'head'), true, 'head');
  const pooled = gap({ name: 'gap' }).apply(x);
  const output = L.dense({ units: MNV2_CLASSES, activation: 'softmax', name: 'logits' }).apply(pooled);
  return api.model({ inputs: input, outputs: output, name: 'mobilenetv2', ...extra });
}
