// The fine-tune page: import an ONNX CNN (dropped, picked, or the bundled PyTorch MNIST CNN), freeze
// it, put a new two-class head on the input of its last Dense layer, train the head on MNIST images
// for a new task, and download the result as .simdnet and .onnx. This script is its own bundle with
// the real ONNX importer/exporter (and protobufjs), so the library bundles stay without them. Training
// runs on the main thread: the model is small and fit() yields to the event loop every ~50 ms.
import * as sn from '../src/index.js';
import { MNIST_FILE_NAMES, parseIdx } from '../src/data/idx.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const drop = $('drop');
const info = $('model-info');
const form = $<HTMLFormElement>('form');
const startBtn = $<HTMLButtonElement>('start');
const saveSimdnet = $<HTMLButtonElement>('save-simdnet');
const saveOnnx = $<HTMLButtonElement>('save-onnx');
const progress = $<HTMLProgressElement>('progress');
const curve = $('curve') as unknown as SVGSVGElement;
const probesEl = $<HTMLOListElement>('probes');
const logEl = $('log');
const stat = (id: string, v: string) => {
  $(`s-${id}`).textContent = v;
};

/** Held-out images start here in the MNIST test file; training images are taken from 0. */
const HELD_OUT_START = 5000;
const HELD_OUT_COUNT = 1000;
const PROBES = 12;
const TASKS = {
  parity: { label: (d: number) => d % 2, names: ['even', 'odd'] },
  large: { label: (d: number) => (d >= 5 ? 1 : 0), names: ['< 5', '≥ 5'] },
};

// The chosen file. Each fine-tune imports it afresh: a model shares its layers with the import it was
// cut from, so disposing the previous fine-tuned model must not take the next one's layers with it.
let base: { bytes: Uint8Array; name: string } | null = null;
let tuned: { model: sn.Model; name: string } | null = null;
let mnist: Promise<{ images: Uint8Array; labels: Uint8Array }> | null = null;
let busy = false;

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

// --- the model -----------------------------------------------------------------------------------
/** Imports `bytes` and finds where the new head goes; throws with a message for the page. */
async function importBase(bytes: Uint8Array): Promise<{ model: sn.Model; features: sn.SymbolicTensor }> {
  const model = await sn.loadONNX(bytes, { inputLayout: 'nhwc' });
  const shape = model.inputs.length === 1 ? model.inputs[0].shape : null;
  if (!shape || shape.join(',') !== '28,28,1') {
    model.dispose();
    throw new Error(
      `this page fine-tunes on 28×28 grey MNIST digits, but the model takes ${model.inputs.length} input(s) of ` +
        `shape [${model.inputs.map((i) => i.shape.join(', ')).join('] [')}] (channels last)`,
    );
  }
  const dense = model.layers.filter((l) => l.className === 'Dense').pop();
  if (!dense) {
    model.dispose();
    throw new Error('the model has no Dense (Gemm/MatMul) layer whose input could feed a new head');
  }
  const features = dense.inboundNodes[0].inputs[0];
  return { model, features };
}

async function useModel(bytes: Uint8Array, name: string): Promise<void> {
  if (busy) return;
  setState('loading');
  info.textContent = `importing ${name}…`;
  drop.classList.remove('error');
  delete document.body.dataset.error;
  try {
    const b = await importBase(bytes);
    base = { bytes, name };
    const frozen = b.model.countParams();
    info.textContent =
      `${name}: ${b.model.layers.length} layers, ${frozen.toLocaleString('en-US')} parameters. Fine-tuning freezes ` +
      `them and puts a new head on the input of its last Dense layer ([${b.features.shape.join(', ')}] features)`;
    b.model.dispose();
    log(`imported ${name} (${bytes.length.toLocaleString('en-US')} bytes)`);
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
  const r = await fetch('model/mnist_cnn.onnx');
  if (!r.ok) throw new Error(`model/mnist_cnn.onnx: HTTP ${r.status}`);
  await useModel(new Uint8Array(await r.arrayBuffer()), 'mnist_cnn.onnx');
}

async function useFile(f: File): Promise<void> {
  await useModel(new Uint8Array(await f.arrayBuffer()), f.name);
}

// --- data ------------------------------------------------------------------------------------------
function loadMnist(): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const get = async (name: string) => {
    const r = await fetch(`data/${name}`);
    if (!r.ok) throw new Error(`data/${name}: HTTP ${r.status} (serve the pages with npm run serve)`);
    return parseIdx(new Uint8Array(await r.arrayBuffer()), name);
  };
  mnist ??= Promise.all([get(MNIST_FILE_NAMES.testImages), get(MNIST_FILE_NAMES.testLabels)]).then(
    ([i, l]) => ({ images: i.data, labels: l.data }),
    (err) => {
      mnist = null; // let a later click try again
      throw err;
    },
  );
  return mnist;
}

/** Images [from, from + n) as NHWC floats in [0, 1], with one-hot labels of the task. */
function slice(d: { images: Uint8Array; labels: Uint8Array }, from: number, n: number, label: (d: number) => number) {
  const x = Float32Array.from(d.images.subarray(from * 784, (from + n) * 784), (v) => v / 255);
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) y[i * 2 + label(d.labels[from + i])] = 1;
  return {
    x: { data: x, shape: [n, 28, 28, 1] },
    y: { data: y, shape: [n, 2] },
    digits: d.labels.slice(from, from + n),
  };
}

// --- curve -----------------------------------------------------------------------------------------
function drawCurve(losses: number[], total: number): void {
  const W = 600,
    H = 200,
    L = 34,
    B = 8,
    T = 8;
  const ymax = Math.max(0.1, ...losses.map((v) => Math.min(v, 5)));
  const xs = (i: number) => L + ((W - L - 6) * (i + 1)) / Math.max(total, losses.length, 1);
  const ys = (v: number) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
  const ticks = [0, ymax / 2, ymax]
    .map(
      (v) =>
        `<line class="axis" x1="${L}" x2="${W}" y1="${ys(v)}" y2="${ys(v)}"/><text x="2" y="${ys(v) + 4}">${v.toFixed(2)}</text>`,
    )
    .join('');
  const pts = losses.map((v, i) => `${xs(i).toFixed(1)},${ys(v).toFixed(1)}`).join(' ');
  curve.innerHTML = `${ticks}<polyline class="avg" points="${pts}"/>`;
}

// --- training --------------------------------------------------------------------------------------
async function fineTune(): Promise<void> {
  if (!base || busy) return;
  const f = new FormData(form);
  const n = (k: string) => Number(f.get(k));
  const task = TASKS[f.get('task') === 'large' ? 'large' : 'parity'];
  const count = Math.min(Math.max(8, Math.floor(n('trainCount'))), HELD_OUT_START);
  const batchSize = Math.max(1, Math.floor(n('batchSize')));
  const epochs = Math.max(1, Math.floor(n('epochs')));
  setState('training');
  saveSimdnet.disabled = saveOnnx.disabled = true;
  probesEl.textContent = '';
  log('fetching MNIST from data/ …');
  const data = await loadMnist();
  const train = slice(data, 0, count, task.label);
  const held = slice(data, HELD_OUT_START, HELD_OUT_COUNT, task.label);

  // Freeze the import (a frozen BatchNormalization keeps its running statistics), add the new head.
  const name = base.name;
  const b = await importBase(base.bytes);
  for (const l of b.model.layers) l.trainable = false;
  const headLayer = sn.layers.dense({ units: 2, activation: 'softmax', name: 'new_head' });
  const head = headLayer.apply(b.features);
  tuned?.model.dispose();
  const m = sn.model({ inputs: b.model.inputs, outputs: head, seed: n('seed'), name: 'finetuned' });
  tuned = { model: m, name };
  m.compile({
    optimizer: new sn.Adam({ learningRate: n('lr') }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const steps = Math.ceil(count / batchSize);
  progress.max = steps * epochs;
  progress.value = 0;
  const batchLosses: number[] = [];
  let epoch = 0,
    prevSum = 0,
    prevSeen = 0;
  log(`training the ${headLayer.countParams()} parameters of the new head on ${count} images, ${epochs} epoch(s)`);
  const t0 = performance.now();
  await m.fit(train.x, train.y, {
    epochs,
    batchSize,
    seed: n('seed'),
    verbose: 0,
    callbacks: {
      onEpochBegin: (e) => {
        epoch = e;
        prevSum = prevSeen = 0;
      },
      onBatchEnd: (b, logs) => {
        const c = Math.min(batchSize, count - b * batchSize);
        const sum = logs.loss * (prevSeen + c);
        batchLosses.push((sum - prevSum) / c);
        prevSum = sum;
        prevSeen += c;
        progress.value = epoch * steps + b + 1;
        stat('epoch', `${epoch + 1}/${epochs}`);
        stat('batch', `${b + 1}/${steps}`);
        stat('loss', logs.loss.toFixed(4));
        stat('acc', `${(logs.accuracy * 100).toFixed(1)}%`);
        drawCurve(batchLosses, steps * epochs);
      },
      onEpochEnd: (e, logs) => {
        log(`epoch ${e + 1}: loss ${logs.loss.toFixed(4)}, accuracy ${(logs.accuracy * 100).toFixed(1)}%`);
        if (e === 0) document.body.dataset.firstEpochLoss = String(logs.loss);
        document.body.dataset.lastEpochLoss = String(logs.loss);
      },
    },
  });
  const [heldLoss, heldAcc] = m.evaluate(held.x, held.y, { batchSize: 100 });
  stat('val', `${(heldAcc * 100).toFixed(1)}%`);
  log(
    `done in ${((performance.now() - t0) / 1000).toFixed(1)} s; held-out (${HELD_OUT_COUNT} images ` +
      `${HELD_OUT_START}…): loss ${heldLoss.toFixed(4)}, accuracy ${(heldAcc * 100).toFixed(1)}%`,
  );
  document.body.dataset.firstBatchLoss = String(batchLosses[0]);
  document.body.dataset.heldOutAccuracy = String(heldAcc);
  showProbes(m, held, task.names);
  saveSimdnet.disabled = saveOnnx.disabled = false;
  setState('done');
}

/** The first held-out images with the model's answer; their probabilities go in data-probs (tests). */
function showProbes(m: sn.Model, held: ReturnType<typeof slice>, names: string[]): void {
  const x = { data: held.x.data.subarray(0, PROBES * 784), shape: [PROBES, 28, 28, 1] };
  const t = m.predict(x);
  const p = Float32Array.from(t.dataSync());
  t.dispose();
  probesEl.dataset.first = String(HELD_OUT_START);
  probesEl.dataset.probs = JSON.stringify(Array.from(p));
  for (let i = 0; i < PROBES; i++) {
    const li = document.createElement('li');
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    const img = new ImageData(28, 28);
    for (let k = 0; k < 784; k++) {
      const v = 255 - Math.round(x.data[i * 784 + k] * 255);
      img.data.set([v, v, v, 255], k * 4);
    }
    c.getContext('2d')!.putImageData(img, 0, 0);
    const guess = p[i * 2 + 1] > p[i * 2] ? 1 : 0;
    const right = held.y.data[i * 2 + guess] === 1;
    li.className = right ? 'right' : 'wrong';
    li.append(c, `${names[guess]} ${(p[i * 2 + guess] * 100).toFixed(0)}%`);
    li.title = `MNIST test image ${HELD_OUT_START + i}, a ${held.digits[i]}`;
    probesEl.append(li);
  }
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  log(`saved ${name} (${bytes.length.toLocaleString('en-US')} bytes)`);
}

const stem = () => (tuned?.name ?? 'model').replace(/\.onnx$/i, '');

// --- wiring ----------------------------------------------------------------------------------------
function fail(err: unknown): void {
  const msg = `error: ${err instanceof Error ? err.message : String(err)}`;
  document.body.dataset.error = msg;
  info.textContent = msg;
  drop.classList.add('error');
  log(msg);
  setState('error');
}

startBtn.addEventListener('click', () => fineTune().catch(fail));
saveSimdnet.addEventListener('click', () => {
  if (tuned) download(new Uint8Array(tuned.model.save()), `${stem()}-finetuned.simdnet`);
});
saveOnnx.addEventListener('click', () => {
  if (tuned)
    sn.toONNX(tuned.model)
      .then((b) => download(b, `${stem()}-finetuned.onnx`))
      .catch(fail);
});
$('bundled').addEventListener('click', () => useBundled().catch(fail));
$<HTMLInputElement>('model-file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) useFile(f).catch(fail);
});
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) useFile(f).catch(fail);
});

(async () => {
  setState('loading');
  // Main thread: one thread, no workers (kernels on workers would need Atomics.wait here).
  const engine = await sn.ready({ threads: 1 });
  log(`engine: '${engine.build}' build, ${sn.getThreads()} thread`);
  setState('idle');
  await useBundled();
  document.body.dataset.ready = 'true';
})().catch(fail);
