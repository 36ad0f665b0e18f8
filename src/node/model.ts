// Node helpers: save a model to a path and load it back (the core works on ArrayBuffers).
import { readFile, writeFile, rename } from 'node:fs/promises';
import type { Model } from '../nn/model.js';
import type { SaveOptions } from '../io/simdnet.js';
import { loadModel } from '../formats/simdnet/serialize.js';

/**
 * Writes model.save(options) to `path` atomically (temp file + rename, so a crash never leaves half a
 * file); `options.weightDtype` 'float16' or 'int8' writes smaller weights (see SaveOptions).
 */
export async function saveModelFile(model: Model, path: string, options?: SaveOptions): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, new Uint8Array(model.save(options)));
  await rename(tmp, path);
}

/** Reads a model file written by saveModelFile / the CLI. Errors name the file. */
export async function loadModelFile(path: string): Promise<Model> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read model file ${path}: ${(e as Error).message}`);
  }
  try {
    return loadModel(bytes);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
