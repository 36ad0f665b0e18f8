// Draw a digit: pointer strokes on a canvas → MNIST-style 28×28 input → the shipped CNN → a bar chart
// of the ten probabilities, live while drawing. Works offline once loaded (service worker, sw.ts).
import * as sn from 'simdnet/browser';
import { greyFromRgba, toMnistInput } from './mnist-input.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const pad = $<HTMLCanvasElement>('pad');
const preview = $<HTMLCanvasElement>('preview');
const result = $<HTMLOutputElement>('result');
const confidence = $('confidence');
const status = $('status');
const bars = $<HTMLOListElement>('bars');
const ctx = pad.getContext('2d', { willReadFrequently: true })!;
const pctx = preview.getContext('2d')!;

// Pen width on the 280×280 pad. A digit drawn ~200 px tall is shrunk to MNIST's 20 px box, so an
// 18 px pen gives strokes of ~2 px: as thick as MNIST's. The slider is for larger or smaller hands.
const penInput = $<HTMLInputElement>('pen');
let penWidth = Number(penInput.value) || 18;
penInput.addEventListener('input', () => {
  penWidth = Number(penInput.value) || 18;
});

let model: sn.Model | null = null;
let strokes = 0; // completed strokes since the last clear (tests wait for data-strokes to match)
let drawing: { id: number; x: number; y: number } | null = null;
let pending = false;

// --- bar chart ---
const fills: HTMLElement[] = [];
const pcts: HTMLElement[] = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement('li');
  li.innerHTML = `<span>${d}</span><span class="track"><span class="fill"></span></span><span class="pct">–</span>`;
  bars.append(li);
  fills.push(li.querySelector('.fill')!);
  pcts.push(li.querySelector('.pct')!);
}

function showProbs(p: Float32Array | null): void {
  let best = 0;
  if (p) for (let d = 1; d < 10; d++) if (p[d] > p[best]) best = d;
  for (let d = 0; d < 10; d++) {
    fills[d].style.width = p ? `${(p[d] * 100).toFixed(1)}%` : '0';
    pcts[d].textContent = p ? `${(p[d] * 100).toFixed(1)}%` : '–';
    bars.children[d].classList.toggle('best', !!p && d === best);
  }
  result.textContent = p ? String(best) : '?';
  result.dataset.digit = p ? String(best) : '';
  confidence.textContent = p ? `${(p[best] * 100).toFixed(1)}% sure` : 'draw a digit in the black square';
}

// --- pad ---
function clearPad(): void {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  pctx.fillStyle = '#000';
  pctx.fillRect(0, 0, 28, 28);
  strokes = 0;
  showProbs(null);
  result.dataset.strokes = '0';
}

function toPad(e: PointerEvent): { x: number; y: number } {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
}

function segment(a: { x: number; y: number }, b: { x: number; y: number }): void {
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = penWidth;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

pad.addEventListener('pointerdown', (e) => {
  if (drawing || (e.pointerType === 'mouse' && e.button !== 0)) return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  const p = toPad(e);
  drawing = { id: e.pointerId, ...p };
  segment(p, p); // a dot for a tap
  schedule();
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing || e.pointerId !== drawing.id) return;
  // Coalesced events keep fast strokes smooth where the browser batches moves.
  const events =
    typeof e.getCoalescedEvents === 'function' && e.getCoalescedEvents().length ? e.getCoalescedEvents() : [e];
  for (const ev of events) {
    const p = toPad(ev);
    segment(drawing, p);
    drawing.x = p.x;
    drawing.y = p.y;
  }
  schedule();
});
const end = (e: PointerEvent) => {
  if (!drawing || e.pointerId !== drawing.id) return;
  drawing = null;
  strokes++;
  schedule();
};
pad.addEventListener('pointerup', end);
pad.addEventListener('pointercancel', end);
$('clear').addEventListener('click', clearPad);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' || e.key === 'Delete') clearPad();
});

// --- classification, at most once per frame ---
function schedule(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    classify();
  });
}

function classify(): void {
  if (!model) return;
  const seen = strokes;
  const x = toMnistInput(greyFromRgba(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height));
  drawPreview(x);
  if (!x) {
    showProbs(null);
    result.dataset.strokes = String(seen);
    return;
  }
  const y = model.predict({ data: x, shape: [1, 28, 28, 1] });
  const p = (y.dataSync() as Float32Array).slice();
  y.dispose();
  // The last input and answer, for tests that repeat the prediction outside the page.
  (globalThis as { drawPage?: unknown }).drawPage = { input: x, probs: p };
  showProbs(p);
  result.dataset.strokes = String(seen);
}

function drawPreview(x: Float32Array | null): void {
  const img = pctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = x ? Math.round(x[i] * 255) : 0;
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  pctx.putImageData(img, 0, 0);
}

// --- start-up ---
async function useModel(bytes: ArrayBuffer, label: string): Promise<void> {
  const m = sn.loadModel(bytes);
  const shape = m.inputShape.join('×'),
    out = m.outputShape.join('×');
  if (shape !== '28×28×1' || out !== '10') {
    m.dispose();
    throw new Error(`${label}: expects ${shape} → ${out}, not 28×28×1 → 10`);
  }
  model?.dispose();
  model = m;
  classify();
}

let engineText = '';
let accText = '';
const choice = $<HTMLSelectElement>('model-choice');

/** Fetches one of the shipped models (float32 or its int8 quantization) and predicts with it. */
async function loadShipped(file: string): Promise<void> {
  const res = await fetch(`model/${file}`);
  if (!res.ok) throw new Error(`model/${file}: HTTP ${res.status}`);
  const bytes = await res.arrayBuffer();
  await useModel(bytes, `model/${file}`);
  document.body.dataset.model = file;
  const mb = (bytes.byteLength / 1e6).toFixed(2);
  // The test accuracy in mnist.json is the float32 model's.
  const acc = file === 'mnist.simdnet' ? accText : '';
  status.textContent = `model: ${file} (${mb} MB), ${model!.countParams().toLocaleString('en-US')} parameters${acc} · ${engineText}`;
}

async function main(): Promise<void> {
  clearPad();
  // One image at a time needs no worker threads: one thread, the best build this browser runs.
  const engine = await sn.ready({ threads: 1 });
  engineText = `engine: '${engine.build}' build, ${sn.getThreads()} thread`;
  const meta = await fetch('model/mnist.json')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  accText = meta?.testAccuracy ? `, ${(meta.testAccuracy * 100).toFixed(2)}% on the MNIST test set` : '';
  await loadShipped(choice.value);
  document.body.dataset.ready = 'true';
}

choice.addEventListener('change', async () => {
  const file = choice.value;
  choice.disabled = true;
  try {
    await loadShipped(file);
  } catch (err) {
    status.textContent = `could not load model/${file}: ${(err as Error).message}`;
  } finally {
    choice.disabled = false;
  }
});

$<HTMLInputElement>('model-file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  try {
    await useModel(await f.arrayBuffer(), f.name);
    document.body.dataset.model = f.name;
    status.textContent = `model: ${f.name}, ${model!.countParams().toLocaleString('en-US')} parameters`;
  } catch (err) {
    status.textContent = `could not use ${f.name}: ${(err as Error).message}`;
  }
});

main().catch((err) => {
  status.textContent = `error: ${err instanceof Error ? err.message : String(err)}`;
  document.body.dataset.error = status.textContent;
  console.error(err);
});

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js').catch((err) => console.warn('service worker not registered:', err));
}
