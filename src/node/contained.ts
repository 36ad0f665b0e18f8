// Files a model names (tfjs weight shards, ONNX external data), opened only inside the model's folder.
// A model file made by a stranger must not read /etc/passwd, ../../secret.bin, a symlink that points
// out of the folder, or /dev/zero: the name is refused unless, after following symlinks, it is a
// regular file inside the folder. Errors name the file as the model gave it, never an absolute path
// (a service that shows errors to the uploader would leak its layout).
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** A regular file inside the model's folder, open for bounded reads. */
export interface ContainedFile {
  /** Its size in bytes (from fstat of the open descriptor). */
  readonly size: number;
  /** Exactly `length` bytes from `offset` (the caller checked they lie within `size`). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/** What an OS error code means, without the path Node puts in its message. */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many symbolic links';
  if (code === 'EISDIR') return 'is a directory';
  return code ? `error ${code}` : 'cannot be read';
}

/**
 * Opens `given` (as the model names it, relative to `dir`). Refused: a name that is empty, absolute,
 * holds a NUL or a `..` segment, or resolves (after symlinks) outside `dir`, or is not a regular file.
 * `fail(msg, io)` throws the caller's error; msg starts with the quoted name, `io` is true when the file
 * could not be opened or read (rather than refused).
 */
export function openInside(dir: string, given: unknown, fail: (msg: string, io?: boolean) => never): ContainedFile {
  if (typeof given !== 'string' || given === '') return fail(`${JSON.stringify(given)} is not a file name`);
  const q = `'${given}'`;
  const outside = (why: string) => fail(`${q} is outside the model's directory (${why})`);
  if (given.includes('\0')) return fail(`${JSON.stringify(given)} holds a NUL character`);
  if (isAbsolute(given) || /^[\\/]/.test(given) || /^[A-Za-z]:/.test(given)) return outside('an absolute path');
  if (given.split(/[\\/]/).includes('..')) return outside("'..'");
  let real: string, realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch (e) {
    return fail(`${q}: the model's directory: ${reason(e)}`, true);
  }
  try {
    real = realpathSync(resolve(realDir, given));
  } catch (e) {
    return fail(`${q}: ${reason(e)}`, true);
  }
  const rel = relative(realDir, real);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    return outside('through a symbolic link');
  let fd: number;
  try {
    fd = openSync(real, 'r');
  } catch (e) {
    return fail(`${q}: ${reason(e)}`, true);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    return fail(`${q} is not a regular file`);
  }
  return {
    size: st.size,
    read(offset: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const r = readSync(fd, out, got, length - got, offset + got);
        if (r === 0) return fail(`${q}: shrank while it was read`, true);
        got += r;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them: refused (through `fail`, with the
 * reason) when it cannot be opened, is not a regular file (a device such as /dev/zero never ends), or is
 * larger, before anything is allocated. `limit` describes the bound in that message.
 */
export function readBoundedFile(
  path: string,
  maxBytes: number,
  limit: string,
  fail: (why: string) => never,
): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail((e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail('not a regular file');
    if (st.size > maxBytes) return fail(`${st.size} bytes, more than ${limit}`);
    const b = new Uint8Array(st.size);
    let got = 0;
    while (got < b.length) {
      const r = readSync(fd, b, got, b.length - got, got);
      if (r === 0) break;
      got += r;
    }
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
