// simdnet sweep on tiny subsets: a 2x2 grid writes the table, CSV, SVG and the best model; a
// sweep started again reads finished trials back instead of training them; --trials draws are seeded.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import * as sn from '../../src/index.js';
import { main } from '../../src/cli/main.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-sweep-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [],
    err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const er = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    expect(await main(args)).toBe(0);
    return { out, err };
  } finally {
    log.mockRestore();
    er.mockRestore();
  }
}

const common = [
  '--model',
  'fast',
  '--train-limit',
  '256',
  '--test-limit',
  '128',
  '--batch-size',
  '32',
  '--threads',
  '1',
];
const lines = async (f: string) => (await readFile(f, 'utf8')).split('\n').filter((l) => l !== '');

describe('simdnet sweep', () => {
  const out = () => join(dir, 'grid');
  const grid = () => ['sweep', ...common, '--kernel-size', '3,5', '--filters', '4,8', '--out', out(), '--json'];

  it('a 2x2 grid trains 4 trials and writes the table, results.md/.csv, the SVG and the best model', async () => {
    const { out: o, err } = await run(grid());
    const j = JSON.parse(o[o.length - 1]);
    expect(j.trials).toHaveLength(4);
    expect(j.remaining).toBe(0);
    // Grid order: the first flag varies fastest.
    expect(j.trials.map((t: Record<string, string>) => [t['kernel-size'], t.filters])).toEqual([
      ['3', '4'],
      ['5', '4'],
      ['3', '8'],
      ['5', '8'],
    ]);
    const accs = j.trials.map((t: { test_accuracy: number }) => t.test_accuracy);
    expect(j.best.test_accuracy).toBe(Math.max(...accs));
    // The table went to the terminal (stderr with --json).
    expect(err.join('\n')).toMatch(
      /every trial: --model fast --batch-size 32\n\n\| trial \| kernel-size \| filters \| test accuracy % \|/,
    );
    const csv = await lines(join(out(), 'results.csv'));
    expect(csv[0]).toBe('trial,model,batch-size,kernel-size,filters,test_accuracy,test_loss,parameters,seconds');
    expect(csv).toHaveLength(5);
    // Parameters follow the architecture: a wider or larger-kernel trial has more.
    const params = csv.slice(1).map((l) => Number(l.split(',')[7]));
    expect(params[3]).toBeGreaterThan(params[0]);
    expect(new Set(params).size).toBe(4);
    const md = await readFile(join(out(), 'results.md'), 'utf8');
    expect(md).toContain('accuracy.svg');
    expect(md.match(/^\| \d/gm)).toHaveLength(4);
    const svg = await readFile(join(out(), 'accuracy.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg.match(/<circle class="trial/g)).toHaveLength(4);
    expect(svg.match(/<circle class="trial best"/g)).toHaveLength(1);
    // The best model is the best trial's: it scores that accuracy on the same test images.
    await sn.ready();
    const best = sn.loadModel(await readFile(join(out(), 'best.simdnet')));
    const data = await (await import('../../src/node/data.js')).loadIdxDir(
      (await import('../../src/node/data.js')).defaultMnistDir(),
      { trainLimit: 1, testLimit: 128 },
    );
    const probs = best.predict({ data: data.test.images, shape: [128, 28, 28, 1] });
    const p = probs.dataSync();
    let correct = 0;
    for (let i = 0; i < 128; i++) {
      let k = 0;
      for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + k]) k = c;
      if (k === data.test.labels[i]) correct++;
    }
    expect(correct / 128).toBe(j.best.test_accuracy);
    probs.dispose();
    best.dispose();
  }, 120_000);

  it('started again, it reads finished trials back; after an interruption it trains only the missing ones', async () => {
    const log = join(out(), 'trials.jsonl');
    const before = await lines(log);
    expect(before).toHaveLength(4);
    const { err } = await run(grid());
    expect(err.join('\n')).toContain('4 trials (4 already in');
    expect(await lines(log)).toEqual(before);
    // the algorithm is part of a result: with another one, nothing is reused (checked, not run, here)
    expect(before.every((l) => JSON.parse(JSON.parse(l).key).convAlgorithm === 'auto')).toBe(true);
    // An interrupted sweep: two trials recorded, the second record cut short mid-write.
    await writeFile(log, `${before[0]}\n${before[2]}\n${before[3].slice(0, 20)}`);
    const again = await run(grid());
    expect(again.err.join('\n')).toContain('4 trials (2 already in');
    expect(again.err.join('\n')).toMatch(/not a complete trial record; ignored/);
    const after = (await lines(log)).filter((l) => l.startsWith('{"key"') && l.endsWith('}'));
    expect(after).toHaveLength(4);
    const finished = (l: string) => JSON.parse(l).finished;
    // The two kept trials were not retrained (same records, same time stamps) ...
    expect(after.slice(0, 2)).toEqual([before[0], before[2]]);
    // ... and the retrained ones, seeded, give the same results as the first time.
    const strip = (l: string) => {
      const { finished: _, seconds: __, ...rest } = JSON.parse(l);
      return rest;
    };
    expect(after.slice(2).map(strip)).toEqual([before[1], before[3]].map(strip));
    expect(after.slice(2).map(finished)).not.toEqual([before[1], before[3]].map(finished));
    const j = JSON.parse(again.out[again.out.length - 1]);
    expect(j.trials.map((t: { trial: number }) => t.trial)).toEqual([1, 2, 3, 4]);
  }, 120_000);

  it('--trials N draws distinct seeded combinations; bad lists are refused before training', async () => {
    const draw = async (name: string) => {
      const { out: o } = await run([
        'sweep',
        ...common,
        '--train-limit',
        '64',
        '--test-limit',
        '32',
        '--activation',
        'relu,elu,gelu',
        '--lr',
        '0.01,0.003',
        '--filters',
        '2',
        '--trials',
        '2',
        '--out',
        join(dir, name),
        '--json',
      ]);
      return JSON.parse(o[o.length - 1]).trials.map((t: Record<string, string>) => `${t.activation} ${t.lr}`);
    };
    const a = await draw('r1'),
      b = await draw('r2');
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(2);
    await expect(main(['sweep', ...common, '--kernel-size', '3,,5', '--out', join(dir, 'bad')])).rejects.toThrow(
      /--kernel-size: empty value/,
    );
    await expect(main(['sweep', ...common, '--kernel-size', '3,13', '--out', join(dir, 'bad')])).rejects.toThrow(
      /trial 2 \(.*--kernel-size 13\): .*conv2d_1 \(Conv2D\) has a 13x13 kernel/,
    );
    await expect(main(['sweep', ...common, '--padding', 'same,full', '--out', join(dir, 'bad')])).rejects.toThrow(
      /trial 2 .*--padding must be one of valid, same/,
    );
    await expect(main(['sweep', ...common, '--trials', '3', '--out', join(dir, 'bad')])).rejects.toThrow(
      /--trials 3 is more than the 1 combinations/,
    );
    await expect(main(['sweep', ...common])).rejects.toThrow(/--out DIR is required/);
    await expect(main(['sweep', ...common, '--conv-algorithm', 'fft', '--out', join(dir, 'bad')])).rejects.toThrow(
      /--conv-algorithm must be one of direct, auto, winograd, got "fft"/,
    );
  }, 60_000);
});
