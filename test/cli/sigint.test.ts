// Ctrl-C during `simdnet train` stops after the current batch and still writes what was trained.
// Runs the built CLI (bin/simdnet.js → dist/, built by `npm ci`'s prepare step) as a real process.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '../../bin/simdnet.js');
const built = existsSync(join(import.meta.dirname, '../../dist/cli/main.js'));

describe.skipIf(!built && !process.env.CI)('simdnet train and SIGINT', () => {
  it('stops after the current batch, exits 0 and writes model, history and report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'simdnet-sigint-'));
    try {
      const child = spawn(
        process.execPath,
        [
          bin,
          'train',
          '--train-limit',
          '6000',
          '--test-limit',
          '200',
          '--epochs',
          '5',
          '--batch-size',
          '32',
          '--out',
          out,
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '',
        stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
        // Interrupt once training is under way.
        if (stderr.includes('Epoch 1/5') && !child.killed) setTimeout(() => child.kill('SIGINT'), 1500);
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/stopping after the current batch/);
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(result.stopped).toBe(true);
      expect(result.epochs).toBeLessThan(5);
      const history = JSON.parse(await readFile(join(out, 'history.json'), 'utf8'));
      expect(history.stopped).toBe(true);
      expect((await readFile(join(out, 'model.simdnet'))).length).toBeGreaterThan(1_000_000);
      expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/test accuracy/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
