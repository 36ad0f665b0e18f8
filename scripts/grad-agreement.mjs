#!/usr/bin/env node
// The gradient-agreement harness over the torchvision zoo: every network that
// scripts/fixtures/grad_agreement.py --zoo wrote to scratch/grad/ (or the given directory) is imported,
// one backward pass taken with training-mode BatchNormalization, and each parameter's gradient
// compared with PyTorch float64's. Prints per network the worst tensor's error, PyTorch float32's own
// error, and pass/fail (each tensor within max(10 × PyTorch float32's error, 1e-4)); then the fine-tuning
// trajectory (10 plain-SGD steps on the same batch, training-mode BN): at each step where PyTorch float32's
// loss (NCHW and channels-last) is within 1e-4 of float64's, simdnet's must be within 1e-3 of PyTorch
// float32's (NCHW), and every BN moving
// statistic after the steps within max(10 × PyTorch float32's error, 1e-4) of PyTorch float64's running one.
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
const trajTable = [
  '| network | lr | loss step 0 → 9 (f64) | steps checked | worst checked step: simdnet vs PyTorch f32 | PyTorch f32 vs f64 at the first unchecked step (worse layout) | steps inside the range of PyTorch runs | BN statistics: worst error / tolerance (zero ones apart) | trajectory agrees |',
  '|---|---|---|---|---|---|---|---|---|',
];
// Why a trajectory does not agree, in words.
function whyNot(t) {
  const why = [];
  const firstOff = t.steps.findIndex((s) => !s.checked);
  if (firstOff === 0) why.push('PyTorch float32 leaves float64 from the first step: nothing checked');
  t.steps.forEach((s, i) => {
    if (!s.pass) why.push(`step ${i}: ${e(s.err)} > 1e-3`);
  });
  const badStats = t.stats.filter((s) => !s.pass);
  if (badStats.length)
    why.push(
      `${badStats.length} BN statistics off (worst ${badStats.reduce((a, b) => (b.err / b.tol > a.err / a.tol ? b : a)).name})`,
    );
  return why.join('; ');
}
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
  const t1 = Date.now();
  const t = await h.compareTrajectory(dir, name);
  const checked = t.steps.filter((st) => st.checked);
  const firstOff = t.steps.find((st) => !st.checked);
  // As with the gradients: a statistic that is zero in exact arithmetic (the running mean after a
  // bias-free convolution of a BN output whose offset gets zero gradient) is rounding noise in float32.
  const statRest = t.stats.filter((st) => st.f32err <= 1);
  const statWorst = statRest.reduce(
    (a, b) => (b.err / b.tol > a.err / a.tol || Number.isNaN(b.err) ? b : a),
    statRest[0],
  );
  // Not part of the verdict: where PyTorch's runs part, whether simdnet's loss lies in the range its
  // three runs (float64, float32 NCHW and channels-last) span, widened by 1e-4 of the float64 loss.
  const inside = t.steps.filter((st) => {
    const runs = [st.loss64, st.loss32, Number.isNaN(st.loss32cl) ? st.loss32 : st.loss32cl];
    const pad = 1e-4 * Math.abs(st.loss64);
    return st.loss >= Math.min(...runs) - pad && st.loss <= Math.max(...runs) + pad;
  }).length;
  const trajVerdict = t.agrees ? 'yes' : `no: ${whyNot(t)}`;
  if (!t.agrees) failed++;
  trajTable.push(
    `| ${name} | ${t.lr} | ${t.steps[0].loss64.toFixed(4)} → ${t.steps[t.steps.length - 1].loss64.toFixed(4)} | ${checked.length}/${t.steps.length} | ${checked.length ? e(Math.max(...checked.map((st) => st.err))) : '–'} | ${firstOff ? e(Math.max(Math.abs(firstOff.loss32 - firstOff.loss64), Math.abs(firstOff.loss32cl - firstOff.loss64) || 0) / Math.abs(firstOff.loss64)) : '–'} | ${inside}/${t.steps.length} | ${statWorst ? `${e(statWorst.err)} / ${e(statWorst.tol)}` : '–'} (${t.stats.length - statRest.length}) | ${trajVerdict} |`,
  );
  console.error(
    `${name}: gradients ${verdict} in ${((t1 - t0) / 1000).toFixed(1)} s, trajectory ${t.agrees ? 'agrees' : 'does not agree'} in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
  );
  if (verbose || !t.agrees) {
    t.steps.forEach((st, i) =>
      console.error(
        `  step ${i}: simdnet ${st.loss.toFixed(7)}  f32 ${st.loss32.toFixed(7)}  f32 channels-last ${st.loss32cl.toFixed(7)}  f64 ${st.loss64.toFixed(7)}  ${st.checked ? 'checked' : 'unchecked'} ${e(st.err)}`,
      ),
    );
    for (const st of verbose ? t.stats : t.stats.filter((x) => !x.pass))
      console.error(
        `  ${st.pass ? ' ' : '!'} ${st.name.padEnd(40)} ${e(st.err)}  f32 ${e(st.f32err)}  tol ${e(st.tol)}`,
      );
  }
  if (verbose || bad.length)
    for (const row of verbose ? r.rows : bad)
      console.error(
        `  ${row.pass ? ' ' : '!'} ${row.name.padEnd(40)} ${e(row.err)}  f32 ${e(row.f32err)}  tol ${e(row.tol)}`,
      );
}
console.log(table.join('\n'));
console.log();
console.log(trajTable.join('\n'));
process.exit(failed ? 1 : 0);
