// The layer contract (convnetjs/Keras): build(inputShape) creates the parameters, call(x) is a thin
// call into ops/, computeOutputShape/countParams/getConfig describe it. Layers never call wasm.
// Shapes here exclude the batch axis: a Conv2D input is [H, W, C].
import { Tensor, zeros, tensor, keep } from '../tensor.js';
import { Rng } from '../rng.js';
import { relu, softmax } from '../ops/act.js';

/** A parameter of a layer with its gradient buffer. */
export interface Weight { name: string; value: Tensor; grad: Tensor }

/** Arguments of {@link Layer.call}. */
export interface CallArgs {
  /** Training mode: dropout active, ops recorded on the tape by the caller. */
  training: boolean;
  /** Source of randomness for dropout. */
  rng: Rng;
  /** Return the pre-softmax logits instead of applying a final softmax (fused with the loss). */
  logits?: boolean;
}

/** Activation names accepted by layers. */
export type ActivationName = 'linear' | 'relu' | 'softmax';

export function checkActivation(a: unknown, what: string): ActivationName {
  const v = a ?? 'linear';
  if (v !== 'linear' && v !== 'relu' && v !== 'softmax') {
    throw new Error(`${what}: activation must be 'linear', 'relu' or 'softmax', got ${JSON.stringify(a)}`);
  }
  return v;
}

/** Applies a non-fused activation through the ops. */
export function applyActivation(x: Tensor, act: ActivationName, args: CallArgs): Tensor {
  if (act === 'relu') return relu(x);
  if (act === 'softmax' && !args.logits) return softmax(x);
  return x;
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
    throw new Error(`${what}: unknown initializer ${JSON.stringify(name)} (use 'glorotUniform', 'heUniform', 'zeros' or 'ones')`);
  }
  return tensor(v, shape);
}

export abstract class Layer {
  name: string;
  /** Input shape without the batch axis, known once built (or given as `inputShape`). */
  inputShape: number[] | null;
  weights: Weight[] = [];
  built = false;

  constructor(cfg: { name?: string; inputShape?: number[] } = {}) {
    this.name = cfg.name ?? '';
    if (cfg.inputShape !== undefined) {
      if (!Array.isArray(cfg.inputShape) || cfg.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
        throw new Error(`${this.constructor.name}: inputShape must be positive integers without the batch axis, got ${JSON.stringify(cfg.inputShape)}`);
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

  protected addWeight(suffix: string, value: Tensor): Tensor {
    // Parameters outlive any tidy() scope the build happens in.
    this.weights.push({ name: `${this.name}/${suffix}`, value: keep(value), grad: keep(zeros(value.shape)) });
    return value;
  }

  /** Number of parameters. */
  countParams(): number { return this.weights.reduce((a, w) => a + w.value.size, 0); }

  /** Frees parameters and gradients. */
  dispose(): void {
    for (const w of this.weights) { w.value.dispose(); w.grad.dispose(); }
    this.weights = [];
    this.built = false;
  }
}
