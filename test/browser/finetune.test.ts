// The fine-tune page in real Chromium: import the bundled ONNX CNN, train a new even/odd head, check
// the loss fell, then check the downloads outside the browser: the .simdnet file in Node predicts
// exactly what the page showed, the .onnx file in onnxruntime-node predicts it too. A corrupt file
// dropped on the page gives a visible error.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Browser, BrowserContext } from 'playwright-core';
import * as sn from '../../src/index.js';
import {
  buildWeb,
  describeBrowser,
  launch,
  newPage,
  resultsDir,
  screenshotPath,
  startServer,
  type Server,
} from './harness.js';
import { readMnist } from './mnist.js';
import { parseIdx } from '../../src/data/idx.js';

describeBrowser('fine-tune page in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    buildWeb();
    browser = await launch();
    server = await startServer();
    context = await browser.newContext({ viewport: { width: 1000, height: 900 }, acceptDownloads: true });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('fine-tunes the bundled ONNX CNN for even/odd; the .simdnet and .onnx downloads predict what the page showed', async () => {
    const { page, errors } = await newPage(context);
    await page.goto(`${server.url}finetune.html`);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    expect(await page.textContent('#model-info')).toMatch(
      /mnist_cnn\.onnx: 11 layers, 9,194 parameters\. .*\(\[784\] features\)/,
    );
    await page.click('#start');
    await page.waitForSelector('body[data-state=done], body[data-error]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-error')).toBeNull();
    const first = Number(await page.getAttribute('body', 'data-first-batch-loss'));
    const e1 = Number(await page.getAttribute('body', 'data-first-epoch-loss'));
    const e3 = Number(await page.getAttribute('body', 'data-last-epoch-loss'));
    console.log(
      `fine-tune page: first batch loss ${first.toFixed(4)}, epoch 1 ${e1.toFixed(4)}, epoch 3 ${e3.toFixed(4)}`,
    );
    expect(e3).toBeLessThan(e1);
    expect(e3).toBeLessThan(first * 0.85);
    expect(await page.textContent('#s-epoch')).toBe('3/3');
    expect(await page.textContent('#s-batch')).toBe('63/63'); // the page's defaults: 2000 images, batches of 32
    expect(await page.textContent('#s-acc')).toMatch(/^\d+\.\d%$/);
    const held = parseFloat((await page.textContent('#s-val'))!);
    expect(held).toBeGreaterThan(70); // chance is ~50%; random frozen features allow ~80%
    const probes = page.locator('#probes');
    const firstIndex = Number(await probes.getAttribute('data-first'));
    const probs: number[] = JSON.parse((await probes.getAttribute('data-probs'))!);
    expect(await page.locator('#probes li').count()).toBe(probs.length / 2);
    await page.screenshot({ path: screenshotPath('finetune-page.png'), fullPage: true });

    mkdirSync(resultsDir, { recursive: true });
    const save = async (button: string) => {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      const file = join(resultsDir, d.suggestedFilename());
      await d.saveAs(file);
      return { name: d.suggestedFilename(), bytes: new Uint8Array(readFileSync(file)) };
    };
    const simdnet = await save('#save-simdnet');
    const onnx = await save('#save-onnx');
    expect(simdnet.name).toBe('mnist_cnn-finetuned.simdnet');
    expect(onnx.name).toBe('mnist_cnn-finetuned.onnx');

    // The probe images, as the page made them (MNIST test images from data-first on, / 255).
    const n = probs.length / 2;
    const images = parseIdx(readMnist('t10k-images-idx3-ubyte'), 't10k-images-idx3-ubyte').data;
    const x = Float32Array.from(images.subarray(firstIndex * 784, (firstIndex + n) * 784), (v) => v / 255);

    // Node, same 'simd' kernels on one thread as the page: the same bits.
    await sn.ready({ threads: 1 });
    const m = sn.loadModel(simdnet.bytes);
    const y = m.predict({ data: x, shape: [n, 28, 28, 1] });
    expect(Array.from(y.dataSync())).toEqual(Array.from(Float32Array.from(probs)));
    y.dispose();
    m.dispose();

    // onnxruntime: NHWC input, the same probabilities to float rounding.
    const s = await ort.InferenceSession.create(onnx.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [n, 28, 28, 1]) });
    const got = out[s.outputNames[0]].data as Float32Array;
    expect(got.length).toBe(probs.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - probs[i]));
    expect(worst).toBeLessThan(1e-5);

    // A second run (one epoch) from the same import works: the first model's disposal leaves it alone.
    await page.fill('input[name=epochs]', '1');
    await page.click('#start');
    await page.waitForSelector('body[data-state=done], body[data-error]', { timeout: 30_000 });
    expect(await page.getAttribute('body', 'data-error')).toBeNull();
    expect(await page.textContent('#s-epoch')).toBe('1/1');
    expect(Number(await page.getAttribute('body', 'data-last-epoch-loss'))).toBe(e1); // same seed, same first epoch
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a corrupt file dropped on the page shows an error naming the file; the bundled model stays in use', async () => {
    const { page, errors } = await newPage(context);
    await page.goto(`${server.url}finetune.html`);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253])], 'broken.onnx'));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
    });
    await page.waitForSelector('body[data-error]', { timeout: 10_000 });
    const text = await page.textContent('#model-info');
    expect(text).toMatch(/could not use broken\.onnx: .*not an ONNX model/);
    expect(text).toMatch(/still using mnist_cnn\.onnx/);
    expect(await page.locator('#drop.error').count()).toBe(1);
    expect(await page.isEnabled('#start')).toBe(true);
    await page.screenshot({ path: screenshotPath('finetune-page-error.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
