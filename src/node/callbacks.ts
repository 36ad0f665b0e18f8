// Node-only fit callbacks that write files: ModelCheckpoint (the model as a .simdnet file after each
// epoch, or only when a monitored quantity improved) and CSVLogger (one row of logs per epoch).
import { appendFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Callback, type MonitorMode, monitored, resolveMode } from '../nn/callbacks.js';
import type { Logs } from '../nn/model.js';
import { checkOptions } from '../nn/options.js';
import { show } from '../show.js';
import { saveModelFile } from './model.js';

/**
 * `template` with its `{name}` / `{name:spec}` placeholders filled from `values`, as Python's
 * str.format that Keras applies to ModelCheckpoint paths: spec is `[0][width]d` (an integer, e.g.
 * `{epoch:02d}`), `[0][width].Nf` (fixed, e.g. `{val_loss:.4f}`) or `.Ne` (exponent, two digits at least).
 * @throws naming the placeholder when a value is missing or the spec is not one of these
 */
export function formatPath(template: string, values: Record<string, number>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g, (_all, key: string, spec?: string) => {
    const v = values[key];
    if (typeof v !== 'number')
      throw new Error(
        `ModelCheckpoint: the path has {${key}} but the logs have no ${show(key)} (they have ${Object.keys(values).join(', ')})`,
      );
    if (spec === undefined || spec === '') return String(v);
    const m = /^(0?)(\d*)(?:(d)|\.(\d+)([fe]))$/.exec(spec);
    if (!m) throw new Error(`ModelCheckpoint: format ${show(spec)} of {${key}} is not supported (use d, .Nf or .Ne)`);
    const [, zero, width, d, digits, kind] = m;
    let s: string;
    if (d) s = String(Math.round(v));
    else if (kind === 'f') s = v.toFixed(Number(digits));
    else s = v.toExponential(Number(digits)).replace(/e([+-])(\d)$/, 'e$10$2');
    const w = Number(width || 0);
    if (s.length >= w) return s;
    if (!zero) return s.padStart(w);
    const neg = s.startsWith('-');
    return (neg ? '-' : '') + (neg ? s.slice(1) : s).padStart(w - (neg ? 1 : 0), '0');
  });
}

/** Options of {@link ModelCheckpoint} (Keras names and defaults). */
export interface ModelCheckpointConfig {
  /**
   * Where to write, with placeholders filled from the epoch (1-based) and the epoch's logs:
   * `'ckpt/model-{epoch:02d}-{val_loss:.4f}.simdnet'`. Folders are created as needed.
   */
  filepath: string;
  /** Logged quantity compared by saveBestOnly (default 'val_loss'). */
  monitor?: string;
  /** Only write when the monitored quantity improved on the best so far (default false). */
  saveBestOnly?: boolean;
  mode?: MonitorMode;
  /** 1 prints a line per write (default 0). */
  verbose?: number;
}

/**
 * Saves the model (architecture, weights, optimizer and RNG state: a file that resumes training)
 * after every epoch, or only when `monitor` improved, as keras.callbacks.ModelCheckpoint.
 */
export class ModelCheckpoint extends Callback {
  readonly filepath: string;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly mode: 'min' | 'max';
  readonly verbose: number;
  /** Best monitored value so far (saveBestOnly). */
  best: number;
  /** Paths written, in order. */
  readonly saved: string[] = [];

  constructor(cfg: ModelCheckpointConfig) {
    super();
    if (!cfg || typeof cfg !== 'object') throw new Error('ModelCheckpoint: expected {filepath, ...}');
    checkOptions('ModelCheckpoint', cfg, {
      filepath: (v) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string'),
      monitor: (v) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string'),
      saveBestOnly: (v) => (typeof v === 'boolean' ? null : 'true or false'),
      mode: () => null,
      verbose: (v) => (v === 0 || v === 1 ? null : '0 or 1'),
    });
    if (typeof cfg.filepath !== 'string' || cfg.filepath.length === 0)
      throw new Error(`ModelCheckpoint: filepath must be a non-empty string, got ${show(cfg.filepath)}`);
    this.filepath = cfg.filepath;
    this.monitor = cfg.monitor ?? 'val_loss';
    this.saveBestOnly = cfg.saveBestOnly ?? false;
    this.mode = resolveMode('ModelCheckpoint', this.monitor, cfg.mode ?? 'auto');
    this.verbose = cfg.verbose ?? 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const path = formatPath(this.filepath, { ...logs, epoch: epoch + 1 });
    if (this.saveBestOnly) {
      const current = monitored('ModelCheckpoint', this.monitor, logs, epoch);
      const better = this.mode === 'min' ? current < this.best : current > this.best;
      if (!better) {
        if (this.verbose > 0) this.say(`Epoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best}`);
        return;
      }
      if (this.verbose > 0)
        this.say(`Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best} to ${current}, saving to ${path}`);
      this.best = current;
    } else if (this.verbose > 0) this.say(`Epoch ${epoch + 1}: saving model to ${path}`);
    await mkdir(dirname(path), { recursive: true });
    await saveModelFile(this.trainee, path);
    this.saved.push(path);
  }
}

/** Options of {@link CSVLogger} (Keras names and defaults). */
export interface CSVLoggerConfig {
  filename: string;
  /** Field separator (default ','). */
  separator?: string;
  /** Add to an existing file (no second header) instead of overwriting it (default false). */
  append?: boolean;
}

/**
 * Writes one line per epoch, `epoch` (0-based, as Keras) then the logs in sorted key order, to a CSV
 * file, as keras.callbacks.CSVLogger. A quantity missing from an epoch's logs is written as NA.
 */
export class CSVLogger extends Callback {
  readonly filename: string;
  readonly separator: string;
  readonly append: boolean;
  private keys: string[] | null = null;
  private headerDone = false;

  constructor(cfg: CSVLoggerConfig) {
    super();
    if (!cfg || typeof cfg !== 'object') throw new Error('CSVLogger: expected {filename, separator?, append?}');
    checkOptions('CSVLogger', cfg, {
      filename: (v) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string'),
      separator: (v) => (typeof v === 'string' && v.length > 0 && !/[\n\r]/.test(v) ? null : 'a one-line string'),
      append: (v) => (typeof v === 'boolean' ? null : 'true or false'),
    });
    if (typeof cfg.filename !== 'string' || cfg.filename.length === 0)
      throw new Error(`CSVLogger: filename must be a non-empty string, got ${show(cfg.filename)}`);
    this.filename = cfg.filename;
    this.separator = cfg.separator ?? ',';
    this.append = cfg.append ?? false;
  }

  async onTrainBegin(): Promise<void> {
    this.keys = null;
    let existing = 0;
    if (this.append)
      existing = await stat(this.filename).then(
        (s) => s.size,
        () => 0,
      );
    this.headerDone = existing > 0;
    if (!this.append) {
      await mkdir(dirname(this.filename), { recursive: true });
      await writeFile(this.filename, '');
    }
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (!this.keys) this.keys = Object.keys(logs).sort();
    const sep = this.separator;
    let text = '';
    if (!this.headerDone) {
      text += `${['epoch', ...this.keys].join(sep)}\n`;
      this.headerDone = true;
    }
    text += `${[String(epoch), ...this.keys.map((k) => (k in logs ? String(logs[k]) : 'NA'))].join(sep)}\n`;
    await appendFile(this.filename, text);
  }
}
