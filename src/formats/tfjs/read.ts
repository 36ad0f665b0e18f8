// Loading the tfjs-layers format: artifacts or model.json plus weight bytes in memory, or fetched over
// HTTP from a tensorflowjs_converter output directory.
import type { Model } from '../../nn/model.js';
import { show } from '../../show.js';
import { type Limits, limitsOf } from '../limits.js';
import {
  type LayersModelArtifacts,
  type LayersModelJSON,
  type LayersWeightData,
  type LayersWeightSpec,
  type LoadLayersOptions,
  type LoadLayersURLOptions,
  type Obj,
  isObj,
} from './artifacts.js';
import { type Ctx, malformed } from './keras-config.js';
import { functionalModel, modelConfig, sequentialModel } from './topology.js';
import { checkPlannedWeights, checkSpec, checkSpecs, setWeights, toBytes, weightSpecBytes } from './weights.js';

/** The largest model.json the URL loader reads. */
const MAX_JSON_BYTES = 64 * 2 ** 20;

/** The weight specs of ModelArtifacts or of a model.json's manifest. */
function specsOf(a: Obj): LayersWeightSpec[] {
  if (Array.isArray(a.weightsManifest)) {
    return (a.weightsManifest as unknown[]).flatMap((g, i) => {
      if (!isObj(g) || !Array.isArray(g.weights))
        throw new Error(`loadLayersModel: weightsManifest group ${i} has no weights list`);
      return g.weights as LayersWeightSpec[];
    });
  }
  if (Array.isArray(a.weightSpecs) || a.weightSpecs === undefined) return (a.weightSpecs as LayersWeightSpec[]) ?? [];
  throw new Error(`loadLayersModel: weightSpecs must be a list, got ${show(a.weightSpecs)}`);
}

/**
 * A simdnet model from the tfjs-layers format: tfjs' ModelArtifacts `{modelTopology, weightSpecs,
 * weightData}`, or the model.json object `{modelTopology, weightsManifest}` with the bytes of its shards
 * concatenated in manifest order as `weightData`. Sequential and functional models of Keras 2, Keras 3
 * and tfjs load, built from simdnet's layers, with weights matched by layer name and role and
 * quantised weights (uint8, uint16, float16) dequantised to float32. The model predicts, compiles,
 * fits and saves like any other.
 *
 * A file made by someone else is checked before anything is allocated: the manifest against the bytes
 * and `opts.maxBytes` (default 1 GiB), the weights the layers would create against the manifest, and
 * every weight value must be finite unless `opts.allowNonFinite`.
 *
 * @throws one error listing every unsupported layer class or option (e.g. channels_first), a malformed
 *   topology, or weights that are missing, unmatched, of the wrong shape or of the wrong total size,
 *   over the budget, or not finite
 */
export function loadLayersModel(
  artifacts: LayersModelArtifacts | LayersModelJSON,
  weightData?: LayersWeightData,
  opts?: LoadLayersOptions,
): Model {
  if (!isObj(artifacts))
    throw new Error(`loadLayersModel: expected {modelTopology, weightSpecs, weightData}, got ${show(artifacts)}`);
  const limits = limitsOf(opts, 'loadLayersModel');
  const a = artifacts as Obj;
  const specs = specsOf(a);
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
  checkSpecs(specs, bytes.length, limits);
  return buildLayersModel(a, specs, bytes, limits);
}

function buildLayersModel(a: Obj, specs: LayersWeightSpec[], bytes: Uint8Array, limits: Limits): Model {
  const { cls, config, keras3 } = modelConfig(a.modelTopology);
  const ctx: Ctx = { keras3, problems: [] };
  let model: Model;
  if (cls === 'Sequential') model = sequentialModel(config, ctx);
  else if (cls === 'Model' || cls === 'Functional') model = functionalModel(config, ctx);
  else malformed(`the model class must be Sequential, Functional or Model, got ${show(cls)}`);
  try {
    try {
      checkPlannedWeights(model, specs, limits);
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m.startsWith('loadLayersModel:') ? m : `loadLayersModel: ${m}`);
    }
    try {
      model.build();
    } catch (e) {
      throw new Error(`loadLayersModel: ${(e as Error).message}`);
    }
    setWeights(model, specs, bytes, limits.allowNonFinite);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** The body of `r`, refused once it passes `limit` bytes (a server may send more than it should). */
async function readBounded(r: Response, limit: number, what: string): Promise<Uint8Array> {
  const reader = r.body?.getReader();
  if (!reader) {
    const b = new Uint8Array(await r.arrayBuffer());
    if (b.length > limit) throw new Error(`loadLayersModelURL: ${what} is larger than the ${limit} bytes expected`);
    return b;
  }
  const chunks: Uint8Array[] = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.length;
    if (got > limit) {
      await reader.cancel();
      throw new Error(`loadLayersModelURL: ${what} is larger than the ${limit} bytes expected`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The URL of shard path `p`, refused when it leaves model.json's origin and the caller did not allow that. */
function shardURL(p: unknown, base: URL, trusted: boolean, origins: ReadonlySet<string>): URL {
  if (typeof p !== 'string' || p === '') {
    throw new Error(`loadLayersModelURL: weight path ${show(p)} is not a relative path`);
  }
  let u: URL;
  try {
    u = new URL(p, base);
  } catch {
    throw new Error(`loadLayersModelURL: weight path ${show(p)} is not a valid URL path`);
  }
  if (!trusted && u.origin !== base.origin && !origins.has(u.origin)) {
    throw new Error(
      `loadLayersModelURL: weight path ${show(p)} leaves the origin of model.json (${base.origin}); ` +
        'pass allowOrigins or an explicit fetch to allow it',
    );
  }
  return u;
}

/**
 * Fetches a tfjs-layers model.json and the weight shards its manifest names (URLs relative to it), then
 * loads it with {@link loadLayersModel}: the browser way to open a tensorflowjs_converter output
 * directory served over HTTP. Errors name the URL that failed or whose size is wrong.
 *
 * Shards come only from model.json's own origin unless `opts.allowOrigins` lists others or the
 * caller passes its own fetch (which then sees every URL). Each body is read up to the bytes the
 * manifest declares, and the manifest is checked against `maxBytes` before any shard is fetched.
 *
 * @param opts a fetch function (trusted with every URL), or {@link LoadLayersURLOptions}
 */
export async function loadLayersModelURL(
  url: string | URL,
  opts?: typeof fetch | LoadLayersURLOptions,
): Promise<Model> {
  const o: LoadLayersURLOptions = typeof opts === 'function' ? { fetch: opts } : (opts ?? {});
  const limits = limitsOf(o, 'loadLayersModelURL');
  const fetchFn = o.fetch ?? globalThis.fetch;
  const trusted = o.fetch !== undefined;
  const origins = new Set((o.allowOrigins ?? []).map((s) => new URL(s).origin));
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
    const text = new TextDecoder().decode(await readBounded(await get(base), MAX_JSON_BYTES, base.href));
    json = JSON.parse(text) as LayersModelJSON;
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith('loadLayersModelURL') ? m : `loadLayersModelURL: ${base.href} is not JSON: ${m}`);
  }
  if (!isObj(json) || !Array.isArray(json.weightsManifest)) {
    throw new Error(`loadLayersModelURL: ${base.href} has no weightsManifest list (is it a tfjs layers model.json?)`);
  }
  // Every group, path and spec is checked before the first shard is fetched.
  const groups = json.weightsManifest.map((g, i) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`loadLayersModelURL: ${base.href}: weightsManifest group ${i} needs "paths" and "weights" lists`);
    }
    g.weights.forEach(checkSpec);
    const need = g.weights.reduce((a, s) => a + weightSpecBytes(s), 0);
    return { need, urls: g.paths.map((p) => shardURL(p, base, trusted, origins)) };
  });
  checkSpecs(
    json.weightsManifest.flatMap((g) => g.weights),
    null,
    limits,
  );
  const parts: Uint8Array[] = [];
  for (const [i, { need, urls }] of groups.entries()) {
    let got = 0;
    for (const u of urls) {
      const b = await readBounded(await get(u), need - got, u.href).catch((e: Error) => {
        throw /larger than/.test(e.message)
          ? new Error(
              `loadLayersModelURL: weight shards ${urls.map((x) => x.href).join(', ')} are longer than the ` +
                `${need} bytes the weights of manifest group ${i} need`,
            )
          : e;
      });
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
  return loadLayersModel(json, parts, limits);
}
