// ONNX export of the convolution layers checked against onnxruntime-node: Conv with dilations and
// group, DepthwiseConv2D as Conv with group = C, SeparableConv2D as two Convs, Conv2DTranspose as
// ConvTranspose (explicit pads, output_padding). ORT's output must match predict() to 1e-4.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { makeRng } from '../helpers/check.js';

const L = sn.layers;
beforeAll(async () => {
  await sn.ready();
});

async function check(layers: sn.Layer[], inShape: number[], n = 3): Promise<void> {
  const m = sn.sequential({ seed: 11, layers });
  m.build();
  // Random weights everywhere (biases too) so no term of the export can hide behind a zero.
  m.setWeights(
    m.getWeights().map((w, i) => {
      const t = sn.tensor(Float32Array.from(makeRng(100 + i).fill(w.size, -0.5, 0.5)), w.shape);
      w.dispose();
      return t;
    }),
  );
  const size = inShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from(makeRng(7).fill(n * size, -1, 1));
  const p = m.predict({ data: x, shape: [n, ...inShape] });
  const want = p.dataSync() as Float32Array;
  const s = await ort.InferenceSession.create(toONNX(m), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = (await s.run({ input: new ort.Tensor('float32', x, [n, ...inShape]) })).output;
  expect(out.dims).toEqual(p.shape);
  const got = out.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThanOrEqual(1e-4);
  expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(1e-2);
  p.dispose();
  m.dispose();
}

describe('ONNX export of the convolution layers (onnxruntime-node, 1e-4)', () => {
  it('Conv2D with dilation and groups', async () => {
    await check(
      [
        L.conv2d({
          filters: 6,
          kernelSize: 3,
          padding: 'same',
          dilationRate: 2,
          groups: 2,
          activation: 'relu',
          inputShape: [9, 8, 4],
        }),
        L.conv2d({ filters: 9, kernelSize: [3, 2], strides: 2, groups: 3, padding: 'same' }),
        L.conv2d({ filters: 3, kernelSize: 1, groups: 3 }),
      ],
      [9, 8, 4],
    );
  });

  it('DepthwiseConv2D (depth multipliers 1 and 2, strides, dilation) and SeparableConv2D', async () => {
    await check(
      [
        L.depthwiseConv2d({
          kernelSize: 3,
          padding: 'same',
          depthMultiplier: 2,
          activation: 'relu',
          inputShape: [10, 9, 5],
        }),
        L.depthwiseConv2d({ kernelSize: 5, strides: 2, padding: 'same' }),
        L.depthwiseConv2d({ kernelSize: 3, dilationRate: 2, padding: 'valid', useBias: false }),
        L.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'tanh' }),
        L.flatten(),
        L.dense({ units: 3, activation: 'softmax' }),
      ],
      [10, 9, 5],
    );
  });

  it('Conv2DTranspose: same/valid, output padding, kernel smaller than the stride, dilation', async () => {
    await check(
      [
        L.conv2dTranspose({
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
          inputShape: [4, 5, 3],
        }),
        L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid' }),
      ],
      [4, 5, 3],
    );
    await check(
      [
        L.conv2dTranspose({
          filters: 2,
          kernelSize: 3,
          strides: [2, 3],
          padding: 'same',
          outputPadding: [1, 2],
          inputShape: [3, 4, 5],
        }),
      ],
      [3, 4, 5],
    );
    await check(
      [L.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 3, padding: 'valid', inputShape: [3, 3, 4] })],
      [3, 3, 4],
    );
    await check(
      [L.conv2dTranspose({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', inputShape: [5, 6, 2] })],
      [5, 6, 2],
    );
  });
});
