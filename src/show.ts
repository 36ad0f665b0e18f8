// How values appear in error messages: like JSON, but NaN, ±Infinity, -0, undefined and functions print
// as what they are (JSON.stringify would turn the very value that is wrong into `null`), and long
// arrays or deep objects are cut short so a message stays one readable line.

const MAX_ITEMS = 8;
const MAX_DEPTH = 3;

/** A one-line rendering of `v` for error messages. */
export function show(v: unknown, depth = 0): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return v.name ? `function ${v.name}` : 'a function';
  if (typeof v === 'symbol') return v.toString();
  if (v === undefined || v === null || typeof v === 'boolean') return String(v);
  if (ArrayBuffer.isView(v)) {
    const n = (v as unknown as ArrayLike<unknown>).length;
    return `${v.constructor.name}(${n === undefined ? (v as ArrayBufferView).byteLength : n})`;
  }
  if (depth >= MAX_DEPTH) return Array.isArray(v) ? '[...]' : '{...}';
  if (Array.isArray(v)) {
    const items = v.slice(0, MAX_ITEMS).map((x) => show(x, depth + 1));
    if (v.length > MAX_ITEMS) items.push(`... ${v.length - MAX_ITEMS} more`);
    return `[${items.join(',')}]`;
  }
  const name = (v as object).constructor?.name;
  if (name && name !== 'Object') {
    const s = String(v);
    return s.startsWith('[object') ? `a ${name}` : s;
  }
  const entries = Object.entries(v as object);
  const items = entries.slice(0, MAX_ITEMS).map(([k, x]) => `${JSON.stringify(k)}:${show(x, depth + 1)}`);
  if (entries.length > MAX_ITEMS) items.push(`... ${entries.length - MAX_ITEMS} more`);
  return `{${items.join(',')}}`;
}
