// A node's attributes, read through one helper: each getter names the node and the attribute when
// the value is not one the importer reads (oneOf lists the values ONNX defines or the importer maps).
import { fail } from './context.js';

/** An AttributeProto as protobufjs decodes it. */
export interface AttrMsg {
  name?: string;
  type?: number;
  f?: number;
  i?: unknown;
  s?: Uint8Array;
  t?: unknown;
  floats?: number[];
  ints?: unknown[];
}

/** An int64 field (protobufjs gives a Long for large values) as a number. */
export function int(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return fail(`${what} is not an integer (got ${typeof v})`);
}

/** A node's attributes by name, with typed getters that refuse values the importer cannot read. */
export class Attrs {
  private readonly m = new Map<string, AttrMsg>();
  /** `what` names the node in errors: `node 'conv1' (Conv)`. */
  constructor(
    list: AttrMsg[],
    private readonly what: string,
  ) {
    for (const a of list) if (a.name) this.m.set(a.name, a);
  }

  has(n: string): boolean {
    return this.m.has(n);
  }

  int(n: string, dflt: number): number {
    const a = this.m.get(n);
    return a ? int(a.i ?? 0, `${this.what} attribute ${n}`) : dflt;
  }

  /** A 0/1 attribute (ceil_mode, transB, keepdims, ...). */
  flag(n: string, dflt: boolean): boolean {
    if (!this.m.has(n)) return dflt;
    const v = this.int(n, 0);
    if (v !== 0 && v !== 1) fail(`${this.what}: attribute ${n} is ${v}; expected 0 or 1`);
    return v === 1;
  }

  float(n: string, dflt: number): number {
    const a = this.m.get(n);
    if (!a) return dflt;
    const v = a.f ?? 0;
    if (!Number.isFinite(v)) fail(`${this.what}: attribute ${n} is ${v}`);
    return v;
  }

  ints(n: string): number[] | null {
    const a = this.m.get(n);
    return a ? (a.ints ?? []).map((x) => int(x, `${this.what} attribute ${n}`)) : null;
  }

  floats(n: string): number[] | null {
    const a = this.m.get(n);
    return a ? [...(a.floats ?? [])] : null;
  }

  str(n: string, dflt: string): string {
    const a = this.m.get(n);
    return a?.s ? new TextDecoder().decode(a.s) : dflt;
  }

  /**
   * A string attribute that must be one of `allowed`. The error names the node, the attribute and
   * the value; `refusal` replaces the generic sentence ("only constant padding is supported").
   */
  oneOf<T extends string>(n: string, allowed: readonly T[], dflt: T, refusal?: string): T {
    const v = this.str(n, dflt);
    if ((allowed as readonly string[]).includes(v)) return v as T;
    const why = refusal ?? `attribute ${n} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`;
    return fail(`${this.what}: ${why} (${n} '${v}')`);
  }

  /** The TensorProto message of a tensor attribute. */
  tensor(n: string): unknown {
    return this.m.get(n)?.t ?? null;
  }
}
