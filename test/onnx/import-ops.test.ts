// Operator forms the PyTorch fixtures do not reach, written directly as small ONNX graphs and checked
// against onnxruntime-node on random inputs: auto_pad, count_include_pad / ceil_mode attributes,
// Gemm's alpha/beta/transB, opset-dependent inputs (Split num_outputs, Squeeze axes, Resize sizes),
// constants on either side of Sub/Div, Concat along H, generic Transpose, negative Pad, and more.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { type OpNode, diff, float, int, ints, opGraph, runOrt, str } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

type N = OpNode;

const rng = makeRng(5);
const fInit = (name: string, dims: number[], scale = 0.5) => ({
  name,
  dims,
  data_type: 1,
  float_data: Array.from(
    rng.fill(
      dims.reduce((a, b) => a * b, 1),
      -scale,
      scale,
    ),
  ),
});
const iInit = (name: string, v: number[]) => ({ name, dims: [v.length], data_type: 7, int64_data: v });

async function agrees(
  nodes: N[],
  opts: { shape?: number[]; inits?: Array<Record<string, unknown>>; opset?: number } = {},
) {
  const shape = opts.shape ?? [3, 7, 6];
  const bytes = opGraph(nodes, shape, opts.inits ?? [], opts.opset ?? 13);
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
  const got = y.dataSync();
  const want = await runOrt(bytes, x, full);
  const d = diff(got, want);
  expect(d.scale).toBeGreaterThan(0);
  expect(d.max).toBeLessThanOrEqual(1e-4 * d.scale);
  t.dispose();
  y.dispose();
  m.dispose();
}

describe('operator forms vs onnxruntime', () => {
  it('Conv with auto_pad SAME_UPPER / SAME_LOWER / VALID and stride 2', async () => {
    for (const auto of ['SAME_UPPER', 'SAME_LOWER', 'VALID']) {
      await agrees([{ op: 'Conv', in: ['x', 'w', 'b'], attrs: [str('auto_pad', auto), ints('strides', [2, 2])] }], {
        inits: [fInit('w', [4, 3, 3, 3]), fInit('b', [4])],
      });
    }
  });

  it('depthwise Conv with a channel multiplier, and a grouped dilated one', async () => {
    await agrees([{ op: 'Conv', in: ['x', 'w'], attrs: [int('group', 3), ints('pads', [1, 0, 2, 1])] }], {
      inits: [fInit('w', [6, 1, 3, 2])],
    });
    await agrees(
      [{ op: 'Conv', in: ['x', 'w'], attrs: [int('group', 2), ints('dilations', [2, 1]), ints('pads', [2, 1, 2, 1])] }],
      { shape: [4, 7, 6], inits: [fInit('w', [6, 2, 3, 3])] },
    );
  });

  it('AveragePool count_include_pad = 1 with pads and ceil_mode; MaxPool with pads and ceil_mode', async () => {
    const win = [
      ints('kernel_shape', [3, 3]),
      ints('strides', [2, 2]),
      ints('pads', [1, 1, 1, 0]),
      int('ceil_mode', 1),
    ];
    await agrees([{ op: 'AveragePool', in: ['x'], attrs: [...win, int('count_include_pad', 1)] }]);
    await agrees([{ op: 'AveragePool', in: ['x'], attrs: [...win, int('count_include_pad', 0)] }]);
    await agrees([{ op: 'MaxPool', in: ['x'], attrs: win }]);
    await agrees([{ op: 'MaxPool', in: ['x'], attrs: [ints('kernel_shape', [2, 2]), str('auto_pad', 'SAME_UPPER')] }]);
  });

  it('Gemm with alpha, beta, transB = 0 and a [1, U] bias; MatMul then Add', async () => {
    await agrees(
      [
        { op: 'Flatten', in: ['x'] },
        { op: 'Gemm', in: ['t0', 'w', 'c'], attrs: [float('alpha', 0.5), float('beta', 2)] },
      ],
      { inits: [fInit('w', [126, 5]), fInit('c', [1, 5])] },
    );
    await agrees(
      [
        { op: 'GlobalMaxPool', in: ['x'] },
        { op: 'Flatten', in: ['t0'] },
        { op: 'MatMul', in: ['t1', 'w'] },
        { op: 'Add', in: ['t2', 'c'] },
      ],
      { inits: [fInit('w', [3, 4]), fInit('c', [4])] },
    );
  });

  it('Squeeze/Unsqueeze axes as attributes (opset 11) and inputs (13); Softmax at opset 11', async () => {
    const pool = { op: 'GlobalAveragePool', in: ['x'] };
    await agrees([pool, { op: 'Squeeze', in: ['t0'], attrs: [ints('axes', [2, 3])] }, { op: 'Softmax', in: ['t1'] }], {
      opset: 11,
    });
    await agrees(
      [
        pool,
        { op: 'Squeeze', in: ['t0', 'ax'] },
        { op: 'Unsqueeze', in: ['t1', 'ax1'] },
        { op: 'Softmax', in: ['t2'], attrs: [int('axis', 1)] },
        { op: 'Flatten', in: ['t3'] },
      ],
      { inits: [iInit('ax', [3, 2]), iInit('ax1', [2])] },
    );
  });

  it('Split with num_outputs (opset 18) and equal parts; Concat and LogSoftmax along the height', async () => {
    await agrees(
      [
        { op: 'Split', in: ['x'], out: ['a', 'b', 'c'], attrs: [int('axis', 1), int('num_outputs', 3)] },
        { op: 'Concat', in: ['c', 'a', 'b'], attrs: [int('axis', 2)] },
        { op: 'LogSoftmax', in: ['t1'], attrs: [int('axis', 2)] },
      ],
      { opset: 18 },
    );
    await agrees([
      { op: 'Split', in: ['x'], out: ['a', 'b'], attrs: [int('axis', 3)] },
      { op: 'Sub', in: ['a', 'b'] },
    ]);
  });

  it('constants on either side: c - x, x / c, c * x with per-channel and per-pixel constants', async () => {
    await agrees(
      [
        { op: 'Sub', in: ['c', 'x'] },
        { op: 'Div', in: ['t0', 'd'] },
        { op: 'Mul', in: ['e', 't1'] },
      ],
      { inits: [fInit('c', [3, 1, 1]), { ...fInit('d', [1]), float_data: [4] }, fInit('e', [1, 1, 7, 6])] },
    );
  });

  it('activations with parameters: Elu alpha, HardSigmoid alpha/beta, Clip with only min, LeakyRelu, PRelu scalar', async () => {
    await agrees(
      [
        { op: 'Elu', in: ['x'], attrs: [float('alpha', 0.3)] },
        { op: 'HardSigmoid', in: ['t0'], attrs: [float('alpha', 0.3), float('beta', 0.4)] },
        { op: 'Add', in: ['x', 't1'] },
        { op: 'Clip', in: ['t2', 'lo'] },
        { op: 'LeakyRelu', in: ['t3'], attrs: [float('alpha', 0.2)] },
        { op: 'PRelu', in: ['t4', 's'] },
      ],
      {
        inits: [
          { ...fInit('lo', []), float_data: [-0.7] },
          { ...fInit('s', [1]), float_data: [0.5] },
        ],
      },
    );
  });

  it('a generic Transpose, a negative Pad (crop), Resize by sizes, ReduceMax keeping dims', async () => {
    await agrees([
      { op: 'Transpose', in: ['x'], attrs: [ints('perm', [0, 1, 3, 2])] },
      { op: 'Relu', in: ['t0'] },
    ]);
    await agrees([{ op: 'Pad', in: ['x', 'p'] }], { inits: [iInit('p', [0, 0, 2, -1, 0, 0, -2, 1])] });
    await agrees(
      [
        {
          op: 'Resize',
          in: ['x', '', '', 'sz'],
          attrs: [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')],
        },
      ],
      { inits: [iInit('sz', [2, 3, 14, 18])] },
    );
    // sizes whose batch entry is the model's own batch, from Shape (DeepLabV3's ASPP pooling branch)
    await agrees(
      [
        { op: 'Shape', in: ['x'] },
        { op: 'Slice', in: ['t0', 's0', 's1'] },
        { op: 'Concat', in: ['t1', 'chw'], attrs: [int('axis', 0)] },
        {
          op: 'Resize',
          in: ['x', '', '', 't2'],
          attrs: [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')],
        },
      ],
      { inits: [iInit('s0', [0]), iInit('s1', [1]), iInit('chw', [3, 14, 18])] },
    );
    await agrees([
      { op: 'ReduceMax', in: ['x'], attrs: [ints('axes', [2, 3]), int('keepdims', 1)] },
      { op: 'Mul', in: ['x', 't0'] },
    ]);
  });

  it('Pad of an NHWC value between Transposes (as NHWC exporters write it) is a ZeroPadding2D/Cropping2D, no Permute or matrix per axis', async () => {
    const nodes: N[] = [
      { op: 'Transpose', in: ['x'], attrs: [ints('perm', [0, 2, 3, 1])] },
      { op: 'Pad', in: ['t0', 'p'] },
      { op: 'Transpose', in: ['t1'], attrs: [ints('perm', [0, 3, 1, 2])] },
      { op: 'Conv', in: ['t2', 'w'] },
    ];
    const opts = { inits: [iInit('p', [0, 1, 2, 0, 0, -1, 1, 0]), fInit('w', [4, 3, 3, 3])] };
    await agrees(nodes, opts);
    const m = await sn.loadONNX(opGraph(nodes, [3, 7, 6], opts.inits, 13));
    const classes = m.layers.map((l) => l.className);
    expect(classes).toContain('ZeroPadding2D');
    expect(classes).toContain('Cropping2D');
    // the input's NCHW -> NHWC and the output's way back; the padding adds neither Permutes nor matrices
    expect(classes.filter((c) => c === 'Permute')).toHaveLength(2);
    expect(classes.filter((c) => c === 'Conv2D')).toHaveLength(1);
    m.dispose();
  });

  it('Flatten with axis past size-1 axes keeps the batch axis: axis 2 of [N, 1, 7, 6], axis -1 of [N, 1, 1, 5]', async () => {
    await agrees([{ op: 'Flatten', in: ['x'], attrs: [int('axis', 2)] }], { shape: [1, 7, 6] });
    await agrees([{ op: 'Flatten', in: ['x'], attrs: [int('axis', -1)] }], { shape: [1, 1, 5] });
    // On a channels-last value (a one-channel Conv output), then a Gemm.
    await agrees(
      [
        { op: 'Conv', in: ['x', 'w'] },
        { op: 'Flatten', in: ['t0'], attrs: [int('axis', 2)] },
        { op: 'Gemm', in: ['t1', 'g'] },
      ],
      { inits: [fInit('w', [1, 3, 3, 3]), fInit('g', [20, 4])] },
    );
    // Folded over a constant: axis -1 of [7, 1, 6] is axis 2, giving [7, 6].
    await agrees(
      [
        { op: 'Flatten', in: ['c'], attrs: [int('axis', -1)] },
        { op: 'Add', in: ['x', 't0'] },
      ],
      { shape: [7, 6], inits: [fInit('c', [7, 1, 6])] },
    );
  });

  it('ConvTranspose with output_shape', async () => {
    await agrees(
      [{ op: 'ConvTranspose', in: ['x', 'w', 'b'], attrs: [ints('strides', [2, 2]), ints('output_shape', [13, 12])] }],
      { inits: [fInit('w', [3, 4, 3, 3]), fInit('b', [4])] },
    );
  });
});
