// The fine-tune page, Teachable Machine style: import an ONNX CNN (dropped, picked, or the default
// MobileNetV3-small), name two or more classes and give each some images (files or camera snapshots),
// train a new head on the frozen backbone's features, try the result on new images, and download it as
// .simdnet and .onnx. This script is its own bundle with the real ONNX importer/exporter (and protobufjs).
// Training runs on the main thread: the backbone runs once per image, and the head is one small Dense layer.
// Pixels: finetune-images.ts; model cutting and training: finetune-model.ts; cards and camera: finetune-classes.ts.
import * as sn from '../src/index.js';
import {
  type ClassEntry,
  Camera,
  type Sample,
  classCard,
  decodeImage,
  dropZone,
  imageFiles,
  showSample,
  thumbnail,
} from './finetune-classes.js';
import { IMAGENET, type Normalisation, normalise, parseTriple, resizeRgb } from './finetune-images.js';
import {
  declaredSize,
  extractFeatures,
  fineTunedModel,
  importBackbone,
  predictProbs,
  trainHead,
  withInputSize,
} from './finetune-model.js';
import { download, drawCurve, probabilityBars } from './finetune-view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const drop = $('drop');
const info = $('model-info');
const form = $<HTMLFormElement>('form');
const startBtn = $<HTMLButtonElement>('start');
const saveSimdnet = $<HTMLButtonElement>('save-simdnet');
const saveOnnx = $<HTMLButtonElement>('save-onnx');
const progress = $<HTMLProgressElement>('progress');
const curve = $('curve') as unknown as SVGSVGElement;
const classesEl = $('classes');
const tryList = $<HTMLOListElement>('try-list');
const logEl = $('log');
const normMode = $<HTMLSelectElement>('norm-mode');
const normMean = $<HTMLInputElement>('norm-mean');
const normStd = $<HTMLInputElement>('norm-std');
const stat = (id: string, v: string) => {
  $(`s-${id}`).textContent = v;
};

/** The chosen model file (input size fixed) and what its import showed. Each training imports it afresh. */
let base: { bytes: Uint8Array; name: string; id: number; shape: [number, number, number]; features: number } | null =
  null;
let modelCount = 0;
let tuned: {
  model: sn.Model;
  /** The model file's name without .onnx: the downloads are named after it. */
  stem: string;
  names: string[];
  norm: Normalisation;
  shape: [number, number, number];
} | null = null;
const classes: ClassEntry[] = [];
const trySamples: Sample[] = [];
/** Image decoding runs in this chain, so training waits for the images dropped before it. */
let decoding: Promise<unknown> = Promise.resolve();
let busy = false;
let classCounter = 0;

function log(text: string): void {
  logEl.textContent += `${new Date().toLocaleTimeString()}  ${text}\n`;
  logEl.scrollTop = logEl.scrollHeight;
}

function setState(state: string): void {
  document.body.dataset.state = state;
  busy = state === 'loading' || state === 'training';
  startBtn.disabled = busy || !base;
  for (const el of Array.from(form.elements)) (el as HTMLInputElement).disabled = busy;
}

function fail(err: unknown): void {
  const msg = `error: ${err instanceof Error ? err.message : String(err)}`;
  document.body.dataset.error = msg;
  $('train-msg').textContent = msg;
  log(msg);
  setState('error');
}

// --- the model -----------------------------------------------------------------------------------
const sizeAsk = $('size-ask');

/** The file with a fixed image size: as declared, or asked from the user when the file leaves it open. */
async function fixedSize(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  let d: ReturnType<typeof declaredSize>;
  try {
    d = declaredSize(bytes);
  } catch {
    return bytes; // not readable as ONNX: the importer's error says why
  }
  if (d.height !== null && d.width !== null) return bytes;
  info.textContent = `${name}: its input '${d.name}' has no fixed image size; choose one below`;
  sizeAsk.hidden = false;
  document.body.dataset.state = 'asking';
  await new Promise<void>((ok) => $('ask-ok').addEventListener('click', () => ok(), { once: true }));
  sizeAsk.hidden = true;
  const h = Number($<HTMLInputElement>('ask-h').value),
    w = Number($<HTMLInputElement>('ask-w').value);
  log(`${name}: using ${h}×${w} images`);
  return withInputSize(bytes, h, w);
}

async function useModel(raw: Uint8Array, name: string): Promise<void> {
  if (busy) return;
  setState('loading');
  info.textContent = `importing ${name}…`;
  drop.classList.remove('error');
  delete document.body.dataset.error;
  try {
    const bytes = await fixedSize(raw, name);
    const b = await importBackbone(bytes);
    const frozen = b.model.countParams();
    base = { bytes, name, id: ++modelCount, shape: b.inputShape, features: b.featureCount };
    b.model.dispose();
    b.cut.dispose();
    const [h, w, c] = base.shape;
    info.textContent =
      `${name}: ${frozen.toLocaleString('en-US')} parameters, input ${h}×${w}×${c}. Training freezes them and ` +
      `puts a new head on the input of its last Dense layer (${base.features} features)`;
    $('input-info').textContent = `${h}×${w} pixels, ${c === 3 ? 'RGB' : 'grey'}`;
    setNorm(c === 3 ? IMAGENET : { ...IMAGENET, mode: 'unit' });
    log(`imported ${name} (${raw.length.toLocaleString('en-US')} bytes)`);
    document.body.dataset.model = name;
  } catch (err) {
    const msg = `could not use ${name}: ${err instanceof Error ? err.message : String(err)}`;
    info.textContent = base ? `${msg} (still using ${base.name})` : msg;
    drop.classList.add('error');
    document.body.dataset.error = msg;
    log(msg);
  }
  setState('idle');
}

async function useBundled(): Promise<void> {
  const r = await fetch('model/mobilenetv3_small.onnx');
  if (!r.ok) throw new Error(`model/mobilenetv3_small.onnx: HTTP ${r.status}`);
  await useModel(new Uint8Array(await r.arrayBuffer()), 'mobilenetv3_small.onnx');
}

// --- preprocessing -------------------------------------------------------------------------------
function setNorm(n: Normalisation): void {
  normMode.value = n.mode;
  normMean.value = n.mean.join(', ');
  normStd.value = n.std.join(', ');
  normMean.disabled = normStd.disabled = n.mode === 'unit';
}

function readNorm(): Normalisation {
  const mode = normMode.value === 'unit' ? 'unit' : 'meanstd';
  return { mode, mean: parseTriple(normMean.value, 'mean', false), std: parseTriple(normStd.value, 'std', true) };
}

/** The image resized to the model's input (cached per size). */
async function rgbOf(s: Sample, h: number, w: number): Promise<Float64Array> {
  const key = `${h}x${w}`;
  if (s.rgb?.key !== key) s.rgb = { key, value: resizeRgb(await decodeImage(s.blob), w, h) };
  return s.rgb.value;
}

async function inputsOf(samples: Sample[], shape: [number, number, number], norm: Normalisation) {
  const [h, w, c] = shape;
  const x = new Float32Array(samples.length * h * w * c);
  for (let i = 0; i < samples.length; i++) normalise(await rgbOf(samples[i], h, w), c, norm, x, i * h * w * c);
  return x;
}

// --- classes -------------------------------------------------------------------------------------
function addImages(entry: ClassEntry | null, files: File[]): void {
  decoding = decoding.then(async () => {
    for (const f of files) {
      try {
        const img = await decodeImage(f);
        const s: Sample = { blob: f };
        if (base)
          s.rgb = { key: `${base.shape[0]}x${base.shape[1]}`, value: resizeRgb(img, base.shape[1], base.shape[0]) };
        if (entry) {
          entry.samples.push(s);
          showSample(entry, img, f.name);
        } else {
          trySamples.push(s);
          const li = document.createElement('li');
          li.append(thumbnail(img, 64), document.createElement('div'));
          li.title = f.name;
          tryList.append(li);
        }
      } catch (err) {
        log(err instanceof Error ? err.message : String(err));
      }
    }
    if (!entry) showTries();
  });
}

function addClass(): void {
  const entry = classCard(`Class ${++classCounter}`, {
    add: addImages,
    snap: (e) => snapInto(e),
    remove: (e) => {
      if (classes.length <= 2) return log('a classifier needs at least two classes');
      classes.splice(classes.indexOf(e), 1);
      e.card.remove();
      updateClassButtons();
    },
  });
  classes.push(entry);
  classesEl.append(entry.card);
  updateClassButtons();
}

function updateClassButtons(): void {
  for (const c of classes) (c.card.querySelector('.remove') as HTMLButtonElement).disabled = classes.length <= 2;
  for (const b of Array.from(document.querySelectorAll<HTMLElement>('.snap, #try-snap'))) b.hidden = !camera.live;
}

const camera = new Camera($('camera'), $<HTMLVideoElement>('video'), $<HTMLButtonElement>('cam-toggle'), () =>
  updateClassButtons(),
);

function snapInto(entry: ClassEntry | null): void {
  camera
    .snapshot(`snapshot-${Date.now()}`)
    .then((f) => addImages(entry, [f]))
    .catch((err) => log(`camera: ${err instanceof Error ? err.message : String(err)}`));
}

// --- training ------------------------------------------------------------------------------------
const yieldToPage = () => new Promise((r) => setTimeout(r, 0));

/** Class names and the images of each, checked: two classes or more, each named and with an image. */
function trainingSet(): { names: string[]; samples: Sample[]; labels: number[] } {
  const names = classes.map((c) => c.nameInput.value.trim());
  names.forEach((n, i) => {
    if (!n) throw new Error(`class ${i + 1} has no name`);
    if (names.indexOf(n) !== i) throw new Error(`two classes are named "${n}"`);
    if (!classes[i].samples.length) throw new Error(`class "${n}" has no images yet`);
  });
  const samples = classes.flatMap((c) => c.samples);
  const labels = classes.flatMap((c, k) => c.samples.map(() => k));
  return { names, samples, labels };
}

async function train(): Promise<void> {
  if (!base || busy) return;
  const f = new FormData(form);
  const n = (k: string) => Number(f.get(k));
  const opts = {
    epochs: Math.max(1, Math.floor(n('epochs'))),
    batchSize: Math.max(1, Math.floor(n('batchSize'))),
    learningRate: n('lr'),
    seed: Math.floor(n('seed')),
  };
  setState('training');
  delete document.body.dataset.error;
  $('train-msg').textContent = '';
  await decoding;
  const set = trainingSet();
  const norm = readNorm();
  const { bytes, name, id } = base;
  saveSimdnet.disabled = saveOnnx.disabled = true;
  const b = await importBackbone(bytes);
  // Features depend on the model and the preprocessing only: computed once per image for both.
  const key = `${id}|${JSON.stringify(norm)}`;
  const todo = set.samples.filter((s) => s.feat?.key !== key);
  stat('images', `${set.samples.length} in ${set.names.length} classes`);
  stat('features', `0/${todo.length} new`);
  const t0 = performance.now();
  for (let i = 0; i < todo.length; i += 8) {
    const part = todo.slice(i, i + 8);
    const feats = extractFeatures(b, await inputsOf(part, b.inputShape, norm), part.length);
    part.forEach((s, k) => {
      s.feat = { key, value: feats.slice(k * b.featureCount, (k + 1) * b.featureCount) };
    });
    stat('features', `${Math.min(i + 8, todo.length)}/${todo.length} new`);
    await yieldToPage();
  }
  const featSecs = (performance.now() - t0) / 1000;
  log(
    `features of ${todo.length} new image(s) in ${featSecs.toFixed(2)} s (${set.samples.length - todo.length} cached)`,
  );
  const feats = new Float32Array(set.samples.length * b.featureCount);
  set.samples.forEach((s, i) => feats.set(s.feat!.value, i * b.featureCount));

  const perEpoch = Math.ceil(set.samples.length / opts.batchSize);
  const losses: number[] = [];
  let last = performance.now();
  const t1 = performance.now();
  const { head, losses: all } = await trainHead(
    feats,
    set.labels,
    { ...opts, classes: set.names.length },
    async (step, total, loss, acc) => {
      losses.push(loss);
      progress.max = total;
      progress.value = step;
      stat('epoch', `${Math.ceil(step / perEpoch)}/${opts.epochs}`);
      stat('step', `${step}/${total}`);
      stat('loss', loss.toFixed(4));
      stat('acc', `${(acc * 100).toFixed(0)}%`);
      if (performance.now() - last > 30 || step === total) {
        drawCurve(curve, losses, total);
        await yieldToPage();
        last = performance.now();
      }
    },
  );
  log(
    `trained the head (${head.countParams()} parameters) for ${all.length} steps in ${((performance.now() - t1) / 1000).toFixed(2)} s`,
  );
  tuned?.model.dispose();
  tuned = {
    model: fineTunedModel(b, head, `${stem(name)}_finetuned`),
    stem: stem(name),
    names: set.names,
    norm,
    shape: b.inputShape,
  };
  head.dispose();
  b.replaced.dispose(); // the import's own last Dense layer, the one thing the fine-tuned model leaves out
  curve.dataset.losses = JSON.stringify(all);
  $('class-order').textContent = `outputs in this order: ${set.names.join(', ')}`;
  saveSimdnet.disabled = saveOnnx.disabled = false;
  await showTries();
  setState('done');
}

// --- trying it -----------------------------------------------------------------------------------
/** Predicts every image of the try list at once and shows each one's class probabilities. */
async function showTries(): Promise<void> {
  tryList.dataset.count = String(trySamples.length);
  if (!trySamples.length) return;
  if (!tuned) {
    for (const li of Array.from(tryList.querySelectorAll('li'))) li.lastElementChild!.textContent = 'train first';
    return;
  }
  const t = tuned;
  const x = await inputsOf(trySamples, t.shape, t.norm);
  if (tuned !== t) return; // retrained meanwhile: the new model's run shows them
  const p = predictProbs(t.model, x, trySamples.length, t.shape);
  const k = t.names.length;
  tryList.querySelectorAll('li').forEach((li, i) => {
    li.lastElementChild!.innerHTML = probabilityBars(t.names, p.subarray(i * k, (i + 1) * k));
  });
  tryList.dataset.probs = JSON.stringify(Array.from(p));
}

// --- downloads and wiring ------------------------------------------------------------------------
const stem = (name: string) => name.replace(/\.onnx$/i, '');

startBtn.addEventListener('click', () => train().catch(fail));
saveSimdnet.addEventListener('click', () => {
  if (tuned) log(download(new Uint8Array(tuned.model.save()), `${tuned.stem}-finetuned.simdnet`));
});
saveOnnx.addEventListener('click', () => {
  const t = tuned;
  if (t)
    sn.toONNX(t.model)
      .then((b) => log(download(b, `${t.stem}-finetuned.onnx`)))
      .catch(fail);
});
$('bundled').addEventListener('click', () => useBundled().catch(fail));
const modelFile = (f: File) => f.arrayBuffer().then((a) => useModel(new Uint8Array(a), f.name));
$<HTMLInputElement>('model-file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) modelFile(f).catch(fail);
});
dropZone(drop, (files) => modelFile(files[0]).catch(fail));
$('add-class').addEventListener('click', addClass);
$('try-snap').addEventListener('click', () => snapInto(null));
const tryInput = $<HTMLInputElement>('try-files');
tryInput.addEventListener('change', () => {
  addImages(null, imageFiles(tryInput.files));
  tryInput.value = '';
});
dropZone($('try-drop'), (files) => addImages(null, imageFiles(files)));
normMode.addEventListener('change', () => {
  normMean.disabled = normStd.disabled = normMode.value === 'unit';
});
$('norm-imagenet').addEventListener('click', () => setNorm(IMAGENET));

(async () => {
  addClass();
  addClass();
  setState('loading');
  // Main thread: one thread, no workers (kernels on workers would need Atomics.wait here).
  const engine = await sn.ready({ threads: 1 });
  log(`engine: '${engine.build}' build, ${sn.getThreads()} thread`);
  await camera.detect();
  setState('idle');
  await useBundled();
  document.body.dataset.ready = 'true';
})().catch(fail);
