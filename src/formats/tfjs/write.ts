// Saving in the tfjs-layers format: a model's topology as a Keras config (layer configs from the
// per-class table, layers.ts) and its weights as float32 or quantised bytes, as tf.loadLayersModel reads.
import { InputLayer, type Layer, type SymbolicTensor } from '../../nn/layer.js';
import { Model } from '../../nn/model.js';
import { show } from '../../show.js';
import {
  type LayersModelArtifacts,
  type LayersModelJSON,
  type LayersWeightSpec,
  type Obj,
  type SaveLayersOptions,
  isObj,
} from './artifacts.js';
import { Writer } from './keras-config.js';
import { kerasWriter } from './layers.js';
import { encode } from './weights.js';

/** A layer's Keras config in the form tfjs-layers reads; problems tfjs cannot represent are recorded. */
function kerasConfig(l: Layer, problems: string[]): Obj {
  const w = new Writer(l.getConfig() as Obj, `${l.className} ${show(l.name)}`, problems);
  const toKeras = kerasWriter(l.className);
  if (toKeras) return toKeras(w);
  w.no('has no tfjs-layers equivalent');
  return {};
}

/**
 * The model in the tfjs-layers format, as tfjs' ModelArtifacts: `tf.loadLayersModel(tf.io.fromMemory(a))`
 * reads it (and so does {@link loadLayersModel}). Weights are float32 under their Keras names, or
 * quantised as tensorflowjs_converter's `--quantize_uint8` / `--quantize_uint16` / `--quantize_float16`
 * do with `opts.quantize` (affine codes with zero exactly representable; error at most half a step).
 *
 * @throws one error listing every layer or option tfjs-layers cannot represent faithfully (grouped
 *   convolution, a dilated DepthwiseConv2D, hard sigmoid, Subtract, ...)
 */
export function saveLayersModel(model: Model, opts: SaveLayersOptions = {}): LayersModelArtifacts {
  if (!(model instanceof Model)) throw new Error(`saveLayersModel: expected a simdnet model, got ${show(model)}`);
  if (!isObj(opts) || Object.keys(opts).some((k) => k !== 'quantize')) {
    throw new Error(`saveLayersModel: options must be {quantize?}, got ${show(opts)}`);
  }
  const q = opts.quantize;
  if (q !== undefined && q !== 'uint8' && q !== 'uint16' && q !== 'float16') {
    throw new Error(`saveLayersModel: quantize must be 'uint8', 'uint16' or 'float16', got ${show(q)}`);
  }
  model.build();
  const problems: string[] = [];
  const layerEntry = (l: Layer): Obj => ({
    class_name: l.className,
    config: {
      ...kerasConfig(l, problems),
      name: l.name,
      trainable: l.trainable,
      dtype: 'float32',
    },
  });
  let topology: Obj;
  if (model.isSequential) {
    const entries = model.layers.map(layerEntry);
    (entries[0].config as Obj).batch_input_shape = [null, ...model.inputShape];
    topology = { class_name: 'Sequential', config: { name: model.name, layers: entries } };
  } else topology = functionalTopology(model, layerEntry);
  if (problems.length > 0) {
    throw new Error(`saveLayersModel: tfjs-layers cannot represent this model:\n  ${problems.join('\n  ')}`);
  }
  const { weightSpecs, data } = weightsOf(model, q);
  return {
    modelTopology: { ...topology, keras_version: 'simdnet', backend: 'simdnet' },
    format: 'layers-model',
    generatedBy: 'simdnet',
    convertedBy: null,
    weightSpecs,
    weightData: data.buffer,
  };
}

/** A functional model's Keras config: each layer with its inbound nodes, by [layer, node, tensor] reference. */
function functionalTopology(model: Model, layerEntry: (l: Layer) => Obj): Obj {
  const nodeIndex = new Map<unknown, number>();
  const count = new Map<Layer, number>();
  const inbound = new Map<Layer, unknown[]>();
  const ref = (t: SymbolicTensor) => [t.node.layer.name, nodeIndex.get(t.node)!, 0, {}];
  for (const t of model.inputs) nodeIndex.set(t.node, 0);
  for (const st of model.steps) {
    const n = count.get(st.layer) ?? 0;
    count.set(st.layer, n + 1);
    nodeIndex.set(st.node, n);
    inbound.set(st.layer, [...(inbound.get(st.layer) ?? []), st.node!.inputs.map(ref)]);
  }
  const entries = model.layers.map((l) => {
    if (l instanceof InputLayer) {
      return {
        name: l.name,
        class_name: 'InputLayer',
        config: { batch_input_shape: [null, ...l.inputShape!], dtype: 'float32', sparse: false, name: l.name },
        inbound_nodes: [],
      };
    }
    return { name: l.name, ...layerEntry(l), inbound_nodes: inbound.get(l) ?? [] };
  });
  const refs = (ts: SymbolicTensor[]) => ts.map((t) => ref(t).slice(0, 3));
  return {
    class_name: 'Model',
    config: {
      name: model.name,
      layers: entries,
      input_layers: refs(model.inputs),
      output_layers: refs(model.outputs),
    },
  };
}

/** Every weight and state of the model in layer order: manifest entries and the bytes they describe. */
function weightsOf(
  model: Model,
  q: SaveLayersOptions['quantize'],
): { weightSpecs: LayersWeightSpec[]; data: Uint8Array<ArrayBuffer> } {
  const weights = model.layers.flatMap((l) => [...l.weights, ...l.stateWeights]);
  const parts = weights.map((w) => encode(w.value.view(), q));
  const data = new Uint8Array(parts.reduce((a, p) => a + p.bytes.length, 0));
  let at = 0;
  const weightSpecs: LayersWeightSpec[] = weights.map((w, i) => {
    data.set(parts[i].bytes, at);
    at += parts[i].bytes.length;
    const spec: LayersWeightSpec = { name: w.name, shape: [...w.value.shape], dtype: 'float32' };
    return parts[i].quantization ? { ...spec, quantization: parts[i].quantization } : spec;
  });
  return { weightSpecs, data };
}

/** The model.json object of artifacts whose weights are written to the shard files `paths` (in order). */
export function layersModelJSON(a: LayersModelArtifacts, paths: string[]): LayersModelJSON {
  return {
    format: a.format ?? 'layers-model',
    generatedBy: a.generatedBy ?? 'simdnet',
    convertedBy: a.convertedBy ?? null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths, weights: a.weightSpecs ?? [] }],
  };
}
