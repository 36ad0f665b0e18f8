// Operator semantics the ONNX conformance tests drove, written as single-operator graphs and checked
// against onnxruntime-node (values and shapes): reductions over any axes, batched MatMul, Gemm's
// transposes, BatchNormalization's old attributes and opsets, Resize/Upsample at any scale.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { makeRng } from '../helpers/check.js';
import { type Attr, type OpNode, float, floats, int, ints, opGraph, str } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

type N = OpNode;

const rng = makeRng(11);
const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const fInit = (name: string, dims: number[], lo = -0.5, hi = 0.5) => ({
  name,
  dims,
  data_type: 1,
  float_data: Array.from(rng.fill(size(dims), lo, hi)),
});
const iInit = (name: string, v: number[]) => ({ name, dims: [v.length], data_type: 7, int64_data: v });
const fVals = (name: string, v: number[]) => ({ name, dims: [v.length], data_type: 1, float_data: v });

/** simdnet and onnxruntime agree on values (1e-5 of the largest) and on the output shape. */
async function agrees(
  nodes: N[],
  opts: { shape: number[]; inits?: Array<Record<string, unknown>>; opset?: number; batch?: number },
) {
  const bytes = opGraph(nodes, opts.shape, opts.inits ?? [], opts.opset ?? 13);
  const full = [opts.batch ?? 2, ...opts.shape];
  const x = Float32Array.from(rng.fill(size(full), -2, 2));
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = (await s.run({ x: new ort.Tensor('float32', x, full) })).y;
  await s.release();
  const m = await sn.loadONNX(bytes);
  const t = sn.tensor(x, full);
  const y = m.predict(t) as sn.Tensor;
  try {
    expect(y.shape).toEqual(out.dims.map(Number));
    const got = y.dataSync(),
      want = out.data as Float32Array;
    let max = 0,
      scale = 0;
    for (let i = 0; i < want.length; i++) {
      max = Math.max(max, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(1e-5 * scale);
  } finally {
    t.dispose();
    y.dispose();
    m.dispose();
  }
}

/** The import is refused with an error matching `re`. */
async function refused(
  nodes: N[],
  opts: { shape: number[]; inits?: Array<Record<string, unknown>>; opset?: number },
  re: RegExp,
) {
  await expect(sn.loadONNX(opGraph(nodes, opts.shape, opts.inits ?? [], opts.opset ?? 13))).rejects.toThrow(re);
}

const conv = (): N => ({ op: 'Conv', in: ['x', 'cw'], attrs: [ints('pads', [1, 1, 1, 1])] });
const convW = (c: number, k: number) => fInit('cw', [k, c, 3, 3]);

describe('Reduce* over any axes', () => {
  const axesSets = [[1], [2], [3], [-1], [1, 2], [1, 3], [2, 3], [1, 2, 3], [3, 1]];
  for (const op of ['ReduceMean', 'ReduceMax']) {
    it(`${op} of an image (channels-last inside) and of a model input, keepdims 0 and 1`, async () => {
      for (const axes of axesSets) {
        for (const keep of [0, 1]) {
          if (keep === 0 && axes.length === 3) continue;
          const attrs = [ints('axes', axes), int('keepdims', keep)];
          // After a Conv the value is stored NHWC; the input itself is held as ONNX orders it.
          await agrees([conv(), { op, in: ['t0'], attrs }], { shape: [3, 5, 6], inits: [convW(3, 4)] });
          await agrees([{ op, in: ['x'], attrs }], { shape: [3, 5, 6] });
        }
      }
    });

    it(`${op} of rank 3 and rank 2 values, and with axes as an input (opset 18)`, async () => {
      await agrees([{ op, in: ['x'], attrs: [ints('axes', [1])] }], { shape: [4, 5] });
      await agrees([{ op, in: ['x'], attrs: [ints('axes', [2]), int('keepdims', 0)] }], { shape: [4, 5] });
      await agrees([{ op, in: ['x'], attrs: [ints('axes', [1]), int('keepdims', 1)] }], { shape: [7] });
      await agrees([conv(), { op, in: ['t0', 'ax'], attrs: [int('keepdims', 0)] }], {
        shape: [3, 5, 6],
        inits: [convW(3, 4), iInit('ax', [1, -1])],
        opset: 18,
      });
    });
  }

  it('a reduction over the batch axis, or down to the batch axis alone, is refused by name', async () => {
    await refused([{ op: 'ReduceMean', in: ['x'], attrs: [ints('axes', [0, 1])] }], { shape: [3, 4] }, /batch axis/);
    await refused([{ op: 'ReduceMax', in: ['x'] }], { shape: [3, 4] }, /ReduceMax.*batch axis/);
    await refused(
      [{ op: 'ReduceMean', in: ['x'], attrs: [ints('axes', [1]), int('keepdims', 0)] }],
      { shape: [3] },
      /leaves only the batch axis/,
    );
  });
});

describe('1-d and 3-d pools', () => {
  it('MaxPool and AveragePool of [N, C, L]: pads, strides, ceil_mode, count_include_pad, auto_pad', async () => {
    const win = [ints('kernel_shape', [3]), ints('strides', [2]), ints('pads', [1, 0]), int('ceil_mode', 1)];
    await agrees([{ op: 'MaxPool', in: ['x'], attrs: win }], { shape: [3, 10] });
    await agrees([{ op: 'AveragePool', in: ['x'], attrs: [...win, int('count_include_pad', 1)] }], { shape: [3, 10] });
    await agrees(
      [{ op: 'AveragePool', in: ['x'], attrs: [ints('kernel_shape', [4]), str('auto_pad', 'SAME_UPPER')] }],
      { shape: [3, 9] },
    );
  });

  it('MaxPool and AveragePool of [N, C, D, H, W]: pads, strides, ceil_mode, count_include_pad', async () => {
    const win = [ints('kernel_shape', [2, 3, 2]), ints('strides', [2, 1, 2]), ints('pads', [1, 1, 0, 0, 1, 1])];
    for (const extra of [[], [int('ceil_mode', 1)]]) {
      await agrees([{ op: 'MaxPool', in: ['x'], attrs: [...win, ...extra] }], { shape: [2, 5, 4, 5] });
      for (const cip of [0, 1])
        await agrees([{ op: 'AveragePool', in: ['x'], attrs: [...win, ...extra, int('count_include_pad', cip)] }], {
          shape: [2, 5, 4, 5],
        });
    }
  });
});

describe('Pad in every mode', () => {
  it('constant with a value, reflect, edge and wrap, on spatial and channel axes, and cropping', async () => {
    const pad = (mode: string, opset = 13): N => ({
      op: 'Pad',
      in: ['x', 'p', ...(opset >= 11 ? ['v'] : [])],
      attrs: [str('mode', mode)],
    });
    const p = (v: number[]) => [iInit('p', v), fVals('v', [1.5])];
    for (const mode of ['constant', 'reflect', 'edge']) {
      await agrees([pad(mode)], { shape: [3, 5, 6], inits: p([0, 0, 2, 1, 0, 1, 3, 2]) });
      await agrees([pad(mode)], { shape: [3, 5, 6], inits: p([0, 1, 0, -1, 0, 2, 1, 0]) });
      await agrees([conv(), { ...pad(mode), in: ['t0', 'p', 'v'] }], {
        shape: [3, 5, 6],
        inits: [convW(3, 4), ...p([0, 0, 1, 2, 0, 0, 2, 1])],
      });
    }
    await agrees([pad('wrap', 19)], { shape: [3, 5, 6], inits: p([0, 0, 2, 1, 0, 0, 1, 3]), opset: 19 });
  });
});

describe('MatMul of any rank, constants on either side', () => {
  it('a batched model value times one matrix, one matrix per group, or a vector', async () => {
    const mm = (a: string, b: string): N => ({ op: 'MatMul', in: [a, b] });
    await agrees([mm('x', 'w')], { shape: [3, 4], inits: [fInit('w', [4, 5])] });
    await agrees([mm('x', 'w')], { shape: [2, 3, 4], inits: [fInit('w', [2, 4, 5])] });
    await agrees([mm('x', 'w')], { shape: [2, 3, 4], inits: [fInit('w', [1, 2, 4, 5])] });
    await agrees([mm('x', 'w')], { shape: [2, 3, 4], inits: [fInit('w', [4])] });
    await agrees([conv(), mm('t0', 'w')], { shape: [3, 5, 6], inits: [convW(3, 4), fInit('w', [6, 2])] });
  });

  it('a constant times a batched model value', async () => {
    const mm: N = { op: 'MatMul', in: ['a', 'x'] };
    await agrees([mm], { shape: [2, 3, 4], inits: [fInit('a', [5, 3])] });
    await agrees([mm], { shape: [2, 3, 4], inits: [fInit('a', [2, 5, 3])] });
    await agrees([mm], { shape: [2, 3, 4], inits: [fInit('a', [3])] });
  });

  it('contracting or moving the batch axis, and two model values, are refused by name', async () => {
    await refused([{ op: 'MatMul', in: ['a', 'x'] }], { shape: [4], inits: [fInit('a', [5, 3])] }, /batch axis/);
    await refused([{ op: 'MatMul', in: ['x', 'w'] }], { shape: [3, 4], inits: [fInit('w', [3, 4, 5])] }, /batch axis/);
    await refused([{ op: 'MatMul', in: ['x', 'x'] }], { shape: [4, 4] }, /two model values/);
    await refused(
      [{ op: 'Gemm', in: ['x', 'w'], attrs: [int('transA', 1)] }],
      { shape: [4], inits: [fInit('w', [3, 5])] },
      /attribute transA 1 .*batch axis/,
    );
  });

  it('Gemm with transB, alpha and beta, and a vector bias', async () => {
    await agrees(
      [{ op: 'Gemm', in: ['x', 'w', 'c'], attrs: [int('transB', 1), float('alpha', 0.5), float('beta', 2)] }],
      {
        shape: [4],
        inits: [fInit('w', [3, 4]), fInit('c', [3])],
      },
    );
  });
});

describe('old opsets', () => {
  const bnInits = (c: number) => [
    fInit('s', [c], 0.5, 1.5),
    fInit('bb', [c]),
    fInit('m', [c]),
    fInit('v', [c], 0.5, 2),
  ];

  it('a CNN at opset 7 and 8 (BatchNormalization with spatial 1, Upsample with scales, Gemm)', async () => {
    for (const opset of [7, 8]) {
      await agrees(
        [
          conv(),
          {
            op: 'BatchNormalization',
            in: ['t0', 's', 'bb', 'm', 'v'],
            attrs: [int('spatial', 1), float('epsilon', 1e-3)],
          },
          { op: 'Relu', in: ['t1'] },
          { op: 'Upsample', in: ['t2'], attrs: [floats('scales', [1, 1, 2, 2]), str('mode', 'nearest')] },
          { op: 'MaxPool', in: ['t3'], attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
          { op: 'Flatten', in: ['t4'] },
          { op: 'Gemm', in: ['t5', 'gw', 'gc'], attrs: [int('transB', 1)] },
        ],
        { shape: [3, 4, 6], inits: [convW(3, 4), ...bnInits(4), fInit('gw', [5, 96]), fInit('gc', [5])], opset },
      );
    }
  });

  it('BatchNormalization of rank 3 and rank 5 values (per channel, axis 1)', async () => {
    const bn: N = { op: 'BatchNormalization', in: ['x', 's', 'bb', 'm', 'v'] };
    await agrees([bn], { shape: [3, 7], inits: bnInits(3) });
    await agrees([bn], { shape: [3, 2, 3, 4], inits: bnInits(3), opset: 15 });
  });

  /** simdnet's outputs for the same input from an old-opset graph and its current form agree exactly. */
  async function sameAs(
    old: N[],
    now: N[],
    shape: number[],
    inits: Array<Record<string, unknown>>,
    nowInits = inits,
    opset = 6,
  ) {
    const x = sn.tensor(Float32Array.from(rng.fill(2 * size(shape), -2, 2)), [2, ...shape]);
    const a = await sn.loadONNX(opGraph(old, shape, inits, opset));
    const b = await sn.loadONNX(opGraph(now, shape, nowInits, 13));
    const ya = a.predict(x) as sn.Tensor,
      yb = b.predict(x) as sn.Tensor;
    expect(ya.shape).toEqual(yb.shape);
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    for (const t of [x, ya, yb]) t.dispose();
    a.dispose();
    b.dispose();
  }

  it('opset 6: Add with broadcast and axis aligns B from that axis, PRelu slopes are per channel; opset 4 Reshape', async () => {
    const c = fInit('c', [3]);
    const c3 = { ...c, name: 'c3', dims: [3, 1, 1] };
    await sameAs(
      [{ op: 'Add', in: ['x', 'c'], attrs: [int('broadcast', 1), int('axis', 1)] }],
      [{ op: 'Add', in: ['x', 'c3'] }],
      [3, 4, 5],
      [c],
      [c3],
    );
    await sameAs([{ op: 'PRelu', in: ['x', 'c'] }], [{ op: 'PRelu', in: ['x', 'c3'] }], [3, 4, 5], [c], [c3]);
    await sameAs(
      [{ op: 'Reshape', in: ['x'], attrs: [ints('shape', [0, 12, 5])] }],
      [{ op: 'Reshape', in: ['x', 'sh'] }],
      [3, 4, 5],
      [],
      [iInit('sh', [0, 12, 5])],
      4,
    );
  });

  it('training-mode and per-value forms of old opsets are refused by attribute', async () => {
    const bn = (attrs: Attr[]): N => ({ op: 'BatchNormalization', in: ['x', 's', 'bb', 'm', 'v'], attrs });
    await refused([bn([])], { shape: [3, 4, 4], inits: bnInits(3), opset: 6 }, /attribute is_test 0 \(training mode\)/);
    await refused(
      [bn([int('spatial', 0)])],
      { shape: [3, 4, 4], inits: bnInits(48), opset: 7 },
      /attribute spatial 0 with parameters of shape \[48\]/,
    );
    await refused(
      [{ op: 'Dropout', in: ['x'], attrs: [float('ratio', 0.5)] }],
      { shape: [3], opset: 6 },
      /attribute is_test 0 asks for training-mode dropout/,
    );
  });
});

describe('Resize and Upsample at any scale', () => {
  const CTMS = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
  const resize = (mode: string, ctm: string, extra: Attr[] = []): N => ({
    op: 'Resize',
    in: ['x', 'roi', 'sc'],
    attrs: [str('mode', mode), str('coordinate_transformation_mode', ctm), ...extra],
  });
  // 6 * 1.5 and 4 * 0.5 are whole, so every coordinate mode reads the same lengths in onnxruntime.
  const SCALES = [
    [1, 1, 1.5, 0.5],
    [1, 1, 0.5, 2.5],
    [1, 1, 1.5, 3],
  ];

  it('nearest, every coordinate mode and nearest_mode, up and down', async () => {
    for (const ctm of CTMS) {
      for (const nm of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
        for (const sc of SCALES) {
          await agrees([resize('nearest', ctm, [str('nearest_mode', nm)])], {
            shape: [2, 6, 4],
            inits: [fVals('roi', []), fVals('sc', sc)],
            opset: 11,
          });
        }
      }
    }
  });

  it('linear and cubic, every coordinate mode, up and down; cubic_coeff_a and exclude_outside', async () => {
    for (const ctm of CTMS) {
      for (const sc of SCALES) {
        await agrees([resize('linear', ctm)], {
          shape: [2, 6, 4],
          inits: [fVals('roi', []), fVals('sc', sc)],
          opset: 11,
        });
        await agrees([resize('cubic', ctm)], {
          shape: [2, 6, 4],
          inits: [fVals('roi', []), fVals('sc', sc)],
          opset: 11,
        });
      }
    }
    await agrees([resize('cubic', 'half_pixel', [float('cubic_coeff_a', -0.5), int('exclude_outside', 1)])], {
      shape: [2, 6, 4],
      inits: [fVals('roi', []), fVals('sc', [1, 1, 0.5, 1.75])],
    });
  });

  it('sizes, of an image stored channels-last, and with a not_larger policy at opset 18', async () => {
    await agrees(
      [conv(), { op: 'Resize', in: ['t0', '', '', 'sz'], attrs: [str('mode', 'linear'), ints('axes', [1, 2, 3])] }],
      { shape: [3, 5, 6], inits: [convW(3, 4), iInit('sz', [4, 7, 4])], opset: 18 },
    );
    await refused(
      [{ op: 'Resize', in: ['x', '', 'sc'] }],
      { shape: [3, 5, 6], inits: [fVals('sc', [2, 1, 1.5, 1.5])] },
      /resizing the batch axis \(scales \[2,1,1.5,1.5\]\)/,
    );
    await agrees(
      [
        {
          op: 'Resize',
          in: ['x', '', '', 'sz'],
          attrs: [ints('axes', [2, 3]), str('keep_aspect_ratio_policy', 'not_larger'), str('mode', 'nearest')],
        },
      ],
      { shape: [3, 5, 6], inits: [iInit('sz', [8, 8])], opset: 18 },
    );
  });

  it('Upsample (opsets 7 and 9) with fractional scales, nearest and linear', async () => {
    for (const mode of ['nearest', 'linear']) {
      await agrees([{ op: 'Upsample', in: ['x'], attrs: [str('mode', mode), floats('scales', [1, 1, 1.5, 2.5])] }], {
        shape: [2, 4, 4],
        opset: 7,
      });
      await agrees([{ op: 'Upsample', in: ['x', 'sc'], attrs: [str('mode', mode)] }], {
        shape: [2, 4, 4],
        inits: [fVals('sc', [1, 1, 2.5, 1.5])],
        opset: 9,
      });
    }
  });

  it('tf_crop_and_resize: a region of interest, extrapolation outside it, by scales or sizes', async () => {
    const roi = fVals('roi', [0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2]);
    for (const mode of ['linear', 'nearest']) {
      const crop = resize(mode, 'tf_crop_and_resize', [float('extrapolation_value', 10)]);
      await agrees([crop], { shape: [2, 6, 4], inits: [roi, fVals('sc', [1, 1, 1.5, 0.75])], opset: 11 });
      await agrees([{ ...crop, in: ['x', 'roi', '', 'sz'] }], {
        shape: [2, 6, 4],
        inits: [roi, iInit('sz', [2, 2, 5, 3])],
        opset: 13,
      });
    }
  });

  it('antialiased down-scaling is refused by name', async () => {
    await refused(
      [resize('linear', 'half_pixel', [int('antialias', 1)])],
      { shape: [2, 6, 4], inits: [fVals('roi', []), fVals('sc', [1, 1, 0.5, 0.5])], opset: 18 },
      /attribute antialias 1/,
    );
  });
});

describe('imported resizes and matrix products as a model', () => {
  it('fine-tunes the MatMul weights but not the interpolation, saves and exports again', async () => {
    const bytes = opGraph(
      [
        { op: 'Resize', in: ['x', 'roi', 'sc'], attrs: [str('mode', 'linear')] },
        { op: 'MatMul', in: ['t0', 'w'] },
      ],
      [2, 4, 6],
      [fVals('roi', []), fVals('sc', [1, 1, 1.75, 0.5]), fInit('w', [3, 5])],
      13,
    );
    const m = await sn.loadONNX(bytes);
    const x = sn.tensor(Float32Array.from(rng.fill(2 * 48, -1, 1)), [2, 2, 4, 6]);
    const y0 = m.predict(x) as sn.Tensor;
    const fixed = m.layers.filter((l) => !l.trainable && l.weights.length > 0);
    expect(fixed.length).toBe(2);
    const frozen = fixed.map((l) => Array.from(l.weights[0].value.view()));
    m.compile({ optimizer: new sn.Adam({ learningRate: 1e-2 }), loss: 'meanSquaredError' });
    const target = sn.tensor(new Float32Array(y0.size).fill(1), y0.shape);
    const before = m.evaluate(x, target)[0];
    for (let i = 0; i < 5; i++) m.trainOnBatch(x, target);
    expect(m.evaluate(x, target)[0]).toBeLessThan(before);
    fixed.forEach((l, i) => expect(Array.from(l.weights[0].value.view())).toEqual(frozen[i]));
    const y1 = m.predict(x) as sn.Tensor;
    const again = sn.loadModel(sn.saveModel(m));
    const y2 = again.predict(x) as sn.Tensor;
    expect(Array.from(y2.dataSync())).toEqual(Array.from(y1.dataSync()));
    const s = await ort.InferenceSession.create(toONNX(m), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x.dataSync(), x.shape) });
    await s.release();
    const got = out[s.outputNames[0]].data as Float32Array;
    const want = y1.dataSync();
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
    expect(max).toBeLessThan(1e-4);
    for (const t of [x, y0, y1, y2, target]) t.dispose();
    m.dispose();
    again.dispose();
  });
});

describe('LayerNormalization (opset 17)', () => {
  it('over the last axis, the last two and the last three, with and without B, after a permute to channels-last', async () => {
    for (const axis of [-1, -2, 1]) {
      for (const withBias of [true, false]) {
        // x [N, 3, 5, 6] -> Conv (NCHW) -> Transpose to [N, 5, 6, 4] -> LayerNormalization over [axis, rank)
        const normalized = [5, 6, 4].slice(axis < 0 ? 3 + axis : axis - 1);
        const inits = [
          convW(3, 4),
          fInit('scale', normalized, 0.5, 1.5),
          ...(withBias ? [fInit('bias', normalized)] : []),
        ];
        await agrees(
          [
            conv(),
            { op: 'Transpose', in: ['t0'], attrs: [ints('perm', [0, 2, 3, 1])] },
            {
              op: 'LayerNormalization',
              in: ['t1', 'scale', ...(withBias ? ['bias'] : [])],
              attrs: [int('axis', axis), float('epsilon', 1e-5)],
            },
          ],
          { shape: [3, 5, 6], inits, opset: 17 },
        );
      }
    }
  });

  it('of a model input, and refusals that name the node, attribute and value', async () => {
    await agrees([{ op: 'LayerNormalization', in: ['x', 'scale', 'bias'] }], {
      shape: [7],
      inits: [fInit('scale', [7], 0.5, 1.5), fInit('bias', [7])],
      opset: 17,
    });
    const ln = (attrs: Attr[]): N => ({ op: 'LayerNormalization', in: ['x', 'scale'], attrs });
    await refused(
      [ln([int('axis', 0)])],
      { shape: [7], inits: [fInit('scale', [7])], opset: 17 },
      /axis 0 must be a non-batch axis/,
    );
    await refused(
      [ln([int('stash_type', 0)])],
      { shape: [7], inits: [fInit('scale', [7])], opset: 17 },
      /attribute stash_type 0 is not supported/,
    );
    await refused(
      [ln([])],
      { shape: [7], inits: [fInit('scale', [3])], opset: 17 },
      /Scale of shape \[3\] must hold one value per normalized element \(\[7\]\)/,
    );
  });
});
