// The tfjs-layers model format's objects as tfjs hands and takes them: ModelArtifacts, model.json and
// its weights manifest entries.
/** One entry of a weights manifest (tfjs' WeightsManifestEntry). */
export interface LayersWeightSpec {
  /** `<layer name>/<role>`, e.g. `conv2d/kernel` (a `:0` suffix and outer scopes are tolerated). */
  name: string;
  shape: number[];
  dtype: string;
  /** tfjs' weight groups; weights of the 'optimizer' group are skipped on load. */
  group?: string;
  /** Stored as uint8/uint16 codes (value = code * scale + min) or as float16. */
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** Weight bytes: one buffer, a list of buffers in order (tfjs 4 may give several), or a byte view. */
export type LayersWeightData = ArrayBuffer | ArrayBufferView | Array<ArrayBuffer | ArrayBufferView>;

/** tfjs' ModelArtifacts (the parts that describe a layers model). */
export interface LayersModelArtifacts {
  /** The Keras model config `{class_name, config}`, or the converter's `{model_config, ...}` wrapper. */
  modelTopology: Record<string, unknown>;
  weightSpecs?: LayersWeightSpec[];
  weightData?: LayersWeightData;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** The model.json object: topology and a manifest naming the weight shard files. */
export interface LayersModelJSON {
  modelTopology: Record<string, unknown>;
  weightsManifest: Array<{ paths: string[]; weights: LayersWeightSpec[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** Options of {@link saveLayersModel}. */
export interface SaveLayersOptions {
  /** Store weights as 1- or 2-byte affine codes or as float16 (tfjs dequantises them on load). */
  quantize?: 'uint8' | 'uint16' | 'float16';
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Options of {@link loadLayersModel} and the file and URL loaders: the limits a file made by someone
 * else meets.
 */
export interface LoadLayersOptions {
  /**
   * The most bytes of weights (as float32) the manifest and the model's layers may need; default
   * 1 GiB. Checked before anything is read or allocated.
   */
  maxBytes?: number;
  /** Load weights that hold NaN or ±Infinity (default: refused, naming the weight). */
  allowNonFinite?: boolean;
}

/** Options of {@link loadLayersModelURL}. */
export interface LoadLayersURLOptions extends LoadLayersOptions {
  /**
   * The fetch to use. Given explicitly, it is trusted with every URL the manifest names; without it,
   * the global fetch gets only model.json and shard paths of model.json's own origin (plus `allowOrigins`).
   */
  fetch?: typeof fetch;
  /** Other origins (e.g. 'https://cdn.example.com') the manifest's shard URLs may name. */
  allowOrigins?: string[];
}
