// ONNX export of batch normalization, the activations and global pooling checked against onnxruntime-node: BatchNormalization (inference
// form, NHWC and [N, features], with and without scale/center), the global pools, LeakyReLU and the
// sigmoid / tanh / elu / gelu activations must give simdnet's predict() (max |difference| <= 1e-4).
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { makeRng } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});

const L = sn.layers;

async function compare(model: sn.Sequential, shape: number[], seed: number): Promise<string[]> {
  const x = Float32Array.from(
    makeRng(seed).fill(
      shape.reduce((a, b) => a * b, 1),
      -2,
      2,
    ),
  );
  const bytes = toONNX(model);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = await s.run({ input: new ort.Tensor('float32', x, shape) });
  const got = out.output.data as Float32Array;
  const p = model.predict({ data: x, shape });
  const want = p.dataSync();
  p.dispose();
  expect([...out.output.dims]).toEqual([shape[0], ...model.outputShape]);
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
  expect(diff).toBeLessThanOrEqual(1e-4);
  const m = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(bytes)) as {
    graph: { node: Array<{ op_type: string }> };
  };
  return m.graph.node.map((n) => n.op_type);
}

// Trains a few steps so that gamma, beta and the moving statistics are not at their initial values.
async function trained(model: sn.Sequential, shape: number[]): Promise<sn.Sequential> {
  model.compile({ optimizer: new sn.Adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
  const n = 24;
  const x = {
    data: Float32Array.from(makeRng(5).fill(n * shape.reduce((a, b) => a * b, 1), -1, 3)),
    shape: [n, ...shape],
  };
  const y = { data: Float32Array.from({ length: n }, (_, i) => i % model.outputShape[0]), shape: [n] };
  await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
  return model;
}

describe('ONNX export of batch normalization, activations and global pooling: onnxruntime gives predict()', () => {
  it('Conv2D(elu) → BatchNormalization → LeakyReLU → Conv2D(gelu) → GlobalAveragePooling2D → Dense(tanh) → BatchNormalization → Dense(softmax)', async () => {
    const model = await trained(
      sn.sequential({
        seed: 1,
        layers: [
          L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'elu', inputShape: [6, 6, 2] }),
          L.batchNormalization({ momentum: 0.5 }),
          L.leakyReLU({ alpha: 0.2 }),
          L.conv2d({ filters: 5, kernelSize: 3, activation: 'gelu' }),
          L.globalAveragePooling2D(),
          L.dense({ units: 6, activation: 'tanh' }),
          L.batchNormalization({ momentum: 0.5, center: false }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
      [6, 6, 2],
    );
    const ops = await compare(model, [5, 6, 6, 2], 11);
    for (const op of ['BatchNormalization', 'LeakyRelu', 'Elu', 'Erf', 'GlobalAveragePool', 'Tanh'])
      expect(ops).toContain(op);
    model.dispose();
  });

  it('Conv2D(sigmoid) → GlobalMaxPooling2D → BatchNormalization(scale: false) → Activation(gelu) → Dense(softmax)', async () => {
    const model = await trained(
      sn.sequential({
        seed: 2,
        layers: [
          L.conv2d({ filters: 3, kernelSize: 2, activation: 'sigmoid', inputShape: [5, 4, 3] }),
          L.globalMaxPooling2D(),
          L.batchNormalization({ scale: false, momentum: 0.5 }),
          L.activation({ activation: 'gelu' }),
          L.dense({ units: 4, activation: 'softmax' }),
        ],
      }),
      [5, 4, 3],
    );
    const ops = await compare(model, [3, 5, 4, 3], 12);
    for (const op of ['Sigmoid', 'GlobalMaxPool', 'BatchNormalization', 'Erf']) expect(ops).toContain(op);
    model.dispose();
  });
});
