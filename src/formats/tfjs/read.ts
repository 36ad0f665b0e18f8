// Loading the tfjs-layers format: artifacts or model.json plus weight bytes in memory, or fetched over
// HTTP from a tensorflowjs_converter output directory.
import type { Model } from '../../nn/model.js';
import { show } from '../../show.js';
import {
  type LayersModelArtifacts,
  type LayersModelJSON,
  type LayersWeightData,
  type LayersWeightSpec,
  type Obj,
  isObj,
} from './artifacts.js';
import { type Ctx, malformed } from './keras-config.js';
import { functionalModel, modelConfig, sequentialModel } from './topology.js';
import { checkSpec, setWeights, toBytes, weightSpecBytes } from './weights.js';

/**
 * A simdnet model from the tfjs-layers format: tfjs' ModelArtifacts `{modelTopology, weightSpecs,
 * weightData}`, or the model.json object `{modelTopology, weightsManifest}` with the bytes of its shards
 * concatenated in manifest order as `weightData`. Sequential and functional models of Keras 2, Keras 3
 * and tfjs load, built from simdnet's layers, with weights matched by layer name and role and
 * quantised weights (uint8, uint16, float16) dequantised to float32. The model predicts, compiles,
 * fits and saves like any other.
 *
 * @throws one error listing every unsupported layer class or option (e.g. channels_first), a malformed
 *   topology, or weights that are missing, unmatched, of the wrong shape or of the wrong total size
 */
export function loadLayersModel(
  artifacts: LayersModelArtifacts | LayersModelJSON,
  weightData?: LayersWeightData,
): Model {
  if (!isObj(artifacts))
    throw new Error(`loadLayersModel: expected {modelTopology, weightSpecs, weightData}, got ${show(artifacts)}`);
  const a = artifacts as Obj;
  let specs: LayersWeightSpec[];
  if (Array.isArray(a.weightsManifest)) {
    specs = (a.weightsManifest as unknown[]).flatMap((g, i) => {
      if (!isObj(g) || !Array.isArray(g.weights))
        throw new Error(`loadLayersModel: weightsManifest group ${i} has no weights list`);
      return g.weights as LayersWeightSpec[];
    });
  } else if (Array.isArray(a.weightSpecs) || a.weightSpecs === undefined) {
    specs = (a.weightSpecs as LayersWeightSpec[] | undefined) ?? [];
  } else throw new Error(`loadLayersModel: weightSpecs must be a list, got ${show(a.weightSpecs)}`);
  const bytes = toBytes(weightData ?? (a.weightData as LayersWeightData | undefined));
  if (
    a.format === 'graph-model' ||
    a.modelTopology instanceof ArrayBuffer ||
    Array.isArray((a.modelTopology as Obj)?.node)
  ) {
    throw new Error(
      'loadLayersModel: this is a tfjs graph model (a TensorFlow graph, from a SavedModel), not a layers model; ' +
        'convert the Keras model with --input_format keras (or keras_saved_model) instead',
    );
  }
  const { cls, config, keras3 } = modelConfig(a.modelTopology);
  const ctx: Ctx = { keras3, problems: [] };
  let model: Model;
  if (cls === 'Sequential') model = sequentialModel(config, ctx);
  else if (cls === 'Model' || cls === 'Functional') model = functionalModel(config, ctx);
  else malformed(`the model class must be Sequential, Functional or Model, got ${show(cls)}`);
  try {
    try {
      model.build();
    } catch (e) {
      throw new Error(`loadLayersModel: ${(e as Error).message}`);
    }
    setWeights(model, specs, bytes);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Fetches a tfjs-layers model.json and the weight shards its manifest names (URLs relative to it), then
 * loads it with {@link loadLayersModel}: the browser way to open a tensorflowjs_converter output
 * directory served over HTTP. Errors name the URL that failed or whose size is wrong.
 *
 * @param fetchFn the fetch to use (default: the global one)
 */
export async function loadLayersModelURL(url: string | URL, fetchFn: typeof fetch = globalThis.fetch): Promise<Model> {
  const get = async (u: URL): Promise<Response> => {
    let r: Response;
    try {
      r = await fetchFn(u.href);
    } catch (e) {
      throw new Error(`loadLayersModelURL: cannot fetch ${u.href}: ${(e as Error).message}`);
    }
    if (!r.ok) throw new Error(`loadLayersModelURL: ${u.href} answered ${r.status} ${r.statusText}`);
    return r;
  };
  const base = new URL(String(url), globalThis.location?.href);
  let json: LayersModelJSON;
  try {
    json = (await (await get(base)).json()) as LayersModelJSON;
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith('loadLayersModelURL') ? m : `loadLayersModelURL: ${base.href} is not JSON: ${m}`);
  }
  if (!isObj(json) || !Array.isArray(json.weightsManifest)) {
    throw new Error(`loadLayersModelURL: ${base.href} has no weightsManifest list (is it a tfjs layers model.json?)`);
  }
  const parts: Uint8Array[] = [];
  for (const [i, g] of json.weightsManifest.entries()) {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`loadLayersModelURL: ${base.href}: weightsManifest group ${i} needs "paths" and "weights" lists`);
    }
    g.weights.forEach(checkSpec);
    const need = g.weights.reduce((a, s) => a + weightSpecBytes(s), 0);
    const urls = g.paths.map((p) => new URL(String(p), base));
    let got = 0;
    for (const u of urls) {
      const b = new Uint8Array(await (await get(u)).arrayBuffer());
      parts.push(b);
      got += b.length;
    }
    if (got !== need) {
      throw new Error(
        `loadLayersModelURL: weight shards ${urls.map((u) => u.href).join(', ')} hold ${got} bytes, ` +
          `the weights of manifest group ${i} need ${need}`,
      );
    }
  }
  return loadLayersModel(json, parts);
}
