// torchvision's ConvNeXt (a reduced one: three stages of one block, widths 8/16/32, 40x40 input) as
// torch.onnx.export writes it at opsets 13 and 17 (scripts/fixtures/convnext.py): the block's
// depthwise 7x7 conv, Permute to channels-last, LayerNorm, Linear, GELU (the Erf chain), Linear,
// layer-scale Mul, Permute back and the residual Add; LayerNorm2d around the downsampling convs.
// Imported with sn.loadONNX and checked against PyTorch's output and onnxruntime-node's, fine-tuned
// one step, then exported with sn.toONNX and run by onnxruntime-node.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { toONNX } from '../../src/formats/onnx/export.js';
import { diff, runOrt } from './fixtures.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/convnext');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  inputShape: number[];
  outputShape: number[];
  files: Record<string, { file: string; opset: number }>;
};
const f32 = (p: string) => {
  const b = readFileSync(join(DIR, p));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const input = f32('convnext_small.input.bin');
const torchOut = f32('convnext_small.output.bin');

beforeAll(async () => {
  await sn.ready();
});

const layerCount = (m: sn.Model, c: string) => m.layers.filter((l) => l.className === c).length;

describe('ConvNeXt (torchvision, reduced) from torch.onnx.export', () => {
  for (const [name, { file, opset }] of Object.entries(manifest.files)) {
    it(`${name} (opset ${opset}): matches PyTorch and onnxruntime, takes a fit step, exports back`, async () => {
      const bytes = new Uint8Array(readFileSync(join(DIR, file)));
      const m = await sn.loadONNX(bytes);
      // One GELU and one LayerNormalization layer each, whatever the opset wrote: 3 blocks, and
      // LayerNorm2d after the stem, before each of the 2 downsamplings and in the classifier.
      expect(layerCount(m, 'GELU')).toBe(3);
      expect(layerCount(m, 'LayerNormalization')).toBe(3 + 4);
      expect(layerCount(m, 'Erf')).toBe(0);
      const shape = manifest.inputShape;
      const x = sn.tensor(input, shape);
      const y = (m.predict(x) as sn.Tensor).dataSync().slice();
      const vsTorch = diff(y, torchOut);
      expect(vsTorch.scale).toBeGreaterThan(0.1);
      expect(vsTorch.max).toBeLessThanOrEqual(1e-4 * vsTorch.scale);
      const vsOrt = diff(y, await runOrt(bytes, input, shape));
      expect(vsOrt.max).toBeLessThanOrEqual(1e-4 * vsOrt.scale);

      // One SGD step on two labelled examples: finite loss, every trainable weight moves.
      const labels = new Float32Array(20);
      labels[3] = 1;
      labels[10 + 7] = 1;
      const t = sn.tensor(labels, [2, 10]);
      m.compile({
        optimizer: new sn.SGD({ learningRate: 0.05 }),
        loss: new sn.losses.CategoricalCrossentropy({ fromLogits: true }),
      });
      const trainable = m.layers.flatMap((l) => l.weights);
      const before = trainable.map((w) => w.value.dataSync().slice());
      const h = await m.fit(x, t, { epochs: 1, batchSize: 2 });
      expect(Number.isFinite(h.history.loss[0])).toBe(true);
      const moved = trainable.filter((w, i) => w.value.dataSync().some((v, j) => v !== before[i][j]));
      expect(moved.length).toBe(trainable.length);
      const tuned = (m.predict(x) as sn.Tensor).dataSync().slice();
      expect(diff(tuned, y).max).toBeGreaterThan(0);

      // Exported back (opset 13: GELU as its Erf chain, LayerNorm written out), run by onnxruntime.
      const back = toONNX(m);
      const vsBack = diff(await runOrt(back, input, shape), tuned);
      expect(vsBack.max).toBeLessThanOrEqual(1e-5 * vsBack.scale);
      const again = await sn.loadONNX(back);
      expect(layerCount(again, 'GELU')).toBe(3);
      expect(layerCount(again, 'LayerNormalization')).toBe(3 + 4);
      const y2 = (again.predict(x) as sn.Tensor).dataSync();
      expect(diff(y2, tuned).max).toBeLessThanOrEqual(1e-5 * vsBack.scale);
      for (const z of [m, again]) z.dispose();
      for (const z of [x, t]) z.dispose();
    });
  }
});
