// The functional model of the graph-file fixture (compat-graph-files.ts), rebuilt by the tests: an
// input, a conv stem, a residual add with a 1x1 projection, a concatenated skip, a frozen Dense
// gate multiplied in (broadcast over height and width), a softmax head.
import * as sn from '../../src/index.js';

export function compatGraphModel(): sn.Model {
  const L = sn.layers;
  const x = sn.input({ shape: [4, 4, 2], name: 'pixels' });
  const stem = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
  const proj = L.conv2d({ filters: 3, kernelSize: 1 }).apply(x);
  const res = L.add().apply([stem, proj]);
  const gateLayer = L.dense({ units: 3, activation: 'sigmoid', name: 'gate' });
  gateLayer.trainable = false;
  const gated = L.multiply().apply([res, gateLayer.apply(L.globalAveragePooling2D().apply(res))]);
  const cat = L.concatenate({ axis: -1 }).apply([gated, L.maximum().apply([stem, proj])]);
  const y = L.dense({ units: 3, activation: 'softmax' }).apply(
    L.flatten().apply(L.averagePooling2d({ poolSize: 2 }).apply(cat)),
  );
  return sn.model({ inputs: x, outputs: y, name: 'compat_graph', seed: 13 });
}

export const GRAPH_X = {
  data: Float32Array.from({ length: 3 * 32 }, (_, i) => ((i * 5) % 13) / 13 - 0.5),
  shape: [3, 4, 4, 2],
};
export const GRAPH_Y = { data: Float32Array.from([2, 0, 1]), shape: [3] };

/** Compiles with SGD(lr 0.1, momentum 0.9) and takes two trainOnBatch steps on GRAPH_X / GRAPH_Y. */
export function trainCompatGraph(m: sn.Model): void {
  m.compile({
    optimizer: new sn.SGD({ learningRate: 0.1, momentum: 0.9 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  m.trainOnBatch(GRAPH_X, GRAPH_Y);
  m.trainOnBatch(GRAPH_X, GRAPH_Y);
}
