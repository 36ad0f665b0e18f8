// Integer Winograd F(2x2, 3x3) for the int8 convolution (assembly/kernels/qwinograd.ts through qconv2d's
// algorithm option): exact, so every case must give the bits of the direct kernel (itself checked against
// integer references in quant.test.ts), and one case against the exact integer sums directly. Cases cover
// 3x3 and 5x5 kernels (F(4, 5) along the rows up to 328 channels, four 3x3 pieces beyond) and other sizes
// forced, channel counts off 8, odd output sizes (edge tiles), paddings, zero points at the ends, batches cut
// into image parts, and sums large enough that the transforms' int32 intermediates wrap. Errors: an inapplicable geometry is refused by name.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { type QTensor, qtensor } from '../../src/ops/quant.js';
import { qconv2d, qpack } from '../../src/ops/qgemm.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { qconv2dAccRef, requantRef } from '../ref/quant.js';
import { expectError, sameBitsAcrossThreads } from './harness.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;

const ints = (rng: Rng, n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));

type Pad = 'same' | 'valid' | [[number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  K: number;
  pad: Pad;
  za: number;
  act: 'linear' | 'relu' | 'relu6';
  /**
   * Inputs and weights at the ends of their ranges, each pixel's value and each tap's weight the same in
   * every channel, so the channel sums add up instead of cancelling and the int32 intermediates wrap.
   */
  extreme?: boolean;
}

const CASES: Case[] = [
  { x: [1, 8, 8, 8], k: [3, 3], K: 8, pad: 'same', za: 0, act: 'linear' },
  { x: [2, 7, 9, 13], k: [3, 3], K: 11, pad: 'same', za: -17, act: 'relu' },
  { x: [3, 14, 14, 64], k: [3, 3], K: 64, pad: 'same', za: 5, act: 'relu6' },
  { x: [1, 9, 6, 3], k: [3, 3], K: 20, pad: 'valid', za: 90, act: 'linear' },
  {
    x: [2, 11, 10, 5],
    k: [3, 3],
    K: 9,
    pad: [
      [0, 2],
      [1, 0],
    ],
    za: -128,
    act: 'linear',
  },
  { x: [2, 12, 11, 7], k: [5, 5], K: 10, pad: 'same', za: 3, act: 'relu' },
  { x: [1, 28, 28, 32], k: [5, 5], K: 32, pad: 'same', za: -128, act: 'relu' },
  { x: [1, 8, 9, 6], k: [2, 4], K: 5, pad: 'valid', za: 11, act: 'linear' },
  { x: [1, 10, 10, 9], k: [7, 1], K: 8, pad: 'same', za: -3, act: 'linear' },
  { x: [5, 5, 5, 17], k: [3, 3], K: 16, pad: 'same', za: 127, act: 'linear', extreme: true },
  { x: [1, 6, 6, 600], k: [3, 3], K: 8, pad: 'same', za: 0, act: 'linear', extreme: true },
  { x: [1, 7, 7, 200], k: [5, 5], K: 8, pad: 'same', za: -128, act: 'linear', extreme: true },
  // 5x5 by F(4, 5) along the rows: 'valid', lopsided explicit padding, odd channels, partial row tiles, and
  // 328 channels of extreme values (the largest sums it takes; its position sums wrap int32 on the way)
  { x: [3, 10, 13, 9], k: [5, 5], K: 13, pad: 'valid', za: 40, act: 'relu6' },
  {
    x: [1, 9, 14, 16],
    k: [5, 5],
    K: 16,
    pad: [
      [3, 1],
      [0, 4],
    ],
    za: -20,
    act: 'linear',
  },
  { x: [1, 9, 9, 328], k: [5, 5], K: 8, pad: 'same', za: -128, act: 'linear', extreme: true },
  // past 328 channels a 5x5 kernel goes back to four 3x3 pieces
  { x: [1, 6, 6, 400], k: [5, 5], K: 8, pad: 'same', za: 0, act: 'linear', extreme: true },
];

const describeCase = (c: Case) =>
  `x=[${c.x}] ${c.k[0]}x${c.k[1]} K=${c.K} pad=${JSON.stringify(c.pad)} za=${c.za} ${c.act}${c.extreme ? ' extreme' : ''}`;

function make(c: Case, seed: number) {
  const rng = makeRng(seed);
  const [N, H, W, C] = c.x;
  const [KH, KW] = c.k;
  const nx = N * H * W * C,
    nw = KH * KW * C * c.K;
  const ends = (n: number) => ints(rng, n, 0, 1).map((b) => (b ? 127 : -128));
  let xv: number[], wv: number[];
  if (c.extreme) {
    const px = ends(N * H * W),
      taps = ends(KH * KW * c.K);
    xv = Array.from({ length: nx }, (_, i) => px[Math.floor(i / C)]!);
    wv = Array.from({ length: nw }, (_, i) => taps[Math.floor(i / (C * c.K)) * c.K + (i % c.K)]!);
  } else {
    xv = ints(rng, nx, -128, 127);
    wv = ints(rng, nw, -127, 127);
  }
  const x = qtensor(xv, c.x, { scale: 0.05, zeroPoint: c.za });
  const wscale = Array.from({ length: c.K }, () => 0.001 + 0.01 * rng.next());
  const w = qtensor(wv, [KH, KW, C, c.K], { scale: wscale });
  const bias = sn.tensor(
    Float32Array.from({ length: c.K }, () => 4 * (rng.next() - 0.5)),
    [c.K],
  );
  // an output scale that spreads the sums over the int8 range without saturating most of them
  const taps = KH * KW * C;
  const typical = c.extreme ? C * Math.sqrt(KH * KW) * 128 * 128 : Math.sqrt(taps) * 74 * 74;
  const outScale = (0.05 * 0.006 * typical) / 64;
  const opts = { padding: c.pad, outScale, outZeroPoint: -7, activation: c.act, bias };
  return { x, w, bias, opts };
}

function run(fn: (dispose: Array<{ dispose(): void }>) => void): void {
  const live = adv.getArena().liveBytes;
  const ts: Array<{ dispose(): void }> = [];
  try {
    fn(ts);
  } finally {
    for (const t of ts) t.dispose();
  }
  expect(adv.getArena().liveBytes, 'everything allocated was released').toBe(live);
}

describe('integer Winograd gives the bits of the direct int8 convolution', () => {
  CASES.forEach((c, i) =>
    it(describeCase(c), async () => {
      await sn.ready();
      run((ts) => {
        const { x, w, bias, opts } = make(c, 101 + i);
        ts.push(x, w, bias);
        const direct = qconv2d(x, w, { ...opts, algorithm: 'direct' });
        const wino = qconv2d(x, w, { ...opts, algorithm: 'winograd' });
        ts.push(direct, wino);
        const d = direct.values();
        expect(wino.shape).toEqual(direct.shape);
        expect(wino.values()).toEqual(d);
        // outputs spread over many values, so a wrong sum would show
        expect(new Set(d).size).toBeGreaterThan(c.extreme || c.act === 'relu6' ? 3 : 20);
        // image parts (a batch of one cut across threads) and whole images agree: one image alone
        if (c.x[0] > 1) {
          const one = qtensor(Array.from(x.values()).slice(0, (x.size / c.x[0]) | 0), [1, ...c.x.slice(1)], {
            scale: 0.05,
            zeroPoint: c.za,
          });
          ts.push(one);
          const y1 = qconv2d(one, w, { ...opts, algorithm: 'winograd' });
          ts.push(y1);
          expect(y1.values()).toEqual(d.slice(0, y1.size));
        }
      });
    }),
  );

  it('against the exact integer sums: a 3x3 convolution requantized by 1/2 (multiplier 2^30, shift 0)', async () => {
    await sn.ready();
    run((ts) => {
      const rng = makeRng(7);
      const [N, H, W, C, K] = [2, 7, 6, 5, 9];
      // small inputs and weights keep most halved sums inside int8
      const xv = ints(rng, N * H * W * C, -50, 50);
      const wv = ints(rng, 9 * C * K, -1, 1);
      const x = qtensor(xv, [N, H, W, C], { scale: 1, zeroPoint: 3 });
      const w = qtensor(wv, [3, 3, C, K], { scale: 1 / 64 });
      ts.push(x, w);
      const y = qconv2d(x, w, { padding: 'same', outScale: 2 / 64, algorithm: 'winograd' });
      ts.push(y);
      const g = { H, W, C, K, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: H, OW: W, DH: 1, DW: 1 };
      const acc = qconv2dAccRef(xv, wv, null, g, N, 3);
      const want = Array.from(acc, (v) => requantRef(v, 0.5, 0, -128, 127));
      expect(want.filter((v) => v > -128 && v < 127).length, 'most sums inside int8').toBeGreaterThan(acc.length * 0.6);
      expect(Array.from(y.values())).toEqual(want);
    });
  });

  it('a packed weight keeps its Winograd transform: same bits on every call, freed with the packed weight', async () => {
    await sn.ready();
    run((ts) => {
      const c = CASES[2]!;
      const { x, w, bias, opts } = make(c, 55);
      ts.push(x, w, bias);
      const pk = qpack(w, { scale: 0.05, zeroPoint: c.za }, opts);
      ts.push(pk);
      const direct = qconv2d(x, w, { ...opts, algorithm: 'direct' });
      const a = qconv2d(x, w, { ...opts, packed: pk });
      const b = qconv2d(x, w, { ...opts, packed: pk });
      ts.push(direct, a, b);
      expect(pk.winograd, "'auto' took Winograd and kept the transform").not.toBeNull();
      expect(a.values()).toEqual(direct.values());
      expect(b.values()).toEqual(direct.values());
    });
  });
});

describe('integer Winograd across threads', () => {
  it.runIf(build === 'threads')(
    'same bits at 1, 2 and 4 threads: batches of 1 (image parts) and 5 (shards)',
    async () => {
      await sn.ready();
      const cases = [CASES[2]!, CASES[6]!, { ...CASES[9]!, x: [5, 5, 5, 17] as Case['x'] }];
      await sameBitsAcrossThreads(() =>
        cases.flatMap((c, i) => {
          const { x, w, bias, opts } = make(c, 300 + i);
          const one = qtensor(Array.from(x.values()).slice(0, (x.size / c.x[0]) | 0), [1, ...c.x.slice(1)], {
            scale: 0.05,
            zeroPoint: c.za,
          });
          const ys = [
            qconv2d(x, w, { ...opts, algorithm: 'winograd' }),
            qconv2d(one, w, { ...opts, algorithm: 'winograd' }),
          ];
          const out = ys.map((y) => Float32Array.from(y.values()));
          for (const t of [x, w, bias, one, ...ys]) t.dispose();
          return out;
        }),
      );
    },
  );
});

describe('integer Winograd: refusals', () => {
  const base = (): { x: QTensor; w: QTensor } => {
    const rng = makeRng(3);
    return {
      x: qtensor(ints(rng, 1 * 8 * 8 * 4, -128, 127), [1, 8, 8, 4], { scale: 0.1, zeroPoint: 0 }),
      w: qtensor(ints(rng, 9 * 4 * 8, -127, 127), [3, 3, 4, 8], { scale: 0.01 }),
    };
  };
  it('stride 2 and dilation 2 are refused by name with algorithm winograd', async () => {
    await sn.ready();
    const { x, w } = base();
    try {
      expectError(
        () => qconv2d(x, w, { outScale: 1, strides: 2, algorithm: 'winograd', name: 'conv_s2' }),
        /conv_s2: integer Winograd does not apply to stride \[2, 2\]/,
      );
      expectError(
        () => qconv2d(x, w, { outScale: 1, dilationRate: 2, algorithm: 'winograd', name: 'conv_d2' }),
        /conv_d2: integer Winograd does not apply to dilation \[2, 2\]/,
      );
      expectError(
        () => qconv2d(x, w, { outScale: 1, algorithm: 'fast' as never, name: 'conv_x' }),
        /conv_x: algorithm must be one of 'auto', 'direct', 'winograd', got "fast"/,
      );
    } finally {
      x.dispose();
      w.dispose();
    }
  });
  it('sums that could overflow int32 after the transform are refused (3x3 kernels over 1,900 channels)', async () => {
    await sn.ready();
    const rng = makeRng(4);
    const C = 1900;
    const x = qtensor(ints(rng, 4 * 4 * C, -128, 127), [1, 4, 4, C], { scale: 0.1, zeroPoint: 0 });
    const w = qtensor(ints(rng, 9 * C * 8, -127, 127), [3, 3, C, 8], { scale: 0.01 });
    try {
      expectError(
        () => qconv2d(x, w, { outScale: 1, padding: 'same', algorithm: 'winograd', name: 'wide' }),
        /wide: integer Winograd does not apply to 3x3x1900 taps/,
      );
      // 'auto' falls back to the direct kernel there
      const y = qconv2d(x, w, { outScale: 100, padding: 'same' });
      y.dispose();
    } finally {
      x.dispose();
      w.dispose();
    }
  });
});
