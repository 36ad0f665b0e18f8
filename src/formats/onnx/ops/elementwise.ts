// Add, Sub, Mul, Div. Two model values of the same rank become a merge layer (Add, Subtract,
// Multiply); a model value and a constant become an Affine layer whose scale/offset are the constant
// laid out as the value is stored. All-constant nodes are folded.
import type { Layer } from '../../../nn/layer.js';
import { Add as AddLayer, Multiply, Subtract } from '../../../nn/merge.js';
import { Affine } from '../../../nn/activations.js';
import { type Const, binaryConst, broadcastDims } from '../fold.js';
import { BATCH, type Cst, type Sym, type Val, constFor, f32, shapeText } from './context.js';
import type { NodeContext } from './node.js';

type BinaryOp = 'Add' | 'Sub' | 'Mul' | 'Div';

const MERGE: Record<Exclude<BinaryOp, 'Div'>, new () => Layer> = { Add: AddLayer, Sub: Subtract, Mul: Multiply };

function twoValues(n: NodeContext, op: BinaryOp, x: Sym, y: Sym): Sym {
  const { b, base } = n;
  if (op === 'Div') n.fail('dividing two model values is not supported');
  if (x.shape.length !== y.shape.length)
    n.fail(`inputs of different ranks [${shapeText(x.shape)}] and [${shapeText(y.shape)}] are not supported`);
  const shape = broadcastDims(x.shape.slice(1), y.shape.slice(1));
  if (!shape) return n.fail(`shapes [${shapeText(x.shape)}] and [${shapeText(y.shape)}] do not broadcast`);
  const r4 = x.shape.length === 4;
  const xs = r4 ? b.nhwc(x, base) : b.native(x, base),
    ys = r4 ? b.nhwc(y, base) : b.native(y, base);
  const L = MERGE[op as Exclude<BinaryOp, 'Div'>];
  const t = b.apply(new L(), base, [xs, ys]);
  return b.sym(t, [BATCH, ...shape], r4 ? 'nhwc' : 'native');
}

/** v op c (or c op v when `constFirst`) as scale * v + offset. */
function withConst(n: NodeContext, op: BinaryOp, v: Sym, c: Const, constFirst: boolean): Sym {
  const { b, base } = n;
  const src = b.plain(v, base);
  const k = constFor(c, src, n.what);
  let scale: Float32Array | null = null,
    offset: Float32Array | null = null;
  if (op === 'Add') offset = k.data;
  else if (op === 'Sub') {
    if (constFirst) {
      scale = f32([-1]);
      offset = k.data;
    } else offset = k.data.map((q) => -q);
  } else if (op === 'Mul') scale = k.data;
  else {
    if (constFirst) n.fail('a constant divided by a model value is not supported');
    if (k.data.some((q) => q === 0)) n.fail('division by a constant that holds 0');
    scale = k.data.map((q) => 1 / q);
  }
  const layer = new Affine({
    scaleShape: scale ? (scale.length === 1 ? [1] : k.shape) : null,
    offsetShape: offset ? (offset.length === 1 ? [1] : k.shape) : null,
  });
  const ws = [scale, offset].filter((q): q is Float32Array => q !== null);
  const t = b.apply(layer, base, src.t, ws);
  return b.sym(t, v.shape, src.layout);
}

function binary(n: NodeContext, op: BinaryOp): Sym {
  const [x, y] = n.ins as Array<Val | undefined>;
  if (!x || !y) return n.fail('inputs are missing');
  if (x.kind === 'sym' && y.kind === 'sym') return twoValues(n, op, x, y);
  return x.kind === 'sym' ? withConst(n, op, x, (y as Cst).c, false) : withConst(n, op, y as Sym, x.c, true);
}

const foldBinary = (op: BinaryOp) => (n: NodeContext) => binaryConst(op, n.need(0), n.need(1), n.what, n.claim);

export const Add = (n: NodeContext) => binary(n, 'Add');
export const Sub = (n: NodeContext) => binary(n, 'Sub');
export const Mul = (n: NodeContext) => binary(n, 'Mul');
export const Div = (n: NodeContext) => binary(n, 'Div');
export const foldAdd = foldBinary('Add');
export const foldSub = foldBinary('Sub');
export const foldMul = foldBinary('Mul');
export const foldDiv = foldBinary('Div');
