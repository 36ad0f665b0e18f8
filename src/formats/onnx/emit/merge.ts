// Merges (Add/Sub/Mul/Max/Min, Mean for average, Concat) run in NCHW when all their inputs are NCHW
// images, else in NHWC; ONNX's numpy broadcasting is Keras' (aligned on the right, batch axes equal).
import { type Emitter, type GraphWriter, type LayerStep, int, type Emitters } from './graph.js';

/** ONNX ops that take any number of inputs (the others are chained pairwise). */
const VARIADIC = new Set(['Mean', 'Max', 'Min']);

/** The inputs in one layout, of the highest rank among them; leaves the result's layout and rank set. */
function mergeInputs(
  g: GraphWriter,
  { layer, name, inputs }: LayerStep,
): { names: string[]; nchw: boolean; r: number } {
  const r = Math.max(...inputs.map((v) => v.rank));
  // NCHW when the images already are; a (N, C) input then broadcasts as (N, C, 1, 1).
  const nchw = r === 4 && inputs.every((v) => (v.rank === 4 && v.primary === 'nchw') || v.rank === 2);
  const names = inputs.map((v) => {
    g.use(v);
    if (nchw && v.rank === 4) g.toNCHW(name, layer.className);
    else g.toNHWC(name);
    if (v.rank < r) {
      // Keras inserts the missing axes after the batch axis: (N, C) -> (N, 1, 1, C).
      const axes = nchw ? [2, 3] : Array.from({ length: r - v.rank }, (_, i) => i + 1);
      g.node('Unsqueeze', name, [g.cur, g.initI64(`${name}/unsqueeze_axes`, axes)]);
    }
    return g.cur;
  });
  return { names, nchw, r };
}

/** The merged value is a new one, in the inputs' common layout and rank. */
function merged(g: GraphWriter, nchw: boolean, r: number): void {
  g.curVal = null;
  g.layout = nchw ? 'nchw' : 'nhwc';
  g.rank = r;
}

/** An elementwise merge written as the ONNX op `op`. */
export const elementwise =
  (op: string): Emitter =>
  (g, st) => {
    const { names, nchw, r } = mergeInputs(g, st);
    if (VARIADIC.has(op)) g.node(op, st.name, names);
    else {
      let acc = names[0];
      for (const n of names.slice(1)) acc = g.node(op, st.name, [acc, n]);
    }
    merged(g, nchw, r);
  };

export const concatenate: Emitter = (g, st) => {
  const { names, nchw, r } = mergeInputs(g, st);
  const a = st.cfg.axis as number;
  const ax = a < 0 ? a + r : a;
  g.node('Concat', st.name, names, [int('axis', nchw ? [0, 2, 3, 1][ax] : ax)]);
  merged(g, nchw, r);
};

/** This family's rows of the exporter's table. */
export const mergeEmitters = {
  Add: elementwise('Add'),
  Subtract: elementwise('Sub'),
  Multiply: elementwise('Mul'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Concatenate: concatenate,
} satisfies Emitters;
