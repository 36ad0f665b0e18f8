// Peak RSS sampler: a worker thread reads the process' RSS every 5 ms, so the peak inside a
// synchronous training step (main thread busy) is seen too.
import { Worker } from 'node:worker_threads';

const SAMPLER_SRC = `
const { parentPort } = require('node:worker_threads');
let max = 0;
const tick = () => { const r = process.memoryUsage.rss(); if (r > max) max = r; };
setInterval(tick, 5);
parentPort.on('message', (m) => { tick(); parentPort.postMessage(max); if (m === 'reset') max = 0; });
`;

export class RssSampler {
  #worker = new Worker(SAMPLER_SRC, { eval: true });

  constructor() {
    this.#worker.unref();
  }

  #ask(m) {
    return new Promise((resolve) => {
      this.#worker.once('message', resolve);
      this.#worker.postMessage(m);
    });
  }

  /** Starts a new peak from now. */
  reset() {
    return this.#ask('reset');
  }

  /** Highest RSS in bytes seen since the last reset. */
  peak() {
    return this.#ask('get');
  }

  stop() {
    return this.#worker.terminate();
  }
}
