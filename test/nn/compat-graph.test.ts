// Graph model files: the recorded functional-model file loads, predicts what it predicted, and the
// model rebuilt and trained now writes the same architecture and weights; damaged topologies (a
// cycle, a reference to a missing node, a mismatched layer list) are clear loadModel errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { FILE_GRAPH, PRED_GRAPH } from './compat-graph-files.js';
import { GRAPH_X, compatGraphModel, trainCompatGraph } from './compat-graph-model.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = (m: sn.Model) => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
});

const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** The JSON header (without its version field) and the float32 data its slices address. */
function parts(file: Uint8Array): { header: Record<string, unknown>; floats: Float32Array } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hlen = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen)));
  delete header.version;
  const slices = [
    ...header.weights,
    ...(header.state ?? []),
    ...Object.values(header.optimizerState?.slots ?? {}).flat(),
  ] as Array<{ offset: number; length: number }>;
  const n = Math.max(0, ...slices.map((s) => s.offset + s.length));
  const floats = new Float32Array(n);
  for (let i = 0; i < n; i++) floats[i] = dv.getFloat32(16 + hlen + i * 4, true);
  return { header, floats };
}

function withHeader(file: Uint8Array, edit: (h: any) => void): Uint8Array {
  const hlen = new DataView(file.buffer, file.byteOffset).getUint32(12, true);
  const h = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + hlen)));
  edit(h);
  const json = new TextEncoder().encode(JSON.stringify(h));
  const padded = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(16 + padded + file.length - 16 - hlen);
  out.set(file.subarray(0, 16));
  out.fill(0x20, 16, 16 + padded);
  out.set(json, 16);
  new DataView(out.buffer).setUint32(12, padded, true);
  out.set(file.subarray(16 + hlen), 16 + padded);
  return out;
}

describe('graph model files', () => {
  it('the recorded file loads as the same graph and predicts what it predicted', () => {
    const m = track(sn.loadModel(fromB64(FILE_GRAPH)));
    expect(m.isSequential).toBe(false);
    expect(m.name).toBe('compat_graph');
    expect(m.getLayer('gate').trainable).toBe(false);
    expect(m.layers.map((l) => l.className)).toEqual(compatGraphModel().layers.map((l) => l.className));
    const p = m.predict(GRAPH_X);
    const got = Array.from(p.dataSync());
    p.dispose();
    got.forEach((v, i) => expect(Math.abs(v - PRED_GRAPH[i]), `pred ${i}`).toBeLessThan(1e-6));
    if (sn.getEngine().build !== 'scalar') expect(got).toEqual(PRED_GRAPH);
  });

  it('the model rebuilt and trained now, and the loaded one saved again, give the recorded architecture and weights', () => {
    const want = parts(fromB64(FILE_GRAPH));
    const fresh = track(compatGraphModel());
    trainCompatGraph(fresh);
    const now = parts(new Uint8Array(fresh.save()));
    expect(now.header).toEqual(want.header);
    const again = parts(new Uint8Array(track(sn.loadModel(fromB64(FILE_GRAPH))).save()));
    expect(again.header).toEqual(want.header);
    expect(again.floats).toEqual(want.floats);
    if (sn.getEngine().build !== 'scalar') expect(now.floats).toEqual(want.floats);
    else Array.from(now.floats).forEach((v, i) => expect(Math.abs(v - want.floats[i])).toBeLessThan(1e-5));
  });

  it('a damaged topology is a clear loadModel error', () => {
    const file = fromB64(FILE_GRAPH);
    // add takes its input from multiply, which (through the gate) depends on add: a cycle.
    const cyc = withHeader(file, (h) => {
      h.graph.layers[3].inboundNodes = [
        [
          ['conv2d', 0, 0],
          ['multiply', 0, 0],
        ],
      ];
    });
    expect(() => sn.loadModel(cyc)).toThrow(
      /loadModel: graph: layers .*add.* wait on each other's outputs \(a cycle\)/,
    );
    const missing = withHeader(file, (h) => {
      h.graph.layers[3].inboundNodes = [
        [
          ['conv2d', 0, 0],
          ['nowhere', 0, 0],
        ],
      ];
    });
    expect(() => sn.loadModel(missing)).toThrow('loadModel: graph: layer add takes input from unknown layer nowhere');
    const badNode = withHeader(file, (h) => {
      h.graph.outputLayers = [['dense', 4, 0]];
    });
    expect(() => sn.loadModel(badNode)).toThrow('loadModel: graph: output ["dense",4,0] is not a node of the graph');
    const renamed = withHeader(file, (h) => {
      h.graph.layers[1].name = 'other';
    });
    expect(() => sn.loadModel(renamed)).toThrow('loadModel: graph entry 1 is "other" but layer 1 is conv2d');
    const short = withHeader(file, (h) => {
      h.graph.layers.pop();
    });
    expect(() => sn.loadModel(short)).toThrow('loadModel: header "graph" does not match its "layers" list');
    const wrongShape = withHeader(file, (h) => {
      h.graph.layers[8].inboundNodes = [
        [
          ['multiply', 0, 0],
          ['global_average_pooling2d', 0, 0],
        ],
      ];
    });
    expect(() => sn.loadModel(wrongShape)).toThrow(
      /loadModel: concatenate \(Concatenate\) cannot be applied to input \(None, 4, 4, 3\), \(None, 3\)/,
    );
  });
});
