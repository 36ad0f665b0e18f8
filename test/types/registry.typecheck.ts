// Compile-time checks of the layer registry, run by `npm run typecheck` (tsconfig.check.json): each
// `@ts-expect-error` below must be an error, or the typecheck fails.
import type { LayerClassName } from '../../src/nn/registry.js';

/** A table over every layer class, as the format and inference-plan tables are written. */
type Table = Record<LayerClassName, true>;

const named: LayerClassName = 'Conv2D';
// @ts-expect-error an unregistered name is not a LayerClassName
const unknownName: LayerClassName = 'Conv3D';

// @ts-expect-error a table that lists only some classes is missing entries
const partial = { Conv2D: true, Dense: true } satisfies Table;

// @ts-expect-error a table with a key that is not a class name has an excess entry
const extra = { NotALayer: true } satisfies Partial<Table>;

export { named, unknownName, partial, extra };
