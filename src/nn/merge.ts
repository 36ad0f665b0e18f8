// Keras merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate. Each takes a
// list of inputs (`layer.apply([a, b])`), has no weights, and is one call per input pair into
// ops/merge.ts. Element-wise merges broadcast as Keras: shapes without the batch axis aligned on the
// right, each axis equal or 1 — a squeeze-excitation multiply of (H, W, C) by (1, 1, C).
import type { Tensor } from '../tensor.js';
import { broadcastBinary, broadcastShapes, concat, concatShape, type MergeOp } from '../ops/merge.js';
import { mul, reshape } from '../ops/elementwise.js';
import { type CallArgs, MergeLayer } from './layer.js';
import { int, layerConfig, readOptions } from './options.js';

/** Options of the merge layers. */
export interface MergeConfig {
  name?: string;
  trainable?: boolean;
}

const shapeList = (shapes: readonly (readonly number[])[]) => shapes.map((s) => `(None, ${s.join(', ')})`).join(', ');

// What tells the element-wise merges apart: the op, and whether the merge takes exactly two inputs
// (Subtract) or at least two.
interface MergeSpec {
  op: MergeOp;
  exactlyTwo?: boolean;
}

abstract class ElementwiseMerge extends MergeLayer {
  static readonly options = {};
  private readonly spec: MergeSpec;
  constructor(cfg: MergeConfig | undefined, spec: MergeSpec) {
    super(cfg ?? {});
    readOptions(ElementwiseMerge.options, cfg, this.className);
    this.spec = spec;
  }
  protected get op(): MergeOp {
    return this.spec.op;
  }
  protected get exactlyTwo(): boolean {
    return this.spec.exactlyTwo ?? false;
  }
  computeOutputShapeMany(shapes: readonly (readonly number[])[]): number[] {
    const what = this.name || this.className;
    if (this.exactlyTwo ? shapes.length !== 2 : shapes.length < 2) {
      throw new Error(
        `${what}: takes ${this.exactlyTwo ? 'exactly 2 inputs' : 'a list of at least 2 inputs'}, got ${shapes.length}`,
      );
    }
    let out: number[] | null = [...shapes[0]];
    for (const s of shapes.slice(1)) {
      out = broadcastShapes(out, s);
      if (!out)
        throw new Error(
          `${what}: input shapes ${shapeList(shapes)} do not broadcast (each axis, aligned on the right, must be equal or 1)`,
        );
    }
    return out;
  }
  callMany(inputs: Tensor[], _args: CallArgs): Tensor {
    // As Keras, an input of lower rank gets axes of 1 inserted after the batch axis: (N, C) -> (N, 1, 1, C).
    const r = Math.max(...inputs.map((x) => x.rank));
    const xs = inputs.map((x) =>
      x.rank === r ? x : reshape(x, [x.shape[0], ...new Array(r - x.rank).fill(1), ...x.shape.slice(1)]),
    );
    let y = broadcastBinary(this.op, xs[0], xs[1]);
    for (const x of xs.slice(2)) y = broadcastBinary(this.op, y, x);
    return y;
  }
  getConfig(): Record<string, unknown> {
    return layerConfig(this, ElementwiseMerge.options, this, false);
  }
}

/** Sum of the inputs, as keras.layers.Add. */
export class Add extends ElementwiseMerge {
  static readonly className = 'Add';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'add' });
  }
}

/** inputs[0] - inputs[1], as keras.layers.Subtract (exactly two inputs). */
export class Subtract extends ElementwiseMerge {
  static readonly className = 'Subtract';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'sub', exactlyTwo: true });
  }
}

/** Product of the inputs, as keras.layers.Multiply. */
export class Multiply extends ElementwiseMerge {
  static readonly className = 'Multiply';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'mul' });
  }
}

/** Mean of the inputs, as keras.layers.Average: their sum times 1/n. */
export class Average extends ElementwiseMerge {
  static readonly className = 'Average';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'add' });
  }
  callMany(xs: Tensor[], args: CallArgs): Tensor {
    return mul(super.callMany(xs, args), 1 / xs.length);
  }
}

/** Element-wise maximum of the inputs, as keras.layers.Maximum. */
export class Maximum extends ElementwiseMerge {
  static readonly className = 'Maximum';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'maximum' });
  }
}

/** Element-wise minimum of the inputs, as keras.layers.Minimum. */
export class Minimum extends ElementwiseMerge {
  static readonly className = 'Minimum';
  constructor(cfg?: MergeConfig) {
    super(cfg, { op: 'minimum' });
  }
}

/** Options of {@link Concatenate}. */
export interface ConcatenateConfig extends MergeConfig {
  /** Axis counting the batch axis as 0 (Keras), or negative from the end; default -1 (channels). */
  axis?: number;
}

/** Concatenation along an axis (default the last), as keras.layers.Concatenate. */
export class Concatenate extends MergeLayer {
  static readonly className = 'Concatenate';
  static readonly options = { axis: int(-1, 'a non-zero integer (0 is the batch axis)', (a) => a !== 0) };
  readonly axis: number;
  constructor(cfg: ConcatenateConfig = {}) {
    super(cfg ?? {});
    this.axis = readOptions(Concatenate.options, cfg, 'Concatenate').axis;
  }
  computeOutputShapeMany(shapes: readonly (readonly number[])[]): number[] {
    const what = this.name || 'Concatenate';
    if (shapes.length < 2) throw new Error(`${what}: takes a list of at least 2 inputs, got ${shapes.length}`);
    // Shapes here have no batch axis: a positive (Keras) axis shifts by one.
    const ax = this.axis > 0 ? this.axis - 1 : this.axis;
    try {
      return concatShape(shapes, ax, what);
    } catch {
      throw new Error(
        `${what}: input shapes ${shapeList(shapes)} must match except on the concatenation axis ${this.axis}`,
      );
    }
  }
  callMany(xs: Tensor[]): Tensor {
    return concat(xs, this.axis);
  }
  getConfig(): Record<string, unknown> {
    return layerConfig(this, Concatenate.options, this, false);
  }
}

/** Factories of the merge layers (`sn.layers.add()`, ...). */
export const mergeLayers = {
  add: (cfg?: MergeConfig) => new Add(cfg),
  subtract: (cfg?: MergeConfig) => new Subtract(cfg),
  multiply: (cfg?: MergeConfig) => new Multiply(cfg),
  average: (cfg?: MergeConfig) => new Average(cfg),
  maximum: (cfg?: MergeConfig) => new Maximum(cfg),
  minimum: (cfg?: MergeConfig) => new Minimum(cfg),
  concatenate: (cfg?: ConcatenateConfig) => new Concatenate(cfg),
};
