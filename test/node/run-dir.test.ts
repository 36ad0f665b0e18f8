// The run directory: made and proven writable up front (no hang on /proc, clear errors for paths
// through files and for an existing model), and a run whose final write fails goes to a fallback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FILE, makeDir, prepareRunDir, writeRun } from '../../src/node/run-dir.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-rundir-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Fails the test instead of hanging it when a call never settles.
const within = <T>(p: Promise<T>, ms = 5000) =>
  Promise.race([p, new Promise<T>((_, r) => setTimeout(() => r(new Error('hung')), ms))]);

describe('prepareRunDir', () => {
  it('creates nested directories and leaves no probe file behind', async () => {
    const out = join(dir, 'a', 'b', 'c');
    await prepareRunDir(out, false);
    expect(await readdir(out)).toEqual([]);
  });

  it('paths under /proc fail at once instead of hanging', async () => {
    await expect(within(prepareRunDir('/proc/simdnet-x', false))).rejects.toThrow(
      /^--out \/proc\/simdnet-x: cannot create \/proc\/simdnet-x/,
    );
    await expect(within(prepareRunDir('/proc/simdnet-x/y/z', false))).rejects.toThrow(
      /^--out \/proc\/simdnet-x\/y\/z: cannot create \/proc\/simdnet-x /,
    );
  });

  it('a path through a file, an existing model and a model path that is a directory are refused', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await expect(prepareRunDir(join(file, 'out'), false)).rejects.toThrow(
      `--out ${join(file, 'out')}: ${file} exists and is not a directory`,
    );
    const run = join(dir, 'run');
    await mkdir(run);
    await writeFile(join(run, MODEL_FILE), 'old');
    await expect(prepareRunDir(run, false)).rejects.toThrow(
      `--out ${run} already holds a model (${join(run, MODEL_FILE)}); pass --overwrite to replace it, or choose another --out`,
    );
    await prepareRunDir(run, true);
    expect(await readFile(join(run, MODEL_FILE), 'utf8')).toBe('old');
    const odd = join(dir, 'odd');
    await mkdir(join(odd, MODEL_FILE), { recursive: true });
    await expect(prepareRunDir(odd, true)).rejects.toThrow(`--out ${odd}: ${join(odd, MODEL_FILE)} is a directory`);
  });

  it('makeDir accepts a directory that already exists: creates nothing, keeps its contents; reports what it creates', async () => {
    const here = join(dir, 'existing');
    await mkdir(here);
    await writeFile(join(here, 'keep'), 'k');
    await expect(makeDir(here, 'x')).resolves.toEqual([]);
    expect(await readdir(here)).toEqual(['keep']);
    expect(await readFile(join(here, 'keep'), 'utf8')).toBe('k');
    // Against a path with missing levels: exactly those are created, outermost first.
    const deep = join(here, 'm', 'n');
    await expect(makeDir(deep, 'x')).resolves.toEqual([join(here, 'm'), deep]);
    await expect(makeDir(deep, 'x')).resolves.toEqual([]);
  });
});

describe('writeRun', () => {
  const files = { [MODEL_FILE]: new Uint8Array([1, 2, 3]), 'report.md': '# run' };

  it('writes every file into out', async () => {
    const out = join(dir, 'ok');
    expect(await writeRun(out, files)).toEqual({ dir: out, fallback: false });
    expect(Array.from(await readFile(join(out, MODEL_FILE)))).toEqual([1, 2, 3]);
    expect((await readdir(out)).sort()).toEqual([MODEL_FILE, 'report.md']);
  });

  it('when out cannot take the model, the whole run goes to a fallback directory that it names', async () => {
    const out = join(dir, 'broken');
    await mkdir(join(out, MODEL_FILE, 'inside'), { recursive: true });
    const roots = join(dir, 'fallbacks');
    await mkdir(roots);
    // The first fallback root is a file, so the run goes to the second.
    const w = await writeRun(out, files, [join(dir, 'file'), roots]);
    expect(w.fallback).toBe(true);
    expect(w.error).toMatch(new RegExp(`^cannot write ${join(out, MODEL_FILE).replace(/[/.]/g, '\\$&')} \\(`));
    expect(w.dir.startsWith(join(roots, 'simdnet-run-'))).toBe(true);
    expect(Array.from(await readFile(join(w.dir, MODEL_FILE)))).toEqual([1, 2, 3]);
    expect(await readFile(join(w.dir, 'report.md'), 'utf8')).toBe('# run');
    expect(await readdir(join(out, MODEL_FILE))).toEqual(['inside']);
  });

  it('an out path under /proc falls back without hanging', async () => {
    const w = await within(writeRun('/proc/simdnet-y', files, [dir]));
    expect(w.fallback).toBe(true);
    expect(w.error).toMatch(/cannot create \/proc\/simdnet-y/);
  });
});
