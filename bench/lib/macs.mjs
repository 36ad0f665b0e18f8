// Multiply-adds of one image through a model, counted from the shapes each convolution and dense layer
// sees in one batch-1 forward (predict's plan off, so every layer runs as itself): what "GFLOP/s" and
// "fraction of the wasm probe" of a whole-model row are measured against (2 flops a multiply-add, the
// direct algorithm's count, also for layers that run on Winograd).
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const PRODUCT = (s) => s.reduce((a, b) => a * b, 1);

/** Multiply-adds per output value of a layer from its input shape, or 0 for layers without weights. */
function perOutput(layer, inShape) {
  const c = layer.constructor.className ?? layer.className;
  const cfg = layer.cfg ?? {};
  const ks = Array.isArray(cfg.kernelSize) ? cfg.kernelSize : [cfg.kernelSize, cfg.kernelSize];
  const cin = inShape[inShape.length - 1];
  switch (c) {
    case 'Conv2D':
    case 'Conv2DTranspose':
      return ks[0] * ks[1] * (cin / (cfg.groups ?? 1));
    case 'DepthwiseConv2D':
      return ks[0] * ks[1];
    case 'Dense':
      return cin;
    default:
      return 0;
  }
}

/**
 * Multiply-adds of one image of shape `input` (batch excluded) through `model`, by layer class.
 * @returns {Promise<{ total: number, byClass: Record<string, number> }>}
 */
export async function countMacs(root, model, input) {
  const plan = await import(pathToFileURL(join(root, 'dist/nn/inference.js')).href);
  /** @type {Record<string, number>} */
  const byClass = {};
  const saved = [];
  for (const l of model.layers) {
    const orig = l.callFor;
    saved.push([l, orig]);
    l.callFor = function (ins, args) {
      const y = orig.call(this, ins, args);
      const x = Array.isArray(ins) ? ins[0] : ins;
      const n = perOutput(l, x.shape.slice(1));
      if (n > 0) {
        const c = l.constructor.className;
        byClass[c] = (byClass[c] ?? 0) + n * PRODUCT(y.shape.slice(1));
      }
      return y;
    };
  }
  plan.setInferencePlanEnabled(false);
  try {
    const x = new Float32Array(PRODUCT(input));
    const y = model.predict({ data: x, shape: [1, ...input] }, { batchSize: 1 });
    y.dispose();
  } finally {
    plan.setInferencePlanEnabled(true);
    for (const [l, orig] of saved) l.callFor = orig;
  }
  return { total: Object.values(byClass).reduce((a, b) => a + b, 0), byClass };
}
