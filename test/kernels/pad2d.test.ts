// The pad2d kernels (zero padding and cropping of NHWC images) raw and through the ops, against
// test/ref/pad2d.ts: forward and dx, raw kernels with guard words and accumulation, bits at 1, 2 and
// 4 threads (argument errors: test/ops/errors.test.ts). Copies only, so every comparison is exact.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { crop, cropBackward, zeroPad, zeroPadBackward, type Sides } from '../ref/pad2d.js';
import {
  build,
  checkOp,
  EXACT,
  fdCheck,
  geomPtr,
  nans,
  prod,
  rand,
  rawRun,
  sameBitsAcrossThreads,
  seedOf,
} from './harness.js';

// [N, H, W, C], sides: odd channel counts exercise the scalar tails of the SIMD runs.
const CASES: Array<[number[], Sides]> = [
  [
    [1, 1, 1, 1],
    [
      [0, 0],
      [0, 0],
    ],
  ],
  [
    [2, 3, 4, 3],
    [
      [1, 1],
      [1, 1],
    ],
  ],
  [
    [1, 4, 5, 5],
    [
      [2, 0],
      [0, 3],
    ],
  ],
  [
    [3, 5, 3, 8],
    [
      [0, 1],
      [2, 1],
    ],
  ],
  [
    [5, 6, 7, 2],
    [
      [1, 2],
      [3, 0],
    ],
  ],
];

describe('pad2d', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const [shape, s] of CASES) {
    const [N, H, W, C] = shape as [number, number, number, number];
    const pads = `[[${s[0]}],[${s[1]}]]`;
    it(`zeroPadding2d x=[${shape}] padding=${pads}`, () => {
      const name = `pad x=[${shape}] ${pads}`;
      const x = rand(makeRng(seedOf(name)), prod(shape));
      // The analytic backward is the oracle (finite differences are not exact); it is itself checked
      // against finite differences below.
      checkOp(name, {
        shapes: [shape],
        inputs: [x],
        outShape: [N, H + s[0][0] + s[0][1], W + s[1][0] + s[1][1], C],
        ref: ([v]) => zeroPad(v!, N, H, W, C, s),
        op: ([t]) => sn.zeroPadding2d(t!, s),
        tol: EXACT,
        grad: (r) => [zeroPadBackward(r, N, H, W, C, s)],
      });
    });
    const cs: Sides = [
      [s[0][0], Math.min(s[0][1], H - 1 - s[0][0])],
      [s[1][0], Math.min(s[1][1], W - 1 - s[1][0])],
    ];
    if (cs[0][0] + cs[0][1] < H && cs[1][0] + cs[1][1] < W) {
      it(`cropping2d x=[${shape}] cropping=[[${cs[0]}],[${cs[1]}]]`, () => {
        const name = `crop x=[${shape}] ${JSON.stringify(cs)}`;
        const x = rand(makeRng(seedOf(name)), prod(shape));
        checkOp(name, {
          shapes: [shape],
          inputs: [x],
          outShape: [N, H - cs[0][0] - cs[0][1], W - cs[1][0] - cs[1][1], C],
          ref: ([v]) => crop(v!, N, H, W, C, cs),
          op: ([t]) => sn.cropping2d(t!, cs),
          tol: EXACT,
          grad: (r) => [cropBackward(r, N, H, W, C, cs)],
        });
      });
    }
  }

  it('Keras forms of padding: n, [rows, cols], [[top, bottom], [left, right]]', () => {
    const x = sn.tensor(rand(makeRng(7), 2 * 3 * 4 * 3), [2, 3, 4, 3]);
    expect(sn.zeroPadding2d(x, 2).shape).toEqual([2, 7, 8, 3]);
    expect(sn.zeroPadding2d(x, [1, 3]).shape).toEqual([2, 5, 10, 3]);
    expect(
      sn.zeroPadding2d(x, [
        [0, 1],
        [2, 0],
      ]).shape,
    ).toEqual([2, 4, 6, 3]);
    expect(sn.cropping2d(x, [1, 1]).shape).toEqual([2, 1, 2, 3]);
    x.dispose();
  });

  it('reference gradients match finite differences', () => {
    const s: Sides = [
      [1, 0],
      [2, 1],
    ];
    const x = Float64Array.from(makeRng(3).fill(2 * 3 * 4 * 3, -1, 1));
    fdCheck(
      'zeroPad',
      (v) => zeroPad(v, 2, 3, 4, 3, s),
      (dy) => zeroPadBackward(dy, 2, 3, 4, 3, s),
      x,
      2 * 4 * 7 * 3,
    );
    fdCheck(
      'crop',
      (v) => crop(v, 2, 3, 4, 3, s),
      (dy) => cropBackward(dy, 2, 3, 4, 3, s),
      x,
      2 * 2 * 1 * 3,
    );
  });

  it('raw kernels keep guard words; backward ACCUMULATES into dinp', () => {
    const k = sn.getEngine().k;
    const [N, H, W, C] = [2, 3, 5, 5];
    const s: Sides = [
      [1, 2],
      [2, 1],
    ];
    const OH = H + 3,
      OW = W + 3;
    const rng = makeRng(11);
    const x = rand(rng, N * H * W * C),
      dout = rand(rng, N * OH * OW * C),
      dinp0 = rand(rng, x.length);
    const g = geomPtr({ H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH, OW });
    // The output starts as NaN, so a padding element the kernel does not write shows.
    const [y] = rawRun('pad fwd', [x], [nans(N * OH * OW * C)], ([px], [po]) => k.pad2d_forward(po!, px!, g, N, 1, 2));
    expect(Array.from(y!)).toEqual(Array.from(zeroPad(x, N, H, W, C, s), Math.fround));
    const [dx] = rawRun('pad bwd', [dout], [dinp0], ([pd], [pdx]) => k.pad2d_backward(pdx!, pd!, g, N, 1, 2));
    const want = zeroPadBackward(dout, N, H, W, C, s).map((v, i) => Math.fround(v + dinp0[i]!));
    expect(Array.from(dx!)).toEqual(Array.from(want));
    adv.getArena().release(g);
  });

  // Only the threads build has a thread count to vary.
  it.runIf(build === 'threads')(
    'zeroPadding2d and cropping2d forward and dx have the same bits at 1, 2 and 4 threads',
    async () => {
      const shape = [9, 6, 5, 7];
      const rng = makeRng(5);
      const xd = rand(rng, prod(shape)),
        rd = rand(rng, 9 * 8 * 8 * 7);
      await sameBitsAcrossThreads(() => {
        const x = sn.tensor(xd, shape),
          r = sn.tensor(rd, [9, 8, 8, 7]);
        const f = (t: sn.Tensor) =>
          sn.cropping2d(
            sn.zeroPadding2d(t, [
              [2, 1],
              [3, 2],
            ]),
            [
              [0, 1],
              [1, 1],
            ],
          );
        const y = f(x);
        const { value, grads } = sn.valueAndGrads((t) => sn.sum(sn.mul(f(t!), r)))([x]);
        const out = [y, grads[0]!].map((t) => t.dataSync() as Float32Array);
        for (const t of [x, r, y, value, ...grads]) t.dispose();
        return out;
      });
    },
  );
});
