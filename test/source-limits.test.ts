// Size limits of the library's source, so a file or a function cannot quietly grow into the next
// 1,700-line importer: no file in src/ over 600 lines, no function (declaration, method, arrow or
// expression) over 100 lines. Parsed with the TypeScript compiler, so comments and strings never count
// as structure.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 100;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Functions longer than `max` lines in a source text, as 'name (N lines)'. */
export function longFunctions(text: string, file: string, max: number): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '<anonymous>';
        out.push(`${name} at line ${start + 1} (${lines} lines)`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe('source limits', () => {
  const all = files(src);

  it('finds a long function (the checker itself can fail)', () => {
    const body = Array.from({ length: 120 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    expect(longFunctions(`function big() {\n${body}\n}\nconst ok = () => 1;\n`, 'x.ts', 100)).toEqual([
      'big at line 1 (122 lines)',
    ]);
  });

  it(`no file in src/ over ${MAX_FILE_LINES} lines`, () => {
    expect(all.length).toBeGreaterThan(50);
    const long = all
      .map((f) => [relative(src, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > MAX_FILE_LINES)
      .map(([f, n]) => `${f} (${n} lines)`);
    expect(long).toEqual([]);
  });

  it(`no function in src/ over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = all.flatMap((f) =>
      longFunctions(readFileSync(f, 'utf8'), f, MAX_FUNCTION_LINES).map((d) => `${relative(src, f)}: ${d}`),
    );
    expect(long).toEqual([]);
  });
});
