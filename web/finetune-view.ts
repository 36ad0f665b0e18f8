// Drawing for the fine-tune page: the loss curve, the class-probability bars of the try area, downloads.

/** The loss of each step as a polyline over `total` steps, with three labelled grid lines. */
export function drawCurve(curve: SVGSVGElement, losses: number[], total: number): void {
  const W = 600,
    H = 200,
    L = 34,
    B = 8,
    T = 8;
  const ymax = Math.max(0.1, ...losses.map((v) => Math.min(v, 5)));
  const xs = (i: number) => L + ((W - L - 6) * (i + 1)) / Math.max(total, losses.length, 1);
  const ys = (v: number) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
  const ticks = [0, ymax / 2, ymax]
    .map(
      (v) =>
        `<line class="axis" x1="${L}" x2="${W}" y1="${ys(v)}" y2="${ys(v)}"/><text x="2" y="${ys(v) + 4}">${v.toFixed(2)}</text>`,
    )
    .join('');
  const pts = losses.map((v, i) => `${xs(i).toFixed(1)},${ys(v).toFixed(1)}`).join(' ');
  curve.innerHTML = `${ticks}<polyline class="avg" points="${pts}"/>`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** One row per class: name, a meter and the percentage; the most probable class is marked `best`. */
export function probabilityBars(names: string[], row: ArrayLike<number>): string {
  const probs = Array.from(row);
  const best = probs.indexOf(Math.max(...probs));
  return probs
    .map(
      (v, c) =>
        `<div class="bar${c === best ? ' best' : ''}"><span>${escapeHtml(names[c])}</span>` +
        `<meter min="0" max="1" value="${v}"></meter><span>${(v * 100).toFixed(1)}%</span></div>`,
    )
    .join('');
}

/** Saves `bytes` as a file download named `name`; returns a line for the log. */
export function download(bytes: Uint8Array, name: string): string {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return `saved ${name} (${bytes.length.toLocaleString('en-US')} bytes)`;
}
