// The layer contract (convnetjs/Keras): build(inputShape) creates the parameters (trainable
// `weights`, non-trainable `stateWeights`), call(x) is a thin call into ops/,
// computeOutputShape/countParams/getConfig describe it; getWeights/setWeights and the
// trainable/non-trainable lists are Keras' weight API over those records. Layers never call wasm.
// Shapes here exclude the batch axis: a Conv2D input is [H, W, C].
import { Tensor, zeros, tensor, keep } from '../tensor.js';
import { weightsChanged } from './inference/switches.js';
import type { Rng } from '../rng.js';
import { elu, gelu, hardSigmoid, hardSwish, relu, relu6, sigmoid, softmax, swish, tanh } from '../ops/act.js';
import { show } from '../show.js';

/** A parameter of a layer with its gradient buffer. */
export interface Weight {
  name: string;
  value: Tensor;
  grad: Tensor;
  /** The name it had in the file it was imported from (an ONNX initializer: a PyTorch state_dict key). */
  sourceName?: string;
}

/**
 * Non-trainable state of a layer (BatchNormalization's moving mean and variance): saved with the
 * model and returned by getWeights, never touched by the optimizer.
 */
export interface StateWeight {
  name: string;
  value: Tensor;
  /** The name it had in the file it was imported from (an ONNX initializer: a PyTorch state_dict key). */
  sourceName?: string;
}

/**
 * One weight of a layer as {@link Layer.trainableWeights} and {@link Layer.nonTrainableWeights} list it:
 * a small version of tfjs' LayerVariable. Read and write it through `read()` and `write()`; the lists
 * are made afresh on every access, so keep the layer, not the list.
 */
export interface LayerWeight {
  /** simdnet's name, `<layer>/<suffix>` (e.g. 'conv2d/kernel', 'bn/moving_mean'). */
  readonly name: string;
  /** The name in the file it was imported from, if any: for ONNX, the initializer (PyTorch's state_dict key). */
  readonly sourceName?: string;
  readonly shape: readonly number[];
  /** Whether the optimizer updates it (false for state, and for every weight of a frozen layer). */
  readonly trainable: boolean;
  /** A copy of the values; the caller disposes it. */
  read(): Tensor;
  /** Replaces the values with a tensor of this shape (or as many float32 values); throws naming both shapes. */
  write(values: Tensor | Float32Array): void;
}

/** Checks one value against weight `w` of `layer` (`what` names the call), then copies it in. */
function writeWeight(layer: string, w: StateWeight, v: Tensor | Float32Array, what: string): void {
  checkWeightValue(layer, w, v, what);
  w.value.view().set(v instanceof Tensor ? v.view() : v);
  weightsChanged();
}

function checkWeightValue(layer: string, w: StateWeight, v: Tensor | Float32Array, what: string): void {
  const named = `layer ${layer}: weight ${w.name}${w.sourceName ? ` (${w.sourceName})` : ''}`;
  if (v instanceof Tensor) {
    v.assertLive();
    if (v.dtype !== 'float32') throw new Error(`${what}: ${named} is float32, got a ${v.dtype} tensor`);
    if (v.shape.join() !== w.value.shape.join())
      throw new Error(`${what}: ${named} has shape [${w.value.shape}], got [${v.shape}]`);
  } else if (!(v instanceof Float32Array) || v.length !== w.value.size) {
    throw new Error(
      `${what}: ${named} has shape [${w.value.shape}] and needs a Tensor of that shape or ${w.value.size} float32 values, got ${v instanceof Float32Array ? `${v.length} values` : typeof v}`,
    );
  }
}

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
 * x * Phi(x) (Keras approximate=False); 'softmax' is over the last axis. 'swish' and 'silu' are both
 * x * sigmoid(x); 'relu6' is min(max(x, 0), 6); 'hardSigmoid' is Keras 3's relu6(x + 3) / 6 (not
 * Keras 2's clip(0.2 x + 0.5, 0, 1)); 'hardSwish' is x * relu6(x + 3) / 6.
 */
export type ActivationName =
  | 'linear'
  | 'relu'
  | 'softmax'
  | 'sigmoid'
  | 'tanh'
  | 'elu'
  | 'gelu'
  | 'swish'
  | 'silu'
  | 'relu6'
  | 'hardSigmoid'
  | 'hardSwish';

const ACTIVATIONS: readonly ActivationName[] = [
  'linear',
  'relu',
  'softmax',
  'sigmoid',
  'tanh',
  'elu',
  'gelu',
  'swish',
  'silu',
  'relu6',
  'hardSigmoid',
  'hardSwish',
];

export function checkActivation(a: unknown, what: string): ActivationName {
  const v = a ?? 'linear';
  if (!(ACTIVATIONS as readonly unknown[]).includes(v)) {
    throw new Error(
      `${what}: activation must be one of ${ACTIVATIONS.map((n) => `'${n}'`).join(', ')}, got ${show(a)}`,
    );
  }
  return v as ActivationName;
}

/** Applies a non-fused activation through the ops. */
export function applyActivation(x: Tensor, act: ActivationName, args: CallArgs): Tensor {
  switch (act) {
    case 'relu':
      return relu(x);
    case 'softmax':
      return args.logits ? x : softmax(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'tanh':
      return tanh(x);
    case 'elu':
      return elu(x, 1);
    case 'gelu':
      return gelu(x);
    case 'swish':
    case 'silu':
      return swish(x);
    case 'relu6':
      return relu6(x);
    case 'hardSigmoid':
      return hardSigmoid(x);
    case 'hardSwish':
      return hardSwish(x);
    default:
      return x;
  }
}

/** A trainable parameter a layer makes: name suffix, shape, initializer and the fans it draws with. */
export interface WeightSpec {
  suffix: string;
  shape: number[];
  init: InitializerName;
  fanIn: number;
  fanOut: number;
}

/** Initializer names (Keras): uniform ones only, because they are bit-reproducible in every engine. */
export type InitializerName = 'glorotUniform' | 'heUniform' | 'zeros' | 'ones';

/** Values for a weight of `shape` with the given fans. */
export function initialize(
  name: InitializerName,
  shape: number[],
  fanIn: number,
  fanOut: number,
  rng: Rng,
  what: string,
): Tensor {
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

/**
 * A symbolic tensor of the functional API: the shape (without batch) of a value in a graph, and the
 * node that produces it. Made by {@link input} and {@link Layer.apply}; holds no data.
 */
export class SymbolicTensor {
  constructor(
    /** Shape without the batch axis. */
    readonly shape: readonly number[],
    /** The layer application that produces this value. */
    readonly node: LayerNode,
    /** Index among the node's outputs (always 0: every layer has one output). */
    readonly index = 0,
  ) {}
  /** Rank without the batch axis. */
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `SymbolicTensor(${this.node.layer.name || this.node.layer.defaultName}, [None, ${this.shape.join(', ')}])`;
  }
}

/** One application of a layer to symbolic inputs (Keras' Node). */
export interface LayerNode {
  layer: Layer;
  inputs: SymbolicTensor[];
  output: SymbolicTensor;
  /** Position of this node among the layer's applications (the [i] of Keras' `layer[i][0]`). */
  index: number;
}

const shapeText = (s: readonly number[]) => `(None, ${s.join(', ')})`;

/** Keras' `to_snake_case` of a class name: 'MaxPooling2D' -> 'max_pooling2d', 'ReLU' -> 're_lu'. */
export function snakeCase(name: string): string {
  return name
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Base class of every layer of a {@link Model} (a Sequential stack or a functional graph).
 *
 * A subclass describes itself ({@link Layer.className}, {@link Layer.getConfig},
 * {@link Layer.computeOutputShape}), creates its parameters in `buildWeights` through `addWeight` /
 * `addState`, and computes its output in {@link Layer.call} with the functional ops only, so the ops
 * record the backward pass on the active {@link Tape} and no layer touches wasm directly. Shapes
 * never include the batch axis, except the tensors passed to `call`.
 *
 * @example
 * ```ts
 * const conv = new Conv2D({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' });
 * conv.computeOutputShape([28, 28, 1]); // [28, 28, 32]
 * ```
 */
export abstract class Layer {
  /** Unique name in its model (e.g. 'conv2d_1'); prefixes its weights' names. '' until the model names it. */
  name: string;
  /**
   * false freezes the layer: its weights get no gradient and no optimizer update, count as
   * non-trainable in summary() and {@link Layer.nonTrainableWeights}, and a frozen BatchNormalization
   * runs in inference mode in fit too: it normalizes with its moving statistics and leaves them unchanged
   * (Keras 3; PyTorch's `bn.eval()`), the usual way to fine-tune a pretrained backbone.
   */
  trainable: boolean;
  /** Applications of this layer in graphs, in order ({@link Layer.apply}). */
  readonly inboundNodes: LayerNode[] = [];
  /** Input shape without the batch axis, known once built (or given as `inputShape`). */
  inputShape: number[] | null;
  /** Trainable parameters with their gradient buffers, in {@link Layer.weightShapes} order once built. */
  weights: Weight[] = [];
  /** Non-trainable state (saved, not optimized), e.g. BatchNormalization's moving statistics. */
  stateWeights: StateWeight[] = [];
  /** True once {@link Layer.build} created the parameters. */
  built = false;

  /**
   * @param cfg.name layer name (default: given by the model from {@link Layer.defaultName})
   * @param cfg.inputShape input shape without the batch axis, for the first layer of a model
   * @param cfg.trainable false freezes the layer (default true)
   * @throws when `inputShape` is not an array of positive integers
   */
  constructor(cfg: { name?: string; inputShape?: number[]; trainable?: boolean } = {}) {
    this.name = cfg.name ?? '';
    if (cfg.trainable !== undefined && typeof cfg.trainable !== 'boolean') {
      throw new Error(`${this.constructor.name}: trainable must be a boolean, got ${show(cfg.trainable)}`);
    }
    this.trainable = cfg.trainable ?? true;
    if (cfg.inputShape !== undefined) {
      if (!Array.isArray(cfg.inputShape) || cfg.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
        throw new Error(
          `${this.constructor.name}: inputShape must be positive integers without the batch axis, got ${show(cfg.inputShape)}`,
        );
      }
    }
    this.inputShape = cfg.inputShape ? [...cfg.inputShape] : null;
  }

  /**
   * Keras class name, e.g. 'Conv2D' (the `class_name` in saved files). Each concrete class declares it
   * once, as `static readonly className = 'Conv2D'`, and is listed once in `nn/registry.ts`.
   */
  static readonly className: string;
  /** Keras class name of this layer's class (its static `className`). */
  get className(): string {
    return (this.constructor as typeof Layer).className;
  }
  /** Base of the default name: the class name in Keras' snake case, e.g. 'conv2d', 'leaky_re_lu'. */
  get defaultName(): string {
    return snakeCase(this.className);
  }
  /** Output shape (without batch) for an input shape (without batch); throws when it does not fit. */
  abstract computeOutputShape(inputShape: readonly number[]): number[];
  /** The forward computation through ops; x has the batch axis first. */
  abstract call(x: Tensor, args: CallArgs): Tensor;
  /** Constructor arguments, for saving. */
  abstract getConfig(): Record<string, unknown>;
  /** The activation applied last (Dense, Conv2D, Activation), or 'linear'. */
  get activation(): ActivationName {
    return 'linear';
  }

  /** Number of inputs the layer takes: 1, or 'many' for merge layers (a list). */
  get arity(): 1 | 'many' {
    return 1;
  }

  /**
   * Applies the layer to a symbolic tensor (a list for merge layers) and returns the symbolic output,
   * as Keras' functional API; the shapes are checked now, and an error names the layer and shapes.
   * Applying a layer twice shares its weights, so both inputs must need the same weight shapes.
   */
  apply(x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const what = this.name || this.defaultName;
    const xs = Array.isArray(x) ? x : [x];
    if (xs.length === 0 || xs.some((t) => !(t instanceof SymbolicTensor))) {
      throw new Error(
        `${what}.apply: expected ${this.arity === 1 ? 'a symbolic tensor' : 'a list of symbolic tensors'} (from sn.input or another layer's apply), got ${Array.isArray(x) ? `[${x.map((t) => typeof t)}]` : typeof x}`,
      );
    }
    if (this.arity === 1 && xs.length !== 1)
      throw new Error(`${what}.apply: takes one input, got a list of ${xs.length}`);
    const shapes = xs.map((t) => [...t.shape]);
    let out: number[];
    try {
      out = this.computeOutputShapeFor(shapes);
    } catch (e) {
      throw new Error(
        `${what} (${this.className}) cannot be applied to input ${shapes.map(shapeText).join(', ')}: ${(e as Error).message}`,
      );
    }
    const first = this.inboundNodes[0];
    if (first && this.arity === 1) {
      const a = JSON.stringify(this.weightShapes(first.inputs[0].shape)),
        b = JSON.stringify(this.weightShapes(shapes[0]));
      if (a !== b) {
        throw new Error(
          `${what} (${this.className}) is applied to ${shapeText(shapes[0])} but was first applied to ${shapeText(first.inputs[0].shape)}; a layer applied twice shares its weights, and these inputs need different ones`,
        );
      }
    }
    const node = { layer: this, inputs: xs, index: this.inboundNodes.length } as unknown as LayerNode;
    node.output = new SymbolicTensor(out, node);
    this.inboundNodes.push(node);
    return node.output;
  }

  /** The output shape for the input shapes of one application (one shape unless a merge layer). */
  computeOutputShapeFor(shapes: readonly (readonly number[])[]): number[] {
    if (shapes.length !== 1) throw new Error(`${this.name || this.className} takes one input, got ${shapes.length}`);
    return this.computeOutputShape(shapes[0]);
  }

  /** The forward computation for the inputs of one application (one tensor unless a merge layer). */
  callFor(xs: Tensor[], args: CallArgs): Tensor {
    return this.call(xs[0], args);
  }

  /**
   * Creates the parameters for `inputShape` (without the batch axis), drawing initial values from `rng`.
   * @throws when the input shape does not fit the layer (see {@link Layer.computeOutputShape})
   */
  build(inputShape: readonly number[], rng: Rng): void {
    this.computeOutputShape(inputShape);
    this.inputShape = [...inputShape];
    this.buildWeights(inputShape, rng);
    this.built = true;
  }

  /**
   * The trainable parameters for an input shape, in order: the one description that both
   * {@link Layer.weightShapes} and the default {@link Layer.buildWeights} read, so the shapes a model
   * plans and the weights a layer makes cannot disagree.
   */
  protected weightSpecs(_inputShape: readonly number[]): WeightSpec[] {
    return [];
  }

  /**
   * Subclass hook of {@link Layer.build}: creates the parameters with `addWeight` / `addState`; by
   * default the ones of {@link Layer.weightSpecs}, initialised in their order from `rng`.
   */
  protected buildWeights(inputShape: readonly number[], rng: Rng): void {
    for (const w of this.weightSpecs(inputShape)) {
      this.addWeight(w.suffix, initialize(w.init, w.shape, w.fanIn, w.fanOut, rng, this.name));
    }
  }

  /** Names (suffixes) and shapes of the parameters build() would create, without allocating. */
  weightShapes(inputShape: readonly number[]): Array<[string, number[]]> {
    return this.weightSpecs(inputShape).map((w) => [w.suffix, w.shape]);
  }

  /** Names (suffixes) and shapes of the non-trainable state build() would create. */
  stateShapes(_inputShape: readonly number[]): Array<[string, number[]]> {
    return [];
  }

  /** Registers a trainable parameter named `<layer>/<suffix>` with a zeroed gradient; returns `value`. */
  protected addWeight(suffix: string, value: Tensor): Tensor {
    // Parameters outlive any tidy() scope the build happens in.
    this.weights.push({ name: `${this.name}/${suffix}`, value: keep(value), grad: keep(zeros(value.shape)) });
    return value;
  }

  /** Registers non-trainable state named `<layer>/<suffix>`; returns `value`. */
  protected addState(suffix: string, value: Tensor): Tensor {
    this.stateWeights.push({ name: `${this.name}/${suffix}`, value: keep(value) });
    return value;
  }

  /** Every weight in Keras' order: the trainable parameters, then the state (frozen or not). */
  private allWeightRecords(): StateWeight[] {
    return [...this.weights, ...this.stateWeights];
  }

  private layerWeight(w: StateWeight, trainable: boolean): LayerWeight {
    const layer = this.name;
    return {
      name: w.name,
      ...(w.sourceName !== undefined ? { sourceName: w.sourceName } : {}),
      shape: [...w.value.shape],
      trainable,
      read: () => tensor(w.value.view().slice(), w.value.shape),
      write: (v) => writeWeight(layer, w, v, `${w.name}.write`),
    };
  }

  /**
   * The weights the optimizer updates, as Keras' `trainable_weights`: the parameters (gamma, beta,
   * kernel, bias), or none when the layer is frozen (`trainable = false`). Empty until built.
   */
  get trainableWeights(): LayerWeight[] {
    return this.trainable ? this.weights.map((w) => this.layerWeight(w, true)) : [];
  }

  /**
   * The other weights, as Keras' `non_trainable_weights`: the state (BatchNormalization's moving mean
   * and variance), and every parameter too when the layer is frozen. Empty until built.
   */
  get nonTrainableWeights(): LayerWeight[] {
    const list = this.trainable ? this.stateWeights : this.allWeightRecords();
    return list.map((w) => this.layerWeight(w, false));
  }

  /**
   * Copies of the layer's weights, as Keras' and tfjs' `getWeights()`: the parameters, then the state
   * (BatchNormalization: gamma, beta, moving_mean, moving_variance), whether frozen or not. The caller
   * disposes them; an unbuilt layer has none.
   */
  getWeights(): Tensor[] {
    return this.allWeightRecords().map((w) => tensor(w.value.view().slice(), w.value.shape));
  }

  /**
   * Replaces the layer's weights, in {@link Layer.getWeights} order, each a Tensor of the weight's shape
   * (or as many float32 values). Count and shapes are checked before anything is written; an error names
   * the layer, the weight and both shapes.
   * @throws when the layer is not built yet (build the model first: compile, fit, summary or build)
   */
  setWeights(values: Array<Tensor | Float32Array>): void {
    const what = `${this.name || this.defaultName}.setWeights`;
    const list = this.allWeightRecords();
    if (!this.built && this.weightShapesKnown())
      throw new Error(`${what}: the layer is not built yet; build its model first (model.build(), compile or summary)`);
    if (!Array.isArray(values) || values.length !== list.length)
      throw new Error(
        `${what}: layer ${this.name} has ${list.length} weights (${list.map((w) => w.name).join(', ') || 'none'}), got ${Array.isArray(values) ? values.length : typeof values}`,
      );
    list.forEach((w, i) => checkWeightValue(this.name, w, values[i], what));
    list.forEach((w, i) => writeWeight(this.name, w, values[i], what));
  }

  // An unbuilt layer (other than one without weights) has no weight records to write yet.
  private weightShapesKnown(): boolean {
    return !(this instanceof MergeLayer) && !(this instanceof InputLayer);
  }

  /** Number of parameters, trainable and not (the Keras summary's Param #). */
  countParams(): number {
    return this.countTrainableParams() + this.stateWeights.reduce((a, w) => a + w.value.size, 0);
  }

  /** Number of trainable parameters. */
  countTrainableParams(): number {
    return this.weights.reduce((a, w) => a + w.value.size, 0);
  }

  /** Frees parameters, gradients and state. */
  dispose(): void {
    for (const w of this.weights) {
      w.value.dispose();
      w.grad.dispose();
    }
    for (const w of this.stateWeights) w.value.dispose();
    this.weights = [];
    this.stateWeights = [];
    this.built = false;
  }
}

/**
 * A layer of several inputs (add, concatenate, ...): {@link MergeLayer.callMany} and
 * {@link MergeLayer.computeOutputShapeMany} take lists. A merge layer has no weights.
 */
export abstract class MergeLayer extends Layer {
  get arity(): 'many' {
    return 'many';
  }
  /** Output shape (without batch) for the input shapes (without batch); throws when they do not fit. */
  abstract computeOutputShapeMany(shapes: readonly (readonly number[])[]): number[];
  /** The forward computation through ops over the inputs (batch axis first). */
  abstract callMany(xs: Tensor[], args: CallArgs): Tensor;
  computeOutputShape(s: readonly number[]): number[] {
    return this.computeOutputShapeMany([s]);
  }
  /** Merge layers have no weights: building only marks them built. */
  build(): void {
    this.built = true;
  }
  computeOutputShapeFor(shapes: readonly (readonly number[])[]): number[] {
    return this.computeOutputShapeMany(shapes);
  }
  call(x: Tensor, args: CallArgs): Tensor {
    return this.callMany([x], args);
  }
  callFor(xs: Tensor[], args: CallArgs): Tensor {
    return this.callMany(xs, args);
  }
}

/** The source of a graph's input (Keras' InputLayer); made by {@link input}. */
export class InputLayer extends Layer {
  static readonly className = 'InputLayer';
  constructor(cfg: { shape?: number[]; inputShape?: number[]; batchInputShape?: (number | null)[]; name?: string }) {
    const shape = cfg?.shape ?? cfg?.inputShape ?? cfg?.batchInputShape?.slice(1);
    if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || (d as number) < 1)) {
      throw new Error(
        `input: shape must be a non-empty list of positive integers without the batch axis, got ${show(cfg?.shape ?? shape)}`,
      );
    }
    super({ name: cfg.name, inputShape: shape as number[] });
    const node = { layer: this, inputs: [], index: 0 } as unknown as LayerNode;
    node.output = new SymbolicTensor([...(shape as number[])], node);
    this.inboundNodes.push(node);
    this.built = true;
  }
  /** The symbolic tensor this input stands for. */
  get output(): SymbolicTensor {
    return this.inboundNodes[0].output;
  }
  computeOutputShape(s: readonly number[]): number[] {
    return [...s];
  }
  call(x: Tensor): Tensor {
    return x;
  }
  apply(): SymbolicTensor {
    throw new Error(
      `${this.name || 'input_layer'}: an InputLayer cannot be applied; use sn.input({shape}) as a graph's input`,
    );
  }
  getConfig() {
    return { batchInputShape: [null, ...this.inputShape!], name: this.name };
  }
}

/** A symbolic input of a functional model, as keras.Input / tf.input: `sn.input({shape: [28, 28, 1]})`. */
export function input(cfg: { shape: number[]; name?: string }): SymbolicTensor {
  if (!cfg || typeof cfg !== 'object') throw new Error('input: expected {shape, name?}');
  return new InputLayer({ shape: cfg.shape, name: cfg.name }).output;
}
