// ONNX files made to hurt the importer: folding bombs (a 200-byte file asking for gigabytes), absurd
// attribute counts, long and deep graphs, prototype names, non-finite and wrongly typed weights. Each
// ends, within a time and memory bound, in a refusal that names the node, shape and bytes, or in a
// model that predicts what the file means.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { float32ToFloat16 } from '../../src/formats/float16.js';
import { Budget } from '../../src/formats/limits.js';
import { planImport } from '../../src/formats/onnx/import.js';
import { Builder } from '../../src/formats/onnx/ops/context.js';
import {
  type NodeSpec,
  attrInt,
  attrInts,
  attrTensor,
  expectLoad,
  expectRefusal,
  onnxModel,
  predictFinite,
  tally,
  tensor,
} from './hostile-helpers.js';

beforeAll(async () => {
  await sn.ready();
});
afterAll(() => {
  console.log(
    `hostile ONNX: ${tally.cases} cases, ${tally.refused} refused, ${tally.loaded} loaded correctly; ` +
      `slowest ${tally.slowest.what} ${tally.slowest.ms.toFixed(0)} ms`,
  );
});

/** A shape constant (int64) named `name`. */
const shapeConst = (name: string, dims: number[]) => tensor(name, [dims.length], dims, 7);
/** `ConstantOfShape(shape) -> name`, filled with 1.0. */
const cos = (shape: string, name: string): NodeSpec => ({
  op: 'ConstantOfShape',
  name,
  inputs: [shape],
  outputs: [name],
  attrs: [attrTensor('value', tensor('v', [1], [1]))],
});
/** x + c, so that the folded constant `c` is used by the model. */
const addTo = (c: string): NodeSpec => ({ op: 'Add', name: 'use', inputs: ['x', c], outputs: ['out'] });

describe('folding bombs are refused before they allocate', () => {
  it('ConstantOfShape of 2^28 elements (2 GiB of float64): over the 1 GiB budget', async () => {
    const bytes = onnxModel([cos('s', 'big'), addTo('big')], { inits: [shapeConst('s', [16384, 16384])] });
    expect(bytes.length).toBeLessThan(300);
    const msg = await expectRefusal('ConstantOfShape 2^28', () => sn.loadONNX(bytes), /budget/);
    expect(msg).toMatch(
      /node 'big' \(ConstantOfShape\): the result would have shape \[16384,16384\], 2147483648 bytes/,
    );
    expect(msg).toMatch(/raise it with the maxBytes option/);
  });

  it('ConstantOfShape over 2^28 elements and over 32 axes', async () => {
    await expectRefusal(
      'ConstantOfShape 2^40',
      () => sn.loadONNX(onnxModel([cos('s', 'big'), addTo('big')], { inits: [shapeConst('s', [2 ** 20, 2 ** 20])] })),
      /declares 1099511627776 elements/,
    );
    await expectRefusal(
      'ConstantOfShape rank 40',
      () =>
        sn.loadONNX(onnxModel([cos('s', 'big'), addTo('big')], { inits: [shapeConst('s', new Array(40).fill(1))] })),
      /has 40 axes, more than 32/,
    );
  });

  it('a Concat chain that doubles a constant 12 times stops at the budget (64 MiB here, to stay quick)', async () => {
    const nodes: NodeSpec[] = [cos('s', 'c0')];
    for (let i = 1; i <= 12; i++)
      nodes.push({
        op: 'Concat',
        name: `cat${i}`,
        inputs: [`c${i - 1}`, `c${i - 1}`],
        outputs: [`c${i}`],
        attrs: [attrInt('axis', 0)],
      });
    nodes.push(addTo('c12'));
    const msg = await expectRefusal(
      'Concat doubling',
      () => sn.loadONNX(onnxModel(nodes, { inits: [shapeConst('s', [2 ** 14])] }), { maxBytes: 2 ** 26 }),
      /node 'cat\d+' \(Concat\): the result would have shape \[\d+\], \d+ bytes .* past the budget of 67108864 bytes/,
    );
    expect(msg).toMatch(/node 'cat9' .*shape \[8388608\]/);
  });

  it('Gather of small data by many indices, and a broadcast Add/Mul of two thin constants', async () => {
    await expectRefusal(
      'Gather bomb',
      () =>
        sn.loadONNX(
          onnxModel(
            [
              { op: 'ConstantOfShape', name: 'idx', inputs: ['si'], outputs: ['idx'] },
              cos('sd', 'data'),
              { op: 'Gather', name: 'g', inputs: ['data', 'idx'], outputs: ['big'] },
              addTo('big'),
            ],
            { inits: [shapeConst('si', [4096]), shapeConst('sd', [2, 65536])] },
          ),
        ),
      /node 'g' \(Gather\): the result would have shape \[4096,65536\]/,
    );
    for (const op of ['Add', 'Mul']) {
      await expectRefusal(
        `broadcast ${op}`,
        () =>
          sn.loadONNX(
            onnxModel(
              [
                cos('sa', 'a'),
                cos('sb', 'b'),
                { op, name: 'wide', inputs: ['a', 'b'], outputs: ['big'] },
                addTo('big'),
              ],
              { inits: [shapeConst('sa', [16384, 1]), shapeConst('sb', [1, 16384])] },
            ),
          ),
        new RegExp(`node 'wide' \\(${op}\\): the result would have shape \\[16384,16384\\]`),
      );
    }
  });

  it('maxBytes raises or lowers the budget', async () => {
    const bytes = onnxModel([cos('s', 'c'), { op: 'Add', name: 'use', inputs: ['x', 'c'], outputs: ['out'] }], {
      inits: [shapeConst('s', [2, 4, 4])],
    });
    const m = await expectLoad('small fold', () => sn.loadONNX(bytes));
    m.dispose();
    await expectRefusal('tiny budget', () => sn.loadONNX(bytes, { maxBytes: 100 }), /past the budget of 100 bytes/);
    await expectRefusal('bad budget', () => sn.loadONNX(bytes, { maxBytes: -1 }), /maxBytes must be a positive/);
  });

  it('Split with 1e9 outputs, Unsqueeze with 2^20 axes, Slice with step 0, Transpose perm [0,0,0,0]', async () => {
    await expectRefusal(
      'Split 1e9',
      () =>
        sn.loadONNX(
          onnxModel(
            [
              {
                op: 'Split',
                name: 'sp',
                inputs: ['x'],
                outputs: ['a', 'out'],
                attrs: [attrInt('axis', 1), attrInt('num_outputs', 1e9)],
              },
            ],
            { opset: 18 },
          ),
        ),
      /num_outputs 1000000000 differs from the node's 2 outputs/,
    );
    const manyAxes = onnxModel(
      [
        {
          op: 'Unsqueeze',
          name: 'u',
          inputs: ['x'],
          outputs: ['out'],
          attrs: [
            attrInts(
              'axes',
              Array.from({ length: 2 ** 20 }, (_, i) => i),
            ),
          ],
        },
      ],
      {
        opset: 11,
      },
    );
    await expectRefusal(
      'Unsqueeze 2^20 axes',
      () => sn.loadONNX(manyAxes),
      /node 'u' \(Unsqueeze\) has 1048576 values in attribute axes, more than 65536/,
    );
    await expectRefusal(
      'Unsqueeze 60000 axes',
      () =>
        sn.loadONNX(
          onnxModel(
            [
              {
                op: 'Unsqueeze',
                name: 'u',
                inputs: ['x'],
                outputs: ['out'],
                attrs: [
                  attrInts(
                    'axes',
                    Array.from({ length: 60000 }, (_, i) => i + 1),
                  ),
                ],
              },
            ],
            {
              opset: 11,
            },
          ),
        ),
      /unsqueezing 60000 axes gives rank 60004, more than 32/,
    );
    await expectRefusal(
      'Slice step 0',
      () =>
        sn.loadONNX(
          onnxModel(
            [{ op: 'Slice', name: 'sl', inputs: ['c', 'st', 'en', 'ax', 'sp'], outputs: ['cut'] }, addTo('cut')],
            {
              inits: [
                tensor('c', [4], [1, 2, 3, 4]),
                shapeConst('st', [0]),
                shapeConst('en', [4]),
                shapeConst('ax', [0]),
                shapeConst('sp', [0]),
              ],
            },
          ),
        ),
      /node 'sl' \(Slice\): step 0 is not a non-zero integer/,
    );
    await expectRefusal(
      'Transpose perm [0,0,0,0]',
      () =>
        sn.loadONNX(
          onnxModel(
            [
              { op: 'Transpose', name: 'tr', inputs: ['w'], outputs: ['wt'], attrs: [attrInts('perm', [0, 0, 0, 0])] },
              addTo('wt'),
            ],
            { inits: [tensor('w', [1, 2, 4, 4], new Array(32).fill(1))] },
          ),
        ),
      /perm \[0,0,0,0\] is not a permutation of the 4 axes/,
    );
  });

  it('a model value that would grow past 2^28 elements per sample (Resize by 1e5) is refused', async () => {
    await expectRefusal(
      'Resize 1e5',
      () =>
        sn.loadONNX(
          onnxModel([{ op: 'Resize', name: 'up', inputs: ['x', '', 'sc'], outputs: ['out'] }], {
            inits: [tensor('sc', [4], [1, 1, 1e5, 1e5])],
          }),
        ),
      /value of shape \[N, 2, 400000, 400000\] has 320000000000 elements per sample/,
    );
  });

  it('an initializer claiming 2^28 elements with 4 bytes of data is refused before allocation', async () => {
    await expectRefusal(
      'initializer dims lie',
      () =>
        sn.loadONNX(
          onnxModel([addTo('w')], {
            inits: [{ name: 'w', dims: [16384, 16384], data_type: 1, raw_data: new Uint8Array(4) }],
          }),
        ),
      /initializer 'w' would have shape \[16384,16384\], 2147483648 bytes/,
    );
  });
});

describe('long, deep and oddly named graphs', () => {
  /** A chain of `n` Relu nodes named `name(i)`. */
  const chain = (n: number, name: (i: number) => string) =>
    onnxModel(
      Array.from({ length: n }, (_, i) => ({
        op: 'Relu',
        name: name(i),
        inputs: [i === 0 ? 'x' : `v${i - 1}`],
        outputs: [i === n - 1 ? 'out' : `v${i}`],
      })),
    );
  const x = Float32Array.from({ length: 32 }, (_, i) => i - 16);
  const relu = Array.from(x, (v) => Math.max(v, 0));

  it('a 20,000-node chain: the importer and the model walk it without recursion; it loads and predicts', async () => {
    const bytes = chain(20000, (i) => `r${i}`);
    const t0 = performance.now();
    const plan = planImport(bytes);
    expect(plan.nodes.length).toBe(20000);
    expect(performance.now() - t0).toBeLessThan(5000);
    // The layer graph's walk and naming are iterative and linear: the chain loads and predicts.
    const m = await expectLoad('20k chain', () => sn.loadONNX(bytes), { ms: 20000 });
    expect(Array.from(predictFinite(m, x, [1, 2, 4, 4]))).toEqual(relu);
    m.dispose();
    const small = await expectLoad('2k chain', () => sn.loadONNX(chain(2000, (i) => `r${i}`)));
    expect(Array.from(predictFinite(small, x, [1, 2, 4, 4]))).toEqual(relu);
    small.dispose();
  }, 60_000);

  it('40,000 nodes sharing one name are named in linear time', async () => {
    const b = new Builder(
      13,
      null,
      new Budget(2 ** 30, (m) => {
        throw new Error(m);
      }),
    );
    const t0 = performance.now();
    const names = Array.from({ length: 40000 }, () => b.uniqueName('same'));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(new Set(names).size).toBe(40000);
    expect(names.slice(0, 3)).toEqual(['same', 'same_1', 'same_2']);
    expect(names[39999]).toBe('same_39999');
    // 40,000 parallel nodes named 'same' (a graph as wide as it is long would be too deep, see above).
    const wide = Array.from(
      { length: 40000 },
      (_, i): NodeSpec => ({ op: 'Relu', name: 'same', inputs: ['x'], outputs: [`v${i}`] }),
    );
    wide.push({
      op: 'Concat',
      name: 'same',
      inputs: wide.map((w) => w.outputs[0]!),
      outputs: ['out'],
      attrs: [attrInt('axis', 1)],
    });
    const bytes = onnxModel(wide, { inShape: [2] });
    const m = await expectLoad('40k same name', () => sn.loadONNX(bytes), { ms: 30000 });
    expect(m.layers.length).toBe(40002);
    expect(new Set(m.layers.map((l) => l.name)).size).toBe(m.layers.length);
    const y = predictFinite(m, new Float32Array([-1, 2]), [1, 2]);
    expect(y.length).toBe(80000);
    expect(Array.from(y.subarray(0, 4))).toEqual([0, 2, 0, 2]);
    m.dispose();
  }, 90_000);

  it('a 20,000-node cycle is refused', async () => {
    const n = 20000;
    const bytes = onnxModel(
      Array.from({ length: n }, (_, i) => ({
        op: 'Relu',
        name: `c${i}`,
        inputs: [`v${(i + n - 1) % n}`],
        outputs: [i === n - 1 ? 'out' : `v${i}`],
      })),
    );
    await expectRefusal('20k cycle', () => sn.loadONNX(bytes), /reads 'v19999', which no node|the graph has a cycle/);
  });

  it('prototype member names as op types, node, value and initializer names', async () => {
    for (const op of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      await expectRefusal(
        `op ${op}`,
        () => sn.loadONNX(onnxModel([{ op, name: op, inputs: ['x'], outputs: ['out'] }])),
        new RegExp(`unsupported operator at opset 13: ${op} \\(node '${op}'\\)`),
      );
    }
    const names = ['__proto__', 'constructor', 'toString', 'valueOf'];
    const bytes = onnxModel(
      [
        { op: 'Mul', name: '__proto__', inputs: ['x', 'constructor'], outputs: ['toString'] },
        { op: 'Relu', name: 'constructor', inputs: ['toString'], outputs: ['valueOf'] },
        { op: 'Identity', name: 'hasOwnProperty', inputs: ['valueOf'], outputs: ['out'] },
      ],
      { inits: [tensor('constructor', [1], [2])] },
    );
    const m = await expectLoad('prototype names', () => sn.loadONNX(bytes));
    expect(Array.from(predictFinite(m, x, [1, 2, 4, 4]))).toEqual(relu.map((v) => 2 * v));
    expect(names.length).toBe(4);
    m.dispose();
  });
});

describe('weights: finite, of a float type, float16 read', () => {
  /** A Conv of x by weights `w`: an initializer, or the name of a value the `extra` nodes compute. */
  const conv = (
    w: Record<string, unknown> | string,
    extra: NodeSpec[] = [],
    inits: Array<Record<string, unknown>> = [],
  ) =>
    onnxModel(
      [
        ...extra,
        { op: 'Conv', name: 'conv', inputs: ['x', typeof w === 'string' ? w : (w.name as string)], outputs: ['out'] },
      ],
      { inits: typeof w === 'string' ? inits : [w, ...inits] },
    );
  const W = Array.from({ length: 3 * 2 * 9 }, (_, i) => ((i % 7) - 3) / 8);
  const xs = Float32Array.from({ length: 32 }, (_, i) => ((i * 5) % 11) / 11 - 0.5);

  it('a stored NaN is refused, and loads with allowNonFinite', async () => {
    const bytes = conv(tensor('w', [3, 2, 3, 3], [Number.NaN, ...W.slice(1)]));
    await expectRefusal('stored NaN', () => sn.loadONNX(bytes), /initializer 'w' holds a NaN or infinite value/);
    const m = await expectLoad('stored NaN allowed', () => sn.loadONNX(bytes, { allowNonFinite: true }));
    m.dispose();
  });

  it('folded non-finite weights (a weight / 0, Sqrt of a negative, float64 overflow) are refused with the layer named', async () => {
    const div = conv(
      'wq',
      [{ op: 'Div', name: 'scale', inputs: ['w', 'zero'], outputs: ['wq'] }],
      [tensor('w', [3, 2, 3, 3], W), tensor('zero', [1], [0])],
    );
    await expectRefusal(
      'weight / 0',
      () => sn.loadONNX(div),
      /layer 'conv' \(node 'conv'\) would get weight 0 holding (-?Infinity|NaN)/,
    );
    const sqrt = conv(
      'wq',
      [{ op: 'Sqrt', name: 'root', inputs: ['w'], outputs: ['wq'] }],
      [tensor('w', [3, 2, 3, 3], W)],
    );
    await expectRefusal('Sqrt(-x)', () => sn.loadONNX(sqrt), /layer 'conv' .* holding NaN/);
    const big = conv(
      'wq',
      [{ op: 'Mul', name: 'grow', inputs: ['w', 'k'], outputs: ['wq'] }],
      [
        { name: 'w', dims: [3, 2, 3, 3], data_type: 11, double_data: W.map((v) => v * 1e300) },
        { name: 'k', dims: [], data_type: 11, double_data: [1] },
      ],
    );
    await expectRefusal('float64 past float32', () => sn.loadONNX(big), /holding -?Infinity/);
  });

  it('INT64 Conv weights are refused, as onnxruntime does', async () => {
    await expectRefusal(
      'int64 Conv weights',
      () => sn.loadONNX(conv(tensor('w', [3, 2, 3, 3], W.map(Math.round), 7))),
      /node 'conv' \(Conv\): weights must be of a float type, not an integer one/,
    );
  });

  it('float16 and bfloat16 weights load (converted once to float32); a float16 Inf is refused', async () => {
    const ref = await sn.loadONNX(conv(tensor('w', [3, 2, 3, 3], W)));
    const want = predictFinite(ref, xs, [1, 2, 4, 4]);
    ref.dispose();
    const half = W.map(float32ToFloat16);
    const f16 = {
      name: 'w',
      dims: [3, 2, 3, 3],
      data_type: 10,
      raw_data: new Uint8Array(new Uint16Array(half).buffer),
    };
    const m = await expectLoad('float16 raw', () => sn.loadONNX(conv(f16)));
    expect(Array.from(predictFinite(m, xs, [1, 2, 4, 4]))).toEqual(Array.from(want));
    m.dispose();
    const f16field = { name: 'w', dims: [3, 2, 3, 3], data_type: 10, int32_data: half };
    const m2 = await expectLoad('float16 int32_data', () => sn.loadONNX(conv(f16field)));
    expect(Array.from(predictFinite(m2, xs, [1, 2, 4, 4]))).toEqual(Array.from(want));
    m2.dispose();
    const bf = W.map((v) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16);
    const bf16 = { name: 'w', dims: [3, 2, 3, 3], data_type: 16, raw_data: new Uint8Array(new Uint16Array(bf).buffer) };
    const m3 = await expectLoad('bfloat16', () => sn.loadONNX(conv(bf16)));
    expect(Array.from(predictFinite(m3, xs, [1, 2, 4, 4]))).toEqual(Array.from(want));
    m3.dispose();
    const inf = { ...f16, raw_data: new Uint8Array(new Uint16Array([0x7c00, ...half.slice(1)]).buffer) };
    await expectRefusal('float16 Inf', () => sn.loadONNX(conv(inf)), /initializer 'w' holds a NaN or infinite value/);
  });
});
