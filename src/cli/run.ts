// One training run from checked settings: the model (a preset with its rewrites, or a JSON
// architecture), its optimizer and schedule, fit, and one pass over the test set. Shared by
// `simdnet train` and every trial of `simdnet sweep`.
import { readFile } from 'node:fs/promises';
import * as sn from '../index.js';
import { argmaxRows } from '../nn/metrics.js';
import type { MnistData, MnistSplit } from '../data/idx.js';
import type { RunSettings } from './args.js';
import { presetModel, presetTraining } from './presets.js';

export const asX = (s: MnistSplit) => ({ data: s.images, shape: [s.count, s.height, s.width, 1] });
export const asY = (s: MnistSplit) => ({ data: s.labels, shape: [s.count] });

/** The layer factories of the augmentation layers, when this build has them. */
function augmentationLayers(): Record<string, (cfg: Record<string, unknown>) => sn.Layer> | null {
  const L = sn.layers as unknown as Record<string, (cfg: Record<string, unknown>) => sn.Layer>;
  return typeof L.randomTranslation === 'function' ? L : null;
}

/** Whether `--augment` can work in this build. */
export const augmentAvailable = (): boolean => augmentationLayers() !== null;

/** Builds the model a run trains; errors name the flag or file, the layer and the sizes. */
export async function buildModel(s: RunSettings, inputShape: number[], numClasses: number): Promise<sn.Model> {
  if (s.augment && !augmentAvailable())
    throw new Error('--augment is not available: this build has no augmentation layers (layers.randomTranslation)');
  const m = s.model;
  if (m.json) {
    let text: string;
    try {
      text = await readFile(m.json, 'utf8');
    } catch (e) {
      throw new Error(`--model ${m.json}: ${(e as Error).message}`);
    }
    let model: sn.Model;
    try {
      model = sn.modelFromJSON(text, { seed: s.seed });
    } catch (e) {
      throw new Error(`--model ${m.json}: ${(e as Error).message}`);
    }
    if (model.inputShape.join() !== inputShape.join() || model.outputShape.join() !== String(numClasses))
      throw new Error(
        `--model ${m.json}: the architecture maps [${model.inputShape}] to [${model.outputShape}], but the data ` +
          `needs [${inputShape}] to [${numClasses}]`,
      );
    return model;
  }
  return presetModel(m.preset!, {
    seed: s.seed,
    inputShape,
    numClasses,
    kernelSize: m.kernelSize,
    filters: m.filters,
    padding: m.padding,
    activation: m.activation,
    dropout: m.dropout,
    batchNorm: m.batchNorm,
    prepend: s.augment ? augmentation(inputShape, s.seed) : undefined,
  });
}

/** Random shifts (and rotations and zooms, when this build has them), active in training only. */
function augmentation(inputShape: number[], seed: number): sn.Layer[] {
  const L = augmentationLayers()!;
  return [
    L.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, inputShape, seed }),
    ...(typeof L.randomRotation === 'function' ? [L.randomRotation({ factor: 0.03, seed: seed + 1 })] : []),
    ...(typeof L.randomZoom === 'function' ? [L.randomZoom({ heightFactor: 0.1, seed: seed + 2 })] : []),
  ];
}

/** The optimizer of a run (a preset's β1/β2 apply to Adam and AdamW). */
export function makeOptimizer(s: RunSettings): sn.Optimizer {
  const t = presetTraining(s.model.preset ?? 'seed');
  const betas = {
    ...(t.beta1 !== undefined ? { beta1: t.beta1 } : {}),
    ...(t.beta2 !== undefined ? { beta2: t.beta2 } : {}),
  };
  if (s.optimizer === 'adam') return new sn.Adam({ learningRate: s.lr, ...betas });
  if (s.optimizer === 'adamw') return new sn.AdamW({ learningRate: s.lr, weightDecay: s.weightDecay, ...betas });
  if (s.optimizer === 'sgd') return new sn.SGD({ learningRate: s.lr, momentum: 0.9, nesterov: true });
  return new sn.RMSprop({ learningRate: s.lr });
}

/**
 * The per-step schedule of a run over `totalSteps`: onecycle peaks at --lr (PyTorch defaults:
 * 30 % rising from lr/25, then down to lr/25/1e4, cosine); cosine falls from --lr to 0; step halves
 * the rate every quarter of the run. none: undefined.
 */
export function makeSchedule(s: RunSettings, totalSteps: number): sn.LearningRateSchedule | undefined {
  if (s.lrSchedule === 'onecycle') return sn.schedules.oneCycle({ maxLr: s.lr, totalSteps });
  if (s.lrSchedule === 'cosine') return sn.schedules.cosineDecay({ initial: s.lr, decaySteps: totalSteps });
  if (s.lrSchedule === 'step')
    return sn.schedules.stepDecay({ initial: s.lr, dropEvery: Math.max(1, Math.round(totalSteps / 4)), factor: 0.5 });
  return undefined;
}

/** What a run produced. */
export interface RunResult {
  model: sn.Model;
  history: sn.History;
  /** Training time (fit, validation included), seconds. */
  seconds: number;
  testLoss: number;
  testAccuracy: number;
  /** Predicted class of every test image. */
  pred: Int32Array;
}

/**
 * Trains a built model on `data` and evaluates it on the test split in one pass (its predictions
 * give both the accuracy and the loss). With more than one epoch, every epoch is validated on the
 * test split for the curves; a single epoch's only validation is that final pass.
 */
export async function trainModel(
  model: sn.Model,
  s: RunSettings,
  data: MnistData,
  opts: { verbose: number; print: (s: string) => void; onStop?: (stop: () => void) => () => void },
): Promise<RunResult> {
  const { train: tr, test: te, numClasses } = data;
  model.compile({
    optimizer: makeOptimizer(s),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    labelSmoothing: s.labelSmoothing,
  });
  const steps = Math.ceil(tr.count / s.batchSize) * s.epochs;
  const release = opts.onStop?.(() => model.stopTraining()) ?? (() => {});
  const t0 = performance.now();
  let history: sn.History;
  try {
    history = await model.fit(asX(tr), asY(tr), {
      epochs: s.epochs,
      batchSize: s.batchSize,
      validationData: te.count > 0 && s.epochs > 1 ? [asX(te), asY(te)] : undefined,
      learningRateSchedule: makeSchedule(s, steps),
      shuffle: true,
      verbose: opts.verbose,
      print: opts.print,
    });
  } finally {
    release();
  }
  let testLoss = NaN,
    testAccuracy = NaN;
  let pred: Int32Array = new Int32Array(0);
  if (te.count > 0) {
    const probs = model.predict(asX(te), { batchSize: Math.max(s.batchSize, 256) });
    const p = probs.dataSync() as Float32Array;
    probs.dispose();
    pred = argmaxRows(p, numClasses);
    [testLoss, testAccuracy] = lossAndAccuracy(p, te.labels, pred, numClasses, s.labelSmoothing);
    if (s.epochs === 1 && history.epoch.length === 1) {
      history.history.val_loss = [testLoss];
      history.history.val_accuracy = [testAccuracy];
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { model, history, seconds, testLoss, testAccuracy, pred };
}

/**
 * Keras' categorical cross-entropy of probabilities (clipped to [1e-7, 1 - 1e-7]) against the
 * (smoothed) one-hot labels, averaged in float64, and the accuracy.
 */
export function lossAndAccuracy(
  probs: Float32Array,
  labels: ArrayLike<number>,
  pred: Int32Array,
  K: number,
  smoothing: number,
): [number, number] {
  const n = pred.length;
  let loss = 0,
    correct = 0;
  const clip = (p: number) => Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (pred[i] === y) correct++;
    if (smoothing === 0) loss -= Math.log(clip(probs[i * K + y]));
    else
      for (let k = 0; k < K; k++)
        loss -= ((k === y ? 1 - smoothing : 0) + smoothing / K) * Math.log(clip(probs[i * K + k]));
  }
  return [loss / n, correct / n];
}
