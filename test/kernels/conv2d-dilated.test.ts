// conv2d with dilation and groups, per build (SIMDNET_BUILD = simd | scalar | threads): the op's
// forward and input/filter/bias gradients against the float64 reference of test/ref/conv2d.ts.
// The plain (dilation 1, groups 1) sweep lives in conv2d.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { conv2dGeneralBackward, conv2dGeneralForward, type ConvDims } from '../ref/conv2d.js';
import { resolvePadding, type PaddingSpec } from '../ref/geom.js';
import { checkOp, rand, seedOf } from './opcheck.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

interface Case {
  N: number; H: number; W: number; C: number; K: number; KH: number; KW: number;
  S: number; D: [number, number]; G: number; padding: PaddingSpec; bias: boolean; relu: boolean;
}

// LANES = 4: channel counts per group around it (3, 4, 5, 8) and a prime (7), groups 1..C,
// dilation 1/2/3 with stride 1, strides 1/2 with dilation 1 (Keras forbids both > 1).
const CASES: Case[] = [
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
  { N: 1, H: 12, W: 12, C: 9, K: 4, KH: 3, KW: 3, S: 1, D: [4, 1], G: 1, padding: [[2, 1], [0, 3]], bias: true, relu: false },
];

function name(c: Case): string {
  return `conv2d x=[${c.N},${c.H},${c.W},${c.C}] k=${c.KH}x${c.KW} K=${c.K} s=${c.S} d=[${c.D}] g=${c.G} `
    + `p=${JSON.stringify(c.padding)}${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`;
}

describe(`conv2d dilation/groups (${build})`, () => {
  for (const c of CASES) {
    it(name(c), () => {
      const rng = makeRng(seedOf(name(c)));
      const Cg = c.C / c.G;
      const x = rand(rng, c.N * c.H * c.W * c.C), w = rand(rng, c.KH * c.KW * Cg * c.K), b = rand(rng, c.K);
      const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.D[0] + 1, (c.KW - 1) * c.D[1] + 1, c.S, c.S);
      const d: ConvDims = { N: c.N, H: c.H, W: c.W, C: c.C, K: c.K, KH: c.KH, KW: c.KW, SH: c.S, SW: c.S,
        DH: c.D[0], DW: c.D[1], G: c.G, pad };
      const ref = conv2dGeneralForward(x, w, c.bias ? b : null, d);
      const out = c.relu ? ref.out.map((v) => (v < 0 ? 0 : v)) : ref.out;
      const inputs = [{ data: x, shape: [c.N, c.H, c.W, c.C] }, { data: w, shape: [c.KH, c.KW, Cg, c.K] }];
      if (c.bias) inputs.push({ data: b, shape: [c.K] });
      const KK = c.KH * c.KW * Cg;
      checkOp({
        name: name(c), inputs,
        op: (xt, wt, bt) => sn.conv2d(xt!, wt!, { strides: c.S, padding: c.padding as sn.Padding, dilationRate: c.D,
          groups: c.G, bias: bt ?? null, activation: c.relu ? 'relu' : 'linear' }),
        refOut: out, refShape: [c.N, ref.OH, ref.OW, c.K], outTerms: KK + 1,
        refGrads: (r) => {
          const dout = c.relu ? Float64Array.from(r, (v, i) => (ref.out[i]! > 0 ? v : 0)) : r;
          const g = conv2dGeneralBackward(dout, x, w, d);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
        gradTerms: [(c.K / c.G) * c.KH * c.KW, c.N * ref.OH * ref.OW, c.N * ref.OH * ref.OW],
      });
    });
  }

  it('rejects groups that do not divide the channels, naming the shapes', () => {
    const x = sn.zeros([1, 5, 5, 6]);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 2, 4]), { groups: 4 })).toThrow(/groups = 4 must divide both the input channels \(6\) and the filters \(4\)/);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 2, 4]), { groups: 2 })).toThrow(/expects 4 \(2 per group x 2 groups/);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 6, 4]), { dilationRate: 0 })).toThrow(/dilationRate must be a positive integer/);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 6, 4]), { dilationRate: 3 })).toThrow(/does not fit a 5x5 input/);
    x.dispose();
  });
});
