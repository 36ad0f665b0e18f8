/** Training curves (loss and accuracy per epoch) as an SVG. Browser-safe. */
import { esc, n2, niceTicks, svgOpen } from './svg.js';

/** Per-epoch metrics, as recorded by training (one entry per epoch). */
export interface History {
  loss: number[];
  accuracy: number[];
  val_loss?: number[];
  val_accuracy?: number[];
}

interface Series {
  name: string;
  color: string;
  dash: string;
  values: readonly number[];
}

const TRAIN = { name: 'train', color: '#1f77b4', dash: '' };
const VAL = { name: 'validation', color: '#ff7f0e', dash: '6 3' };

const PANEL_W = 380;
const PANEL_H = 270;
const M = { left: 60, right: 14, top: 30, bottom: 46 };
const LEGEND_H = 30;

/** Integer epoch ticks, at most ~8 of them. */
function epochTicks(epochs: number): number[] {
  const step = Math.max(1, Math.ceil((epochs - 1) / 8));
  const out: number[] = [];
  for (let e = 1; e <= epochs; e += step) out.push(e);
  return out;
}

function panel(x0: number, title: string, yLabel: string, series: Series[], epochs: number, unit: boolean): string {
  const pw = PANEL_W - M.left - M.right;
  const ph = PANEL_H - M.top - M.bottom;
  const left = x0 + M.left;
  const top = M.top;
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  // Accuracy lives in [0, 1]: a flat curve at 1.0 should not get an axis to 1.1.
  if (unit && hi <= lo) [lo, hi] = [Math.max(0, lo - 0.05), Math.min(1, hi + 0.05)];
  const yt = niceTicks(lo, hi, 5);
  // One epoch has no span: centre its point instead of dividing by zero.
  const [xLo, xHi] = epochs > 1 ? [1, epochs] : [0.5, 1.5];
  const sx = (e: number): number => left + ((e - xLo) / (xHi - xLo)) * pw;
  const sy = (v: number): number => top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;

  const out: string[] = [`<g class="panel">`];
  out.push(
    `<text x="${n2(left + pw / 2)}" y="${top - 10}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  );
  // Grid lines and y tick labels.
  for (const v of yt.values) {
    const y = n2(sy(v));
    out.push(`<line x1="${left}" x2="${n2(left + pw)}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${left - 4}" x2="${left}" y1="${y}" y2="${y}" stroke="#333"/>`);
    out.push(
      `<text x="${left - 7}" y="${y}" text-anchor="end" dominant-baseline="middle">${v.toFixed(yt.decimals)}</text>`,
    );
  }
  for (const e of epochTicks(epochs)) {
    const x = n2(sx(e));
    out.push(`<line x1="${x}" x2="${x}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${top + ph + 17}" text-anchor="middle">${e}</text>`);
  }
  // Axes.
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${n2(left + pw)}" y1="${top + ph}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<text x="${n2(left + pw / 2)}" y="${top + ph + 36}" text-anchor="middle">epoch</text>`);
  const yMid = n2(top + ph / 2);
  out.push(
    `<text x="${x0 + 16}" y="${yMid}" text-anchor="middle" transform="rotate(-90 ${x0 + 16} ${yMid})">${esc(yLabel)}</text>`,
  );

  for (const s of series) {
    const pts: string[] = [];
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) pts.push(`${n2(sx(i + 1))},${n2(sy(v))}`);
    });
    if (pts.length === 0) continue;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<g class="series" data-name="${esc(s.name)}">`);
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`);
    }
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
    out.push(`</g>`);
  }
  out.push(`</g>`);
  return out.join('\n');
}

function legend(entries: { name: string; color: string; dash: string }[], width: number, y: number): string {
  const itemW = 120;
  let x = width / 2 - (entries.length * itemW) / 2;
  const out = [`<g class="legend">`];
  for (const e of entries) {
    const dash = e.dash ? ` stroke-dasharray="${e.dash}"` : '';
    out.push(
      `<line x1="${n2(x)}" x2="${n2(x + 28)}" y1="${y}" y2="${y}" stroke="${e.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<circle cx="${n2(x + 14)}" cy="${y}" r="3" fill="${e.color}"/>`);
    out.push(`<text x="${n2(x + 34)}" y="${y}" dominant-baseline="middle">${esc(e.name)}</text>`);
    x += itemW;
  }
  out.push(`</g>`);
  return out.join('\n');
}

const hasFinite = (v?: readonly number[]): v is number[] => !!v && v.some(Number.isFinite);

/**
 * Draws loss and accuracy per epoch side by side, train against validation
 * (when given). Non-finite values are skipped; a single epoch is drawn as points.
 * @returns a standalone SVG document
 */
export function curvesSvg(history: History): string {
  const epochs = Math.max(
    history.loss.length,
    history.accuracy.length,
    history.val_loss?.length ?? 0,
    history.val_accuracy?.length ?? 0,
    1,
  );
  const withVal = hasFinite(history.val_loss) || hasFinite(history.val_accuracy);
  const lossSeries: Series[] = [{ ...TRAIN, values: history.loss }];
  const accSeries: Series[] = [{ ...TRAIN, values: history.accuracy }];
  if (withVal) {
    lossSeries.push({ ...VAL, values: history.val_loss ?? [] });
    accSeries.push({ ...VAL, values: history.val_accuracy ?? [] });
  }
  const width = PANEL_W * 2;
  const height = PANEL_H + LEGEND_H;
  return [
    svgOpen(width, height, 'training curves: loss and accuracy per epoch'),
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel(0, 'Loss', 'loss', lossSeries, epochs, false),
    panel(PANEL_W, 'Accuracy', 'accuracy', accSeries, epochs, true),
    legend(withVal ? [TRAIN, VAL] : [TRAIN], width, PANEL_H + LEGEND_H / 2 - 4),
    `</svg>`,
  ].join('\n');
}
