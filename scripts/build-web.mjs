#!/usr/bin/env node
// Browser builds (npm run build:web):
//   dist/simdnet.browser.js   ESM, minified, wasm kernels embedded: the inference API (web/browser-entry.ts)
//   dist/simdnet.full.js      ESM, minified: all of simdnet that runs in a browser, training included
//   dist/web/                 the demo pages of web/ (draw a digit, train, fine-tune), their scripts and a service worker
//   dist/web/finetune.js      the fine-tune page's script: the whole library WITH the ONNX importer and
//                             exporter and protobufjs, its own bundle so the two library bundles stay without them
// Both library bundles are checked: no protobufjs / ONNX exporter and no Node built-in may end up in
// them (the exporter is swapped for a stub that rejects; node:os and node:worker_threads are reached
// only through computed dynamic imports, which esbuild leaves alone).
//
// Every output file is written to a temporary name and renamed, so two builds running at once (two
// browser test files) never leave a half-written file for the server to send.
//
//   node scripts/build-web.mjs                          build
//   node scripts/build-web.mjs --import-model FILE [--note TEXT]
//       writes FILE's weights (no optimizer state) to web/model/mnist.simdnet, and its accuracy on the
//       10,000 MNIST test images (and TEXT, how it was trained) to web/model/mnist.json; needs dist/
//       (npm run build)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const dist = join(root, 'dist');
const out = join(dist, 'web');
// The inference bundle embeds every kernel build it may pick (int8 ones included), each the inference-only
// module (assembly/inference.ts).
const GZIP_TARGET = 120 * 1024;
// The fine-tune page bundle carries protobufjs, the ONNX code and the full kernel module (it trains a head);
// past this it fails the build. The full module grew with the SIMD activations and integer Winograd.
const FINETUNE_GZIP_LIMIT = 215 * 1024;

function writeAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// --- --import-model: ship a trained model with the draw page ------------------------------------
async function importModel(file, note) {
  const sn = await import(pathToFileURL(join(dist, 'index.js')).href);
  const { loadIdxDir, defaultMnistDir } = await import(pathToFileURL(join(dist, 'node', 'index.js')).href);
  await sn.ready({ build: 'simd' });
  const model = sn.loadModel(new Uint8Array(readFileSync(file)));
  // Without its optimizer the model is saved with weights only (no Adam slots): a third of the file.
  model.optimizer?.dispose();
  model.optimizer = null;
  model.loss = null;
  model.metrics = [];
  const bytes = new Uint8Array(model.save());
  const { test } = await loadIdxDir(defaultMnistDir(), { trainLimit: 0 });
  const probs = model.predict({ data: test.images, shape: [test.count, 28, 28, 1] }, { batchSize: 100 });
  const p = probs.dataSync();
  let correct = 0;
  for (let r = 0; r < test.count; r++) {
    let b = 0;
    for (let k = 1; k < 10; k++) if (p[r * 10 + k] > p[r * 10 + b]) b = k;
    if (b === test.labels[r]) correct++;
  }
  probs.dispose();
  const meta = {
    file: 'mnist.simdnet',
    bytes: bytes.length,
    params: model.countParams(),
    testAccuracy: correct / test.count,
    testImages: test.count,
    layers: model.layers.map((l) => l.className),
    ...(note ? { trainedWith: note } : {}),
    importedAt: new Date().toISOString(),
  };
  writeAtomic(join(web, 'model', 'mnist.simdnet'), bytes);
  writeAtomic(join(web, 'model', 'mnist.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(
    `web/model/mnist.simdnet: ${bytes.length} bytes, ${meta.params} params, test accuracy ${(meta.testAccuracy * 100).toFixed(2)}% on ${test.count} MNIST test images`,
  );
}

// --- the build --------------------------------------------------------------------------------------
// The ONNX exporter and importer (and protobufjs behind them) stay out of browser bundles: toONNX()
// and loadONNX() import them dynamically, and here those imports resolve to stubs that reject with a
// clear message.
const noOnnx = {
  name: 'no-onnx',
  setup(b) {
    b.onResolve({ filter: /onnx\/export(\.js)?$/ }, () => ({ path: 'onnx-export-stub', namespace: 'stub' }));
    // The ONNX importer too (sn.loadONNX imports it dynamically).
    b.onResolve({ filter: /onnx\/import(\.js)?$/ }, () => ({ path: 'onnx-import-stub', namespace: 'stub-import' }));
    b.onLoad({ filter: /.*/, namespace: 'stub-import' }, () => ({
      contents:
        "export async function loadONNX() { throw new Error('loadONNX is not available in the browser bundles of simdnet: import the model with Node (simdnet import model.onnx --out model.simdnet) and load the .simdnet file'); }",
      loader: 'js',
    }));
    b.onResolve({ filter: /^protobufjs/ }, (a) => ({
      errors: [{ text: `protobufjs must not be bundled for the browser (imported by ${a.importer})` }],
    }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "export function toONNX() { throw new Error('toONNX is not available in the browser bundles of simdnet: export the model with Node (simdnet export --model FILE --onnx OUT.onnx)'); }",
      loader: 'js',
    }));
  },
};

// The 'threads' kernels are the 'simd' kernels over a shared memory: the two modules differ only in
// the limits flag of their memory import (a byte or so). Embedding both costs ~20 KB gzip, so the
// bundles embed 'simd' and 'scalar' and rebuild the 'threads' bytes from 'simd' at load (checked here:
// if the builds ever differ in more than a few bytes, all three are embedded as they are).
const dedupeKernels = {
  name: 'dedupe-kernels',
  setup(b) {
    b.onLoad({ filter: /[\\/]wasm[\\/]kernels(\.inference)?\.bytes\.ts$/ }, (a) => {
      const src = readFileSync(a.path, 'utf8');
      const get = (n) => new RegExp(`export const ${n} = "([^"]*)"`).exec(src)?.[1];
      const simd = get('simdBase64'),
        scalar = get('scalarBase64'),
        threads = get('threadsBase64');
      if (simd === undefined || scalar === undefined || threads === undefined) return { contents: src, loader: 'ts' };
      const s = Buffer.from(simd, 'base64'),
        t = Buffer.from(threads, 'base64');
      const patches = [];
      if (s.length === t.length) for (let i = 0; i < s.length; i++) if (s[i] !== t[i]) patches.push([i, t[i]]);
      if (s.length !== t.length || patches.length > 8) return { contents: src, loader: 'ts' };
      // The bytes go in as Latin-1 strings (one char per byte, written as UTF-8 by charset 'utf8'), which
      // gzip to ~7 KB less than base64 text; btoa turns them into the base64 the loader takes.
      const latin1 = (b64) =>
        JSON.stringify(Array.from(Buffer.from(b64, 'base64'), (c) => String.fromCharCode(c)).join(''));
      return {
        loader: 'js',
        contents: `export const simdBase64 = btoa(${latin1(simd)});
export const scalarBase64 = btoa(${latin1(scalar)});
// 'threads' = 'simd' with a shared memory import: patched bytes (offset, value), verified at build time.
const patch = (b64, patches) => { const c = atob(b64).split(''); for (const [i, v] of patches) c[i] = String.fromCharCode(v); return btoa(c.join('')); };
export const threadsBase64 = patch(simdBase64, ${JSON.stringify(patches)});
`,
      };
    });
  },
};

// Page scripts import the library by its package names; they load the bundles next to them at run time.
const libExternal = {
  name: 'lib-external',
  setup(b) {
    b.onResolve({ filter: /^simdnet\/(browser|full)$/ }, (a) => ({
      path: `./simdnet.${a.path.split('/')[1]}.js`,
      external: true,
    }));
  },
};

function checkBundle(name, result) {
  const inputs = Object.keys(result.metafile.inputs);
  // kernels.relaxed.bytes: the opt-in relaxed-SIMD build is loaded at run time, never bundled
  const bad = inputs.filter((p) =>
    /protobufjs|src\/formats\/onnx\/|^node:|node_modules|kernels\.relaxed\.bytes/.test(p),
  );
  if (bad.length) throw new Error(`${name}: must not contain ${bad.join(', ')}`);
  const text = result.outputFiles[0].text;
  if (/protobuf/i.test(text)) throw new Error(`${name}: mentions protobuf`);
  // Only computed dynamic imports may remain (import("node:...") with a literal would load in a browser).
  const literal = text.match(/import\(\s*["'`][^"'`]*["'`]\s*\)/g);
  if (literal) throw new Error(`${name}: literal dynamic import left in the bundle: ${literal.join(', ')}`);
  // Nothing left to load at run time: no import of any kind survives in the output.
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => `${i.kind} ${i.path}`));
  if (imports.length) throw new Error(`${name}: imports ${imports.join(', ')}`);
  if (/^\s*import\s|[;}]\s*import\s*[{*"']|\bfrom\s*["']node:/m.test(text))
    throw new Error(`${name}: has a static import`);
}

// The inference bundle embeds the inference-only kernel module (assembly/inference.ts: no gradients,
// optimizer steps or augmentation; about two thirds the bytes) in place of the full one.
const inferenceKernels = {
  name: 'inference-kernels',
  setup(b) {
    b.onResolve({ filter: /[\\/]kernels\.bytes\.js$/ }, (a) => ({
      path: join(dirname(a.importer), 'kernels.inference.bytes.ts'),
    }));
  },
};

// minifySyntax stays off: it would fold `const spec = 'node:os'; import(spec)` into import("node:os"),
// a literal that other bundlers (and this check) would then try to resolve. It saves only ~0.2 KB gzip.
async function buildLib(entry, outfile, inference = false) {
  const result = await build({
    entryPoints: [join(web, entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minifyWhitespace: true,
    minifyIdentifiers: true,
    minifySyntax: false,
    charset: 'utf8', // the embedded kernels' Latin-1 strings stay one or two bytes per byte, not \xNN escapes
    legalComments: 'none',
    metafile: true,
    write: false,
    outfile,
    plugins: inference ? [noOnnx, inferenceKernels, dedupeKernels] : [noOnnx, dedupeKernels],
    logLevel: 'warning',
  });
  checkBundle(relative(root, outfile), result);
  const bytes = result.outputFiles[0].contents;
  writeAtomic(outfile, bytes);
  return { bytes, gzip: gzipSync(bytes, { level: 9 }).length };
}

// The fine-tune page: one self-contained bundle (library, ONNX import/export, protobufjs). It cannot
// load simdnet.full.js beside it: the importer would then build layers of a second copy of the classes.
async function buildFinetune(outfile) {
  const result = await build({
    entryPoints: [join(web, 'finetune.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minifyWhitespace: true,
    minifyIdentifiers: true,
    minifySyntax: false, // as buildLib: keeps the computed node:* imports computed
    legalComments: 'none',
    metafile: true,
    write: false,
    outfile,
    plugins: [dedupeKernels],
    // protobufjs probes for `require` with an eval, which throws and is caught in a browser.
    logOverride: { 'direct-eval': 'silent' },
    logLevel: 'warning',
  });
  const name = relative(root, outfile);
  const inputs = Object.keys(result.metafile.inputs);
  if (!inputs.some((p) => /src\/formats\/onnx\/import/.test(p)) || !inputs.some((p) => /protobufjs/.test(p)))
    throw new Error(`${name}: the ONNX importer or protobufjs is missing from the bundle`);
  const nodeIn = inputs.filter((p) => /^node:/.test(p));
  if (nodeIn.length) throw new Error(`${name}: must not contain ${nodeIn.join(', ')}`);
  const text = result.outputFiles[0].text;
  const literal = text.match(/import\(\s*["'`]node:[^"'`]*["'`]\s*\)/g);
  if (literal) throw new Error(`${name}: literal dynamic import left in the bundle: ${literal.join(', ')}`);
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => `${i.kind} ${i.path}`));
  if (imports.length) throw new Error(`${name}: imports ${imports.join(', ')}`);
  const bytes = result.outputFiles[0].contents;
  const gzip = gzipSync(bytes, { level: 9 }).length;
  if (gzip > FINETUNE_GZIP_LIMIT)
    throw new Error(`${name}: ${kb(gzip)} gzip, over its ${kb(FINETUNE_GZIP_LIMIT)} limit`);
  writeAtomic(outfile, bytes);
  return { bytes, gzip };
}

function copyTree(from, to, skip) {
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (skip(name, src)) continue;
    if (statSync(src).isDirectory()) copyTree(src, join(to, name), skip);
    else writeAtomic(join(to, name), readFileSync(src));
  }
}

async function buildAll() {
  if (!existsSync(join(root, 'src', 'wasm', 'kernels.inference.bytes.ts'))) {
    console.log('src/wasm/kernels.inference.bytes.ts is missing: running scripts/build-wasm.mjs first');
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('build-wasm failed');
  }
  const browser = await buildLib('browser-entry.ts', join(dist, 'simdnet.browser.js'), true);
  const full = await buildLib('full-entry.ts', join(dist, 'simdnet.full.js'));
  // Type declarations: the entries re-export from ../src, whose declarations tsc puts in dist/.
  for (const [entry, dts] of [
    ['browser-entry.ts', 'simdnet.browser.d.ts'],
    ['full-entry.ts', 'simdnet.full.d.ts'],
  ]) {
    writeAtomic(join(dist, dts), readFileSync(join(web, entry), 'utf8').replaceAll("'../src/", "'./"));
  }

  // Pages: scripts bundled (library external), static files copied, bundles placed beside them.
  const pages = await build({
    entryPoints: ['draw.ts', 'train.ts', 'train-worker.ts'].map((f) => join(web, f)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    write: false,
    outdir: out,
    plugins: [libExternal],
    logLevel: 'warning',
  });
  for (const f of pages.outputFiles) writeAtomic(f.path, f.contents);
  // The fine-tune page's default model (web/model/mobilenetv3_small.onnx) is copied with web/ below.
  const finetune = await buildFinetune(join(out, 'finetune.js'));
  writeAtomic(join(out, 'simdnet.browser.js'), browser.bytes);
  writeAtomic(join(out, 'simdnet.full.js'), full.bytes);
  copyTree(web, out, (name, src) => /\.ts$|^tsconfig|^README/.test(name) || src === join(web, 'model', 'README.md'));

  // The service worker precaches the draw and train pages (not the data); its cache name is a hash
  // of everything it caches, so a new build installs a new worker and drops the old cache.
  const assets = [
    './',
    'index.html',
    'console.html',
    'draw.js',
    'train.html',
    'train.js',
    'train-worker.js',
    'finetune.html',
    'finetune.js',
    'model/mobilenetv3_small.onnx',
    'style.css',
    'simdnet.browser.js',
    'simdnet.full.js',
    'model/mnist.simdnet',
    'model/mnist.int8.simdnet',
    'model/mnist.json',
    'icon.svg',
  ];
  const h = createHash('sha256');
  for (const a of assets) if (a !== './') h.update(a).update(readFileSync(join(out, a)));
  const version = h.digest('hex').slice(0, 16);
  const sw = await build({
    entryPoints: [join(web, 'sw.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    write: false,
    outfile: join(out, 'sw.js'),
    logLevel: 'warning',
    define: { __VERSION__: JSON.stringify(version), __ASSETS__: JSON.stringify(assets) },
  });
  writeAtomic(join(out, 'sw.js'), sw.outputFiles[0].contents);

  console.log(
    `dist/simdnet.browser.js  ${kb(browser.bytes.length)} raw, ${kb(browser.gzip)} gzip (target ≤ ${kb(GZIP_TARGET)})`,
  );
  console.log(`dist/simdnet.full.js     ${kb(full.bytes.length)} raw, ${kb(full.gzip)} gzip`);
  console.log(
    `dist/web/finetune.js     ${kb(finetune.bytes.length)} raw, ${kb(finetune.gzip)} gzip (limit ${kb(FINETUNE_GZIP_LIMIT)}; with ONNX + protobufjs)`,
  );
  console.log(`dist/web/                pages built (cache ${version}); serve with: npm run serve`);
  if (browser.gzip > GZIP_TARGET)
    console.warn(`warning: the browser bundle is over its ${kb(GZIP_TARGET)} gzip target`);
  writeAtomic(
    join(dist, 'web-sizes.json'),
    JSON.stringify(
      {
        browser: { raw: browser.bytes.length, gzip: browser.gzip },
        full: { raw: full.bytes.length, gzip: full.gzip },
        finetune: { raw: finetune.bytes.length, gzip: finetune.gzip },
        version,
      },
      null,
      2,
    ) + '\n',
  );
}

const args = process.argv.slice(2);
try {
  if (args[0] === '--import-model') {
    if (!args[1]) throw new Error('--import-model needs a model file (e.g. runs/…/model.simdnet)');
    if (args.length > 2 && (args[2] !== '--note' || args.length !== 4))
      throw new Error('usage: --import-model FILE [--note TEXT]');
    await importModel(args[1], args[3]);
  } else if (args.length) {
    throw new Error(`unknown arguments: ${args.join(' ')} (use no arguments, or --import-model FILE)`);
  } else {
    await buildAll();
  }
} catch (e) {
  console.error(`build-web: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
