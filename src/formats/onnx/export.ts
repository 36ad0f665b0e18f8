// ONNX export of a model — Sequential or functional graph — (ir_version 8, opset 13), runnable by
// onnxruntime and other ONNX engines. simdnet is channels-last (NHWC) and ONNX's Conv/MaxPool/
// AveragePool are NCHW, so every value of the graph is held in the layout its producer made, and a
// Transpose is written the first time a consumer needs the other one (then reused):
//   input [N,H,W,C] → Transpose(0,3,1,2) before the first convolution or pooling → NCHW ops →
//   Transpose(0,2,3,1) back to NHWC before Flatten
// Each layer class has one emitter in the table below (the emitters live in emit/, by family); this
// file walks the model's steps, names the graph's inputs and outputs, and encodes the ModelProto.
import type { Model } from '../../nn/model.js';
import type { LayerClassName } from '../../nn/registry.js';
import { DataType, onnxType } from './onnx-schema.js';
import { type Emitter, GraphWriter, type Unsupported, type Val, unsupported } from './emit/graph.js';
import { convEmitters } from './emit/conv.js';
import { poolEmitters } from './emit/pool.js';
import { coreEmitters, identity } from './emit/core.js';
import { activationEmitters } from './emit/activations.js';
import { reshapingEmitters } from './emit/reshaping.js';
import { mergeEmitters } from './emit/merge.js';
import { quantEmitters } from './emit/quant.js';
export { unsupported };

/** ONNX IR version and default-domain opset the exporter writes. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;

/** The emitter of every layer class, in the order {@link ONNX_SUPPORTED_LAYERS} lists them. */
const EMITTERS = {
  // Never a step: the model's InputLayers are the graph inputs toONNX declares.
  InputLayer: identity,
  ...convEmitters,
  ...poolEmitters,
  ...coreEmitters,
  ...activationEmitters,
  ...reshapingEmitters,
  ...mergeEmitters,
  ...quantEmitters,
} satisfies Record<LayerClassName, Emitter | Unsupported>;

const emitters = new Map<string, Emitter | Unsupported>(Object.entries(EMITTERS));

/** Layer classes {@link toONNX} can write. */
export const ONNX_SUPPORTED_LAYERS: readonly LayerClassName[] = (Object.keys(EMITTERS) as LayerClassName[]).filter(
  (c) => c !== 'InputLayer' && typeof emitters.get(c) === 'function',
);

/** Options of {@link toONNX}. */
export interface ToONNXOptions {
  /** Graph name (default: the model's name). */
  graphName?: string;
  /** ModelProto.doc_string. */
  docString?: string;
}

/** The emitter of each layer; throws naming the first layer that cannot be exported. */
function emittersOf(model: Model): Map<unknown, Emitter> {
  const out = new Map<unknown, Emitter>();
  for (const l of model.layers) {
    if (l.className === 'InputLayer') continue;
    const e = emitters.get(l.className);
    if (typeof e !== 'function') {
      const why = e ? ` (${e.unsupported})` : '';
      throw new Error(
        `toONNX: layer ${l.name} (${l.className}) cannot be exported to ONNX${why}; supported layers: ${ONNX_SUPPORTED_LAYERS.join(', ')}`,
      );
    }
    out.set(l, e);
  }
  return out;
}

/**
 * The model as an ONNX ModelProto (ir_version 8, opset 13): input `input` float32 [N, H, W, C]
 * (channels last, as simdnet; N symbolic), output `output` [N, ...model.outputShape] (the
 * probabilities when the model ends in softmax). A graph with several inputs or outputs names them
 * after its InputLayers and `output_0`, `output_1`, ... Builds the model first if it has no weights
 * yet. Throws naming the layer when a layer has no ONNX equivalent here.
 */
export function toONNX(model: Model, opts: ToONNXOptions = {}): Uint8Array {
  if (model.layers.length === 0) throw new Error('toONNX: the model has no layers');
  const emit = emittersOf(model);
  model.build();
  const inShapes = model.inputShapes;
  const inNames = inShapes.length === 1 ? ['input'] : model.inputs.map((t) => t.node.layer.name);
  const outShapes = model.outputShapes;
  const outNames = outShapes.length === 1 ? ['output'] : outShapes.map((_, i) => `output_${i}`);

  const g = new GraphWriter([...inNames, ...outNames]);
  const vals: Val[] = inShapes.map((sh, i) => ({ nhwc: inNames[i], nchw: null, primary: 'nhwc', rank: sh.length + 1 }));
  for (const st of model.steps) {
    const layer = st.layer;
    const inputs = st.inputs.map((i) => vals[i]);
    g.use(inputs[0]);
    const cfg = layer.getConfig() as Record<string, unknown>;
    emit.get(layer)!(g, { layer, name: layer.name, cfg, inShape: st.inShapes[0], outShape: st.outShape, inputs });
    // A layer that wrote nothing (Dropout) passes its input value on.
    vals[st.output] = g.result();
  }
  nameOutputs(g, model.graph().outputs, vals, inNames, outNames);

  const dims = (d: number[]) => ({ dim: [{ dim_param: 'N' }, ...d.map((v) => ({ dim_value: v }))] });
  const valueInfo = (n: string, d: number[]) => ({
    name: n,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: dims(d) } },
  });
  const obj = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'simdnet',
    doc_string: opts.docString,
    graph: {
      name: opts.graphName ?? model.name,
      node: g.nodes,
      initializer: g.inits,
      input: inShapes.map((sh, i) => valueInfo(inNames[i], sh)),
      output: outShapes.map((sh, i) => valueInfo(outNames[i], sh)),
    },
  };
  const Model = onnxType('ModelProto');
  const err = Model.verify(obj);
  if (err) throw new Error(`toONNX: internal error building the ModelProto: ${err}`);
  return Model.encode(Model.fromObject(obj)).finish();
}

/**
 * The graph outputs keep simdnet's layout. An output written by a node no one else reads is renamed;
 * otherwise (an input, a value read further on, an output listed twice) an Identity names it.
 */
function nameOutputs(g: GraphWriter, outs: number[], vals: Val[], inNames: string[], outNames: string[]): void {
  outs.forEach((slot, i) => {
    g.use(vals[slot]);
    g.toNHWC(outNames[i]);
    const cur = g.cur;
    const producer = g.nodes.find((n) => n.output[0] === cur);
    const read = g.nodes.some((n) => n.input.includes(cur)) || inNames.includes(cur) || outs.indexOf(slot) !== i;
    if (producer && !read && !outNames.includes(cur)) {
      g.used.delete(cur);
      producer.output[0] = outNames[i];
    } else {
      g.nodes.push({
        name: g.unique(`${outNames[i]}/Identity`),
        op_type: 'Identity',
        input: [cur],
        output: [outNames[i]],
        attribute: [],
      });
    }
  });
}
