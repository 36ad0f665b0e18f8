// Operator versions older than the ones the converters implement, read as their current form: a node
// of an old opset is rewritten (inputs that were attributes become constants, legacy broadcasting
// becomes numpy broadcasting of a reshaped constant) or refused, naming the attribute and its value,
// where the old version computes something else.
import type { Const } from '../fold.js';
import { type AttrMsg, int } from './attrs.js';
import { type Val, fail, shapeText } from './context.js';

/** The fields of a NodeProto the rewrite reads and replaces. */
export interface LegacyNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  attribute?: AttrMsg[];
}

const attrOf = (n: LegacyNode, name: string) => (n.attribute ?? []).find((a) => a.name === name);
const intAttr = (n: LegacyNode, name: string, dflt: number) => {
  const a = attrOf(n, name);
  return a ? int(a.i ?? 0, `attribute ${name}`) : dflt;
};
const without = (n: LegacyNode, ...names: string[]) => (n.attribute ?? []).filter((a) => !names.includes(a.name ?? ''));

/** Binds constant `c` under a new name derived from `base` and returns that name. */
function bind(env: Map<string, Val>, base: string, tag: string, c: Const): string {
  let name = `${base}@${tag}`;
  for (let i = 1; env.has(name); i++) name = `${base}@${tag}${i}`;
  env.set(name, { kind: 'const', c });
  return name;
}

const rankOf = (v: Val | undefined) => (v ? (v.kind === 'sym' ? v.shape.length : v.c.dims.length) : 0);
const dimsOf = (v: Val) => (v.kind === 'sym' ? shapeText(v.shape) : `${v.c.dims}`);

/** Add/Sub/Mul/Div before opset 7: with broadcast 1 and axis, B is aligned with A from that axis on. */
function legacyBroadcast(n: LegacyNode, env: Map<string, Val>, what: string): LegacyNode {
  if (intAttr(n, 'broadcast', 0) !== 1 || !attrOf(n, 'axis')) return { ...n, attribute: without(n, 'broadcast') };
  const [a, bName] = n.input ?? [];
  const A = env.get(a),
    B = env.get(bName);
  if (!A || !B) return n;
  const raw = intAttr(n, 'axis', 0);
  const axis = raw < 0 ? raw + rankOf(A) : raw;
  const trailing = rankOf(A) - axis - rankOf(B);
  if (axis < 0 || trailing < 0)
    fail(`${what}: attribute axis ${raw} does not align B [${dimsOf(B)}] inside A [${dimsOf(A)}]`);
  const attribute = without(n, 'broadcast', 'axis');
  if (trailing === 0) return { ...n, attribute };
  if (B.kind !== 'const')
    fail(`${what}: attribute axis ${raw} aligns the model value B [${dimsOf(B)}] inside A (legacy broadcasting)`);
  const c = (B as { c: Const }).c;
  const name = bind(env, bName, 'axis', { ...c, dims: [...c.dims, ...new Array(trailing).fill(1)] });
  return { ...n, input: [a, name, ...(n.input ?? []).slice(2)], attribute };
}

/** PRelu before opset 7: a slope of C values is per channel (axis 1), not numpy-aligned. */
function legacyPRelu(n: LegacyNode, env: Map<string, Val>): LegacyNode {
  const [x, s] = n.input ?? [];
  const X = env.get(x),
    S = env.get(s);
  if (!X || X.kind !== 'sym' || !S || S.kind !== 'const') return n;
  const r = X.shape.length;
  if (S.c.dims.length !== 1 || S.c.dims[0] === 1 || r < 3) return n;
  const name = bind(env, s, 'channels', { ...S.c, dims: [S.c.dims[0], ...new Array(r - 2).fill(1)] });
  return { ...n, input: [x, name] };
}

/** The node as its current version reads it (opset < 9 only changes anything). */
export function legacyNode(opset: number, n: LegacyNode, env: Map<string, Val>, what: string): LegacyNode {
  const op = n.op_type ?? '';
  const refuse = (msg: string): never => fail(`${what}: ${msg} (opset ${opset})`);
  if (opset >= 9) return n;
  if (opset < 7 && ['Add', 'Sub', 'Mul', 'Div'].includes(op)) return legacyBroadcast(n, env, what);
  if (opset < 7 && op === 'PRelu') return legacyPRelu(n, env);
  if (opset < 7 && op === 'Dropout' && intAttr(n, 'is_test', 0) !== 1)
    refuse(`attribute is_test ${intAttr(n, 'is_test', 0)} asks for training-mode dropout`);
  if (opset < 4 && op === 'Concat' && !attrOf(n, 'axis'))
    return { ...n, attribute: [...(n.attribute ?? []), { name: 'axis', type: 2, i: 1 }] };
  if (opset < 5 && op === 'Reshape') {
    const shape = attrOf(n, 'shape');
    if (!shape) refuse('the shape attribute is missing');
    const v = (shape!.ints ?? []).map((d) => int(d, 'attribute shape'));
    const name = bind(env, n.output?.[0] ?? 'reshape', 'shape', {
      dims: [v.length],
      data: Float64Array.from(v),
      int: true,
    });
    return { ...n, input: [(n.input ?? [])[0], name], attribute: without(n, 'shape') };
  }
  if (opset < 2 && op === 'Pad') {
    const p = attrOf(n, 'paddings');
    return p ? { ...n, attribute: [...without(n, 'paddings'), { ...p, name: 'pads' }] } : n;
  }
  if (opset < 7 && op === 'Upsample') {
    const f = (k: string) => attrOf(n, k)?.f ?? 1;
    const scales: AttrMsg = { name: 'scales', type: 6, floats: [1, 1, f('height_scale'), f('width_scale')] };
    return { ...n, attribute: [...without(n, 'height_scale', 'width_scale'), scales] };
  }
  if (opset < 2 && op === 'Split' && (n.input ?? []).length > 1)
    refuse('the split sizes as an input are not supported');
  if (opset < 6 && op === 'Cast') refuse('attribute to as a type name is not supported');
  return n;
}
