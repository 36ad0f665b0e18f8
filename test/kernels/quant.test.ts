// The 8-bit kernels against the integer references of test/ref/quant.ts, bit for bit: quantize/dequantize
// (ties, saturation, int8/uint8, per channel), requantization (rounding ties of both steps, clamps,
// extreme accumulators), the int8 GEMM over XNNPACK-style sweeps (k < 8, k = 8, k > 8, odd K, column
// tails, row tails, strided A and C, zero points other than 0), the int8 convolution (the direct path,
// odd window rows padded by a zero row, and im2col for dilation along W) and the int8 depthwise convolution (row cuts give the same bits).
// Guard bytes after every output.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng, type Rng } from '../helpers/check.js';
import {
  dequantizeRef,
  qconv2dAccRef,
  type QGeom,
  qgemmAccRef,
  requantRef,
  quantizeRef,
  requantizeRef,
  type ReqRef,
} from '../ref/quant.js';
import { geomPtr, seedOf } from './harness.js';

const GUARD = 0xa5;
const k = () => sn.getEngine().k;
const arena = () => adv.getArena();
const blocks: number[] = [];

// A block of `bytes` (plus 16 guard bytes), filled from `init` (written as bytes, i32 or f32 by kind).
function block(bytes: number): number {
  const p = arena().alloc(bytes + 16);
  arena()
    .u8()
    .fill(GUARD, p + bytes, p + bytes + 16);
  blocks.push(p);
  return p;
}
const i8 = (v: ArrayLike<number>) => {
  const p = block(v.length);
  new Int8Array(arena().u8().buffer).set(v, p);
  return p;
};
// i16 values (the GEMM's widened A), plus the 2 bytes an odd K's last pair reads past them
const i16 = (v: ArrayLike<number>) => {
  const p = block(v.length * 2 + 2);
  new Int16Array(arena().u8().buffer, p, v.length).set(v);
  return p;
};
const i32 = (v: ArrayLike<number>) => {
  const p = block(v.length * 4);
  arena()
    .i32()
    .set(v, p >>> 2);
  return p;
};
const f32 = (v: ArrayLike<number>) => {
  const p = block(v.length * 4);
  arena()
    .f32()
    .set(v, p >>> 2);
  return p;
};
const readI8 = (p: number, n: number) => Int32Array.from(new Int8Array(arena().u8().buffer, p, n));
const readU8 = (p: number, n: number) =>
  Int32Array.from(
    arena()
      .u8()
      .subarray(p, p + n),
  );
const guardOk = (p: number, bytes: number) =>
  arena()
    .u8()
    .subarray(p + bytes, p + bytes + 16)
    .every((b) => b === GUARD);
function freeAll(): void {
  for (const p of blocks.splice(0)) arena().release(p);
}

const ints = (rng: Rng, n: number, lo: number, hi: number) =>
  Int32Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));

/** The requantization block of quant.ts: [zp, qmin, qmax, 0 | scale f32 (NP) | unused (NP)]. */
function reqBlock(r: ReqRef, N: number): number {
  const NP = Math.ceil(N / 8) * 8;
  const v = new Int32Array(4 + 2 * NP);
  v.set([r.zp, r.qmin, r.qmax, 0]);
  new Float32Array(v.buffer, 16, NP).set(Array.from(r.scale));
  expect(v.length * 4).toBe(k().requant_size(N));
  return i32(v);
}

/** Random per-channel requantization: float32 scales about 2^-lo .. 2^-hi. */
function randomReq(rng: Rng, N: number, zp: number, qmin = -128, qmax = 127, lo = 4, hi = 12): ReqRef {
  const scale = Array.from({ length: N }, () => Math.fround(2 ** -(lo + rng.next() * (hi - lo))));
  return { scale, zp, qmin, qmax };
}

describe('requantize', () => {
  it('ties, clamps, scales above 1 and extreme accumulators (float32 conversion of large ones rounds)', () => {
    const accs = [
      0,
      1,
      -1,
      2,
      -2,
      3,
      -3,
      5,
      -5,
      6,
      -6,
      7,
      -7,
      2 ** 31 - 1,
      -(2 ** 31),
      1 << 30,
      -(1 << 30),
      2 ** 24 + 1, // not a float32: converts to 2^24
      -(2 ** 24 + 3),
      12345,
      -12345,
    ];
    // 0.5 and 0.25 make exact ties (round half to even); 2^-30 keeps large accumulators in range, 3 and 1e9
    // push past it (clamped); 1e-45 is the smallest float32 (subnormal: everything rounds to 0).
    for (const scale of [0.5, 0.25, 2 ** -30, 0.3, 3, 1e9, Math.fround(1e-45)])
      for (const [zp, qmin, qmax] of [
        [0, -128, 127],
        [-5, -5, 127],
        [10, 10, 60],
        [127, -128, 127],
        [-128, -128, 127],
      ] as const) {
        const N = accs.length;
        const r: ReqRef = { scale: Array(N).fill(Math.fround(scale)), zp, qmin, qmax };
        const out = block(N);
        k().requantize(out, i32(accs), reqBlock(r, N), 1, N);
        expect(readI8(out, N), `scale ${scale} zp ${zp} [${qmin}, ${qmax}]`).toEqual(requantizeRef(accs, N, r));
        expect(guardOk(out, N)).toBe(true);
        freeAll();
      }
    // the ties themselves, spelled out: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2, -3 * 0.5 = -1.5 -> -2
    expect([3, 5, -3, -5, 7].map((a) => requantRef(a, 0.5, 0, -128, 127))).toEqual([2, 2, -2, -2, 4]);
  });

  it('random accumulators, per-channel multipliers, N around the tile width', () => {
    const rng = makeRng(seedOf('requantize random'));
    for (const N of [1, 3, 4, 7, 8, 9, 15, 16, 17, 33]) {
      const M = 3;
      const acc = ints(rng, M * N, -(2 ** 20), 2 ** 20);
      const r = randomReq(rng, N, N % 3 === 0 ? -7 : 21, -128, 127, 8, 16);
      const out = block(M * N);
      k().requantize(out, i32(acc), reqBlock(r, N), M, N);
      expect(readI8(out, M * N), `N=${N}`).toEqual(requantizeRef(acc, N, r));
      expect(guardOk(out, M * N)).toBe(true);
      freeAll();
    }
  });
});

describe('quantize / dequantize', () => {
  const values = (rng: Rng, n: number) =>
    Float32Array.from({ length: n }, (_, i) =>
      // exact ties x.5 of the power-of-two scale, saturating values, and plain ones
      i % 5 === 0
        ? (Math.floor(rng.next() * 40) - 20 + 0.5) * 0.25
        : i % 7 === 0
          ? i % 2
            ? 1e4
            : -1e4
          : rng.uniform(-9, 9),
    );
  for (const [label, qmin, qmax, zp] of [
    ['int8 zp=0', -128, 127, 0],
    ['int8 zp=-9', -128, 127, -9],
    ['uint8 zp=128', 0, 255, 128],
    ['uint8 zp=3', 0, 255, 3],
  ] as const)
    for (const n of [1, 3, 4, 5, 17, 64]) {
      it(`per tensor ${label} n=${n}`, () => {
        const rng = makeRng(seedOf(`quantize ${label} ${n}`));
        const x = values(rng, n);
        const out = block(n),
          back = block(4 * n);
        const scales = f32([0.25]),
          zps = i32([zp]);
        k().quantize(out, f32(x), scales, zps, n, 1, qmin, qmax);
        const q = qmin < 0 ? readI8(out, n) : readU8(out, n);
        expect(q).toEqual(quantizeRef(x, [0.25], [zp], qmin, qmax));
        k().dequantize(back, out, scales, zps, n, 1, qmin < 0 ? 1 : 0);
        expect(
          arena()
            .f32()
            .slice(back >>> 2, (back >>> 2) + n),
        ).toEqual(dequantizeRef(q, [0.25], [zp]));
        expect(guardOk(out, n) && guardOk(back, 4 * n)).toBe(true);
        freeAll();
      });
    }

  it('per channel, symmetric int8, C=5 and C=8, non-power-of-two scales', () => {
    const rng = makeRng(seedOf('quantize per channel'));
    for (const C of [5, 8]) {
      const n = 7 * C;
      const x = values(rng, n);
      const sc = Float32Array.from({ length: C }, () => rng.uniform(0.01, 0.2));
      const zp = new Int32Array(C);
      const out = block(n),
        back = block(4 * n);
      k().quantize(out, f32(x), f32(sc), i32(zp), n, C, -127, 127);
      const q = readI8(out, n);
      expect(q).toEqual(quantizeRef(x, sc, zp, -127, 127));
      k().dequantize(back, out, f32(sc), i32(zp), n, C, 1);
      expect(
        arena()
          .f32()
          .slice(back >>> 2, (back >>> 2) + n),
      ).toEqual(dequantizeRef(q, sc, zp));
      freeAll();
    }
  });
});

// One int8 GEMM through qgemm_pack + qgemm (A widened to i16 with row stride lda >= K, C with ldc >= N).
function runQgemm(
  a: Int32Array,
  w: Int32Array,
  bias: Int32Array | null,
  r: ReqRef,
  M: number,
  N: number,
  K: number,
  za: number,
  lda = K,
  ldc = N,
): Int32Array {
  const aPad = new Int32Array(M * lda);
  for (let i = 0; i < M; i++) aPad.set(a.subarray(i * K, i * K + K), i * lda);
  const packed = block(k().qgemm_pack_size(K, N));
  k().qgemm_pack(packed, i8(w), bias ? i32(bias) : 0, K, N, za);
  const c = block(M * ldc);
  arena()
    .u8()
    .fill(GUARD, c, c + M * ldc);
  k().qgemm(c, i16(aPad), packed, reqBlock(r, N), M, N, K, 2 * lda, ldc);
  expect(guardOk(c, M * ldc), 'guard after C').toBe(true);
  const out = new Int32Array(M * N);
  const all = readI8(c, M * ldc);
  for (let i = 0; i < M; i++) {
    out.set(all.subarray(i * ldc, i * ldc + N), i * N);
    // bytes between N and ldc are never written
    for (let j = N; j < ldc; j++) expect(all[i * ldc + j], `C[${i}][${j}] past N`).toBe(GUARD - 256);
  }
  return out;
}

describe('qgemm', () => {
  const Ks = [1, 2, 3, 7, 8, 9, 15, 16, 33];
  const Ns = [1, 3, 7, 8, 9, 16, 17, 23];
  for (const K of Ks)
    it(`K=${K}: M 1..9, N ${Ns.join('/')}, zero points 0/-3/100/-128`, () => {
      const rng = makeRng(seedOf(`qgemm K=${K}`));
      for (const M of [1, 2, 3, 4, 5, 7, 9])
        for (const N of Ns) {
          const za = [0, -3, 100, -128][(M + N) % 4]!;
          const a = ints(rng, M * K, -128, 127),
            w = ints(rng, K * N, -127, 127);
          const bias = (M + N) % 3 ? ints(rng, N, -5000, 5000) : null;
          const r = randomReq(rng, N, (N % 5) * 13 - 30, -128, 127, 6, 12);
          const got = runQgemm(a, w, bias, r, M, N, K, za);
          const want = requantizeRef(qgemmAccRef(a, w, bias, M, N, K, za), N, r);
          expect(got, `M=${M} N=${N} K=${K} za=${za}`).toEqual(want);
          freeAll();
        }
    });

  it('strided A and C (lda > K, ldc > N)', () => {
    const rng = makeRng(seedOf('qgemm strided'));
    for (const [M, N, K] of [
      [5, 9, 11],
      [4, 8, 8],
      [7, 3, 5],
    ] as const) {
      const a = ints(rng, M * K, -128, 127),
        w = ints(rng, K * N, -127, 127);
      const r = randomReq(rng, N, 4);
      expect(runQgemm(a, w, null, r, M, N, K, 7, K + 5, N + 3)).toEqual(
        requantizeRef(qgemmAccRef(a, w, null, M, N, K, 7), N, r),
      );
      freeAll();
    }
  });

  it('saturation: extreme inputs against large multipliers clamp to qmin/qmax; relu/relu6 as clamps', () => {
    const [M, N, K] = [5, 11, 40];
    for (const [aval, wval] of [
      [127, 127],
      [-128, 127],
      [-128, -127],
    ] as const)
      for (const [zp, qmin, qmax] of [
        [0, -128, 127],
        [-20, -20, 127],
        [-20, -20, 25],
      ] as const) {
        const a = new Int32Array(M * K).fill(aval),
          w = new Int32Array(K * N).map((_, i) => ((i % N) % 2 ? wval : -wval));
        const r: ReqRef = { scale: Array(N).fill(Math.fround(0.6)), zp, qmin, qmax };
        const got = runQgemm(a, w, null, r, M, N, K, 0);
        expect(got).toEqual(requantizeRef(qgemmAccRef(a, w, null, M, N, K, 0), N, r));
        expect(new Set(got)).toEqual(new Set([qmin, qmax]));
        freeAll();
      }
  });
});

interface ConvCase extends QGeom {
  N: number;
  MB: number;
}

function convCase(
  N: number,
  H: number,
  W: number,
  C: number,
  K: number,
  KH: number,
  KW: number,
  S: number,
  P: number,
  D = 1,
  MB = 8,
): ConvCase {
  const OH = Math.floor((H + 2 * P - D * (KH - 1) - 1) / S) + 1,
    OW = Math.floor((W + 2 * P - D * (KW - 1) - 1) / S) + 1;
  return { N, H, W, C, K, KH, KW, SH: S, SW: S, PT: P, PL: P, OH, OW, DH: D, DW: D, MB };
}

const CONV_CASES: ConvCase[] = [
  convCase(2, 5, 6, 3, 5, 3, 3, 1, 1),
  convCase(1, 7, 7, 8, 8, 3, 3, 2, 1, 1, 5),
  convCase(3, 4, 4, 17, 9, 1, 1, 1, 0), // 1x1: im2col is a widening copy
  convCase(1, 6, 5, 16, 19, 1, 1, 2, 0),
  convCase(1, 9, 9, 2, 3, 3, 3, 1, 2, 2, 100), // dilation 2, one block
  convCase(1, 7, 8, 3, 4, 3, 3, 1, 2, 2, 5), // dilation 2 and odd window rows: im2col with the zero rows' taps
  convCase(2, 5, 4, 1, 4, 2, 3, 1, 0, 1, 3),
  convCase(1, 3, 3, 5, 7, 5, 5, 1, 2), // window larger than the image: mostly padding
  // more shapes of the direct path (windows read from the padded i16 image)
  convCase(2, 7, 9, 4, 10, 5, 5, 1, 2), // the seed model's 5x5 'same' shape, a column tail
  convCase(1, 6, 7, 6, 9, 3, 3, 1, 1, 1, 4), // OW = 7: tiles of 4 pixels span output rows
  convCase(1, 9, 8, 3, 5, 3, 4, 2, 1), // stride 2, a 3x4 window
  convCase(1, 4, 5, 2, 3, 5, 5, 1, 3), // padding wider than the image
  convCase(1, 8, 8, 2, 6, 3, 3, 3, 0), // stride 3: the last columns and rows are never read
  // weights over 16 KB (23 KB of panels): panel by panel over the pixels; the cases above go pixels first
  convCase(1, 6, 7, 32, 40, 3, 3, 1, 1),
];

describe('qconv2d_forward', () => {
  for (const c of CONV_CASES) {
    const name = `x=[${c.N},${c.H},${c.W},${c.C}] f=[${c.KH},${c.KW},${c.C},${c.K}] s=${c.SH} p=${c.PT} d=${c.DH} MB=${c.MB}`;
    it(name, () => {
      const rng = makeRng(seedOf(name));
      for (const za of [0, -11, 90]) {
        const KK = c.KH * c.KW * c.C;
        const x = ints(rng, c.N * c.H * c.W * c.C, -128, 127),
          w = ints(rng, KK * c.K, -127, 127),
          bias = ints(rng, c.K, -3000, 3000);
        const r = randomReq(rng, c.K, -4, -4, 127, 6, 11);
        const packed = block(k().qconv2d_pack_size(c.KH, c.KW * c.C, c.K));
        k().qconv2d_pack(packed, i8(w), i32(bias), c.KH, c.KW * c.C, c.K, za);
        const n = c.N * c.OH * c.OW * c.K;
        const out = block(n);
        const geom = geomPtr(c);
        const scratch = block(k().qconv2d_scratch_size(geom, c.MB));
        const args = [i8(x), packed, reqBlock(r, c.K), scratch, geom, c.N, c.MB, za] as const;
        const M = c.OH * c.OW;
        k().qconv2d_forward(out, ...args, 0, M);
        // the output pixels in two ranges, as the ops cut a batch of one across threads
        const cut = block(n);
        const mid = Math.floor(M / 2) + 1;
        k().qconv2d_forward(cut, ...args, 0, mid);
        k().qconv2d_forward(cut, ...args, mid, M);
        arena().release(geom);
        const want = requantizeRef(qconv2dAccRef(x, w, bias, c, c.N, za), c.K, r);
        expect(readI8(out, n), `za=${za}`).toEqual(want);
        expect(readI8(cut, n), `za=${za}, two pixel ranges`).toEqual(want);
        expect(guardOk(out, n) && guardOk(cut, n)).toBe(true);
        freeAll();
      }
    });
  }
});

const DW_CASES: ConvCase[] = [
  convCase(2, 6, 5, 1, 1, 3, 3, 1, 1),
  convCase(1, 7, 7, 8, 8, 3, 3, 1, 1),
  convCase(2, 5, 6, 9, 9, 3, 3, 2, 1),
  convCase(1, 9, 8, 23, 23, 5, 5, 1, 2),
  convCase(1, 8, 8, 16, 16, 3, 3, 1, 2, 2),
  convCase(1, 4, 4, 5, 5, 1, 1, 1, 0),
];

describe('qdwconv2d_forward', () => {
  for (const c of DW_CASES) {
    const name = `x=[${c.N},${c.H},${c.W},${c.C}] f=[${c.KH},${c.KW},${c.C},1] s=${c.SH} p=${c.PT} d=${c.DH}`;
    it(name, () => {
      const rng = makeRng(seedOf(`dw ${name}`));
      for (const [za, withBias] of [
        [0, true],
        [-37, false],
        [127, true],
      ] as const) {
        const x = ints(rng, c.N * c.H * c.W * c.C, -128, 127),
          w = ints(rng, c.KH * c.KW * c.C, -127, 127),
          bias = withBias ? ints(rng, c.C, -3000, 3000) : null;
        const r = randomReq(rng, c.C, 5, 5, 100, 5, 10);
        const n = c.N * c.OH * c.OW * c.C;
        const [whole, cut] = [block(n), block(n)];
        const geom = geomPtr(c);
        const pack = block(k().qdwconv2d_pack_bytes(geom));
        k().qdwconv2d_pack(pack, i8(w), bias ? i32(bias) : 0, za, geom);
        const args = [i8(x), pack, reqBlock(r, c.C), geom, c.N] as const;
        k().qdwconv2d_forward(whole, ...args, 0, c.OH);
        // rows in two ranges, as the ops cut a batch of one across threads
        const mid = Math.floor(c.OH / 2);
        k().qdwconv2d_forward(cut, ...args, 0, mid);
        k().qdwconv2d_forward(cut, ...args, mid, c.OH);
        arena().release(geom);
        const want = requantizeRef(qconv2dAccRef(x, w, bias, c, c.N, za, true), c.C, r);
        expect(readI8(whole, n), `za=${za}`).toEqual(want);
        expect(readI8(cut, n), `za=${za}, two row ranges`).toEqual(want);
        expect(guardOk(whole, n) && guardOk(cut, n)).toBe(true);
        freeAll();
      }
    });
  }
});
