// Every single-thread peak probe of the run, with where it was taken: one before each simdnet phase
// and each peer, so each figure is paired with the machine's speed at that moment and the report can
// show how much that speed moved over the run.
import { measureProbe } from '../peers/probe.mjs';

export class ProbeLog {
  /** @type {{ where: string, gflops: number }[]} */
  checks = [];

  constructor(quick) {
    this.minTime = quick ? 0.05 : 0.1;
  }

  /** Measures the 1-thread probe now; GFLOP/s. */
  take(where) {
    const p = measureProbe({ minTime: this.minTime, reps: 3 });
    this.checks.push({ where, gflops: p.gflops });
    return p.gflops;
  }
}
