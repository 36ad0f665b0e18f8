// The run directory of `simdnet train` (file system, so it lives with the other Node-only code): made
// and proven writable before any data is read, and written at the end so that a
// finished run is never lost — if anything cannot be written into it, the whole run goes to a
// fallback directory whose path the caller reports.
import { mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** File name of the model inside a run directory. */
export const MODEL_FILE = 'model.simdnet';

const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));
const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/**
 * Creates `dir` and any missing parents one level at a time. Node's `mkdir(..., {recursive: true})`
 * loops forever under /proc (every level reports ENOENT); single levels fail at once instead.
 * @returns the directories it created, outermost first
 */
export async function makeDir(dir: string, what: string): Promise<string[]> {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    const st = await stat(at).catch((e) => {
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return null;
      throw new Error(`${what} ${dir}: cannot use ${at} (${errMsg(e)})`);
    });
    if (st) {
      if (!st.isDirectory()) throw new Error(`${what} ${dir}: ${at} exists and is not a directory`);
      break;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  const made: string[] = [];
  for (const d of missing.reverse()) {
    await mkdir(d).then(
      () => {
        made.push(d);
      },
      (e) => {
        if (code(e) === 'EEXIST') return;
        throw new Error(`${what} ${dir}: cannot create ${d} (${errMsg(e)})`);
      },
    );
  }
  return made;
}

/**
 * Makes `out` ready for a run, before any work: creates it, proves it writable with a probe file,
 * and refuses to replace an existing model unless `overwrite`.
 * @returns `undo`, which removes the directories this call created if they are still empty (for a
 *   run that fails before it has anything to write)
 * @throws Error naming the directory and what is wrong with it
 */
export async function prepareRunDir(out: string, overwrite: boolean): Promise<{ undo: () => Promise<void> }> {
  const made = await makeDir(out, '--out');
  const undo = async () => {
    for (const d of [...made].reverse()) await rmdir(d).catch(() => {});
  };
  const model = join(out, MODEL_FILE);
  const st = await stat(model).catch(() => null);
  if (st?.isDirectory())
    throw new Error(`--out ${out}: ${model} is a directory, so the model could not be written there`);
  if (st && !overwrite) {
    throw new Error(
      `--out ${out} already holds a model (${model}); pass --overwrite to replace it, or choose another --out`,
    );
  }
  const probe = join(out, `.simdnet-write-test-${process.pid}`);
  try {
    await writeFile(probe, 'simdnet');
  } catch (e) {
    await undo();
    throw new Error(`--out ${out} is not writable (${errMsg(e)})`);
  }
  await rm(probe, { force: true });
  return { undo };
}

/** What a finished run writes: file name → contents. The model is written first, atomically. */
export type RunFiles = Record<string, string | Uint8Array>;

/** Where the run was written; `error` says why `out` could not take it when `dir` is a fallback. */
export interface WrittenRun {
  dir: string;
  fallback: boolean;
  error?: string;
}

async function writeAll(dir: string, files: RunFiles): Promise<void> {
  const names = Object.keys(files).sort((a, b) => (a === MODEL_FILE ? -1 : b === MODEL_FILE ? 1 : 0));
  for (const name of names) {
    const path = join(dir, name);
    // Temp file + rename: a crash or a full disk never leaves half a model under the real name.
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, files[name]!);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw new Error(`cannot write ${path} (${errMsg(e)})`);
    }
  }
}

/**
 * Writes the run into `out`; if any file fails, writes all of it into a new directory under
 * `fallbackRoots` (default: the system temp directory, then the working directory).
 * @throws Error only when no place at all could take the run (naming every attempt)
 */
export async function writeRun(
  out: string,
  files: RunFiles,
  fallbackRoots = [tmpdir(), process.cwd()],
): Promise<WrittenRun> {
  let error: string;
  try {
    await makeDir(out, '--out');
    await writeAll(out, files);
    return { dir: out, fallback: false };
  } catch (e) {
    error = errMsg(e);
  }
  const tries = [error];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const root of fallbackRoots) {
    const dir = join(root, `simdnet-run-${stamp}-${process.pid}`);
    try {
      await makeDir(dir, 'fallback');
      await writeAll(dir, files);
      return { dir, fallback: true, error };
    } catch (e) {
      tries.push(errMsg(e));
    }
  }
  throw new Error(`the trained run could not be written anywhere: ${tries.join('; ')}`);
}
