// The machine a run was measured on, and whether dist/ is older than the sources it was built from.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function newestMtime(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Load average as [1, 5, 15 min], rounded for the report. */
export const loadavg = () => os.loadavg().map((x) => +x.toFixed(2));

/** CPU, thread count, Node/V8, platform, load average now, date. The runner adds `simdnet_build`. */
export function machineInfo() {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    loadavg_start: loadavg(),
    date: new Date().toISOString(),
  };
}

/** A warning when dist/ is older than src/ or assembly/ under `root`, else null. */
export function staleBuildNote(root) {
  try {
    const built = statSync(join(root, 'dist/index.js')).mtimeMs;
    const src = Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'assembly')));
    if (src > built)
      return 'dist/ is older than src/ or assembly/: results are for the last build (run `npm run build`)';
  } catch {
    /* no sources next to dist: fine */
  }
  return null;
}
