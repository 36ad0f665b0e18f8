// Number formats of the report and the progress log, and the run's clock.

export const f1 = (x, d = 1) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(d));
export const fmtRate = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
export const fmtMs = fmtRate; // same digits: 3 significant figures, at least 2 decimals below 10
export const fmtX = (x) =>
  x == null || !Number.isFinite(x)
    ? '—'
    : x >= 100
      ? `${x.toFixed(0)}×`
      : x >= 10
        ? `${x.toFixed(1)}×`
        : `${x.toFixed(2)}×`;

/** Wall time since the run started: `elapsed()` → '42 s' for the log, `seconds()` for JSON. */
/**
 * A table cell of a timed peer result: its ms, '—' when not measured, or 'failed [n]' with the reason pushed
 * onto `notes` (printed under the table).
 * @param {string[]} notes
 */
export const msCell = (notes) => (v) => {
  if (!v) return '—';
  if (v.failed) {
    notes.push(v.failed);
    return `failed [${notes.length}]`;
  }
  return fmtMs(v.ms);
};

export function startClock() {
  const t0 = Date.now();
  return {
    seconds: () => (Date.now() - t0) / 1000,
    elapsed: () => `${((Date.now() - t0) / 1000).toFixed(0)} s`,
  };
}
