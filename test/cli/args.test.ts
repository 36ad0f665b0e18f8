// Flags are parsed strictly and every value is checked before any work: no data read, no summary
// printed, no directory made.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { MAX_CLI_THREADS, parseTrainArgs } from '../../src/cli/args.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-args-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseTrainArgs', () => {
  it('accepts plain numbers and applies the defaults', () => {
    const o = parseTrainArgs(
      ['--epochs', '3', '--lr', '1e-3', '--seed', '0', '--test-limit', '0', '--train-limit', '10', '--out', 'x'],
      8,
    );
    expect(o).toMatchObject({
      epochs: 3,
      lr: 0.001,
      seed: 0,
      testLimit: 0,
      trainLimit: 10,
      batchSize: 128,
      threads: 8,
      overwrite: false,
    });
    expect(o.out).toBe(join(process.cwd(), 'x'));
    expect(parseTrainArgs(['--lr', '.5'], 200).lr).toBe(0.5);
    expect(parseTrainArgs([], 200).threads).toBe(MAX_CLI_THREADS);
    expect(parseTrainArgs([], 2).convAlgorithm).toBe('auto');
    expect(parseTrainArgs(['--conv-algorithm', 'direct'], 2).convAlgorithm).toBe('direct');
  });

  const bad: Array<[string[], string]> = [
    [['--epochs', '0x1'], '--epochs must be an integer from 1 to 100000, got "0x1"'],
    [['--epochs', ' 1 '], '--epochs must be an integer from 1 to 100000, got " 1 "'],
    [['--epochs', ''], '--epochs must be an integer from 1 to 100000, got ""'],
    [['--epochs', '1e2'], '--epochs must be an integer from 1 to 100000, got "1e2"'],
    [['--epochs', '0'], '--epochs must be an integer from 1 to 100000, got "0"'],
    [['--batch-size', '2.5'], '--batch-size must be an integer from 1 to 65536, got "2.5"'],
    [['--lr', '1e7'], '--lr must be a number above 0 and at most 1000000, got "1e7"'],
    [['--lr', '0'], '--lr must be a number above 0 and at most 1000000, got "0"'],
    [['--lr', 'NaN'], '--lr must be a number above 0 and at most 1000000, got "NaN"'],
    [['--lr', 'Infinity'], '--lr must be a number above 0 and at most 1000000, got "Infinity"'],
    [['--lr', '0x10'], '--lr must be a number above 0 and at most 1000000, got "0x10"'],
    [['--seed=-1'], '--seed must be an integer from 0 to 4294967295, got "-1"'],
    [['--train-limit', '0'], '--train-limit must be an integer from 1 to 2147483647, got "0"'],
    [['--test-limit=-3'], '--test-limit must be an integer from 0 to 2147483647, got "-3"'],
    [['--threads', '999'], `--threads must be an integer from 1 to ${MAX_CLI_THREADS}, got "999"`],
    [['--threads', '0'], `--threads must be an integer from 1 to ${MAX_CLI_THREADS}, got "0"`],
    [['--out', ' '], '--out must be a path, got " "'],
    [['--conv-algorithm', 'fft'], '--conv-algorithm must be one of direct, auto, winograd, got "fft"'],
  ];
  for (const [args, msg] of bad) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => parseTrainArgs(args, 2)).toThrow(msg);
    });
  }

  it('refuses unknown flags and stray words', () => {
    expect(() => parseTrainArgs(['--epoch', '3'], 2)).toThrow(/Unknown option '--epoch'/);
    expect(() => parseTrainArgs(['3'], 2)).toThrow(/Unexpected argument '3'/);
  });
});

describe('simdnet train refuses bad flags before any work', () => {
  it('--lr 1e7: no summary, no data line, no output directory', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a) => {
      lines.push(a.join(' '));
    });
    const err = vi.spyOn(console, 'error').mockImplementation((...a) => {
      lines.push(a.join(' '));
    });
    const out = join(dir, 'never');
    try {
      await expect(main(['train', '--lr', '1e7', '--out', out, '--train-limit', '100'])).rejects.toThrow(
        /--lr must be/,
      );
      await expect(main(['train', '--epochs', '0x1', '--out', out])).rejects.toThrow(/--epochs must be/);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(lines).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('simdnet train --conv-algorithm', () => {
  // The seed model's 5x5(32) and 3x3(64) layers run Winograd F(4,5) and F(4,3) under 'auto' (the default):
  // a different rounding of the same training, so the loss moves a little but not far.
  async function jsonRun(extra: string[]): Promise<Record<string, unknown>> {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a) => {
      lines.push(a.join(' '));
    });
    try {
      const tiny = ['--train-limit', '256', '--test-limit', '128', '--epochs', '1', '--batch-size', '32'];
      const out = join(dir, `algo-${extra.join('-') || 'default'}`);
      expect(await main(['train', ...tiny, '--threads', '1', '--out', out, '--json', ...extra])).toBe(0);
      await rm(out, { recursive: true, force: true });
    } finally {
      log.mockRestore();
    }
    return JSON.parse(lines[lines.length - 1]!);
  }
  it("'auto', the default, trains with Winograd (a different rounding, about the same loss) and says so in --json", async () => {
    const direct = await jsonRun(['--conv-algorithm', 'direct']);
    const auto = await jsonRun([]);
    expect(direct.conv_algorithm).toBe('direct');
    expect(auto.conv_algorithm).toBe('auto');
    const [a, b] = [auto.test_loss as number, direct.test_loss as number];
    expect(a).not.toBe(b);
    expect(Math.abs(a - b)).toBeLessThan(0.02 * b);
  }, 120_000);
});
