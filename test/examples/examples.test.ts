// The examples/ scripts, run through their main() on small MNIST subsets: the loss must fall, the
// saved-and-reloaded model must predict bit-identical values (main throws otherwise, and we compare
// again here), and onnxruntime-node running the exported ONNX must match predict() within 1e-4.
// The examples import the built package (dist/, made by `npm run build` / npm ci's prepare step).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';

const TOL = 1e-4;
const root = join(import.meta.dirname, '..', '..');

interface Host {
  data: Float32Array;
  shape: number[];
}
interface Result {
  before: number;
  after: number;
  running: number[];
  model: { predict(x: Host): { dataSync(): Float32Array; dispose(): void }; dispose(): void };
  saved: ArrayBuffer;
  onnx: Uint8Array;
  x: Host;
  prediction: Float32Array;
  testAccuracy?: number;
  identity?: number;
  svg?: string;
}
type Main = (opts: Record<string, unknown>) => Promise<Result>;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js')))
    throw new Error(`examples need the built package: run npm run build in ${root}`);
});

async function loadMain(name: string): Promise<Main> {
  return ((await import(join(root, 'examples', name))) as { main: Main }).main;
}

/** ORT on the first `n` images of x against the example's own prediction of them. */
async function ortDiff(r: Result, n: number): Promise<number> {
  const per = r.x.shape.slice(1).reduce((a, b) => a * b, 1);
  const x = r.x.data.subarray(0, n * per);
  const s = await ort.InferenceSession.create(r.onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  // One input and one output, whatever the exporter names them.
  expect([s.inputNames.length, s.outputNames.length]).toEqual([1, 1]);
  const [inName, outName] = [s.inputNames[0] as string, s.outputNames[0] as string];
  const out = await s.run({ [inName]: new ort.Tensor('float32', x, [n, ...r.x.shape.slice(1)]) });
  const got = out[outName]?.data as Float32Array;
  const want = r.prediction.subarray(0, got.length);
  expect(got.length).toBe((r.prediction.length / r.x.shape[0]) * n);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** The checks every example shares. */
async function checkCommon(name: string, r: Result): Promise<void> {
  const running = r.running.map((v) => v.toFixed(3)).join(' ');
  console.log(`${name}: loss ${r.before.toFixed(4)} -> ${r.after.toFixed(4)}; running ${running}`);
  expect(r.after, `${name}: held-out loss after training`).toBeLessThan(r.before);
  const [first, last] = [r.running[0], r.running[r.running.length - 1]];
  expect(last, `${name}: running training loss at the end vs its first print`).toBeLessThan(first);
  // Reload once more from the returned bytes: bit-identical predictions to the trained model's.
  const sn = await import(join(root, 'dist', 'index.js'));
  const loaded = sn.loadModel(r.saved);
  const p = loaded.predict(r.x);
  const again = p.dataSync() as Float32Array;
  expect(
    Buffer.from(again.buffer, again.byteOffset, again.byteLength).equals(
      Buffer.from(r.prediction.buffer, r.prediction.byteOffset, r.prediction.byteLength),
    ),
    `${name}: reload bits`,
  ).toBe(true);
  p.dispose();
  loaded.dispose();
  const diff = await ortDiff(r, Math.min(32, r.x.shape[0]));
  console.log(`${name}: max |onnxruntime - simdnet| = ${diff.toExponential(2)}`);
  expect(diff, `${name}: ONNX vs predict`).toBeLessThanOrEqual(TOL);
  r.model.dispose();
}

describe('examples', () => {
  it('resnet.mjs: residual stages with projection shortcuts train, reload and export', async () => {
    const r = await (await loadMain('resnet.mjs'))({ train: 2000, test: 200, batchSize: 32, quiet: true });
    await checkCommon('resnet', r);
    // Ten classes: chance is 10%; 63 steps of Adam are enough to beat it clearly.
    expect(r.testAccuracy).toBeGreaterThan(0.3);
  });

  it('mobilenetv2.mjs: inverted residual blocks with ReLU6 train, reload and export', async () => {
    const r = await (await loadMain('mobilenetv2.mjs'))({ train: 2000, test: 200, batchSize: 32, quiet: true });
    await checkCommon('mobilenetv2', r);
    expect(r.testAccuracy).toBeGreaterThan(0.3);
  });

  it('finetune-onnx.mjs: a PyTorch-exported CNN, frozen, gets a new head for even/odd and learns it', async () => {
    const r = await (await loadMain('finetune-onnx.mjs'))({ train: 2000, test: 200, epochs: 2, quiet: true });
    await checkCommon('finetune-onnx', r);
    // Two classes, about balanced: chance is ~50%.
    expect(r.testAccuracy).toBeGreaterThan(0.6);
  });

  it('denoise.mjs: the encoder-decoder beats the noisy input, reloads, exports, draws the SVG', async () => {
    const r = await (await loadMain('denoise.mjs'))({
      train: 640,
      test: 32,
      batchSize: 32,
      show: 4,
      svg: '',
      quiet: true,
    });
    await checkCommon('denoise', r);
    // Doing nothing scores the noisy input's own error; the model has to do better than that.
    expect(r.after).toBeLessThan(r.identity as number);
    const svg = r.svg ?? '';
    expect(svg.startsWith('<svg')).toBe(true);
    for (const row of ['noisy', 'denoised', 'clean']) expect(svg.split(`class="${row}"`).length - 1).toBe(4);
  });
});
