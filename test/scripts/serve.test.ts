// scripts/serve.mjs serves files inside its web root only: symlinks that lead out of it are refused
// (404) like "..", while symlinks that stay inside still work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

let dir = '',
  base = '';
let child: ChildProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-serve-'));
  const web = join(dir, 'web');
  await mkdir(join(web, 'sub'), { recursive: true });
  await writeFile(join(web, 'index.html'), '<p>home</p>');
  await writeFile(join(web, 'sub', 'page.txt'), 'inside');
  await mkdir(join(dir, 'secret'));
  await writeFile(join(dir, 'secret', 'key.txt'), 'outside');
  await symlink(join(dir, 'secret', 'key.txt'), join(web, 'leak.txt'));
  await symlink(join(dir, 'secret'), join(web, 'leakdir'));
  await symlink('/etc/passwd', join(web, 'passwd.txt'));
  await symlink(join(web, 'sub', 'page.txt'), join(web, 'alias.txt'));
  await symlink(join(web, 'sub'), join(web, 'subalias'));
  child = spawn(process.execPath, [resolve('scripts/serve.mjs')], {
    env: { ...process.env, PORT: '0', WEB_ROOT: web, SERVE_EXIT_WITH_STDIN: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  base = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m) res(m[0]);
    });
    child.on('exit', (code) => rej(new Error(`serve exited with ${code}`)));
  });
});
afterAll(async () => {
  child?.kill();
  await rm(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const r = await fetch(base + path);
  return { status: r.status, text: await r.text() };
};

describe('serve.mjs', () => {
  it('serves files and symlinks that stay inside the web root', async () => {
    expect(await get('')).toEqual({ status: 200, text: '<p>home</p>' });
    expect(await get('sub/page.txt')).toEqual({ status: 200, text: 'inside' });
    expect(await get('alias.txt')).toEqual({ status: 200, text: 'inside' });
    expect(await get('subalias/page.txt')).toEqual({ status: 200, text: 'inside' });
  });

  it('refuses symlinks (to files or directories) that lead out of the web root', async () => {
    for (const p of ['leak.txt', 'leakdir/key.txt', 'passwd.txt', '%2e%2e/secret/key.txt']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(r.text).not.toContain('outside');
      expect(r.text).not.toContain('root:');
    }
  });
});
