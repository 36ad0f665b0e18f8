// The peers, each in its own process (bench/peers/child.mjs) with a time cap, so a peer that
// fails, hangs or crashes is reported as "failed: reason" and the run goes on.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxAbsDiff, reason } from '../peers/timing.mjs';
import { findTorchPython } from '../peers/torch.mjs';
import { AGREE_TOL, BATCH } from './constants.mjs';

const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'peers');
const KEYS = ['agree', 'latency', 'infer', 'train'];
/** Peers whose predictions must agree with simdnet's; the others are shown for information. */
const REFERENCE_PEERS = ['ort-node', 'tfjs-wasm'];

/** The peers to run, with their time budgets (s); `threads: 'T'` means all of simdnet's threads. */
export function peerList(quick, T) {
  return [
    {
      id: 'tfjs-cpu',
      label: 'tfjs-backend-cpu',
      peer: 'tfjs',
      variant: 'cpu',
      budget: quick ? 45 : 240,
      trainBatch: quick ? 1 : 8,
    },
    {
      id: 'tfjs-wasm',
      label: 'tfjs-backend-wasm',
      peer: 'tfjs',
      variant: 'wasm',
      budget: quick ? 40 : 90,
      trainBatch: BATCH,
    },
    { id: 'ort-web', label: 'onnxruntime-web', peer: 'ort', variant: 'web', threads: 1, budget: quick ? 30 : 60 },
    // its Node default is 1 thread on 2 cores; the full run also tries numThreads = T
    {
      id: 'ort-web-mt',
      label: 'onnxruntime-web',
      peer: 'ort',
      variant: 'web',
      threads: 'T',
      budget: 60,
      skip: quick || T < 2,
    },
    { id: 'ort-node', label: 'onnxruntime-node', peer: 'ort', variant: 'node', threads: 'T', budget: quick ? 30 : 60 },
    { id: 'convnetjs', label: 'convnetjs', peer: 'convnetjs', budget: quick ? 30 : 90 },
    // native, not JavaScript: the bar for training speed; skipped where no python has torch (CI)
    { id: 'torch', label: 'PyTorch', peer: 'torch', threads: 'T', budget: quick ? 40 : 120, native: true },
  ];
}

/**
 * Runs one peer in a child process; resolves (never rejects) with its measurements by key, a
 * `{ failed }` for every key it did not deliver, and the last lines of its output.
 * @param {any} def
 * @param {{ root: string, quick: boolean, T: number, reference?: any, data?: any, payload?: object }} ctx
 */
export function runPeer(def, { root, quick, T, reference, data, payload }) {
  return new Promise((resolve) => {
    const res = { id: def.id, label: def.label };
    let out = '';
    const child = fork(join(PEERS_DIR, 'child.mjs'), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      cwd: root,
    });
    child.stdout.on('data', (b) => {
      out = (out + b).slice(-4000);
    });
    child.stderr.on('data', (b) => {
      out = (out + b).slice(-4000);
    });
    let finished = false;
    const finish = (why) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const k of KEYS) res[k] ??= { failed: res.setup?.failed ?? why };
      res.log_tail = out.trim().split('\n').slice(-5).join('\n');
      resolve(res);
    };
    const cap = def.budget + 20; // the child paces itself to `budget`; this is the hard stop
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(`timed out (cap ${cap} s)`);
    }, cap * 1000);
    child.on('message', (/** @type {any} */ m) => {
      if (m.done) return finish('not measured');
      res[m.key] = m.value;
    });
    child.on('error', (e) => finish(`could not start: ${reason(e)}`));
    child.on('close', (code, sig) =>
      finish(
        code === 0
          ? 'not measured'
          : `process exited (${sig ?? `code ${code}`}): ${out.trim().split('\n').slice(-1)[0] ?? ''}`,
      ),
    );
    const threads = def.threads === 'T' ? T : def.threads;
    const common = { peer: def.peer, variant: def.variant, quick, threads, budget: def.budget };
    // `payload`: a row with its own model and inputs (the MobileNetV2 row) instead of the seed model's
    if (payload) return void child.send({ ...common, ...payload });
    child.send({
      ...common,
      weights: reference.weights,
      onnx: reference.onnx,
      x8: data.xTest.slice(0, 8 * 784),
      xInfer: data.xTest.slice(0, BATCH * 784),
      xTrain: data.xTrain.slice(0, BATCH * 784),
      yTrain: data.yTrain.slice(0, BATCH * 10),
      inferBatch: BATCH,
      trainBatch: def.trainBatch ?? BATCH,
    });
  });
}

/**
 * Every peer that is not skipped, one after the other, each after a 1-thread probe; logs one line
 * per peer. Returns the results by peer id.
 */
export async function runPeers({ probes, log, elapsed, ...ctx }) {
  const peers = {};
  for (const def of peerList(ctx.quick, ctx.T).filter((d) => !d.skip)) {
    if (def.peer === 'torch') {
      const found = findTorchPython();
      if (found.missing) {
        log(`${def.id}: skipped: ${found.missing}`);
        continue;
      }
    }
    const probe = probes.take(`before ${def.id}`);
    const r = await runPeer(def, /** @type {any} */ (ctx));
    r.probe_before = probe;
    peers[def.id] = r;
    const show = (k, f) => (r[k]?.failed ? `failed: ${r[k].failed}` : r[k]?.na ? 'n/a' : r[k] ? f(r[k]) : '—');
    log(
      `${def.id}${r.info?.threads !== undefined ? ` (${r.info.threads} thr)` : ''}: infer ${show('infer', (v) => `${v.imgPerSec.toFixed(1)} img/s`)}; ` +
        `latency ${show('latency', (v) => `${v.ms.toFixed(2)} ms`)}; train ${show('train', (v) => `${v.imgPerSec.toFixed(2)} img/s`)} (${elapsed()})`,
    );
  }
  return peers;
}

/**
 * Each peer's largest softmax difference from simdnet on the 8 agreement images. `disagrees` is true
 * when at least one reference peer answered and none of them is within AGREE_TOL.
 */
export function agreement(peers, snProbs8) {
  const byPeer = {};
  for (const [id, r] of Object.entries(peers)) {
    const checked = REFERENCE_PEERS.includes(id);
    if (r.agree?.probs) {
      const d = maxAbsDiff(r.agree.probs, snProbs8);
      byPeer[id] = { max_abs_diff: d, ok: d <= AGREE_TOL, checked };
    } else {
      byPeer[id] = { failed: r.agree?.failed ?? 'no predictions', checked };
    }
  }
  const refs = REFERENCE_PEERS.map((id) => byPeer[id]).filter((a) => a && a.max_abs_diff !== undefined);
  return { byPeer, disagrees: refs.length > 0 && refs.every((a) => !a.ok) };
}
