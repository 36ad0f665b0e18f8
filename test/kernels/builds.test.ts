// Which build runs, and agreement between builds: every kernel gives the same bits on this build as
// on the other one (scalar for simd and threads, simd for scalar) instantiated by hand over its own
// memory, and on the threads build the sharded tasks give the same bits on 1 and 2 threads.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { conv2dForward } from '../ref/conv2d.js';
import {
  accTol,
  build,
  close,
  distinct,
  firstBitDiff,
  geomPtr,
  otherRuns,
  requireOther,
  type K,
  otherAlloc,
  otherBuild,
  otherGeom,
  otherRead,
  prod,
  rand,
  rawRun,
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

  if (build !== 'threads') {
    it("ready({ build: 'threads' }) is a valid Build: refused only because another build runs", async () => {
      // Build is 'simd' | 'scalar' | 'threads' (src/wasm/bindings.ts), so the argument check must accept it.
      await expect(sn.ready({ build: 'threads' })).rejects.toThrow(/already running; cannot switch to 'threads'/);
    });
  }
});

// Raw forward and backward of the smooth activations and leaky relu (the backward reads y = the
// output, or x = the input).
const ACT_KERNELS: {
  name: string;
  rawF: (k: K, out: number, inp: number, n: number) => void;
  rawB: (k: K, dinp: number, dout: number, x: number, y: number, n: number) => void;
}[] = [
  {
    name: 'sigmoid',
    rawF: (k, o, i, n) => k.sigmoid_forward(o, i, n),
    rawB: (k, d, dy, _x, y, n) => k.sigmoid_backward(d, dy, y, n),
  },
  {
    name: 'tanh',
    rawF: (k, o, i, n) => k.tanh_forward(o, i, n),
    rawB: (k, d, dy, _x, y, n) => k.tanh_backward(d, dy, y, n),
  },
  {
    name: 'elu',
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 1),
    rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 1),
  },
  {
    name: 'elu alpha=0.7',
    rawF: (k, o, i, n) => k.elu_forward(o, i, n, 0.7),
    rawB: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, 0.7),
  },
  {
    name: 'leakyRelu',
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.3),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.3),
  },
  {
    name: 'leakyRelu alpha=0.01',
    rawF: (k, o, i, n) => k.leaky_relu_forward(o, i, n, 0.01),
    rawB: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, 0.01),
  },
  {
    name: 'gelu',
    rawF: (k, o, i, n) => k.gelu_forward(o, i, n),
    rawB: (k, d, dy, x, _y, n) => k.gelu_backward(d, dy, x, n),
  },
];

describe(`${build} vs ${otherBuild} build: identical bits`, () => {
  const cases = [
    { N: 2, H: 7, W: 9, C: 3, K: 5, KH: 3, KW: 2, SH: 2, SW: 1, PT: 1, PL: 1, PB: 1, PR: 0, relu: 0 },
    { N: 1, H: 11, W: 5, C: 17, K: 33, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, PB: 1, PR: 1, relu: 1 },
    { N: 3, H: 6, W: 6, C: 8, K: 7, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, PB: 0, PR: 0, relu: 0 },
    { N: 1, H: 9, W: 7, C: 32, K: 9, KH: 5, KW: 5, SH: 2, SW: 2, PT: 2, PL: 2, PB: 2, PR: 2, relu: 0 },
  ];
  for (const c of cases) {
    const label = `conv2d fwd/bwd x=[${c.N},${c.H},${c.W},${c.C}] f=[${c.KH},${c.KW},${c.C},${c.K}] s=[${c.SH},${c.SW}]${c.relu ? ' relu' : ''}`;
    // Skipped where this engine cannot validate the other build (no SIMD).
    it.skipIf(!otherRuns)(label, async () => {
      const o = await requireOther();
      const k = sn.getEngine().k;
      const { N, H, W, C, K: Ko, KH, KW, SH, SW, PT, PL, PB, PR, relu } = c;
      const OH = Math.floor((H + PT + PB - KH) / SH) + 1,
        OW = Math.floor((W + PL + PR - KW) / SW) + 1;
      const KK = KH * KW * C,
        M = OH * OW,
        MB = Math.min(M, 12);
      const rng = makeRng(seedOf(label));
      const x = rand(rng, N * H * W * C),
        w = rand(rng, KK * Ko),
        b = rand(rng, Ko),
        dout = rand(rng, N * M * Ko);
      const nOut = N * M * Ko;
      const geo = { H, W, C, K: Ko, KH, KW, SH, SW, PT, PL, OH, OW };
      const gp = geomPtr(geo),
        ogp = otherGeom(o, geo);
      // Ours.
      const [out, dx, dw, db] = (() => {
        const [y] = rawRun(
          `${label} fwd`,
          [x, w, b],
          [nOut, k.pack_b_size(KK, Ko), MB * KK],
          ([px, pw, pb], [po, pwp, pc]) => k.conv2d_forward(po!, px!, pw!, pb!, pwp!, pc!, gp, N, MB, relu),
        );
        const [gx] = rawRun(
          `${label} dx`,
          [dout, w],
          [x.length, k.pack_b_size(Ko, KK), MB * KK],
          ([pd, pw], [pdx, pwp, pc]) => k.conv2d_backward_input(pdx!, pd!, pw!, pwp!, pc!, gp, N, MB),
        );
        const [gw, gb] = rawRun(
          `${label} dw`,
          [dout, x],
          [w.length, Ko, MB * KK, k.pack_b_size(MB, Ko)],
          ([pd, px], [pdw, pdb, pc, pdp]) => k.conv2d_backward_weight(pdw!, pdb!, pd!, px!, pc!, pdp!, gp, N, MB),
        );
        return [y!, gx!, gw!, gb!];
      })();
      // Theirs, on copies of the same inputs.
      const ox = otherAlloc(o, x.length, x),
        ow = otherAlloc(o, w.length, w),
        ob = otherAlloc(o, Ko, b),
        od = otherAlloc(o, dout.length, dout);
      const oout = otherAlloc(o, nOut),
        owp = otherAlloc(o, o.k.pack_b_size(Math.max(KK, Ko), Math.max(KK, Ko, MB))),
        ocols = otherAlloc(o, MB * KK);
      const odx = otherAlloc(o, x.length),
        odw = otherAlloc(o, w.length),
        odb = otherAlloc(o, Ko);
      o.k.conv2d_forward(oout, ox, ow, ob, owp, ocols, ogp, N, MB, relu);
      o.k.conv2d_backward_input(odx, od, ow, owp, ocols, ogp, N, MB);
      o.k.conv2d_backward_weight(odw, odb, od, ox, ocols, owp, ogp, N, MB);
      sn.getArena().release(gp);
      // Sanity: both agree with the reference before comparing bits.
      const pad = { top: PT, bottom: PB, left: PL, right: PR };
      close(
        out,
        conv2dForward(x, w, b, N, H, W, C, Ko, KH, KW, SH, SW, pad, relu === 1).out,
        accTol(KK + 1),
        `${label} fwd vs ref`,
      );
      expect(firstBitDiff(out, otherRead(o, oout, nOut)), `${label}: forward`).toBe('identical');
      expect(firstBitDiff(dx, otherRead(o, odx, x.length)), `${label}: dx`).toBe('identical');
      expect(firstBitDiff(dw, otherRead(o, odw, w.length)), `${label}: dw`).toBe('identical');
      expect(firstBitDiff(db, otherRead(o, odb, Ko)), `${label}: db`).toBe('identical');
    });
  }

  // Skipped where this engine cannot validate the other build (no SIMD).
  it.skipIf(!otherRuns)('dense, pooling, softmax, relu, optimizers: identical bits', async () => {
    const o = await requireOther();
    const k = sn.getEngine().k;
    const rng = makeRng(77);
    const [N, IN, OUT] = [5, 17, 9];
    const x = rand(rng, N * IN),
      w = rand(rng, IN * OUT),
      b = rand(rng, OUT);
    const [y] = rawRun('dense', [x, w, b], [N * OUT, k.pack_b_size(IN, OUT)], ([px, pw, pb], [po, pwp]) =>
      k.dense_forward(po!, px!, pw!, pb!, pwp!, N, IN, OUT, 1),
    );
    const oy = otherAlloc(o, N * OUT);
    o.k.dense_forward(
      oy,
      otherAlloc(o, x.length, x),
      otherAlloc(o, w.length, w),
      otherAlloc(o, OUT, b),
      otherAlloc(o, o.k.pack_b_size(IN, OUT)),
      N,
      IN,
      OUT,
      1,
    );
    expect(firstBitDiff(y!, otherRead(o, oy, N * OUT)), 'dense relu').toBe('identical');
    const img = rand(rng, 2 * 7 * 9 * 5);
    const pg = { H: 7, W: 9, C: 5, K: 5, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, OH: 4, OW: 5 };
    const gp = geomPtr(pg),
      ogp = otherGeom(o, pg);
    const [mp] = rawRun('maxpool', [img], [2 * 4 * 5 * 5, 2 * 4 * 5 * 5], ([pi], [po, pa]) =>
      k.maxpool2d_forward(po!, pa!, pi!, gp, 2),
    );
    const [ap] = rawRun('avgpool', [img], [2 * 4 * 5 * 5], ([pi], [po]) => k.avgpool2d_forward(po!, pi!, gp, 2));
    const oi = otherAlloc(o, img.length, img),
      omp = otherAlloc(o, 200),
      oam = otherAlloc(o, 200),
      oap = otherAlloc(o, 200);
    o.k.maxpool2d_forward(omp, oam, oi, ogp, 2);
    o.k.avgpool2d_forward(oap, oi, ogp, 2);
    sn.getArena().release(gp);
    expect(firstBitDiff(mp!, otherRead(o, omp, 200)), 'maxpool').toBe('identical');
    expect(firstBitDiff(ap!, otherRead(o, oap, 200)), 'avgpool').toBe('identical');
    const lg = rand(rng, 6 * 11, -5, 5);
    const [sm] = rawRun('softmax', [lg], [66], ([pl], [po]) => k.softmax_forward(po!, pl!, 6, 11));
    const [rl] = rawRun('relu', [lg], [66], ([pl], [po]) => k.relu_forward(po!, pl!, 66));
    const ol = otherAlloc(o, 66, lg),
      osm = otherAlloc(o, 66),
      orl = otherAlloc(o, 66);
    o.k.softmax_forward(osm, ol, 6, 11);
    o.k.relu_forward(orl, ol, 66);
    expect(firstBitDiff(sm!, otherRead(o, osm, 66)), 'softmax').toBe('identical');
    expect(firstBitDiff(rl!, otherRead(o, orl, 66)), 'relu').toBe('identical');
    const g = rand(rng, 66),
      p0 = rand(rng, 66);
    const [pa, ma, va] = rawRun('adam', [g], [p0, 66, 66], ([pg], [pp, pm, pv]) => {
      for (let t = 1; t <= 3; t++) k.adam_step(pp!, pg!, pm!, pv!, 66, 0.001, 0.9, 0.999, 1e-7, t);
    });
    const op = otherAlloc(o, 66, p0),
      om = otherAlloc(o, 66),
      ov = otherAlloc(o, 66),
      og = otherAlloc(o, 66, g);
    for (let t = 1; t <= 3; t++) o.k.adam_step(op, og, om, ov, 66, 0.001, 0.9, 0.999, 1e-7, t);
    expect(firstBitDiff(pa!, otherRead(o, op, 66)), 'adam p').toBe('identical');
    expect(firstBitDiff(ma!, otherRead(o, om, 66)), 'adam m').toBe('identical');
    expect(firstBitDiff(va!, otherRead(o, ov, 66)), 'adam v').toBe('identical');
  });

  // Skipped where this engine cannot validate the other build (no SIMD).
  it.skipIf(!otherRuns)('batchnorm, activations, global pools, rmsprop: identical bits', async () => {
    const o = await requireOther();
    const k = sn.getEngine().k;
    const rng = makeRng(99);
    const [R, C] = [23, 13];
    const x = rand(rng, R * C, -2, 3),
      gamma = rand(rng, C),
      beta = rand(rng, C),
      dout = rand(rng, R * C);
    const ours = rawRun(
      'bn all',
      [x, gamma, beta, dout],
      [C, C, C, R * C, R * C, C, C, 4 * C, 2 * C, 2 * C],
      ([px, pg, pb, pd], [pm, pv, pi, po, pdx, pdg, pdb, pp, pms]) => {
        k.batchnorm_stats_sum(pp!, px!, R, C);
        k.batchnorm_stats_reduce(pm!, pp!, 1, C, R);
        k.batchnorm_stats_sqdev(pp!, px!, pm!, R, C);
        k.batchnorm_stats_reduce(pv!, pp!, 1, C, R);
        k.batchnorm_invstd(pi!, pv!, C, 1e-3);
        k.batchnorm_forward(po!, px!, pm!, pi!, pg!, pb!, R, C);
        k.batchnorm_backward_sums(pp!, pd!, px!, pm!, pi!, R, C);
        k.batchnorm_backward_reduce(pdg!, pdb!, pms!, pp!, 1, C, R);
        k.batchnorm_backward_input(pdx!, pd!, px!, pm!, pi!, pg!, pms!, R, C);
      },
    );
    const [ox, og, ob, od] = [x, gamma, beta, dout].map((a) => otherAlloc(o, a.length, a));
    const [om, ov, oi, oo, odx, odg, odb, op, oms] = [C, C, C, R * C, R * C, C, C, 4 * C, 2 * C].map((n) =>
      otherAlloc(o, n),
    );
    o.k.batchnorm_stats_sum(op!, ox!, R, C);
    o.k.batchnorm_stats_reduce(om!, op!, 1, C, R);
    o.k.batchnorm_stats_sqdev(op!, ox!, om!, R, C);
    o.k.batchnorm_stats_reduce(ov!, op!, 1, C, R);
    o.k.batchnorm_invstd(oi!, ov!, C, 1e-3);
    o.k.batchnorm_forward(oo!, ox!, om!, oi!, og!, ob!, R, C);
    o.k.batchnorm_backward_sums(op!, od!, ox!, om!, oi!, R, C);
    o.k.batchnorm_backward_reduce(odg!, odb!, oms!, op!, 1, C, R);
    o.k.batchnorm_backward_input(odx!, od!, ox!, om!, oi!, og!, oms!, R, C);
    const theirs = [om, ov, oi, oo, odx, odg, odb].map((p, i) => otherRead(o, p!, ours[i]!.length));
    ['mean', 'variance', 'invstd', 'out', 'dx', 'dgamma', 'dbeta'].forEach((n, i) =>
      expect(firstBitDiff(ours[i]!, theirs[i]!), `bn ${n}`).toBe('identical'),
    );
    // Activations (forward and backward) and the global pools.
    const n = 41;
    const xa = Float32Array.from(distinct(rng, n), (v) => v * 4);
    for (const a of ACT_KERNELS) {
      const [y, dx] = rawRun(a.name, [xa, dout.subarray(0, n)], [n, n], ([px, pd], [py, pdx]) => {
        a.rawF(k, py!, px!, n);
        a.rawB(k, pdx!, pd!, px!, py!, n);
      });
      const oxa = otherAlloc(o, n, xa),
        oda = otherAlloc(o, n, dout.subarray(0, n)),
        oy = otherAlloc(o, n),
        odxa = otherAlloc(o, n);
      a.rawF(o.k, oy, oxa, n);
      a.rawB(o.k, odxa, oda, oxa, oy, n);
      expect(firstBitDiff(y!, otherRead(o, oy, n)), `${a.name} forward`).toBe('identical');
      expect(firstBitDiff(dx!, otherRead(o, odxa, n)), `${a.name} backward`).toBe('identical');
    }
    const [N, HW, Cg] = [3, 10, 7];
    const xg = rand(rng, N * HW * Cg),
      dg = rand(rng, N * Cg);
    const [gap, gmp, dgap] = rawRun(
      'gpools',
      [xg, dg],
      [N * Cg, N * Cg, N * HW * Cg, N * Cg],
      ([px, pd], [pa, pm, pdx, pam]) => {
        k.global_avgpool2d_forward(pa!, px!, N, HW, Cg);
        k.global_maxpool2d_forward(pm!, pam!, px!, N, HW, Cg);
        k.global_avgpool2d_backward(pdx!, pd!, N, HW, Cg);
      },
    );
    const oxg = otherAlloc(o, xg.length, xg),
      odg2 = otherAlloc(o, dg.length, dg),
      oa = otherAlloc(o, N * Cg),
      omx = otherAlloc(o, N * Cg),
      oam = otherAlloc(o, N * Cg),
      odx2 = otherAlloc(o, xg.length);
    o.k.global_avgpool2d_forward(oa, oxg, N, HW, Cg);
    o.k.global_maxpool2d_forward(omx, oam, oxg, N, HW, Cg);
    o.k.global_avgpool2d_backward(odx2, odg2, N, HW, Cg);
    expect(firstBitDiff(gap!, otherRead(o, oa, N * Cg)), 'global avg').toBe('identical');
    expect(firstBitDiff(gmp!, otherRead(o, omx, N * Cg)), 'global max').toBe('identical');
    expect(firstBitDiff(dgap!, otherRead(o, odx2, xg.length)), 'global avg backward').toBe('identical');
    const g = rand(rng, 30),
      p0 = rand(rng, 30);
    const [pr] = rawRun('rmsprop', [g], [p0, 30, 30, 30], ([pg], [pp, pv, pm, pa]) => {
      for (let t = 0; t < 3; t++) k.rmsprop_step(pp!, pg!, pv!, pm!, pa!, 30, 0.01, 0.9, 0.5, 1e-7, 1);
    });
    const opp = otherAlloc(o, 30, p0),
      og2 = otherAlloc(o, 30, g),
      ov2 = otherAlloc(o, 30),
      om2 = otherAlloc(o, 30),
      oa2 = otherAlloc(o, 30);
    for (let t = 0; t < 3; t++) o.k.rmsprop_step(opp, og2, ov2, om2, oa2, 30, 0.01, 0.9, 0.5, 1e-7, 1);
    expect(firstBitDiff(pr!, otherRead(o, opp, 30)), 'rmsprop').toBe('identical');
  });
});

if (build === 'threads') {
  describe('threads build: same bits on 1 and 2 threads', () => {
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
}
