/** Markdown summary page of a training run. Browser-safe. */
import type { ClassStats } from './confusion.js';

/** Relative paths of the artefacts written next to the report. */
export interface ReportFiles {
  curves?: string;
  confusion?: string;
  samples?: string;
  history?: string;
  model?: string;
}

/** Everything the report states about a run. */
export interface ReportInfo {
  /** Test accuracy in [0, 1]. */
  accuracy: number;
  /** Test loss. */
  loss: number;
  epochs: number;
  /** Wall-clock training time. */
  seconds: number;
  examplesPerSecond: number;
  trainExamples: number;
  testExamples: number;
  seed: number;
  cores: number;
  /** Node version string, e.g. `v20.11.0`. */
  node: string;
  /** ISO date of the run. */
  date: string;
  files: ReportFiles;
  perClass?: ClassStats[];
  /** Optional heading (default "simdnet training report"). */
  title?: string;
}

// Paths go into link targets: encode spaces etc. so the link stays one token.
const link = (path: string): string => encodeURI(path);

const fixed = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/**
 * Builds a markdown page that states the run's numbers and links (or embeds,
 * for SVG pictures) the artefact files.
 */
export function reportMd(info: ReportInfo): string {
  const f = info.files;
  const lines: string[] = [
    `# ${info.title ?? 'simdnet training report'}`,
    '',
    `Test accuracy **${fixed(info.accuracy * 100, 2)}%**, test loss **${fixed(info.loss, 4)}**.`,
    '',
    '| | |',
    '|---|---|',
    `| test accuracy | ${fixed(info.accuracy * 100, 2)}% |`,
    `| test loss | ${fixed(info.loss, 4)} |`,
    `| epochs | ${info.epochs} |`,
    `| training examples | ${info.trainExamples} |`,
    `| test examples | ${info.testExamples} |`,
    `| training time | ${fixed(info.seconds, 1)} s |`,
    `| throughput | ${fixed(info.examplesPerSecond, 0)} examples/s |`,
    `| seed | ${info.seed} |`,
    `| cores | ${info.cores} |`,
    `| Node | ${info.node} |`,
    `| date | ${info.date} |`,
    '',
  ];
  const pictures: [keyof ReportFiles, string][] = [
    ['curves', 'Training curves'],
    ['confusion', 'Confusion matrix'],
    ['samples', 'Sample predictions'],
  ];
  for (const [key, heading] of pictures) {
    const path = f[key];
    if (path) lines.push(`## ${heading}`, '', `![${heading}](${link(path)})`, '');
  }
  if (info.perClass?.length) {
    lines.push(
      '## Per-class results',
      '',
      '| class | precision | recall | F1 | support |',
      '|---:|---:|---:|---:|---:|',
    );
    for (const s of info.perClass) {
      lines.push(
        `| ${s.class} | ${fixed(s.precision, 3)} | ${fixed(s.recall, 3)} | ${fixed(s.f1, 3)} | ${s.support} |`,
      );
    }
    lines.push('');
  }
  const data: [keyof ReportFiles, string][] = [
    ['history', 'per-epoch history (JSON)'],
    ['model', 'trained model'],
    ['curves', 'training curves (SVG)'],
    ['confusion', 'confusion matrix (SVG)'],
    ['samples', 'sample predictions (SVG)'],
  ];
  const present = data.filter(([key]) => f[key]);
  if (present.length) {
    lines.push('## Files', '');
    for (const [key, what] of present) lines.push(`- [${f[key]}](${link(f[key]!)}): ${what}`);
    lines.push('');
  }
  return lines.join('\n');
}
