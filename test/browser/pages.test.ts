// The demo pages in real Chromium: draw real MNIST digits with the mouse and read the answer, train in
// the worker (threads when cross-origin isolated), stop, download the model, and work offline.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
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
import { inkRuns, testDigits } from './mnist.js';

describeBrowser('demo pages in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    buildWeb();
    browser = await launch(); // first: it fails at once when Chromium is missing in CI
    server = await startServer();
    context = await browser.newContext({ viewport: { width: 1000, height: 720 }, acceptDownloads: true });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  // The first test image of each class 0..9.
  const { pixels, labels } = testDigits(100);
  const picks = Array.from({ length: 10 }, (_, d) => labels.indexOf(d));

  /** Drags the pointer along every ink run of one MNIST image (10 pad pixels per MNIST pixel). */
  async function drawDigit(page: Page, i: number): Promise<number> {
    const box = (await page.locator('#pad').boundingBox())!;
    const s = box.width / 28;
    const runs = inkRuns(pixels.subarray(i * 784, (i + 1) * 784));
    for (const [y, x0, x1] of runs) {
      const py = box.y + (y + 0.5) * s;
      await page.mouse.move(box.x + (x0 + 0.25) * s, py);
      await page.mouse.down();
      await page.mouse.move(box.x + (x1 + 0.75) * s, py);
      await page.mouse.up();
    }
    return runs.length;
  }

  /**
   * Clears the pad, draws test image i, waits for the classification of the whole drawing. The runs
   * replayed already have MNIST's stroke width, so the pen is set to about one MNIST pixel (12 of
   * 280); the default pen (18) is for a stroke drawn as a line, as people draw.
   */
  async function classifyDrawn(page: Page, i: number): Promise<number> {
    await page.locator('#pen').fill('12');
    await page.click('#clear');
    const strokes = await drawDigit(page, i);
    await page.waitForSelector(`#result[data-strokes="${strokes}"]`, { timeout: 10_000 });
    return Number(await page.getAttribute('#result', 'data-digit'));
  }

  const online: number[] = []; // what the draw page read, per class, for the offline test to compare

  it('draw page: strokes of 10 real MNIST test digits are read back right (≥ 9 of 10)', async () => {
    const { page, errors } = await newPage(context);
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const got: number[] = [];
    for (const i of picks) got.push(await classifyDrawn(page, i));
    online.push(...got);
    const right = got.filter((g, d) => g === d).length;
    console.log(`draw page read ${got.join(' ')} for 0 1 2 3 4 5 6 7 8 9 (${right}/10)`);
    expect(right).toBeGreaterThanOrEqual(9);
    await page.screenshot({ path: screenshotPath('draw-page.png') });
    expect(await page.getAttribute('body', 'data-model')).toBe('mnist.simdnet');

    // The int8 choice: the page loads the quantized file and reads the same drawing as Node does
    // with that file on the page's own 28×28 input, probability for probability.
    const int8File = join(resultsDir, '..', 'web', 'model', 'mnist.int8.simdnet');
    await page.selectOption('#model-choice', 'mnist.int8.simdnet');
    await page.waitForSelector('body[data-model="mnist.int8.simdnet"]', { timeout: 10_000 });
    const mb = (statSync(int8File).size / 1e6).toFixed(2);
    expect(await page.textContent('#status')).toContain(`model: mnist.int8.simdnet (${mb} MB)`);
    const digit = await classifyDrawn(page, picks[3]);
    const seen = await page.evaluate(() => {
      const d = (globalThis as unknown as { drawPage: { input: Float32Array; probs: Float32Array } }).drawPage;
      return { input: Array.from(d.input), probs: Array.from(d.probs) };
    });
    await sn.ready({ threads: 1 });
    const q = sn.loadModel(new Uint8Array(readFileSync(int8File)));
    const qy = q.predict({ data: Float32Array.from(seen.input), shape: [1, 28, 28, 1] });
    const nodeProbs = Array.from(qy.dataSync());
    qy.dispose();
    q.dispose();
    const nodeDigit = nodeProbs.indexOf(Math.max(...nodeProbs));
    console.log(`int8 on the draw page read ${digit} (Node: ${nodeDigit}), p = ${seen.probs[digit].toFixed(4)}`);
    expect(digit).toBe(nodeDigit);
    expect(seen.probs).toEqual(nodeProbs);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('train page: trains in a worker (threads when isolated), stops, downloads a model that loads in Node', async () => {
    const { page, errors } = await newPage(context);
    await page.goto(`${server.url}train.html`);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    await page.selectOption('select[name=arch]', 'small');
    await page.fill('input[name=trainLimit]', '3000');
    await page.fill('input[name=testLimit]', '1000');
    await page.fill('input[name=epochs]', '2');
    await page.click('#start');
    await page.waitForSelector('body[data-state=done]', { timeout: 90_000 });
    const badge = page.locator('#engine');
    expect(await badge.getAttribute('data-build')).toBe('threads');
    expect(Number(await badge.getAttribute('data-threads'))).toBe(cores);
    expect(await badge.textContent()).toMatch(new RegExp(`'threads' build · ${cores} thread`));
    expect(await page.textContent('#s-batch')).toBe('47/47');
    const val = parseFloat((await page.textContent('#s-val'))!);
    expect(val).toBeGreaterThan(85);
    expect(await page.locator('#curve polyline.batch').getAttribute('points')).toMatch(/(\S+ ){90}/);
    await page.screenshot({ path: screenshotPath('train-page.png'), fullPage: true });

    // Download: the file is a simdnet model that Node loads and that classifies MNIST.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe('mnist-small.simdnet');
    await sn.ready({ threads: 1 });
    const m = sn.loadModel(new Uint8Array(readFileSync(file)));
    expect(m.countParams()).toBe(52_266);
    const x = Float32Array.from(pixels.subarray(0, 100 * 784), (v) => v / 255);
    const y = m.predict({ data: x, shape: [100, 28, 28, 1] });
    const p = y.dataSync();
    let correct = 0;
    for (let r = 0; r < 100; r++) {
      let b = 0;
      for (let k = 1; k < 10; k++) if (p[r * 10 + k] > p[r * 10 + b]) b = k;
      if (b === labels[r]) correct++;
    }
    y.dispose();
    m.dispose();
    expect(correct).toBeGreaterThan(80);

    // Stop: a longer run stops after the current batch.
    await page.fill('input[name=trainLimit]', '60000');
    await page.fill('input[name=epochs]', '1');
    await page.click('#start');
    expect(await page.evaluate(() => document.body.dataset.step)).toBeUndefined();
    await page.waitForFunction(() => Number(document.body.dataset.step) >= 3, undefined, { timeout: 60_000 });
    await page.click('#stop');
    await page.waitForSelector('body[data-state=stopped]', { timeout: 30_000 });
    expect(await page.textContent('#log')).toMatch(/stopped after/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('without cross-origin isolation: both pages still work, on one thread, and the train page says so', async () => {
    // Same server, but the COOP/COEP headers are stripped from the pages' documents.
    const plain = await browser.newContext({ serviceWorkers: 'block' });
    await plain.route(/\/(train\.html)?$/, async (route) => {
      const res = await route.fetch();
      const headers = { ...res.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response: res, headers });
    });
    const { page, errors } = await newPage(plain);
    await page.goto(server.url);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await page.waitForSelector('body[data-ready], body[data-error]', { timeout: 30_000 });
    expect(await page.getAttribute('body', 'data-error')).toBeNull();
    expect(await page.textContent('#status')).toMatch(/'simd' build, 1 thread/);
    await page.goto(`${server.url}train.html`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await page.selectOption('select[name=arch]', 'small');
    await page.fill('input[name=trainLimit]', '256');
    await page.fill('input[name=testLimit]', '0');
    await page.click('#start');
    await page.waitForSelector('body[data-state=done], body[data-state=error]', { timeout: 60_000 });
    expect(await page.textContent('#log')).not.toMatch(/error/);
    const badge = page.locator('#engine');
    expect(await badge.getAttribute('data-build')).toBe('simd');
    expect(await badge.getAttribute('data-threads')).toBe('1');
    expect(await badge.textContent()).toMatch(/'simd' build · 1 thread \(page not cross-origin isolated\)/);
    expect(errors).toEqual([]);
    await plain.close();
  });

  it('offline: after the first load the draw page reloads and classifies with the network blocked', async () => {
    const { page, errors } = await newPage(context);
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    // The service worker has precached everything once it is active.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
      expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
      // The network really is gone: data the service worker does not cache cannot be fetched.
      const fetched = await page.evaluate(() =>
        fetch('data/t10k-labels-idx1-ubyte').then(
          () => 'fetched',
          () => 'failed',
        ),
      );
      expect(fetched).toBe('failed');
      // Offline it reads a digit as it did online (or right, when run alone).
      expect(await classifyDrawn(page, picks[3])).toBe(online.length ? online[3] : 3);
      await page.screenshot({ path: screenshotPath('draw-page-offline.png') });
    } finally {
      await context.setOffline(false);
    }
    // Only the deliberately failed fetch may have logged an error.
    expect(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED/.test(e))).toEqual([]);
    await page.close();
  });

  it('bundles: the inference bundle is under 120 KB gzipped', () => {
    const sizes = JSON.parse(readFileSync(join(resultsDir, '..', 'dist', 'web-sizes.json'), 'utf8'));
    expect(sizes.browser.gzip).toBeLessThanOrEqual(120 * 1024);
    expect(statSync(join(resultsDir, '..', 'dist', 'simdnet.full.js')).size).toBe(sizes.full.raw);
  });
});
