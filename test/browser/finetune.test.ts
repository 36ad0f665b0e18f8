// The fine-tune page in real Chromium, driven through its UI as a user would: two named classes of
// synthetic images (stripes and checks, built here as RGBA pixels and encoded as lossless PNG files, so
// the page's real decode path — createImageBitmap, canvas, getImageData — gives back exactly these
// pixels), uploaded with the class cards' file inputs; training on the default MobileNetV3-small; new
// images in the "try" area. Node then runs the page's own modules (web/finetune-images.ts and
// web/finetune-model.ts over the library in src/) on the same pixels: the loss curve must be the same
// bits, the downloaded .simdnet must predict the page's probabilities bit for bit, and the .onnx must
// predict them in onnxruntime-node. A model with an open image size makes the page ask for one; a
// corrupt file gives a visible error.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { IMAGENET, type Rgba, toBatch } from '../../web/finetune-images.js';
import { extractFeatures, importBackbone, predictProbs, trainHead } from '../../web/finetune-model.js';
import {
  CHROMIUM,
  buildWeb,
  describeBrowser,
  launch,
  newPage,
  resultsDir,
  root,
  screenshotPath,
  startServer,
  type Server,
} from './harness.js';

const MODEL = join(root, 'web', 'model', 'mobilenetv3_small.onnx');
const PER_CLASS = 6;
const OPTS = { epochs: 8, batchSize: 4, learningRate: 0.01, seed: 3 };

/** Image `i` of class 0 (horizontal stripes) or 1 (checks): sizes from 70 to 170 px, colours from `i`. */
function pattern(cls: number, i: number): Rgba {
  const width = 70 + ((i * 37 + cls * 19) % 101);
  const height = 60 + ((i * 53 + cls * 7) % 97);
  const data = new Uint8Array(width * height * 4);
  const period = 6 + (i % 5);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const on = cls === 0 ? Math.floor((y + i) / period) % 2 : (Math.floor(x / period) + Math.floor(y / period)) % 2;
      const p = (y * width + x) * 4;
      data[p] = on ? 200 + ((i * 13) % 56) : (i * 29) % 80;
      data[p + 1] = on ? 180 - ((i * 17) % 90) : 40 + ((x + y) % 50);
      data[p + 2] = (x * 3 + y * 5 + i * 11) & 255;
      data[p + 3] = 255;
    }
  }
  return { data, width, height };
}

const CRC = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(b: Uint8Array): number {
  let c = -1;
  for (const v of b) c = CRC[(c ^ v) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** An 8-bit RGBA PNG of the pixels (no colour-space chunks: the browser decodes them unchanged). */
function png(img: Rgba): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const row = img.width * 4;
  const raw = Buffer.alloc((row + 1) * img.height);
  for (let y = 0; y < img.height; y++) raw.set(img.data.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const asFiles = (imgs: Rgba[], prefix: string) =>
  imgs.map((img, i) => ({ name: `${prefix}-${i}.png`, mimeType: 'image/png', buffer: png(img) }));

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

  const open = async () => {
    const { page, errors } = await newPage(context);
    await page.goto(`${server.url}finetune.html`);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    return { page, errors };
  };
  const card = (page: Page, n: number) => page.locator('.class-card').nth(n);

  it('trains two named classes of uploaded images: the loss curve, the try probabilities and the downloads match Node bit for bit', async () => {
    const { page, errors } = await open();
    expect(await page.textContent('#model-info')).toMatch(
      /^mobilenetv3_small\.onnx: [\d,]+ parameters, input 112×112×3\. .*\(512 features\)$/,
    );
    expect(await page.inputValue('#norm-mean')).toBe('0.485, 0.456, 0.406');
    expect(await page.inputValue('#norm-std')).toBe('0.229, 0.224, 0.225');
    expect(await page.isHidden('#camera')).toBe(true); // headless Chromium lists no camera

    // Classes: a third one added and removed again; the two left are renamed and get their images.
    expect(await page.locator('.class-card').count()).toBe(2);
    expect(await card(page, 0).locator('.remove').isDisabled()).toBe(true);
    await page.click('#add-class');
    expect(await page.locator('.class-card').count()).toBe(3);
    await card(page, 2).locator('.remove').click();
    expect(await page.locator('.class-card').count()).toBe(2);
    const imgs = [0, 1].map((c) => Array.from({ length: PER_CLASS }, (_, i) => pattern(c, i)));
    for (const [c, name] of ['stripes', 'checks'].entries()) {
      await card(page, c).locator('.class-name').fill(name);
      await card(page, c).locator('.class-files').setInputFiles(asFiles(imgs[c], name));
    }
    for (const c of [0, 1])
      await page.waitForSelector(`.class-card:nth-child(${c + 1})[data-count="${PER_CLASS}"]`, { timeout: 20_000 });
    expect(await card(page, 0).locator('.thumbs canvas').count()).toBe(PER_CLASS);

    await page.fill('input[name=epochs]', String(OPTS.epochs));
    await page.fill('input[name=batchSize]', String(OPTS.batchSize));
    await page.fill('input[name=lr]', String(OPTS.learningRate));
    await page.fill('input[name=seed]', String(OPTS.seed));
    await page.click('#start');
    await page.waitForSelector('body[data-state=done], body[data-error]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-error')).toBeNull();
    const losses: number[] = JSON.parse((await page.getAttribute('#curve', 'data-losses'))!);
    const steps = OPTS.epochs * Math.ceil((2 * PER_CLASS) / OPTS.batchSize);
    expect(losses.length).toBe(steps);
    expect(await page.textContent('#s-step')).toBe(`${steps}/${steps}`);
    expect(await page.textContent('#s-features')).toBe(`${2 * PER_CLASS}/${2 * PER_CLASS} new`);
    expect(await page.locator('#curve polyline').count()).toBe(1);

    // New images in the try area: probabilities for both classes, by name.
    const tries = [pattern(0, 20), pattern(1, 21), pattern(0, 22)];
    await page.setInputFiles('#try-files', asFiles(tries, 'try'));
    await page.waitForSelector(`#try-list[data-count="${tries.length}"][data-probs]`, { timeout: 20_000 });
    const probs: number[] = JSON.parse((await page.getAttribute('#try-list', 'data-probs'))!);
    expect(probs.length).toBe(tries.length * 2);
    expect(await page.locator('#try-list li .bar').count()).toBe(tries.length * 2);
    expect(await page.textContent('#try-list li:first-child')).toMatch(/stripes.*%.*checks.*%/s);
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
    expect(simdnet.name).toBe('mobilenetv3_small-finetuned.simdnet');
    expect(onnx.name).toBe('mobilenetv3_small-finetuned.onnx');

    // Training again reuses every image's features and, with the same seed, retraces the same curve.
    await page.click('#start');
    await page.waitForSelector('body[data-state=done], body[data-error]', { timeout: 30_000 });
    expect(await page.textContent('#s-features')).toBe('0/0 new');
    expect(JSON.parse((await page.getAttribute('#curve', 'data-losses'))!)).toEqual(losses);
    expect(JSON.parse((await page.getAttribute('#try-list', 'data-probs'))!)).toEqual(probs);
    expect(errors).toEqual([]);
    await page.close();

    // Node: the page's modules on the same pixels, the same 'simd' kernels on one thread.
    await sn.ready({ threads: 1 });
    const b = await importBackbone(new Uint8Array(readFileSync(MODEL)));
    const all = [...imgs[0], ...imgs[1]];
    const feats = extractFeatures(b, toBatch(all, b.inputShape, IMAGENET), all.length);
    const labels = all.map((_, i) => (i < PER_CLASS ? 0 : 1));
    const { head, losses: nodeLosses } = await trainHead(feats, labels, { ...OPTS, classes: 2 });
    head.dispose();
    // The default model's import itself against onnxruntime-node (NCHW there), on the first two images.
    const x2 = toBatch(all.slice(0, 2), b.inputShape, IMAGENET);
    const nchw = new Float32Array(x2.length);
    for (let i = 0; i < 2; i++)
      for (let p = 0; p < 112 * 112; p++)
        for (let c = 0; c < 3; c++) nchw[(i * x2.length) / 2 + c * 112 * 112 + p] = x2[(i * x2.length) / 2 + p * 3 + c];
    const ref = await ort.InferenceSession.create(readFileSync(MODEL), { intraOpNumThreads: 1 });
    const want = (await ref.run({ image: new ort.Tensor('float32', nchw, [2, 3, 112, 112]) })).logits
      .data as Float32Array;
    const mine = predictProbs(b.model, x2, 2, b.inputShape); // the import's own 100 logits
    const scale = Math.max(...Array.from(want, Math.abs));
    let far = 0;
    for (let i = 0; i < want.length; i++) far = Math.max(far, Math.abs(mine[i] - want[i]));
    console.log(
      `default model import vs onnxruntime-node: max |Δlogit| ${far.toExponential(2)} (max |logit| ${scale.toFixed(3)})`,
    );
    expect(mine.length).toBe(200);
    expect(far).toBeLessThan(1e-4 * scale);
    b.model.dispose();
    expect(losses).toEqual(nodeLosses);
    const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
    const perEpoch = steps / OPTS.epochs;
    console.log(
      `fine-tune page: ${steps} steps, loss ${losses[0].toFixed(4)} → ${losses[steps - 1].toFixed(4)}; ` +
        `try probabilities ${probs.map((p) => p.toFixed(3)).join(' ')}`,
    );
    expect(mean(losses.slice(-perEpoch))).toBeLessThan(mean(losses.slice(0, perEpoch)));

    const x = toBatch(tries, b.inputShape, IMAGENET);
    const m = sn.loadModel(simdnet.bytes);
    expect(Array.from(predictProbs(m, x, tries.length, b.inputShape))).toEqual(probs);
    m.dispose();
    const s = await ort.InferenceSession.create(onnx.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [tries.length, 112, 112, 3]) });
    const got = out[s.outputNames[0]].data as Float32Array;
    expect(got.length).toBe(probs.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - probs[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  it('asks for the image size of a model that leaves it open; a corrupt file shows an error naming it', async () => {
    const { page, errors } = await open();
    // The default model with its height and width turned into named dims, as a dynamic_axes export has them.
    const type = onnxType('ModelProto');
    const msg = type.decode(readFileSync(MODEL)) as unknown as {
      graph: { input: Array<{ type: { tensor_type: { shape: { dim: object[] } } } }> };
    };
    const dims = msg.graph.input[0].type.tensor_type.shape.dim;
    dims[2] = { dim_param: 'height' };
    dims[3] = { dim_param: 'width' };
    const open_ = type.encode(msg).finish();
    await page.setInputFiles('#model-file', {
      name: 'open.onnx',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(open_),
    });
    await page.waitForSelector('#size-ask:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#model-info')).toMatch(/open\.onnx: its input 'image' has no fixed image size/);
    await page.fill('#ask-h', '96');
    await page.fill('#ask-w', '128');
    await page.click('#ask-ok');
    await page.waitForSelector('body[data-model="open.onnx"][data-state=idle]', { timeout: 20_000 });
    expect(await page.textContent('#model-info')).toMatch(/input 96×128×3\. .*\(512 features\)$/);
    expect(await page.textContent('#input-info')).toBe('96×128 pixels, RGB');

    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253])], 'broken.onnx'));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
    });
    await page.waitForSelector('body[data-error]', { timeout: 10_000 });
    const text = await page.textContent('#model-info');
    expect(text).toMatch(/could not use broken\.onnx: .*not an ONNX model/);
    expect(text).toMatch(/still using open\.onnx/);
    expect(await page.locator('#drop.error').count()).toBe(1);
    expect(await page.isEnabled('#start')).toBe(true);

    // Training without images says which class has none.
    await page.click('#start');
    await page.waitForFunction(() => /class "Class 1" has no images yet/.test(document.body.dataset.error ?? ''));
    expect(await page.textContent('#train-msg')).toBe('error: class "Class 1" has no images yet');
    await page.screenshot({ path: screenshotPath('finetune-page-error.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("with a camera (Chromium's fake device) shows it and adds snapshots to a class and to the try area", async () => {
    const { chromium } = await import('playwright-core');
    const camBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false,
      args: ['--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
    });
    try {
      const ctx = await camBrowser.newContext({ permissions: ['camera'] });
      const { page, errors } = await newPage(ctx);
      await page.goto(`${server.url}finetune.html`);
      // The camera is looked for before the model is imported; snapshots need no model yet.
      await page.waitForSelector('#camera:not([hidden])', { timeout: 30_000 });
      expect(await page.isHidden('.class-card .snap >> nth=0')).toBe(true); // until the camera runs
      await page.click('#cam-toggle');
      await page.waitForSelector('.class-card .snap >> nth=0', { state: 'visible', timeout: 10_000 });
      await card(page, 0).locator('.snap').click();
      await card(page, 0).locator('.snap').click();
      await card(page, 1).locator('.snap').click();
      await page.waitForSelector('.class-card:nth-child(1)[data-count="2"]', { timeout: 10_000 });
      await page.waitForSelector('.class-card:nth-child(2)[data-count="1"]', { timeout: 10_000 });
      await page.click('#try-snap');
      await page.waitForSelector('#try-list[data-count="1"]', { timeout: 10_000 });
      expect(await page.textContent('#try-list li')).toBe('train first');
      await page.click('#cam-toggle');
      expect(await page.isHidden('#try-snap')).toBe(true);
      expect(errors).toEqual([]);
      await ctx.close();
    } finally {
      await camBrowser.close();
    }
  });
});
