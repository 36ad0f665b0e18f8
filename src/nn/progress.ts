// Keras-style progress: "Epoch 1/3" then
// "469/469 [==============================] - 52s 111ms/step - loss: 0.2491 - accuracy: 0.9239 - val_loss: …"
// redrawn in place on a terminal, one plain line per epoch otherwise. Browser-safe: the Node stdout
// is reached through globalThis, never imported.

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

export class Progress {
  private out: Out | null;
  private tty: boolean;
  private start = 0;
  private lastDraw = 0;

  constructor(
    private readonly verbose: number,
    private readonly print: (s: string) => void = (s) => console.log(s),
  ) {
    this.out = stdout();
    this.tty = !!this.out?.isTTY;
  }

  epochBegin(epoch: number, epochs: number): void {
    this.start = Date.now();
    if (this.verbose > 0) this.print(`Epoch ${epoch + 1}/${epochs}`);
  }

  batchEnd(step: number, steps: number, logs: Record<string, number>): void {
    if (this.verbose !== 1 || !this.tty || !this.out) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && step < steps) return;
    this.lastDraw = now;
    const eta = (((now - this.start) / step) * (steps - step)) / 1000;
    this.out.write(
      `\r${pad(step, steps)}/${steps} [${bar(step, steps)}] - ETA: ${Math.round(eta)}s${fmtLogs(logs)}\x1b[K`,
    );
  }

  epochEnd(steps: number, logs: Record<string, number>): void {
    if (this.verbose === 0) return;
    const ms = Date.now() - this.start;
    const line = `${steps}/${steps} [${bar(steps, steps)}] - ${Math.round(ms / 1000)}s ${Math.round(ms / Math.max(1, steps))}ms/step${fmtLogs(logs)}`;
    if (this.tty && this.out && this.verbose === 1) this.out.write(`\r${line}\x1b[K\n`);
    else this.print(line);
  }
}

function pad(n: number, total: number): string {
  return String(n).padStart(String(total).length);
}
