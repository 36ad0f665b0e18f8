// The Keras summary table of a model: Sequential's three columns, or the functional table with its
// "Connected to" column, then the parameter totals.
import type { Layer, SymbolicTensor } from './layer.js';
import { type Graph, shapeText } from './graph.js';

/** What the summary reads of a model. */
export interface SummarySource {
  name: string;
  readonly isSequential: boolean;
  readonly layers: Layer[];
  readonly inputs: SymbolicTensor[];
  graph(): Graph;
  countParams(): number;
  countTrainableParams(): number;
}

/** The summary table of a built model. */
export function summaryTable(m: SummarySource): string {
  return m.isSequential ? sequentialTable(m) : functionalTable(m);
}

function totals(m: SummarySource, width: number): string[] {
  const total = m.countParams(),
    trainable = m.countTrainableParams();
  return [
    '='.repeat(width),
    `Total params: ${total.toLocaleString('en-US')}`,
    `Trainable params: ${trainable.toLocaleString('en-US')}`,
    `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
    '_'.repeat(width),
  ];
}

function sequentialTable(m: SummarySource): string {
  const shapes = m.graph().steps.map((s) => s.outShape);
  // Columns at 33 and 59 as Keras; a longer cell keeps one space before the next column.
  const cell = (v: string, w: number) => (v.length < w ? v.padEnd(w) : `${v} `);
  const row = (a: string, b: string, c: string) => `${cell(a, 33)}${cell(b, 26)}${c}`.trimEnd();
  const lines = [`Model: "${m.name}"`, '_'.repeat(69), row(' Layer (type)', 'Output Shape', 'Param #'), '='.repeat(69)];
  m.layers.forEach((l, i) => {
    if (i > 0) lines.push('');
    lines.push(row(` ${l.name} (${l.className})`, `(None, ${shapes[i].join(', ')})`, String(l.countParams())));
  });
  return [...lines, ...totals(m, 69)].join('\n');
}

// Keras' functional columns: name at 0, shape at 33, params at 55, connections at 67, line length 98.
const POS = [33, 55, 67, 98];

// One table row of cells (each a list of lines); a cell wider than its column (two spaces kept before
// the next) wraps onto the next lines, as Keras.
function functionalRow(cells: string[][]): string[] {
  const cols = cells.map((c, i) => {
    const width = POS[i] - (i === 0 ? 0 : POS[i - 1]) - (i < POS.length - 1 ? 2 : 0);
    return c.flatMap((t) => {
      const parts: string[] = [];
      // The name column's continuation lines keep its leading space.
      for (let at = 0; at < t.length || at === 0; at += width)
        parts.push((i === 0 && at > 0 ? ' ' : '') + t.slice(at, at + width));
      return parts;
    });
  });
  const n = Math.max(...cols.map((c) => c.length));
  const lines: string[] = [];
  for (let r = 0; r < n; r++) {
    let line = '';
    cols.forEach((c, i) => {
      line = line.padEnd(i === 0 ? 0 : POS[i - 1]) + (c[r] ?? '');
    });
    lines.push(line.trimEnd());
  }
  return lines;
}

/**
 * Keras' functional summary (line length 98, columns at 33, 55, 67): one row per layer
 * application, "Connected to" listing `layer[node][tensor]` of its inputs, wrapped one per line.
 */
function functionalTable(m: SummarySource): string {
  const lines = [`Model: "${m.name}"`, '_'.repeat(98)];
  lines.push(...functionalRow([[' Layer (type)'], ['Output Shape'], ['Param #'], ['Connected to']]));
  lines.push('='.repeat(98));
  const entries: Array<{ layer: Layer; shape: string; connected: string[] }> = [];
  m.inputs.forEach((t) => entries.push({ layer: t.node.layer, shape: `[${shapeText(t.shape)}]`, connected: [] }));
  for (const st of m.graph().steps) {
    const conn = st.node!.inputs.map((t) => `${t.node.layer.name}[${t.node.index}][${t.index}]`);
    entries.push({ layer: st.layer, shape: shapeText(st.outShape), connected: conn });
  }
  // A shared layer is listed once, with the parameters counted on its first row.
  const counted = new Set<Layer>();
  entries.forEach((e, i) => {
    if (i > 0) lines.push('');
    const params = counted.has(e.layer) ? 0 : e.layer.countParams();
    counted.add(e.layer);
    const conn =
      e.connected.length === 0
        ? ['[]']
        : e.connected.map((c, j) => `${j === 0 ? '[' : ' '}'${c}'${j === e.connected.length - 1 ? ']' : ','}`);
    lines.push(...functionalRow([[` ${e.layer.name} (${e.layer.className})`], [e.shape], [String(params)], conn]));
  });
  return [...lines, ...totals(m, 98)].join('\n');
}
