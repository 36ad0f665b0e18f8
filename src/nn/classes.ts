// Every layer class, listed once. The registry (registry.ts) is built from this module's exports, and
// the package entries re-export it whole, so a new layer is added here and nowhere else.
export { InputLayer } from './layer.js';
export {
  MaxPooling2D,
  AveragePooling2D,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  Flatten,
  Dense,
  Dropout,
  Activation,
  LeakyReLU,
  Pool2D,
} from './layers.js';
export { BatchNormalization } from './batchnorm.js';
export { LayerNormalization } from './layernorm.js';
export { Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose } from './convolutional.js';
export { Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate } from './merge.js';
export { ZeroPadding2D, Cropping2D, UpSampling2D, Reshape, Permute, ReLU, Softmax, Slice } from './reshaping.js';
export { PRelu, Clip, ScaledElu, HardSigmoid, LogSoftmax, Affine, GELU, Erf } from './activations.js';
export { RandomTranslation, RandomRotation, RandomZoom, RandomContrast } from './preprocessing.js';
export {
  QuantizedConv2D,
  QuantizedDepthwiseConv2D,
  QuantizedDense,
  FakeQuant,
  type QuantizedLayerConfig,
  type FakeQuantConfig,
} from '../quant/layers.js';
