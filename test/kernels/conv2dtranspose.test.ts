// The conv2dTranspose op: forward and input/kernel/bias gradients against the float64 scatter
// reference of test/ref/conv2dtranspose.ts, over strides, paddings, output paddings, dilations and
// channel counts around the SIMD width.
import { describe, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { conv2dTransposeBackward, conv2dTransposeForward, type TrDims, trOut } from '../ref/conv2dtranspose.js';
import { accTol, checkOp, rand, seedOf } from './harness.js';

const CASES: TrDims[] = [
  { N: 2, H: 4, W: 5, C: 3, F: 4, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'same', outputPadding: null },
  { N: 1, H: 5, W: 4, C: 5, F: 3, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'valid', outputPadding: null },
  { N: 3, H: 3, W: 3, C: 4, F: 8, KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'valid', outputPadding: null },
  { N: 1, H: 4, W: 4, C: 7, F: 5, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'same', outputPadding: [1, 0] },
  { N: 2, H: 6, W: 5, C: 8, F: 17, KH: 3, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, padding: 'same', outputPadding: null },
  // Kernel smaller than the stride: output rows that no tap reaches hold the bias only.
  { N: 2, H: 3, W: 4, C: 4, F: 3, KH: 1, KW: 2, SH: 3, SW: 3, DH: 1, DW: 1, padding: 'valid', outputPadding: null },
  { N: 1, H: 5, W: 5, C: 3, F: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, padding: 'same', outputPadding: null },
  { N: 5, H: 4, W: 3, C: 16, F: 5, KH: 5, KW: 5, SH: 2, SW: 3, DH: 1, DW: 1, padding: 'same', outputPadding: [1, 2] },
];

const name = (d: TrDims) => `conv2dTranspose ${JSON.stringify(d)}`;

describe('conv2dTranspose vs ref (forward, dx, dw, db)', () => {
  for (const d of CASES) {
    for (const bias of [true, false]) {
      it(`${name(d)}${bias ? ' bias' : ''}`, () => {
        const rng = makeRng(seedOf(name(d)) + (bias ? 1 : 0));
        const x = rand(rng, d.N * d.H * d.W * d.C),
          w = rand(rng, d.KH * d.KW * d.F * d.C),
          b = rand(rng, d.F);
        const { OH, OW } = trOut(d);
        const taps = Math.ceil(d.KH / d.SH) * Math.ceil(d.KW / d.SW);
        const outTerms = taps * d.C + 1;
        const gradTerms = [d.KH * d.KW * d.F, d.N * d.H * d.W, d.N * OH * OW];
        // The scatter reference is too slow to difference over every input: its analytic backward
        // (checked by finite differences in test/ref) is the gradient oracle.
        checkOp(`${name(d)}${bias ? ' bias' : ''}`, {
          shapes: [[d.N, d.H, d.W, d.C], [d.KH, d.KW, d.F, d.C], ...(bias ? [[d.F]] : [])],
          inputs: bias ? [x, w, b] : [x, w],
          outShape: [d.N, OH, OW, d.F],
          ref: ([xx, ww, bb]) => conv2dTransposeForward(xx!, ww!, bb ?? null, d).out,
          op: ([xt, wt, bt]) =>
            sn.conv2dTranspose(xt!, wt!, {
              strides: [d.SH, d.SW],
              padding: d.padding,
              outputPadding: d.outputPadding,
              dilationRate: [d.DH, d.DW],
              bias: bt ?? null,
            }),
          tol: accTol(outTerms),
          terms: outTerms,
          grad: (r, [xx, ww]) => {
            const g = conv2dTransposeBackward(r, xx!, ww!, d);
            return bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
          },
          gradTol: gradTerms.map((n) => accTol(n)),
          gradTerms,
        });
      });
    }
  }
});
