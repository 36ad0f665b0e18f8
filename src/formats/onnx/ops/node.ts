// The contract between the importer's node loop and the converters: what a converter sees of one
// node, what it returns, and the row type of the operator table (ops/index.ts).
import type { Const } from '../fold.js';
import type { Attrs } from './attrs.js';
import type { Builder, Sym, Val } from './context.js';

/** What a converter sees of one node. */
export interface NodeContext {
  readonly b: Builder;
  readonly op: string;
  /** The base of the names of the layers made for this node. */
  readonly base: string;
  /** The node in messages: `node 'conv1' (Conv)`. */
  readonly what: string;
  readonly attrs: Attrs;
  readonly ins: ReadonlyArray<Val | undefined>;
  readonly outs: readonly string[];
  /** Input i, which must be a model value. */
  sym(i: number): Sym;
  /** Input i, which must be a constant; `label` names it in errors. */
  constIn(i: number, label: string): Const;
  /** Input i if present (then a constant), else null. */
  optConst(i: number, label: string): Const | null;
  /** Input i of a node being folded (all its inputs are constants). */
  need(i: number): Const;
  /** Tensor attribute `name` decoded, or null. */
  tensorAttr(name: string): Const | null;
  /** Claims the import's budget for a constant of shape `dims` this node is about to compute. */
  claim(dims: readonly number[]): void;
  /** Input i as a constant of a float type (weights: onnxruntime refuses integer ones too). */
  floatConst(i: number, label: string): Const;
  /** Throws `loadONNX: <what>: <msg>`. */
  fail(msg: string): never;
}

/** A converter returns the node's value, or one per output (missing outputs undefined). */
export type Convert = (n: NodeContext) => Val | Array<Val | undefined>;
/** Computes a node whose inputs are all constants. */
export type Fold = (n: NodeContext) => Const;

/** One row of the operator table. */
export interface OpRow {
  /** Converts the node when an input is a model value (always, with `anyInputs`). */
  convert: Convert;
  /** Computes the node when every input is a constant; without it, such a node is refused. */
  fold?: Fold;
  /** The converter reads constant and model inputs alike (Identity, Shape, Cast, ...). */
  anyInputs?: boolean;
}
