/** Confusion matrix, per-class statistics, and their SVG/text renderings. Browser-safe. */
import { esc, n2, svgOpen } from './svg.js';

/** Precision, recall and F1 of one class; 0 wherever the ratio is undefined. */
export interface ClassStats {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  /** Number of examples whose true label is this class. */
  support: number;
}

/**
 * Counts (true, predicted) pairs: `matrix[t][p]` is how many examples of
 * class `t` were predicted as `p`.
 * @throws RangeError on length mismatch or a label outside [0, numClasses)
 */
export function confusionMatrix(
  trueLabels: ArrayLike<number>,
  predLabels: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (trueLabels.length !== predLabels.length) {
    throw new RangeError(`${trueLabels.length} true labels but ${predLabels.length} predictions`);
  }
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i]!;
    const p = predLabels[i]!;
    for (const [what, v] of [
      ['true label', t],
      ['prediction', p],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
        throw new RangeError(`${what} ${v} at index ${i} is outside [0, ${numClasses})`);
      }
    }
    m[t]![p]!++;
  }
  return m;
}

/** Precision (per predicted column), recall (per true row) and F1 for every class. */
export function perClassStats(matrix: number[][]): ClassStats[] {
  const n = matrix.length;
  return matrix.map((row, c) => {
    const tp = row[c] ?? 0;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < n; r++) predicted += matrix[r]![c] ?? 0;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: c, precision, recall, f1, support };
  });
}

/** Fraction of examples on the diagonal (0 for an empty matrix). */
export function matrixAccuracy(matrix: number[][]): number {
  let total = 0;
  let right = 0;
  matrix.forEach((row, r) => {
    for (const v of row) total += v;
    right += row[r] ?? 0;
  });
  return total > 0 ? right / total : 0;
}

// White → dark blue; the colour encodes the share of the true row, so rare
// classes are as readable as common ones.
function heat(f: number): string {
  const lerp = (a: number, b: number): number => Math.round(a + (b - a) * f);
  return `rgb(${lerp(255, 8)},${lerp(255, 48)},${lerp(255, 107)})`;
}

/** Options for {@link confusionSvg}. */
export interface ConfusionSvgOptions {
  /** Class names (default: the class indices). */
  labels?: string[];
  title?: string;
}

/**
 * Draws the matrix as a heat map: one `<rect class="cell">` per cell with its
 * count, rows = true class, columns = predicted class, recall at the end of
 * each row and precision under each column.
 * @returns a standalone SVG document
 */
export function confusionSvg(matrix: number[][], opts: ConfusionSvgOptions = {}): string {
  const n = matrix.length;
  const names = Array.from({ length: n }, (_, i) => opts.labels?.[i] ?? String(i));
  const cell = n <= 12 ? 40 : Math.max(16, Math.floor(480 / n));
  const font = Math.min(12, Math.max(7, Math.floor(cell * 0.32)));
  const left = 96; // room for row labels and the "precision %" caption
  const top = 70;
  const grid = cell * n;
  const width = left + grid + 80;
  const height = top + grid + 70;
  const stats = perClassStats(matrix);
  const pct = (x: number): string => (x * 100).toFixed(1);

  const out: string[] = [svgOpen(width, height, 'confusion matrix'), `<rect width="100%" height="100%" fill="#fff"/>`];
  const title = opts.title ?? `Confusion matrix (accuracy ${pct(matrixAccuracy(matrix))}%)`;
  out.push(
    `<text x="${n2(left + grid / 2)}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  );
  out.push(`<text x="${n2(left + grid / 2)}" y="42" text-anchor="middle" class="axis-title">predicted</text>`);
  const yMid = n2(top + grid / 2);
  out.push(
    `<text x="18" y="${yMid}" text-anchor="middle" class="axis-title" transform="rotate(-90 18 ${yMid})">true</text>`,
  );

  for (let i = 0; i < n; i++) {
    out.push(
      `<text x="${n2(left + i * cell + cell / 2)}" y="${top - 8}" text-anchor="middle">${esc(names[i]!)}</text>`,
    );
    out.push(
      `<text x="${left - 8}" y="${n2(top + i * cell + cell / 2)}" text-anchor="end" dominant-baseline="middle">${esc(names[i]!)}</text>`,
    );
  }

  matrix.forEach((row, r) => {
    const rowSum = row.reduce((a, b) => a + b, 0);
    row.forEach((v, c) => {
      const f = rowSum > 0 ? v / rowSum : 0;
      const x = left + c * cell;
      const y = top + r * cell;
      out.push(
        `<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${heat(f)}" stroke="#ccc" ` +
          `data-true="${r}" data-pred="${c}"><title>true ${esc(names[r]!)}, predicted ${esc(names[c]!)}: ${v}</title></rect>`,
      );
      // Zeros in light grey so the errors stand out from the empty cells.
      const fill = f > 0.5 ? '#fff' : v === 0 ? '#aaa' : '#222';
      const weight = r === c ? ' font-weight="bold"' : '';
      out.push(
        `<text x="${n2(x + cell / 2)}" y="${n2(y + cell / 2)}" text-anchor="middle" dominant-baseline="middle" ` +
          `font-size="${font}" fill="${fill}"${weight}>${v}</text>`,
      );
    });
  });

  // Recall belongs to the true class (row), precision to the predicted class (column).
  const rx = left + grid + 8;
  out.push(`<text x="${rx}" y="${top - 8}" class="stat-title">recall %</text>`);
  stats.forEach((s, i) => {
    out.push(
      `<text x="${rx}" y="${n2(top + i * cell + cell / 2)}" dominant-baseline="middle" font-size="${font}" class="recall">${pct(s.recall)}</text>`,
    );
  });
  const py = top + grid + 18;
  out.push(`<text x="${left - 8}" y="${py}" text-anchor="end" class="stat-title">precision %</text>`);
  stats.forEach((s, i) => {
    out.push(
      `<text x="${n2(left + i * cell + cell / 2)}" y="${py}" text-anchor="middle" font-size="${font}" class="precision">${pct(s.precision)}</text>`,
    );
  });
  out.push(
    `<text x="${left}" y="${py + 30}" fill="#555">cell colour: share of the true class predicted as each column</text>`,
  );
  out.push(`</svg>`);
  return out.join('\n');
}

/**
 * Renders the matrix as an aligned text table (rows = true, columns =
 * predicted) followed by one precision/recall/F1 line per class.
 */
export function confusionText(matrix: number[][], labels?: string[]): string {
  const n = matrix.length;
  const names = Array.from({ length: n }, (_, i) => labels?.[i] ?? String(i));
  const corner = 'true\\pred';
  const w = Math.max(...matrix.flat().map((v) => String(v).length), ...names.map((s) => s.length), 3);
  const first = Math.max(corner.length, ...names.map((s) => s.length));
  const lines = [[corner.padEnd(first), ...names.map((s) => s.padStart(w))].join(' ')];
  matrix.forEach((row, r) => lines.push([names[r]!.padEnd(first), ...row.map((v) => String(v).padStart(w))].join(' ')));
  lines.push('');
  const nameW = Math.max(...names.map((s) => s.length));
  for (const s of perClassStats(matrix)) {
    lines.push(
      `class ${names[s.class]!.padEnd(nameW)}  precision ${s.precision.toFixed(3)}  recall ${s.recall.toFixed(3)}  ` +
        `f1 ${s.f1.toFixed(3)}  support ${s.support}`,
    );
  }
  lines.push(`accuracy ${matrixAccuracy(matrix).toFixed(4)}`);
  return lines.join('\n');
}
