// The relaxed-SIMD column: bench/peers/relaxed.mjs in a child process with the V8 flag Node 20 needs.
// Never throws: { failed } or { na } when it cannot run.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxAbsDiff, reason } from '../peers/timing.mjs';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'peers', 'relaxed.mjs');

export function measureRelaxed({ root, quick, probs8, log, elapsed }) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', SCRIPT, root, quick ? '1' : '0'],
      { timeout: quick ? 120_000 : 300_000, maxBuffer: 1 << 24 },
      (err, stdout) => {
        if (err) {
          log(`simdnet relaxed: failed: ${reason(err)}`);
          return resolve({ failed: reason(err) });
        }
        try {
          const r = JSON.parse(stdout.trim().split('\n').at(-1));
          if (!r.relaxed) {
            log(`simdnet relaxed: not available (${r.notices.join('; ') || 'fell back'})`);
            return resolve({ na: r.notices.join('; ') || 'fell back' });
          }
          r.max_abs_diff_vs_direct = maxAbsDiff(Float32Array.from(r.probs8), probs8);
          delete r.probs8;
          log(
            `simdnet relaxed ${r.threads}T: train ${r.train.imgPerSec.toFixed(1)} img/s, infer ` +
              `${r.infer.imgPerSec.toFixed(0)} img/s, latency ${r.latency.ms.toFixed(2)} ms; softmax within ` +
              `${r.max_abs_diff_vs_direct.toExponential(1)} of the default build (${elapsed()})`,
          );
          resolve(r);
        } catch (e) {
          resolve({ failed: `unreadable output: ${reason(e)}` });
        }
      },
    );
  });
}
