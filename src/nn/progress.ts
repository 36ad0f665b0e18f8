// Keras-style progress: "Epoch 1/3" then
// "469/469 [==============================] - 52s 111ms/step - loss: 0.2491 - accuracy: 0.9239 - val_loss: …"
// redrawn in place on a terminal, one plain line per epoch otherwise. When stdout is not a terminal
// (a log file, CI, a browser console) verbose 1 also prints a line every `interval` ms within an
// epoch, so a long epoch shows it is alive. Browser-safe: the Node stdout is reached through
// globalThis, never imported.

interface Out {
  isTTY?: boolean;
  write(s: string): unknown;
}

function stdout(): Out | null {
  const p = (globalThis as { process?: { stdout?: Out } }).process;
  return p?.stdout && typeof p.stdout.write === 'function' ? p.stdout : null;
}

const WIDTH = 30;

function bar(done: number, total: number): string {
  if (done >= total) return '='.repeat(WIDTH);
  const n = Math.floor((WIDTH * done) / total);
  return '='.repeat(Math.max(0, n - 1)) + '>' + '.'.repeat(WIDTH - Math.max(1, n));
}

function fmtLogs(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([k, v]) => ` - ${k}: ${v.toFixed(4)}`)
    .join('');
}

/** Seconds as Keras prints an ETA: "45s", "3:07", "1:02:03". */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** ms between progress lines within an epoch when the output is not a terminal (default 30000). */
  interval?: number;
  /** Clock in ms (default Date.now); tests inject their own. */
  now?: () => number;
  /** Output stream (default process.stdout when there is one); only its isTTY and write are used. */
  out?: Out | null;
}

export class Progress {
  private out: Out | null;
  private tty: boolean;
  private start = 0;
  private lastDraw = 0;
  private lastLine = 0;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(
    private readonly verbose: number,
    private readonly print: (s: string) => void = (s) => console.log(s),
    opts: ProgressOptions = {},
  ) {
    this.out = opts.out === undefined ? stdout() : opts.out;
    this.tty = !!this.out?.isTTY;
    this.interval = opts.interval ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  epochBegin(epoch: number, epochs: number): void {
    this.start = this.now();
    this.lastLine = this.start;
    if (this.verbose > 0) this.print(`Epoch ${epoch + 1}/${epochs}`);
  }

  batchEnd(step: number, steps: number, logs: Record<string, number>): void {
    if (this.verbose !== 1) return;
    const now = this.now();
    const eta = (((now - this.start) / step) * (steps - step)) / 1000;
    const line = `${pad(step, steps)}/${steps} [${bar(step, steps)}] - ETA: ${formatEta(eta)}${fmtLogs(logs)}`;
    if (!this.tty || !this.out) {
      // The epoch's last step is reported by epochEnd.
      if (step < steps && now - this.lastLine >= this.interval) {
        this.lastLine = now;
        this.print(line);
      }
      return;
    }
    if (now - this.lastDraw < 100 && step < steps) return;
    this.lastDraw = now;
    this.out.write(`\r${line}\x1b[K`);
  }

  epochEnd(steps: number, logs: Record<string, number>): void {
    if (this.verbose === 0) return;
    const ms = this.now() - this.start;
    const line = `${steps}/${steps} [${bar(steps, steps)}] - ${Math.round(ms / 1000)}s ${Math.round(ms / Math.max(1, steps))}ms/step${fmtLogs(logs)}`;
    if (this.tty && this.out && this.verbose === 1) this.out.write(`\r${line}\x1b[K\n`);
    else this.print(line);
  }
}

function pad(n: number, total: number): string {
  return String(n).padStart(String(total).length);
}
