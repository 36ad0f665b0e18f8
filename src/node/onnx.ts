// Node helper: import an ONNX model from a path (the core imports bytes), reading external tensor
// data (onnx's save_as_external_data) from files next to the model.
import { readFile } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Model } from '../nn/model.js';
import type { ExternalData, LoadONNXOptions } from '../formats/onnx/import.js';

/** Reads external data inside the model's directory only (a hostile file cannot point elsewhere). */
function externalReader(modelPath: string): ExternalData {
  const dir = dirname(resolve(modelPath));
  return (location, offset, length, what) => {
    const p = resolve(dir, location);
    const rel = relative(dir, p);
    if (isAbsolute(location) || rel.startsWith('..') || isAbsolute(rel)) {
      throw new Error(`loadONNX: ${what}: external data location '${location}' is outside the model's directory`);
    }
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (e) {
      throw new Error(`loadONNX: ${what}: cannot read external data ${p}: ${(e as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      const n = length ?? size - offset;
      if (offset + n > size || n < 0) {
        throw new Error(
          `loadONNX: ${what}: external data [${offset}, ${offset + n}) is beyond the end of ${p} (${size} bytes)`,
        );
      }
      const out = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * Reads a .onnx file and imports it with simdnet's `loadONNX` (see there for the options); tensors
 * saved as external data are read from their files next to the model (only inside its directory).
 * Errors name the file.
 */
export async function loadONNXFile(path: string, opts?: LoadONNXOptions): Promise<Model> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read ONNX file ${path}: ${(e as Error).message}`);
  }
  const { loadONNX } = await import('../formats/onnx/import.js');
  try {
    return await loadONNX(bytes, { externalData: externalReader(path), ...opts });
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
