// Mul(x, Sigmoid(x)) and Mul(x, HardSigmoid(x)) with torch's constants imported as one swish / hard-swish
// layer (src/formats/onnx/ops/fuse-swish.ts), checked against onnxruntime-node on the same graphs; and the
// pairs that must stay two layers (the sigmoid read elsewhere, another HardSigmoid, Mul by another value).
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { diff, float, type OpNode, opGraph, runOrt } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

const SHAPE = [4, 6, 5];
const x = Float32Array.from(makeRng(12).fill(2 * 4 * 6 * 5, -8, 8));
const hs = [float('alpha', 1 / 6), float('beta', 0.5)];

async function check(nodes: OpNode[], opset: number, want: { layers: string[] }) {
  const bytes = opGraph(nodes, SHAPE, [], opset);
  const m = await sn.loadONNX(bytes);
  try {
    const kinds = m.layers
      .filter((l) => l.className !== 'InputLayer' && l.className !== 'Permute') // Permute: layout plumbing
      .map((l) => `${l.className}${(l as { act?: string }).act ? `:${(l as { act?: string }).act}` : ''}`);
    expect(kinds).toEqual(want.layers);
    const shape = [2, ...SHAPE];
    const y = m.predict({ data: x, shape });
    const got = y.dataSync();
    y.dispose();
    const ref = await runOrt(bytes, x, shape);
    const d = diff(got, ref);
    // one rounding of x·sigmoid(x) against onnxruntime's two (sigmoid, then the product), and its own sigmoid
    expect(d.max).toBeLessThanOrEqual(4 * 2 ** -24 * d.scale);
  } finally {
    m.dispose();
  }
}

describe('swish and hard swish written as two nodes become one layer', () => {
  for (const opset of [11, 13, 17]) {
    it(`Mul(x, Sigmoid(x)) and Mul(Sigmoid(x), x), opset ${opset}`, async () => {
      await check(
        [
          { op: 'Sigmoid', in: ['x'] },
          { op: 'Mul', in: ['x', 't0'] },
          { op: 'Sigmoid', in: ['t1'] },
          { op: 'Mul', in: ['t2', 't1'] },
        ],
        opset,
        { layers: ['Activation:swish', 'Activation:swish'] },
      );
    });
  }
  it('Mul(x, HardSigmoid(x)) with alpha 1/6 and beta 1/2 (torch Hardswish before opset 14), opset 13', async () => {
    await check(
      [
        { op: 'HardSigmoid', in: ['x'], attrs: hs },
        { op: 'Mul', in: ['t0', 'x'] },
      ],
      13,
      { layers: ['Activation:hardSwish'] },
    );
  });
  it('left as two layers: a sigmoid also read elsewhere, a HardSigmoid of other constants, a Mul by another value', async () => {
    await check(
      [
        { op: 'Sigmoid', in: ['x'] },
        { op: 'Mul', in: ['x', 't0'] },
        { op: 'Add', in: ['t1', 't0'] },
        { op: 'HardSigmoid', in: ['t2'], attrs: [float('alpha', 0.2)] },
        { op: 'Mul', in: ['t3', 't2'] },
        { op: 'Relu', in: ['t4'] },
        { op: 'Sigmoid', in: ['t5'] },
        { op: 'Mul', in: ['t6', 't4'] },
      ],
      13,
      {
        layers: [
          'Activation:sigmoid',
          'Multiply',
          'Add',
          'HardSigmoid',
          'Multiply',
          'Activation:relu',
          'Activation:sigmoid',
          'Multiply',
        ],
      },
    );
  });
  it('a file naming a Swish node itself is refused: it is no ONNX operator', async () => {
    const bytes = opGraph([{ op: 'Swish', in: ['x'] }], SHAPE, [], 13);
    await expect(sn.loadONNX(bytes)).rejects.toThrow(/Swish is not an operator of the default ONNX domain/);
  });
});
