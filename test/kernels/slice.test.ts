// The slice kernels (a range of one axis, as a copy; backward adds into the range) raw and through the
// op, against test/ref/slice.ts: every axis of ranks 2-4, ranges at the edges and in the middle, inner
// runs of 1 to 9 values (SIMD body and tails), guard words and accumulation. Copies and single adds
// only, so every comparison is exact.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { sliceAxis } from '../../src/ops/slice.js';
import { makeRng } from '../helpers/check.js';
import { slice, sliceBackward } from '../ref/slice.js';
import { build, checkOp, EXACT, nans, prod, rand, rawRun, seedOf } from './harness.js';

const CASES: Array<[number[], number, number, number]> = [
  // shape, axis, begin, end
  [[2, 7], 1, 0, 3],
  [[2, 7], -1, 4, 7],
  [[3, 5, 9], 1, 1, 4],
  [[3, 5, 9], 2, 2, 7],
  [[2, 4, 3, 5], 1, 0, 4],
  [[2, 4, 3, 5], 2, 1, 2],
  [[2, 4, 3, 5], 3, 3, 5],
];

describe('slice', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const [shape, axis, begin, end] of CASES) {
    const name = `slice x=[${shape}] axis=${axis} [${begin}, ${end})`;
    it(`${name}: forward and dx exact`, () => {
      const a = axis < 0 ? axis + shape.length : axis;
      const outer = prod(shape.slice(0, a)),
        N = shape[a]!,
        inner = prod(shape.slice(a + 1)),
        M = end - begin;
      const x = rand(makeRng(seedOf(name)), prod(shape));
      const outShape = [...shape];
      outShape[a] = M;
      checkOp(name, {
        shapes: [shape],
        inputs: [x],
        outShape,
        ref: ([v]) => slice(v!, outer, N, inner, begin, M),
        op: ([t]) => sliceAxis(t!, axis, begin, end),
        tol: EXACT,
        grad: (r) => [sliceBackward(r, outer, N, inner, begin, M)],
      });
    });
  }

  it('raw kernels keep guard words; backward ACCUMULATES into dinp', () => {
    const k = sn.getEngine().k;
    const rng = makeRng(11);
    const [outer, N, inner, begin, M] = [3, 6, 5, 2, 3];
    const x = rand(rng, outer * N * inner),
      dout = rand(rng, outer * M * inner),
      dinp0 = rand(rng, outer * N * inner);
    // The output starts as NaN, so an element the kernel does not write shows.
    const [y] = rawRun('slice fwd', [x], [nans(outer * M * inner)], ([px], [po]) =>
      k.slice_forward(po!, px!, outer, N, inner, begin, M),
    );
    expect(Array.from(y!)).toEqual(Array.from(slice(x, outer, N, inner, begin, M)));
    const [dx] = rawRun('slice bwd', [dout], [dinp0], ([pd], [pdx]) =>
      k.slice_backward(pdx!, pd!, outer, N, inner, begin, M),
    );
    const want = Array.from(sliceBackward(dout, outer, N, inner, begin, M), (v, i) => Math.fround(v + dinp0[i]!));
    expect(Array.from(dx!)).toEqual(want);
  });

  it('bad arguments: the batch axis, an empty or out-of-range range', () => {
    const x = sn.tensor(new Float32Array(24), [2, 3, 4]);
    expect(() => sliceAxis(x, 0, 0, 1)).toThrow(/axis 0 must be a non-batch axis of the rank-3 input/);
    expect(() => sliceAxis(x, 1, 2, 2)).toThrow(/range \[2, 2\) is empty or outside axis 1 of length 3/);
    expect(() => sliceAxis(x, 2, 1, 5)).toThrow(/range \[1, 5\) is empty or outside axis 2 of length 4/);
    x.dispose();
  });
});
