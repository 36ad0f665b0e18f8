// The int8 depthwise convolution (assembly/kernels/qdwconv2d.ts through qdepthwiseConv2d) against the exact
// integer reference of test/ref/quant.ts, byte for byte, in every build: the zero point folded into the bias,
// taps paired for the i16 dot products, 3x3 rows with their border columns, and the generic path of other
// windows, and long stride-1 rows with the taps paired down the columns. Cases mix interior and border pixels ('same', 'valid', explicit and lopsided padding, padding
// wider than the window, a window wider than the image), strides and dilations (also different per axis),
// 1x1 to 5x5 windows with odd and even tap counts, channel counts around the 8-channel blocks, zero points at
// both ends (also from uint8 inputs), inputs and weights at the ends of int8 (saturating outputs), relu/relu6
// clamps, with and without bias, batches of 1 and 3. The raw kernel cut into arbitrary row ranges gives the op's bytes and writes
// nothing past its output; on the threads build 1, 2 and 4 threads give the same bytes.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { type QConvOptions, qdepthwiseConv2d, qtensor, requantOf, withRequant } from '../../src/ops/quant.js';
import { k } from '../../src/ops/util.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { qconv2dAccRef, type QGeom, requantizeRef, requantScaleRef, roundHalfEven } from '../ref/quant.js';
import { build, geomPtr, sameBitsAcrossThreads } from './harness.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number]];
type Pair = number | [number, number];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  s?: Pair;
  d?: Pair;
  pad: Pad;
  za: number;
  act: 'linear' | 'relu' | 'relu6';
  bias?: boolean;
  /** Inputs and weights only -128 or 127: sums at their largest, outputs saturating at both ends. */
  extreme?: boolean;
}

const CASES: Case[] = [
  { x: [1, 9, 9, 8], k: [3, 3], pad: 'same', za: 0, act: 'linear' },
  { x: [3, 7, 6, 12], k: [3, 3], pad: 'same', za: -128, act: 'relu' },
  {
    x: [1, 11, 10, 16],
    k: [3, 3],
    s: 2,
    pad: [
      [1, 1],
      [1, 1],
    ],
    za: 127,
    act: 'relu6',
  },
  { x: [1, 10, 11, 20], k: [3, 3], s: 2, pad: 'same', za: 5, act: 'linear', bias: false },
  { x: [2, 8, 8, 32], k: [3, 3], pad: 'valid', za: -3, act: 'linear' },
  { x: [1, 12, 12, 144], k: [3, 3], pad: 'same', za: 17, act: 'relu6' },
  { x: [1, 9, 10, 3], k: [3, 3], pad: 'same', za: -128, act: 'linear' },
  { x: [1, 10, 9, 16], k: [3, 3], d: 2, pad: 'same', za: 9, act: 'linear' },
  {
    x: [1, 9, 12, 20],
    k: [3, 3],
    s: [1, 2],
    d: [2, 1],
    pad: [
      [2, 0],
      [0, 3],
    ],
    za: -50,
    act: 'relu',
  },
  {
    x: [1, 4, 4, 12],
    k: [3, 3],
    pad: [
      [3, 3],
      [3, 3],
    ],
    za: 11,
    act: 'linear',
  },
  { x: [3, 9, 8, 12], k: [5, 5], pad: 'same', za: 100, act: 'linear' },
  { x: [1, 11, 11, 32], k: [5, 5], s: 2, pad: 'same', za: -128, act: 'relu6', bias: false },
  { x: [1, 9, 9, 16], k: [5, 5], d: 2, pad: 'valid', za: 0, act: 'linear' },
  { x: [1, 3, 2, 8], k: [5, 5], pad: 'same', za: 1, act: 'linear' },
  { x: [2, 5, 6, 20], k: [1, 1], pad: 'valid', za: -7, act: 'linear' },
  { x: [1, 6, 7, 12], k: [2, 4], pad: 'same', za: 60, act: 'linear' },
  { x: [2, 6, 21, 24], k: [3, 3], pad: 'same', za: -9, act: 'linear' },
  { x: [1, 5, 20, 20], k: [3, 3], pad: 'valid', za: 127, act: 'relu' },
  {
    x: [1, 5, 40, 8],
    k: [3, 3],
    pad: [
      [0, 1],
      [2, 1],
    ],
    za: -128,
    act: 'relu6',
    bias: false,
  },
  { x: [3, 6, 7, 20], k: [3, 3], pad: 'same', za: 127, act: 'linear', extreme: true },
  { x: [1, 4, 24, 16], k: [3, 3], pad: 'same', za: -128, act: 'linear', extreme: true },
  { x: [1, 7, 7, 16], k: [5, 5], pad: 'same', za: -128, act: 'linear', extreme: true },
  { x: [1, 6, 6, 8], k: [3, 3], s: 2, pad: 'same', za: 0, act: 'relu6', extreme: true },
];

const pair = (v: Pair | undefined): [number, number] => (v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v);
const describeCase = (c: Case) =>
  `x=[${c.x}] ${c.k[0]}x${c.k[1]} s=${pair(c.s)} d=${pair(c.d)} pad=${JSON.stringify(c.pad)} za=${c.za} ${c.act}` +
  `${c.bias === false ? ' no bias' : ''}${c.extreme ? ' extreme' : ''}`;

const ints = (rng: Rng, n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));

// Output size and padding before along one axis (TensorFlow's 'same': the odd pixel after).
function axis(n: number, k: number, s: number, d: number, pad: Pad, i: 0 | 1): [number, number] {
  const span = (k - 1) * d + 1;
  if (pad === 'same') {
    const out = Math.ceil(n / s);
    return [out, Math.floor(Math.max((out - 1) * s + span - n, 0) / 2)];
  }
  const [before, after] = pad === 'valid' ? [0, 0] : pad[i];
  return [Math.floor((n + before + after - span) / s) + 1, before];
}

function geomOf(c: Case): QGeom {
  const [, H, W, C] = c.x;
  const [KH, KW] = c.k;
  const [SH, SW] = pair(c.s),
    [DH, DW] = pair(c.d);
  const [OH, PT] = axis(H, KH, SH, DH, c.pad, 0),
    [OW, PL] = axis(W, KW, SW, DW, c.pad, 1);
  return { H, W, C, K: C, KH, KW, SH, SW, PT, PL, OH, OW, DH, DW };
}

function make(c: Case, seed: number) {
  const rng = makeRng(seed);
  const [N, H, W, C] = c.x;
  const [KH, KW] = c.k;
  const ends = (n: number) => ints(rng, n, 0, 1).map((b) => (b ? 127 : -128));
  const xv = c.extreme ? ends(N * H * W * C) : ints(rng, N * H * W * C, -128, 127);
  const wv = c.extreme ? ends(KH * KW * C) : ints(rng, KH * KW * C, -127, 127);
  const xs = 0.05;
  const wscale = Array.from({ length: C }, () => 0.002 + 0.01 * rng.next());
  const x = qtensor(xv, c.x, { scale: xs, zeroPoint: c.za });
  const w = qtensor(wv, [KH, KW, C, 1], { scale: wscale });
  const bias =
    c.bias === false
      ? null
      : sn.tensor(
          Float32Array.from({ length: C }, () => 3 * (rng.next() - 0.5)),
          [C],
        );
  // spreads typical sums over the int8 range; extreme sums go far past it
  const T = KH * KW;
  const typical = c.extreme ? T * 128 * 128 : Math.sqrt(T) * 74 * 74;
  const outScale = (xs * 0.007 * typical) / (c.extreme ? 300 : 48);
  const opts: QConvOptions = {
    strides: c.s,
    dilationRate: c.d,
    padding: c.pad,
    outScale,
    outZeroPoint: -6,
    activation: c.act,
    bias,
  };
  return { xv, wv, x, w, bias, opts };
}

// The bytes the op must give: exact int32 sums of (x - za) * w over the taps inside the image plus the
// quantized bias, requantized with the float32 scales.
function expected(c: Case, m: ReturnType<typeof make>): number[] {
  const { x, w, bias, opts } = m;
  const C = c.x[3];
  const xs = x.scale[0]!;
  const qb = bias ? Array.from(bias.dataSync(), (b, ch) => roundHalfEven(b / (xs * w.scale[ch]!))) : null;
  const acc = qconv2dAccRef(m.xv, m.wv, qb, geomOf(c), c.x[0], c.za, true);
  const zp = opts.outZeroPoint!;
  const os = Math.fround(opts.outScale!);
  const qmin = c.act === 'linear' ? -128 : Math.max(-128, zp);
  const qmax = c.act === 'relu6' ? Math.min(127, zp + Math.round(6 / os)) : 127;
  const scale = Array.from({ length: C }, (_, ch) => requantScaleRef(xs, w.scale[ch]!, os));
  return Array.from(requantizeRef(acc, C, { scale, zp, qmin, qmax }));
}

// Runs fn, disposes what it registers, and checks that everything allocated was released.
function run(fn: (ts: Array<{ dispose(): void } | null>) => void): void {
  const live = adv.getArena().liveBytes;
  const ts: Array<{ dispose(): void } | null> = [];
  try {
    fn(ts);
  } finally {
    for (const t of ts) t?.dispose();
  }
  expect(adv.getArena().liveBytes, 'everything allocated was released').toBe(live);
}

describe('qdepthwiseConv2d against the exact integer reference', () => {
  CASES.forEach((c, i) =>
    it(describeCase(c), async () => {
      await sn.ready();
      run((ts) => {
        const m = make(c, 501 + i);
        ts.push(m.x, m.w, m.bias);
        const y = qdepthwiseConv2d(m.x, m.w, m.opts);
        ts.push(y);
        const g = geomOf(c);
        expect(y.shape).toEqual([c.x[0], g.OH, g.OW, c.x[3]]);
        const got = Array.from(y.values());
        const want = expected(c, m);
        const bad = got.findIndex((v, j) => v !== want[j]);
        expect(bad, `first wrong byte at ${bad}: ${got[bad]} instead of ${want[bad]}`).toBe(-1);
        if (c.extreme) {
          // sums far past the output range: saturated at both ends (relu6: at its clamps)
          const [qmin, qmax] =
            c.act === 'relu6' ? [-6, Math.min(127, -6 + Math.round(6 / m.opts.outScale!))] : [-128, 127];
          expect(got.filter((v) => v === qmin).length, `outputs at ${qmin}`).toBeGreaterThan(got.length / 50);
          expect(got.filter((v) => v === qmax).length, `outputs at ${qmax}`).toBeGreaterThan(got.length / 50);
        } else {
          expect(new Set(got).size, 'outputs spread over many values').toBeGreaterThan(
            Math.min(c.act === 'linear' ? 20 : 10, got.length / 2),
          );
        }
      });
    }),
  );

  it('uint8 inputs (zero points 0, 200 and 255: za -128, 72 and 127 after the shift) give the int8 reference', async () => {
    await sn.ready();
    run((ts) => {
      for (const [i, zu] of [0, 200, 255].entries()) {
        const c: Case = { x: [2, 7, 8, 20], k: [3, 3], pad: 'same', za: zu - 128, act: 'relu' };
        const m = make(c, 610 + i);
        // the same values as uint8 bytes: q + 128 with zero point za + 128
        const xu = qtensor(
          m.xv.map((v) => v + 128),
          c.x,
          { scale: 0.05, zeroPoint: zu, dtype: 'uint8' },
        );
        ts.push(m.x, m.w, m.bias, xu);
        const y = qdepthwiseConv2d(xu, m.w, m.opts);
        ts.push(y);
        expect(Array.from(y.values()), `uint8 zero point ${zu}`).toEqual(expected(c, m));
      }
    });
  });

  it('the same bytes on every call and from one image alone as from the batch', async () => {
    await sn.ready();
    run((ts) => {
      const c = CASES[10]!; // batch of 3, 5x5
      const m = make(c, 77);
      ts.push(m.x, m.w, m.bias);
      const a = qdepthwiseConv2d(m.x, m.w, m.opts);
      const b = qdepthwiseConv2d(m.x, m.w, m.opts);
      const per = m.x.size / c.x[0];
      const one = qtensor(m.xv.slice(per, 2 * per), [1, ...c.x.slice(1)], { scale: 0.05, zeroPoint: c.za });
      const y1 = qdepthwiseConv2d(one, m.w, m.opts);
      ts.push(a, b, one, y1);
      expect(b.values()).toEqual(a.values());
      expect(y1.values()).toEqual(a.values().slice(y1.size, 2 * y1.size));
    });
  });
});

describe('qdwconv2d_forward cut into row ranges', () => {
  for (const ci of [1, 8, 11, 12, 16]) {
    const c = CASES[ci]!;
    it(`${describeCase(c)}: rows one at a time and in uneven ranges give the op's bytes, nothing written past the output`, async () => {
      await sn.ready();
      run((ts) => {
        const m = make(c, 900 + ci);
        ts.push(m.x, m.w, m.bias);
        const y = qdepthwiseConv2d(m.x, m.w, m.opts);
        ts.push(y);
        const want = y.values();
        const g = geomOf(c);
        const N = c.x[0];
        const arena = adv.getArena();
        const geom = geomPtr(g);
        const r = requantOf(m.x.scale[0]!, m.w, c.x[3], m.opts, 'test');
        const cuts = [Array.from({ length: g.OH + 1 }, (_, i) => i), [0, 1, Math.max(1, g.OH - 2), g.OH]];
        try {
          withRequant(r, (req, bias) => {
            const pack = arena.alloc(k().qdwconv2d_pack_bytes(geom), false);
            try {
              k().qdwconv2d_pack(pack, m.w.ptr, bias, c.za, geom);
              for (const cut of cuts) {
                const out = arena.alloc(y.size + 16, false);
                arena.u8().fill(0x5a, out, out + y.size + 16);
                for (let i = 0; i + 1 < cut.length; i++)
                  if (cut[i]! < cut[i + 1]!)
                    k().qdwconv2d_forward(out, m.x.ptr, pack, req, geom, N, cut[i]!, cut[i + 1]!);
                const bytes = new Int8Array(arena.u8().buffer, out, y.size + 16).slice();
                arena.release(out);
                expect(bytes.subarray(0, y.size), `rows cut at ${cut}`).toEqual(want);
                expect(Array.from(bytes.subarray(y.size)), 'guard bytes after the output').toEqual(
                  new Array(16).fill(0x5a),
                );
              }
            } finally {
              arena.release(pack);
            }
          });
        } finally {
          arena.release(geom);
        }
      });
    });
  }
});

describe.runIf(build === 'threads')('qdepthwiseConv2d across threads', () => {
  it('same bytes at 1, 2 and 4 threads: batches of 1 (row ranges) and 3 (shards), 3x3 and 5x5', async () => {
    await sn.ready();
    const cases = [CASES[1]!, CASES[5]!, CASES[10]!, CASES[16]!, { ...CASES[3]!, x: [1, 30, 29, 24] as Case['x'] }];
    await sameBitsAcrossThreads(() =>
      cases.map((c, i) => {
        const m = make(c, 700 + i);
        const y = qdepthwiseConv2d(m.x, m.w, m.opts);
        const out = Float32Array.from(y.values());
        for (const t of [m.x, m.w, m.bias, y]) t?.dispose();
        return out;
      }),
    );
  });
});
