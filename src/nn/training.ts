// The pieces of training a Model puts together: compile's settings, a batch of examples, the loss of
// a batch, one optimizer step (undone when it goes non-finite) and the loss over a data set. One step:
//   tidy { zero grads · forward on the tape (final softmax fused into the loss) · backward · optimizer }
// so every tensor of a step is released at its end and the arena high-water mark stays flat.
// With fromLogits the model's output is the logits, and the loss fuses the softmax (or sigmoid) itself.
import { Tensor, tidy } from '../tensor.js';
import { Tape, noGrad, withTape } from '../autograd.js';
import { softmaxCrossEntropy } from '../ops/act.js';
import { binaryCrossentropy, meanAbsoluteError, meanSquaredError, sigmoidCrossEntropy } from '../ops/loss.js';
import { getArena } from '../wasm/arena.js';
import type { Layer, StateWeight } from './layer.js';
import { Optimizer, type ParamGrad } from '../optim/optimizer.js';
import { Adam } from '../optim/adam.js';
import { AdamW } from '../optim/adamw.js';
import { SGD } from '../optim/sgd.js';
import { RMSprop } from '../optim/rmsprop.js';
import { type Data, type DataSource, type LossName, LOSSES, checkTargets, labelsToOneHot, toSource } from './data.js';
import { StepGuard } from './guard.js';
import { weightsChanged } from './inference.js';
import { countBinary, countCorrect } from './metrics.js';
import { shapeText } from './graph.js';
import { show } from '../show.js';
import { Loss } from './losses.js';

/** Arguments of {@link Model.compile}. */
export interface CompileArgs {
  optimizer: 'adam' | 'adamw' | 'sgd' | 'rmsprop' | Optimizer;
  /**
   * A loss name, or a Keras loss object such as `new sn.losses.SparseCategoricalCrossentropy({ fromLogits:
   * true })`, whose `fromLogits` and `labelSmoothing` then apply.
   */
  loss: LossName | Loss;
  /**
   * 'accuracy' (or 'acc'): the accuracy that fits the loss, reported as `accuracy`. The Keras names
   * 'sparseCategoricalAccuracy', 'categoricalAccuracy' and 'binaryAccuracy' are accepted with their loss.
   * On logits they count the same predictions (argmax; for binary, logit > 0 as probability > 0.5).
   */
  metrics?: string[];
  /**
   * For the cross-entropies: trains against `(1 - labelSmoothing) · onehot + labelSmoothing / classes`
   * (binary: `(1 - labelSmoothing) · y + labelSmoothing / 2`) instead of the labels, as Keras'
   * `label_smoothing` (default 0). Like Keras, evaluate reports the loss against the smoothed labels
   * too; accuracy is unchanged.
   */
  labelSmoothing?: number;
  /**
   * For the cross-entropies: the model outputs logits (as a PyTorch classifier does, and Keras'
   * `from_logits=True`), and the loss applies the softmax (categorical) or sigmoid (binary) itself,
   * fused and stable. Without it the categorical losses need a model that ends with a softmax, which
   * they fuse the same way. Default false.
   */
  fromLogits?: boolean;
}

/** @internal A training step that produced a non-finite loss or weights (undone before throwing). */
export class NonFiniteStepError extends Error {
  constructor(
    message: string,
    /** The batch loss (NaN when the loss was finite but the update was not). */
    readonly loss: number,
  ) {
    super(message);
  }
}

/** Whether the loss is one of the cross-entropies fused with a final softmax. */
export const isCrossentropy = (l: LossName | null) =>
  l === 'categoricalCrossentropy' || l === 'sparseCategoricalCrossentropy';

/** What compile checks its arguments against (read only when needed, in the order of the checks). */
export interface CompileTarget {
  isSequential: boolean;
  outputCount: number;
  /** The layer producing the (single) output, or null. */
  lastLayer(): Layer | null;
  outputShape(): number[];
}

/** compile's settings, checked; errors name the argument and the value. */
export interface CompileSettings {
  optimizer: Optimizer;
  loss: LossName;
  labelSmoothing: number;
  fromLogits: boolean;
  metrics: string[];
}

function checkLoss(loss: LossName, fromLogits: boolean, m: CompileTarget): void {
  if (!(LOSSES as readonly unknown[]).includes(loss)) {
    throw new Error(
      `compile: loss must be one of ${LOSSES.map((l) => `'${l}'`).join(', ')}, got ${show(loss)} (or a loss object of sn.losses)`,
    );
  }
  if (!m.isSequential && m.outputCount !== 1) {
    throw new Error(
      `compile: training needs a model with one output; this one has ${m.outputCount} (predict works with several)`,
    );
  }
  if (fromLogits && !isCrossentropy(loss) && loss !== 'binaryCrossentropy')
    throw new Error(`compile: fromLogits applies to the cross-entropies only, not to ${loss}`);
  if (!isCrossentropy(loss)) return;
  const last = m.lastLayer();
  const act = last?.activation ?? 'none';
  if (fromLogits && act === 'softmax') {
    throw new Error(
      `compile: fromLogits is true but the last layer ${last!.name} ends with a softmax, so the output is probabilities; leave fromLogits out (the softmax is then fused with the loss)`,
    );
  }
  if (!fromLogits && act !== 'softmax') {
    throw new Error(
      `compile: ${loss} needs the model to end with a softmax activation (it is fused with the loss); the last layer ${last?.name ?? '(none)'} has '${act}' (a model that outputs logits compiles with fromLogits: true)`,
    );
  }
  const out = m.outputShape();
  if (out.length !== 1)
    throw new Error(`compile: ${loss} needs an output of shape (None, classes), got ${shapeText(out)}`);
}

function optimizerOf(optimizer: CompileArgs['optimizer']): Optimizer {
  if (optimizer === 'adam') return new Adam();
  if (optimizer === 'adamw') return new AdamW();
  if (optimizer === 'sgd') return new SGD();
  if (optimizer === 'rmsprop') return new RMSprop();
  if (optimizer instanceof Optimizer) return optimizer;
  throw new Error(
    `compile: optimizer must be 'adam', 'adamw', 'sgd', 'rmsprop' or an optimizer object, got ${show(optimizer)}`,
  );
}

// Keras' metric names that go with one loss each; 'accuracy' goes with every classification loss.
const METRIC_LOSS: Record<string, LossName> = {
  sparseCategoricalAccuracy: 'sparseCategoricalCrossentropy',
  categoricalAccuracy: 'categoricalCrossentropy',
  binaryAccuracy: 'binaryCrossentropy',
};

function checkMetric(metric: unknown, loss: LossName): void {
  const own = typeof metric === 'string' && Object.hasOwn(METRIC_LOSS, metric) ? METRIC_LOSS[metric] : null;
  if (metric !== 'accuracy' && metric !== 'acc' && !own)
    throw new Error(
      `compile: unknown metric ${show(metric)} (supported: 'accuracy'), or with their loss: ${Object.keys(METRIC_LOSS).join(', ')}`,
    );
  if (loss === 'meanSquaredError' || loss === 'meanAbsoluteError') {
    throw new Error(`compile: metric 'accuracy' has no meaning for ${loss} (a regression loss); leave metrics out`);
  }
  if (own && own !== loss) throw new Error(`compile: metric '${metric}' goes with ${own}, not with ${loss}`);
}

// The loss name, fromLogits and label smoothing of compile's loss (a name or a loss object) and options.
function lossOptions(args: CompileArgs): { loss: LossName; fromLogits: boolean; smoothing: number } {
  const obj = args.loss instanceof Loss ? args.loss : null;
  const loss = obj ? obj.name : args.loss;
  if (args.fromLogits !== undefined && typeof args.fromLogits !== 'boolean')
    throw new Error(`compile: fromLogits must be true or false, got ${show(args.fromLogits)}`);
  const smoothing = args.labelSmoothing ?? obj?.labelSmoothing ?? 0;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing < 1))
    throw new Error(`compile: labelSmoothing must be a number in [0, 1), got ${show(args.labelSmoothing)}`);
  if (obj && args.labelSmoothing !== undefined && args.labelSmoothing !== obj.labelSmoothing)
    throw new Error(
      `compile: labelSmoothing ${args.labelSmoothing} differs from the loss object's ${obj.labelSmoothing}; give it once`,
    );
  if (obj && args.fromLogits !== undefined && args.fromLogits !== obj.fromLogits)
    throw new Error(
      `compile: fromLogits ${args.fromLogits} differs from the loss object's ${obj.fromLogits}; give it once`,
    );
  return { loss: loss as LossName, fromLogits: args.fromLogits ?? obj?.fromLogits ?? false, smoothing };
}

/** Checks compile's arguments against the model and makes the optimizer. */
export function compileSettings(args: CompileArgs, m: CompileTarget): CompileSettings {
  const { loss, fromLogits, smoothing } = lossOptions(args);
  checkLoss(loss, fromLogits, m);
  for (const metric of args.metrics ?? []) checkMetric(metric, loss);
  if (smoothing > 0 && !isCrossentropy(loss) && loss !== 'binaryCrossentropy')
    throw new Error(`compile: labelSmoothing applies to the cross-entropies only, not to ${loss}`);
  return {
    optimizer: optimizerOf(args.optimizer),
    loss,
    labelSmoothing: smoothing,
    fromLogits,
    metrics: (args.metrics ?? []).map(() => 'accuracy'),
  };
}

/** What a batch's targets are made for: the loss, the output shape and the label smoothing. */
export interface Targets {
  loss: LossName;
  outShape: number[];
  labelSmoothing: number;
}

/** Copies rows `idx[start..start+count)` of x and y into fresh batch tensors (inside a tidy). */
export function makeBatch(
  xs: DataSource[],
  ys: DataSource,
  idx: Int32Array,
  start: number,
  count: number,
  t: Targets,
): [Tensor[], Tensor] {
  const xb = xs.map((src) => {
    const x = new Tensor([count, ...src.rowShape]);
    src.gather(idx, start, count, x.view());
    return x;
  });
  const out = t.outShape;
  const yb = new Tensor([count, ...out]);
  if (isCrossentropy(t.loss)) {
    labelsToOneHot(ys, idx, start, count, t.loss, out[0], yb.view());
    const a = t.labelSmoothing;
    if (a > 0) {
      const v = yb.view(),
        keepShare = 1 - a,
        share = a / out[0];
      for (let i = 0; i < v.length; i++) v[i] = v[i] * keepShare + share;
    }
  } else {
    ys.gather(idx, start, count, yb.view());
    const a = t.loss === 'binaryCrossentropy' ? t.labelSmoothing : 0;
    if (a > 0) {
      const v = yb.view();
      for (let i = 0; i < v.length; i++) v[i] = v[i] * (1 - a) + a / 2;
    }
  }
  return [xb, yb];
}

/** A forward of the model: `logits` leaves the final softmax to the fused loss. */
export type Forward = (xs: Tensor[], training: boolean, logits: boolean) => Tensor[];

/** The loss of a batch and how many of its predictions are correct. */
export interface BatchLoss {
  /** A scalar (on the tape when training). */
  loss: Tensor;
  correct: () => number;
}

/** How a batch's loss is computed: compile's loss, fromLogits and label smoothing. */
export interface LossSpec {
  loss: LossName;
  fromLogits: boolean;
  labelSmoothing: number;
}

/**
 * The loss of a batch (a scalar on the tape) and the number of correct predictions. Without
 * fromLogits the categorical losses take the logits from under the model's final softmax.
 */
export function batchLoss(forward: Forward, spec: LossSpec, xb: Tensor[], yb: Tensor, training: boolean): BatchLoss {
  const { loss, fromLogits } = spec;
  if (isCrossentropy(loss)) {
    const probs = new Tensor(yb.shape);
    const l = softmaxCrossEntropy(yb, forward(xb, training, !fromLogits)[0], probs);
    return { loss: l, correct: () => countCorrect(probs.view(), yb.view(), yb.shape[1]) };
  }
  const y = forward(xb, training, false)[0];
  if (loss === 'binaryCrossentropy') {
    // Smoothed targets are compared as the labels they came from (Keras smooths inside the loss only).
    const labels = spec.labelSmoothing > 0 ? 0.5 : null;
    return {
      loss: fromLogits ? sigmoidCrossEntropy(yb, y) : binaryCrossentropy(yb, y),
      correct: () => countBinary(y.view(), yb.view(), fromLogits ? 0 : 0.5, labels),
    };
  }
  return { loss: loss === 'meanSquaredError' ? meanSquaredError(yb, y) : meanAbsoluteError(yb, y), correct: () => 0 };
}

/** What one optimizer step works on. */
export interface StepTarget {
  optimizer: Optimizer;
  /** The parameters the optimizer updates. */
  params: ParamGrad[];
  /** Every weight and state array of the model (read once the optimizer state exists). */
  weights: () => StateWeight[];
  guard: StepGuard;
  /** The loss of the batch, in training mode. */
  lossOf: () => BatchLoss;
}

/** One optimizer step; returns the batch loss and number of correct predictions. */
export function trainStep(s: StepTarget, where: string): { loss: number; correct: number } {
  const opt = s.optimizer;
  const params = s.params;
  // Optimizer state is made before the step's tidy(), so the first step already has the final layout.
  opt.prepare(params);
  // Everything a step changes, copied aside so a non-finite step can be undone.
  const state = [...s.weights(), ...opt.stateWeights()];
  s.guard.save(state.map((w) => w.value));
  const iterations = opt.iterations;
  const undo = (why: string, loss: number) => {
    s.guard.restore();
    opt.iterations = iterations;
    return new NonFiniteStepError(
      `${why} ${where}; training stopped and the weights are those from before this batch`,
      loss,
    );
  };
  weightsChanged(); // the step writes weights (and BatchNormalization's moving statistics)
  const u8 = getArena().u8();
  for (const p of params) u8.fill(0, p.grad.ptr, p.grad.ptr + p.grad.size * 4);
  return tidy(() => {
    const tape = new Tape();
    for (const p of params) tape.watch(p.value, p.grad);
    const r = withTape(tape, s.lossOf);
    const value = r.loss.view()[0];
    if (!Number.isFinite(value)) throw undo(`loss became ${value}`, value);
    tape.backward(r.loss);
    opt.step(params);
    const bad = StepGuard.firstNonFinite(state.map((w) => w.value));
    if (bad >= 0)
      throw undo(
        `the update made ${state[bad].name} non-finite (loss was ${value}; try a lower learning rate)`,
        Number.NaN,
      );
    return { loss: value, correct: r.correct() };
  });
}

/** The mean loss and the count of correct predictions over a data set, batch by batch, without a tape. */
export function lossOver(
  n: number,
  batchSize: number,
  lossOfBatch: (start: number, count: number) => BatchLoss,
): { loss: number; correct: number } {
  let lossSum = 0,
    correct = 0;
  noGrad(() => {
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start);
      tidy(() => {
        const r = lossOfBatch(start, count);
        lossSum += r.loss.view()[0] * count;
        correct += r.correct();
      });
    }
  });
  return { loss: lossSum / n, correct };
}

/** Checks the input arrays against the model's input shapes; `who(i)` names input i in an error. */
export function checkInputs(
  inputShapes: number[][],
  srcs: DataSource[],
  what: string,
  who: (i: number) => string,
): void {
  if (srcs.length !== inputShapes.length) {
    throw new Error(`${what}: the model has ${inputShapes.length} inputs, got ${srcs.length} arrays`);
  }
  srcs.forEach((src, i) => {
    const want = inputShapes[i];
    if (src.rowShape.join() !== want.join()) {
      throw new Error(`${what}: ${who(i)} expects input of shape [None, ${want}], got [${src.n}, ${src.rowShape}]`);
    }
    if (src.n !== srcs[0].n) throw new Error(`${what}: input 0 has ${srcs[0].n} examples but input ${i} has ${src.n}`);
  });
}

/** Checks that x and y hold the same number of examples (at least one), x is finite and y fits the loss. */
export function checkExamples(
  xs: DataSource[],
  ys: DataSource,
  what: string,
  loss: LossName,
  outShape: number[],
): void {
  const n = xs[0].n;
  if (n !== ys.n) throw new Error(`${what}: x has ${n} examples but y has ${ys.n}`);
  if (n === 0) throw new Error(`${what}: no examples`);
  xs.forEach((s, i) => s.checkFinite(xs.length === 1 ? `${what} x` : `${what} x[${i}]`));
  if (isCrossentropy(loss)) ys.checkLabels(loss, outShape[0], `${what} y`);
  else checkTargets(ys, loss, outShape, `${what} y`);
}

/** The data of one input, or of a list of inputs, as sources; `what` names them in errors. */
export function sourcesOf(x: Data | Data[], what: string): DataSource[] {
  if (Array.isArray(x)) return x.map((d, i) => toSource(d, x.length === 1 ? what : `${what}[${i}]`));
  return [toSource(x, what)];
}
