// Ready-made architectures, each a list of blocks that the CLI's knobs (kernel size, widths, padding,
// activation, dropout, batch normalisation) rewrite before the layers are made, plus the training
// settings the preset was measured with.
import { Sequential } from '../nn/model.js';
import { layers } from '../nn/layers.js';
import type { Layer, ActivationName } from '../nn/layer.js';
import { show } from '../show.js';

/** The names of the ready-made architectures. */
export const PRESETS = ['seed', 'fast', 'lenet5', 'accurate'] as const;
export type PresetName = (typeof PRESETS)[number];

type Block =
  | { kind: 'conv'; filters: number; kernelSize: number; padding: 'valid' | 'same' }
  | { kind: 'pool'; type: 'max' | 'avg' }
  | { kind: 'dense'; units: number };

interface PresetSpec {
  blocks: Block[];
  activation: ActivationName;
  /** Batch normalisation after every convolution unless the caller says otherwise (default false). */
  batchNorm?: boolean;
  /** Momentum of those batch normalisations' moving statistics (default Keras' 0.99). */
  batchNormMomentum?: number;
  description: string;
}

const conv = (filters: number, kernelSize: number, padding: 'valid' | 'same'): Block => ({
  kind: 'conv',
  filters,
  kernelSize,
  padding,
});
const maxPool: Block = { kind: 'pool', type: 'max' };
const avgPool: Block = { kind: 'pool', type: 'avg' };
const dense = (units: number): Block => ({ kind: 'dense', units });

const SPECS: Record<PresetName, PresetSpec> = {
  seed: {
    blocks: [
      conv(32, 5, 'same'),
      conv(32, 5, 'same'),
      maxPool,
      conv(64, 3, 'same'),
      conv(64, 3, 'same'),
      maxPool,
      dense(128),
    ],
    activation: 'relu',
    description: "the seed article's CNN: 2x conv5x5(32) same, pool, 2x conv3x3(64) same, pool, dense 128",
  },
  fast: {
    // 16 rather than 24 first filters: a third less work in the costliest layer; with label smoothing
    // 0.1 one epoch still reaches 99.2 % (3 seeds), as 24 filters do.
    blocks: [conv(16, 5, 'valid'), maxPool, conv(32, 3, 'valid'), maxPool, dense(256)],
    activation: 'relu',
    description: 'a small CNN for one epoch: conv5x5(16), pool, conv3x3(32), pool, dense 256',
  },
  lenet5: {
    blocks: [conv(6, 5, 'same'), avgPool, conv(16, 5, 'valid'), avgPool, dense(120), dense(84)],
    activation: 'tanh',
    description: 'LeNet-5: conv5x5(6) same, avg pool, conv5x5(16), avg pool, dense 120, dense 84 (tanh)',
  },
  accurate: {
    blocks: [conv(32, 5, 'valid'), maxPool, conv(64, 3, 'valid'), conv(64, 3, 'valid'), maxPool, dense(256)],
    activation: 'relu',
    batchNorm: true,
    batchNormMomentum: 0.9,
    description: 'conv5x5(32), pool, 2x conv3x3(64), pool, dense 256, batch norm after every convolution',
  },
};

/** Training settings a preset comes with (each overridable by a CLI flag). */
export interface PresetTraining {
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'adamw' | 'sgd' | 'rmsprop';
  lr: number;
  /** Adam/AdamW β1 and β2 (undefined: the optimizer's defaults). */
  beta1?: number;
  beta2?: number;
  lrSchedule: 'none' | 'onecycle' | 'cosine' | 'step';
  labelSmoothing: number;
  /** Random shifts, rotations and zooms in front of the model, in training only (the CLI's --augment). */
  augment?: boolean;
}

const TRAINING: Record<PresetName, PresetTraining> = {
  seed: { epochs: 5, batchSize: 128, optimizer: 'adam', lr: 0.001, lrSchedule: 'none', labelSmoothing: 0 },
  fast: {
    epochs: 1,
    batchSize: 256,
    optimizer: 'adam',
    lr: 0.01,
    beta1: 0.7,
    beta2: 0.9,
    lrSchedule: 'onecycle',
    labelSmoothing: 0.1,
  },
  lenet5: { epochs: 5, batchSize: 128, optimizer: 'adam', lr: 0.001, lrSchedule: 'none', labelSmoothing: 0 },
  accurate: {
    epochs: 8,
    batchSize: 128,
    optimizer: 'adam',
    lr: 0.005,
    lrSchedule: 'onecycle',
    labelSmoothing: 0.1,
    augment: true,
  },
};

/** One sentence describing each preset (for --help). */
export function presetDescription(name: PresetName): string {
  return SPECS[name].description;
}

/** The training settings a preset was tuned with. */
export function presetTraining(name: PresetName): PresetTraining {
  return { ...TRAINING[checkPreset(name)] };
}

function checkPreset(name: unknown): PresetName {
  if (!(PRESETS as readonly unknown[]).includes(name))
    throw new Error(`unknown preset ${show(name)} (one of ${PRESETS.join(', ')})`);
  return name as PresetName;
}

/** Rewrites of a preset's architecture; each undefined field keeps the preset's own choice. */
export interface PresetOptions {
  seed?: number;
  inputShape?: number[];
  numClasses?: number;
  /** Kernel size of every convolution. */
  kernelSize?: number;
  /**
   * Convolution widths: a list (one per convolution); `{ scale }` multiplying every width; or
   * `{ first }`, the first convolution's width, the others keeping their ratio to it (rounded, at least 1).
   */
  filters?: number[] | { scale: number } | { first: number };
  /** Padding of every convolution. */
  padding?: 'valid' | 'same';
  /** Activation of every convolution and hidden dense layer. */
  activation?: ActivationName;
  /** Dropout rate after every pooling layer and hidden dense layer (0: none). */
  dropout?: number;
  /** Batch normalisation after every convolution, before its activation (undefined: the preset's choice). */
  batchNorm?: boolean;
  /** Layers placed before the preset's own (e.g. augmentation); the first must carry the inputShape. */
  prepend?: Layer[];
}

/** Number of convolutions in a preset (the length a `filters` list must have). */
export function presetConvCount(name: PresetName): number {
  return SPECS[checkPreset(name)].blocks.filter((b) => b.kind === 'conv').length;
}

/**
 * A ready-made architecture, optionally rewritten (see {@link PresetOptions}). Every layer's output
 * size is checked here, so a kernel larger than the feature map it meets is an error naming that
 * layer and both sizes, before any weight exists.
 */
export function presetModel(name: PresetName, opts: PresetOptions = {}): Sequential {
  const spec = SPECS[checkPreset(name)];
  const what = `preset ${name}`;
  const convs = spec.blocks.filter((b) => b.kind === 'conv').length;
  const f = opts.filters;
  if (Array.isArray(f) && f.length !== convs)
    throw new Error(`${what}: filters lists ${f.length} widths but the preset has ${convs} convolutions`);
  if (opts.dropout !== undefined && !(opts.dropout >= 0 && opts.dropout < 1))
    throw new Error(`${what}: dropout must be in [0, 1), got ${show(opts.dropout)}`);
  const act = opts.activation ?? spec.activation;
  const bn = opts.batchNorm ?? spec.batchNorm ?? false;
  const bnConfig = spec.batchNormMomentum === undefined ? {} : { momentum: spec.batchNormMomentum };
  const drop = opts.dropout ?? 0;
  const inputShape = opts.inputShape ?? [28, 28, 1];
  const L = layers;
  const out: Layer[] = [...(opts.prepend ?? [])];
  // Spatial size as the blocks meet it, for the error message (the layers check the same themselves).
  let [h, w] = inputShape;
  let ci = 0;
  let pools = 0;
  let convIndex = 0;
  const nth = (base: string, i: number) => (i === 0 ? base : `${base}_${i}`);
  for (const b of spec.blocks) {
    if (b.kind === 'conv') {
      const firstWidth = (spec.blocks.find((x) => x.kind === 'conv') as { filters: number }).filters;
      const scale = !f || Array.isArray(f) ? 1 : 'scale' in f ? f.scale : f.first / firstWidth;
      const filters = Array.isArray(f) ? f[ci] : Math.max(1, Math.round(b.filters * scale));
      const k = opts.kernelSize ?? b.kernelSize;
      const padding = opts.padding ?? b.padding;
      const layerName = nth('conv2d', convIndex++);
      if (padding === 'valid' && (k > h || k > w))
        throw new Error(
          `${what}: layer ${layerName} (Conv2D) has a ${k}x${k} kernel but meets a ${h}x${w} feature map with ` +
            `padding 'valid'; use a kernel of at most ${Math.min(h, w)} or padding 'same'`,
        );
      if (padding === 'valid') [h, w] = [h - k + 1, w - k + 1];
      const first = out.length === 0 ? { inputShape } : {};
      if (bn) {
        out.push(L.conv2d({ filters, kernelSize: k, padding, ...first }));
        out.push(L.batchNormalization(bnConfig));
        out.push(L.activation({ activation: act }));
      } else out.push(L.conv2d({ filters, kernelSize: k, padding, activation: act, ...first }));
      ci++;
    } else if (b.kind === 'pool') {
      const layerName = nth(b.type === 'max' ? 'max_pooling2d' : 'average_pooling2d', pools++);
      if (h < 2 || w < 2)
        throw new Error(
          `${what}: layer ${layerName} pools 2x2 but meets a ${h}x${w} feature map; use smaller kernels or padding 'same'`,
        );
      [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
      out.push(b.type === 'max' ? L.maxPooling2d({ poolSize: 2 }) : L.averagePooling2d({ poolSize: 2 }));
      if (drop > 0) out.push(L.dropout({ rate: drop }));
    } else {
      if (!out.some((l) => l.className === 'Flatten')) out.push(L.flatten());
      out.push(L.dense({ units: b.units, activation: act }));
      if (drop > 0) out.push(L.dropout({ rate: drop }));
    }
  }
  out.push(L.dense({ units: opts.numClasses ?? 10, activation: 'softmax' }));
  // The seed preset keeps Keras' default model name, as its files always had.
  const model = new Sequential({ seed: opts.seed, name: name === 'seed' ? 'sequential' : name, layers: out });
  model.graph();
  return model;
}

/**
 * The CNN of the seed article (Keras, MNIST): conv5x5x32 same → conv5x5x32 same → maxpool2 →
 * conv3x3x64 same → conv3x3x64 same → maxpool2 → flatten → dense128 relu → dense10 softmax;
 * 484,714 parameters for a 28x28x1 input.
 */
export function seedModel(opts: { seed?: number; inputShape?: number[]; numClasses?: number } = {}): Sequential {
  return presetModel('seed', { seed: opts.seed, inputShape: opts.inputShape, numClasses: opts.numClasses });
}
