// Module structure. Every import counts here, `import type` and lazy `import()` included: a type
// import ties two modules as surely as a value import does. The model never reaches a file format
// (src/formats/), and no module of src/ takes part in an import cycle.
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

/** Relative imports of a module (static, type-only, re-exports and dynamic), as absolute .ts paths. */
export function imports(text: string, file: string): string[] {
  const out: string[] = [];
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'";]*?\sfrom\s+'(\.[^']+)'/gm),
    ...text.matchAll(/^\s*import\s+'(\.[^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
  ];
  for (const m of specs) out.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  return out;
}

describe('module structure', () => {
  const all = files(src);
  const graph = new Map(all.map((f) => [f, imports(readFileSync(f, 'utf8'), f)]));
  const reach = (from: string) => {
    const seen = new Set<string>();
    const walk = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const g of graph.get(f) ?? []) walk(g);
    };
    walk(join(src, from));
    return [...seen].map((f) => relative(src, f));
  };

  it('counts type-only and dynamic imports', () => {
    const f = join(src, 'x.ts');
    const found = imports("import type { A } from './a.js';\nconst m = await import('./b.js');\n", f);
    expect(found).toEqual([join(src, 'a.ts'), join(src, 'b.ts')]);
  });

  it('nothing under src/nn/ reaches src/formats/', () => {
    const nn = all.filter((f) => relative(src, f).startsWith('nn/'));
    expect(nn.length).toBeGreaterThan(10);
    const leaks = nn.flatMap((f) =>
      reach(relative(src, f))
        .filter((g) => g.startsWith('formats/'))
        .map((g) => `${relative(src, f)} -> ${g}`),
    );
    expect(leaks).toEqual([]);
    // and the formats do build on the model
    expect(reach('formats/simdnet/serialize.ts')).toContain('nn/model.ts');
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
