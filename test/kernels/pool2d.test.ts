// The pooling kernels (assembly/kernels/pool2d.ts: max and average pooling over windows, global
// average and max pooling) raw and through the ops, against the float64 references of
// test/ref/pool2d.ts and test/ref/globalpool.ts.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { distinctValues, makeRng, type Rng } from '../helpers/check.js';
import {
  globalAvgPoolBackward,
  globalAvgPoolForward,
  globalMaxPoolBackward,
  globalMaxPoolForward,
} from '../ref/globalpool.js';
import { type PaddingSpec, resolvePadding } from '../ref/geom.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../ref/pool2d.js';
import {
  accTol,
  checkOp,
  close,
  distinct,
  EXACT,
  fdAffordable,
  geomPtr,
  padStr,
  prod,
  rand,
  rawRun,
  seedOf,
  stridesStr,
  U,
} from './harness.js';

interface PoolCase {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  padding: PaddingSpec;
  defaultStrides: boolean;
}

function poolCases(): PoolCase[] {
  const pools: [number, number][] = [
    [2, 2],
    [3, 3],
    [1, 1],
    [3, 2],
    [2, 3],
    [1, 5],
    [5, 5],
  ];
  const strides: ([number, number] | null)[] = [null, [1, 1], [2, 2], [3, 3], [1, 2]];
  const pads: PaddingSpec[] = [
    'valid',
    'same',
    [
      [1, 0],
      [0, 1],
    ],
  ];
  const spatial: [number, number][] = [
    [7, 9],
    [11, 5],
    [6, 6],
    [5, 7],
    [8, 4],
  ];
  const chans = [1, 3, 4, 5, 8, 17];
  const out: PoolCase[] = [];
  for (let i = 0; out.length < 30; i++) {
    const [KH, KW] = pools[i % pools.length]!;
    const s = strides[(i * 2 + Math.floor(i / 7)) % strides.length]!;
    let padding = pads[(i + Math.floor(i / 5)) % pads.length]!;
    // Explicit padding must be smaller than the window on every side.
    if (typeof padding !== 'string' && (KH < 2 || KW < 2)) padding = 'same';
    const [H, W] = spatial[(i * 3 + 1) % spatial.length]!;
    const c: PoolCase = {
      N: i % 3 === 1 ? 3 : 1,
      H,
      W,
      C: chans[(i * 5 + Math.floor(i / 6)) % chans.length]!,
      KH,
      KW,
      SH: s ? s[0] : KH,
      SW: s ? s[1] : KW,
      padding,
      defaultStrides: s === null,
    };
    const pad = resolvePadding(c.padding, H, W, KH, KW, c.SH, c.SW);
    if (H + pad.top + pad.bottom < KH || W + pad.left + pad.right < KW) continue;
    if (pad.top >= KH || pad.bottom >= KH || pad.left >= KW || pad.right >= KW) continue;
    out.push(c);
  }
  return out;
}

function poolName(kind: string, c: PoolCase): string {
  return (
    `${kind} x=[${c.N},${c.H},${c.W},${c.C}] k=${c.KH === c.KW ? c.KH : `[${c.KH},${c.KW}]`} ` +
    `s=${c.defaultStrides ? 'default' : stridesStr(c.SH, c.SW)} p=${padStr(c.padding)}`
  );
}

function poolOpts(c: PoolCase): sn.Pool2dOptions {
  const o: sn.Pool2dOptions = { poolSize: [c.KH, c.KW], padding: c.padding as sn.Padding };
  if (!c.defaultStrides) o.strides = [c.SH, c.SW];
  return o;
}

function checkPool(kind: 'maxPool2d' | 'avgPool2d', c: PoolCase, data?: Float32Array, label?: string): void {
  const name = label ?? poolName(kind, c);
  const { N, H, W, C, KH, KW, SH, SW } = c;
  const rng = makeRng(seedOf(name));
  // Distinct values (no ties) for max pooling, so f32 and f64 pick the same winner, and no finite
  // difference step moves one input past another.
  const x = data ?? (kind === 'maxPool2d' ? distinct(rng, N * H * W * C) : rand(rng, N * H * W * C));
  const pad = resolvePadding(c.padding, H, W, KH, KW, SH, SW);
  const opts = poolOpts(c);
  const { OH, OW } = maxPoolForward(x, N, H, W, C, KH, KW, SH, SW, pad);
  // Finite differences where cheap; with ties (given data) only the analytic backward says which input wins.
  const fd = !data && fdAffordable(x.length, N * OH * OW * C * KH * KW);
  const overlap = Math.ceil(KH / SH) * Math.ceil(KW / SW);
  if (kind === 'maxPool2d') {
    // Max picks an input exactly; the gradient sums at most ceil(KH/SH)*ceil(KW/SW) r values in f32.
    checkOp(name, {
      shapes: [[N, H, W, C]],
      inputs: [x],
      outShape: [N, OH, OW, C],
      ref: ([xx]) => maxPoolForward(xx!, N, H, W, C, KH, KW, SH, SW, pad).out,
      op: ([t]) => sn.maxPool2d(t!, opts),
      tol: EXACT,
      grad: fd
        ? undefined
        : (r, [xx]) => [maxPoolBackward(r, maxPoolForward(xx!, N, H, W, C, KH, KW, SH, SW, pad).argmax, x.length)],
      gradTol: accTol(overlap),
    });
  } else {
    const n = KH * KW;
    // Sum of ≤ KH*KW values then one multiply by 1/count (f32): accTol(n + 2).
    checkOp(name, {
      shapes: [[N, H, W, C]],
      inputs: [x],
      outShape: [N, OH, OW, C],
      ref: ([xx]) => avgPoolForward(xx!, N, H, W, C, KH, KW, SH, SW, pad).out,
      op: ([t]) => sn.avgPool2d(t!, opts),
      tol: accTol(n + 2),
      terms: n + 2,
      grad: fd ? undefined : (r) => [avgPoolBackward(r, N, H, W, C, KH, KW, SH, SW, pad)],
      gradTol: accTol(overlap + 2),
      gradTerms: [overlap + 2],
    });
  }
}

describe('maxPool2d / avgPool2d vs ref', () => {
  for (const c of poolCases()) {
    it(poolName('maxPool2d', c), () => checkPool('maxPool2d', c));
    it(poolName('avgPool2d', c), () => checkPool('avgPool2d', c));
  }

  // Ties and negatives: the first maximum in row-major window order wins, padding never does.
  const tie = (H: number, W: number, C: number, k: number, s: number, padding: PaddingSpec): PoolCase => ({
    N: 1,
    H,
    W,
    C,
    KH: k,
    KW: k,
    SH: s,
    SW: s,
    padding,
    defaultStrides: false,
  });
  const tieCases: [string, PoolCase, (n: number, rng: Rng) => Float32Array][] = [
    [
      'maxPool2d all-equal -0.5 x=[1,5,7,3] k=3 s=1 p=same',
      tie(5, 7, 3, 3, 1, 'same'),
      (n) => new Float32Array(n).fill(-0.5),
    ],
    [
      'maxPool2d all-equal 2 x=[1,7,9,5] k=2 s=2 p=same',
      tie(7, 9, 5, 2, 2, 'same'),
      (n) => new Float32Array(n).fill(2),
    ],
    ['maxPool2d all-negative x=[1,7,9,4] k=3 s=2 p=same', tie(7, 9, 4, 3, 2, 'same'), (n, rng) => rand(rng, n, -3, -1)],
    [
      'maxPool2d all-negative ties x=[1,6,5,1] k=3 s=1 p=same',
      tie(6, 5, 1, 3, 1, 'same'),
      (n, rng) => Float32Array.from({ length: n }, () => -1 - Math.floor(rng.next() * 3)),
    ],
    [
      'maxPool2d zeros and -0 x=[1,4,4,2] k=2 s=1 p=same',
      tie(4, 4, 2, 2, 1, 'same'),
      (n) => Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -0 : 0)),
    ],
  ];
  for (const [label, c, gen] of tieCases) {
    it(label, () => {
      const x = gen(c.N * c.H * c.W * c.C, makeRng(seedOf(label)));
      checkPool('maxPool2d', c, x, label);
      // Beyond matching the reference: the gradient of sum(maxPool(x)) sits on the first
      // element (row-major) of each window's maximum, by hand.
      const pad = resolvePadding(c.padding, c.H, c.W, c.KH, c.KW, c.SH, c.SW);
      const { OH, OW } = maxPoolForward(x, 1, c.H, c.W, c.C, c.KH, c.KW, c.SH, c.SW, pad);
      const expected = new Float64Array(x.length);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let ch = 0; ch < c.C; ch++) {
            let best = -Infinity,
              at = -1;
            for (let ih = Math.max(0, oh * c.SH - pad.top); ih < Math.min(c.H, oh * c.SH - pad.top + c.KH); ih++) {
              for (let iw = Math.max(0, ow * c.SW - pad.left); iw < Math.min(c.W, ow * c.SW - pad.left + c.KW); iw++) {
                const v = x[(ih * c.W + iw) * c.C + ch]!;
                if (at < 0 || v > best) {
                  best = v;
                  at = (ih * c.W + iw) * c.C + ch;
                }
              }
            }
            expected[at]! += 1;
          }
      const xt = sn.tensor(x, [1, c.H, c.W, c.C]);
      const y = sn.maxPool2d(xt, poolOpts(c));
      // The padding (zeros) never wins against negative inputs.
      for (const v of y.dataSync()) expect(v).toBeLessThanOrEqual(Math.max(...x));
      const [g] = sn.grads((t) => sn.sum(sn.maxPool2d(t!, poolOpts(c))))([xt]);
      expect(Array.from(g!.dataSync())).toEqual(Array.from(expected));
      for (const t of [xt, y, g!]) t.dispose();
    });
  }
});

describe('maxpool2d / avgpool2d raw: NaN guard words survive, inputs unchanged, backward accumulates', () => {
  it('maxpool2d / avgpool2d forward and backward raw x=[1..3,3..7,3..9,1..17]', () => {
    const k = sn.getEngine().k;
    for (const [N, H, W, C, KH, KW, SH, SW, PT, PB, PL, PR] of [
      [1, 7, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1],
      [2, 5, 6, 5, 2, 2, 2, 2, 0, 1, 0, 0],
      [1, 4, 4, 17, 3, 2, 1, 1, 2, 0, 1, 0],
      [3, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0],
    ] as number[][]) {
      const label = `pool raw x=[${N},${H},${W},${C}] k=[${KH},${KW}] s=[${SH},${SW}] pad=[[${PT},${PB}],[${PL},${PR}]]`;
      const pad = { top: PT!, bottom: PB!, left: PL!, right: PR! };
      const rng = makeRng(seedOf(label));
      const x = distinct(rng, N! * H! * W! * C!);
      const ref = maxPoolForward(x, N!, H!, W!, C!, KH!, KW!, SH!, SW!, pad);
      const gp = geomPtr({
        H: H!,
        W: W!,
        C: C!,
        K: C!,
        KH: KH!,
        KW: KW!,
        SH: SH!,
        SW: SW!,
        PT: PT!,
        PL: PL!,
        OH: ref.OH,
        OW: ref.OW,
      });
      const [out, argmax] = rawRun(`${label} max fwd`, [x], [ref.out.length, ref.out.length], ([px], [po, pa]) =>
        k.maxpool2d_forward(po!, pa!, px!, gp, N!),
      );
      expect(Array.from(out!)).toEqual(Array.from(ref.out));
      expect(Array.from(new Int32Array(argmax!.buffer))).toEqual(Array.from(ref.argmax));
      const dout = rand(rng, ref.out.length);
      const dx0 = rand(rng, x.length);
      const am = new Float32Array(new Int32Array(ref.argmax).buffer);
      const [dx] = rawRun(`${label} max bwd`, [dout, am], [dx0], ([pd, pa], [pdx]) =>
        k.maxpool2d_backward(pdx!, pd!, pa!, ref.out.length),
      );
      close(
        dx!,
        Array.from(maxPoolBackward(dout, ref.argmax, x.length), (v, i) => v + dx0[i]!),
        accTol(KH! * KW! + 1),
        `${label} max dx`,
      );
      const aref = avgPoolForward(x, N!, H!, W!, C!, KH!, KW!, SH!, SW!, pad);
      const [aout] = rawRun(`${label} avg fwd`, [x], [aref.out.length], ([px], [po]) =>
        k.avgpool2d_forward(po!, px!, gp, N!),
      );
      close(aout!, aref.out, accTol(KH! * KW! + 2), `${label} avg fwd`);
      const [adx] = rawRun(`${label} avg bwd`, [dout], [dx0], ([pd], [pdx]) => k.avgpool2d_backward(pdx!, pd!, gp, N!));
      close(
        adx!,
        Array.from(avgPoolBackward(dout, N!, H!, W!, C!, KH!, KW!, SH!, SW!, pad), (v, i) => v + dx0[i]!),
        accTol(KH! * KW! + 2),
        `${label} avg dx`,
      );
      adv.getArena().release(gp);
    }
  });
});

describe('globalAvgPool2d / globalMaxPool2d vs ref', () => {
  const shapes: number[][] = [
    [1, 1, 1, 1],
    [2, 3, 4, 1],
    [2, 2, 3, 3],
    [1, 5, 5, 4],
    [3, 4, 2, 5],
    [2, 7, 7, 8],
    [1, 3, 3, 17],
    [2, 6, 5, 32],
  ];
  for (const shape of shapes) {
    const [N, H, W, C] = shape as [number, number, number, number];
    const HW = H * W;
    const name = `globalAvgPool2d x=[${shape}]`;
    it(name, () =>
      checkOp(name, {
        shapes: [shape],
        outShape: [N, C],
        ref: ([x]) => globalAvgPoolForward(x!, N, HW, C),
        op: ([t]) => sn.globalAvgPool2d(t!),
        // An f32 sum of HW terms ≤ 1, then one division.
        tol: { atol: (4 * U * HW) / HW + U, rtol: 1e-6 },
        // r/HW within two roundings (2^-23 relative); the 1e-12 is the finite differences' own error.
        gradTol: { atol: 1e-12, rtol: 2 ** -23 },
        grad: fdAffordable(prod(shape), prod(shape)) ? undefined : (r) => [globalAvgPoolBackward(r, N, HW, C)],
      }),
    );
    const mname = `globalMaxPool2d x=[${shape}] (distinct values)`;
    it(mname, () => {
      const x = Float32Array.from(distinctValues(prod(shape), makeRng(seedOf(mname))));
      // The maximum is an input and its gradient is r, both exactly: the analytic backward is the oracle.
      checkOp(mname, {
        shapes: [shape],
        inputs: [x],
        outShape: [N, C],
        ref: ([xx]) => globalMaxPoolForward(xx!, N, HW, C).out,
        op: ([t]) => sn.globalMaxPool2d(t!),
        tol: EXACT,
        grad: (r) => [globalMaxPoolBackward(r, globalMaxPoolForward(x, N, HW, C).argmax, x.length)],
      });
    });
  }

  it('globalMaxPool2d raw x=[2,6,9]: all-negative and all-equal channels, argmax = first maximum; guard words', () => {
    const k = sn.getEngine().k;
    const [N, HW, C] = [2, 6, 9];
    const x = new Float32Array(N * HW * C);
    for (let i = 0; i < x.length; i++) {
      const c = i % C;
      x[i] = c < 3 ? -5 - ((i * 7) % 11) : c < 6 ? 0 : c === 6 ? -1 : Math.fround(Math.sin(i));
    }
    const [out, am] = rawRun('gmp raw', [x], [N * C, N * C], ([px], [po, pa]) =>
      k.global_maxpool2d_forward(po!, pa!, px!, N, HW, C),
    );
    const ref = globalMaxPoolForward(x, N, HW, C);
    close(out!, ref.out, EXACT, 'gmp raw out');
    expect(Array.from(new Int32Array(am!.buffer))).toEqual(Array.from(ref.argmax));
    const [gap] = rawRun('gap raw', [x], [N * C], ([px], [po]) => k.global_avgpool2d_forward(po!, px!, N, HW, C));
    close(gap!, globalAvgPoolForward(x, N, HW, C), { atol: 1e-6, rtol: 1e-6 }, 'gap raw out');
    const dout = rand(makeRng(4), N * C),
      dinp0 = rand(makeRng(5), x.length);
    const [dx] = rawRun('gap raw bwd', [dout], [dinp0], ([pd], [pdx]) =>
      k.global_avgpool2d_backward(pdx!, pd!, N, HW, C),
    );
    close(
      dx!,
      globalAvgPoolBackward(dout, N, HW, C).map((v, i) => v + dinp0[i]!),
      { atol: 2 * U, rtol: 1e-6 },
      'gap raw bwd (accumulated)',
    );
  });
});
