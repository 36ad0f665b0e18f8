// ONNX import refuses what it cannot read with one clear error, before any layer or tensor exists:
// every unsupported operator at once (op types, node names, opset), malformed protobuf, tensors
// whose data does not match their dims, absurd dims, cycles, dangling inputs, external data.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { fixture } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

interface NodeSpec {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Array<Record<string, unknown>>;
}

const f32raw = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);

/** A small ModelProto: input x [N, 2, 4, 4], the given nodes and initializers, output `out`. */
function modelBytes(
  nodes: NodeSpec[],
  opts: { opset?: number; inits?: Array<Record<string, unknown>>; out?: string; inDims?: unknown[] } = {},
): Uint8Array {
  const obj = {
    ir_version: 8,
    opset_import: [{ domain: '', version: opts.opset ?? 13 }],
    graph: {
      name: 'g',
      node: nodes.map((n) => ({
        op_type: n.op,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attrs ?? [],
      })),
      initializer: opts.inits ?? [],
      input: [
        {
          name: 'x',
          type: {
            tensor_type: {
              elem_type: 1,
              shape: { dim: opts.inDims ?? [{ dim_param: 'N' }, { dim_value: 2 }, { dim_value: 4 }, { dim_value: 4 }] },
            },
          },
        },
      ],
      output: [{ name: opts.out ?? 'out', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
  const T = onnxType('ModelProto');
  const err = T.verify(obj);
  if (err) throw new Error(err);
  return T.encode(T.fromObject(obj)).finish();
}

const relu = (name: string, i: string, o: string): NodeSpec => ({ op: 'Relu', name, inputs: [i], outputs: [o] });

describe('loadONNX errors', () => {
  it('a valid tiny model imports (the builder below is sound)', async () => {
    const m = await sn.loadONNX(modelBytes([relu('r', 'x', 'out')]));
    const x = sn.tensor(
      Float32Array.from({ length: 32 }, (_, i) => i - 16),
      [1, 2, 4, 4],
    );
    const y = (m.predict(x) as sn.Tensor).dataSync();
    expect(Array.from(y)).toEqual(Array.from({ length: 32 }, (_, i) => Math.max(i - 16, 0)));
    m.dispose();
  });

  it('lists every unsupported operator with its nodes and the opset, before allocating anything', async () => {
    const bytes = modelBytes(
      [
        { op: 'LSTM', name: 'lstm_a', inputs: ['x'], outputs: ['a'] },
        { op: 'Hardmax', name: 'hardmax_1', inputs: ['a'], outputs: ['b'] },
        { op: 'LSTM', name: 'lstm_b', inputs: ['b'], outputs: ['c'] },
        relu('ok', 'c', 'd'),
        { op: 'Foo', name: 'custom', inputs: ['d'], outputs: ['out'] },
      ],
      { opset: 15 },
    );
    // Tensor ids are sequential: nothing allocated between two probes means their ids are adjacent.
    const probe = () => {
      const t = sn.zeros([1]);
      t.dispose();
      return t.id;
    };
    const before = probe();
    await expect(sn.loadONNX(bytes)).rejects.toThrow(
      /unsupported operators at opset 15: LSTM \(nodes 'lstm_a', 'lstm_b'\); Hardmax \(node 'hardmax_1'\); Foo \(node 'custom'\)/,
    );
    expect(probe()).toBe(before + 1);
  });

  it('names operators of other domains', async () => {
    const T = onnxType('ModelProto');
    const m = T.decode(modelBytes([relu('r', 'x', 'out')])) as unknown as {
      graph: { node: Array<{ domain: string }> };
    };
    m.graph.node[0].domain = 'com.microsoft';
    const bytes = T.encode(m as never).finish();
    await expect(sn.loadONNX(bytes)).rejects.toThrow(
      /unsupported operator at opset 13: com\.microsoft\.Relu \(node 'r'\)/,
    );
  });

  it('refuses opsets outside 1..21 and files without a default opset', async () => {
    await expect(sn.loadONNX(modelBytes([relu('r', 'x', 'out')], { opset: 0 }))).rejects.toThrow(
      /opset 0; the importer reads opsets 1 to 21/,
    );
    await expect(sn.loadONNX(modelBytes([relu('r', 'x', 'out')], { opset: 22 }))).rejects.toThrow(/opset 22/);
  });

  it('truncated or non-ONNX bytes', async () => {
    const f = fixture('lenet5_op11');
    await expect(sn.loadONNX(f.bytes.subarray(0, 1000))).rejects.toThrow(
      /loadONNX: the bytes are not an ONNX model \(protobuf decoding failed/,
    );
    await expect(sn.loadONNX(new TextEncoder().encode('hello world, not a model'))).rejects.toThrow(/loadONNX: /);
    await expect(sn.loadONNX(new Uint8Array(0))).rejects.toThrow(/loadONNX: the file has no graph/);
    await expect(sn.loadONNX('model.onnx' as unknown as Uint8Array)).rejects.toThrow(
      /expected the bytes of a \.onnx file/,
    );
  });

  it('a field of the wrong wire type', async () => {
    // Field 7 (graph) written as a varint instead of a length-delimited message.
    await expect(sn.loadONNX(Uint8Array.of(0x08, 0x08, 0x38, 0x05))).rejects.toThrow(
      /loadONNX: (the bytes are not an ONNX model|the file has no graph)/,
    );
    // A float where the graph's node list should be (length-delimited garbage inside the graph).
    await expect(sn.loadONNX(Uint8Array.of(0x3a, 0x04, 0x0a, 0x02, 0xff, 0xff))).rejects.toThrow(/loadONNX: /);
  });

  it('an initializer whose data does not match its dims', async () => {
    const inits = [{ name: 'w', dims: [3, 2, 1, 1], data_type: 1, raw_data: f32raw([1, 2, 3, 4, 5]) }];
    const conv: NodeSpec = { op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['out'] };
    await expect(sn.loadONNX(modelBytes([conv], { inits }))).rejects.toThrow(
      /initializer 'w': raw_data has 20 bytes, dims \[3,2,1,1\] of float32 need 24/,
    );
    const inits2 = [{ name: 'w', dims: [3, 2, 1, 1], data_type: 1, float_data: [1, 2] }];
    await expect(sn.loadONNX(modelBytes([conv], { inits: inits2 }))).rejects.toThrow(
      /initializer 'w': has 2 values, dims \[3,2,1,1\] need 6/,
    );
  });

  it('absurd dims', async () => {
    const inits = [{ name: 'w', dims: [100000, 100000, 3, 3], data_type: 1 }];
    const conv: NodeSpec = { op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['out'] };
    await expect(sn.loadONNX(modelBytes([conv], { inits }))).rejects.toThrow(
      /initializer 'w' declares 90000000000 elements/,
    );
    const neg = [{ name: 'w', dims: [-3, 2], data_type: 1 }];
    await expect(sn.loadONNX(modelBytes([conv], { inits: neg }))).rejects.toThrow(
      /initializer 'w' has an invalid dimension -3/,
    );
    const bigIn = [{ dim_param: 'N' }, { dim_value: 2 }, { dim_value: 5000000 }, { dim_value: 4 }];
    await expect(sn.loadONNX(modelBytes([relu('r', 'x', 'out')], { inDims: bigIn }))).rejects.toThrow(
      /input 'x' has an invalid size 5000000 on axis 2/,
    );
    const unknown = [{ dim_param: 'N' }, { dim_value: 2 }, { dim_param: 'H' }, { dim_value: 4 }];
    await expect(sn.loadONNX(modelBytes([relu('r', 'x', 'out')], { inDims: unknown }))).rejects.toThrow(
      /input 'x' has an unknown size on axis 2 \(H\).*or give the inputShape option/,
    );
  });

  it('inputShape fills the sizes a file leaves open, and must agree with those it fixes', async () => {
    const open = [{ dim_param: 'N' }, { dim_value: 2 }, { dim_param: 'H' }, { dim_param: 'W' }];
    const bytes = modelBytes([relu('r', 'x', 'out')], { inDims: open });
    const m = await sn.loadONNX(bytes, { inputShape: [2, 5, 3] });
    expect(m.inputShape).toEqual([2, 5, 3]);
    const y = m.predict({ data: Float32Array.from({ length: 30 }, (_, i) => i - 15), shape: [1, 2, 5, 3] });
    expect(Array.from(y.dataSync())).toEqual(Array.from({ length: 30 }, (_, i) => Math.max(0, i - 15)));
    y.dispose();
    m.dispose();
    await expect(sn.loadONNX(bytes, { inputShape: [3, 5, 3] })).rejects.toThrow(
      /inputShape \[3,5,3\] gives axis 1 size 3, but the file fixes it at 2/,
    );
    await expect(sn.loadONNX(bytes, { inputShape: [2, 5] })).rejects.toThrow(
      /inputShape \[2,5\] has 2 sizes; input 'x' has 3 besides the batch/,
    );
    await expect(sn.loadONNX(bytes, { inputShape: [2, 0, 3] })).rejects.toThrow(
      /inputShape must be an array of positive integer sizes/,
    );
  });

  it('a graph cycle and a dangling input', async () => {
    const cyc = [
      { op: 'Add', name: 'a1', inputs: ['x', 'b'], outputs: ['a'] },
      { op: 'Relu', name: 'r1', inputs: ['a'], outputs: ['b'] },
      relu('r2', 'b', 'out'),
    ];
    await expect(sn.loadONNX(modelBytes(cyc))).rejects.toThrow(/the graph has a cycle: nodes 'a1', 'r1'/);
    await expect(
      sn.loadONNX(modelBytes([{ op: 'Add', name: 'add', inputs: ['x', 'ghost'], outputs: ['out'] }])),
    ).rejects.toThrow(/node 'add' \(Add\) reads 'ghost', which no node, input or initializer produces/);
    await expect(sn.loadONNX(modelBytes([relu('r', 'x', 'y')]))).rejects.toThrow(
      /graph output 'out' is not produced by any node/,
    );
  });

  it('external data is refused with a clear message', async () => {
    const inits = [
      {
        name: 'w',
        dims: [3, 2, 1, 1],
        data_type: 1,
        data_location: 1,
        external_data: [
          { key: 'location', value: 'weights.bin' },
          { key: 'offset', value: '0' },
        ],
      },
    ];
    const conv: NodeSpec = { op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['out'] };
    await expect(sn.loadONNX(modelBytes([conv], { inits }))).rejects.toThrow(
      /initializer 'w' keeps its data outside the model file \(external data in 'weights\.bin'\); in Node, loadONNXFile/,
    );
  });

  it('Flatten with an axis that merges the batch axis names the node, the attribute and the shape it would give', async () => {
    const flatten = (axis: number): NodeSpec[] => [
      { op: 'Flatten', name: 'flat', inputs: ['x'], outputs: ['out'], attrs: [{ name: 'axis', type: 2, i: axis }] },
    ];
    await expect(sn.loadONNX(modelBytes(flatten(2)))).rejects.toThrow(
      /node 'flat' \(Flatten\): attribute axis 2 flattens \[N, 2, 4, 4\] to \[N\*2, 16\], which merges the batch axis/,
    );
    await expect(sn.loadONNX(modelBytes(flatten(0)))).rejects.toThrow(
      /node 'flat' \(Flatten\): attribute axis 0 flattens \[N, 2, 4, 4\] to \[1, N\*32\]/,
    );
    await expect(sn.loadONNX(modelBytes(flatten(-1)))).rejects.toThrow(/attribute axis -1 flattens .* to \[N\*8, 4\]/);
  });

  it('an attribute value outside what the importer reads names the node, the attribute and the value', async () => {
    const attr = (name: string, v: string | number) =>
      typeof v === 'number' ? { name, type: 2, i: v } : { name, type: 3, s: new TextEncoder().encode(v) };
    const pool = (attrs: Array<Record<string, unknown>>): NodeSpec[] => [
      {
        op: 'MaxPool',
        name: 'pool',
        inputs: ['x'],
        outputs: ['out'],
        attrs: [{ name: 'kernel_shape', type: 7, ints: [2, 2] }, ...attrs],
      },
    ];
    await expect(sn.loadONNX(modelBytes(pool([attr('auto_pad', 'SAME')])))).rejects.toThrow(
      /node 'pool' \(MaxPool\): attribute auto_pad must be one of 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID' \(auto_pad 'SAME'\)/,
    );
    await expect(sn.loadONNX(modelBytes(pool([attr('ceil_mode', 2)])))).rejects.toThrow(
      /node 'pool' \(MaxPool\): attribute ceil_mode is 2; expected 0 or 1/,
    );
    const resize: NodeSpec[] = [
      {
        op: 'Resize',
        name: 'up',
        inputs: ['x', '', 's'],
        outputs: ['out'],
        attrs: [attr('mode', 'linear'), attr('coordinate_transformation_mode', 'half-pixel')],
      },
    ];
    const inits = [{ name: 's', dims: [4], data_type: 1, float_data: [1, 1, 2, 2] }];
    await expect(sn.loadONNX(modelBytes(resize, { inits }))).rejects.toThrow(
      /node 'up' \(Resize\): attribute coordinate_transformation_mode must be one of .*\(coordinate_transformation_mode 'half-pixel'\)/,
    );
    const bySize: NodeSpec[] = [
      {
        op: 'Resize',
        name: 'up',
        inputs: ['x', '', '', 'sz'],
        outputs: ['out'],
        attrs: [attr('mode', 'nearest'), attr('keep_aspect_ratio_policy', 'fit')],
      },
    ];
    const sz = [{ name: 'sz', dims: [4], data_type: 7, int64_data: [1, 2, 8, 16] }];
    await expect(sn.loadONNX(modelBytes(bySize, { inits: sz, opset: 18 }))).rejects.toThrow(
      /node 'up' \(Resize\): attribute keep_aspect_ratio_policy must be one of .*\(keep_aspect_ratio_policy 'fit'\)/,
    );
  });

  it('op types that name Object members are unsupported operators, not prototype lookups', async () => {
    const nodes: NodeSpec[] = [
      { op: 'constructor', name: 'c', inputs: ['x'], outputs: ['a'] },
      { op: '__proto__', name: 'p', inputs: ['a'], outputs: ['b'] },
      { op: 'toString', name: 't', inputs: ['b'], outputs: ['out'] },
    ];
    await expect(sn.loadONNX(modelBytes(nodes))).rejects.toThrow(
      /unsupported operators at opset 13: constructor \(node 'c'\); __proto__ \(node 'p'\); toString \(node 't'\)/,
    );
  });

  it('an operator used in a way the importer does not map names the node', async () => {
    const nodes: NodeSpec[] = [
      {
        op: 'ReduceMean',
        name: 'mean_n',
        inputs: ['x'],
        outputs: ['out'],
        attrs: [{ name: 'axes', type: 7, ints: [0, 1] }],
      },
    ];
    await expect(sn.loadONNX(modelBytes(nodes))).rejects.toThrow(
      /node 'mean_n' \(ReduceMean\): reducing over the batch axis \(axes \[0,1\]/,
    );
    const pad: NodeSpec[] = [
      {
        op: 'Pad',
        name: 'symmetric',
        inputs: ['x', 'p'],
        outputs: ['out'],
        attrs: [{ name: 'mode', type: 3, s: new TextEncoder().encode('symmetric') }],
      },
    ];
    const inits = [{ name: 'p', dims: [8], data_type: 7, int64_data: [0, 0, 1, 1, 0, 0, 1, 1] }];
    await expect(sn.loadONNX(modelBytes(pad, { inits }))).rejects.toThrow(
      /node 'symmetric' \(Pad\): attribute mode must be one of .*\(mode 'symmetric'\)/,
    );
  });
});
