// The permute kernels (axis permutation as a strided copy) raw and through the op, against
// test/ref/permute.ts: forward and dx for every permutation of ranks 1-4 and a rank-6 one, raw kernels
// with guard words and accumulation (argument errors: test/ops/errors.test.ts). Copies only, so every comparison is exact.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { permute, permuteBackward } from '../ref/permute.js';
import { build, checkOp, EXACT, fdCheck, nans, prod, rand, rawRun, seedOf } from './harness.js';

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

const SHAPES = [[7], [3, 5], [2, 3, 9], [2, 3, 4, 5]];

describe('permute', () => {
  it('engine runs the requested build', () => {
    expect(sn.getEngine().build).toBe(build);
  });

  for (const shape of [...SHAPES, [2, 1, 3, 2, 2, 5]]) {
    const perms =
      shape.length <= 4
        ? permutations(shape.length)
        : [
            [0, 5, 2, 4, 1, 3],
            [0, 1, 2, 3, 5, 4],
          ];
    it(`x=[${shape}]: ${perms.length} permutations, forward and dx exact`, () => {
      for (const perm of perms) {
        const name = `permute x=[${shape}] perm=[${perm}]`;
        const x = rand(makeRng(seedOf(name)), prod(shape));
        // The analytic backward is the oracle (finite differences are not exact); it is itself checked
        // against finite differences below.
        checkOp(name, {
          shapes: [shape],
          inputs: [x],
          outShape: perm.map((p) => shape[p]!),
          ref: ([v]) => permute(v!, shape, perm),
          op: ([t]) => sn.permute(t!, perm),
          tol: EXACT,
          grad: (r) => [permuteBackward(r, shape, perm)],
        });
      }
    });
  }

  it('reference gradient matches finite differences', () => {
    const x = Float64Array.from(makeRng(3).fill(24, -1, 1));
    fdCheck(
      'ref permute',
      (v) => permute(v, [2, 3, 4], [2, 0, 1]),
      (dy) => permuteBackward(dy, [2, 3, 4], [2, 0, 1]),
      x,
      24,
    );
  });

  it('raw kernels keep guard words; backward ACCUMULATES into dinp (contiguous and strided inner runs)', () => {
    const k = sn.getEngine().k;
    const shape = [3, 4, 6];
    const rng = makeRng(9);
    const arena = adv.getArena();
    for (const perm of [
      [1, 0, 2],
      [2, 0, 1],
    ]) {
      const x = rand(rng, 72),
        dout = rand(rng, 72),
        dinp0 = rand(rng, 72);
      const strides = [24, 6, 1];
      // The kernels read the output's sizes then the input's strides per output axis, as i32s.
      const meta = [...perm.map((p) => shape[p]!), ...perm.map((p) => strides[p]!)];
      const m = arena.alloc(meta.length * 4);
      arena.i32().set(meta, m >>> 2);
      // The output starts as NaN, so an element the kernel does not write shows.
      const [y] = rawRun('permute fwd', [x], [nans(72)], ([px], [po]) => k.permute_forward(po!, px!, m, 3));
      expect(Array.from(y!)).toEqual(Array.from(permute(x, shape, perm)));
      const [dx] = rawRun('permute bwd', [dout], [dinp0], ([pd], [pdx]) => k.permute_backward(pdx!, pd!, m, 3));
      const want = Array.from(permuteBackward(dout, shape, perm), (v, i) => Math.fround(v + dinp0[i]!));
      expect(Array.from(dx!)).toEqual(want);
      arena.release(m);
    }
  });
});
