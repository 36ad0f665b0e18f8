// Node helpers for the tfjs-layers format on disk: model.json plus the weight shard files its manifest
// names (paths relative to model.json), as tensorflowjs_converter and tfjs' `model.save('file://...')` write.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Model } from '../nn/model.js';
import {
  type LayersModelJSON,
  type LoadLayersOptions,
  type SaveLayersOptions,
  checkSpec,
  checkSpecs,
  layersModelJSON,
  limitsOf,
  loadLayersModel,
  saveLayersModel,
  weightSpecBytes,
} from '../formats/tfjs/layers-format.js';
import { type ContainedFile, openInside, readBoundedFile } from './contained.js';

/** The largest model.json read (the topology of a very large Keras model is a few MB). */
const MAX_JSON_BYTES = 64 * 2 ** 20;
/** The most shard files a manifest may name (the converter's 4 MB shards: 16 GB). */
const MAX_SHARDS = 4096;

/** model.json's text, refused when it is not a regular file or is over MAX_JSON_BYTES. */
function readJSONFile(path: string): string {
  const bytes = readBoundedFile(path, MAX_JSON_BYTES, `the ${MAX_JSON_BYTES} a model.json may have`, (why) => {
    throw new Error(`cannot read tfjs model ${path}: ${why}`);
  });
  return new TextDecoder().decode(bytes);
}

/**
 * Loads a tfjs-layers model.json (from tensorflowjs_converter or tfjs' model.save) and the weight shards
 * its manifest lists, relative to the file. Errors name the file: an unreadable model.json, a missing
 * shard, or shards whose size differs from what the manifest's weights need.
 *
 * A model.json made by someone else cannot read outside its folder: shard paths that are absolute, hold
 * `..` or resolve through a symbolic link to outside the folder, and files that are not regular files
 * (/dev/zero), are refused. The whole manifest is checked (specs, `opts.maxBytes`, each group's shard
 * sizes against its weights) before a shard byte is read, and errors name shards as the manifest does.
 */
export async function loadLayersModelFile(path: string, opts?: LoadLayersOptions): Promise<Model> {
  const limits = limitsOf(opts, 'loadLayersModelFile');
  let json: LayersModelJSON;
  try {
    json = JSON.parse(readJSONFile(path));
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith('cannot read tfjs model') ? m : `cannot read tfjs model ${path}: ${m}`);
  }
  const manifest = json?.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`${path}: no weightsManifest list (is this a tfjs layers model.json?)`);
  const dir = dirname(resolve(path));
  const open: ContainedFile[] = [];
  try {
    const groups = manifest.map((group, i) => {
      if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
        throw new Error(`${path}: weightsManifest group ${i} needs "paths" and "weights" lists`);
      }
      try {
        group.weights.forEach(checkSpec);
        return { need: group.weights.reduce((a, w) => a + weightSpecBytes(w), 0), paths: group.paths };
      } catch (e) {
        throw new Error(`${path}: weightsManifest group ${i}: ${(e as Error).message}`);
      }
    });
    const shards = groups.reduce((a, g) => a + g.paths.length, 0);
    if (shards > MAX_SHARDS)
      throw new Error(`${path}: the manifest names ${shards} shard files, more than ${MAX_SHARDS}`);
    try {
      checkSpecs(
        manifest.flatMap((g) => g.weights),
        null,
        limits,
      );
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
    const files = groups.map(({ need, paths }, i) => {
      const fs = paths.map((p) => {
        const f = openInside(dir, p, (msg, io) => {
          throw new Error(`${path}: ${io ? 'cannot read weight shard' : 'weight shard'} ${msg}`);
        });
        open.push(f);
        return f;
      });
      const got = fs.reduce((a, f) => a + f.size, 0);
      if (got !== need) {
        const many = paths.length > 1;
        throw new Error(
          `${path}: weight shard${many ? 's' : ''} ${paths.join(', ')} hold${many ? '' : 's'} ` +
            `${got} bytes, the manifest's weights of group ${i} need ${need}`,
        );
      }
      return fs;
    });
    const parts = files.flat().map((f) => f.read(0, f.size));
    try {
      return loadLayersModel(json, parts, limits);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
  } finally {
    for (const f of open) f.close();
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
