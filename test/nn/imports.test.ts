// The model is decoupled from its file formats: following the runtime imports (not `import type`,
// not lazy `import()`) from src/nn/model.ts never reaches the binary format or the ONNX exporter,
// and no module of src/ takes part in an import cycle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Static runtime imports of a module, as absolute .ts paths inside src/. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\sfrom\s+'(\.[^']+)'/gm)) {
    if (m[2]) continue;
    out.push(resolve(dirname(file), m[3].replace(/\.js$/, '.ts')));
  }
  return out;
}

describe('module structure', () => {
  const all = files(src);
  const graph = new Map(all.map((f) => [f, imports(f)]));

  it('src/nn/model.ts reaches neither serialize.ts nor onnx/export.ts', () => {
    const seen = new Set<string>();
    const walk = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const g of graph.get(f) ?? []) walk(g);
    };
    walk(join(src, 'nn/model.ts'));
    expect(seen.size).toBeGreaterThan(5);
    expect([...seen].map((f) => relative(src, f))).not.toContain('nn/serialize.ts');
    expect([...seen].map((f) => relative(src, f))).not.toContain('onnx/export.ts');
    expect(graph.get(join(src, 'nn/serialize.ts'))).toContain(join(src, 'nn/model.ts'));
  });

  it('no import cycle in src/', () => {
    const state = new Map<string, number>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 2) return;
      if (state.get(f) === 1) {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(src, p)).join(' -> '));
        return;
      }
      state.set(f, 1);
      for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
      state.set(f, 2);
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
