// The conv2d kernels (assembly/kernels/conv2d.ts) raw and the conv2d op, against the float64
// reference of test/ref/conv2d.ts (forward, dx, dw, db), with dilation and groups too, and the
// small-batch paths against the same images inside a large batch.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { reluBackward, relu as refRelu } from '../ref/act.js';
import {
  conv2dBackward,
  conv2dForward,
  conv2dGeneralBackward,
  conv2dGeneralForward,
  type ConvDims,
  convGeneralOut,
} from '../ref/conv2d.js';
import { type Pad, type PaddingSpec, resolvePadding } from '../ref/geom.js';
import { accTol, bits, checkOp, close, geomPtr, padStr, prod, rand, rawRun, seedOf, stridesStr } from './harness.js';

interface ConvCase {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  padding: PaddingSpec;
  bias: boolean;
  relu: boolean;
}

// Sweeps chosen deterministically (XNNPACK style, LANES = 4: 1, 3, 4, 5, 8, 17, 32 channels).
const CHANNELS = [1, 3, 4, 5, 8, 17, 32];
const KERNELS: [number, number][] = [
  [1, 1],
  [2, 2],
  [3, 3],
  [5, 5],
  [3, 2],
  [1, 5],
  [2, 3],
  [5, 1],
];
const STRIDES: [number, number][] = [
  [1, 1],
  [2, 2],
  [3, 3],
  [2, 1],
  [1, 3],
];
const PADDINGS: PaddingSpec[] = [
  'valid',
  'same',
  [
    [1, 0],
    [2, 1],
  ],
  1,
  [
    [0, 2],
    [1, 0],
  ],
];
const SPATIAL: [number, number][] = [
  [7, 9],
  [11, 5],
  [5, 5],
  [8, 8],
  [9, 7],
  [6, 11],
  [4, 3],
];

function convOut(c: ConvCase): { pad: Pad; OH: number; OW: number } {
  const pad = resolvePadding(c.padding, c.H, c.W, c.KH, c.KW, c.SH, c.SW);
  const OH = Math.floor((c.H + pad.top + pad.bottom - c.KH) / c.SH) + 1;
  const OW = Math.floor((c.W + pad.left + pad.right - c.KW) / c.SW) + 1;
  return { pad, OH, OW };
}

// ~90 conv configs: hand-picked edges first, then a deterministic walk over the axes with
// co-prime periods so every value of every axis appears with varied partners. Work per case is
// capped (the f64 reference is a 7-deep loop) by dropping the batch to 1 or shrinking the image.
function convCases(): ConvCase[] {
  const cases: ConvCase[] = [
    // 1x1 stride 1 valid: the direct (no im2col) path.
    { N: 3, H: 7, W: 9, C: 5, K: 17, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid', bias: true, relu: false },
    { N: 1, H: 4, W: 4, C: 32, K: 8, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid', bias: false, relu: true },
    // The brief's example and friends.
    { N: 2, H: 7, W: 9, C: 3, K: 5, KH: 3, KW: 2, SH: 2, SW: 2, padding: 'same', bias: true, relu: false },
    { N: 1, H: 11, W: 5, C: 4, K: 4, KH: 1, KW: 5, SH: 1, SW: 1, padding: 'same', bias: true, relu: false },
    {
      N: 3,
      H: 11,
      W: 5,
      C: 1,
      K: 1,
      KH: 3,
      KW: 3,
      SH: 1,
      SW: 1,
      padding: [
        [1, 0],
        [2, 1],
      ],
      bias: true,
      relu: true,
    },
    // Kernel as large as the padded input: a single output pixel.
    { N: 1, H: 5, W: 5, C: 3, K: 8, KH: 5, KW: 5, SH: 3, SW: 3, padding: 'valid', bias: true, relu: false },
    // Big KK (5*5*32 = 800): im2col in several blocks of MB = 40 rows, MB not dividing M.
    { N: 1, H: 11, W: 9, C: 32, K: 17, KH: 5, KW: 5, SH: 1, SW: 1, padding: 'same', bias: true, relu: false },
    { N: 3, H: 8, W: 8, C: 32, K: 32, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same', bias: false, relu: false },
    // Batch 5: the ops cut batches into 4 fixed shards (2,1,1,1 images), summing dW per shard.
    { N: 5, H: 7, W: 9, C: 4, K: 5, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same', bias: true, relu: true },
    // Stride larger than the kernel (pixels skipped) and padding wider than the 1x1 kernel.
    { N: 3, H: 7, W: 9, C: 5, K: 3, KH: 2, KW: 2, SH: 3, SW: 3, padding: 'valid', bias: true, relu: false },
    {
      N: 1,
      H: 4,
      W: 3,
      C: 8,
      K: 5,
      KH: 1,
      KW: 1,
      SH: 2,
      SW: 1,
      padding: [
        [1, 0],
        [2, 1],
      ],
      bias: true,
      relu: false,
    },
    // 1-pixel images.
    { N: 3, H: 1, W: 1, C: 17, K: 9, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'valid', bias: true, relu: false },
    { N: 1, H: 1, W: 1, C: 4, K: 5, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same', bias: true, relu: false },
  ];
  for (let i = 0; cases.length < 90; i++) {
    const [KH, KW] = KERNELS[(i * 5 + 1) % KERNELS.length]!;
    const [SH, SW] = STRIDES[(i + Math.floor(i / 4)) % STRIDES.length]!;
    let [H, W] = SPATIAL[(i * 3 + Math.floor(i / 7)) % SPATIAL.length]!;
    const c: ConvCase = {
      N: Math.floor(i / 2) % 2 ? 3 : 1,
      H,
      W,
      C: CHANNELS[i % CHANNELS.length]!,
      K: CHANNELS[(i * 3 + 2 + Math.floor(i / 7)) % CHANNELS.length]!,
      KH,
      KW,
      SH,
      SW,
      padding: PADDINGS[(i * 2 + Math.floor(i / 5)) % PADDINGS.length]!,
      bias: i % 3 !== 0,
      relu: i % 4 === 1,
    };
    let { OH, OW } = convOut(c);
    while (OH < 1 || OW < 1) {
      c.H = H = H + 2;
      c.W = W = W + 2;
      ({ OH, OW } = convOut(c));
    }
    if (c.N * OH * OW * c.K * c.KH * c.KW * c.C > 1_500_000) c.N = 1;
    cases.push(c);
  }
  return cases;
}

function convName(c: ConvCase): string {
  return (
    `conv2d x=[${c.N},${c.H},${c.W},${c.C}] f=[${c.KH},${c.KW},${c.C},${c.K}] ` +
    `s=${stridesStr(c.SH, c.SW)} p=${padStr(c.padding)}${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`
  );
}

// The f64 reference is a 7-deep loop, too slow to difference over every input: the analytic backward
// (itself checked by finite differences in test/ref/gradcheck.test.ts) is the gradient oracle.
function checkConv(c: ConvCase): void {
  const name = convName(c);
  const { pad, OH, OW } = convOut(c);
  const { N, H, W, C, K, KH, KW, SH, SW } = c;
  const pre = ([x, w, b]: Float64Array[]) =>
    conv2dForward(x!, w!, c.bias ? b! : null, N, H, W, C, K, KH, KW, SH, SW, pad).out;
  const KK = KH * KW * C;
  const dxTerms = K * Math.ceil(KH / SH) * Math.ceil(KW / SW);
  const dwTerms = N * OH * OW;
  checkOp(name, {
    shapes: [[N, H, W, C], [KH, KW, C, K], ...(c.bias ? [[K]] : [])],
    outShape: [N, OH, OW, K],
    ref: (xs) => (c.relu ? refRelu(pre(xs)) : pre(xs)),
    op: ([x, w, b]) =>
      sn.conv2d(x!, w!, {
        strides: [SH, SW],
        padding: c.padding as sn.Padding,
        bias: b ?? null,
        activation: c.relu ? 'relu' : 'linear',
      }),
    tol: accTol(KK + 1),
    terms: KK + 1,
    grad: (r, xs) => {
      const dout = c.relu ? reluBackward(r, pre(xs)) : r;
      const g = conv2dBackward(dout, xs[0]!, xs[1]!, N, H, W, C, K, KH, KW, SH, SW, pad);
      return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
    },
    gradTol: [accTol(dxTerms), accTol(dwTerms), accTol(dwTerms)],
    gradTerms: [dxTerms, dwTerms, dwTerms],
  });
}

describe('conv2d vs ref (forward, dx, dw, db)', () => {
  for (const c of convCases()) it(convName(c), () => checkConv(c));

  it('conv2d x=[3,7,9,4] f=[3,3,4,5] s=1 p=same: gradient w.r.t. bias only (weight not watched)', () => {
    const name = 'conv2d bias-only grad x=[3,7,9,4] f=[3,3,4,5] s=1 p=same';
    const rng = makeRng(seedOf(name));
    const [N, H, W, C, K] = [3, 7, 9, 4, 5];
    const x = sn.tensor(rand(rng, N * H * W * C), [N, H, W, C]);
    const w = sn.tensor(rand(rng, 9 * C * K), [3, 3, C, K]);
    const b = sn.tensor(rand(rng, K), [K]);
    const r = rand(rng, N * H * W * K);
    const rt = sn.tensor(r, [N, H, W, K]);
    const [gb] = sn.grads((bt) => sn.sum(sn.mul(sn.conv2d(x, w, { padding: 'same', bias: bt! }), rt)))([b]);
    const pad = resolvePadding('same', H, W, 3, 3, 1, 1);
    const ref = conv2dBackward(r, x.dataSync(), w.dataSync(), N, H, W, C, K, 3, 3, 1, 1, pad);
    close(gb!.dataSync(), ref.db, accTol(N * H * W), `${name}: db`);
    for (const t of [x, w, b, rt, gb!]) t.dispose();
  });
});

describe('conv2d raw: NaN guard words survive, inputs unchanged, backward accumulates', () => {
  const rawConv = [
    { N: 2, H: 7, W: 9, C: 3, K: 5, KH: 3, KW: 2, SH: 2, SW: 1, PT: 1, PB: 0, PL: 2, PR: 1 },
    { N: 1, H: 5, W: 5, C: 17, K: 9, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PB: 0, PL: 0, PR: 0 },
    { N: 3, H: 4, W: 6, C: 4, K: 8, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PB: 1, PL: 1, PR: 1 },
    { N: 1, H: 11, W: 5, C: 1, K: 17, KH: 5, KW: 1, SH: 3, SW: 2, PT: 2, PB: 2, PL: 0, PR: 0 },
  ];
  for (const g of rawConv) {
    // MB: rows of the im2col block, from 1 up to more than the whole image.
    for (const MB of [1, 3, 4, 7, 1000]) {
      const label =
        `conv2d_forward/backward raw x=[${g.N},${g.H},${g.W},${g.C}] f=[${g.KH},${g.KW},${g.C},${g.K}] ` +
        `s=[${g.SH},${g.SW}] pad=[[${g.PT},${g.PB}],[${g.PL},${g.PR}]] MB=${MB}`;
      it(label, () => {
        const k = sn.getEngine().k;
        const { N, H, W, C, K: Ko, KH, KW, SH, SW, PT, PB, PL, PR } = g;
        const pad = { top: PT, bottom: PB, left: PL, right: PR };
        const OH = Math.floor((H + PT + PB - KH) / SH) + 1,
          OW = Math.floor((W + PL + PR - KW) / SW) + 1;
        const KK = KH * KW * C;
        const mb = Math.min(MB, OH * OW);
        const rng = makeRng(seedOf(label));
        const x = rand(rng, N * H * W * C),
          w = rand(rng, KK * Ko),
          b = rand(rng, Ko);
        const gp = geomPtr({ H, W, C, K: Ko, KH, KW, SH, SW, PT, PL, OH, OW });
        for (const relu of [0, 1]) {
          const [out] = rawRun(
            `${label} fwd relu=${relu}`,
            [x, w, b],
            [N * OH * OW * Ko, k.pack_b_size(KK, Ko), mb * KK],
            ([px, pw, pb], [po, pwp, pcols]) => k.conv2d_forward(po!, px!, pw!, pb!, pwp!, pcols!, gp, N, mb, relu),
          );
          close(
            out!,
            conv2dForward(x, w, b, N, H, W, C, Ko, KH, KW, SH, SW, pad, relu === 1).out,
            accTol(KK + 1),
            `${label} fwd relu=${relu}`,
            KK + 1,
          );
        }
        // Backward accumulates into pre-filled buffers.
        const dout = rand(rng, N * OH * OW * Ko);
        const dx0 = rand(rng, x.length),
          dw0 = rand(rng, w.length),
          db0 = rand(rng, Ko);
        const ref = conv2dBackward(dout, x, w, N, H, W, C, Ko, KH, KW, SH, SW, pad);
        const [dx] = rawRun(
          `${label} bwd input`,
          [dout, w],
          [dx0, k.pack_b_size(Ko, KK), mb * KK],
          ([pd, pw], [pdx, pwp, pcols]) => k.conv2d_backward_input(pdx!, pd!, pw!, pwp!, pcols!, gp, N, mb),
        );
        close(
          dx!,
          Array.from(ref.dx, (v, i) => v + dx0[i]!),
          accTol(Ko * KH * KW + 1),
          `${label} dx`,
        );
        const [dw, db] = rawRun(
          `${label} bwd weight`,
          [dout, x],
          [dw0, db0, mb * KK, k.pack_b_size(mb, Ko)],
          ([pd, px], [pdw, pdb, pcols, pdp]) => k.conv2d_backward_weight(pdw!, pdb!, pd!, px!, pcols!, pdp!, gp, N, mb),
        );
        close(
          dw!,
          Array.from(ref.dw, (v, i) => v + dw0[i]!),
          accTol(N * OH * OW + 1),
          `${label} dw`,
        );
        close(
          db!,
          Array.from(ref.db, (v, i) => v + db0[i]!),
          accTol(N * OH * OW + 1),
          `${label} db`,
        );
        adv.getArena().release(gp);
      });
    }
  }
});

interface GeneralCase {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  S: number;
  D: [number, number];
  G: number;
  padding: PaddingSpec;
  bias: boolean;
  relu: boolean;
}

// LANES = 4: channel counts per group around it (3, 4, 5, 8) and a prime (7), groups 1..C,
// dilation 1/2/3 with stride 1, strides 1/2 with dilation 1 (Keras forbids both > 1).
const GENERAL_CASES: GeneralCase[] = [
  { N: 2, H: 9, W: 8, C: 4, K: 6, KH: 3, KW: 3, S: 1, D: [2, 2], G: 1, padding: 'same', bias: true, relu: false },
  { N: 1, H: 10, W: 9, C: 5, K: 3, KH: 3, KW: 2, S: 1, D: [3, 2], G: 1, padding: 'valid', bias: false, relu: true },
  { N: 3, H: 7, W: 7, C: 8, K: 8, KH: 3, KW: 3, S: 1, D: [1, 1], G: 2, padding: 'same', bias: true, relu: false },
  { N: 2, H: 8, W: 6, C: 6, K: 9, KH: 3, KW: 3, S: 2, D: [1, 1], G: 3, padding: 'same', bias: true, relu: true },
  { N: 1, H: 7, W: 9, C: 14, K: 21, KH: 2, KW: 3, S: 2, D: [1, 1], G: 7, padding: 'valid', bias: true, relu: false },
  { N: 5, H: 6, W: 6, C: 12, K: 12, KH: 3, KW: 3, S: 1, D: [2, 2], G: 4, padding: 'same', bias: false, relu: false },
  // 1x1 grouped: the direct path with a row stride of C and a column slice per group.
  { N: 2, H: 5, W: 7, C: 10, K: 15, KH: 1, KW: 1, S: 1, D: [1, 1], G: 5, padding: 'valid', bias: true, relu: true },
  { N: 1, H: 6, W: 5, C: 16, K: 8, KH: 1, KW: 1, S: 1, D: [1, 1], G: 2, padding: 'valid', bias: false, relu: false },
  // groups = C (a depthwise conv as a grouped one) and big per-group channel counts (several blocks).
  { N: 2, H: 8, W: 8, C: 5, K: 10, KH: 3, KW: 3, S: 1, D: [1, 1], G: 5, padding: 'same', bias: true, relu: false },
  { N: 1, H: 12, W: 11, C: 34, K: 18, KH: 5, KW: 5, S: 1, D: [1, 1], G: 2, padding: 'same', bias: true, relu: false },
  {
    N: 1,
    H: 12,
    W: 12,
    C: 9,
    K: 4,
    KH: 3,
    KW: 3,
    S: 1,
    D: [4, 1],
    G: 1,
    padding: [
      [2, 1],
      [0, 3],
    ],
    bias: true,
    relu: false,
  },
];

function generalName(c: GeneralCase): string {
  return (
    `conv2d x=[${c.N},${c.H},${c.W},${c.C}] k=${c.KH}x${c.KW} K=${c.K} s=${c.S} d=[${c.D}] g=${c.G} ` +
    `p=${JSON.stringify(c.padding)}${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`
  );
}

// As checkConv, over the general reference (dilation, groups); its analytic backward is the oracle.
function checkGeneralConv(c: GeneralCase): void {
  const name = generalName(c);
  const rng = makeRng(seedOf(name));
  const Cg = c.C / c.G;
  const x = rand(rng, c.N * c.H * c.W * c.C),
    w = rand(rng, c.KH * c.KW * Cg * c.K),
    b = rand(rng, c.K);
  const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.D[0] + 1, (c.KW - 1) * c.D[1] + 1, c.S, c.S);
  const d: ConvDims = {
    N: c.N,
    H: c.H,
    W: c.W,
    C: c.C,
    K: c.K,
    KH: c.KH,
    KW: c.KW,
    SH: c.S,
    SW: c.S,
    DH: c.D[0],
    DW: c.D[1],
    G: c.G,
    pad,
  };
  const { OH, OW } = convGeneralOut(d);
  const pre = ([xx, ww, bb]: Float64Array[]) => conv2dGeneralForward(xx!, ww!, c.bias ? bb! : null, d).out;
  const outTerms = c.KH * c.KW * Cg + 1;
  const gradTerms = [(c.K / c.G) * c.KH * c.KW, c.N * OH * OW, c.N * OH * OW];
  checkOp(name, {
    shapes: [[c.N, c.H, c.W, c.C], [c.KH, c.KW, Cg, c.K], ...(c.bias ? [[c.K]] : [])],
    inputs: c.bias ? [x, w, b] : [x, w],
    outShape: [c.N, OH, OW, c.K],
    ref: (xs) => (c.relu ? refRelu(pre(xs)) : pre(xs)),
    op: ([xt, wt, bt]) =>
      sn.conv2d(xt!, wt!, {
        strides: c.S,
        padding: c.padding as sn.Padding,
        dilationRate: c.D,
        groups: c.G,
        bias: bt ?? null,
        activation: c.relu ? 'relu' : 'linear',
      }),
    tol: accTol(outTerms),
    terms: outTerms,
    grad: (r, xs) => {
      const dout = c.relu ? reluBackward(r, pre(xs)) : r;
      const g = conv2dGeneralBackward(dout, xs[0]!, xs[1]!, d);
      return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
    },
    gradTol: gradTerms.map((n) => accTol(n)),
    gradTerms,
  });
}

describe('conv2d with dilation and groups vs ref (forward, dx, dw, db)', () => {
  for (const c of GENERAL_CASES) it(generalName(c), () => checkGeneralConv(c));
});

// Batches of 1-3 take another path (cut by pixel ranges over packed weights); each output must have
// the bits the same image gets inside a larger batch.
describe('conv2d small batches: same bits as inside a large batch', () => {
  type Case = { x: number[]; f: number[]; strides: number; padding: sn.Padding; bias: boolean; relu: boolean };
  const cases: Case[] = [
    { x: [28, 28, 1], f: [5, 5, 1, 32], strides: 1, padding: 'same', bias: true, relu: true },
    { x: [14, 14, 32], f: [3, 3, 32, 20], strides: 1, padding: 'same', bias: true, relu: false },
    { x: [9, 11, 5], f: [3, 2, 5, 7], strides: 2, padding: 'valid', bias: false, relu: true },
    { x: [6, 6, 8], f: [1, 1, 8, 9], strides: 1, padding: 'valid', bias: true, relu: false },
  ];
  for (const c of cases) {
    const title =
      `conv2d x ${c.x} filter ${c.f} strides ${c.strides} ${padStr(c.padding)}` +
      `${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`;
    it(title, () => {
      const rng = makeRng(seedOf(`small conv ${c.x} ${c.f}`));
      const B = 5,
        img = prod(c.x);
      const xAll = rand(rng, B * img),
        w = sn.tensor(rand(rng, prod(c.f)), c.f);
      const b = c.bias ? sn.tensor(rand(rng, c.f[3]!), [c.f[3]!]) : null;
      const opts = {
        strides: c.strides,
        padding: c.padding,
        bias: b,
        activation: c.relu ? ('relu' as const) : ('linear' as const),
      };
      const xt = sn.tensor(xAll, [B, ...c.x]);
      const big = sn.conv2d(xt, w, opts);
      const bigOut = big.dataSync();
      const per = bigOut.length / B;
      for (const n of [1, 2, 3]) {
        for (const start of [0, B - n]) {
          const xs = sn.tensor(xAll.subarray(start * img, (start + n) * img), [n, ...c.x]);
          const y = sn.conv2d(xs, w, opts);
          expect(bits(y.dataSync())).toEqual(bits(bigOut.slice(start * per, (start + n) * per)));
          expect(y.shape).toEqual([n, ...big.shape.slice(1)]);
          xs.dispose();
          y.dispose();
        }
      }
      for (const t of [xt, big, w, b]) t?.dispose();
    });
  }
});

describe("conv2d with a fused 'relu6' (inference)", () => {
  it('is min(max(y, 0), 6) of the linear output, bit for bit, on both the pixel and the image paths', () => {
    const rng = makeRng(616);
    const w = sn.tensor(Float32Array.from(rng.fill(3 * 3 * 5 * 13, -2, 2)), [3, 3, 5, 13]);
    const b = sn.tensor(Float32Array.from(rng.fill(13, -2, 2)), [13]);
    for (const [n, algorithm] of [
      [1, 'direct'],
      [5, 'direct'],
      [5, 'winograd'], // the Winograd kernels fuse relu only: relu6 runs the direct path
    ] as const) {
      const x = sn.tensor(Float32Array.from(rng.fill(n * 7 * 9 * 5, -2, 2)), [n, 7, 9, 5]);
      const lin = sn.conv2d(x, w, { bias: b, padding: 'same', algorithm: 'direct' });
      const y = sn.conv2d(x, w, { bias: b, padding: 'same', activation: 'relu6', algorithm });
      const want = Float32Array.from(lin.dataSync(), (v) => Math.min(Math.max(v, 0), 6));
      const got = y.dataSync();
      expect(got.some((v) => v === 6) && got.some((v) => v === 0)).toBe(true); // both bounds are hit
      expect(got).toEqual(want);
      for (const t of [x, lin, y]) t.dispose();
    }
    // it has no backward: training must keep relu6 a layer of its own
    const xg = sn.tensor(Float32Array.from(rng.fill(7 * 9 * 5, -2, 2)), [1, 7, 9, 5]);
    expect(() => sn.grads((wt) => sn.sum(sn.conv2d(xg, wt!, { activation: 'relu6' })))([w])).toThrow(
      /fused 'relu6' has no backward/,
    );
    for (const t of [w, b, xg]) t.dispose();
  });
});
