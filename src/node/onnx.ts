// Node helper: import an ONNX model from a path (the core imports bytes), reading external tensor
// data (onnx's save_as_external_data) from files next to the model.
import { dirname, resolve } from 'node:path';
import type { Model } from '../nn/model.js';
import type { ExternalData, LoadONNXOptions } from '../formats/onnx/import.js';
import { limitsOf } from '../formats/limits.js';
import { openInside, readBoundedFile } from './contained.js';

/**
 * Reads external data inside the model's directory only: a hostile file cannot name an absolute path,
 * `..`, a symbolic link out of the folder or a device, nor make the reader take more than maxBytes.
 */
function externalReader(modelPath: string, maxBytes: number): ExternalData {
  const dir = dirname(resolve(modelPath));
  return (location, offset, length, what) => {
    const fail = (msg: string, io = false): never => {
      throw new Error(`loadONNX: ${what}: ${io ? 'cannot read external data' : 'external data location'} ${msg}`);
    };
    const f = openInside(dir, location, fail);
    try {
      const n = length ?? f.size - offset;
      if (offset + n > f.size || n < 0) {
        fail(`'${location}': [${offset}, ${offset + n}) is beyond the end of the file (${f.size} bytes)`, true);
      }
      if (n > maxBytes) fail(`'${location}': ${n} bytes for one tensor, more than maxBytes ${maxBytes}`, true);
      return f.read(offset, n);
    } finally {
      f.close();
    }
  };
}

/** The bytes of the model file, refused when it is not a regular file or is over the budget. */
function readModelFile(path: string, maxBytes: number): Uint8Array {
  return readBoundedFile(path, maxBytes, `maxBytes ${maxBytes}`, (why) => {
    throw new Error(`cannot read ONNX file ${path}: ${why}`);
  });
}

/**
 * Reads a .onnx file and imports it with simdnet's `loadONNX` (see there for the options, among them
 * the `maxBytes` budget and `allowNonFinite`); tensors saved as external data are read from their
 * files next to the model, only inside its folder after following symbolic links, and only regular
 * files. Errors name the file as given and external data as the model names it.
 */
export async function loadONNXFile(path: string, opts?: LoadONNXOptions): Promise<Model> {
  const { maxBytes } = limitsOf(opts, 'loadONNXFile');
  const bytes = readModelFile(path, maxBytes);
  const { loadONNX } = await import('../formats/onnx/import.js');
  try {
    return await loadONNX(bytes, { externalData: externalReader(path, maxBytes), ...opts });
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
