// A model's graph: its layer applications in topological order over numbered value slots, computed
// once. A functional model's comes from its symbolic tensors (traceGraph, walking back from the
// outputs); a Sequential model's is its chain (chainGraph). Forward walks the steps in order, every op
// records on the tape, so backward needs nothing graph-specific.
import type { Tensor } from '../tensor.js';
import type { Rng } from '../rng.js';
import { InputLayer, Layer, type LayerNode, SymbolicTensor } from './layer.js';
import { checkLayerSize } from './options.js';

/** One layer application of the graph in topological order: reads value slots, writes one. */
export interface GraphStep {
  layer: Layer;
  /** The functional node (null for a Sequential chain). */
  node: LayerNode | null;
  inputs: number[];
  output: number;
  inShapes: number[][];
  outShape: number[];
}

/** A model's graph, computed once: slots 0..inputs-1 hold the inputs, each step fills one more. */
export interface Graph {
  inputShapes: number[][];
  steps: GraphStep[];
  outputs: number[];
  slots: number;
}

/** A shape without its batch axis as Keras prints it: (None, 28, 28, 1). */
export const shapeText = (s: readonly number[]) => `(None, ${s.join(', ')})`;

const layerText = (l: Layer) => l.name || l.className;

// Checks that inputs and outputs are symbolic tensors, and the inputs distinct sn.input tensors.
function checkEnds(what: string, inputs: SymbolicTensor[], outputs: SymbolicTensor[]): void {
  if (inputs.length === 0) throw new Error(`${what}: needs at least one input (sn.input({shape}))`);
  if (outputs.length === 0) throw new Error(`${what}: needs at least one output`);
  for (const t of [...inputs, ...outputs]) {
    if (!(t instanceof SymbolicTensor))
      throw new Error(`${what}: inputs and outputs must be symbolic tensors (sn.input, layer.apply), got ${typeof t}`);
  }
  inputs.forEach((t, i) => {
    if (!(t.node.layer instanceof InputLayer))
      throw new Error(`${what}: input ${i} comes from layer ${layerText(t.node.layer)}, not from sn.input`);
    if (inputs.indexOf(t) !== i) throw new Error(`${what}: input ${i} is listed twice`);
  });
}

// The nodes the outputs depend on, each after its inputs; every input must be among them.
function topologicalOrder(what: string, inputs: SymbolicTensor[], outputs: SymbolicTensor[]): LayerNode[] {
  const order: LayerNode[] = [];
  const state = new Map<LayerNode, 1 | 2>();
  // Depth-first, inputs in order, a node after its inputs; with an explicit stack, so a chain of any
  // length cannot overflow the call stack.
  const stack: Array<{ n: LayerNode; next: number }> = [];
  const enter = (n: LayerNode, from: string) => {
    const st = state.get(n);
    if (st === 2) return;
    if (st === 1) throw new Error(`${what}: the graph has a cycle through layer ${layerText(n.layer)}`);
    state.set(n, 1);
    if (n.layer instanceof InputLayer && !inputs.includes(n.output)) {
      throw new Error(
        `${what}: ${from} depends on input ${n.layer.name || '(unnamed)'} ${shapeText(n.output.shape)}, which is not in the model's inputs`,
      );
    }
    stack.push({ n, next: 0 });
  };
  outputs.forEach((t, i) => {
    enter(t.node, `output ${i}`);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.n.inputs.length) {
        enter(top.n.inputs[top.next++].node, `layer ${layerText(top.n.layer)}`);
      } else {
        stack.pop();
        state.set(top.n, 2);
        order.push(top.n);
      }
    }
  });
  inputs.forEach((t, i) => {
    if (!state.has(t.node))
      throw new Error(
        `${what}: input ${i} (${t.node.layer.name || 'unnamed'} ${shapeText(t.shape)}) is not connected to the outputs`,
      );
  });
  return order;
}

// Layers: inputs first, then in order of first use; unnamed ones get Keras names (dense, dense_1, ...).
function nameLayers(what: string, inputs: SymbolicTensor[], order: LayerNode[]): Layer[] {
  const layers: Layer[] = [];
  const listed = new Set<Layer>();
  for (const l of [...inputs.map((t) => t.node.layer), ...order.map((n) => n.layer)]) {
    if (listed.has(l)) continue;
    listed.add(l);
    layers.push(l);
  }
  const taken = new Set(layers.filter((l) => l.name).map((l) => l.name));
  // The next suffix to try per default name, so n layers of one class are named in linear time.
  const nextSuffix = new Map<string, number>();
  for (const l of layers) {
    if (l.name) continue;
    const base = l.defaultName;
    let i = nextSuffix.get(base) ?? 0;
    let name = i === 0 ? base : `${base}_${i}`;
    while (taken.has(name)) name = `${base}_${++i}`;
    nextSuffix.set(base, i + 1);
    l.name = name;
    taken.add(name);
  }
  const seen = new Map<string, Layer>();
  for (const l of layers) {
    const other = seen.get(l.name);
    if (other && other !== l)
      throw new Error(
        `${what}: two layers are named ${l.name} (${other.className} and ${l.className}); layer names must be unique`,
      );
    seen.set(l.name, l);
  }
  return layers;
}

/**
 * A functional model's graph, walking back from the outputs: topological order, slots, unique layer
 * names (every layer once, InputLayers first, as Keras lists them); errors name the layer and shapes.
 */
export function traceGraph(
  name: string,
  inputs: SymbolicTensor[],
  outputs: SymbolicTensor[],
): { graph: Graph; layers: Layer[] } {
  const what = `model ${name}`;
  checkEnds(what, inputs, outputs);
  const order = topologicalOrder(what, inputs, outputs);
  const layers = nameLayers(what, inputs, order);
  const slot = new Map<SymbolicTensor, number>();
  inputs.forEach((t, i) => slot.set(t, i));
  const steps: GraphStep[] = [];
  for (const n of order) {
    if (n.layer instanceof InputLayer) continue;
    const out = inputs.length + steps.length;
    if (n.inputs.length === 1) checkLayerSize(n.layer, n.inputs[0].shape, n.output.shape as number[]);
    steps.push({
      layer: n.layer,
      node: n,
      inputs: n.inputs.map((t) => slot.get(t)!),
      output: out,
      inShapes: n.inputs.map((t) => [...t.shape]),
      outShape: [...n.output.shape],
    });
    slot.set(n.output, out);
  }
  const graph = {
    inputShapes: inputs.map((t) => [...t.shape]),
    steps,
    outputs: outputs.map((t) => slot.get(t)!),
    slots: slot.size,
  };
  return { graph, layers };
}

// What Sequential.add checks against, kept beside each chain so that adding n layers is linear: the
// layers, their names as they were added, and how many have each default name.
interface ChainIndex {
  layers: Set<Layer>;
  names: Set<string>;
  perDefault: Map<string, number>;
}
const chainIndexes = new WeakMap<Layer[], ChainIndex>();

function chainIndex(stack: Layer[]): ChainIndex {
  let ix = chainIndexes.get(stack);
  if (!ix || ix.layers.size !== stack.length) {
    ix = { layers: new Set(stack), names: new Set(stack.map((l) => l.name)), perDefault: new Map() };
    for (const l of stack) ix.perDefault.set(l.defaultName, (ix.perDefault.get(l.defaultName) ?? 0) + 1);
    chainIndexes.set(stack, ix);
  }
  return ix;
}

/**
 * Appends a layer to a Sequential chain after checking it fits there (one input, not an InputLayer,
 * not yet in it, a unique name, an inputShape when first); an unnamed layer gets a Keras-style name
 * (conv2d, conv2d_1, ...).
 */
export function appendToChain(stack: Layer[], layer: Layer): void {
  if (!(layer instanceof Layer)) throw new Error(`Sequential.add: expected a layer, got ${typeof layer}`);
  const ix = chainIndex(stack);
  if (ix.layers.has(layer)) throw new Error(`Sequential.add: layer ${layer.name} is already in the model`);
  if (layer.arity !== 1)
    throw new Error(
      `Sequential.add: ${layer.name || layer.className} takes several inputs; build graphs with sn.model({inputs, outputs})`,
    );
  if (layer instanceof InputLayer)
    throw new Error('Sequential.add: give the first layer an inputShape instead of an InputLayer');
  const base = layer.defaultName;
  if (!layer.name) {
    const n = ix.perDefault.get(base) ?? 0;
    layer.name = n === 0 ? base : `${base}_${n}`;
  }
  if (ix.names.has(layer.name)) throw new Error(`Sequential.add: a layer named ${layer.name} already exists`);
  if (stack.length === 0 && !layer.inputShape) {
    throw new Error(
      `Sequential.add: the first layer (${layer.name}) needs an inputShape, e.g. inputShape: [28, 28, 1]`,
    );
  }
  stack.push(layer);
  ix.layers.add(layer);
  ix.names.add(layer.name);
  ix.perDefault.set(base, (ix.perDefault.get(base) ?? 0) + 1);
}

/** A Sequential chain: slot i feeds layer i, whose output is slot i + 1. Shape errors come from the layers as they are. */
export function chainGraph(stack: readonly Layer[]): Graph {
  if (stack.length === 0) throw new Error('Sequential: the model has no layers');
  let s = [...stack[0].inputShape!];
  const inputShapes = [s];
  const steps = stack.map((layer, i): GraphStep => {
    const inS = s;
    s = checkLayerSize(layer, inS, layer.computeOutputShape(inS));
    return { layer, node: null, inputs: [i], output: i + 1, inShapes: [inS], outShape: s };
  });
  return { inputShapes, steps, outputs: [steps.length], slots: steps.length + 1 };
}

/** The step producing the (first) output, or null when that output is an input. */
export function outputStep(g: Graph): GraphStep | null {
  const o = g.outputs[0];
  return o < g.inputShapes.length ? null : g.steps[o - g.inputShapes.length];
}

/**
 * Walks the steps through the layers' own calls (on the tape when training); `logits` leaves the
 * final softmax to the fused loss. Returns the output tensors.
 */
export function forwardGraph(g: Graph, xs: Tensor[], training: boolean, logits: boolean, rng: Rng): Tensor[] {
  const vals: Tensor[] = new Array(g.slots);
  xs.forEach((x, i) => {
    vals[i] = x;
  });
  const fused = logits ? outputStep(g) : null;
  for (const st of g.steps) {
    // A frozen BatchNormalization normalizes with its moving statistics, as in Keras.
    const t = training && !(st.layer.trainable === false && st.layer.stateWeights.length > 0);
    vals[st.output] = st.layer.callFor(
      st.inputs.map((i) => vals[i]),
      { training: t, rng, logits: st === fused },
    );
  }
  return g.outputs.map((o) => vals[o]);
}
