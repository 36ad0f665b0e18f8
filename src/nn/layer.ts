// The layer contract (convnetjs/Keras): build(inputShape) creates the parameters (trainable
// `weights`, non-trainable `stateWeights`), call(x) is a thin call into ops/,
// computeOutputShape/countParams/getConfig describe it. Layers never call wasm.
// Shapes here exclude the batch axis: a Conv2D input is [H, W, C].
import { Tensor, zeros, tensor, keep } from '../tensor.js';
import { Rng } from '../rng.js';
import { elu, gelu, relu, sigmoid, softmax, tanh } from '../ops/act.js';
import { show } from '../show.js';

/** A parameter of a layer with its gradient buffer. */
export interface Weight { name: string; value: Tensor; grad: Tensor }

/**
 * Non-trainable state of a layer (BatchNormalization's moving mean and variance): saved with the
 * model and returned by getWeights, never touched by the optimizer.
 */
export interface StateWeight { name: string; value: Tensor }

/** Arguments of {@link Layer.call}. */
export interface CallArgs {
  /**
   * Training mode (fit, trainOnBatch): dropout active, BatchNormalization normalizes with the batch
   * statistics and updates its moving ones, ops recorded on the tape by the caller. false for
   * predict and evaluate.
   */
  training: boolean;
  /** Source of randomness for dropout. */
  rng: Rng;
  /** Return the pre-softmax logits instead of applying a final softmax (fused with the loss). */
  logits?: boolean;
}

/**
 * Activation names accepted by layers (Keras names). 'elu' has alpha 1; 'gelu' is the exact
 * x * Phi(x) (Keras approximate=False); 'softmax' is over the last axis.
 */
export type ActivationName = 'linear' | 'relu' | 'softmax' | 'sigmoid' | 'tanh' | 'elu' | 'gelu';

const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'gelu'];

export function checkActivation(a: unknown, what: string): ActivationName {
  const v = a ?? 'linear';
  if (!(ACTIVATIONS as readonly unknown[]).includes(v)) {
    throw new Error(`${what}: activation must be one of ${ACTIVATIONS.map((n) => `'${n}'`).join(', ')}, got ${show(a)}`);
  }
  return v as ActivationName;
}

/** Applies a non-fused activation through the ops. */
export function applyActivation(x: Tensor, act: ActivationName, args: CallArgs): Tensor {
  switch (act) {
    case 'relu': return relu(x);
    case 'softmax': return args.logits ? x : softmax(x);
    case 'sigmoid': return sigmoid(x);
    case 'tanh': return tanh(x);
    case 'elu': return elu(x, 1);
    case 'gelu': return gelu(x);
    default: return x;
  }
}

/** Initializer names (Keras): uniform ones only, because they are bit-reproducible in every engine. */
export type InitializerName = 'glorotUniform' | 'heUniform' | 'zeros' | 'ones';

/** Values for a weight of `shape` with the given fans. */
export function initialize(name: InitializerName, shape: number[], fanIn: number, fanOut: number, rng: Rng, what: string): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  if (name === 'glorotUniform' || name === 'heUniform') {
    const limit = name === 'glorotUniform' ? Math.sqrt(6 / (fanIn + fanOut)) : Math.sqrt(6 / fanIn);
    for (let i = 0; i < n; i++) v[i] = (2 * rng.uniform() - 1) * limit;
  } else if (name === 'ones') v.fill(1);
  else if (name !== 'zeros') {
    throw new Error(`${what}: unknown initializer ${show(name)} (use 'glorotUniform', 'heUniform', 'zeros' or 'ones')`);
  }
  return tensor(v, shape);
}

export abstract class Layer {
  name: string;
  /** Input shape without the batch axis, known once built (or given as `inputShape`). */
  inputShape: number[] | null;
  weights: Weight[] = [];
  /** Non-trainable state (saved, not optimized), e.g. BatchNormalization's moving statistics. */
  stateWeights: StateWeight[] = [];
  built = false;

  constructor(cfg: { name?: string; inputShape?: number[] } = {}) {
    this.name = cfg.name ?? '';
    if (cfg.inputShape !== undefined) {
      if (!Array.isArray(cfg.inputShape) || cfg.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
        throw new Error(`${this.constructor.name}: inputShape must be positive integers without the batch axis, got ${show(cfg.inputShape)}`);
      }
    }
    this.inputShape = cfg.inputShape ? [...cfg.inputShape] : null;
  }

  /** Keras class name, e.g. 'Conv2D'. */
  abstract get className(): string;
  /** Base of the default name, e.g. 'conv2d'. */
  abstract get defaultName(): string;
  /** Output shape (without batch) for an input shape (without batch); throws when it does not fit. */
  abstract computeOutputShape(inputShape: readonly number[]): number[];
  /** The forward computation through ops; x has the batch axis first. */
  abstract call(x: Tensor, args: CallArgs): Tensor;
  /** Constructor arguments, for saving. */
  abstract getConfig(): Record<string, unknown>;
  /** The activation applied last (Dense, Conv2D, Activation), or 'linear'. */
  get activation(): ActivationName { return 'linear'; }

  /** Creates the parameters for `inputShape`. */
  build(inputShape: readonly number[], rng: Rng): void {
    this.computeOutputShape(inputShape);
    this.inputShape = [...inputShape];
    this.buildWeights(inputShape, rng);
    this.built = true;
  }

  protected buildWeights(_inputShape: readonly number[], _rng: Rng): void {}

  /** Names (suffixes) and shapes of the parameters build() would create, without allocating. */
  weightShapes(_inputShape: readonly number[]): Array<[string, number[]]> { return []; }

  /** Names (suffixes) and shapes of the non-trainable state build() would create. */
  stateShapes(_inputShape: readonly number[]): Array<[string, number[]]> { return []; }

  protected addWeight(suffix: string, value: Tensor): Tensor {
    // Parameters outlive any tidy() scope the build happens in.
    this.weights.push({ name: `${this.name}/${suffix}`, value: keep(value), grad: keep(zeros(value.shape)) });
    return value;
  }

  protected addState(suffix: string, value: Tensor): Tensor {
    this.stateWeights.push({ name: `${this.name}/${suffix}`, value: keep(value) });
    return value;
  }

  /** Number of parameters, trainable and not (the Keras summary's Param #). */
  countParams(): number { return this.countTrainableParams() + this.stateWeights.reduce((a, w) => a + w.value.size, 0); }

  /** Number of trainable parameters. */
  countTrainableParams(): number { return this.weights.reduce((a, w) => a + w.value.size, 0); }

  /** Frees parameters, gradients and state. */
  dispose(): void {
    for (const w of this.weights) { w.value.dispose(); w.grad.dispose(); }
    for (const w of this.stateWeights) w.value.dispose();
    this.weights = [];
    this.stateWeights = [];
    this.built = false;
  }
}
