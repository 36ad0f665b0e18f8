// The depthwiseConv2d op: forward and input/filter/bias gradients against the float64 reference of
// test/ref/dwconv2d.ts, over channel counts around the SIMD width (LANES = 4; the kernel's tile is 16
// channels: 15, 16, 17, 32 too), strides, paddings, dilations and depth multipliers; row-split batch-1
// forwards; agreement of the builds' bits.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { dwconv2dBackward, dwconv2dForward, type DwDims, dwOut } from '../ref/dwconv2d.js';
import { resolvePadding, type PaddingSpec } from '../ref/geom.js';
import {
  accTol,
  checkOp,
  otherRuns,
  requireOther,
  otherAlloc,
  otherBuild,
  otherGeom,
  otherRead,
  rand,
  seedOf,
} from './harness.js';

// [start, count] of the 4 fixed shards of n images (src/ops/util.ts shardRanges).
function shards(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let s = 0; s < 4; s++) {
    const count = Math.floor(n / 4) + (s < n % 4 ? 1 : 0);
    if (count > 0) out.push([start, count]);
    start += count;
  }
  return out;
}

interface Case {
  N: number;
  H: number;
  W: number;
  C: number;
  M: number;
  KH: number;
  KW: number;
  S: [number, number];
  D: [number, number];
  padding: PaddingSpec;
  bias: boolean;
  relu: boolean;
}

const CHANNELS = [3, 4, 5, 8, 7, 15, 16, 17, 32, 37];
const KERNELS: [number, number][] = [
  [3, 3],
  [5, 5],
  [1, 1],
  [3, 2],
  [2, 3],
];
const PADDINGS: PaddingSpec[] = [
  'same',
  'valid',
  [
    [1, 0],
    [2, 1],
  ],
];

function cases(): Case[] {
  const out: Case[] = [
    // Batch 1 and 2: the forward cuts images into row ranges (fewer images than shards).
    { N: 1, H: 9, W: 8, C: 17, M: 1, KH: 3, KW: 3, S: [1, 1], D: [1, 1], padding: 'same', bias: true, relu: true },
    { N: 2, H: 3, W: 3, C: 16, M: 1, KH: 5, KW: 5, S: [1, 1], D: [1, 1], padding: 'same', bias: true, relu: false },
    // A window larger than the image in the padding; a 1-row image.
    { N: 3, H: 1, W: 6, C: 5, M: 2, KH: 3, KW: 3, S: [1, 2], D: [1, 1], padding: 'same', bias: false, relu: false },
    // Stride and dilation both > 1 (the op allows it, Keras layers do not): the per-tap gather path.
    { N: 2, H: 11, W: 10, C: 9, M: 1, KH: 3, KW: 3, S: [2, 2], D: [2, 3], padding: 'same', bias: true, relu: false },
    // Batch 5: uneven shards (2, 1, 1, 1) for the weight-gradient partials.
    { N: 5, H: 6, W: 5, C: 8, M: 1, KH: 3, KW: 3, S: [2, 2], D: [1, 1], padding: 'same', bias: true, relu: false },
  ];
  for (let i = 0; out.length < 34; i++) {
    const [KH, KW] = KERNELS[i % KERNELS.length]!;
    const dil = i % 5 === 3;
    out.push({
      N: i % 3 === 0 ? 1 : 3,
      H: 6 + (i % 4),
      W: 5 + ((i * 3) % 5),
      C: CHANNELS[(i * 3 + Math.floor(i / 10)) % CHANNELS.length]!,
      M: i % 4 === 2 ? 2 : i % 11 === 7 ? 3 : 1,
      KH,
      KW,
      S: dil ? [1, 1] : i % 3 === 1 ? [2, 2] : i % 7 === 5 ? [2, 1] : [1, 1],
      D: dil ? [2, (i % 2) + 1] : [1, 1],
      padding: PADDINGS[(i + Math.floor(i / 3)) % PADDINGS.length]!,
      bias: i % 3 !== 2,
      relu: i % 4 === 1,
    });
  }
  return out;
}

function dims(c: Case): DwDims {
  const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.D[0] + 1, (c.KW - 1) * c.D[1] + 1, c.S[0], c.S[1]);
  return {
    N: c.N,
    H: c.H,
    W: c.W,
    C: c.C,
    M: c.M,
    KH: c.KH,
    KW: c.KW,
    SH: c.S[0],
    SW: c.S[1],
    DH: c.D[0],
    DW: c.D[1],
    pad,
  };
}

function name(c: Case): string {
  return (
    `dwconv2d x=[${c.N},${c.H},${c.W},${c.C}] k=${c.KH}x${c.KW} M=${c.M} s=[${c.S}] d=[${c.D}] ` +
    `p=${JSON.stringify(c.padding)}${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`
  );
}

describe('depthwiseConv2d vs ref (forward, dx, dw, db)', () => {
  for (const c of cases()) {
    it(name(c), () => {
      const rng = makeRng(seedOf(name(c)));
      const K = c.C * c.M;
      const x = rand(rng, c.N * c.H * c.W * c.C),
        w = rand(rng, c.KH * c.KW * K),
        b = rand(rng, K);
      const d = dims(c);
      const pre = ([xx, ww, bb]: Float64Array[]) => dwconv2dForward(xx!, ww!, c.bias ? bb! : null, d);
      const { OH, OW } = dwOut(d);
      const outTerms = c.KH * c.KW + 1;
      const gradTerms = [c.M * c.KH * c.KW, c.N * OH * OW, c.N * OH * OW];
      // The analytic backward (checked by finite differences in test/ref) is the gradient oracle:
      // differencing the reference over every input of the larger cases would be too slow.
      checkOp(name(c), {
        shapes: [[c.N, c.H, c.W, c.C], [c.KH, c.KW, c.C, c.M], ...(c.bias ? [[K]] : [])],
        inputs: c.bias ? [x, w, b] : [x, w],
        outShape: [c.N, OH, OW, K],
        ref: (xs) => {
          const out = pre(xs).out;
          return c.relu ? out.map((v) => (v < 0 ? 0 : v)) : out;
        },
        op: ([xt, wt, bt]) =>
          sn.depthwiseConv2d(xt!, wt!, {
            strides: c.S,
            padding: c.padding as sn.Padding,
            dilationRate: c.D,
            bias: bt ?? null,
            activation: c.relu ? 'relu' : 'linear',
          }),
        tol: accTol(outTerms),
        terms: outTerms,
        grad: (r, xs) => {
          const out = pre(xs).out;
          const dout = c.relu ? Float64Array.from(r, (v, i) => (out[i]! > 0 ? v : 0)) : r;
          const g = dwconv2dBackward(dout, xs[0]!, xs[1]!, d);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
        gradTol: gradTerms.map((n) => accTol(n)),
        gradTerms,
      });
    });
  }

  it('a batch run image by image gives the bits of the whole batch (row-split batch-1 path)', () => {
    const rng = makeRng(77);
    const x = rand(rng, 6 * 10 * 9 * 19),
      w = rand(rng, 3 * 3 * 19),
      b = rand(rng, 19);
    const xt = sn.tensor(x, [6, 10, 9, 19]),
      wt = sn.tensor(w, [3, 3, 19, 1]),
      bt = sn.tensor(b, [19]);
    const all = sn.depthwiseConv2d(xt, wt, { padding: 'same', bias: bt }).dataSync();
    const per = 10 * 9 * 19;
    for (let n = 0; n < 6; n++) {
      const one = sn.tensor(x.subarray(n * per, (n + 1) * per), [1, 10, 9, 19]);
      const y = sn.depthwiseConv2d(one, wt, { padding: 'same', bias: bt });
      expect(Array.from(y.dataSync())).toEqual(Array.from(all.subarray(n * per, (n + 1) * per)));
      y.dispose();
      one.dispose();
    }
    xt.dispose();
    wt.dispose();
    bt.dispose();
  });

  // The SIMD and scalar kernels sum every value in the same order, so they agree bit for bit: the op here
  // vs the raw kernels of the other build (weight gradient summed over the same 4 image shards).
  for (const c of [
    { N: 5, H: 7, W: 9, C: 37, M: 1, KH: 3, KW: 3, S: 1, D: 1, padding: 'same' as const },
    { N: 3, H: 9, W: 8, C: 19, M: 1, KH: 5, KW: 5, S: 2, D: 1, padding: 'same' as const },
    { N: 2, H: 8, W: 8, C: 6, M: 2, KH: 3, KW: 3, S: 1, D: 2, padding: 'valid' as const },
  ]) {
    const other = otherBuild;
    // Skipped where this engine cannot validate the other build (no SIMD).
    it.skipIf(!otherRuns)(`same bits as the ${other} build: ${JSON.stringify(c)}`, async () => {
      const o = await requireOther(other);
      const rng = makeRng(seedOf(JSON.stringify(c)));
      const K = c.C * c.M;
      const x = rand(rng, c.N * c.H * c.W * c.C),
        w = rand(rng, c.KH * c.KW * K),
        b = rand(rng, K);
      const xt = sn.tensor(x, [c.N, c.H, c.W, c.C]),
        wt = sn.tensor(w, [c.KH, c.KW, c.C, c.M]),
        bt = sn.tensor(b, [K]);
      const opts = { strides: c.S, padding: c.padding, dilationRate: c.D, bias: bt };
      const y = sn.depthwiseConv2d(xt, wt, opts);
      const r = rand(rng, y.size);
      const rt = sn.tensor(r, y.shape);
      const { grads } = sn.valueAndGrads((a, f, bb) =>
        sn.sum(sn.mul(sn.depthwiseConv2d(a!, f!, { ...opts, bias: bb! }), rt)),
      )([xt, wt, bt]);
      const [, OH, OW] = y.shape as [number, number, number, number];
      const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.D + 1, (c.KW - 1) * c.D + 1, c.S, c.S);
      const og = otherGeom(o, {
        H: c.H,
        W: c.W,
        C: c.C,
        K,
        KH: c.KH,
        KW: c.KW,
        SH: c.S,
        SW: c.S,
        PT: pad.top,
        PL: pad.left,
        OH,
        OW,
        DH: c.D,
        DW: c.D,
        G: c.C,
      });
      const ox = otherAlloc(o, x.length, x),
        ow = otherAlloc(o, w.length, w),
        ob = otherAlloc(o, K, b);
      const oy = otherAlloc(o, y.size),
        od = otherAlloc(o, r.length, r),
        odx = otherAlloc(o, x.length);
      const odw = otherAlloc(o, w.length),
        odb = otherAlloc(o, K),
        pw = otherAlloc(o, w.length),
        pb = otherAlloc(o, K);
      o.k.dwconv2d_forward(oy, ox, ow, ob, og, c.N, 0, 0, OH);
      o.k.dwconv2d_backward_input(odx, od, ow, og, c.N);
      const inImg = c.H * c.W * c.C * 4,
        outImg = OH * OW * K * 4;
      for (const [n0, nc] of shards(c.N)) {
        new Float32Array(o.memory.buffer).fill(0, pw >>> 2, (pw >>> 2) + w.length);
        new Float32Array(o.memory.buffer).fill(0, pb >>> 2, (pb >>> 2) + K);
        o.k.dwconv2d_backward_weight(pw, pb, od + n0 * outImg, ox + n0 * inImg, og, nc);
        o.k.add_into(odw, pw, w.length);
        o.k.add_into(odb, pb, K);
      }
      const same = (a: Float32Array, bb: Float32Array, what: string) => {
        const i = a.findIndex((v, j) => !Object.is(v, bb[j]));
        expect(i, `${what}: first differing index (ours ${a[i]}, ${other} ${bb[i]})`).toBe(-1);
      };
      same(y.dataSync() as Float32Array, otherRead(o, oy, y.size), 'forward');
      same(grads[0]!.dataSync() as Float32Array, otherRead(o, odx, x.length), 'dx');
      same(grads[1]!.dataSync() as Float32Array, otherRead(o, odw, w.length), 'dw');
      same(grads[2]!.dataSync() as Float32Array, otherRead(o, odb, K), 'db');
      for (const t of [xt, wt, bt, y, rt, ...grads]) t.dispose();
    });
  }
});

describe("depthwiseConv2d with a fused 'relu6' (inference)", () => {
  it('is min(max(y, 0), 6) of the linear output, bit for bit, in every lane loop and with a depth multiplier', () => {
    const rng = makeRng(617);
    // 21 channels: the 16-, 4- and 1-lane loops; stride 1 takes the two-pixel path, stride 2 the other
    for (const [C, M, strides] of [
      [21, 1, 1],
      [21, 1, 2],
      [3, 2, 1],
    ] as const) {
      const w = sn.tensor(Float32Array.from(rng.fill(3 * 3 * C * M, -2, 2)), [3, 3, C, M]);
      const b = sn.tensor(Float32Array.from(rng.fill(C * M, -2, 2)), [C * M]);
      const x = sn.tensor(Float32Array.from(rng.fill(2 * 8 * 9 * C, -2, 2)), [2, 8, 9, C]);
      const lin = sn.depthwiseConv2d(x, w, { bias: b, strides, padding: 'same' });
      const y = sn.depthwiseConv2d(x, w, { bias: b, strides, padding: 'same', activation: 'relu6' });
      const got = y.dataSync();
      expect(got.some((v) => v === 6) && got.some((v) => v === 0)).toBe(true);
      expect(got).toEqual(Float32Array.from(lin.dataSync(), (v) => Math.min(Math.max(v, 0), 6)));
      for (const t of [w, b, x, lin, y]) t.dispose();
    }
  });
});
