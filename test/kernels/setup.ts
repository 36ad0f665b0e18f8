// Runs before every file of a kernels-<build> vitest project: starts the build the project names
// (SIMDNET_BUILD) — the threads build with 2 worker threads, so the sharded tasks really run in
// parallel on the 2-core machines this is tested on — and stops the workers after the file.
// A test file may call sn.ready() again with the same build: that returns the running engine.
import { afterAll, beforeAll } from 'vitest';
import * as sn from '../../src/index.js';
import { build, tolStats } from './harness.js';

beforeAll(async () => {
  await sn.ready(build === 'threads' ? { build, threads: 2 } : { build });
});

afterAll(async () => {
  if (build === 'threads') await sn.shutdown();
  if (process.env.SIMDNET_TOL_STATS === '1' && tolStats.size > 0) {
    const rows = [...tolStats.entries()].sort((a, b) => b[1] - a[1]);
    const lines = rows.map(([k, v]) => `  ${k.padEnd(12)} ${v.toFixed(3)}`);
    console.log(`[${build}] worst error / (u*n):\n${lines.join('\n')}`);
  }
});
