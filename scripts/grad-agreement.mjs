#!/usr/bin/env node
// The gradient-agreement harness over the torchvision zoo: every network that
// scripts/fixtures/grad_agreement.py --zoo wrote to scratch/grad/ (or the given directory) is imported,
// one backward pass taken with training-mode BatchNormalization, and each parameter's gradient
// compared with PyTorch float64's. Prints per network the worst tensor's error, PyTorch float32's own
// error, and pass/fail (each tensor within max(10 × PyTorch float32's error, 1e-4)).
//
//   /usr/bin/python3 scripts/fixtures/grad_agreement.py --zoo
//   node scripts/grad-agreement.mjs [--dir=scratch/grad] [--verbose] [NAME ...]
//
// A ReLU input that float64 puts within float32's rounding of the kink may land on the other side in
// any float32 computation; that element's gradient then changes by its whole value, and so does every
// gradient computed from it. To see what is left once float64 takes simdnet's side of every kink:
//   node scripts/grad-agreement.mjs --sides NAME        # writes simdnet's BN outputs to DIR/NAME.sides/
//   /usr/bin/python3 scripts/fixtures/grad_agreement.py --zoo --sided=NAME   # DIR/NAME.sided.grad.bin
//   node scripts/grad-agreement.mjs --sided NAME        # compares against that reference
//
// The harness itself is test/onnx/grad-agreement.ts (also run by npm test on the committed fixtures);
// it is bundled here with esbuild, so no build of dist/ is needed.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const dir = resolve(args.find((a) => a.startsWith('--dir='))?.slice(6) ?? join(ROOT, 'scratch/grad'));
const verbose = args.includes('--verbose');
const sides = args.includes('--sides');
const sided = args.includes('--sided');
let names = args.filter((a) => !a.startsWith('--'));
if (!existsSync(dir)) {
  console.error(`${dir} does not exist: run /usr/bin/python3 scripts/fixtures/grad_agreement.py --zoo first`);
  process.exit(2);
}
if (names.length === 0)
  names = readdirSync(dir)
    .filter((f) => f.endsWith('.grad.bin') && !f.endsWith('.sided.grad.bin'))
    .map((f) => f.slice(0, -'.grad.bin'.length));

const outDir = join(ROOT, 'scratch/grad-harness');
mkdirSync(outDir, { recursive: true });
const bundle = join(outDir, 'harness.mjs');
await build({
  entryPoints: [join(ROOT, 'test/onnx/grad-agreement.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: bundle,
  logLevel: 'warning',
});
const h = await import(pathToFileURL(bundle).href);

const e = (v) => (Number.isNaN(v) ? '   –    ' : v.toExponential(2));
const table = [
  '| network | tensors | worst tensor | its error | its PyTorch f32 error | largest error | worst PyTorch f32 | zero-gradient tensors | ReLU inputs near a kink | loss rel. diff | result |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
let failed = 0;
for (const name of names) {
  const t0 = Date.now();
  const r = await h.compareGradients(dir, name, { sides, ref: sided ? `${name}.sided.grad.bin` : undefined });
  // A gradient that is zero in exact arithmetic (a BN offset followed by a convolution and another BN
  // in training mode) is rounding noise in every float32 computation: PyTorch float32's own error is
  // then above 1. Those tensors are counted apart; the worst of the others is the one nearest its threshold.
  const zero = r.rows.filter((row) => row.f32err > 1);
  const rest = r.rows.filter((row) => row.f32err <= 1);
  const worst = rest.reduce((a, b) => (b.err / b.tol > a.err / a.tol || Number.isNaN(b.err) ? b : a));
  const bad = r.rows.filter((row) => !row.pass);
  const f32 = Math.max(...rest.map((row) => row.f32err));
  const largest = Math.max(...rest.map((row) => row.err));
  const lossDiff = Math.abs(r.loss - r.loss64) / Math.abs(r.loss64);
  if (bad.length) failed++;
  const verdict = bad.length ? `FAIL (${bad.length})` : 'pass';
  table.push(
    `| ${name} | ${r.rows.length} | ${worst.name} | ${e(worst.err)} | ${e(worst.f32err)} | ${e(largest)} | ${e(f32)} | ${zero.length} | ${r.nearKinks ?? '?'} | ${e(lossDiff)} | ${verdict} |`,
  );
  console.error(`${name}: ${verdict} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (verbose || bad.length)
    for (const row of verbose ? r.rows : bad)
      console.error(
        `  ${row.pass ? ' ' : '!'} ${row.name.padEnd(40)} ${e(row.err)}  f32 ${e(row.f32err)}  tol ${e(row.tol)}`,
      );
}
console.log(table.join('\n'));
process.exit(failed ? 1 : 0);
