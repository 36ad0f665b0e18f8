// Node helpers for the tfjs-layers format on disk: model.json plus the weight shard files its manifest
// names (paths relative to model.json), as tensorflowjs_converter and tfjs' `model.save('file://...')` write.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Model } from '../nn/model.js';
import {
  type LayersModelJSON,
  type SaveLayersOptions,
  layersModelJSON,
  loadLayersModel,
  saveLayersModel,
  weightSpecBytes,
} from '../formats/tfjs/layers-format.js';

/**
 * Loads a tfjs-layers model.json (from tensorflowjs_converter or tfjs' model.save) and the weight shards
 * its manifest lists, relative to the file. Errors name the file: an unreadable model.json, a missing
 * shard, or shards whose size differs from what the manifest's weights need.
 */
export async function loadLayersModelFile(path: string): Promise<Model> {
  let json: LayersModelJSON;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read tfjs model ${path}: ${(e as Error).message}`);
  }
  const manifest = json?.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`${path}: no weightsManifest list (is this a tfjs layers model.json?)`);
  const dir = dirname(resolve(path));
  const parts: Uint8Array[] = [];
  for (const [i, group] of manifest.entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`${path}: weightsManifest group ${i} needs "paths" and "weights" lists`);
    }
    const files: string[] = [];
    let got = 0;
    for (const p of group.paths) {
      const file = join(dir, String(p));
      let b: Uint8Array;
      try {
        b = await readFile(file);
      } catch (e) {
        throw new Error(`${path}: cannot read weight shard ${file}: ${(e as Error).message}`);
      }
      files.push(file);
      parts.push(b);
      got += b.length;
    }
    let need = 0;
    try {
      need = group.weights.reduce((a, w) => a + weightSpecBytes(w), 0);
    } catch (e) {
      throw new Error(`${path}: weightsManifest group ${i}: ${(e as Error).message}`);
    }
    if (got !== need) {
      throw new Error(
        `${path}: weight shard${files.length > 1 ? 's' : ''} ${files.join(', ')} hold${files.length > 1 ? '' : 's'} ` +
          `${got} bytes, the manifest's weights of group ${i} need ${need}`,
      );
    }
  }
  try {
    return loadLayersModel(json, parts);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/**
 * Writes the model in the tfjs-layers format to directory `dir` (created if needed): model.json and
 * group1-shard1of1.bin, which `tf.loadLayersModel('file://dir/model.json')` and tensorflowjs_converter
 * read; `opts.quantize` as in saveLayersModel. Each file is written atomically (temp file + rename).
 * Returns the path of model.json.
 */
export async function saveLayersModelFile(model: Model, dir: string, opts?: SaveLayersOptions): Promise<string> {
  const a = saveLayersModel(model, opts);
  const shard = 'group1-shard1of1.bin';
  await mkdir(dir, { recursive: true });
  const put = async (name: string, data: string | Uint8Array) => {
    const target = join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, data);
    await rename(tmp, target);
    return target;
  };
  await put(shard, new Uint8Array(a.weightData as ArrayBuffer));
  return put('model.json', JSON.stringify(layersModelJSON(a, [shard])));
}
