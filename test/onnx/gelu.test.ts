// ONNX Erf, opset-20 Gelu, the exact-GELU chain older exporters write (Div by √2, Erf, Add 1, Mul x,
// Mul 0.5, in every order torch.onnx and hand-written graphs use) and the written-out LayerNorm, as small
// graphs checked against onnxruntime-node; the GELU layer's export back to ONNX (opset 13: its formula)
// run by onnxruntime-node.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { makeRng } from '../helpers/check.js';
import { diff, runOrt } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

type Attr = Record<string, unknown>;
const str = (name: string, v: string): Attr => ({ name, type: 3, s: new TextEncoder().encode(v) });
const scalarConst = (out: string, v: number): N => ({
  op: 'Constant',
  in: [],
  out: [out],
  attrs: [{ name: 'value', type: 4, t: { dims: [], data_type: 1, float_data: [v] } }],
});

interface N {
  op: string;
  in: string[];
  out?: string[];
  attrs?: Attr[];
}

const SHAPE = [3, 5, 4];
const rng = makeRng(41);

/** A model from x [N, 3, 5, 4] through `nodes` (node i writes t{i} unless it names outputs) to outputs. */
type Init = number | { dims: number[]; data: ArrayLike<number> };

function graph(nodes: N[], opts: { opset?: number; inits?: Record<string, Init>; outputs?: string[] } = {}) {
  const obj = {
    ir_version: 8,
    opset_import: [{ domain: '', version: opts.opset ?? 13 }],
    graph: {
      name: 'gelu',
      node: nodes.map((n, i) => ({
        op_type: n.op,
        name: `${n.op.toLowerCase()}_${i}`,
        input: n.in,
        output: n.out ?? [`t${i}`],
        attribute: n.attrs ?? [],
      })),
      initializer: Object.entries(opts.inits ?? {}).map(([name, v]) => ({
        name,
        dims: typeof v === 'number' ? [] : v.dims,
        data_type: 1,
        float_data: typeof v === 'number' ? [v] : Array.from(v.data),
      })),
      input: [
        {
          name: 'x',
          type: {
            tensor_type: {
              elem_type: 1,
              shape: { dim: [{ dim_param: 'N' }, ...SHAPE.map((d) => ({ dim_value: d }))] },
            },
          },
        },
      ],
      output: (opts.outputs ?? ['y']).map((name) => ({ name, type: { tensor_type: { elem_type: 1 } } })),
    },
  };
  const T = onnxType('ModelProto');
  const err = T.verify(obj);
  if (err) throw new Error(err);
  return T.encode(T.fromObject(obj)).finish();
}

const input = () => {
  const shape = [2, ...SHAPE];
  return {
    shape,
    x: Float32Array.from(
      rng.fill(
        shape.reduce((a, b) => a * b, 1),
        -4,
        4,
      ),
    ),
  };
};

/** Imports `bytes`, checks its prediction against onnxruntime's (≤ 1e-6 of the largest output), returns the model. */
async function agrees(bytes: Uint8Array): Promise<sn.Model> {
  const m = await sn.loadONNX(bytes);
  const { shape, x } = input();
  const t = sn.tensor(x, shape);
  const y = m.predict(t) as sn.Tensor;
  const d = diff(y.dataSync(), await runOrt(bytes, x, shape));
  expect(d.scale).toBeGreaterThan(0.5);
  expect(d.max).toBeLessThanOrEqual(1e-6 * d.scale);
  t.dispose();
  y.dispose();
  return m;
}

const classes = (m: sn.Model) => m.layers.map((l) => l.className).filter((c) => c !== 'InputLayer');

describe('ONNX Erf and Gelu vs onnxruntime', () => {
  it('Erf on its own: one Erf layer', async () => {
    const m = await agrees(graph([{ op: 'Erf', in: ['x'], out: ['y'] }]));
    expect(classes(m)).toEqual(['Erf']);
    m.dispose();
  });

  it('opset-20 Gelu, approximate none and tanh: one GELU layer each', async () => {
    for (const approximate of ['none', 'tanh']) {
      const m = await agrees(
        graph([{ op: 'Gelu', in: ['x'], out: ['y'], attrs: [str('approximate', approximate)] }], { opset: 20 }),
      );
      expect(classes(m)).toEqual(['GELU']);
      expect((m.layers.find((l) => l.className === 'GELU') as sn.GELU).approximate).toBe(approximate === 'tanh');
      m.dispose();
    }
  });

  it('Gelu before opset 20, and an unknown approximate, are refused by name', async () => {
    await expect(sn.loadONNX(graph([{ op: 'Gelu', in: ['x'], out: ['y'] }], { opset: 17 }))).rejects.toThrow(
      /node 'gelu_0' \(Gelu\): Gelu is an operator of opset 20 and later; the model declares opset 17/,
    );
    const bad = graph([{ op: 'Gelu', in: ['x'], out: ['y'], attrs: [str('approximate', 'erf')] }], { opset: 20 });
    await expect(sn.loadONNX(bad)).rejects.toThrow(
      /node 'gelu_0' \(Gelu\): attribute approximate must be one of 'none', 'tanh' \(approximate 'erf'\)/,
    );
  });

  // The chains of the exact GELU, each folded into one GELU layer.
  const chains: Array<[string, N[], Record<string, number>]> = [
    [
      'torch.onnx (Constant nodes): Div √2, Erf, Add 1, Mul(x, ·), Mul(·, 0.5)',
      [
        scalarConst('c2', Math.SQRT2),
        { op: 'Div', in: ['x', 'c2'], out: ['d'] },
        { op: 'Erf', in: ['d'], out: ['e'] },
        scalarConst('c1', 1),
        { op: 'Add', in: ['e', 'c1'], out: ['a'] },
        { op: 'Mul', in: ['x', 'a'], out: ['m'] },
        scalarConst('ch', 0.5),
        { op: 'Mul', in: ['m', 'ch'], out: ['y'] },
      ],
      {},
    ],
    [
      'initializers: Mul 1/√2, Add(1, ·), Mul(·, 0.5), Mul(x, ·)',
      [
        { op: 'Mul', in: ['r2', 'x'], out: ['d'] },
        { op: 'Erf', in: ['d'], out: ['e'] },
        { op: 'Add', in: ['one', 'e'], out: ['a'] },
        { op: 'Mul', in: ['a', 'half'], out: ['m'] },
        { op: 'Mul', in: ['x', 'm'], out: ['y'] },
      ],
      { r2: Math.SQRT1_2, one: 1, half: 0.5 },
    ],
    [
      '(x · 0.5) · (1 + erf(x / √2))',
      [
        { op: 'Mul', in: ['half', 'x'], out: ['h'] },
        { op: 'Div', in: ['x', 'sqrt2'], out: ['d'] },
        { op: 'Erf', in: ['d'], out: ['e'] },
        { op: 'Add', in: ['e', 'one'], out: ['a'] },
        { op: 'Mul', in: ['h', 'a'], out: ['y'] },
      ],
      { sqrt2: Math.SQRT2, one: 1, half: 0.5 },
    ],
  ];
  for (const [name, nodes, inits] of chains) {
    it(`folds ${name}`, async () => {
      const m = await agrees(graph(nodes, { inits }));
      expect(classes(m)).toEqual(['GELU']);
      expect((m.layers[1] as sn.GELU).approximate).toBe(false);
      m.dispose();
    });
  }

  it('folds the tanh chain torch.onnx writes for approximate=tanh before opset 20', async () => {
    const nodes: N[] = [
      { op: 'Mul', in: ['x', 'x'], out: ['x2'] },
      { op: 'Mul', in: ['x', 'x2'], out: ['x3'] },
      scalarConst('c', 0.044715),
      { op: 'Mul', in: ['c', 'x3'], out: ['cx3'] },
      { op: 'Add', in: ['x', 'cx3'], out: ['inner'] },
      scalarConst('k', Math.sqrt(2 / Math.PI)),
      { op: 'Mul', in: ['k', 'inner'], out: ['u'] },
      { op: 'Tanh', in: ['u'], out: ['t'] },
      scalarConst('one', 1),
      { op: 'Add', in: ['one', 't'], out: ['a'] },
      { op: 'Mul', in: ['x', 'a'], out: ['m'] },
      scalarConst('half', 0.5),
      { op: 'Mul', in: ['half', 'm'], out: ['y'] },
    ];
    const m = await agrees(graph(nodes));
    expect(classes(m)).toEqual(['GELU']);
    expect((m.layers[1] as sn.GELU).approximate).toBe(true);
    m.dispose();
    // Another cubic coefficient is not the GELU: left as element-wise layers, still right.
    const other = await agrees(graph(nodes.map((n) => (n.out?.[0] === 'c' ? scalarConst('c', 0.05) : n))));
    expect(classes(other)).toContain('Activation');
    expect(classes(other)).not.toContain('GELU');
    other.dispose();
  });

  it('leaves a chain alone when an inner value is read elsewhere, or the constants are not √2, 1, 0.5', async () => {
    const [, torch] = chains[0];
    // erf(x/√2) is also read by another node: kept as Erf, still right.
    const shared = await agrees(graph([...torch, { op: 'Add', in: ['y', 'e'], out: ['z'] }], { outputs: ['z'] }));
    expect(classes(shared)).toContain('Erf');
    expect(classes(shared)).not.toContain('GELU');
    shared.dispose();
    const off = torch.map((n) => (n.out?.[0] === 'ch' ? scalarConst('ch', 0.25) : n));
    const other = await agrees(graph(off));
    expect(classes(other)).toContain('Erf');
    expect(classes(other)).not.toContain('GELU');
    other.dispose();
  });
});

describe('GELU layer: predict, train, export to ONNX', () => {
  for (const approximate of [false, true]) {
    it(`GELU({ approximate: ${approximate} }) after a Dense: fit step, save/load, toONNX run by onnxruntime, re-import`, async () => {
      const m = sn.sequential({
        seed: 3,
        layers: [
          sn.layers.dense({ units: 6, inputShape: [5] }),
          new sn.GELU({ approximate }),
          sn.layers.dense({ units: 2 }),
        ],
      });
      const x = sn.tensor(rng.fill(8 * 5, -2, 2), [8, 5]);
      const yt = sn.tensor(rng.fill(8 * 2, -1, 1), [8, 2]);
      m.compile({ optimizer: new sn.SGD({ learningRate: 0.1 }), loss: 'meanSquaredError' });
      const before = m.layers[0].weights[0].value.dataSync().slice();
      const h = await m.fit(x, yt, { epochs: 1, batchSize: 8 });
      expect(Number.isFinite(h.history.loss[0])).toBe(true);
      const after = m.layers[0].weights[0].value.dataSync();
      // The gradient reached the first Dense through the GELU.
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      const bytes = toONNX(m);
      const ours = (m.predict(x) as sn.Tensor).dataSync();
      const d = diff(ours, await runOrt(bytes, x.dataSync() as Float32Array, [8, 5]));
      expect(d.max).toBeLessThanOrEqual(1e-6 * d.scale);
      const ops = (
        onnxType('ModelProto').decode(bytes) as unknown as { graph: { node: Array<{ op_type: string }> } }
      ).graph.node.map((n) => n.op_type);
      expect(ops).toContain(approximate ? 'Tanh' : 'Erf');
      const back = await sn.loadONNX(bytes);
      // The Erf or Tanh chain is folded back into one GELU layer of the same form.
      expect(classes(back).filter((c) => c === 'GELU')).toHaveLength(1);
      expect((back.layers.find((l) => l.className === 'GELU') as sn.GELU).approximate).toBe(approximate);
      const again = (back.predict(x) as sn.Tensor).dataSync();
      expect(diff(again, ours).max).toBeLessThanOrEqual(1e-6 * d.scale);
      // Saved and loaded as .simdnet: the same class, option and predictions, bit for bit.
      const saved = sn.loadModel(m.save());
      expect((saved.layers.find((l) => l.className === 'GELU') as sn.GELU).approximate).toBe(approximate);
      expect(Array.from((saved.predict(x) as sn.Tensor).dataSync())).toEqual(Array.from(ours));
      for (const z of [m, back, saved]) z.dispose();
      for (const z of [x, yt]) z.dispose();
    });
  }

  it('GELU options are checked and saved', () => {
    expect(() => new sn.GELU({ approximate: 'tanh' as unknown as boolean })).toThrow(
      /GELU: approximate must be true or false, got "tanh"/,
    );
    expect(new sn.GELU({ approximate: true }).getConfig()).toMatchObject({ approximate: true });
  });
});

describe('written-out LayerNorm (opsets before 17) vs onnxruntime', () => {
  // mean over axes, d = x - mean, d^2 (Pow or Mul), mean, + eps, Sqrt, Div, * scale, + bias.
  const chain = (axes: number[], square: 'Pow' | 'Mul', bias = true): N[] => {
    const ax = [{ name: 'axes', type: 7, ints: axes }];
    return [
      { op: 'ReduceMean', in: ['x'], out: ['mu'], attrs: ax },
      { op: 'Sub', in: ['x', 'mu'], out: ['d'] },
      square === 'Pow' ? { op: 'Pow', in: ['d', 'two'], out: ['sq'] } : { op: 'Mul', in: ['d', 'd'], out: ['sq'] },
      { op: 'ReduceMean', in: ['sq'], out: ['var'], attrs: ax },
      { op: 'Add', in: ['var', 'eps'], out: ['ve'] },
      { op: 'Sqrt', in: ['ve'], out: ['sd'] },
      { op: 'Div', in: ['d', 'sd'], out: ['n'] },
      { op: 'Mul', in: ['n', 'gamma'], out: [bias ? 'g' : 'y'] },
      ...(bias ? [{ op: 'Add', in: ['beta', 'g'], out: ['y'] }] : []),
    ];
  };
  // Scale and bias of the normalized shape: [4] for the last axis, [5, 4] for the last two.
  const initsFor = (axes: number[]): Record<string, Init> => {
    const dims = axes.length === 1 ? [4] : [5, 4];
    const n = dims.reduce((a, b) => a * b, 1);
    return {
      two: 2,
      eps: 1e-5,
      gamma: { dims, data: rng.fill(n, 0.5, 1.5) },
      beta: { dims, data: rng.fill(n, -0.3, 0.3) },
    };
  };

  for (const [axes, square, bias] of [
    [[-1], 'Pow', true],
    [[-2, -1], 'Mul', true],
    [[2, 3], 'Pow', false],
  ] as Array<[number[], 'Pow' | 'Mul', boolean]>) {
    it(`axes [${axes}] with ${square}${bias ? ' and a bias' : ''}: one LayerNormalization layer`, async () => {
      const m = await agrees(graph(chain(axes, square, bias), { inits: initsFor(axes) }));
      expect(classes(m).filter((c) => c === 'LayerNormalization')).toHaveLength(1);
      expect(classes(m)).not.toContain('Affine');
      m.dispose();
    });
  }

  it('a chain over axes that are not the trailing ones, and a Pow elsewhere, are refused by name', async () => {
    await expect(sn.loadONNX(graph(chain([1, 2], 'Pow'), { inits: initsFor([1, 2]) }))).rejects.toThrow(
      /\(LayerNormalization\): the written-out LayerNorm normalizes axes up to 2 of a rank-4 value, not the trailing ones/,
    );
    await expect(
      sn.loadONNX(graph([{ op: 'Pow', in: ['x', 'two'], out: ['y'] }], { inits: { two: 2 } })),
    ).rejects.toThrow(/node 'pow_0' \(Pow\): Pow of a model value is read only inside a written-out LayerNorm/);
  });
});
