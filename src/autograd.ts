// The tape: while a gradient is being taken, every op whose inputs need a gradient records a node
// {inputs, output, backward}. backward() walks the nodes in reverse; each node's backward only calls
// kernels, which ACCUMULATE (+=) into the input gradients, so a tensor used twice gets both parts. An op
// whose kernel writes every element of an input gradient may ask for it with `store` instead: the first
// writer of a fresh gradient then stores into an unfilled buffer (no zero pass) and later ones add.
import { Tensor, zeros, tidy, keep, uninitialized } from './tensor.js';
import { getEngine } from './wasm/bindings.js';

/** Where an op writes one input gradient: `add` false means nothing is there yet (store, do not add). */
export interface GradTarget {
  ptr: number;
  add: boolean;
}

/**
 * A recorded op. `backward(dy, grad, store)` accumulates into `grad(input)` (0 when not needed), or, for an
 * op that writes every element, into `store(input)` (null when not needed) as its `add` flag says.
 */
export interface TapeNode {
  inputs: Tensor[];
  output: Tensor;
  backward: (dy: Tensor, grad: (t: Tensor) => number, store: (t: Tensor) => GradTarget | null) => void;
}

/**
 * Records the ops of one forward pass so that their gradients can be computed.
 *
 * Tensors given to {@link Tape.watch} and everything computed from them are tracked; while the tape
 * is active (see `withTape`), each op with a tracked input appends a `TapeNode`.
 * {@link Tape.backward} then runs the nodes in reverse. Every backward kernel accumulates (`+=`) into
 * the input gradients, so a tensor used twice receives both contributions, and parameter gradient
 * buffers passed to `watch` keep accumulating across passes until the caller zeroes them.
 * The gradient tensors in {@link Tape.grads} belong to the tape's tidy() scope.
 *
 * @example
 * ```ts
 * const tape = new Tape();
 * tape.watch(x);
 * const y = withTape(tape, () => sum(mul(x, x)));
 * tape.backward(y);
 * tape.grads.get(x.id); // 2·x
 * ```
 */
export class Tape {
  /** The recorded ops, in execution order. */
  readonly nodes: TapeNode[] = [];
  /** Gradient accumulators by tensor id, filled by {@link Tape.backward}. */
  readonly grads = new Map<number, Tensor>();
  /** Ids of tensors that need a gradient: the watched inputs and everything computed from them. */
  readonly tracked = new Set<number>();
  /** Gradient buffers supplied by the caller (parameters keep theirs across steps). */
  readonly external = new Map<number, Tensor>();

  /**
   * Tracks `t`: ops that use it are recorded. With `gradBuffer`, the gradient of `t` accumulates into
   * that tensor (a parameter's own gradient buffer) instead of a fresh one.
   */
  watch(t: Tensor, gradBuffer?: Tensor): void {
    this.tracked.add(t.id);
    if (gradBuffer) this.external.set(t.id, gradBuffer);
  }

  /** The gradient accumulator of t, created zeroed on first use. */
  gradOf(t: Tensor): Tensor {
    let g = this.grads.get(t.id) ?? this.external.get(t.id);
    if (!g) {
      g = zeros(t.shape);
      this.grads.set(t.id, g);
    } else this.grads.set(t.id, g);
    return g;
  }

  /**
   * The gradient of t for an op that writes all of it: a fresh unfilled buffer (`add` false) on first use,
   * else the existing accumulator or the caller's buffer (`add` true).
   */
  gradTarget(t: Tensor): GradTarget {
    const g = this.grads.get(t.id) ?? this.external.get(t.id);
    if (g) {
      this.grads.set(t.id, g);
      return { ptr: g.ptr, add: true };
    }
    const fresh = uninitialized(t.shape);
    this.grads.set(t.id, fresh);
    return { ptr: fresh.ptr, add: false };
  }

  /** Runs every recorded backward in reverse order, seeded with d(out)/d(out) = seed (default 1). */
  backward(out: Tensor, seed?: Tensor): void {
    if (!this.tracked.has(out.id)) return;
    // Intermediate gradients belong to one pass: a second backward starts them from zero, so only
    // the leaves (watched inputs, parameters) accumulate across passes.
    for (const n of this.nodes) {
      const g = this.grads.get(n.output.id);
      if (g && !this.external.has(n.output.id)) {
        g.dispose();
        this.grads.delete(n.output.id);
      }
    }
    const g = this.gradOf(out);
    if (seed) getEngine().k.add_into(g.ptr, seed.ptr, g.size);
    else getEngine().k.add_scalar(g.ptr, 1, g.size);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      const dy = this.grads.get(node.output.id);
      if (!dy) continue;
      node.backward(
        dy,
        (t) => (this.tracked.has(t.id) ? this.gradOf(t).ptr : 0),
        (t) => (this.tracked.has(t.id) ? this.gradTarget(t) : null),
      );
    }
  }
}

let active: Tape | null = null;

/** The tape currently recording, if any. */
export function activeTape(): Tape | null {
  return active;
}

/**
 * True when a tape is recording and `t` is on it, i.e. a gradient will flow to (or through) `t`. Ops
 * use it to skip saving state (argmax, probabilities) that only a backward pass would read.
 */
export function needsGrad(t: Tensor): boolean {
  return active !== null && active.tracked.has(t.id);
}

/** Called by every op after computing `output`: records the node when an input needs a gradient. */
export function record(inputs: Tensor[], output: Tensor, backward: TapeNode['backward']): void {
  if (!active) return;
  if (!inputs.some((t) => active!.tracked.has(t.id))) return;
  active.tracked.add(output.id);
  active.nodes.push({ inputs, output, backward });
}

/** Runs fn with `tape` recording; nested tapes are not supported. */
export function withTape<T>(tape: Tape, fn: () => T): T {
  if (active) throw new Error('gradients cannot be nested: a gradient tape is already recording');
  active = tape;
  try {
    return fn();
  } finally {
    active = null;
  }
}

/** Runs fn without recording (inference). */
export function noGrad<T>(fn: () => T): T {
  const saved = active;
  active = null;
  try {
    return fn();
  } finally {
    active = saved;
  }
}

/**
 * tfjs-style: `valueAndGrads(f)(xs)` returns the scalar `f(...xs)` and its gradient w.r.t. each x.
 * Intermediate tensors are disposed; the value and the gradients are the caller's to dispose.
 */
export function valueAndGrads(f: (...xs: Tensor[]) => Tensor) {
  return (xs: Tensor[], dy?: Tensor): { value: Tensor; grads: Tensor[] } => {
    if (!Array.isArray(xs) || xs.some((x) => !(x instanceof Tensor))) {
      throw new Error('valueAndGrads(f)(xs): xs must be an array of tensors');
    }
    return tidy(() => {
      const tape = new Tape();
      for (const x of xs) tape.watch(x);
      const value = withTape(tape, () => f(...xs));
      if (!(value instanceof Tensor)) throw new Error('valueAndGrads(f): f must return a tensor');
      if (value.size !== 1 && !dy)
        throw new Error(
          `valueAndGrads(f): f must return a scalar, got shape [${value.shape}] (pass dy for non-scalars)`,
        );
      tape.backward(value, dy);
      const grads = xs.map((x) => keep(tape.grads.get(x.id) ?? zeros(x.shape)));
      return { value: keep(value), grads };
    });
  };
}

/** tfjs-style: `grads(f)(xs)` returns the gradient of the scalar `f(...xs)` w.r.t. each x. */
export function grads(f: (...xs: Tensor[]) => Tensor) {
  const vg = valueAndGrads(f);
  return (xs: Tensor[], dy?: Tensor): Tensor[] => {
    const { value, grads } = vg(xs, dy);
    value.dispose();
    return grads;
  };
}
