// Activation layers. ReLU → Relu / Clip, or Where(x > t, Min(x, max), slope·(x - t)) in general;
// softmaxes take their axis in the current layout. PRelu, Clip, ScaledElu, HardSigmoid, LogSoftmax, GELU
// and Erf are the layers of nn/activations.ts (made by the importer); their parameters are in simdnet's
// layout. The exporter writes opset 13, which has no Gelu: GELU is written as its formula.
import { type Emitter, axisOf, float, int, weightData, type Emitters } from './graph.js';

export const relu: Emitter = (g, { name, cfg }) =>
  g.relu(name, cfg.maxValue as number | null, cfg.negativeSlope as number, cfg.threshold as number);

export const leakyRelu: Emitter = (g, { name, cfg }) => {
  g.node('LeakyRelu', name, [g.cur], [float('alpha', cfg.alpha as number)]);
};

/** Softmax and LogSoftmax over one axis. */
const softmaxOp =
  (op: string): Emitter =>
  (g, { name, cfg }) => {
    const a = axisOf(cfg, g.rank);
    g.node(op, name, [g.cur], [int('axis', g.rank === 4 ? g.imageAxis(a) : a)]);
  };
export const softmax = softmaxOp('Softmax');
export const logSoftmax = softmaxOp('LogSoftmax');

export const prelu: Emitter = (g, { layer, name }) => {
  g.toNHWC(name);
  const a = weightData(layer, 'alpha');
  if (!a) throw new Error(`toONNX: layer ${name} (PRelu) has no alpha`);
  g.node('PRelu', name, [g.cur, g.init(`${name}/alpha`, a.data, a.shape)]);
};

export const clip: Emitter = (g, { name, cfg }) => {
  const lo = cfg.min as number | null,
    hi = cfg.max as number | null;
  const x = g.cur;
  g.node('Clip', name, [
    x,
    lo === null ? '' : g.scalarInit(`${name}/min`, lo),
    hi === null ? '' : g.scalarInit(`${name}/max`, hi),
  ]);
};

export const scaledElu: Emitter = (g, { name, cfg }) => {
  g.node('Selu', name, [g.cur], [float('alpha', cfg.alpha as number), float('gamma', cfg.scale as number)]);
};

export const hardSigmoid: Emitter = (g, { name, cfg }) => {
  g.node('HardSigmoid', name, [g.cur], [float('alpha', cfg.alpha as number), float('beta', cfg.beta as number)]);
};

/**
 * GELU: the exact one as activation 'gelu' (Div by √2, Erf, Add 1, Mul x, Mul 0.5, the pattern the
 * importer folds back); the tanh one as 0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³))).
 */
export const geluLayer: Emitter = (g, { name, cfg }) => {
  if (!cfg.approximate) {
    g.activation('gelu', name);
    return;
  }
  const x = g.cur;
  const cube = g.node('Mul', name, [g.node('Mul', name, [x, x]), x]);
  const inner = g.node('Add', name, [x, g.node('Mul', name, [cube, g.scalarInit(`${name}/gelu_c`, 0.044715)])]);
  const u = g.node('Mul', name, [inner, g.scalarInit(`${name}/gelu_k`, Math.sqrt(2 / Math.PI))]);
  const t = g.node('Add', name, [g.node('Tanh', name, [u]), g.scalarInit(`${name}/gelu_one`, 1)]);
  g.node('Mul', name, [g.node('Mul', name, [x, t]), g.scalarInit(`${name}/gelu_half`, 0.5)]);
};

export const erf: Emitter = (g, { name }) => {
  g.node('Erf', name, [g.cur]);
};

/** This family's rows of the exporter's table. */
export const activationEmitters = {
  LeakyReLU: leakyRelu,
  ReLU: relu,
  Softmax: softmax,
  PRelu: prelu,
  Clip: clip,
  ScaledElu: scaledElu,
  HardSigmoid: hardSigmoid,
  LogSoftmax: logSoftmax,
  GELU: geluLayer,
  Erf: erf,
} satisfies Emitters;
