// What an unbuilt model would allocate, checked before it allocates: every layer's output per sample
// within MAX_ELEMENTS, and its weights and state within the loader's byte budget. Shared by the
// loaders that build a model from a config (tfjs-layers, the architecture JSON).
import type { Model } from '../nn/model.js';
import { Budget, MAX_ELEMENTS } from './limits.js';

/** One weight or state tensor the model would create, in the order a built model lists them. */
export interface PlannedWeight {
  name: string;
  shape: number[];
}

/**
 * Checks the planned outputs and weights of `model` (from its graph, nothing allocated) against
 * MAX_ELEMENTS and `maxBytes`; returns the weights layer by layer (its weights, then its state).
 */
export function checkPlannedModel(model: Model, maxBytes: number, fail: (msg: string) => never): PlannedWeight[] {
  // The values a layer computes, per sample: an UpSampling2D by 1e5 is refused here, not at predict.
  for (const st of model.graph().steps) {
    const per = st.outShape.reduce((a, b) => a * b, 1);
    if (!(per <= MAX_ELEMENTS))
      fail(
        `layer ${st.layer.name} would output shape [${st.outShape}], ${per} values per sample, more than ${MAX_ELEMENTS}`,
      );
  }
  const planned = model.weightSpecs();
  const order = new Map<string, number>();
  model.layers.forEach((l, i) => order.set(l.name, i));
  const layerOf = (name: string) => order.get(name.slice(0, name.lastIndexOf('/'))) ?? 0;
  const targets = [...planned.weights, ...planned.state]
    .map((w, k) => ({ name: w.name, shape: [...w.shape], k }))
    .sort((a, b) => layerOf(a.name) - layerOf(b.name) || a.k - b.k)
    .map(({ name, shape }) => ({ name, shape }));
  const budget = new Budget(maxBytes, fail);
  for (const w of targets) budget.take(`layer weight ${w.name}`, w.shape, 4);
  return targets;
}
