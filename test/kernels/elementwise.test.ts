// The elementwise kernels (assembly/kernels/elementwise.ts: broadcasting add/sub/mul/div, sum_all,
// add_scalar, add_into, scale, find_nonfinite) raw and through the ops, with sum, mean and reshape,
// against float64 references.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { accTol, checkOp, close, EXACT, prod, rand, rawRun, seedOf } from './harness.js';

// Broadcasting as src/ops/elementwise.ts: the smaller operand repeats, i.e. the operand value at
// output index i is v[i % v.length]. Returns the output and the input gradients for `dout`.
type BinOp = 'add' | 'sub' | 'mul' | 'div';
function refBinary(op: BinOp, a: ArrayLike<number>, b: ArrayLike<number>, n: number, dout: ArrayLike<number>) {
  const out = new Float64Array(n);
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  for (let i = 0; i < n; i++) {
    const ia = i % a.length,
      ib = i % b.length;
    const x = a[ia]!,
      y = b[ib]!,
      g = dout[i]!;
    if (op === 'add') {
      out[i] = x + y;
      da[ia]! += g;
      db[ib]! += g;
    } else if (op === 'sub') {
      out[i] = x - y;
      da[ia]! += g;
      db[ib]! -= g;
    } else if (op === 'mul') {
      out[i] = x * y;
      da[ia]! += g * y;
      db[ib]! += g * x;
    } else {
      out[i] = x / y;
      da[ia]! += g / y;
      db[ib]! -= (g * x) / (y * y);
    }
  }
  return { out, da, db };
}

describe('add / sub / mul / div, sum, mean, reshape vs ref', () => {
  const pairs: [string, number[] | number, number[] | number][] = [
    ['same', [3, 4, 5], [3, 4, 5]],
    ['bias suffix', [2, 3, 4, 5], [5]],
    ['left suffix (swap)', [5], [2, 3, 4, 5]],
    ['leading-1 suffix', [1, 7], [3, 2, 7]],
    ['scalar tensor', [3, 4], []],
    ['scalar tensor left', [], [9]],
    ['number right', [2, 9], 0.75],
    ['number left', -1.5, [17]],
  ];
  for (const op of ['add', 'sub', 'mul', 'div'] as BinOp[]) {
    for (const [what, sa, sb] of pairs) {
      const name = `${op} a=${typeof sa === 'number' ? sa : `[${sa}]`} b=${typeof sb === 'number' ? sb : `[${sb}]`} (${what})`;
      it(name, () => {
        const rng = makeRng(seedOf(name));
        // Divisors kept in ±[0.5, 2) so 1/y and x/y² stay well conditioned.
        const gen = (s: number[], isDivisor: boolean) => {
          const v = rand(rng, prod(s), isDivisor ? 0.5 : -1, isDivisor ? 2 : 1);
          if (isDivisor) for (let i = 0; i < v.length; i++) if (rng.next() < 0.5) v[i] = -v[i]!;
          return v;
        };
        const aData = typeof sa === 'number' ? Float32Array.of(sa) : gen(sa, false);
        const bData = typeof sb === 'number' ? Float32Array.of(sb) : gen(sb, op === 'div');
        const outShape =
          typeof sa === 'number'
            ? (sb as number[])
            : typeof sb === 'number'
              ? sa
              : prod(sa) >= prod(sb) && !(prod(sa) === prod(sb) && sa.length < sb.length)
                ? sa
                : sb;
        const n = prod(outShape);
        // Only tensor operands are inputs (and get gradients); a number operand is a constant.
        const shapes: number[][] = [],
          inputs: Float32Array[] = [];
        if (typeof sa !== 'number') {
          shapes.push(sa);
          inputs.push(aData);
        }
        if (typeof sb !== 'number') {
          shapes.push(sb);
          inputs.push(bData);
        }
        const operands = (xs: ArrayLike<number>[]) => {
          const a = typeof sa === 'number' ? aData : xs[0]!;
          const b = typeof sb === 'number' ? bData : xs[typeof sa === 'number' ? 0 : 1]!;
          return [a, b] as const;
        };
        const fn = sn[op];
        const reps = n / Math.min(aData.length, bData.length);
        checkOp(name, {
          shapes,
          inputs,
          outShape,
          ref: (xs) => {
            const [a, b] = operands(xs);
            return refBinary(op, a, b, n, new Float64Array(n)).out;
          },
          op: (ts) =>
            fn(typeof sa === 'number' ? sa : ts[0]!, typeof sb === 'number' ? sb : ts[typeof sa === 'number' ? 0 : 1]!),
          // One f32 op per element (div: within 1 ulp, plus the x/y² gradient's 3 roundings).
          tol: { atol: 1e-7, rtol: 2e-7 },
          // The repeating operand's gradient sums `reps` terms of magnitude ≤ 4 (div: |x|/y² ≤ 4).
          gradTol: accTol(reps + 3, 4),
        });
      });
    }
  }

  it('mul x*x x=[13]: a tensor used twice gets both gradient parts', () => {
    const x = rand(makeRng(11), 13);
    const xt = sn.tensor(x);
    const [g] = sn.grads((t) => sn.sum(sn.mul(t!, t!)))([xt]);
    close(
      g!.dataSync(),
      Array.from(x, (v) => 2 * v),
      EXACT,
      'mul x*x: dx',
    );
    xt.dispose();
    g!.dispose();
  });

  for (const shape of [[1], [7], [3, 4, 5], [2, 33]]) {
    it(`sum/mean x=[${shape}]`, () => {
      const x = rand(makeRng(seedOf(`sum ${shape}`)), prod(shape));
      const t = sn.tensor(x, shape);
      let s = 0;
      for (const v of x) s += v;
      // Accumulated in f64, stored as f32: one rounding.
      const s1 = sn.sum(t),
        m1 = sn.mean(t);
      expect(s1.shape).toEqual([]);
      close(s1.dataSync(), [s], { atol: 1e-7, rtol: 1e-7 }, 'sum');
      close(m1.dataSync(), [s / x.length], { atol: 1e-7, rtol: 1e-7 }, 'mean');
      const [gs] = sn.grads((u) => sn.sum(u!))([t]);
      const [gm] = sn.grads((u) => sn.mul(sn.mean(u!), 3))([t]);
      expect(Array.from(gs!.dataSync())).toEqual(new Array(x.length).fill(1));
      close(gm!.dataSync(), new Array(x.length).fill(3 / x.length), { atol: 0, rtol: 1e-7 }, 'mean grad');
      for (const u of [t, s1, m1, gs!, gm!]) u.dispose();
    });
  }

  for (const [from, to, expected] of [
    [
      [2, 3, 4],
      [6, 4],
      [6, 4],
    ],
    [
      [2, 3, 4],
      [-1, 3],
      [8, 3],
    ],
    [[24], [2, -1, 3], [2, 4, 3]],
    [[5, 1], [5], [5]],
  ] as [number[], number[], number[]][]) {
    const name = `reshape [${from}] -> [${to}]`;
    // A reshape moves no value: forward and gradient compare exactly (the gradient is r itself).
    it(name, () =>
      checkOp(name, {
        shapes: [from],
        outShape: expected,
        ref: ([x]) => x!,
        op: ([t]) => sn.reshape(t!, to),
        tol: EXACT,
        grad: (r) => [r],
      }),
    );
  }
});

describe('elementwise raw: NaN guard words survive, inputs unchanged', () => {
  it('binary_forward/backward, sum_all, add_scalar, add_into, scale, find_nonfinite raw, n = 1..9, 17', () => {
    const k = sn.getEngine().k;
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 17]) {
      const rng = makeRng(100 + n);
      // Both operands in ±[0.5, 2): either may be the divisor (swap).
      const signed = (m: number) => rand(rng, m, 0.5, 2).map((v) => (rng.next() < 0.5 ? -v : v));
      const a = signed(n),
        d0 = rand(rng, n),
        nb = n % 2 === 0 ? n / 2 : 1;
      const b = signed(nb);
      for (const [op, opId] of [
        ['add', 0],
        ['sub', 1],
        ['mul', 2],
        ['div', 3],
      ] as [BinOp, number][]) {
        for (const swap of [0, 1]) {
          const lbl = `binary ${op} n=${n} nb=${nb} swap=${swap}`;
          const [out] = rawRun(lbl, [a, b], [n], ([pa, pb], [po]) =>
            k.binary_forward(po!, pa!, pb!, n, nb, opId, swap),
          );
          const ref = swap ? refBinary(op, b, a, n, a) : refBinary(op, a, b, n, a);
          close(out!, ref.out, { atol: 1e-7, rtol: 2e-7 }, lbl);
          const db0 = rand(rng, nb);
          const [da, db] = rawRun(`${lbl} bwd`, [d0, a, b], [d0, db0], ([pd, pa, pb], [pda, pdb]) =>
            k.binary_backward(pda!, pdb!, pd!, pa!, pb!, n, nb, opId, swap),
          );
          const g = swap ? refBinary(op, b, a, n, d0) : refBinary(op, a, b, n, d0);
          const [ga, gb] = swap ? [g.db, g.da] : [g.da, g.db];
          close(
            da!,
            Array.from(ga, (v, i) => v + d0[i]!),
            accTol(3, 4),
            `${lbl} da`,
          );
          close(
            db!,
            Array.from(gb, (v, i) => v + db0[i]!),
            accTol(n / nb + 3, 4),
            `${lbl} db`,
          );
        }
      }
      let s = 0;
      for (const v of a) s += v;
      rawRun(`sum_all n=${n}`, [a], [], ([pa]) => {
        expect(k.sum_all(pa!, n)).toBe(s);
      });
      const [as] = rawRun(`add_scalar n=${n}`, [], [a], (_, [pa]) => k.add_scalar(pa!, 0.25, n));
      expect(Array.from(as!)).toEqual(Array.from(a, (v) => Math.fround(v + 0.25)));
      const [ai] = rawRun(`add_into n=${n}`, [d0], [a], ([pd], [pa]) => k.add_into(pa!, pd!, n));
      expect(Array.from(ai!)).toEqual(Array.from(a, (v, i) => Math.fround(v + d0[i]!)));
      const [sc] = rawRun(`scale n=${n}`, [], [a], (_, [pa]) => k.scale(pa!, -3, n));
      expect(Array.from(sc!)).toEqual(Array.from(a, (v) => Math.fround(v * -3)));
      for (const bad of [NaN, Infinity, -Infinity]) {
        const z = Float32Array.from(a);
        z[n - 1] = bad;
        if (n > 2) z[n - 2] = bad;
        rawRun(`find_nonfinite ${bad} n=${n}`, [z], [], ([pz]) =>
          expect(k.find_nonfinite(pz!, n)).toBe(n > 2 ? n - 2 : n - 1),
        );
      }
      rawRun(`find_nonfinite clean n=${n}`, [a], [], ([pa]) => expect(k.find_nonfinite(pa!, n)).toBe(-1));
    }
  });
});
