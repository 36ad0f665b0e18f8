// What a model saves, as plain data: the architecture (layer configs and, for a functional model, its
// topology), the weights, the optimizer state and the RNG states (tfjs' ModelArtifacts). The model
// builds them (nn/artifacts.ts); an IOHandler or a file format encodes them. Nothing here knows a model.

/** A reference to one output of one application of a layer: [layer name, node index, tensor index]. */
export type NodeRef = [string, number, number];

/** A functional model's topology (Keras' functional config). */
export interface GraphConfig {
  /** Per entry of the model's layer list, in order: the layer's name and its applications' inputs. */
  layers: Array<{ name: string; inboundNodes: NodeRef[][] }>;
  inputLayers: NodeRef[];
  outputLayers: NodeRef[];
}

/** One layer of an architecture: its class and its config (with `trainable: false` for a frozen layer). */
export interface LayerEntry {
  className: string;
  config: Record<string, unknown>;
}

/** The architecture alone as JSON, Keras' `model.to_json()` counterpart (`model.toJSON()`). */
export interface ModelJSON {
  format: 'simdnet-architecture';
  /** 'Sequential' or 'Functional', as Keras' class_name. */
  className: 'Sequential' | 'Functional';
  name: string;
  /** Every layer's class name and config: the same configs the model file stores. */
  layers: LayerEntry[];
  /** A functional model's topology (the model file's "graph" key); absent for a Sequential one. */
  graph?: GraphConfig;
}

/** A named array of a model: a weight, a piece of layer state. */
export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
  /** 'int8': the values are integers in [-128, 127] (a quantized kernel), stored as int8 bytes in every file. */
  dtype?: 'int8';
}

/** The compile settings a model saves. */
export interface CompileConfig {
  loss: string;
  metrics: string[];
  optimizer: { className: string; config: Record<string, number | boolean> };
  /** Absent when 0. */
  labelSmoothing?: number;
  /** The model outputs logits (compile's fromLogits); absent when false. */
  fromLogits?: boolean;
}

/** Everything `model.save()` writes: enough to resume training bit for bit. */
export interface ModelArtifacts {
  name: string;
  seed: number;
  layers: LayerEntry[];
  /** The topology of a functional model; absent for a Sequential one. */
  graph?: GraphConfig;
  /** Trainable weights, in the model's order. */
  weights: NamedArray[];
  /** Non-trainable layer state (BatchNormalization's moving statistics), in the model's order. */
  state: NamedArray[];
  compile: CompileConfig | null;
  /** The optimizer's step count and per-weight slots (by weight name); null before compile. */
  optimizerState: { iterations: number; slots: Record<string, Float32Array[]> } | null;
  rng: { init: number[]; train: number[] };
}

/** Where `model.save(handler)` sends the model's artifacts (tfjs' IOHandler); returns what save returns. */
export interface IOHandler<R> {
  save(artifacts: ModelArtifacts): R;
}
