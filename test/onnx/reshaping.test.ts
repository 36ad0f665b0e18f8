// ONNX export of ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear), Reshape, Permute, ReLU,
// Softmax (any axis), GlobalAveragePooling2D keepdims and the activations relu6 / swish / silu /
// hardSigmoid / hardSwish, checked against onnxruntime-node: the exported graph must give
// simdnet's predict() within 1e-4, both before and after a convolution (NHWC and NCHW layouts).
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

// model, input shape with batch -> the op types of the exported graph, after checking ORT's output.
async function compare(model: sn.Sequential, shape: number[], seed: number): Promise<string[]> {
  const x = Float32Array.from(
    makeRng(seed).fill(
      shape.reduce((a, b) => a * b, 1),
      -4,
      4,
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
  for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
  expect(diff, 'max |onnxruntime - simdnet|').toBeLessThanOrEqual(1e-4);
  const m = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(bytes)) as {
    graph: { node: Array<{ op_type: string }> };
  };
  return m.graph.node.map((n) => n.op_type);
}

describe('ONNX export of the reshaping and activation layers', () => {
  it('on NHWC values: ZeroPadding2D, Cropping2D, UpSampling2D(bilinear), ReLU, Permute, Softmax(2), Reshape', async () => {
    const model = sn.sequential({
      seed: 1,
      layers: [
        L.zeroPadding2D({
          padding: [
            [1, 2],
            [0, 1],
          ],
          inputShape: [5, 4, 3],
        }),
        L.cropping2D({
          cropping: [
            [0, 1],
            [1, 0],
          ],
        }),
        L.upSampling2D({ size: [2, 3], interpolation: 'bilinear' }),
        L.reLU({ maxValue: 2.5, negativeSlope: 0.3, threshold: 0.2 }),
        L.permute({ dims: [2, 3, 1] }),
        L.softmax({ axis: 2 }),
        L.reshape({ targetShape: [-1, 6] }),
      ],
    });
    const ops = await compare(model, [2, 5, 4, 3], 3);
    for (const op of ['Pad', 'Slice', 'Resize', 'Where', 'Transpose', 'Softmax', 'Reshape']) expect(ops).toContain(op);
    model.dispose();
  });

  it(
    'on NCHW values after a convolution: Conv2D(hardSwish), ZeroPadding2D, UpSampling2D(nearest), Cropping2D, ReLU(6), ' +
      'Conv2D(swish), Softmax(axis 1), GlobalAveragePooling2D(keepdims)',
    async () => {
      const model = sn.sequential({
        seed: 2,
        layers: [
          L.conv2d({ filters: 4, kernelSize: 3, activation: 'hardSwish', inputShape: [7, 6, 2] }),
          L.zeroPadding2D({ padding: 1 }),
          L.upSampling2D({ size: 2 }),
          L.cropping2D({ cropping: [2, 1] }),
          L.reLU({ maxValue: 6 }),
          L.conv2d({ filters: 3, kernelSize: 3, strides: 2, activation: 'swish' }),
          L.softmax({ axis: 1 }),
          L.globalAveragePooling2D({ keepdims: true }),
        ],
      });
      const ops = await compare(model, [3, 7, 6, 2], 4);
      for (const op of [
        'Conv',
        'HardSigmoid',
        'Pad',
        'Resize',
        'Slice',
        'Clip',
        'Sigmoid',
        'Softmax',
        'GlobalAveragePool',
      ]) {
        expect(ops).toContain(op);
      }
      model.dispose();
    },
  );

  it('activations relu6, silu, hardSigmoid, ReLU(negativeSlope) and a final Softmax layer', async () => {
    const model = sn.sequential({
      seed: 3,
      layers: [
        L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu6', inputShape: [6, 6, 1] }),
        L.reLU({ negativeSlope: 0.1 }),
        L.flatten(),
        L.dense({ units: 8, activation: 'silu' }),
        L.dense({ units: 6, activation: 'hardSigmoid' }),
        L.dense({ units: 3 }),
        L.softmax(),
      ],
    });
    const ops = await compare(model, [4, 6, 6, 1], 5);
    for (const op of ['Clip', 'HardSigmoid', 'Sigmoid', 'Softmax']) expect(ops).toContain(op);
    model.dispose();
  });
});
