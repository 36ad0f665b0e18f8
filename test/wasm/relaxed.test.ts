// ready({ relaxed: true }): the opt-in relaxed-SIMD build (fused multiply-add in the GEMM microkernel).
// In this process (Node 20 without --experimental-wasm-relaxed-simd) it does not validate, so the
// usual 'threads' build must run with a one-time notice; where it does validate, it must run. A child
// process started with the flag (on the built package, dist/) runs it for real: its dense layer must be
// within the float64 dot-product bound, and the same bits at 1 and 2 threads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as sn from '../../src/index.js';
import { relaxedBase64 } from '../../src/wasm/kernels.relaxed.bytes.js';
import { makeRng } from '../helpers/check.js';

const root = join(import.meta.dirname, '../..');
const built = existsSync(join(root, 'dist/index.js')) && existsSync(join(root, 'dist/wasm/kernels.relaxed.bytes.js'));
const bytes = relaxedBase64 ? Uint8Array.from(atob(relaxedBase64), (c) => c.charCodeAt(0)) : null;
const validates = bytes !== null && WebAssembly.validate(bytes);

afterAll(async () => {
  await sn.shutdown();
});

describe('relaxed SIMD build', () => {
  it('bad values of relaxed are refused before anything starts', async () => {
    await expect(sn.ready({ relaxed: 'yes' as never })).rejects.toThrow(
      /ready\(\): relaxed must be true or false, got/,
    );
  });

  it('runs where the engine validates it, else falls back to the threads build with one notice', async () => {
    expect(bytes, 'scripts/build-wasm.mjs made the relaxed build').not.toBeNull();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const e = await sn.ready({ relaxed: true, threads: 2 });
      expect(e.build).toBe('threads');
      expect(e.relaxed).toBe(validates);
      const notices = warn.mock.calls.map((c) => String(c[0])).filter((s) => s.includes('relaxed SIMD'));
      if (validates) expect(notices).toEqual([]);
      else {
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatch(/does not validate it \(Node 20: run node with --experimental-wasm-relaxed-simd\)/);
      }
      // the engine keeps working either way
      const y = sn.dense(sn.tensor([1, 2], [1, 2]), sn.tensor([3, 4], [2, 1]));
      expect(Array.from(y.dataSync())).toEqual([11]);
      y.dispose();
      // the choice is made once
      await expect(sn.ready({ relaxed: false })).rejects.toThrow(/already running with relaxed SIMD/);
      await expect(sn.ready({ relaxed: true })).resolves.toBe(e);
    } finally {
      warn.mockRestore();
    }
  });

  it.skipIf(!built)(
    'with --experimental-wasm-relaxed-simd: within the float64 bound, same bits at 1 and 2 threads',
    () => {
      const M = 37,
        K = 300,
        N = 45;
      const rng = makeRng(5);
      const a = Float32Array.from(rng.fill(M * K, -1, 1)),
        b = Float32Array.from(rng.fill(K * N, -1, 1));
      const script = `
      const sn = await import(${JSON.stringify(join(root, 'dist/index.js'))});
      let text = '';
      for await (const c of process.stdin) text += c;
      const input = JSON.parse(text);
      const a = new Float32Array(input.a), b = new Float32Array(input.b);
      const e = await sn.ready({ relaxed: true, threads: 1 });
      const run = () => { const y = sn.dense(sn.tensor(a, [${M}, ${K}]), sn.tensor(b, [${K}, ${N}])); const d = Array.from(y.dataSync()); y.dispose(); return d; };
      const one = run();
      await sn.setThreads(2);
      const two = run();
      await sn.shutdown();
      // the same exports as the threads build
      const { relaxedBase64 } = await import(${JSON.stringify(join(root, 'dist/wasm/kernels.relaxed.bytes.js'))});
      const { wasmBytes } = await import(${JSON.stringify(join(root, 'dist/wasm/bindings.js'))});
      const exps = (bytes) => WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((x) => x.name + ':' + x.kind);
      const relaxedExports = exps(Uint8Array.from(atob(relaxedBase64), (c) => c.charCodeAt(0)));
      const threadsExports = exps(wasmBytes('threads'));
      console.log(JSON.stringify({ relaxed: e.relaxed, build: e.build, one, two, relaxedExports, threadsExports }));
    `;
      // a file, not -e: workers inherit --input-type=module, which would make their eval'd source ESM
      const dir = mkdtempSync(join(tmpdir(), 'simdnet-relaxed-'));
      const file = join(dir, 'run.mjs');
      writeFileSync(file, script);
      const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', file], {
        encoding: 'utf8',
        timeout: 60_000,
        input: JSON.stringify({ a: Array.from(a), b: Array.from(b) }),
      });
      rmSync(dir, { recursive: true, force: true });
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
        relaxed: boolean;
        build: string;
        one: number[];
        two: number[];
        relaxedExports: string[];
        threadsExports: string[];
      };
      expect(r.relaxedExports.length).toBeGreaterThan(10);
      expect(r.relaxedExports).toEqual(r.threadsExports);
      expect(r.build).toBe('threads');
      expect(r.relaxed).toBe(true);
      expect(r.two).toEqual(r.one);
      // |fl(a·b) − a·b| <= K·u·Σ|a||b| for any order and either rounding (fused or not)
      const U = 2 ** -24;
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let exact = 0,
            mag = 0;
          for (let k = 0; k < K; k++) {
            exact += a[i * K + k]! * b[k * N + j]!;
            mag += Math.abs(a[i * K + k]! * b[k * N + j]!);
          }
          expect(Math.abs(r.one[i * N + j]! - exact)).toBeLessThanOrEqual(K * U * mag);
        }
    },
  );
});
