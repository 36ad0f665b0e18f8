// ONNX import: a CNN exported by torch.onnx.export or tf2onnx (opsets 1–21) becomes a functional
// Model that predicts, compiles, fits, saves and exports again. This file decodes and checks the
// file, then walks the nodes in order: a node whose inputs are all constants is folded (fold.ts),
// any other is converted to layers by its row of the operator table (ops/index.ts, one converter
// per operator family in ops/).
//
// Layout. ONNX CNNs are NCHW; simdnet computes NHWC. Every graph value is held in one of the layouts
// of ops/context.ts ('nhwc', 'native', 'perm', 'nhwc5'). The model takes its input as the file
// declares it (one Permute to NHWC before the first layer that needs it; `inputLayout: 'nhwc'` takes
// NHWC and drops it); conversions are made where a consumer needs the other layout, and cached.
// Weights are re-laid once, by the converters: Conv kernels to (KH, KW, C/g, K), Gemm rows permuted
// to the stored feature order, constants of Mul/Add transposed.
//
// Constant folding. Initializers, Constant nodes and the shape arithmetic around view/flatten
// (Shape, Gather, Unsqueeze, Concat, Cast, ...) are evaluated once, here; the batch size is
// unknown, so Shape writes NaN for it and Reshape reads NaN (or 0, or a -1 that leaves the batch
// alone) in the first place as "keep the batch axis".
//
// Checking. The whole file is decoded and checked before any layer or tensor exists: protobuf
// errors, unsupported operators (one error listing every op type with its node names and the
// opset), external data, tensors whose data does not match their dims, absurd dims, cycles and
// inputs nothing produces.
//
// Limits (../limits.ts). A file made by a stranger meets a budget (`maxBytes`, default 1 GiB) that
// every initializer and every folded constant claims before its values are allocated, bounds on
// node, attribute and rank counts, iteration (never recursion) over the graph, and weights that must
// be finite (`allowNonFinite` relaxes that) and of a float type where the operator takes floats.
import { type Model, model as functionalModel } from '../../nn/model.js';
import { type SymbolicTensor, input as symbolicInput } from '../../nn/layer.js';
import { ready } from '../../wasm/bindings.js';
import { Budget, type Limits, MAX_NODES, MAX_NODE_FIELDS, limitsOf } from '../limits.js';
import { onnxType } from './onnx-schema.js';
import type { Const } from './fold.js';
import { type ExternalData, type TensorMsg, readTensor } from './tensor.js';
import { type AttrMsg, Attrs, int } from './ops/attrs.js';
import { BATCH, Builder, DTYPE_NAMES, type Sym, type Val, checkDims, fail } from './ops/context.js';
import { OPS } from './ops/index.js';
import { prepareQuant } from './ops/qdq-fuse.js';
import { fusePatterns } from './ops/fuse.js';
import { legacyNode } from './ops/legacy.js';
import { dropBatchStatGraphs } from './ops/norm.js';
import type { NodeContext } from './ops/node.js';

/** Options of {@link loadONNX}. */
export interface LoadONNXOptions {
  /**
   * 'nchw' (default): the model takes its 4-d inputs as the file declares them (NCHW for PyTorch),
   * so code written for onnxruntime works unchanged. 'nhwc': it takes them channels-last and skips
   * the input transpose.
   */
  inputLayout?: 'nchw' | 'nhwc';
  /** Model name (default: the ONNX graph's name, or 'onnx_model'). */
  name?: string;
  /** Reader of external tensor data (loadONNXFile supplies one that reads next to the model file). */
  externalData?: ExternalData;
  /**
   * The most bytes of tensor data the import may hold (initializers and folded constants, counted as
   * the float64 values they are computed in); default 1 GiB. Every size is checked before it is
   * allocated, and the error names the node, the shape and the bytes.
   */
  maxBytes?: number;
  /** Load weights that hold NaN or ±Infinity, stored or computed (default: refused, naming the layer). */
  allowNonFinite?: boolean;
  /**
   * One sample's shape in the file's layout (e.g. `[3, 224, 224]`), for a model with one input whose
   * file leaves sizes open (`dim_param`): it fills them in. A size the file fixes must agree.
   */
  inputShape?: number[];
}

export type { ExternalData } from './tensor.js';

/** Lowest and highest default-domain opset the importer reads. */
export const MIN_OPSET = 1;
export const MAX_OPSET = 21;

/** Operators the importer maps to layers (on graph values) or folds (on constants). */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set(OPS.keys());

// ---------------------------------------------------------------------------------------------
// Decoding and checking

interface NodeMsg {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttrMsg[];
}
interface DimMsg {
  dim_value?: unknown;
  dim_param?: string;
}
interface ValueInfoMsg {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: DimMsg[] } } };
}
interface GraphMsg {
  node?: NodeMsg[];
  name?: string;
  initializer?: TensorMsg[];
  input?: ValueInfoMsg[];
  output?: ValueInfoMsg[];
}
interface ModelMsg {
  ir_version?: unknown;
  opset_import?: Array<{ domain?: string; version?: unknown }>;
  graph?: GraphMsg;
}

function decode(bytes: Uint8Array): ModelMsg {
  let msg: ModelMsg;
  try {
    msg = onnxType('ModelProto').decode(bytes) as unknown as ModelMsg;
  } catch (e) {
    return fail(`the bytes are not an ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!msg.graph) fail('the file has no graph (is it an ONNX model?)');
  return msg;
}

function defaultOpset(m: ModelMsg): number {
  const set = (m.opset_import ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!set) fail('the model declares no default-domain opset (opset_import)');
  const v = int(set!.version ?? 0, 'opset version');
  if (v < MIN_OPSET || v > MAX_OPSET) {
    fail(`the model uses opset ${v}; the importer reads opsets ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  return v;
}

/** Nodes in an order where every input is produced before use; checks for dangling inputs and cycles. */
function topoSort(nodes: NodeMsg[], known: Set<string>): NodeMsg[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o) continue;
      if (producer.has(o) || known.has(o)) fail(`value '${o}' is produced twice (node ${nodeName(n, i)})`);
      producer.set(o, i);
    }
  });
  const waiting = nodes.map(() => 0);
  const users = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const x of n.input ?? []) {
      if (!x || known.has(x)) continue;
      const p = producer.get(x);
      if (p === undefined)
        fail(`node ${nodeName(n, i)} (${n.op_type}) reads '${x}', which no node, input or initializer produces`);
      waiting[i]++;
      users[p!].push(i);
    }
  });
  const order: NodeMsg[] = [];
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  // A queue read by index: shift() would make a long graph quadratic.
  for (let head = 0; head < ready.length; head++) {
    const i = ready[head];
    order.push(nodes[i]);
    for (const u of users[i]) if (--waiting[u] === 0) ready.push(u);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => waiting[i] > 0).map((n, i) => nodeName(n, i));
    fail(
      `the graph has a cycle: nodes ${stuck.slice(0, 8).join(', ')}${stuck.length > 8 ? ', ...' : ''} wait on each other`,
    );
  }
  return order;
}

const nodeName = (n: NodeMsg, i: number) => `'${n.name || `#${i}`}'`;

// ---------------------------------------------------------------------------------------------
// The importer

/**
 * Imports an ONNX model (bytes of a .onnx file) as a functional {@link Model}: the CNNs that
 * torch.onnx.export and tf2onnx write (opsets 1–21). The model takes its input as the file declares
 * it (NCHW for PyTorch exports; `opts.inputLayout: 'nhwc'` for channels-last) and computes NHWC
 * inside. It predicts, compiles and fits (BatchNormalization keeps its running statistics and is
 * fine-tuned as a BN layer), saves as .simdnet and exports back to ONNX.
 *
 * @throws before anything is allocated: one error listing every unsupported operator (op type, node
 *   names, opset); malformed protobuf, tensors whose data does not match their dims, absurd dims,
 *   cycles, dangling inputs, external data — each named.
 * @example
 * ```ts
 * const m = await sn.loadONNX(bytes);       // NCHW input as in onnxruntime
 * const y = m.predict(sn.tensor(x, [1, 3, 32, 32]));
 * ```
 */
export async function loadONNX(bytes: Uint8Array | ArrayBuffer, opts: LoadONNXOptions = {}): Promise<Model> {
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    fail(
      `expected the bytes of a .onnx file (Uint8Array or ArrayBuffer), got ${bytes === null ? 'null' : typeof bytes}`,
    );
  }
  if (opts === null || typeof opts !== 'object') fail('options must be an object');
  const layout = opts.inputLayout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc')
    fail(`inputLayout must be 'nchw' or 'nhwc', got ${JSON.stringify(layout)}`);
  const limits = limitsOf(opts, 'loadONNX');
  const budget = new Budget(limits.maxBytes, fail);
  const given = opts.inputShape;
  if (given !== undefined && (!Array.isArray(given) || given.some((d) => !Number.isInteger(d) || d < 1 || d > 2 ** 20)))
    fail(`inputShape must be an array of positive integer sizes (one sample, no batch), got ${JSON.stringify(given)}`);
  const plan = planImport(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), opts.externalData, {
    ...limits,
    budget,
    inputShape: given,
  });
  await ready();
  try {
    return buildModel(plan, layout, opts.name, limits, budget);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (msg.startsWith('loadONNX:')) throw e;
    // The model's own graph walk recurses: say so instead of a bare stack overflow.
    if (e instanceof RangeError && /call stack/.test(msg))
      fail(`the graph of ${plan.nodes.length} nodes is too deep for the model to build (${msg})`);
    return fail(msg);
  }
}

interface Plan {
  opset: number;
  graphName: string;
  nodes: NodeMsg[];
  consts: Map<string, Const>;
  /** Element type of each initializer (quantized graphs need int8 vs uint8). */
  types: Map<string, number>;
  inputs: Array<{ name: string; shape: number[]; batch: number | null }>;
  outputs: string[];
}

/** Refuses graphs whose counts no CNN has, before any loop over them: nodes, initializers, node fields. */
function checkCounts(g: GraphMsg): void {
  const nodes = g.node ?? [];
  if (nodes.length > MAX_NODES) fail(`the graph has ${nodes.length} nodes, more than ${MAX_NODES}`);
  const inits = g.initializer?.length ?? 0;
  if (inits > MAX_NODES) fail(`the graph has ${inits} initializers, more than ${MAX_NODES}`);
  nodes.forEach((n, i) => {
    for (const [field, list] of [
      ['inputs', n.input],
      ['outputs', n.output],
      ['attributes', n.attribute],
      ...(n.attribute ?? []).flatMap((a) => [
        [`values in attribute ${a.name}`, a.ints],
        [`values in attribute ${a.name}`, a.floats],
      ]),
    ] as Array<[string, unknown[] | undefined]>) {
      if ((list?.length ?? 0) > MAX_NODE_FIELDS)
        fail(`node ${nodeName(n, i)} (${n.op_type}) has ${list!.length} ${field}, more than ${MAX_NODE_FIELDS}`);
    }
  });
}

/** Decodes and checks the whole file: everything that can be refused is refused here. */
export function planImport(
  bytes: Uint8Array,
  external?: ExternalData,
  limits: Limits & { budget?: Budget; inputShape?: number[] } = limitsOf(undefined, 'loadONNX'),
): Plan {
  const m = decode(bytes);
  const opset = defaultOpset(m);
  const g = m.graph!;
  checkCounts(g);
  const nodes = g.node ?? [];
  // Every unsupported operator at once.
  const bad = new Map<string, string[]>();
  nodes.forEach((n, i) => {
    const op = n.op_type ?? '';
    const dom = n.domain ?? '';
    const key = dom && dom !== 'ai.onnx' ? `${dom}.${op}` : op;
    if ((dom && dom !== 'ai.onnx') || !OPS.has(op)) {
      if (!bad.has(key)) bad.set(key, []);
      bad.get(key)!.push(nodeName(n, i));
    }
  });
  if (bad.size > 0) {
    const list = [...bad].map(
      ([op, ns]) => `${op || '(no op_type)'} (node${ns.length > 1 ? 's' : ''} ${ns.join(', ')})`,
    );
    fail(`unsupported operator${bad.size > 1 ? 's' : ''} at opset ${opset}: ${list.join('; ')}`);
  }
  const consts = new Map<string, Const>();
  const types = new Map<string, number>();
  // Every initializer's size is claimed before the first one is read (external data included).
  const budget = limits.budget ?? new Budget(limits.maxBytes, fail);
  for (const t of g.initializer ?? []) {
    const what = `initializer${t.name ? ` '${t.name}'` : ''}`;
    const dims = (t.dims ?? []).map((d) => int(d, `${what} dims`));
    checkDims(dims, what);
    budget.take(what, dims, 8);
  }
  for (const t of g.initializer ?? []) {
    if (!t.name) fail('an initializer has no name');
    consts.set(t.name!, readTensor(t, 'initializer', { external, allowNonFinite: limits.allowNonFinite }));
    types.set(t.name!, t.data_type ?? 0);
  }
  const inputs: Plan['inputs'] = [];
  const given = limits.inputShape;
  const graphInputs = (g.input ?? []).filter((vi) => !vi.name || !consts.has(vi.name));
  if (given && graphInputs.length !== 1)
    fail(`inputShape is for a model with one input; this one has ${graphInputs.length}`);
  for (const vi of g.input ?? []) {
    if (!vi.name || consts.has(vi.name)) continue;
    const tt = vi.type?.tensor_type;
    if (!tt) fail(`input '${vi.name}' is not a tensor`);
    if (tt!.elem_type && tt!.elem_type !== 1) {
      fail(
        `input '${vi.name}' has element type ${DTYPE_NAMES[tt!.elem_type] ?? tt!.elem_type}; the importer takes float32 inputs`,
      );
    }
    const dims = tt!.shape?.dim ?? [];
    if (dims.length < 2)
      fail(`input '${vi.name}' must have a batch axis and at least one more (got rank ${dims.length})`);
    if (given && given.length !== dims.length - 1)
      fail(
        `inputShape [${given}] has ${given.length} sizes; input '${vi.name}' has ${dims.length - 1} besides the batch`,
      );
    const shape = dims.map((d, i) => {
      if (i === 0) return BATCH;
      // protobufjs puts field defaults on the prototype: a set dim_value is an own property.
      const fixed = Object.hasOwn(d, 'dim_value');
      if (given && fixed && int(d.dim_value, `input '${vi.name}' dims`) !== given[i - 1])
        fail(`inputShape [${given}] gives axis ${i} size ${given[i - 1]}, but the file fixes it at ${d.dim_value}`);
      if (!fixed && given) return given[i - 1]!;
      if (!fixed) {
        return fail(
          `input '${vi.name}' has an unknown size on axis ${i} (${d.dim_param || 'no value'}); export it with a fixed ${i === 1 ? 'channel count' : 'image size'} or give the inputShape option`,
        );
      }
      const v = int(d.dim_value, `input '${vi.name}' dims`);
      if (!Number.isInteger(v) || v < 1 || v > 2 ** 20)
        fail(`input '${vi.name}' has an invalid size ${v} on axis ${i}`);
      return v;
    });
    checkDims(shape.slice(1), `input '${vi.name}'`);
    const b0 = Object.hasOwn(dims[0], 'dim_value') ? int(dims[0].dim_value, 'batch') : null;
    inputs.push({ name: vi.name, shape, batch: b0 });
  }
  if (inputs.length === 0) fail('the graph has no input other than initializers');
  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  if (outputs.length === 0 || outputs.some((o) => !o)) fail('the graph declares no (named) outputs');
  const known = new Set([...consts.keys(), ...inputs.map((i) => i.name)]);
  const order = topoSort(nodes, known);
  const produced = new Set(known);
  for (const n of order) for (const o of n.output ?? []) produced.add(o);
  for (const o of outputs) if (!produced.has(o)) fail(`graph output '${o}' is not produced by any node`);
  return { opset, graphName: g.name ?? '', nodes: order, consts, types, inputs, outputs };
}

function buildModel(
  plan: Plan,
  layout: 'nchw' | 'nhwc',
  name: string | undefined,
  limits: Limits,
  budget: Budget,
): Model {
  const staticBatch = plan.inputs.every((i) => i.batch !== null && i.batch > 0) ? plan.inputs[0].batch : null;
  const b = new Builder(plan.opset, staticBatch, budget, limits.allowNonFinite);
  const env = new Map<string, Val>();
  for (const [k, c] of plan.consts) env.set(k, { kind: 'const', c });
  const inputs: SymbolicTensor[] = [];
  for (const inp of plan.inputs) {
    const s = inp.shape;
    const nhwcIn = layout === 'nhwc' && s.length === 4;
    const t = symbolicInput({ shape: nhwcIn ? [s[2], s[3], s[1]] : s.slice(1), name: b.uniqueName(inp.name) });
    inputs.push(t);
    env.set(inp.name, b.sym(t, s, nhwcIn ? 'nhwc' : 'native'));
  }
  const nodes = fusePatterns(dropBatchStatGraphs(plan.nodes, plan.outputs), plan.consts, plan.outputs);
  for (const n of prepareQuant(nodes, plan.consts, plan.types, plan.outputs)) {
    try {
      convertNode(b, n, env);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      // Layer checks name the layer; say which node it came from.
      if (msg.startsWith('loadONNX:')) throw e;
      fail(msg.startsWith("node '") ? msg : `node '${n.name || n.op_type}' (${n.op_type}): ${msg}`);
    }
  }
  const outputs = plan.outputs.map((o) => {
    const v = env.get(o);
    if (!v) return fail(`graph output '${o}' is an output its node does not compute (such as a Dropout mask)`);
    if (v.kind === 'const')
      return fail(`graph output '${o}' is a constant; the importer needs outputs computed from the inputs`);
    return b.native(v, o);
  });
  const m = functionalModel({ inputs, outputs, name: name ?? (plan.graphName || 'onnx_model') });
  m.build();
  for (const [layer, arrays] of b.weights) {
    const dst = [...layer.weights, ...layer.stateWeights];
    const names = b.sources.get(layer);
    if (dst.length !== arrays.length)
      fail(`internal: ${layer.name} has ${dst.length} weight arrays, import made ${arrays.length}`);
    dst.forEach((w, i) => {
      if (w.value.size !== arrays[i].length)
        fail(`internal: ${w.name} has ${w.value.size} values, import made ${arrays[i].length}`);
      w.value.view().set(arrays[i]);
      if (names) w.sourceName = names[i];
    });
  }
  return m;
}

/** What converters see of node `n`: its inputs from `env`, its attributes, and checked accessors. */
function nodeContext(b: Builder, n: NodeMsg, env: Map<string, Val>): NodeContext {
  const op = n.op_type!;
  const base = n.name || `${op}_${n.output?.[0] ?? ''}`;
  const what = `node '${base}' (${op})`;
  const ins = (n.input ?? []).map((x) => {
    if (!x) return undefined;
    const v = env.get(x);
    if (!v) return fail(`${what} reads '${x}', an output its node does not compute (such as a Dropout mask)`);
    return v;
  });
  const attrs = new Attrs((n.attribute ?? []) as AttrMsg[], what);
  const nodeFail = (msg: string): never => fail(`${what}: ${msg}`);
  const claim = (dims: readonly number[]) => b.budget.take(`${what}: the result`, dims, 8);
  const constIn = (i: number, label: string): Const => {
    const v = ins[i];
    if (!v) return nodeFail(`input ${i} (${label}) is missing`);
    if (v.kind !== 'const')
      return nodeFail(`${label} must be a constant (an initializer or folded), not computed from the model input`);
    return v.c;
  };
  return {
    b,
    op,
    base,
    what,
    attrs,
    ins,
    outs: n.output ?? [],
    sym(i: number): Sym {
      const v = ins[i];
      if (!v) return nodeFail(`input ${i} is missing`);
      if (v.kind !== 'sym') return nodeFail(`input ${i} is a constant; ${op} of constants is not folded`);
      return v;
    },
    constIn,
    optConst: (i, label) => (ins[i] ? constIn(i, label) : null),
    need(i: number): Const {
      const v = ins[i];
      return v?.kind === 'const' ? v.c : nodeFail(`input ${i} is missing`);
    },
    tensorAttr(name: string): Const | null {
      const t = attrs.tensor(name);
      return t ? readTensor(t as TensorMsg, `${what} ${name}`, { claim, allowNonFinite: b.allowsNonFinite }) : null;
    },
    claim,
    floatConst(i: number, label: string): Const {
      const c = constIn(i, label);
      if (c.int) nodeFail(`${label} must be of a float type, not an integer one (as onnxruntime requires)`);
      return c;
    },
    fail: nodeFail,
  };
}

/** Converts (or folds) one node and binds its outputs in `env`. */
function convertNode(b: Builder, node: NodeMsg, env: Map<string, Val>): void {
  const n = legacyNode(b.opset, node, env, `node '${node.name || node.op_type}' (${node.op_type})`);
  const ctx = nodeContext(b, n, env);
  b.constInputs = (n.input ?? []).map((x, i) => (ctx.ins[i]?.kind === 'const' ? x : ''));
  // planImport refused every op type without a row.
  const row = OPS.get(ctx.op)!;
  const allConst = ctx.ins.length > 0 && ctx.ins.every((v) => !v || v.kind === 'const');
  let out: Val | Array<Val | undefined>;
  if (row.anyInputs || !allConst) out = row.convert(ctx);
  else if (row.fold) out = { kind: 'const', c: row.fold(ctx) };
  else out = ctx.fail(`folding ${ctx.op} over constants is not supported`);
  const vals = Array.isArray(out) ? out : [out];
  vals.forEach((v, i) => {
    if (v && ctx.outs[i]) env.set(ctx.outs[i], v);
  });
}
