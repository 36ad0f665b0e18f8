// How each simdnet layer class is read from a Keras config and written to one: one entry per class,
// typed by the layer registry, so a new class without an entry fails to compile. Keras spellings that
// are another name for a class (MaxPool2D, ELU as an Activation) are aliases of its entry.
import type { LayerClassName } from '../../nn/registry.js';
import { show } from '../../show.js';
import type { Obj } from './artifacts.js';
import { type Reader, type Writer, isOne, pairOf } from './keras-config.js';

/** The simdnet options of a layer from its Keras config; problems are recorded on the reader. */
export type FromKeras = (r: Reader) => Obj;
/** A layer's Keras config in the form tfjs-layers reads; what it cannot represent is recorded. */
export type ToKeras = (w: Writer) => Obj;

/** One layer class in the tfjs-layers format. */
export interface LayerFormat {
  /** Reads the Keras class of the same name; null: no Keras class is read as this one. */
  readonly fromKeras: FromKeras | null;
  /** Other Keras class names read as this class, each with its converter. */
  readonly aliases?: Readonly<Record<string, FromKeras>>;
  /** Writes the layer under its own class name; null: tfjs-layers has no equivalent. */
  readonly toKeras: ToKeras | null;
}

/** A class tfjs-layers has no equivalent for: no Keras class reads as it, saving it is an error. */
const unsupported: LayerFormat = { fromKeras: null, toKeras: null };

/** The window options of a convolution, in simdnet names. */
const conv = (r: Reader): Obj => {
  r.channelsLast();
  return {
    kernelSize: r.pair('kernel_size'),
    strides: r.pair('strides'),
    padding: r.padding(),
    dilationRate: r.pair('dilation_rate'),
    activation: r.activation(),
    useBias: r.bool('use_bias'),
  };
};
const pool = (r: Reader): Obj => {
  r.channelsLast();
  return { poolSize: r.pair('pool_size'), strides: r.pair('strides') ?? r.pair('pool_size'), padding: r.padding() };
};
const globalPool = (r: Reader): Obj => {
  r.channelsLast();
  return { keepdims: r.bool('keepdims') };
};
const none = (): Obj => ({});

const poolFormat: LayerFormat = {
  fromKeras: pool,
  toKeras: ({ c }) => ({
    pool_size: pairOf(c.poolSize),
    strides: pairOf(c.strides),
    padding: c.padding,
    data_format: 'channels_last',
  }),
};
const globalPoolFormat: LayerFormat = {
  fromKeras: globalPool,
  toKeras: (w) => {
    if (w.c.keepdims) w.no('tfjs-layers has no keepdims for global pooling');
    return { data_format: 'channels_last' };
  },
};
const mergeFormat: LayerFormat = { fromKeras: none, toKeras: none };

const convolutions = {
  Conv2D: {
    fromKeras: (r) => ({
      ...conv(r),
      filters: r.get('filters'),
      groups: (r.get('groups') as number) === 1 ? undefined : r.get('groups'),
    }),
    toKeras: (w) => {
      if ((w.c.groups ?? 1) !== 1) w.no('grouped convolution (groups > 1) has no tfjs-layers equivalent');
      return { filters: w.c.filters, ...w.window() };
    },
  },
  DepthwiseConv2D: {
    fromKeras: (r) => ({ ...conv(r), depthMultiplier: r.get('depth_multiplier') }),
    toKeras: (w) => {
      // tfjs-layers reads dilation_rate but computes an undilated depthwise convolution.
      if (!isOne(w.c.dilationRate)) w.no('tfjs-layers ignores the dilation of DepthwiseConv2D');
      return { ...w.window(), depth_multiplier: w.c.depthMultiplier };
    },
  },
  SeparableConv2D: {
    fromKeras: (r) => ({ ...conv(r), filters: r.get('filters'), depthMultiplier: r.get('depth_multiplier') }),
    toKeras: (w) => ({ filters: w.c.filters, ...w.window(), depth_multiplier: w.c.depthMultiplier }),
  },
  Conv2DTranspose: {
    fromKeras: (r) => ({ ...conv(r), filters: r.get('filters'), outputPadding: r.pair('output_padding') ?? null }),
    toKeras: (w) => {
      if (!isOne(w.c.dilationRate) || w.c.outputPadding !== null) {
        w.no('tfjs-layers has no dilation or output_padding for Conv2DTranspose');
      }
      return { filters: w.c.filters, ...w.window() };
    },
  },
} satisfies Partial<Record<LayerClassName, LayerFormat>>;

const core = {
  Dense: {
    fromKeras: (r) => ({ units: r.get('units'), activation: r.activation(), useBias: r.bool('use_bias') }),
    toKeras: (w) => ({ units: w.c.units, activation: w.act(), use_bias: w.c.useBias }),
  },
  MaxPooling2D: { ...poolFormat, aliases: { MaxPool2D: pool } },
  AveragePooling2D: { ...poolFormat, aliases: { AvgPool2D: pool } },
  GlobalAveragePooling2D: { ...globalPoolFormat, aliases: { GlobalAvgPool2D: globalPool } },
  GlobalMaxPooling2D: { ...globalPoolFormat, aliases: { GlobalMaxPool2D: globalPool } },
  BatchNormalization: {
    fromKeras: (r) => {
      let axis = r.get('axis');
      // Keras 2 writes the built layer's axis as a list of one.
      if (Array.isArray(axis)) {
        if (axis.length !== 1) r.problem(`normalizing over several axes ${show(axis)} is not supported`);
        axis = axis[0];
      }
      if (r.get('renorm') === true) r.problem('renorm is not supported');
      return {
        axis,
        momentum: r.num('momentum'),
        epsilon: r.num('epsilon'),
        center: r.bool('center'),
        scale: r.bool('scale'),
      };
    },
    toKeras: (w) => {
      const c = w.c;
      if (c.useBatchStatsAlways)
        w.no('useBatchStatsAlways (batch statistics in inference too) has no Keras equivalent');
      return { axis: c.axis, momentum: c.momentum, epsilon: c.epsilon, center: c.center, scale: c.scale };
    },
  },
  LayerNormalization: {
    fromKeras: (r) => ({
      axis: r.get('axis'),
      epsilon: r.num('epsilon'),
      center: r.bool('center'),
      scale: r.bool('scale'),
    }),
    toKeras: ({ c }) => ({ axis: c.axis, epsilon: c.epsilon, center: c.center, scale: c.scale }),
  },
  Dropout: { fromKeras: (r) => ({ rate: r.get('rate') }), toKeras: ({ c }) => ({ rate: c.rate }) },
  Flatten: {
    fromKeras: (r) => {
      r.channelsLast();
      return {};
    },
    toKeras: none,
  },
} satisfies Partial<Record<LayerClassName, LayerFormat>>;

const activations = {
  Activation: {
    fromKeras: (r) => {
      const a = r.activation();
      return { activation: a ?? 'linear' };
    },
    aliases: {
      ELU: (r) => {
        const alpha = r.num('alpha') ?? 1;
        if (alpha !== 1) r.problem(`ELU with alpha ${alpha} is not supported (only 1)`);
        return { activation: 'elu' };
      },
    },
    toKeras: (w) => ({ activation: w.act() }),
  },
  LeakyReLU: {
    fromKeras: (r) => ({ alpha: r.num('alpha') ?? r.num('negative_slope') }),
    toKeras: ({ c }) => ({ alpha: c.alpha }),
  },
  ReLU: {
    fromKeras: (r) => ({
      maxValue: r.num('max_value') ?? null,
      negativeSlope: r.num('negative_slope'),
      threshold: r.num('threshold'),
    }),
    toKeras: (w) => {
      if (w.c.negativeSlope !== 0 || w.c.threshold !== 0)
        w.no('tfjs-layers has no negative_slope or threshold for ReLU');
      return { max_value: w.c.maxValue };
    },
  },
  Softmax: {
    fromKeras: (r) => {
      const axis = r.get('axis');
      if (Array.isArray(axis)) {
        if (axis.length !== 1) r.problem(`softmax over several axes ${show(axis)} is not supported`);
        return { axis: axis[0] };
      }
      return { axis };
    },
    toKeras: ({ c }) => ({ axis: c.axis }),
  },
} satisfies Partial<Record<LayerClassName, LayerFormat>>;

const merges = {
  Add: mergeFormat,
  // tfjs-layers has no Subtract layer: Keras' is read, never written.
  Subtract: { fromKeras: none, toKeras: null },
  Multiply: mergeFormat,
  Average: mergeFormat,
  Maximum: mergeFormat,
  Minimum: mergeFormat,
  Concatenate: { fromKeras: (r) => ({ axis: r.get('axis') }), toKeras: ({ c }) => ({ axis: c.axis }) },
} satisfies Partial<Record<LayerClassName, LayerFormat>>;

const reshaping = {
  ZeroPadding2D: {
    fromKeras: (r) => {
      r.channelsLast();
      return { padding: r.get('padding') };
    },
    toKeras: ({ c }) => ({ padding: c.padding, data_format: 'channels_last' }),
  },
  Cropping2D: {
    fromKeras: (r) => {
      r.channelsLast();
      return { cropping: r.get('cropping') };
    },
    toKeras: ({ c }) => ({ cropping: c.cropping, data_format: 'channels_last' }),
  },
  UpSampling2D: {
    fromKeras: (r) => {
      r.channelsLast();
      return { size: r.pair('size'), interpolation: r.get('interpolation') };
    },
    toKeras: (w) => {
      // tfjs resizes bilinearly without half-pixel centers, unlike tf.keras and simdnet.
      if (w.c.interpolation !== 'nearest')
        w.no("tfjs-layers' bilinear UpSampling2D differs from Keras' (no half-pixel centers)");
      return { size: pairOf(w.c.size), interpolation: w.c.interpolation, data_format: 'channels_last' };
    },
  },
  Reshape: {
    fromKeras: (r) => ({ targetShape: r.get('target_shape') }),
    toKeras: ({ c }) => ({ target_shape: c.targetShape }),
  },
  Permute: { fromKeras: (r) => ({ dims: r.get('dims') }), toKeras: ({ c }) => ({ dims: c.dims }) },
} satisfies Partial<Record<LayerClassName, LayerFormat>>;

/** Every layer class in the tfjs-layers format. */
const LAYERS = {
  // The topology code reads and writes InputLayers itself.
  InputLayer: unsupported,
  ...convolutions,
  ...core,
  ...activations,
  ...merges,
  ...reshaping,
  // The importer's ONNX layers and the augmentation layers have no tfjs-layers class.
  PRelu: unsupported,
  Clip: unsupported,
  ScaledElu: unsupported,
  HardSigmoid: unsupported,
  GELU: unsupported,
  Erf: unsupported,
  LogSoftmax: unsupported,
  Slice: unsupported,
  Affine: unsupported,
  Pool2D: unsupported,
  RandomTranslation: unsupported,
  RandomRotation: unsupported,
  RandomZoom: unsupported,
  RandomContrast: unsupported,
  QuantizedConv2D: unsupported,
  QuantizedDepthwiseConv2D: unsupported,
  QuantizedDense: unsupported,
  FakeQuant: unsupported,
} satisfies Record<LayerClassName, LayerFormat>;

// Maps, never plain objects: a class_name like 'constructor' or '__proto__' must find nothing.
const formats = new Map<string, LayerFormat>(Object.entries(LAYERS));
const readers = new Map<string, { className: LayerClassName; fromKeras: FromKeras }>();
for (const [className, f] of Object.entries(LAYERS) as Array<[LayerClassName, LayerFormat]>) {
  const add = (keras: string, fromKeras: FromKeras) => {
    if (readers.has(keras)) throw new Error(`tfjs layers table: Keras class ${keras} is read twice`);
    readers.set(keras, { className, fromKeras });
  };
  if (f.fromKeras) add(className, f.fromKeras);
  for (const [keras, fromKeras] of Object.entries(f.aliases ?? {})) add(keras, fromKeras);
}

/** The simdnet class a Keras class name is read as, and its config converter; undefined if none. */
export function kerasReader(kerasClass: string): { className: LayerClassName; fromKeras: FromKeras } | undefined {
  return readers.get(kerasClass);
}

/** The writer of a layer class (its className), or null when tfjs-layers has no equivalent. */
export function kerasWriter(className: string): ToKeras | null {
  return formats.get(className)?.toKeras ?? null;
}
