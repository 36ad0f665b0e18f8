// The plan's own calls of the layers it changed: the same ops with the same arguments as the layer's
// call, except what the plan made (folded weights, packed filters, explicit padding, a fused relu or
// pooling). The layers' calls know nothing of these.
import type { Tensor } from '../../tensor.js';
import type { Rng } from '../../rng.js';
import { conv2d } from '../../ops/conv2d.js';
import { depthwiseConv2d } from '../../ops/dwconv2d.js';
import { dense } from '../../ops/dense.js';
import { k } from '../../ops/util.js';
import { needsGrad } from '../../autograd.js';
import { type ActivationName, type Layer, applyActivation } from '../layer.js';
import { Conv2D, DepthwiseConv2D } from '../convolutional.js';
import { Dense } from '../layers.js';
import type { PlannedStep } from './step.js';
import { QuantizedLayer, floatOf, int8Behind } from '../../quant/layers.js';
import { qmaxPool2d } from '../../ops/qpool2d.js';

/** Runs one planned step on its inputs (batch axis first); inference mode, no tape. */
export type Run = (layer: Layer, p: PlannedStep, xs: Tensor[], rng: Rng) => Tensor;

// The activation after a convolution or dense op: relu is fused into the op's store, and so is the
// relu or relu6 the plan gave a linear layer; any other runs after it, as the layer's call does.
function activated(
  act: ActivationName,
  fused: 'relu' | 'relu6' | undefined,
  rng: Rng,
  op: (a: 'linear' | 'relu' | 'relu6') => Tensor,
): Tensor {
  if (fused && act === 'linear') return op(fused);
  const y = op(act === 'relu' ? 'relu' : 'linear');
  return act === 'relu' ? y : applyActivation(y, act, { training: false, rng, logits: false });
}

// The layer as the class its rule was written for (a rule's row and its layer cannot disagree).
function asClass<T>(layer: Layer, cls: abstract new (...a: never[]) => T): T {
  if (!(layer instanceof cls)) throw new Error(`inference plan: layer ${layer.name} is not a ${cls.name}`);
  return layer as T;
}

/** Conv2D: folded weights, a Winograd transform or packed filter, a taken-in padding, a fused relu or pooling. */
export const runConv2D: Run = (layer, p, [x], rng) => {
  const l = asClass(layer, Conv2D);
  const c = l.cfg;
  const w = p.weights;
  return activated(c.activation, p.activation, rng, (activation) =>
    conv2d(x!, w ? w[0] : l.weights[0]!.value, {
      strides: c.strides,
      padding: p.padding ?? c.padding,
      dilationRate: p.dilationRate ?? c.dilationRate,
      groups: c.groups,
      bias: w ? w[1] : (l.weights[1]?.value ?? null),
      activation,
      name: l.name,
      skipFiniteCheck: true,
      algorithm: c.algorithm,
      winogradTile: c.winogradTile,
      winogradPacked: p.winogradPacked,
      directPacked: p.directPacked,
      fusedPool: p.pool,
    }),
  );
};

/** DepthwiseConv2D: folded weights, a taken-in padding, a fused relu. */
export const runDepthwiseConv2D: Run = (layer, p, [x], rng) => {
  const l = asClass(layer, DepthwiseConv2D);
  const c = l.cfg;
  const w = p.weights;
  return activated(c.activation, p.activation, rng, (activation) =>
    depthwiseConv2d(x!, w ? w[0] : l.weights[0]!.value, {
      strides: c.strides,
      padding: p.padding ?? c.padding,
      dilationRate: c.dilationRate,
      bias: w ? w[1] : (l.weights[1]?.value ?? null),
      activation,
      name: l.name,
      skipFiniteCheck: true,
    }),
  );
};

/** Dense: folded weights. */
export const runDense: Run = (layer, p, [x], rng) => {
  const l = asClass(layer, Dense);
  const w = p.weights;
  return activated(l.cfg.activation, undefined, rng, (activation) =>
    dense(x!, w ? w[0] : l.weights[0]!.value, {
      bias: w ? w[1] : (l.weights[1]?.value ?? null),
      activation: activation === 'relu' ? 'relu' : 'linear',
      name: l.name,
      skipFiniteCheck: true,
    }),
  );
};

/** A merge whose relu the plan took: the layer's own call, then the relu in place on its new output. */
export const runMergeRelu: Run = (layer, p, xs, rng) => {
  const y = layer.callFor(xs, { training: false, rng, logits: false });
  if (p.activation === 'relu' && !needsGrad(y)) k().relu_forward(y.ptr, y.ptr, y.size);
  return y;
};

/** An int8 layer: a taken-in padding, and its float output left unwritten when only int8 layers read it. */
export const runQuantized: Run = (layer, p, [x], rng) =>
  asClass(layer, QuantizedLayer).callPlanned(x!, p.padding ?? null, !p.int8Out, {
    training: false,
    rng,
    logits: false,
  });

/** A max pooling: of the int8 values behind its input when the plan found them, else the layer's own call. */
export const runMaxPool: Run = (layer, p, xs, rng) => {
  if (!p.int8Pool) return layer.callFor(xs, { training: false, rng, logits: false });
  const q = int8Behind(xs[0]!);
  if (!q) throw new Error(`inference plan: internal error: no int8 values behind the input of ${layer.name}`);
  return floatOf(qmaxPool2d(q, { ...p.int8Pool, name: layer.name }), !p.int8Out);
};
