// Proves the float64 references of the dilated/grouped, depthwise and transposed convolutions right:
// finite-difference gradients of every backward, plus cases with known answers.
import { describe, expect, it } from 'vitest';
import { makeRng, numericGrad, relErr } from '../helpers/check.js';
import { conv2dForward, conv2dGeneralBackward, conv2dGeneralForward, type ConvDims } from './conv2d.js';
import { dwconv2dBackward, dwconv2dForward, type DwDims } from './dwconv2d.js';
import { conv2dTransposeBackward, conv2dTransposeForward, trOut, type TrDims } from './conv2dtranspose.js';
import { resolvePadding } from './geom.js';

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function expectGrad(label: string, analytic: ArrayLike<number>, f: (x: Float64Array) => number, x: Float64Array): void {
  const numeric = numericGrad(f, x, 1e-6);
  expect(analytic.length).toBe(numeric.length);
  let worst = 0;
  for (let i = 0; i < numeric.length; i++) worst = Math.max(worst, relErr(analytic[i]!, numeric[i]!));
  expect(worst, `${label}: max relErr`).toBeLessThan(1e-5);
}

// Checks the three gradients of loss = sum(r * f(x, w, b)).
function gradCheck(
  label: string,
  fwd: (x: Float64Array, w: Float64Array, b: Float64Array) => Float64Array,
  bwd: (r: Float64Array, x: Float64Array, w: Float64Array) => { dx: Float64Array; dw: Float64Array; db: Float64Array },
  nx: number,
  nw: number,
  nb: number,
): void {
  const rng = makeRng(nx * 31 + nw * 7 + nb);
  const x = rng.fill(nx, -1, 1),
    w = rng.fill(nw, -1, 1),
    b = rng.fill(nb, -1, 1);
  const nOut = fwd(x, w, b).length;
  expect(nOut).toBeGreaterThan(0);
  const r = rng.fill(nOut, -1, 1);
  const g = bwd(r, x, w);
  expectGrad(`${label} dx`, g.dx, (v) => dot(fwd(v, w, b), r), x);
  expectGrad(`${label} dw`, g.dw, (v) => dot(fwd(x, v, b), r), w);
  expectGrad(`${label} db`, g.db, (v) => dot(fwd(x, w, v), r), b);
}

describe('conv2d reference with dilation and groups', () => {
  const cases: Array<Omit<ConvDims, 'pad'> & { padding: 'valid' | 'same' }> = [
    { N: 2, H: 7, W: 6, C: 4, K: 6, KH: 3, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, G: 2, padding: 'same' },
    { N: 1, H: 8, W: 7, C: 6, K: 3, KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 1, G: 3, padding: 'valid' },
    { N: 1, H: 9, W: 9, C: 3, K: 2, KH: 3, KW: 2, SH: 1, SW: 1, DH: 3, DW: 2, G: 1, padding: 'valid' },
  ];
  for (const c of cases) {
    it(`gradients by finite differences: ${JSON.stringify(c)}`, () => {
      const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.DH + 1, (c.KW - 1) * c.DW + 1, c.SH, c.SW);
      const d: ConvDims = { ...c, pad };
      gradCheck(
        'conv',
        (x, w, b) => conv2dGeneralForward(x, w, b, d).out,
        (r, x, w) => conv2dGeneralBackward(r, x, w, d),
        c.N * c.H * c.W * c.C,
        c.KH * c.KW * (c.C / c.G) * c.K,
        c.K,
      );
    });
  }
  it('dilation 1, groups 1 is the plain reference; groups G is G independent convolutions', () => {
    const rng = makeRng(5);
    const x = rng.fill(2 * 5 * 6 * 4, -1, 1),
      w = rng.fill(3 * 3 * 4 * 3, -1, 1),
      b = rng.fill(3, -1, 1);
    const pad = { top: 1, bottom: 1, left: 1, right: 1 };
    const plain = conv2dForward(x, w, b, 2, 5, 6, 4, 3, 3, 3, 1, 1, pad).out;
    const gen = conv2dGeneralForward(x, w, b, {
      N: 2,
      H: 5,
      W: 6,
      C: 4,
      K: 3,
      KH: 3,
      KW: 3,
      SH: 1,
      SW: 1,
      DH: 1,
      DW: 1,
      G: 1,
      pad,
    }).out;
    expect(Array.from(gen)).toEqual(Array.from(plain));
    // Two groups of 2 -> 2 channels each: group 1's output only sees input channels 2..3.
    const wg = rng.fill(3 * 3 * 2 * 4, -1, 1);
    const d = { N: 1, H: 5, W: 6, C: 4, K: 4, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, G: 2, pad };
    const full = conv2dGeneralForward(x.subarray(0, 120), wg, null, d).out;
    const x1 = new Float64Array(5 * 6 * 2),
      w1 = new Float64Array(3 * 3 * 2 * 2);
    for (let p = 0; p < 30; p++) {
      x1[p * 2] = x[p * 4 + 2]!;
      x1[p * 2 + 1] = x[p * 4 + 3]!;
    }
    for (let t = 0; t < 18; t++) {
      w1[t * 2] = wg[t * 4 + 2]!;
      w1[t * 2 + 1] = wg[t * 4 + 3]!;
    }
    const g1 = conv2dForward(x1, w1, null, 1, 5, 6, 2, 2, 3, 3, 1, 1, pad).out;
    for (let p = 0; p < 30; p++) {
      expect(full[p * 4 + 2]).toBeCloseTo(g1[p * 2]!, 12);
      expect(full[p * 4 + 3]).toBeCloseTo(g1[p * 2 + 1]!, 12);
    }
  });
});

describe('dwconv2d reference', () => {
  const cases: Array<Omit<DwDims, 'pad'> & { padding: 'valid' | 'same' }> = [
    { N: 2, H: 6, W: 5, C: 3, M: 1, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, padding: 'same' },
    { N: 1, H: 7, W: 7, C: 2, M: 2, KH: 3, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'same' },
    { N: 1, H: 8, W: 7, C: 3, M: 1, KH: 2, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, padding: 'valid' },
  ];
  for (const c of cases) {
    it(`gradients by finite differences: ${JSON.stringify(c)}`, () => {
      const pad = resolvePadding(c.padding, c.H, c.W, (c.KH - 1) * c.DH + 1, (c.KW - 1) * c.DW + 1, c.SH, c.SW);
      const d: DwDims = { ...c, pad };
      gradCheck(
        'dwconv',
        (x, w, b) => dwconv2dForward(x, w, b, d).out,
        (r, x, w) => dwconv2dBackward(r, x, w, d),
        c.N * c.H * c.W * c.C,
        c.KH * c.KW * c.C * c.M,
        c.C * c.M,
      );
    });
  }
  it('equals a grouped convolution with groups = C (weights regrouped)', () => {
    const rng = makeRng(9);
    const C = 3,
      M = 2,
      pad = { top: 1, bottom: 1, left: 1, right: 1 };
    const x = rng.fill(1 * 5 * 5 * C, -1, 1),
      w = rng.fill(3 * 3 * C * M, -1, 1);
    const dw = dwconv2dForward(x, w, null, {
      N: 1,
      H: 5,
      W: 5,
      C,
      M,
      KH: 3,
      KW: 3,
      SH: 1,
      SW: 1,
      DH: 1,
      DW: 1,
      pad,
    }).out;
    // Depthwise (KH,KW,C,M) is the grouped kernel (KH,KW,1,C*M) read in the same order.
    const gc = conv2dGeneralForward(x, w, null, {
      N: 1,
      H: 5,
      W: 5,
      C,
      K: C * M,
      KH: 3,
      KW: 3,
      SH: 1,
      SW: 1,
      DH: 1,
      DW: 1,
      G: C,
      pad,
    }).out;
    expect(Array.from(dw)).toEqual(Array.from(gc));
  });
});

describe('conv2dTranspose reference', () => {
  const cases: Array<Omit<TrDims, 'N'>> = [
    { H: 3, W: 4, C: 2, F: 3, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, padding: 'same', outputPadding: null },
    { H: 3, W: 3, C: 3, F: 2, KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 1, padding: 'valid', outputPadding: null },
    { H: 4, W: 3, C: 2, F: 2, KH: 3, KW: 3, SH: 2, SW: 3, DH: 1, DW: 1, padding: 'same', outputPadding: [1, 2] },
    { H: 4, W: 4, C: 2, F: 2, KH: 2, KW: 2, SH: 1, SW: 1, DH: 2, DW: 2, padding: 'valid', outputPadding: null },
  ];
  for (const c of cases) {
    it(`gradients by finite differences: ${JSON.stringify(c)}`, () => {
      const d: TrDims = { N: 2, ...c };
      gradCheck(
        'transpose',
        (x, w, b) => conv2dTransposeForward(x, w, b, d).out,
        (r, x, w) => conv2dTransposeBackward(r, x, w, d),
        2 * c.H * c.W * c.C,
        c.KH * c.KW * c.F * c.C,
        c.F,
      );
    });
  }
  it('is the adjoint of the convolution: <conv(y), x> = <y, convT(x)>', () => {
    const rng = makeRng(13);
    for (const c of cases) {
      const d: TrDims = { N: 1, ...c };
      const { OH, OW, PT, PL } = trOut(d);
      const y = rng.fill(OH * OW * c.F, -1, 1),
        x = rng.fill(c.H * c.W * c.C, -1, 1);
      const w = rng.fill(c.KH * c.KW * c.F * c.C, -1, 1);
      // The forward conv y (OH, OW, F) -> (H, W, C) with kernel (KH, KW, F, C); bottom/right padding is
      // whatever makes the output H x W.
      const ekh = (c.KH - 1) * c.DH + 1,
        ekw = (c.KW - 1) * c.DW + 1;
      const pad = {
        top: PT,
        left: PL,
        bottom: (c.H - 1) * c.SH + ekh - OH - PT,
        right: (c.W - 1) * c.SW + ekw - OW - PL,
      };
      const conv = conv2dGeneralForward(y, w, null, {
        N: 1,
        H: OH,
        W: OW,
        C: c.F,
        K: c.C,
        KH: c.KH,
        KW: c.KW,
        SH: c.SH,
        SW: c.SW,
        DH: c.DH,
        DW: c.DW,
        G: 1,
        pad: { ...pad, bottom: Math.max(pad.bottom, 0), right: Math.max(pad.right, 0) },
      });
      expect([conv.OH, conv.OW]).toEqual([c.H, c.W]);
      const t = conv2dTransposeForward(x, w, null, d).out;
      expect(dot(conv.out, x)).toBeCloseTo(dot(y, t), 10);
    }
  });
  it("output sizes follow Keras' deconv_output_length", () => {
    const base = { N: 1, C: 1, F: 1, DH: 1, DW: 1 };
    // Values from Keras' rule: valid: n*s + max(k - s, 0); same: n*s; with output padding (n-1)*s + k - 2*pad + op.
    expect(
      trOut({ ...base, H: 5, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'valid', outputPadding: null }),
    ).toMatchObject({ OH: 11, OW: 11 });
    expect(
      trOut({ ...base, H: 5, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same', outputPadding: null }),
    ).toMatchObject({ OH: 10, OW: 10 });
    expect(
      trOut({ ...base, H: 5, W: 5, KH: 1, KW: 1, SH: 3, SW: 3, padding: 'valid', outputPadding: null }),
    ).toMatchObject({ OH: 15, OW: 15 });
    expect(
      trOut({ ...base, H: 5, W: 5, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same', outputPadding: [0, 1] }),
    ).toMatchObject({ OH: 9, OW: 10 });
  });
});
