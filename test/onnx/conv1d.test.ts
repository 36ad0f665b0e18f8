// ONNX Conv over 1-d signals (input [N, C, L], weights [K, C/group, KW]), imported as a 2-d
// convolution with a height-1 kernel between two Reshapes: plain, strided, padded, dilated,
// auto_pad, grouped and depthwise, and two in a row with a Relu; each against onnxruntime-node.
// 3-d convolutions and malformed 1-d attributes are refused by name.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { type OpNode, diff, int, ints, opGraph, runOrt, str } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

type N = OpNode;

const rng = makeRng(77);
const init = (name: string, dims: number[]) => ({
  name,
  dims,
  data_type: 1,
  float_data: Array.from(
    rng.fill(
      dims.reduce((a, b) => a * b, 1),
      -0.5,
      0.5,
    ),
  ),
});

async function agrees(nodes: N[], shape: number[], inits: Array<Record<string, unknown>>): Promise<number[]> {
  const bytes = opGraph(nodes, shape, inits, 13, 'conv1d');
  const full = [2, ...shape];
  const x = Float32Array.from(
    rng.fill(
      full.reduce((a, b) => a * b, 1),
      -2,
      2,
    ),
  );
  const m = await sn.loadONNX(bytes);
  const t = sn.tensor(x, full);
  const y = m.predict(t) as sn.Tensor;
  const want = await runOrt(bytes, x, full);
  const d = diff(y.dataSync(), want);
  expect(d.scale).toBeGreaterThan(0.1);
  expect(d.max).toBeLessThanOrEqual(1e-5 * d.scale);
  const shapeOut = [...y.shape];
  for (const z of [t, y, m]) z.dispose();
  return shapeOut;
}

describe('1-d Conv vs onnxruntime', () => {
  it('plain with bias; strided and padded; dilated', async () => {
    expect(
      await agrees([{ op: 'Conv', in: ['x', 'w', 'b'] }], [3, 11], [init('w', [4, 3, 3]), init('b', [4])]),
    ).toEqual([2, 4, 9]);
    expect(
      await agrees(
        [{ op: 'Conv', in: ['x', 'w'], attrs: [ints('strides', [2]), ints('pads', [2, 1])] }],
        [3, 12],
        [init('w', [5, 3, 4])],
      ),
    ).toEqual([2, 5, 6]);
    expect(
      await agrees(
        [{ op: 'Conv', in: ['x', 'w'], attrs: [ints('dilations', [2]), ints('kernel_shape', [3])] }],
        [2, 13],
        [init('w', [3, 2, 3])],
      ),
    ).toEqual([2, 3, 9]);
  });

  it('auto_pad SAME_UPPER with stride 2, grouped, depthwise with a multiplier', async () => {
    expect(
      await agrees(
        [{ op: 'Conv', in: ['x', 'w'], attrs: [str('auto_pad', 'SAME_UPPER'), ints('strides', [2])] }],
        [3, 9],
        [init('w', [4, 3, 4])],
      ),
    ).toEqual([2, 4, 5]);
    expect(
      await agrees(
        [{ op: 'Conv', in: ['x', 'w', 'b'], attrs: [int('group', 2)] }],
        [6, 10],
        [init('w', [4, 3, 3]), init('b', [4])],
      ),
    ).toEqual([2, 4, 8]);
    expect(
      await agrees(
        [{ op: 'Conv', in: ['x', 'w'], attrs: [int('group', 3), ints('pads', [2, 2])] }],
        [3, 10],
        [init('w', [6, 1, 5])],
      ),
    ).toEqual([2, 6, 10]);
  });

  it('Conv, Relu, Conv: the layouts compose', async () => {
    expect(
      await agrees(
        [
          { op: 'Conv', in: ['x', 'w1', 'b1'], attrs: [ints('pads', [1, 1])] },
          { op: 'Relu', in: ['t0'] },
          { op: 'Conv', in: ['t1', 'w2'], attrs: [ints('strides', [2])] },
        ],
        [3, 16],
        [init('w1', [8, 3, 3]), init('b1', [8]), init('w2', [4, 8, 2])],
      ),
    ).toEqual([2, 4, 8]);
  });

  it('3-d Conv and malformed 1-d attributes are refused by name', async () => {
    const conv3d = opGraph([{ op: 'Conv', in: ['x', 'w'] }], [2, 4, 4, 4], [init('w', [3, 2, 2, 2, 2])]);
    await expect(sn.loadONNX(conv3d)).rejects.toThrow(
      /node 'conv_0' \(Conv\): a 3-d convolution \(input \[N, 2, 4, 4, 4\]\) is not supported; 1-d and 2-d convolutions are/,
    );
    const badPads = opGraph(
      [{ op: 'Conv', in: ['x', 'w'], attrs: [ints('pads', [1, 1, 1, 1])] }],
      [3, 8],
      [init('w', [4, 3, 3])],
    );
    await expect(sn.loadONNX(badPads)).rejects.toThrow(
      /node 'conv_0' \(Conv\): pads must have 2 entries for a 1-d convolution, got \[1,1,1,1\]/,
    );
    const badW = opGraph([{ op: 'Conv', in: ['x', 'w'] }], [3, 8], [init('w', [4, 3, 1, 3])]);
    await expect(sn.loadONNX(badW)).rejects.toThrow(
      /weights of a 1-d convolution must be 3-d \[K, C\/group, KW\], got \[4,3,1,3\]/,
    );
  });
});
