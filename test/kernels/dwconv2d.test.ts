// depthwiseConv2d per build (SIMDNET_BUILD = simd | scalar | threads): forward and input/filter/bias
// gradients against the float64 reference of test/ref/dwconv2d.ts, over channel counts around the
// SIMD width (LANES = 4; the kernel's tile is 16 channels: 15, 16, 17, 32 too), strides, paddings,
// dilations and depth multipliers; row-split batch-1 forwards; agreement of the builds' bits.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { dwconv2dBackward, dwconv2dForward, type DwDims } from '../ref/dwconv2d.js';
import { resolvePadding, type PaddingSpec } from '../ref/geom.js';
import { checkOp, rand, seedOf } from './opcheck.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

interface Case {
  N: number; H: number; W: number; C: number; M: number; KH: number; KW: number;
  S: [number, number]; D: [number, number]; padding: PaddingSpec; bias: boolean; relu: boolean;
}

const CHANNELS = [3, 4, 5, 8, 7, 15, 16, 17, 32, 37];
const KERNELS: [number, number][] = [[3, 3], [5, 5], [1, 1], [3, 2], [2, 3]];
const PADDINGS: PaddingSpec[] = ['same', 'valid', [[1, 0], [2, 1]]];

function cases(): Case[] {
  const out: Case[] = [
    // Batch 1 and 2: the forward cuts images into row ranges (fewer images than shards).
    { N: 1, H: 9, W: 8, C: 17, M: 1, KH: 3, KW: 3, S: [1, 1], D: [1, 1], padding: 'same', bias: true, relu: true },
    { N: 2, H: 3, W: 3, C: 16, M: 1, KH: 5, KW: 5, S: [1, 1], D: [1, 1], padding: 'same', bias: true, relu: false },
    // A window larger than the image in the padding; a 1-row image.
    { N: 3, H: 1, W: 6, C: 5, M: 2, KH: 3, KW: 3, S: [1, 2], D: [1, 1], padding: 'same', bias: false, relu: false },
    // Batch 5: uneven shards (2, 1, 1, 1) for the weight-gradient partials.
    { N: 5, H: 6, W: 5, C: 8, M: 1, KH: 3, KW: 3, S: [2, 2], D: [1, 1], padding: 'same', bias: true, relu: false },
  ];
  for (let i = 0; out.length < 34; i++) {
    const [KH, KW] = KERNELS[i % KERNELS.length]!;
    const dil = i % 5 === 3;
    out.push({
      N: i % 3 === 0 ? 1 : 3, H: 6 + (i % 4), W: 5 + ((i * 3) % 5),
      C: CHANNELS[(i * 3 + Math.floor(i / 10)) % CHANNELS.length]!,
      M: i % 4 === 2 ? 2 : i % 11 === 7 ? 3 : 1, KH, KW,
      S: dil ? [1, 1] : i % 3 === 1 ? [2, 2] : i % 7 === 5 ? [2, 1] : [1, 1],
      D: dil ? [2, (i % 2) + 1] : [1, 1],
      padding: PADDINGS[(i + Math.floor(i / 3)) % PADDINGS.length]!,
      bias: i % 3 !== 2, relu: i % 4 === 1,
    });
  }
  return out;
}

function dims(c: Case): DwDims {
  const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.D[0] + 1, (c.KW - 1) * c.D[1] + 1, c.S[0], c.S[1]);
  return { N: c.N, H: c.H, W: c.W, C: c.C, M: c.M, KH: c.KH, KW: c.KW, SH: c.S[0], SW: c.S[1], DH: c.D[0], DW: c.D[1], pad };
}

function name(c: Case): string {
  return `dwconv2d x=[${c.N},${c.H},${c.W},${c.C}] k=${c.KH}x${c.KW} M=${c.M} s=[${c.S}] d=[${c.D}] `
    + `p=${JSON.stringify(c.padding)}${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`;
}

describe(`depthwiseConv2d (${build})`, () => {
  for (const c of cases()) {
    it(name(c), () => {
      const rng = makeRng(seedOf(name(c)));
      const K = c.C * c.M;
      const x = rand(rng, c.N * c.H * c.W * c.C), w = rand(rng, c.KH * c.KW * K), b = rand(rng, K);
      const d = dims(c);
      const ref = dwconv2dForward(x, w, c.bias ? b : null, d);
      const out = c.relu ? ref.out.map((v) => (v < 0 ? 0 : v)) : ref.out;
      const inputs = [{ data: x, shape: [c.N, c.H, c.W, c.C] }, { data: w, shape: [c.KH, c.KW, c.C, c.M] }];
      if (c.bias) inputs.push({ data: b, shape: [K] });
      checkOp({
        name: name(c), inputs,
        op: (xt, wt, bt) => sn.depthwiseConv2d(xt!, wt!, { strides: c.S, padding: c.padding as sn.Padding, dilationRate: c.D,
          bias: bt ?? null, activation: c.relu ? 'relu' : 'linear' }),
        refOut: out, refShape: [c.N, ref.OH, ref.OW, K], outTerms: c.KH * c.KW + 1,
        refGrads: (r) => {
          const dout = c.relu ? Float64Array.from(r, (v, i) => (ref.out[i]! > 0 ? v : 0)) : r;
          const g = dwconv2dBackward(dout, x, w, d);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
        gradTerms: [c.M * c.KH * c.KW, c.N * ref.OH * ref.OW, c.N * ref.OH * ref.OW],
      });
    });
  }

  it('a batch run image by image gives the bits of the whole batch (row-split batch-1 path)', () => {
    const rng = makeRng(77);
    const x = rand(rng, 6 * 10 * 9 * 19), w = rand(rng, 3 * 3 * 19), b = rand(rng, 19);
    const xt = sn.tensor(x, [6, 10, 9, 19]), wt = sn.tensor(w, [3, 3, 19, 1]), bt = sn.tensor(b, [19]);
    const all = sn.depthwiseConv2d(xt, wt, { padding: 'same', bias: bt }).dataSync();
    const per = 10 * 9 * 19;
    for (let n = 0; n < 6; n++) {
      const one = sn.tensor(x.subarray(n * per, (n + 1) * per), [1, 10, 9, 19]);
      const y = sn.depthwiseConv2d(one, wt, { padding: 'same', bias: bt });
      expect(Array.from(y.dataSync())).toEqual(Array.from(all.subarray(n * per, (n + 1) * per)));
      y.dispose(); one.dispose();
    }
    xt.dispose(); wt.dispose(); bt.dispose();
  });

  it('rejects a filter for the wrong channel count and a bias of the wrong size', () => {
    const x = sn.zeros([1, 5, 5, 6]);
    expect(() => sn.depthwiseConv2d(x, sn.zeros([3, 3, 4, 1]))).toThrow(/input has 6 channels but the depthwise filter expects 4/);
    expect(() => sn.depthwiseConv2d(x, sn.zeros([3, 3, 6, 2]), { bias: sn.zeros([6]) })).toThrow(/bias has 6 values but there are 12 output channels/);
    x.dispose();
  });
});
