// Merge kernels (assembly/kernels/merge.ts through src/ops/merge.ts) against the float64 references
// of test/ref/merge.ts, whose gradients are checked by finite differences; run once per build.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng, numericGrad, distinctValues } from '../helpers/check.js';
import * as ref from '../ref/merge.js';

const build = (process.env.SIMDNET_BUILD ?? 'simd') as sn.Build;
beforeAll(() => sn.ready(build === 'threads' ? { build, threads: 2 } : { build }));

const OPS: ref.MergeOpName[] = ['add', 'sub', 'mul', 'maximum', 'minimum'];
// Same shape, squeeze-excitation (N,H,W,C)*(N,1,1,C), per-channel (C), both sides broadcasting, rank 2.
const CASES: Array<[number[], number[]]> = [
  [
    [2, 3, 4, 5],
    [2, 3, 4, 5],
  ],
  [
    [2, 3, 4, 6],
    [2, 1, 1, 6],
  ],
  [[2, 3, 3, 5], [5]],
  [
    [2, 1, 4, 1],
    [2, 3, 1, 5],
  ],
  [
    [3, 7],
    [3, 1],
  ],
  [
    [1, 1, 1, 3],
    [2, 4, 4, 3],
  ],
];

// Weighted sum of the output: a scalar whose gradient is the weights, so every output element counts.
function weights(n: number, seed: number): Float64Array {
  return makeRng(seed).fill(n, -1, 1);
}

describe(`merge kernels (${build})`, () => {
  for (const op of OPS) {
    it(`${op}: forward and both gradients with broadcasting`, () => {
      CASES.forEach(([sa, sb], ci) => {
        const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
        // Distinct values keep max/min away from ties under finite differences.
        const vals = distinctValues(size(sa) + size(sb), makeRng(ci * 7 + 1));
        const a64 = vals.slice(0, size(sa)),
          b64 = vals.slice(size(sa));
        const a = Float32Array.from(a64),
          b = Float32Array.from(b64);
        const outShape = ref.broadcastShape(sa, sb);
        const w = weights(size(outShape), ci + 100);
        sn.tidy(() => {
          const at = sn.tensor(a, sa),
            bt = sn.tensor(b, sb),
            wt = sn.tensor(Float32Array.from(w), outShape);
          const y = sn.broadcastBinary(op, at, bt);
          expect(y.shape).toEqual(outShape);
          expectClose(y.dataSync(), ref.binary(op, a, sa, b, sb), {
            atol: 1e-6,
            label: `${op} [${sa}] [${sb}] forward`,
          });
          const [ga, gb] = sn.grads((x, z) => sn.sum(sn.mul(sn.broadcastBinary(op, x, z), wt)))([at, bt]);
          const r = ref.binaryBackward(op, w, a, sa, b, sb);
          expectClose(ga.dataSync(), r.da, { atol: 1e-5, rtol: 1e-4, label: `${op} [${sa}] [${sb}] da` });
          expectClose(gb.dataSync(), r.db, { atol: 1e-5, rtol: 1e-4, label: `${op} [${sa}] [${sb}] db` });
          // The reference gradients against float64 finite differences.
          const f = (x: Float64Array, z: Float64Array) =>
            ref.binary(op, x, sa, z, sb).reduce((s, v, i) => s + v * w[i]!, 0);
          expectClose(
            r.da,
            numericGrad((x) => f(x, b64), a64.slice(), 1e-4),
            { atol: 1e-6, label: `${op} ref da` },
          );
          expectClose(
            r.db,
            numericGrad((z) => f(a64, z), b64.slice(), 1e-4),
            { atol: 1e-6, label: `${op} ref db` },
          );
        });
      });
    });
  }

  it('a tensor merged with itself gets both gradient parts', () => {
    sn.tidy(() => {
      const x = sn.tensor([1, -2, 3], [3]);
      const [g] = sn.grads((t) => sn.sum(sn.broadcastBinary('mul', t, t)))([x]);
      expect(Array.from(g.dataSync())).toEqual([2, -4, 6]);
    });
  });

  it('concat: forward and gradients on every axis, against the reference', () => {
    // Three inputs of [2, 3, 4, 2] whose concatenation axis has sizes 2, 5, 1.
    for (const axis of [1, 2, 3, -1]) {
      const ax = axis < 0 ? axis + 4 : axis;
      const ss = [2, 5, 1].map((d) => [2, 3, 4, 2].map((v, i) => (i === ax ? d : v)));
      const rng = makeRng(ax + 20);
      const xs = ss.map((s) =>
        Float32Array.from(
          rng.fill(
            s.reduce((p, q) => p * q, 1),
            -1,
            1,
          ),
        ),
      );
      const expected = ref.concat(xs, ss, ax);
      const w = weights(expected.length, ax);
      sn.tidy(() => {
        const ts = xs.map((x, k) => sn.tensor(x, ss[k]!));
        const y = sn.concat(ts, axis);
        expectClose(y.dataSync(), expected, { atol: 0, label: `concat axis ${axis}` });
        const wt = sn.tensor(Float32Array.from(w), y.shape);
        const gs = sn.grads((...t) => sn.sum(sn.mul(sn.concat(t, axis), wt)))(ts);
        // d(sum w * concat)/dx_k is the slice of w that x_k fills: finite differences of the reference.
        gs.forEach((g, k) => {
          const x64 = Float64Array.from(xs[k]!);
          const num = numericGrad(
            (x) =>
              ref
                .concat(
                  xs.map((o, j) => (j === k ? x : o)),
                  ss,
                  ax,
                )
                .reduce((s, v, i) => s + v * w[i]!, 0),
            x64,
            1e-3,
          );
          expectClose(g.dataSync(), num, { atol: 1e-5, label: `concat axis ${axis} grad ${k}` });
        });
      });
    }
    sn.tidy(() => {
      expect(() => sn.concat([sn.zeros([2, 3]), sn.zeros([3, 3])], -1)).toThrow(
        /differ on an axis other than the concatenation axis/,
      );
    });
  });
});
