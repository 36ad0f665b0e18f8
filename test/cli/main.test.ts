// The CLI end to end on a 2,000-image MNIST subset: train writes every file, evaluate and predict
// read the model it wrote.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { PNG } from 'pngjs';
import { main } from '../../src/cli/main.js';
import { loadIdxDir, defaultMnistDir } from '../../src/node/data.js';
import { loadModelFile } from '../../src/node/model.js';
import { mkdirSync } from 'node:fs';

let dir = '';
const logs: string[] = [];

async function run(args: string[]): Promise<string[]> {
  logs.length = 0;
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => {
    logs.push(a.join(' '));
  });
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    expect(await main(args)).toBe(0);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return [...logs];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('simdnet train / evaluate / predict', () => {
  let result: Record<string, number>;

  it('train on 2,000 images for 1 epoch reaches >= 90% on 1,000 test images and writes every file', async () => {
    const out = await run([
      'train',
      '--train-limit',
      '2000',
      '--test-limit',
      '1000',
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--out',
      dir,
      '--json',
    ]);
    result = JSON.parse(out[out.length - 1]);
    for (const k of [
      'test_accuracy',
      'test_loss',
      'epochs',
      'train_examples',
      'test_examples',
      'seconds',
      'examples_per_second',
    ]) {
      expect(typeof result[k], k).toBe('number');
    }
    expect(result.train_examples).toBe(2000);
    expect(result.test_examples).toBe(1000);
    expect(result.epochs).toBe(1);
    expect(result.test_accuracy).toBeGreaterThanOrEqual(0.9);

    for (const f of [
      'model.simdnet',
      'history.json',
      'curves.svg',
      'confusion.svg',
      'confusion.txt',
      'samples.svg',
      'report.md',
    ]) {
      expect((await stat(join(dir, f))).size, f).toBeGreaterThan(0);
    }
    const history = JSON.parse(await readFile(join(dir, 'history.json'), 'utf8'));
    expect(history.loss).toHaveLength(1);
    expect(history.val_accuracy[0]).toBeCloseTo(result.test_accuracy, 6);
    for (const f of ['curves.svg', 'confusion.svg', 'samples.svg']) {
      const svg = await readFile(join(dir, f), 'utf8');
      expect(XMLValidator.validate(svg), f).toBe(true);
    }
    const confusion = await readFile(join(dir, 'confusion.svg'), 'utf8');
    expect(confusion.match(/<rect class="cell"/g)).toHaveLength(100);
    const samples = await readFile(join(dir, 'samples.svg'), 'utf8');
    expect(samples.match(/<g class="sample/g)).toHaveLength(36);
    const report = await readFile(join(dir, 'report.md'), 'utf8');
    expect(report).toContain((result.test_accuracy * 100).toFixed(2));
    expect(report).toContain('confusion.svg');
  }, 400_000); // a full CLI run in a child process; slow only on a loaded machine

  it('evaluate on the written model gives the same accuracy', async () => {
    const out = await run(['evaluate', '--model', join(dir, 'model.simdnet'), '--test-limit', '1000', '--json']);
    const r = JSON.parse(out[out.length - 1]);
    expect(r.test_accuracy).toBe(result.test_accuracy);
    expect(r.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
  });

  it('predict classifies MNIST test digits written as PGM and PNG files', async () => {
    const data = await loadIdxDir(defaultMnistDir(), { trainLimit: 0, testLimit: 10 });
    const files: string[] = [];
    for (let i = 0; i < 10; i++) {
      const px = data.test.images.subarray(i * 784, (i + 1) * 784);
      if (i % 2 === 0) {
        const header = new TextEncoder().encode('P5\n28 28\n255\n');
        const bytes = new Uint8Array(header.length + 784);
        bytes.set(header);
        px.forEach((v, j) => {
          bytes[header.length + j] = Math.round(v * 255);
        });
        const f = join(dir, `digit${i}.pgm`);
        await writeFile(f, bytes);
        files.push(f);
      } else {
        // PNG at 56x56, dark digit on white: predict must invert and downscale it.
        const png = new PNG({ width: 56, height: 56 });
        for (let y = 0; y < 56; y++)
          for (let x = 0; x < 56; x++) {
            const g = 255 - Math.round(px[(y >> 1) * 28 + (x >> 1)] * 255);
            png.data.set([g, g, g, 255], (y * 56 + x) * 4);
          }
        const f = join(dir, `digit${i}.png`);
        await writeFile(f, PNG.sync.write(png));
        files.push(f);
      }
    }
    const out = await run(['predict', '--model', join(dir, 'model.simdnet'), '--json', ...files]);
    const r = JSON.parse(out[out.length - 1]) as Array<{ prediction: number; probabilities: number[] }>;
    expect(r).toHaveLength(10);
    for (const p of r) {
      expect(p.probabilities).toHaveLength(10);
      expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    const right = r.filter((p, i) => p.prediction === data.test.labels[i]).length;
    expect(right).toBeGreaterThanOrEqual(8);
  });

  it('predict prepares a small, off-centre digit on a large canvas as MNIST (ink box, centre of mass)', async () => {
    const data = await loadIdxDir(defaultMnistDir(), { trainLimit: 0, testLimit: 20 });
    const files: string[] = [];
    for (let i = 10; i < 20; i++) {
      const px = data.test.images.subarray(i * 784, (i + 1) * 784);
      // 3x nearest-neighbour, dark ink on white, in a corner region of a 240x180 canvas.
      const png = new PNG({ width: 240, height: 180 });
      png.data.fill(255);
      const ox = 5 + ((i * 13) % 120),
        oy = 3 + ((i * 7) % 80);
      for (let y = 0; y < 84; y++)
        for (let x = 0; x < 84; x++) {
          const g = 255 - Math.round(px[Math.floor(y / 3) * 28 + Math.floor(x / 3)] * 255);
          png.data.set([g, g, g, 255], ((oy + y) * 240 + ox + x) * 4);
        }
      const f = join(dir, `small${i}.png`);
      await writeFile(f, PNG.sync.write(png));
      files.push(f);
    }
    const out = await run(['predict', '--model', join(dir, 'model.simdnet'), '--json', ...files]);
    const r = JSON.parse(out[out.length - 1]) as Array<{ prediction: number }>;
    const right = r.filter((p, i) => p.prediction === data.test.labels[10 + i]).length;
    expect(right).toBeGreaterThanOrEqual(8);
    const blank = new PNG({ width: 30, height: 30 });
    blank.data.fill(255);
    const f = join(dir, 'blank.png');
    await writeFile(f, PNG.sync.write(blank));
    await expect(main(['predict', '--model', join(dir, 'model.simdnet'), f])).rejects.toThrow(
      `${f}: the image is blank (no ink to classify)`,
    );
  });

  it('bad arguments give clear errors', async () => {
    await expect(main(['train', '--epochs', 'x'])).rejects.toThrow(/--epochs must be an integer/);
    await expect(main(['train', '--data', join(dir, 'nope'), '--out', join(dir, 'bad-args')])).rejects.toThrow(/nope/);
    await expect(main(['evaluate'])).rejects.toThrow(/--model FILE is required/);
    await expect(main(['predict', '--model', join(dir, 'missing.simdnet'), 'x.png'])).rejects.toThrow(
      /missing\.simdnet/,
    );
    await expect(main(['frobnicate'])).rejects.toThrow(/unknown command/);
  });
});

describe('simdnet train: the run directory', () => {
  // Captures console output; `onLine` may act on a line as it is printed.
  async function runCode(
    args: string[],
    onLine: (l: string) => void = () => {},
  ): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    const take = (...a: unknown[]) => {
      const l = a.join(' ');
      lines.push(l);
      onLine(l);
    };
    const log = vi.spyOn(console, 'log').mockImplementation(take);
    const err = vi.spyOn(console, 'error').mockImplementation(take);
    try {
      return { code: await main(args), lines };
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  }
  const tiny = [
    'train',
    '--train-limit',
    '64',
    '--test-limit',
    '0',
    '--epochs',
    '1',
    '--batch-size',
    '32',
    '--threads',
    '1',
  ];

  it('an existing model is not replaced without --overwrite, and the refusal comes before the data is read', async () => {
    const out = join(dir, 'existing');
    const first = await runCode([...tiny, '--out', out]);
    expect(first.code).toBe(0);
    const before = await readFile(join(out, 'model.simdnet'));
    const second = runCode([...tiny, '--out', out, '--seed', '2']);
    await expect(second).rejects.toThrow(
      `--out ${out} already holds a model (${join(out, 'model.simdnet')}); pass --overwrite`,
    );
    // Buffer.equals: a deep toEqual over megabytes is needlessly slow.
    expect((await readFile(join(out, 'model.simdnet'))).equals(before)).toBe(true);
    const third = await runCode([...tiny, '--out', out, '--seed', '2', '--overwrite']);
    expect(third.code).toBe(0);
    expect((await readFile(join(out, 'model.simdnet'))).equals(before)).toBe(false);
  });

  it('when the final write fails, the finished run goes to a fallback directory that the message names (exit 1)', async () => {
    const out = join(dir, 'sabotaged');
    // After the up-front checks passed, model.simdnet becomes a directory: the final write must fail.
    let sabotaged = false;
    const r = await runCode([...tiny, '--out', out], (l) => {
      if (!sabotaged && l.startsWith('data: ')) {
        sabotaged = true;
        mkdirSync(join(out, 'model.simdnet', 'x'), { recursive: true });
      }
    });
    expect(sabotaged).toBe(true);
    expect(r.code).toBe(1);
    const msg = r.lines.find((l) => l.includes('the whole run was written to'));
    expect(msg).toMatch(
      new RegExp(
        `^simdnet: cannot write ${join(out, 'model.simdnet').replace(/[/.]/g, '\\$&')} \\(.*\\); the whole run was written to (\\S+) instead$`,
      ),
    );
    const fallback = /written to (\S+) instead$/.exec(msg!)![1];
    const model = await loadModelFile(join(fallback, 'model.simdnet'));
    expect(model.inputShape).toEqual([28, 28, 1]);
    model.dispose();
    expect((await stat(join(fallback, 'report.md'))).size).toBeGreaterThan(0);
    await rm(fallback, { recursive: true, force: true });
  });

  it('a run that fails before writing (bad data path) leaves no empty output directory', async () => {
    const out = join(dir, 'nodata', 'run');
    await expect(runCode([...tiny, '--out', out, '--data', join(dir, 'nope')])).rejects.toThrow(/nope/);
    await expect(stat(join(dir, 'nodata'))).rejects.toThrow(/ENOENT/);
  });
});
