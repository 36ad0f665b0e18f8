// Node helper: import an ONNX model from a path (the core imports bytes).
import { readFile } from 'node:fs/promises';
import type { Model } from '../nn/model.js';
import type { LoadONNXOptions } from '../onnx/import.js';

/**
 * Reads a .onnx file and imports it with simdnet's `loadONNX` (see there for the options). Errors name
 * the file.
 */
export async function loadONNXFile(path: string, opts?: LoadONNXOptions): Promise<Model> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read ONNX file ${path}: ${(e as Error).message}`);
  }
  const { loadONNX } = await import('../onnx/import.js');
  try {
    return await loadONNX(bytes, opts);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
