// Keras layer configs (snake_case) <-> simdnet layer options: the field readers every config converter
// uses, with problems recorded against the layer and thrown together, and the writer's counterparts.
import { show } from '../../show.js';
import { type Obj, isObj } from './artifacts.js';

export function malformed(msg: string): never {
  throw new Error(`loadLayersModel: malformed model topology: ${msg}`);
}

/** What the converters need to know about the file. */
export interface Ctx {
  /** Keras 3 file: hard_sigmoid is relu6(x + 3) / 6 there, clip(0.2 x + 0.5, 0, 1) in Keras 2 and tfjs. */
  keras3: boolean;
  /** Problems found so far ("Conv3D 'c3': unsupported layer class"); thrown together at the end. */
  problems: string[];
}

/** Keras activation names (snake_case) -> simdnet's. A Map: a name like 'constructor' is just unsupported. */
const ACTIVATIONS = new Map<string, string>([
  ['linear', 'linear'],
  ['relu', 'relu'],
  ['softmax', 'softmax'],
  ['sigmoid', 'sigmoid'],
  ['tanh', 'tanh'],
  ['elu', 'elu'],
  ['gelu', 'gelu'],
  ['swish', 'swish'],
  ['silu', 'silu'],
  ['relu6', 'relu6'],
  ['hard_silu', 'hardSwish'],
  ['hard_swish', 'hardSwish'],
]);

/** Reads a Keras layer config's fields with problems recorded against the layer. */
export class Reader {
  constructor(
    readonly cfg: Obj,
    readonly what: string,
    readonly ctx: Ctx,
  ) {}
  problem(msg: string): void {
    this.ctx.problems.push(`${this.what}: ${msg}`);
  }
  get(key: string): unknown {
    return this.cfg[key] ?? undefined;
  }
  /** An int or [int, int] as simdnet takes it. */
  pair(key: string): number | [number, number] | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return v;
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
    this.problem(`${key} must be an integer or a pair of integers, got ${show(v)}`);
    return undefined;
  }
  bool(key: string): boolean | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.problem(`${key} must be true or false, got ${show(v)}`);
    return v as boolean;
  }
  num(key: string): number | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') this.problem(`${key} must be a number, got ${show(v)}`);
    return v as number;
  }
  channelsLast(): void {
    const f = this.cfg.data_format;
    if (f !== undefined && f !== null && f !== 'channels_last') {
      this.problem(`data_format ${show(f)} is not supported (only channels_last; convert the model to NHWC)`);
    }
  }
  padding(): 'valid' | 'same' | undefined {
    const p = this.cfg.padding;
    if (p === undefined || p === null) return undefined;
    if (p !== 'valid' && p !== 'same') this.problem(`padding ${show(p)} is not supported (only 'valid' or 'same')`);
    return p as 'valid' | 'same';
  }
  activation(key = 'activation'): string | undefined {
    let a = this.cfg[key];
    if (a === undefined || a === null) return undefined;
    // Keras 3 may write a built-in activation as a serialized function object.
    if (isObj(a) && typeof a.config === 'string') a = a.config;
    if (typeof a !== 'string') {
      this.problem(`activation ${show(a)} is not supported`);
      return undefined;
    }
    const snake = a.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snake === 'hard_sigmoid') {
      if (this.ctx.keras3) return 'hardSigmoid';
      this.problem(
        "activation 'hard_sigmoid' of Keras 2 / tfjs (clip(0.2 x + 0.5, 0, 1)) is not supported " +
          '(simdnet has the Keras 3 one, relu6(x + 3) / 6)',
      );
      return undefined;
    }
    const v = ACTIVATIONS.get(snake);
    if (!v) this.problem(`activation ${show(a)} is not supported (supported: ${[...ACTIVATIONS.keys()].join(', ')})`);
    return v;
  }
}

/** simdnet activation names -> tfjs-layers'; null where tfjs-layers has none. */
const TO_KERAS_ACTIVATION = new Map<string, string | null>([
  ['linear', 'linear'],
  ['relu', 'relu'],
  ['softmax', 'softmax'],
  ['sigmoid', 'sigmoid'],
  ['tanh', 'tanh'],
  ['elu', 'elu'],
  ['gelu', 'gelu'],
  ['swish', 'swish'],
  ['silu', 'swish'],
  ['relu6', 'relu6'],
  // tfjs' hard_sigmoid is Keras 2's clip(0.2 x + 0.5, 0, 1) and tfjs has no hard swish.
  ['hardSigmoid', null],
  ['hardSwish', null],
]);

export const pairOf = (v: unknown): number[] => (Array.isArray(v) ? [...v] : [v as number, v as number]);
export const isOne = (v: unknown) => pairOf(v).every((x) => x === 1);

/** Writes a layer's simdnet config `c` as Keras', recording what tfjs-layers cannot represent. */
export class Writer {
  constructor(
    readonly c: Obj,
    readonly what: string,
    readonly problems: string[],
  ) {}
  no(msg: string): void {
    this.problems.push(`${this.what}: ${msg}`);
  }
  act(): string {
    const a = TO_KERAS_ACTIVATION.get(this.c.activation as string);
    if (a === null || a === undefined) this.no(`activation ${show(this.c.activation)} has no tfjs-layers equivalent`);
    return a ?? 'linear';
  }
  /** The options every convolution shares. */
  window(): Obj {
    const c = this.c;
    return {
      kernel_size: pairOf(c.kernelSize),
      strides: pairOf(c.strides),
      padding: c.padding,
      data_format: 'channels_last',
      dilation_rate: pairOf(c.dilationRate ?? 1),
      activation: this.act(),
      use_bias: c.useBias,
    };
  }
}
