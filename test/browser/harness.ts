// Shared set-up of the browser tests: build the pages, serve them (scripts/serve.mjs on a free port),
// and drive Debian's Chromium with playwright-core. The tests skip, saying why, only when
// /usr/bin/chromium is missing outside CI; in CI (CI set) a missing browser fails them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const resultsDir = join(root, 'test-results');

const missing = !existsSync(CHROMIUM);
const skip = missing && !process.env.CI;
if (skip) {
  console.warn(
    `browser tests skipped: ${CHROMIUM} is missing (install it with \`apt-get install -y chromium\`; in CI they run)`,
  );
}

/** describe() for browser tests: skipped with a message when Chromium is missing and CI is unset. */
export function describeBrowser(name: string, fn: () => void): void {
  if (skip) describe.skip(`${name} [skipped: ${CHROMIUM} is missing and CI is not set]`, fn);
  else describe(name, fn);
}

/** Builds dist/simdnet.*.js and dist/web (safe to run from several test files at once). */
export function buildWeb(): void {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-web.mjs')], { cwd: root, stdio: 'pipe' });
}

export interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Starts scripts/serve.mjs on a free port (PORT=0) and resolves with its base URL. */
export function startServer(): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [join(root, 'scripts', 'serve.mjs')], {
    cwd: root,
    env: { ...process.env, PORT: '0', SERVE_EXIT_WITH_STDIN: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolveP, reject) => {
    let out = '',
      err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`serve.mjs did not start: ${out}${err}`));
    }, 15_000);
    child.stderr!.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.mjs exited with ${code}: ${err}`));
    });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolveP({
        url: m[0],
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

// The flags the machine notes ask for; playwright adds --headless, --no-sandbox and a fresh profile.
const FLAGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch(): Promise<Browser> {
  if (missing) throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: FLAGS });
}

/** A page that fails the test on uncaught page errors; console errors are collected. */
export async function newPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { page, errors };
}

export function screenshotPath(name: string): string {
  mkdirSync(resultsDir, { recursive: true });
  return join(resultsDir, name);
}
