// Reading the model file (src/io/simdnet.ts lays out and writes its bytes, container.ts checks them;
// the model builds what it holds, nn/artifacts.ts): every check, then a new model.
//
// Layer state (BatchNormalization's moving mean/variance: non-trainable) is listed under the header
// key "state", written only when the model has some. Models without state therefore give the same
// bytes as before the key existed, and those files load unchanged: a pure extension of version 1.
// Version 2 appends the checksum (a flipped byte in a weight or a dropped section would otherwise load
// as a valid-looking model); version 1 files, without it, still load.
//
// A functional model also writes the header key "graph" (Keras' functional config: each layer's
// inbound nodes as [layer, node, tensor] references, and the input and output layers); its "layers"
// list then holds every layer, InputLayers included, in the same order. A Sequential model writes no
// "graph" key, so its files are what they were, and a file without the key loads as a Sequential.
// A layer with `trainable` false carries `trainable: false` in its config.
//
// Loading checks everything (checksum, sizes, shapes against the architecture, bounds, values) before
// it allocates a byte, and builds a new model, so a bad file never touches a model in memory.
import { weightsChanged } from '../../nn/inference.js';
import { Model, Sequential } from '../../nn/model.js';
import { modelArtifacts, modelJSON } from '../../nn/artifacts.js';
import type { ModelJSON, NodeRef } from '../../io/artifacts.js';
import { FORMAT_VERSION, type Header, type SaveOptions, type Slice, encodeSimdnet } from '../../io/simdnet.js';
import { readArray } from '../../io/weight-dtypes.js';
import { type Checked, type Opened, checkData, checkValues, failWith, openFile } from './container.js';
import { layerClass } from '../../nn/registry.js';
import { InputLayer, type Layer, type SymbolicTensor } from '../../nn/layer.js';
import { Adam } from '../../optim/adam.js';
import { AdamW } from '../../optim/adamw.js';
import { SGD } from '../../optim/sgd.js';
import { RMSprop } from '../../optim/rmsprop.js';
import type { Optimizer, OptimizerState } from '../../optim/optimizer.js';
import { show } from '../../show.js';
import { MAX_NODES, limitsOf } from '../limits.js';
import { checkPlannedModel } from '../planned.js';

export { FORMAT_VERSION };
export type { ModelJSON };
const MAX_ACTIVATION = 1 << 27; // elements per example in any layer's output
const MAX_ITERATIONS = 2 ** 31 - 2; // an i32 in the kernels, after one more step

/**
 * Serializes architecture, weights, optimizer state and RNG state (the bytes of `model.save(options)`;
 * `options.weightDtype` 'float16' or 'int8' stores smaller weights, see {@link SaveOptions}).
 */
export function saveModel(model: Model, options?: SaveOptions): ArrayBuffer {
  if (!(model instanceof Model)) throw new Error(`saveModel: expected a model, got ${typeof model}`);
  return encodeSimdnet(modelArtifacts(model), options);
}

/** Rebuilds a functional model from the "graph" key: applies each node once its inputs exist. */
function graphModel(
  h: Pick<Header, 'graph' | 'name' | 'seed'>,
  layers: Layer[],
  fail: (msg: string) => never = failWith,
): Model {
  const g = h.graph!;
  if (
    !g ||
    !Array.isArray(g.layers) ||
    g.layers.length !== layers.length ||
    !Array.isArray(g.inputLayers) ||
    !Array.isArray(g.outputLayers)
  ) {
    fail('header "graph" does not match its "layers" list');
  }
  const byName = new Map<string, Layer>();
  layers.forEach((l, i) => {
    if (g.layers[i]?.name !== l.name)
      fail(`graph entry ${i} is ${show(g.layers[i]?.name)} but layer ${i} is ${l.name}`);
    if (byName.has(l.name)) fail(`two layers are named ${l.name}`);
    byName.set(l.name, l);
  });
  const made = new Map<string, SymbolicTensor>();
  const key = (r: NodeRef) => `${r[0]}#${r[1]}`;
  for (const l of layers) if (l instanceof InputLayer) made.set(`${l.name}#0`, l.output);
  const pending: Array<{ layer: Layer; index: number; refs: NodeRef[] }> = [];
  g.layers.forEach((e, i) => {
    if (!Array.isArray(e.inboundNodes)) fail(`graph entry for ${e.name} has no inboundNodes list`);
    e.inboundNodes.forEach((refs, index) => {
      if (
        !Array.isArray(refs) ||
        refs.some((r) => !Array.isArray(r) || typeof r[0] !== 'string' || !Number.isInteger(r[1]) || r[2] !== 0)
      ) {
        fail(`graph: node ${index} of layer ${e.name} has an invalid input list ${show(refs)}`);
      }
      for (const r of refs)
        if (!byName.has(r[0])) fail(`graph: layer ${e.name} takes input from unknown layer ${r[0]}`);
      pending.push({ layer: layers[i], index, refs });
    });
  });
  // Repeated passes: each applies the nodes whose inputs exist (a layer's nodes in order); no progress means a cycle.
  while (pending.length > 0) {
    let progressed = false;
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i];
      if (p.layer.inboundNodes.length !== p.index || !p.refs.every((r) => made.has(key(r)))) continue;
      try {
        made.set(
          `${p.layer.name}#${p.index}`,
          p.layer.apply(p.layer.arity === 1 ? made.get(key(p.refs[0]))! : p.refs.map((r) => made.get(key(r))!)),
        );
      } catch (e) {
        fail((e as Error).message);
      }
      pending.splice(i--, 1);
      progressed = true;
    }
    if (!progressed)
      fail(
        `graph: layers ${[...new Set(pending.map((p) => p.layer.name))].join(', ')} wait on each other's outputs (a cycle) or on a node that does not exist`,
      );
  }
  const pick = (r: NodeRef, what: string) =>
    made.get(key(r)) ?? fail(`graph: ${what} ${show(r)} is not a node of the graph`);
  try {
    return new Model({
      inputs: g.inputLayers.map((r) => pick(r, 'input')),
      outputs: g.outputLayers.map((r) => pick(r, 'output')),
      name: String(h.name ?? 'model'),
      seed: Number(h.seed) || 0,
    });
  } catch (e) {
    fail((e as Error).message);
  }
}

/** Builds the layers and the model of an architecture (the header's "layers" and "graph" keys). */
function architecture(h: Pick<Header, 'layers' | 'graph' | 'name' | 'seed'>, fail: (msg: string) => never): Model {
  if (h.layers.length > MAX_NODES) fail(`${h.layers.length} layers, more than the ${MAX_NODES} a model may have`);
  const layers: Layer[] = h.layers.map((l, i) => {
    const C = layerClass(l?.className) as (new (cfg: unknown) => Layer) | undefined;
    if (!C) fail(`layer ${i} has unknown class ${show(l?.className)}`);
    // `trainable` is the model's business, not a constructor option: set after construction.
    const raw = l.config as unknown;
    const isObject = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
    const { trainable, ...rest } = (isObject ? raw : {}) as Record<string, unknown>;
    const config = isObject ? rest : raw;
    if (trainable !== undefined && typeof trainable !== 'boolean')
      fail(`layer ${i} (${l.className}): trainable must be a boolean, got ${show(trainable)}`);
    let layer: Layer;
    try {
      layer = new C(config);
    } catch (e) {
      fail(`layer ${i} (${l.className}): ${(e as Error).message}`);
    }
    layer.trainable = trainable !== false;
    return layer;
  });
  if (layers.length === 0) fail('the model has no layers');
  let model: Model;
  if (h.graph !== undefined) model = graphModel(h, layers, fail);
  else {
    // graph() checks the chain's shapes and sizes now, inside the try, so a bad file names the loader.
    try {
      model = new Sequential({ layers, name: String(h.name ?? 'sequential'), seed: Number(h.seed) || 0 });
      model.graph();
    } catch (e) {
      fail((e as Error).message);
    }
  }
  return model;
}

// The architecture's shapes are within bounds, and its weights, state and optimizer slots are the file's.
function checkArchitecture(
  model: Model,
  h: Header,
  stateList: NonNullable<Header['state']>,
  slots: Record<string, Slice[]>,
  fail: (msg: string) => never,
): void {
  for (const s of model.isSequential ? [model.inputShape] : model.inputShapes) {
    if (s.reduce((a, b) => a * b, 1) > MAX_ACTIVATION) fail(`input shape [${s}] is too large`);
  }
  let specs: ReturnType<Model['weightSpecs']>;
  try {
    for (const st of model.steps) {
      if (st.outShape.reduce((a, b) => a * b, 1) > MAX_ACTIVATION)
        fail(`layer ${st.layer.name} output [${st.outShape}] is too large`);
    }
    specs = model.weightSpecs();
  } catch (e) {
    fail((e as Error).message.replace(/^loadModel: /, ''));
  }
  const expected = specs.weights,
    expectedState = specs.state;
  if (expected.length !== h.weights.length)
    fail(`the architecture has ${expected.length} weight arrays but the file holds ${h.weights.length}`);
  expected.forEach((e, i) => {
    const w = h.weights[i];
    if (w.name !== e.name || w.shape.join() !== e.shape.join())
      fail(`weight ${i} is ${w.name} [${w.shape}] but the architecture needs ${e.name} [${e.shape}]`);
  });
  if (expectedState.length !== stateList.length)
    fail(
      `the architecture has ${expectedState.length} state arrays (e.g. moving statistics) but the file holds ${stateList.length}`,
    );
  expectedState.forEach((e, i) => {
    const w = stateList[i];
    if (w.name !== e.name || w.shape.join() !== e.shape.join())
      fail(`state ${i} is ${w.name} [${w.shape}] but the architecture needs ${e.name} [${e.shape}]`);
  });
  for (const [name, arr] of Object.entries(slots)) {
    const e = expected.find((x) => x.name === name);
    if (!e) fail(`optimizer state for unknown weight ${name}`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    for (const sl of arr)
      if (sl.length !== n) fail(`optimizer state of ${name} has ${sl.length} values, expected ${n}`);
  }
}

// The optimizer of the compile section (none without one), with the file's number of slots per weight.
function optimizerOf(h: Header, slots: Record<string, Slice[]>, fail: (msg: string) => never): Optimizer | null {
  let opt: Optimizer | null = null;
  if (h.compile) {
    const oc = h.compile.optimizer;
    if (!oc || typeof oc.config !== 'object' || oc.config === null) fail('optimizer config is missing or invalid');
    try {
      if (oc.className === 'Adam') opt = new Adam(oc.config);
      else if (oc.className === 'AdamW') opt = new AdamW(oc.config);
      else if (oc.className === 'SGD') opt = new SGD(oc.config);
      else if (oc.className === 'RMSprop') opt = new RMSprop(oc.config);
    } catch (e) {
      fail(`optimizer config: ${(e as Error).message}`);
    }
    if (!opt) fail(`unknown optimizer ${show(oc.className)}`);
    for (const [name, arr] of Object.entries(slots)) {
      if (arr.length !== opt.slotsPerParam)
        fail(
          `optimizer state of ${name} has ${arr.length} arrays but ${opt.className} with this config keeps ${opt.slotsPerParam}`,
        );
    }
  }
  return opt;
}

// The optimizer's step count (returned) and the RNG states.
function checkCounters(h: Header, slots: Record<string, Slice[]>, fail: (msg: string) => never): number {
  const iterations = h.optimizerState?.iterations ?? 0;
  // The step count reaches the kernels as an i32 (Adam's bias correction).
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > MAX_ITERATIONS) {
    fail(`optimizer iterations ${show(iterations)} is invalid (an integer in [0, ${MAX_ITERATIONS}])`);
  }
  if (!h.compile && (iterations > 0 || Object.keys(slots).length > 0))
    fail('optimizer state without a compile section (damaged file)');
  if (!Array.isArray(h.rng?.init) || !Array.isArray(h.rng?.train)) fail('RNG state missing');
  for (const [key, st] of [
    ['init', h.rng.init],
    ['train', h.rng.train],
  ] as const) {
    // xoshiro128** never leaves the all-zero state: every "random" number would be 0.
    if (st.length === 4 && st.every((v) => v === 0))
      fail(`RNG state ${key} is all zeros (not a state the generator can have)`);
  }

  return iterations;
}

// All checked: builds the model, then fills weights, state, RNG states and the optimizer from the file.
function fill(model: Model, o: Opened, c: Checked, opt: Optimizer | null, iterations: number): void {
  const { h, dv, fail } = o;
  const read = (s: Parameters<typeof readArray>[1]) => readArray(dv, s);
  try {
    // Build first: building draws initial weights from initRng (overwritten just below), and the
    // restored state must be the saved one, so that load → save gives back the same bytes.
    model.build();
    model.initRng.setState(h.rng.init);
    model.trainRng.setState(h.rng.train);
    model.params().forEach((p, i) => p.value.view().set(read(c.weights[i]!)));
    model.stateWeights().forEach((p, i) => p.value.view().set(read(c.state[i]!)));
    weightsChanged();
    if (h.compile && opt) {
      model.compile({
        optimizer: opt,
        loss: h.compile.loss as never,
        metrics: h.compile.metrics,
        labelSmoothing: h.compile.labelSmoothing,
        fromLogits: h.compile.fromLogits,
      });
      const st: OptimizerState = { className: opt.className, config: opt.getConfig(), iterations, slots: {} };
      for (const [name, arr] of Object.entries(c.slotArrays)) st.slots[name] = arr.map(read);
      opt.setState(st, model.params());
    }
  } catch (e) {
    model.dispose();
    fail((e as Error).message);
  }
}

/** Rebuilds a model from saveModel's bytes; throws a clear error for any damaged or foreign file. */
export function loadModel(data: ArrayBuffer | Uint8Array): Model {
  const o = openFile(data);
  const c = checkData(o);
  const { stateList, slots } = c;
  // Architecture: construct layers (no allocation) and infer every shape.
  const model = architecture(o.h, o.fail);
  checkArchitecture(model, o.h, stateList, slots, o.fail);
  const opt = optimizerOf(o.h, slots, o.fail);
  const iterations = checkCounters(o.h, slots, o.fail);
  checkValues(o, c, opt);
  fill(model, o, c, opt, iterations);
  return model;
}

/**
 * The model's architecture (no weights, optimizer or training state) as a JSON string, like Keras'
 * `model.to_json()`; {@link modelFromJSON} builds a new, freshly initialised model from it. The
 * layer configs are those the binary model file stores, so a file's architecture and this JSON agree.
 */
export function modelToJSON(model: Model, indent?: number): string {
  if (!(model instanceof Model)) throw new Error(`modelToJSON: expected a model, got ${typeof model}`);
  return JSON.stringify(modelJSON(model), null, indent);
}

/**
 * Builds a model from {@link modelToJSON}'s JSON (a string or the parsed object), with new weights
 * drawn from `seed` (default: random). Every layer config and shape is checked; errors name the layer.
 * The JSON is treated as untrusted: at most MAX_NODES layers, and the weights it would create must fit
 * `maxBytes` (default 1 GiB), checked before any is allocated.
 */
export function modelFromJSON(json: string | ModelJSON, opts: { seed?: number; maxBytes?: number } = {}): Model {
  const fail: (msg: string) => never = (msg) => {
    throw new Error(`modelFromJSON: ${msg}`);
  };
  const { maxBytes } = limitsOf(opts, 'modelFromJSON');
  let h: ModelJSON;
  if (typeof json === 'string') {
    try {
      h = JSON.parse(json);
    } catch (e) {
      fail(`not valid JSON (${(e as Error).message})`);
    }
  } else h = json;
  if (!h || typeof h !== 'object' || h.format !== 'simdnet-architecture' || !Array.isArray(h.layers))
    fail('expected {format: "simdnet-architecture", className, name, layers: [...]} as written by model.toJSON()');
  if (h.className !== 'Sequential' && h.className !== 'Functional')
    fail(`className must be 'Sequential' or 'Functional', got ${show(h.className)}`);
  if ((h.className === 'Functional') !== (h.graph !== undefined))
    fail(`a ${h.className} model ${h.className === 'Functional' ? 'needs' : 'has no'} a "graph" key`);
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const model = architecture({ layers: h.layers, graph: h.graph, name: h.name, seed }, fail);
  // The weights are new, so nothing in the JSON bounds them: the budget does, before they exist.
  checkPlannedModel(model, maxBytes, fail);
  return model;
}
