// What the inference plan may do with each layer class, one row a class. Keyed by the registry's
// union of class names, so a new layer class missing here fails to compile instead of silently
// running without (or with a wrong) rule.
import { isLayerClassName, type LayerClassName } from '../registry.js';
import type { Layer } from '../layer.js';
import { Activation } from '../layers.js';
import { ReLU } from '../reshaping.js';
import { type Run, runConv2D, runDense, runDepthwiseConv2D, runMaxPool, runMergeRelu, runQuantized } from './run.js';
import { type Int8Params, QuantizedLayer } from '../../quant/layers.js';
import type { Pool2dOptions } from '../../ops/pool2d.js';
import { MaxPooling2D, Pool2D } from '../layers.js';

/** The inference plan's rule for one layer class. */
export interface Rule {
  /**
   * The class' inference call writes tensor data through kernel calls only (JavaScript writes at most
   * metadata, such as a window geometry, into memory it allocated), so a forward made of such layers
   * can be replayed from a kernel trace. Not so, for example: Dropout in training, the random
   * preprocessing layers.
   */
  traceable: boolean;
  /** A BatchNormalization read only by it folds into its kernel and bias (when its activation is linear). */
  foldsBatchNorm?: true;
  /** Takes a ZeroPadding2D read only by it as its own padding (when its padding is 'valid'). */
  takesPadding?: true;
  /** An int8 layer's input and output quantization (the output's null unless it is the layer's result). */
  int8?: (layer: Layer) => { input: Int8Params; output: Int8Params | null } | null;
  /** A max pooling's window (null for an average pooling): it pools int8 values where the plan has them. */
  maxPool?: (layer: Layer) => Pool2dOptions | null;
  /** The window of a convolution outside Conv2D and DepthwiseConv2D that takes padding (null: none). */
  window?: (layer: Layer) => { kernelSize: [number, number]; dilationRate: [number, number]; padding: string } | null;
  /**
   * Takes the relu read only by it: 'store' fuses relu (and relu6 off Winograd) into a linear
   * convolution's output store; 'inPlace' applies relu to its own new output.
   */
  fusesRelu?: 'store' | 'inPlace';
  /** Keeps its filter's Winograd transform or direct packing, and may take a 2x2 max pooling after it. */
  packs?: true;
  /** The relu the layer computes exactly, max(x, 0) or min(max(x, 0), 6), or null for anything else. */
  relu?: (layer: Layer) => 'relu' | 'relu6' | null;
  /** The plan's own call of the layer, for a step it changed. */
  run?: Run;
}

const T: Rule = { traceable: true };
const F: Rule = { traceable: false };

const activationRelu = (l: Layer) => {
  const a = l instanceof Activation ? l.act : null;
  return a === 'relu' || a === 'relu6' ? a : null;
};
const reluLayerRelu = (l: Layer) => {
  if (!(l instanceof ReLU) || l.negativeSlope !== 0 || l.threshold !== 0) return null;
  return l.maxValue === null ? 'relu' : l.maxValue === 6 ? 'relu6' : null;
};

const int8Of = (l: Layer) => (l instanceof QuantizedLayer ? l.int8Params() : null);
// An int8 convolution takes a zero padding as its own: the kernels' padding taps read the zero point.
// The int8 layers are traced: their parameter blocks are written whole by JavaScript into memory
// allocated without a zero fill, and their packed weights are made on the first call, before a trace.
const quantizedConv: Rule = {
  traceable: true,
  takesPadding: true,
  window: (l) => (l instanceof QuantizedLayer ? l.window() : null),
  int8: int8Of,
  run: runQuantized,
};

/** The inference plan's rules, by layer class. */
export const RULES: Record<LayerClassName, Rule> = {
  // never a step (the graph's inputs): nothing to run
  InputLayer: T,
  Conv2D: {
    traceable: true,
    foldsBatchNorm: true,
    takesPadding: true,
    fusesRelu: 'store',
    packs: true,
    run: runConv2D,
  },
  DepthwiseConv2D: {
    traceable: true,
    foldsBatchNorm: true,
    takesPadding: true,
    fusesRelu: 'store',
    run: runDepthwiseConv2D,
  },
  Dense: { traceable: true, foldsBatchNorm: true, run: runDense },
  Add: { traceable: true, fusesRelu: 'inPlace', run: runMergeRelu },
  Activation: { traceable: true, relu: activationRelu },
  ReLU: { traceable: true, relu: reluLayerRelu },
  SeparableConv2D: T,
  BatchNormalization: T,
  Softmax: T,
  MaxPooling2D: {
    traceable: true,
    maxPool: (l) => (l instanceof MaxPooling2D ? { ...l.cfg } : null),
    run: runMaxPool,
  },
  AveragePooling2D: T,
  Pool2D: {
    traceable: true,
    maxPool: (l) =>
      l instanceof Pool2D && l.mode === 'max' ? { poolSize: l.poolSize, strides: l.strides, padding: l.padding } : null,
    run: runMaxPool,
  },
  GlobalAveragePooling2D: T,
  GlobalMaxPooling2D: T,
  ZeroPadding2D: T,
  Flatten: T,
  Reshape: T,
  Permute: T,
  // inactive outside training (its mask is drawn in JavaScript only then)
  Dropout: T,
  Concatenate: T,
  // one resize kernel over a geometry struct
  UpSampling2D: T,
  // one kernel call each
  LayerNormalization: T,
  LogSoftmax: T,
  Slice: T,
  // Not audited for tracing: they keep running their own calls on every predict.
  Conv2DTranspose: F,
  LeakyReLU: F,
  Subtract: F,
  Multiply: F,
  Average: F,
  Maximum: F,
  Minimum: F,
  Cropping2D: F,
  PRelu: F,
  Clip: F,
  ScaledElu: F,
  HardSigmoid: F,
  GELU: T,
  Erf: T,
  Affine: F,
  // the random preprocessing layers
  RandomTranslation: F,
  RandomRotation: F,
  RandomZoom: F,
  RandomContrast: F,
  QuantizedConv2D: quantizedConv,
  QuantizedDepthwiseConv2D: quantizedConv,
  QuantizedDense: { traceable: true, int8: int8Of, run: runQuantized },
  FakeQuant: F,
};

/** The rule of a layer's class; a class outside the registry (a user's own) is only run, never traced. */
export function ruleOf(layer: Layer): Rule {
  const n = layer.className;
  return isLayerClassName(n) ? RULES[n] : F;
}
