// The layer registry: class name -> class, built once from classes.ts. `LayerClassName` is the union of
// the registered names; every per-class table elsewhere (ONNX emitters, tfjs-layers reader and writer,
// inference-plan rules) is a `Record<LayerClassName, ...>`, so a layer missing from one is a type error.
import * as classes from './classes.js';
import type { Layer } from './layer.js';
import { show } from '../show.js';

/** A registered layer class. */
export type LayerClass = (typeof classes)[keyof typeof classes];

/** The Keras class name of every registered layer, e.g. 'Conv2D' | 'Dense' | ... */
export type LayerClassName = LayerClass['className'];

// A class that forgot its own `static readonly className = '...'` inherits Layer's `string` and widens
// the union to string, which would turn every table's completeness check off: fail to compile then.
const _literalNames: string extends LayerClassName ? never : true = true;
void _literalNames;

const byName = new Map<string, LayerClass>();
for (const C of Object.values(classes)) {
  if (byName.has(C.className)) throw new Error(`layer registry: two classes are named ${C.className}`);
  byName.set(C.className, C);
}

/** Every registered class name, sorted. */
export const layerClassNames: readonly LayerClassName[] = [...byName.keys()].sort() as LayerClassName[];

/** The registered class of `name`, or undefined (never a prototype member: the registry is a Map). */
export function layerClass(name: unknown): LayerClass | undefined {
  return typeof name === 'string' ? byName.get(name) : undefined;
}

/** True when `name` is a registered class name. */
export function isLayerClassName(name: unknown): name is LayerClassName {
  return typeof name === 'string' && byName.has(name);
}

/**
 * A new layer of the registered class `name` from its constructor options; `what` prefixes the error
 * for an unknown name. The class' own constructor validates the options.
 */
export function createLayer(name: unknown, config: unknown, what: string): Layer {
  const C = layerClass(name);
  if (!C) throw new Error(`${what}: unknown layer class ${show(name)}`);
  return new (C as unknown as new (cfg: unknown) => Layer)(config);
}

/** The name of a layer's class as a registry key. */
export function classNameOf(layer: Layer): LayerClassName {
  const n = layer.className;
  if (!isLayerClassName(n)) throw new Error(`layer ${layer.name} has an unregistered class ${show(n)}`);
  return n;
}
