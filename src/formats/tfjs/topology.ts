// Keras model topologies -> simdnet models: Sequential layer lists and functional graphs, in the
// spellings of Keras 2, Keras 3 and tfjs. Layers come from the per-class table (layers.ts); every
// problem of a kind is collected and thrown in one error before a model is made.
import { InputLayer, type Layer, type SymbolicTensor } from '../../nn/layer.js';
import { Model, Sequential } from '../../nn/model.js';
import { createLayer } from '../../nn/registry.js';
import { show } from '../../show.js';
import { MAX_NESTING } from '../limits.js';
import { type Obj, isObj } from './artifacts.js';

/**
 * The most layers a Keras topology may have: far above any CNN, and low enough that the model's own
 * checks (each Sequential.add scans the layers before it) stay within seconds.
 */
const MAX_LAYERS = 2 ** 15;
import { type Ctx, Reader, malformed } from './keras-config.js';
import { kerasReader } from './layers.js';

/** The fixed input shape (without batch) of an InputLayer config, or a recorded problem. */
function inputShapeOf(r: Reader): number[] | null {
  const b = r.get('batch_shape') ?? r.get('batch_input_shape');
  const s = Array.isArray(b) ? b.slice(1) : r.get('input_shape');
  if (!Array.isArray(s) || s.length === 0) {
    r.problem(`no input shape (batch_shape, batch_input_shape or input_shape), got ${show(b ?? s)}`);
    return null;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 1)) {
    r.problem(`input shape (None, ${s.map((d) => d ?? 'None').join(', ')}) must have fixed positive sizes`);
    return null;
  }
  return s as number[];
}

/** One Keras layer entry -> a simdnet layer (null when a problem was recorded). */
function makeLayer(entry: Obj, ctx: Ctx, inputShape?: number[]): Layer | null {
  const cls = entry.class_name;
  const cfg = entry.config;
  if (typeof cls !== 'string') malformed(`a layer entry has no class_name: ${show(entry)}`);
  if (!isObj(cfg)) malformed(`layer entry of class ${cls} has no config object`);
  const name = typeof cfg.name === 'string' ? cfg.name : typeof entry.name === 'string' ? entry.name : undefined;
  const what = `${cls} ${show(name ?? '(unnamed)')}`;
  const r = new Reader(cfg, what, ctx);
  if (cls === 'InputLayer') {
    const s = inputShapeOf(r);
    return s ? new InputLayer({ shape: s, name }) : null;
  }
  const reader = kerasReader(cls);
  if (!reader) {
    const nested = cls === 'Sequential' || cls === 'Functional' || cls === 'Model';
    ctx.problems.push(
      `${what}: ${nested ? 'nested models are not supported (flatten the model)' : 'unsupported layer class'}`,
    );
    return null;
  }
  const before = ctx.problems.length;
  const opts: Obj = { ...reader.fromKeras(r), name };
  if (inputShape) opts.inputShape = inputShape;
  if (ctx.problems.length > before) return null;
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  if (cfg.trainable === false) opts.trainable = false;
  try {
    return createLayer(reader.className, opts, what);
  } catch (e) {
    ctx.problems.push(`${what}: ${(e as Error).message}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Topologies.

/** [layer name, node index, tensor index]: one output of one application of a layer. */
type NodeRef = [string, number, number];

function isRef(v: unknown): v is unknown[] {
  return Array.isArray(v) && typeof v[0] === 'string' && Number.isInteger(v[1]) && Number.isInteger(v[2]);
}

/**
 * Keras 3 keras tensors anywhere in a node's args: their keras_history references, in order. Walked
 * with an explicit stack (a file may nest its arguments 100,000 deep), at most MAX_NESTING levels.
 */
function kerasHistories(root: unknown, out: NodeRef[], what: string): void {
  // Pushed in reverse so they pop in document order.
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (!Array.isArray(v) && !isObj(v)) continue;
    if (depth > MAX_NESTING) malformed(`${what}: arguments nested more than ${MAX_NESTING} levels deep`);
    if (isObj(v) && v.class_name === '__keras_tensor__') {
      const h = isObj(v.config) ? v.config.keras_history : undefined;
      if (!isRef(h)) malformed(`a keras tensor has no keras_history [layer, node, tensor]: ${show(v)}`);
      out.push([h[0] as string, h[1] as number, h[2] as number]);
      continue;
    }
    const kids = Array.isArray(v) ? v : Object.values(v);
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
}

/** The inputs of each application of a layer, from Keras 2 lists of lists or Keras 3 {args, kwargs} nodes. */
function inboundNodes(entry: Obj, what: string, ctx: Ctx): NodeRef[][] {
  const nodes = entry.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) malformed(`${what}: inbound_nodes must be a list, got ${show(nodes)}`);
  return nodes.map((n, i) => {
    const refs: NodeRef[] = [];
    if (isObj(n)) {
      kerasHistories(n.args, refs, what);
      const kw: NodeRef[] = [];
      kerasHistories(n.kwargs, kw, what);
      if (kw.length > 0) ctx.problems.push(`${what}: node ${i} passes tensors as keyword arguments (not supported)`);
    } else if (Array.isArray(n)) {
      for (const r of n) {
        if (!isRef(r)) malformed(`${what}: node ${i} has an invalid input reference ${show(r)}`);
        refs.push([r[0] as string, r[1] as number, r[2] as number]);
      }
    } else malformed(`${what}: node ${i} is neither a list nor {args, kwargs}: ${show(n)}`);
    if (refs.length === 0) malformed(`${what}: node ${i} has no input tensors`);
    return refs;
  });
}

/** input_layers / output_layers: one [name, node, tensor] reference or a list of them. */
function refList(v: unknown, key: string): NodeRef[] {
  if (isRef(v)) return [[v[0] as string, v[1] as number, v[2] as number]];
  if (!Array.isArray(v) || v.length === 0 || !v.every(isRef)) {
    malformed(`${key} must be a list of [layer name, node index, tensor index], got ${show(v)}`);
  }
  return v.map((r) => [r[0] as string, r[1] as number, r[2] as number]);
}

/** A model constructor's error; a stack overflow in the model's own graph walk is named as such. */
function graphError(e: unknown, layers: number): Error {
  const msg = (e as Error).message ?? String(e);
  if (e instanceof RangeError && /call stack/.test(msg))
    return new Error(`loadLayersModel: the graph of ${layers} layers is too deep for the model to build (${msg})`);
  return new Error(`loadLayersModel: ${msg}`);
}

function problemsError(ctx: Ctx): void {
  if (ctx.problems.length === 0) return;
  const n = ctx.problems.length;
  throw new Error(
    `loadLayersModel: the model cannot be loaded, ${n} problem${n > 1 ? 's' : ''}:\n  ${ctx.problems.join('\n  ')}`,
  );
}

/**
 * Gives unnamed layers the names Sequential.add would give them (the class's default name, suffixed
 * `_n` when n layers of that default name come before it) with one count per name: Sequential.add
 * recounts the whole stack, computing every default name, for each unnamed layer.
 */
function nameUnnamed(layers: Layer[]): void {
  const count = new Map<string, number>();
  for (const l of layers) {
    const base = l.defaultName;
    const n = count.get(base) ?? 0;
    if (!l.name) l.name = n === 0 ? base : `${base}_${n}`;
    count.set(base, n + 1);
  }
}

export function sequentialModel(config: unknown, ctx: Ctx): Model {
  // tfjs and Keras 2.1 wrote the layer list itself as the config.
  const cfg: Obj = Array.isArray(config) ? { layers: config } : isObj(config) ? config : malformed('no config');
  const entries = cfg.layers;
  if (!Array.isArray(entries) || entries.length === 0) malformed('a Sequential config needs a non-empty "layers" list');
  if (entries.length > MAX_LAYERS) malformed(`the model has ${entries.length} layers, more than ${MAX_LAYERS}`);
  let inputShape: number[] | undefined;
  const b = cfg.build_input_shape;
  if (Array.isArray(b) && b.length > 1 && b.slice(1).every((d) => Number.isInteger(d) && d > 0))
    inputShape = b.slice(1);
  const layers: Layer[] = [];
  for (const e of entries) {
    if (!isObj(e)) malformed(`a layer entry is not an object: ${show(e)}`);
    if (e.class_name === 'InputLayer') {
      const l = makeLayer(e, ctx);
      if (l) inputShape = [...l.inputShape!];
      continue;
    }
    const c = isObj(e.config) ? e.config : {};
    // The first layer carries the input shape (Keras 2 / tfjs) unless an InputLayer did.
    let shape = layers.length === 0 ? inputShape : undefined;
    if (layers.length === 0 && !shape && (c.batch_input_shape || c.batch_shape)) {
      shape = inputShapeOf(new Reader(c, `${e.class_name} ${show(c.name)}`, ctx)) ?? undefined;
    }
    const l = makeLayer(e, ctx, shape);
    if (l) layers.push(l);
  }
  problemsError(ctx);
  if (!layers[0]?.inputShape)
    malformed('the Sequential model has no input shape (no InputLayer, batch_input_shape or build_input_shape)');
  nameUnnamed(layers);
  try {
    return new Sequential({ layers, name: typeof cfg.name === 'string' ? cfg.name : undefined });
  } catch (e) {
    throw graphError(e, entries.length);
  }
}

/** A min-heap of indices. */
class IndexHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p] <= a[i]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

type Pending = { layer: Layer; index: number; refs: NodeRef[] };

/**
 * Applies each node once its inputs exist, a layer's nodes in order, in the order of repeated passes
 * over the list (a node applies in the first pass that reaches it ready), without the passes: a node
 * made ready by node i applies in the same pass if it comes after i, else in the next one. Linear
 * up to the heaps' logarithm, however the file orders its layers; a node never ready means a cycle.
 */
function applyInOrder(pending: Pending[], made: Map<string, SymbolicTensor>, key: (r: NodeRef) => string): void {
  const waiters = new Map<string, number[]>();
  const missing = pending.map((p, i) => {
    const keys = new Set(p.refs.map(key));
    // The layer's previous application comes first.
    if (p.index > 0) keys.add(`${p.layer.name}#${p.index - 1}`);
    let n = 0;
    for (const k of keys) {
      if (made.has(k)) continue;
      n++;
      const w = waiters.get(k);
      if (w) w.push(i);
      else waiters.set(k, [i]);
    }
    return n;
  });
  let pass = new IndexHeap(),
    next = new IndexHeap();
  missing.forEach((n, i) => {
    if (n === 0) pass.push(i);
  });
  let done = 0;
  for (;;) {
    if (pass.size === 0) {
      if (next.size === 0) break;
      [pass, next] = [next, pass];
    }
    const i = pass.pop();
    const p = pending[i];
    const xs = p.refs.map((r) => made.get(key(r))!);
    const k = `${p.layer.name}#${p.index}`;
    try {
      made.set(k, p.layer.apply(p.layer.arity === 1 && xs.length === 1 ? xs[0] : xs));
    } catch (e) {
      throw new Error(`loadLayersModel: ${(e as Error).message}`);
    }
    done++;
    for (const w of waiters.get(k) ?? []) if (--missing[w] === 0) (w > i ? pass : next).push(w);
  }
  if (done < pending.length) {
    const stuck = [...new Set(pending.filter((_, i) => missing[i] > 0).map((p) => p.layer.name))].join(', ');
    malformed(`layers ${stuck} wait on outputs that never exist (a cycle or a missing node)`);
  }
}

export function functionalModel(config: unknown, ctx: Ctx): Model {
  if (!isObj(config) || !Array.isArray(config.layers)) malformed('a functional config needs a "layers" list');
  const entries = config.layers as unknown[];
  if (entries.length > MAX_LAYERS) malformed(`the model has ${entries.length} layers, more than ${MAX_LAYERS}`);
  const byName = new Map<string, Layer>();
  const nodes: Array<{ layer: Layer; refs: NodeRef[][] }> = [];
  for (const e of entries) {
    if (!isObj(e)) malformed(`a layer entry is not an object: ${show(e)}`);
    const l = makeLayer(e, ctx);
    const name = (isObj(e.config) && typeof e.config.name === 'string' ? e.config.name : e.name) as string;
    if (typeof name !== 'string') malformed(`a ${show(e.class_name)} layer of a functional model has no name`);
    const refs = e.class_name === 'InputLayer' ? [] : inboundNodes(e, `${e.class_name} ${show(name)}`, ctx);
    if (!l) continue;
    l.name = name;
    if (byName.has(name)) malformed(`two layers are named ${show(name)}`);
    byName.set(name, l);
    nodes.push({ layer: l, refs });
  }
  problemsError(ctx);
  const inputs = refList(config.input_layers, 'input_layers');
  const outputs = refList(config.output_layers, 'output_layers');
  const made = new Map<string, SymbolicTensor>();
  const key = (r: NodeRef) => `${r[0]}#${r[1]}`;
  for (const { layer } of nodes) if (layer instanceof InputLayer) made.set(`${layer.name}#0`, layer.output);
  const pending: Pending[] = [];
  for (const { layer, refs } of nodes) {
    refs.forEach((rs, index) => {
      for (const r of rs) {
        if (!byName.has(r[0])) malformed(`layer ${show(layer.name)} takes input from unknown layer ${show(r[0])}`);
        if (r[2] !== 0)
          malformed(`layer ${show(layer.name)} reads output ${r[2]} of ${show(r[0])}, which has one output`);
      }
      pending.push({ layer, index, refs: rs });
    });
  }
  applyInOrder(pending, made, key);
  const pick = (r: NodeRef, what: string) =>
    made.get(key(r)) ?? malformed(`${what} ${show(r)} is not a node of the graph`);
  try {
    return new Model({
      inputs: inputs.map((r) => pick(r, 'input')),
      outputs: outputs.map((r) => pick(r, 'output')),
      name: typeof config.name === 'string' ? config.name : undefined,
    });
  } catch (e) {
    throw graphError(e, entries.length);
  }
}

/** The model config {class_name, config} inside a topology, and whether it is a Keras 3 file. */
export function modelConfig(topology: unknown): { cls: string; config: unknown; keras3: boolean } {
  if (!isObj(topology)) malformed(`modelTopology must be an object, got ${show(topology)}`);
  const mc = isObj(topology.model_config) ? topology.model_config : topology;
  const cls = mc.class_name;
  if (typeof cls !== 'string') malformed(`no class_name in the model config (keys: ${Object.keys(mc).join(', ')})`);
  const version = String(topology.keras_version ?? mc.keras_version ?? '');
  // Keras 3 writes "module"/"registered_name" keys and no keras_version in model.to_json().
  const keras3 = /^3\./.test(version) || (version === '' && ('module' in mc || 'registered_name' in mc));
  return { cls, config: mc.config, keras3 };
}
