// A model's own artifacts (io/artifacts.ts): what save() hands to an IOHandler or encodes as .simdnet
// bytes, and toJSON()'s architecture. Built from the model's public parts only, so this module needs
// neither the model's module nor any file format.
import type { GraphConfig, LayerEntry, ModelArtifacts, ModelJSON, NodeRef } from '../io/artifacts.js';
import type { Optimizer, ParamGrad } from '../optim/optimizer.js';
import type { Rng } from '../rng.js';
import type { Layer, LayerNode, StateWeight, SymbolicTensor } from './layer.js';

/** The parts of a model its artifacts are made of (a Model has them all). */
export interface ArtifactSource {
  name: string;
  seed: number;
  readonly isSequential: boolean;
  readonly layers: Layer[];
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  readonly steps: ReadonlyArray<{ layer: Layer; node: LayerNode | null }>;
  params(): ParamGrad[];
  stateWeights(): StateWeight[];
  optimizer: Optimizer | null;
  loss: string | null;
  metrics: string[];
  labelSmoothing: number;
  fromLogits: boolean;
  initRng: Rng;
  trainRng: Rng;
}

type TopologySource = Pick<ArtifactSource, 'isSequential' | 'layers' | 'inputs' | 'outputs' | 'steps'>;

/** The layer's config as saved: getConfig(), plus `trainable: false` for a frozen layer. */
function layerEntry(l: Layer): LayerEntry {
  const c = JSON.parse(JSON.stringify(l.getConfig()));
  return { className: l.className, config: l.trainable ? c : { ...c, trainable: false } };
}

/** The functional topology, node indices counted within this model (a layer may be used elsewhere too). */
function graphConfig(model: TopologySource): GraphConfig {
  const nodeIndex = new Map<unknown, number>();
  const count = new Map<Layer, number>();
  const ref = (t: SymbolicTensor): NodeRef => [t.node.layer.name, nodeIndex.get(t.node)!, t.index];
  const inbound = new Map<Layer, NodeRef[][]>();
  for (const t of model.inputs) nodeIndex.set(t.node, 0);
  for (const st of model.steps) {
    const n = count.get(st.layer) ?? 0;
    count.set(st.layer, n + 1);
    nodeIndex.set(st.node, n);
    const list = inbound.get(st.layer) ?? [];
    list.push(st.node!.inputs.map(ref));
    inbound.set(st.layer, list);
  }
  return {
    layers: model.layers.map((l) => ({ name: l.name, inboundNodes: inbound.get(l) ?? [] })),
    inputLayers: model.inputs.map(ref),
    outputLayers: model.outputs.map(ref),
  };
}

/** The architecture (no weights, optimizer or training state), as `model.toJSON()` writes it. */
export function modelJSON(model: TopologySource & { name: string }): ModelJSON {
  return {
    format: 'simdnet-architecture',
    className: model.isSequential ? 'Sequential' : 'Functional',
    name: model.name,
    layers: model.layers.map(layerEntry),
    ...(model.isSequential ? {} : { graph: graphConfig(model) }),
  };
}

/**
 * A layer whose state arrays named `<layer>/<suffix>` for these suffixes hold integers in [-128, 127]
 * (the quantized layers' `kernel_q`): the model file stores them as int8 bytes.
 */
interface Int8State {
  readonly int8State: readonly string[];
}

// The state tensors that hold int8 integers.
function int8Tensors(layers: readonly Layer[]): Set<unknown> {
  const out = new Set<unknown>();
  for (const l of layers) {
    const suffixes = (l as Partial<Int8State>).int8State;
    if (!Array.isArray(suffixes)) continue;
    for (const w of l.stateWeights) if (suffixes.includes(w.name.slice(w.name.lastIndexOf('/') + 1))) out.add(w.value);
  }
  return out;
}

/** Architecture, weights, optimizer state and RNG states, copied out of the model (builds it first). */
export function modelArtifacts(model: ArtifactSource): ModelArtifacts {
  const params = model.params();
  const copy = (p: { name: string; value: { shape: readonly number[]; view(): Float32Array } }) => ({
    name: p.name,
    shape: [...p.value.shape],
    values: p.value.view().slice(),
  });
  const ints = int8Tensors(model.layers);
  const weights = params.map(copy);
  const state = model.stateWeights().map((w) => (ints.has(w.value) ? { ...copy(w), dtype: 'int8' as const } : copy(w)));
  const st = model.optimizer ? model.optimizer.getState(params) : null;
  return {
    name: model.name,
    seed: model.seed,
    layers: model.layers.map(layerEntry),
    ...(model.isSequential ? {} : { graph: graphConfig(model) }),
    weights,
    state,
    compile:
      st && model.loss
        ? {
            loss: model.loss,
            metrics: model.metrics,
            optimizer: { className: st.className, config: st.config },
            ...(model.labelSmoothing > 0 ? { labelSmoothing: model.labelSmoothing } : {}),
            ...(model.fromLogits ? { fromLogits: true } : {}),
          }
        : null,
    optimizerState: st ? { iterations: st.iterations, slots: st.slots } : null,
    rng: { init: model.initRng.getState(), train: model.trainRng.getState() },
  };
}
