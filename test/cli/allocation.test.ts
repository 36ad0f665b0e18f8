// The real `simdnet` process when memory runs out or a model asks for too much: one line on stderr
// that names what failed, exit code 1, no stack trace. Runs the built CLI (bin/simdnet.js → dist/).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxModel } from '../formats/hostile-helpers.js';

const bin = join(import.meta.dirname, '../../bin/simdnet.js');
const built = existsSync(join(import.meta.dirname, '../../dist/cli/main.js'));
const dir = mkdtempSync(join(tmpdir(), 'simdnet-alloc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI under `bash -c` (so a ulimit can apply to it alone); returns exit code and stderr. */
function cli(args: string[], ulimitKiB?: number): { code: number | null; stderr: string; stdout: string } {
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const limit = ulimitKiB ? `ulimit -v ${ulimitKiB} && ` : '';
  const r = spawnSync('bash', ['-c', `${limit}exec '${process.execPath}' '${bin}' ${quoted}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneLine(r: { code: number | null; stderr: string }, what: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^simdnet: /);
  expect(lines[0]).toMatch(what);
  expect(r.stderr).not.toMatch(/\n\s+at |Fatal|Trace\/breakpoint/);
}

describe.skipIf(!built && !process.env.CI)('simdnet when memory is short', () => {
  it('a process whose address space cannot hold the wasm memory says so in one line', () => {
    const p = join(dir, 'relu.onnx');
    writeFileSync(p, onnxModel([{ op: 'Relu', inputs: ['x'], outputs: ['out'] }]));
    // 6 GB of address space: enough for Node, not for the engine's 4 GiB memory and its guard region.
    const r = cli(['import', p, '--out', join(dir, 'relu.simdnet')], 6_000_000);
    expectOneLine(r, /ready: could not reserve the wasm memory .*ulimit -v/);
  });

  it('an architecture whose weights pass the budget is refused in one line before training starts', () => {
    const p = join(dir, 'big.json');
    const layers = [
      { className: 'Flatten', config: { inputShape: [28, 28, 1] } },
      { className: 'Dense', config: { units: 200000 } },
      { className: 'Dense', config: { units: 1000 } },
      { className: 'Dense', config: { units: 10, activation: 'softmax' } },
    ];
    writeFileSync(p, JSON.stringify({ format: 'simdnet-architecture', className: 'Sequential', name: 's', layers }));
    const r = cli(['train', '--model', p, '--epochs', '1', '--out', join(dir, 'run')]);
    expectOneLine(r, /modelFromJSON: layer weight dense_1\/kernel would have shape \[200000,1000\].*past the budget/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });
});
