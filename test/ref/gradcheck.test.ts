// Proves the float64 references right: finite-difference gradient checks for every
// backward pass, plus hand-computed forward cases and optimizer steps.
import { describe, expect, it } from 'vitest';
import { distinctValues, expectClose, makeRng, numericGrad, relErr, type Rng } from '../helpers/check.js';
import { relu, reluBackward, softmax, softmaxCrossEntropy } from './act.js';
import { conv2dBackward, conv2dForward } from './conv2d.js';
import { denseBackward, denseForward, matMul } from './dense.js';
import { outSize, resolvePadding, samePadding, type Pad, type PaddingSpec } from './geom.js';
import { adamStep, sgdStep } from './optim.js';
import { dot, expectGradMatches } from './fdcheck.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from './pool2d.js';

const ZERO_PAD: Pad = { top: 0, bottom: 0, left: 0, right: 0 };

describe('geometry', () => {
  it('samePadding matches the TF/Keras table', () => {
    expect(samePadding(28, 5, 1)).toEqual({ before: 2, after: 2 });
    expect(samePadding(28, 2, 2)).toEqual({ before: 0, after: 0 });
    expect(samePadding(5, 4, 1)).toEqual({ before: 1, after: 2 });
    expect(samePadding(7, 3, 2)).toEqual({ before: 1, after: 1 });
    // Stride larger than the kernel can need no padding at all.
    expect(samePadding(6, 1, 3)).toEqual({ before: 0, after: 0 });
  });

  it('outSize follows floor((n + pads - k) / s) + 1', () => {
    expect(outSize(4, 3, 1, 0, 0)).toBe(2);
    expect(outSize(4, 3, 1, 1, 1)).toBe(4);
    expect(outSize(4, 3, 3, 1, 1)).toBe(2);
    expect(outSize(28, 5, 1, 2, 2)).toBe(28);
    expect(outSize(28, 2, 2, 0, 0)).toBe(14);
    expect(outSize(7, 3, 2, 0, 0)).toBe(3);
    expect(outSize(7, 3, 2, 1, 1)).toBe(4);
    expect(outSize(5, 4, 1, 1, 2)).toBe(5);
    expect(outSize(3, 3, 5, 0, 0)).toBe(1);
    expect(() => outSize(2, 3, 1, 0, 0)).toThrow();
  });

  it("'same' output size is ceil(n / s)", () => {
    for (const [n, k, s] of [
      [28, 5, 1],
      [28, 2, 2],
      [5, 4, 1],
      [7, 3, 2],
      [9, 4, 3],
      [1, 3, 2],
    ] as const) {
      const p = samePadding(n, k, s);
      expect(outSize(n, k, s, p.before, p.after), `n=${n} k=${k} s=${s}`).toBe(Math.ceil(n / s));
    }
  });

  it('resolvePadding handles every spec form', () => {
    expect(resolvePadding('valid', 5, 6, 4, 2, 1, 1)).toEqual(ZERO_PAD);
    expect(resolvePadding('same', 5, 6, 4, 2, 1, 1)).toEqual({ top: 1, bottom: 2, left: 0, right: 1 });
    expect(resolvePadding('same', 28, 28, 2, 2, 2, 2)).toEqual(ZERO_PAD);
    expect(resolvePadding(1, 4, 4, 3, 3, 1, 1)).toEqual({ top: 1, bottom: 1, left: 1, right: 1 });
    expect(
      resolvePadding(
        [
          [0, 2],
          [1, 3],
        ],
        4,
        4,
        3,
        3,
        1,
        1,
      ),
    ).toEqual({ top: 0, bottom: 2, left: 1, right: 3 });
  });
});

// A 4×4 example worked out by hand (single image, single channel); test/ops/worked-example.test.ts
// runs it through the ops.
const X4 = [0, 1, 2, 4, 3, 0, -1, 5, -2, 0, 1, 3, 1, 0, 9, 0];
const K3 = [0, 2, 1, 1, 3, 2, 2, 0, -1];

describe('worked example', () => {
  it('valid 3×3 convolution', () => {
    const { out, OH, OW } = conv2dForward(X4, K3, null, 1, 4, 4, 1, 1, 3, 3, 1, 1, ZERO_PAD);
    expect([OH, OW]).toEqual([2, 2]);
    expect(Array.from(out)).toEqual([0, 12, -8, 12]);
  });

  it('1-pixel zero padding gives the by-hand 4×4', () => {
    // Each entry summed by hand over the taps that land inside the image, e.g.
    // corner (0,0): 0·3 + 1·2 + 3·0 + 0·(-1) = 2; (2,3): 5·2 + 1·1 + 3·3 + 9·2 = 38.
    const expected = [2, 14, 10, 12, 10, 0, 12, 24, 0, -8, 12, 38, -1, 20, 32, 15];
    const pad = resolvePadding(1, 4, 4, 3, 3, 1, 1);
    const { out, OH, OW } = conv2dForward(X4, K3, null, 1, 4, 4, 1, 1, 3, 3, 1, 1, pad);
    expect([OH, OW]).toEqual([4, 4]);
    expect(Array.from(out)).toEqual(expected);
    // 'same' for a 3×3 stride-1 kernel is exactly this padding.
    expect(resolvePadding('same', 4, 4, 3, 3, 1, 1)).toEqual(pad);
  });

  it('1-pixel padding with stride 3 samples the padded result at rows/cols 0 and 3', () => {
    const { out, OH, OW } = conv2dForward(X4, K3, null, 1, 4, 4, 1, 1, 3, 3, 3, 3, resolvePadding(1, 4, 4, 3, 3, 3, 3));
    expect([OH, OW]).toEqual([2, 2]);
    expect(Array.from(out)).toEqual([2, 12, -1, 15]);
  });

  it('bias and fused relu', () => {
    const { out } = conv2dForward(X4, K3, [-1], 1, 4, 4, 1, 1, 3, 3, 1, 1, ZERO_PAD, true);
    expect(Array.from(out)).toEqual([0, 11, 0, 11]);
  });

  it('3×3 max pool, stride 1', () => {
    const { out, argmax, OH, OW } = maxPoolForward(X4, 1, 4, 4, 1, 3, 3, 1, 1, ZERO_PAD);
    expect([OH, OW]).toEqual([2, 2]);
    expect(Array.from(out)).toEqual([3, 5, 9, 9]);
    // The 9 at (3,2) wins both bottom windows.
    expect(Array.from(argmax)).toEqual([4, 7, 14, 14]);
    expect(Array.from(maxPoolBackward([1, 2, 3, 4], argmax, 16))).toEqual([
      0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 7, 0,
    ]);
  });

  it('2×2 average pool, stride 2', () => {
    const { out, OH, OW } = avgPoolForward(X4, 1, 4, 4, 1, 2, 2, 2, 2, ZERO_PAD);
    expect([OH, OW]).toEqual([2, 2]);
    expect(Array.from(out)).toEqual([1, 2.5, -0.25, 3.25]);
  });
});

describe('pooling semantics', () => {
  it('max pool: padding never wins and ties go to the first pixel', () => {
    const x = [-5, -5, -5, -5]; // 2×2, all equal and negative
    const { out, argmax } = maxPoolForward(x, 1, 2, 2, 1, 2, 2, 1, 1, resolvePadding('same', 2, 2, 2, 2, 1, 1));
    expect(Array.from(out)).toEqual([-5, -5, -5, -5]);
    // Window at (0,0) covers all four pixels: the first in row-major order wins.
    expect(Array.from(argmax)).toEqual([0, 1, 2, 3]);
  });

  it('avg pool divides by in-bounds pixels only', () => {
    const ones = new Float64Array(12).fill(1); // 3×4
    const pad = resolvePadding('same', 3, 4, 3, 3, 1, 1);
    const { out } = avgPoolForward(ones, 1, 3, 4, 1, 3, 3, 1, 1, pad);
    expect(Array.from(out)).toEqual(Array.from(ones));
    const dx = avgPoolBackward(new Float64Array(12).fill(1), 1, 3, 4, 1, 3, 3, 1, 1, pad);
    // Corner pixel (0,0) is in windows (0,0) /4, (0,1) /6, (1,0) /6, (1,1) /9.
    expect(dx[0]).toBeCloseTo(1 / 4 + 1 / 6 + 1 / 6 + 1 / 9, 14);
  });
});

describe('layout consistency', () => {
  it('1×1 conv equals dense over pixels', () => {
    const rng = makeRng(11);
    const [N, H, W, C, K] = [2, 3, 4, 3, 5];
    const x = rng.fill(N * H * W * C, -1, 1);
    const w = rng.fill(C * K, -1, 1);
    const b = rng.fill(K, -1, 1);
    const conv = conv2dForward(x, w, b, N, H, W, C, K, 1, 1, 1, 1, ZERO_PAD).out;
    expectClose(conv, denseForward(x, w, b, N * H * W, C, K), { atol: 1e-12, rtol: 1e-12, label: '1×1 conv' });
  });

  it('full-image valid conv equals dense over the flattened NHWC image', () => {
    // (KH,KW,C,K) flattens exactly like an (H,W,C) image followed by K outputs.
    const rng = makeRng(12);
    const [N, H, W, C, K] = [3, 3, 2, 2, 4];
    const x = rng.fill(N * H * W * C, -1, 1);
    const w = rng.fill(H * W * C * K, -1, 1);
    const conv = conv2dForward(x, w, null, N, H, W, C, K, H, W, 1, 1, ZERO_PAD).out;
    expectClose(conv, denseForward(x, w, null, N, H * W * C, K), { atol: 1e-12, rtol: 1e-12, label: 'full conv' });
  });

  it('matMul agrees with dense without bias', () => {
    const rng = makeRng(13);
    const a = rng.fill(3 * 4, -1, 1);
    const b = rng.fill(4 * 2, -1, 1);
    expectClose(matMul(a, b, 3, 4, 2), denseForward(a, b, null, 3, 4, 2), { atol: 0, rtol: 0, label: 'matMul' });
    expect(Array.from(matMul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2))).toEqual([19, 22, 43, 50]);
  });
});

interface ConvCase {
  name: string;
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
  relu?: boolean;
}

const CONV_CASES: ConvCase[] = [
  { name: '3×3 valid', N: 2, H: 5, W: 5, C: 2, K: 3, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'valid' },
  { name: 'non-square 2×3 kernel', N: 1, H: 6, W: 7, C: 2, K: 2, KH: 2, KW: 3, SH: 1, SW: 1, padding: 'valid' },
  { name: 'stride 2, non-square input', N: 2, H: 7, W: 6, C: 2, K: 2, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'valid' },
  { name: "'same' with even 4×2 kernel", N: 1, H: 5, W: 6, C: 2, K: 3, KH: 4, KW: 2, SH: 1, SW: 1, padding: 'same' },
  {
    name: 'explicit asymmetric pad, strides 2×1',
    N: 1,
    H: 5,
    W: 5,
    C: 2,
    K: 2,
    KH: 3,
    KW: 2,
    SH: 2,
    SW: 1,
    padding: [
      [0, 2],
      [1, 0],
    ],
  },
  { name: "C=3 K=5, 'same' stride 2", N: 2, H: 6, W: 5, C: 3, K: 5, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same' },
  { name: 'fused relu', N: 1, H: 5, W: 5, C: 2, K: 3, KH: 3, KW: 3, SH: 1, SW: 1, padding: 1, relu: true },
];

describe('conv2d gradients', () => {
  it("'same' with an even kernel really pads asymmetrically", () => {
    expect(resolvePadding('same', 5, 6, 4, 2, 1, 1)).toEqual({ top: 1, bottom: 2, left: 0, right: 1 });
  });

  CONV_CASES.forEach((cc, ci) => {
    it(cc.name, () => {
      const { N, H, W, C, K, KH, KW, SH, SW } = cc;
      const fused = cc.relu ?? false;
      const pad = resolvePadding(cc.padding, H, W, KH, KW, SH, SW);
      const rng = makeRng(100 + ci);
      const x = rng.fill(N * H * W * C, -1, 1);
      const w = rng.fill(KH * KW * C * K, -1, 1);
      const b = rng.fill(K, -1, 1);
      const fwd = () => conv2dForward(x, w, b, N, H, W, C, K, KH, KW, SH, SW, pad, fused);
      const { out, OH, OW } = fwd();
      expect(out.length).toBe(N * OH * OW * K);
      const r = rng.fill(out.length, -1, 1);
      // loss = sum(out * r), so dloss/dout = r (masked where the fused relu clipped;
      // out > 0 exactly where the pre-activation is > 0).
      const dout = fused ? reluBackward(r, out) : r;
      const { dx, dw, db } = conv2dBackward(dout, x, w, N, H, W, C, K, KH, KW, SH, SW, pad);
      const loss = () => dot(fwd().out, r);
      expectGradMatches(`${cc.name} dx`, dx, loss, x);
      expectGradMatches(`${cc.name} dw`, dw, loss, w);
      expectGradMatches(`${cc.name} db`, db, loss, b);
    });
  });
});

interface PoolCase {
  name: string;
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  padding: PaddingSpec;
}

const POOL_CASES: PoolCase[] = [
  { name: '2×2 stride 2 valid', N: 2, H: 4, W: 6, C: 2, KH: 2, KW: 2, SH: 2, SW: 2, padding: 'valid' },
  { name: '3×3 stride 1 overlapping', N: 1, H: 5, W: 5, C: 2, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'valid' },
  { name: "3×3 stride 2 'same'", N: 2, H: 6, W: 5, C: 3, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same' },
  {
    name: "2×2 stride 1 'same' (pad bottom/right)",
    N: 1,
    H: 4,
    W: 5,
    C: 2,
    KH: 2,
    KW: 2,
    SH: 1,
    SW: 1,
    padding: 'same',
  },
  {
    name: 'explicit asymmetric pad',
    N: 1,
    H: 5,
    W: 4,
    C: 1,
    KH: 3,
    KW: 2,
    SH: 2,
    SW: 1,
    padding: [
      [1, 0],
      [0, 1],
    ],
  },
];

describe('pooling gradients', () => {
  POOL_CASES.forEach((pc, ci) => {
    const { N, H, W, C, KH, KW, SH, SW } = pc;
    const pad = resolvePadding(pc.padding, H, W, KH, KW, SH, SW);
    const xSize = N * H * W * C;

    it(`max pool: ${pc.name}`, () => {
      const rng = makeRng(200 + ci);
      // Distinct values: no ties, so the argmax is stable under a 1e-6 nudge.
      const x = distinctValues(xSize, rng);
      const { out, argmax } = maxPoolForward(x, N, H, W, C, KH, KW, SH, SW, pad);
      const r = rng.fill(out.length, -1, 1);
      const dx = maxPoolBackward(r, argmax, xSize);
      expectGradMatches(
        `max ${pc.name} dx`,
        dx,
        () => dot(maxPoolForward(x, N, H, W, C, KH, KW, SH, SW, pad).out, r),
        x,
      );
    });

    it(`avg pool: ${pc.name}`, () => {
      const rng = makeRng(300 + ci);
      const x = rng.fill(xSize, -1, 1);
      const { out } = avgPoolForward(x, N, H, W, C, KH, KW, SH, SW, pad);
      const r = rng.fill(out.length, -1, 1);
      const dx = avgPoolBackward(r, N, H, W, C, KH, KW, SH, SW, pad);
      expectGradMatches(
        `avg ${pc.name} dx`,
        dx,
        () => dot(avgPoolForward(x, N, H, W, C, KH, KW, SH, SW, pad).out, r),
        x,
      );
    });
  });
});

describe('dense, activation and loss gradients', () => {
  for (const fused of [false, true]) {
    it(`dense${fused ? ' with fused relu' : ''}`, () => {
      const [N, IN, OUT] = [3, 5, 4];
      const rng: Rng = makeRng(fused ? 401 : 400);
      const x = rng.fill(N * IN, -1, 1);
      const w = rng.fill(IN * OUT, -1, 1);
      const b = rng.fill(OUT, -1, 1);
      const fwd = () => denseForward(x, w, b, N, IN, OUT, fused);
      const out = fwd();
      const r = rng.fill(out.length, -1, 1);
      const { dx, dw, db } = denseBackward(fused ? reluBackward(r, out) : r, x, w, N, IN, OUT);
      const loss = () => dot(fwd(), r);
      expectGradMatches('dense dx', dx, loss, x);
      expectGradMatches('dense dw', dw, loss, w);
      expectGradMatches('dense db', db, loss, b);
    });
  }

  it('relu away from 0', () => {
    const rng = makeRng(500);
    const x = distinctValues(40, rng);
    const r = rng.fill(40, -1, 1);
    expectGradMatches('relu dx', reluBackward(r, x), () => dot(relu(x), r), x);
  });

  it('softmax cross-entropy', () => {
    const [rows, cols] = [4, 5];
    const rng = makeRng(600);
    const logits = rng.fill(rows * cols, -3, 3);
    const y = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) y[i * cols + ((i * 3) % cols)] = 1;
    const { dlogits } = softmaxCrossEntropy(logits, y, rows, cols);
    expectGradMatches('softmax CE dlogits', dlogits, () => softmaxCrossEntropy(logits, y, rows, cols).loss, logits);
  });

  it('softmax is stable and the loss takes known values', () => {
    const p = softmax([1000, 1001, -1000, -1000], 2, 2);
    expectClose(p, [1 / (1 + Math.E), Math.E / (1 + Math.E), 0.5, 0.5], { atol: 1e-15, rtol: 0, label: 'softmax' });
    // Uniform logits: loss = log(cols) for any label.
    expect(softmaxCrossEntropy([7, 7, 7, 7], [0, 0, 1, 0], 1, 4).loss).toBeCloseTo(Math.log(4), 14);
    // A huge margin against the label stays finite: loss ≈ margin.
    expect(softmaxCrossEntropy([0, 2000], [1, 0], 1, 2).loss).toBeCloseTo(2000, 9);
  });
});

describe('optimizers', () => {
  it('SGD with momentum 0.9 over two steps', () => {
    // lr 0.1, g = 0.5 then -0.2:
    // v1 = -0.05, p1 = 0.95; v2 = 0.9·(-0.05) + 0.02 = -0.025, p2 = 0.925.
    const p = new Float64Array([1]);
    const v = new Float64Array(1);
    sgdStep(p, [0.5], v, 0.1, 0.9, false);
    expectClose(p, [0.95], { atol: 1e-15, rtol: 0, label: 'sgd p1' });
    expectClose(v, [-0.05], { atol: 1e-15, rtol: 0, label: 'sgd v1' });
    sgdStep(p, [-0.2], v, 0.1, 0.9, false);
    expectClose(p, [0.925], { atol: 1e-15, rtol: 0, label: 'sgd p2' });
    expectClose(v, [-0.025], { atol: 1e-15, rtol: 0, label: 'sgd v2' });
  });

  it('SGD with Nesterov momentum over two steps', () => {
    // p1 = 1 + 0.9·(-0.05) - 0.05 = 0.905; p2 = 0.905 + 0.9·(-0.025) + 0.02 = 0.9025.
    const p = new Float64Array([1]);
    const v = new Float64Array(1);
    sgdStep(p, [0.5], v, 0.1, 0.9, true);
    expectClose(p, [0.905], { atol: 1e-15, rtol: 0, label: 'nesterov p1' });
    sgdStep(p, [-0.2], v, 0.1, 0.9, true);
    expectClose(p, [0.9025], { atol: 1e-15, rtol: 0, label: 'nesterov p2' });
    expectClose(v, [-0.025], { atol: 1e-15, rtol: 0, label: 'nesterov v2' });
  });

  it('plain SGD leaves the velocity alone', () => {
    const p = new Float64Array([1, -2]);
    const v = new Float64Array(2);
    sgdStep(p, [0.5, -1], v, 0.1, 0, false);
    expectClose(p, [0.95, -1.9], { atol: 1e-15, rtol: 0, label: 'sgd p' });
    expect(Array.from(v)).toEqual([0, 0]);
  });

  it('one Adam step from zero moments moves p by about lr·sign(g)', () => {
    // m = 0.1g, v = 0.001g², alpha = lr·sqrt(0.001)/0.1, so the step is
    // lr·sqrt(0.001)|g| / (sqrt(0.001)|g| + eps) · sign(g) ≈ lr·sign(g).
    const lr = 0.001;
    const g = [0.5, -2, 1e-3];
    const p = new Float64Array([1, 1, 1]);
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    adamStep(p, g, m, v, 1, lr);
    expectClose(p.subarray(0, 2), [1 - lr, 1 + lr], { atol: 1e-8, rtol: 0, label: 'adam p' });
    expectClose(m, [0.05, -0.2, 1e-4], { atol: 1e-15, rtol: 1e-12, label: 'adam m' });
    expectClose(v, [0.00025, 0.004, 1e-9], { atol: 1e-18, rtol: 1e-12, label: 'adam v' });
    // A tiny gradient exposes where eps goes. Keras adds it to the uncorrected
    // sqrt(v) = sqrt(0.001)·|g| ≈ 3.16e-5, shrinking the step to ≈ 0.99685·lr;
    // the paper's form (eps on sqrt(v̂) = |g|) would give 0.9999·lr.
    const s = Math.sqrt(0.001) * 1e-3;
    expect((1 - p[2]!) / lr).toBeCloseTo(s / (s + 1e-7), 12);
    expect((1 - p[2]!) / lr).toBeLessThan(0.997);
  });

  it('Adam with a constant gradient steps by about lr every time (bias correction)', () => {
    const p = new Float64Array([0]);
    const m = new Float64Array(1);
    const v = new Float64Array(1);
    for (let t = 1; t <= 3; t++) adamStep(p, [0.3], m, v, t, 0.01);
    // Corrected moments equal g and g², so each step is lr up to eps (~1e-5 relative here).
    expectClose(p, [-0.03], { atol: 1e-6, rtol: 0, label: 'adam 3 steps' });
  });
});

describe('helpers', () => {
  it('makeRng is deterministic and in range', () => {
    const a = makeRng(42).fill(100, -2, 3);
    const b = makeRng(42).fill(100, -2, 3);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(makeRng(43).fill(100, -2, 3))).not.toEqual(Array.from(a));
    for (const x of a) expect(x >= -2 && x < 3).toBe(true);
  });

  it('distinctValues has no ties and nothing near 0', () => {
    const vals = Array.from(distinctValues(600, makeRng(7))).sort((p, q) => p - q);
    for (let i = 0; i < vals.length; i++) {
      expect(Math.abs(vals[i]!)).toBeGreaterThan(1e-3);
      if (i > 0) expect(vals[i]! - vals[i - 1]!).toBeGreaterThan(1e-3);
    }
  });

  it('expectClose reports label, first mismatches and max diff', () => {
    expectClose([1, 2, 3], [1, 2 + 1e-9, 3], { atol: 1e-8, rtol: 0 });
    expectClose([-Infinity], [-Infinity]);
    let message = '';
    try {
      expectClose([1, 5, 3, NaN], [1, 2, 3, 4], { atol: 1e-6, rtol: 0, label: 'demo' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('demo');
    expect(message).toContain('[1] actual 5 expected 2');
    expect(message).toContain('[3] actual NaN expected 4');
    expect(message).toContain('max abs diff');
  });

  it('relErr and numericGrad', () => {
    expect(relErr(1, 1.1)).toBeCloseTo(0.1 / 1.1, 15);
    expect(relErr(0, 0)).toBe(0);
    const x = new Float64Array([1, -2, 3]);
    // f = x0² + x1·x2 -> grad (2x0, x2, x1)
    const g = numericGrad((v) => v[0]! * v[0]! + v[1]! * v[2]!, x);
    expectClose(g, [2, 3, -2], { atol: 1e-8, rtol: 0, label: 'numericGrad' });
    expect(Array.from(x)).toEqual([1, -2, 3]); // restored
  });
});
