// permute kernels (axis permutation as a strided copy) against test/ref/permute.ts, for the build in
// SIMDNET_BUILD (default simd): forward and dx through the op for every permutation of ranks 1-4 and
// a rank-6 one, raw kernels with guard words and accumulation, bad arguments.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { EXACT, checkOp, fdCheck, prod, rand, rawRun, seedOf } from '../helpers/opcheck.js';
import { permute, permuteBackward } from '../ref/permute.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

const SHAPES = [[7], [3, 5], [2, 3, 9], [2, 3, 4, 5]];

describe(`permute [${build}]`, () => {
  it('engine runs the requested build', () => { expect(sn.getEngine().build).toBe(build); });

  for (const shape of [...SHAPES, [2, 1, 3, 2, 2, 5]]) {
    const perms = shape.length <= 4 ? permutations(shape.length) : [[0, 5, 2, 4, 1, 3], [0, 1, 2, 3, 5, 4]];
    it(`x=[${shape}]: ${perms.length} permutations, forward and dx exact`, () => {
      for (const perm of perms) {
        const name = `permute x=[${shape}] perm=[${perm}]`;
        const x = rand(makeRng(seedOf(name)), prod(shape));
        checkOp(name, (t) => sn.permute(t, perm), x, shape,
          { fwd: permute(x, shape, perm), bwd: (dy) => permuteBackward(dy, shape, perm), outShape: perm.map((p) => shape[p]!) },
          EXACT, EXACT);
      }
    });
  }

  it('reference gradient matches finite differences', () => {
    const x = Float64Array.from(makeRng(3).fill(24, -1, 1));
    fdCheck('ref permute', (v) => permute(v, [2, 3, 4], [2, 0, 1]), (dy) => permuteBackward(dy, [2, 3, 4], [2, 0, 1]), x, 24);
  });

  it('raw kernels keep guard words; backward ACCUMULATES into dinp (contiguous and strided inner runs)', () => {
    const k = sn.getEngine().k;
    const shape = [3, 4, 6];
    const rng = makeRng(9);
    for (const perm of [[1, 0, 2], [2, 0, 1]]) {
      const x = rand(rng, 72), dout = rand(rng, 72), dinp0 = rand(rng, 72);
      const strides = [24, 6, 1];
      const meta = [...perm.map((p) => shape[p]!), ...perm.map((p) => strides[p]!)];
      const [y] = rawRun('permute fwd', [x], [72], ([px, m], [po]) => k.permute_forward(po!, px!, m!, 3), [meta]);
      expect(Array.from(y!)).toEqual(Array.from(permute(x, shape, perm)));
      const [dx] = rawRun('permute bwd', [dout], [dinp0], ([pd, m], [pdx]) => k.permute_backward(pdx!, pd!, m!, 3), [meta]);
      expect(Array.from(dx!)).toEqual(Array.from(permuteBackward(dout, shape, perm), (v, i) => Math.fround(v + dinp0[i]!)));
    }
  });

  it('bad arguments: not a permutation, wrong length, rank above 8', () => {
    const x = sn.tensor(new Float32Array(24), [2, 3, 4]);
    expect(() => sn.permute(x, [0, 1, 1])).toThrow(/dims \[0,1,1\] must be a permutation of 0..2/);
    expect(() => sn.permute(x, [0, 1])).toThrow(/must be a permutation of 0..2 \(one entry per axis of a rank-3 input\)/);
    expect(() => sn.permute(x, [0, 1, 3])).toThrow(/permutation/);
    const big = sn.tensor(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(() => sn.permute(big, [0, 1, 2, 3, 4, 5, 6, 7, 8])).toThrow(/rank must be 1..8/);
    x.dispose(); big.dispose();
  });
});
