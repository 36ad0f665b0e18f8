// The training worker: loads simdnet's full bundle, fetches the MNIST IDX files from the server,
// trains the chosen model and reports progress to the page (protocol.ts).
import * as sn from 'simdnet/full';
import type { Arch, FromWorker, ToWorker, TrainConfig } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
let model: sn.Sequential | null = null;
let running = false;
let stopRequested = false; // a stop that arrives while the data loads counts too

/** The architectures offered by the page. */
function makeModel(arch: Arch, seed: number): sn.Sequential {
  if (arch === 'seed') {
    const m = sn.seedModel({ seed });
    m.name = 'seed';
    return m;
  }
  const L = sn.layers;
  return sn.sequential({
    name: 'small',
    seed,
    layers: [
      L.conv2d({ filters: 8, kernelSize: 5, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 64, activation: 'relu' }),
      L.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

async function fetchBytes(name: string): Promise<Uint8Array> {
  const r = await fetch(`data/${name}`);
  if (!r.ok) throw new Error(`data/${name}: HTTP ${r.status} (serve the pages with npm run serve)`);
  return new Uint8Array(await r.arrayBuffer());
}

async function start(cfg: TrainConfig): Promise<void> {
  running = true;
  stopRequested = false;
  const isolated = (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  // Threads need shared memory, which browsers give only to cross-origin-isolated pages.
  const threads = isolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  const engine = await sn.ready({ threads });
  if (engine.build === 'threads' && sn.getThreads() !== threads) await sn.setThreads(threads);
  post({ type: 'engine', build: engine.build, threads: sn.getThreads(), isolated });

  post({ type: 'log', text: 'fetching MNIST from data/ …' });
  const names = sn.MNIST_FILE_NAMES;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [names.trainImages, names.trainLabels, names.testImages, names.testLabels].map(fetchBytes),
  );
  const data = await sn.decodeMnist(
    { trainImages, trainLabels, testImages, testLabels },
    { trainLimit: cfg.trainLimit, testLimit: cfg.testLimit },
  );
  const { train: tr, test: te } = data;
  post({ type: 'data', train: tr.count, test: te.count });

  model?.dispose();
  const m = (model = makeModel(cfg.arch, cfg.seed));
  m.compile({
    optimizer: new sn.Adam({ learningRate: cfg.lr }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const steps = Math.ceil(tr.count / cfg.batchSize);
  const t0 = performance.now();
  if (stopRequested) {
    post({ type: 'done', stopped: true, seconds: 0 });
    running = false;
    return;
  }
  post({ type: 'begin', params: m.countParams(), steps, epochs: cfg.epochs });
  const x = { data: tr.images, shape: [tr.count, 28, 28, 1] };
  const y = { data: tr.labels, shape: [tr.count] };
  const val: [sn.Data, sn.Data] | undefined =
    te.count > 0
      ? [
          { data: te.images, shape: [te.count, 28, 28, 1] },
          { data: te.labels, shape: [te.count] },
        ]
      : undefined;

  let epoch = 0,
    prevSum = 0,
    prevSeen = 0,
    tEpoch = t0;
  const history = await m.fit(x, y, {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    validationData: val,
    seed: cfg.seed,
    verbose: 0,
    callbacks: {
      onEpochBegin: (e) => {
        epoch = e;
        prevSum = 0;
        prevSeen = 0;
        tEpoch = performance.now();
      },
      onBatchEnd: (b, logs) => {
        const count = Math.min(cfg.batchSize, tr.count - b * cfg.batchSize);
        const sum = logs.loss * (prevSeen + count);
        const batchLoss = (sum - prevSum) / count;
        prevSum = sum;
        prevSeen += count;
        const examplesPerSecond = prevSeen / ((performance.now() - tEpoch) / 1000);
        post({
          type: 'batch',
          epoch,
          batch: b + 1,
          steps,
          loss: logs.loss,
          accuracy: logs.accuracy,
          batchLoss,
          examplesPerSecond,
        });
        return !stopRequested;
      },
      onEpochEnd: (e, logs) => {
        post({
          type: 'epoch',
          epoch: e,
          loss: logs.loss,
          accuracy: logs.accuracy,
          valLoss: logs.val_loss,
          valAccuracy: logs.val_accuracy,
        });
      },
    },
  });
  post({ type: 'done', stopped: history.stopped, seconds: (performance.now() - t0) / 1000 });
  running = false;
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === 'start') {
    if (running) return;
    start(msg.config).catch((err) => {
      running = false;
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    });
  } else if (msg.type === 'stop') {
    stopRequested = true;
    model?.stopTraining();
  } else if (msg.type === 'save' && model) {
    const bytes = model.save();
    post({ type: 'model', bytes, name: `mnist-${model.name}.simdnet` }, [bytes]);
  }
};
