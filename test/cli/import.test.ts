// `simdnet import`, `simdnet summary` and the .onnx models that evaluate / predict / export accept:
// the CLI's numbers are the ones the library computes for the same imported model.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sn from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { loadAnyModel } from '../../src/cli/import.js';
import { loadModelFile } from '../../src/node/model.js';
import { loadIdxDir, defaultMnistDir } from '../../src/node/data.js';
import { fixture } from '../onnx/fixtures.js';

let dir = '';
beforeAll(async () => {
  await sn.ready();
  dir = await mkdtemp(join(tmpdir(), 'simdnet-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI and returns what it printed. */
async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  try {
    const code = await main(argv);
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('CLI with ONNX models', () => {
  it('import writes a .simdnet model that predicts what the ONNX file does', async () => {
    const f = fixture('resnet18_w12');
    const out = join(dir, 'resnet.simdnet');
    const r = await run(['import', f.path, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/imported .*resnet18_w12\.onnx in \d+ ms: input \[N, 3, 32, 32\], output \[N, 10\]/);
    expect(r.out).toMatch(/BatchNormalization/);
    expect((await stat(out)).size).toBeGreaterThan(100_000);
    const m = await loadModelFile(out);
    const y = (m.predict(sn.tensor(f.input, f.inputShape)) as sn.Tensor).dataSync();
    let d = 0;
    for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i] - f.output[i]));
    expect(d).toBeLessThan(1e-5);
    m.dispose();
    await expect(main(['import', f.path])).rejects.toThrow(/import: --out FILE\.simdnet is required/);
  });

  it('summary reads .onnx and .simdnet files', async () => {
    const f = fixture('opzoo_op17');
    const r = await run(['summary', '--model', f.path]);
    expect(r.code).toBe(0);
    for (const cls of ['PRelu', 'Slice', 'Pool2D', 'LogSoftmax', 'Conv2DTransp']) expect(r.out).toContain(cls);
    await expect(main(['summary'])).rejects.toThrow(/summary: --model FILE is required/);
  });

  it('evaluate and predict take an .onnx model (NHWC input, softmax appended to the logits)', async () => {
    const f = fixture('mnist_cnn');
    const r = await run(['evaluate', '--model', f.path, '--test-limit', '64', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out.trim().split('\n').pop()!);
    // The same numbers from the library: the imported model with a softmax on top.
    const m = await loadAnyModel(f.path, true);
    expect(m.inputShape).toEqual([28, 28, 1]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const te = (await loadIdxDir(defaultMnistDir(), { trainLimit: 0, testLimit: 64 })).test;
    const [loss, acc] = m.evaluate(
      { data: te.images, shape: [te.count, 28, 28, 1] },
      { data: te.labels, shape: [te.count] },
    );
    expect(res.test_examples).toBe(64);
    expect(res.test_loss).toBeCloseTo(loss, 6);
    expect(res.test_accuracy).toBeCloseTo(acc, 9);
    m.dispose();
  });
});
