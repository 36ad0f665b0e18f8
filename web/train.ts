// The training page: settings form, start/stop, live numbers and loss curve, model download.
// All the work happens in train-worker.ts.
import type { FromWorker, ToWorker, TrainConfig } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const startBtn = $<HTMLButtonElement>('start');
const stopBtn = $<HTMLButtonElement>('stop');
const downloadBtn = $<HTMLButtonElement>('download');
const engineBadge = $('engine');
const progress = $<HTMLProgressElement>('progress');
const curve = $('curve') as unknown as SVGSVGElement;
const logEl = $('log');
const stat = (id: string, v: string) => {
  $(`s-${id}`).textContent = v;
};

const worker = new Worker('train-worker.js', { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);

let batchLosses: number[] = [];
let avgLosses: number[] = [];
let epochMarks: number[] = [];
let totalSteps = 1;
let stepsPerEpoch = 1;
let drawPending = false;

function log(text: string): void {
  logEl.textContent += `${new Date().toLocaleTimeString()}  ${text}\n`;
  logEl.scrollTop = logEl.scrollHeight;
}

function setRunning(running: boolean): void {
  startBtn.disabled = running;
  stopBtn.disabled = !running;
  for (const el of Array.from(form.elements)) (el as HTMLInputElement).disabled = running;
  document.body.dataset.state = running ? 'training' : 'idle';
}

function readConfig(): TrainConfig {
  const f = new FormData(form);
  const n = (k: string) => Number(f.get(k));
  return {
    arch: f.get('arch') === 'seed' ? 'seed' : 'small',
    trainLimit: n('trainLimit'),
    testLimit: n('testLimit'),
    epochs: n('epochs'),
    batchSize: n('batchSize'),
    lr: n('lr'),
    seed: n('seed'),
  };
}

// Loss curve: SVG polylines in a 600×260 box (y from 0 to the largest loss seen, x over all steps).
function drawCurve(): void {
  drawPending = false;
  const W = 600,
    H = 260,
    L = 34,
    B = 18,
    T = 8;
  const ymax = Math.max(0.1, ...batchLosses.slice(0, 5000).map((v) => Math.min(v, 5)));
  const xs = (i: number) => L + ((W - L - 6) * (i + 1)) / Math.max(totalSteps, batchLosses.length, 1);
  const ys = (v: number) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
  const line = (vals: number[]) => vals.map((v, i) => `${xs(i).toFixed(1)},${ys(v).toFixed(1)}`).join(' ');
  const ticks = [0, ymax / 2, ymax]
    .map(
      (v) =>
        `<line class="axis" x1="${L}" x2="${W}" y1="${ys(v)}" y2="${ys(v)}"/><text x="2" y="${ys(v) + 4}">${v.toFixed(2)}</text>`,
    )
    .join('');
  const marks = epochMarks
    .map(
      (s, e) =>
        `<line class="axis" x1="${xs(s - 1)}" x2="${xs(s - 1)}" y1="${T}" y2="${H - B}"/><text x="${xs(s - 1) - 40}" y="${H - 4}">epoch ${e + 1}</text>`,
    )
    .join('');
  curve.innerHTML = `${ticks}${marks}<polyline class="batch" points="${line(batchLosses)}"/><polyline class="avg" points="${line(avgLosses)}"/>`;
}

function scheduleCurve(): void {
  if (!drawPending) {
    drawPending = true;
    requestAnimationFrame(drawCurve);
  }
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'engine':
      engineBadge.textContent = `engine: '${m.build}' build · ${m.threads} thread${m.threads > 1 ? 's' : ''}${m.isolated ? '' : ' (page not cross-origin isolated)'}`;
      engineBadge.dataset.threads = String(m.threads);
      engineBadge.dataset.build = m.build;
      break;
    case 'log':
      log(m.text);
      break;
    case 'data':
      log(`data: ${m.train} training and ${m.test} test images`);
      break;
    case 'begin':
      stepsPerEpoch = m.steps;
      totalSteps = m.steps * m.epochs;
      progress.max = totalSteps;
      log(`training ${m.params.toLocaleString('en-US')} parameters: ${m.epochs} epoch(s) × ${m.steps} batches`);
      break;
    case 'batch': {
      const step = m.epoch * stepsPerEpoch + m.batch;
      batchLosses.push(m.batchLoss);
      avgLosses.push(m.loss);
      progress.value = step;
      stat('epoch', `${m.epoch + 1}`);
      stat('batch', `${m.batch}/${m.steps}`);
      stat('loss', m.loss.toFixed(4));
      stat('acc', `${(m.accuracy * 100).toFixed(2)}%`);
      stat('speed', m.examplesPerSecond.toFixed(0));
      document.body.dataset.step = String(step);
      scheduleCurve();
      break;
    }
    case 'epoch':
      epochMarks.push((m.epoch + 1) * stepsPerEpoch);
      if (m.valAccuracy !== undefined) stat('val', `${(m.valAccuracy * 100).toFixed(2)}%`);
      log(
        `epoch ${m.epoch + 1}: loss ${m.loss.toFixed(4)}, accuracy ${(m.accuracy * 100).toFixed(2)}%` +
          (m.valAccuracy !== undefined
            ? `, test loss ${m.valLoss!.toFixed(4)}, test accuracy ${(m.valAccuracy * 100).toFixed(2)}%`
            : ''),
      );
      scheduleCurve();
      break;
    case 'done':
      log(`${m.stopped ? 'stopped' : 'done'} after ${m.seconds.toFixed(1)} s`);
      setRunning(false);
      downloadBtn.disabled = false;
      document.body.dataset.state = m.stopped ? 'stopped' : 'done';
      break;
    case 'model': {
      const url = URL.createObjectURL(new Blob([m.bytes], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = m.name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      log(
        `model saved as ${m.name} (${m.bytes.byteLength.toLocaleString('en-US')} bytes); open it on the Draw page with "Use another model…"`,
      );
      break;
    }
    case 'error':
      log(`error: ${m.message}`);
      setRunning(false);
      document.body.dataset.state = 'error';
      break;
  }
};
worker.onerror = (e) => {
  log(`worker error: ${e.message}`);
  setRunning(false);
};

startBtn.addEventListener('click', () => {
  batchLosses = [];
  avgLosses = [];
  epochMarks = [];
  downloadBtn.disabled = true;
  stat('val', '–');
  delete document.body.dataset.step;
  const config = readConfig(); // before setRunning: FormData skips disabled fields
  setRunning(true);
  send({ type: 'start', config });
  scheduleCurve();
});
stopBtn.addEventListener('click', () => {
  send({ type: 'stop' });
  stopBtn.disabled = true;
  log('stopping after the current batch…');
});
downloadBtn.addEventListener('click', () => send({ type: 'save' }));

engineBadge.textContent = crossOriginIsolated
  ? `engine: threads available (${navigator.hardwareConcurrency} cores)`
  : 'engine: one thread (page not cross-origin isolated)';
setRunning(false);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
