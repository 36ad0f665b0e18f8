// A model's weight lists: the names and shapes build() would create (without allocating), the
// check of setWeights' values against the weights there are, and getLayer's search by either name.
import { Tensor } from '../tensor.js';
import { show } from '../show.js';
import type { Layer, StateWeight } from './layer.js';
import type { ParamGrad } from '../optim/optimizer.js';
import type { GraphStep } from './graph.js';

/** A weight's name and shape. */
export interface WeightSpecEntry {
  name: string;
  shape: number[];
}

/** Names and shapes of every weight and state array the steps' layers would create, each layer once. */
export function weightSpecsOf(steps: readonly GraphStep[]): { weights: WeightSpecEntry[]; state: WeightSpecEntry[] } {
  const weights: WeightSpecEntry[] = [],
    state: WeightSpecEntry[] = [];
  const done = new Set<Layer>();
  for (const st of steps) {
    if (done.has(st.layer)) continue;
    done.add(st.layer);
    if (st.layer.arity !== 1) continue;
    for (const [suffix, shape] of st.layer.weightShapes(st.inShapes[0]))
      weights.push({ name: `${st.layer.name}/${suffix}`, shape });
    for (const [suffix, shape] of st.layer.stateShapes(st.inShapes[0]))
      state.push({ name: `${st.layer.name}/${suffix}`, shape });
  }
  return { weights, state };
}

/** Checks setWeights' values (count, then each shape or length) before anything is written. */
export function checkWeightValues(params: StateWeight[], weights: Array<Tensor | Float32Array>): void {
  if (!Array.isArray(weights) || weights.length !== params.length) {
    throw new Error(
      `setWeights: the model has ${params.length} weight arrays, got ${Array.isArray(weights) ? weights.length : typeof weights}`,
    );
  }
  weights.forEach((w, i) => {
    const p = params[i];
    if (w instanceof Tensor) {
      w.assertLive();
      if (w.shape.join() !== p.value.shape.join())
        throw new Error(`setWeights: ${p.name} has shape [${p.value.shape}], got [${w.shape}]`);
    } else if (!(w instanceof Float32Array) || w.length !== p.value.size) {
      throw new Error(`setWeights: ${p.name} needs ${p.value.size} float32 values`);
    }
  });
}

/** The layers' parameters with their gradients, in order. */
export function paramsOf(layers: readonly Layer[]): ParamGrad[] {
  return layers.flatMap((l) => l.weights.map((w) => ({ name: w.name, value: w.value, grad: w.grad })));
}

/**
 * The layer called `name`, else the one holding a weight whose imported name (`sourceName`, e.g. a
 * PyTorch state_dict key) is `name`; throws naming the layers there are.
 */
export function findLayer(layers: readonly Layer[], name: string): Layer {
  const l =
    layers.find((x) => x.name === name) ??
    layers.find((x) => [...x.weights, ...x.stateWeights].some((w) => w.sourceName === name));
  if (!l)
    throw new Error(`getLayer: no layer named ${show(name)}; the model has ${layers.map((x) => x.name).join(', ')}`);
  return l;
}
