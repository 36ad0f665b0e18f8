// Which build runs, and agreement between builds: every kernel family gives the same bits on this build
// as on the other one (scalar for simd and threads, simd for scalar) instantiated by hand over its own
// memory (the table of agreement.ts), and on the threads build the sharded tasks give the same bits on
// 1 and 2 threads.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { conv2dForward } from '../ref/conv2d.js';
import { AGREEMENT_CASES, type Outputs, otherMem, ourMem, recording } from './agreement.js';
import {
  accTol,
  build,
  close,
  firstBitDiff,
  otherBuild,
  otherRuns,
  prod,
  rand,
  requireOther,
  seedOf,
} from './harness.js';

describe('engine', () => {
  it(`engine runs the requested build (${build})`, () => {
    expect(sn.getEngine().build).toBe(build);
  });

  it(`ready({ build: '${build}' }) again returns the running engine`, async () => {
    const e = sn.getEngine();
    expect(await sn.ready({ build })).toBe(e);
    expect(sn.getEngine().build).toBe(build);
  });

  it(`ready({ build: '${otherBuild}' }) is refused once '${build}' runs`, async () => {
    await expect(sn.ready({ build: otherBuild })).rejects.toThrow(
      /the '\w+' build is already running; cannot switch to '\w+'/,
    );
    expect(sn.getEngine().build).toBe(build);
  });

  // On the threads build this call succeeds (it asks for the running build).
  it.runIf(build !== 'threads')(
    "ready({ build: 'threads' }) is a valid Build: refused only because another build runs",
    async () => {
      // Build is 'simd' | 'scalar' | 'threads' (src/wasm/bindings.ts), so the argument check must accept it.
      await expect(sn.ready({ build: 'threads' })).rejects.toThrow(/already running; cannot switch to 'threads'/);
    },
  );
});

// Every kernel family, this build vs the other one instantiated by hand over its own memory: the cases
// of agreement.ts run on both and every output must have the same bits. Each case first runs here with
// its kernel calls recorded, so a case that stops calling a kernel it lists fails too.
describe(`${build} vs ${otherBuild} build: identical bits, every kernel family`, () => {
  for (const c of AGREEMENT_CASES) {
    // Skipped where this engine cannot validate the other build (no SIMD).
    it.skipIf(!otherRuns)(`${c.family}: ${c.name}`, async () => {
      const o = await requireOther();
      const called = new Set<string>();
      const ours = ourMem(recording(sn.getEngine().k, called));
      let mine: Outputs;
      try {
        mine = c.run(ours);
      } finally {
        ours.done();
      }
      expect([...called].sort(), `${c.name}: kernels called`).toEqual([...c.kernels].sort());
      const theirs = c.run(otherMem(o));
      expect(Object.keys(theirs), `${c.name}: outputs`).toEqual(Object.keys(mine));
      for (const [what, a] of Object.entries(mine)) {
        const b = theirs[what]!;
        if (typeof a === 'number') {
          expect(Number.isFinite(a), `${what}: finite`).toBe(true);
          expect(Object.is(a, b), `${what}: ${a} (${build}) vs ${b} (${otherBuild})`).toBe(true);
          continue;
        }
        // A case must compute something: every output finite and not all zero.
        expect(a.every(Number.isFinite), `${what}: finite`).toBe(true);
        expect(
          a.some((v) => v !== 0),
          `${what}: not all zero`,
        ).toBe(true);
        expect(firstBitDiff(a, b as Float32Array), what).toBe('identical');
      }
      c.check?.(mine);
    });
  }

  // The families are the basenames under assembly/kernels/ that assembly/index.ts re-exports; the module's
  // exports are the names the engine really has (heap_base and geometry2d_bytes are not kernels).
  it('the table has a case for every kernel family the module exports', () => {
    const index = readFileSync(new URL('../../assembly/index.ts', import.meta.url), 'utf8');
    const familyOf = new Map<string, string>();
    for (const [, names, family] of index.matchAll(/export\s*\{([^}]*)\}\s*from\s*"\.\/kernels\/([\w-]+)"/g))
      for (const n of names!.split(',')) if (n.trim()) familyOf.set(n.trim(), family!);
    const exported = WebAssembly.Module.exports(new WebAssembly.Module(adv.wasmBytes(build)))
      .filter((e) => e.kind === 'function' && e.name !== 'heap_base' && e.name !== 'geometry2d_bytes')
      .map((e) => e.name);
    expect(exported.length, 'kernels exported').toBeGreaterThan(50);
    expect(
      exported.filter((n) => !familyOf.has(n)),
      'exports not re-exported from assembly/kernels/ in assembly/index.ts',
    ).toEqual([]);
    const families = new Set(exported.map((n) => familyOf.get(n)!));
    const covered = new Set(AGREEMENT_CASES.map((c) => c.family));
    expect([...families].filter((f) => !covered.has(f)).sort(), 'kernel families with no case in agreement.ts').toEqual(
      [],
    );
    expect([...covered].filter((f) => !families.has(f)).sort(), 'cases of families the module does not export').toEqual(
      [],
    );
    // Each case names kernels of the module, at least one of them from its own family.
    for (const c of AGREEMENT_CASES) {
      expect(
        c.kernels.filter((n) => !familyOf.has(n)),
        `${c.name}: kernels the module does not export`,
      ).toEqual([]);
      expect(
        c.kernels.some((n) => familyOf.get(n) === c.family),
        `${c.name}: calls a ${c.family} kernel`,
      ).toBe(true);
    }
  });
});

// Only the threads build has a thread count to vary.
describe.runIf(build === 'threads')('threads build: same bits on 1 and 2 threads', () => {
  it('batchNorm x=[13,5,6,12] training: forward, moving statistics and every gradient', async () => {
    const shape = [13, 5, 6, 12];
    const rng = makeRng(123);
    const data = rand(rng, prod(shape), -1, 3),
      gdata = rand(rng, 12, 0.5, 1.5),
      bdata = rand(rng, 12),
      rdata = rand(rng, prod(shape));
    const run = () => {
      const x = sn.tensor(data, shape),
        g = sn.tensor(gdata, [12]),
        b = sn.tensor(bdata, [12]),
        r = sn.tensor(rdata, shape);
      const mm = sn.zeros([12]),
        mv = sn.tensor(new Float32Array(12).fill(1), [12]);
      const { value, grads } = sn.valueAndGrads((xx, gg, bb) =>
        sn.sum(
          sn.mul(sn.batchNorm(xx!, { gamma: gg!, beta: bb!, movingMean: mm, movingVariance: mv, training: true }), r),
        ),
      )([x, g, b]);
      const y = sn.batchNorm(x, { gamma: g, beta: b, movingMean: mm, movingVariance: mv, training: true });
      const out = [y, mm, mv, ...grads].map((t) => t.dataSync() as Float32Array);
      for (const t of [x, g, b, r, mm, mv, value, y, ...grads]) t.dispose();
      return out;
    };
    await sn.setThreads(1);
    const one = run();
    await sn.setThreads(2);
    expect(sn.getThreads()).toBe(2);
    const two = run();
    ['forward', 'moving mean', 'moving variance', 'dx', 'dgamma', 'dbeta'].forEach((n, i) =>
      expect(firstBitDiff(one[i]!, two[i]!), n).toBe('identical'),
    );
  });

  // The ops cut batches into fixed shards, so the thread count must not change a single bit.
  const name = 'conv2d x=[5,9,7,6] f=[3,3,6,10] p=same bias relu, dense x=[7,40] w=[40,9] bias: forward, every grad';
  it(name, async () => {
    const rng = makeRng(seedOf('threads conv dense'));
    const xd = rand(rng, 5 * 9 * 7 * 6),
      wd = rand(rng, 9 * 6 * 10),
      bd = rand(rng, 10),
      rd = rand(rng, 5 * 9 * 7 * 10);
    const dx = rand(rng, 7 * 40),
      dw = rand(rng, 40 * 9),
      db = rand(rng, 9),
      dr = rand(rng, 7 * 9);
    const run = () => {
      const x = sn.tensor(xd, [5, 9, 7, 6]),
        w = sn.tensor(wd, [3, 3, 6, 10]),
        b = sn.tensor(bd, [10]);
      const r = sn.tensor(rd, [5, 9, 7, 10]);
      const c = sn.valueAndGrads((xx, ww, bb) =>
        sn.sum(sn.mul(sn.conv2d(xx!, ww!, { padding: 'same', bias: bb!, activation: 'relu' }), r)),
      )([x, w, b]);
      const y = sn.conv2d(x, w, { padding: 'same', bias: b, activation: 'relu' });
      const dX = sn.tensor(dx, [7, 40]),
        dW = sn.tensor(dw, [40, 9]),
        dB = sn.tensor(db, [9]),
        dR = sn.tensor(dr, [7, 9]);
      const d = sn.valueAndGrads((xx, ww, bb) => sn.sum(sn.mul(sn.dense(xx!, ww!, { bias: bb! }), dR)))([dX, dW, dB]);
      const z = sn.dense(dX, dW, { bias: dB });
      const out = [y, ...c.grads, z, ...d.grads].map((t) => t.dataSync() as Float32Array);
      // A sanity check that the run computed something: the conv forward against the f64 reference.
      const pad = { top: 1, bottom: 1, left: 1, right: 1 };
      close(
        out[0]!,
        conv2dForward(xd, wd, bd, 5, 9, 7, 6, 10, 3, 3, 1, 1, pad, true).out,
        accTol(3 * 3 * 6 + 1),
        'conv2d fwd vs ref',
      );
      for (const t of [x, w, b, r, c.value, y, ...c.grads, dX, dW, dB, dR, d.value, z, ...d.grads]) t.dispose();
      return out;
    };
    await sn.setThreads(1);
    const one = run();
    await sn.setThreads(2);
    expect(sn.getThreads()).toBe(2);
    const two = run();
    [
      'conv2d forward',
      'conv2d dx',
      'conv2d dw',
      'conv2d db',
      'dense forward',
      'dense dx',
      'dense dw',
      'dense db',
    ].forEach((n, i) => expect(firstBitDiff(one[i]!, two[i]!), n).toBe('identical'));
  });
});
