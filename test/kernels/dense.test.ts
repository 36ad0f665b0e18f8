// The dense kernels (assembly/kernels/dense.ts) raw and the dense op, against the float64 reference
// of test/ref/dense.ts, and the small-batch paths against the same images inside a large batch.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { reluBackward, relu as refRelu } from '../ref/act.js';
import { denseBackward, denseForward } from '../ref/dense.js';
import { accTol, bits, checkOp, close, fdAffordable, rand, rawRun, seedOf } from './harness.js';

describe('dense vs ref (forward, every gradient)', () => {
  const cases: [number, number, number, boolean, boolean][] = [
    [1, 1, 1, true, false],
    [3, 5, 7, true, false],
    [4, 8, 8, true, true],
    [5, 17, 9, false, true],
    [9, 33, 3, true, false],
    [16, 7, 17, true, true],
    [33, 4, 16, true, false],
    [7, 9, 33, false, false],
    [17, 16, 5, true, true],
    [8, 3, 1, true, false],
  ];
  for (const [N, IN, OUT, bias, relu] of cases) {
    const name = `dense x=[${N},${IN}] w=[${IN},${OUT}]${bias ? ' bias' : ''}${relu ? ' relu' : ''}`;
    const shapes = [[N, IN], [IN, OUT], ...(bias ? [[OUT]] : [])];
    const pre = ([x, w, b]: Float64Array[]) => denseForward(x!, w!, bias ? b! : null, N, IN, OUT);
    it(name, () =>
      checkOp(name, {
        shapes,
        outShape: [N, OUT],
        ref: (xs) => (relu ? refRelu(pre(xs)) : pre(xs)),
        op: ([x, w, b]) => sn.dense(x!, w!, { bias: b ?? null, activation: relu ? 'relu' : 'linear' }),
        tol: accTol(IN + 1),
        terms: IN + 1,
        // Finite differences across the relu kink would be wrong wherever a pre-activation is within a
        // step of 0, so fused relu (and references too slow to difference) use the analytic backward.
        grad:
          !relu && fdAffordable(N * IN + IN * OUT + OUT, N * IN * OUT)
            ? undefined
            : (r, xs) => {
                const g = denseBackward(relu ? reluBackward(r, pre(xs)) : r, xs[0]!, xs[1]!, N, IN, OUT);
                return bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
              },
        gradTol: [accTol(OUT), accTol(N), accTol(N)],
        gradTerms: [OUT, N, N],
      }),
    );
  }
});

describe('dense raw: NaN guard words survive, inputs unchanged, backward accumulates', () => {
  it('dense_forward / dense_backward_* / bias_backward N,IN,OUT in {1..9, 17, 33}', () => {
    const k = sn.getEngine().k;
    for (const [N, IN, OUT] of [
      [1, 1, 1],
      [3, 5, 7],
      [5, 17, 9],
      [9, 4, 33],
      [4, 8, 8],
    ] as [number, number, number][]) {
      const label = `dense raw N=${N} IN=${IN} OUT=${OUT}`;
      const rng = makeRng(seedOf(label));
      const x = rand(rng, N * IN),
        w = rand(rng, IN * OUT),
        b = rand(rng, OUT),
        dout = rand(rng, N * OUT);
      const [out] = rawRun(`${label} fwd`, [x, w, b], [N * OUT, k.pack_b_size(IN, OUT)], ([px, pw, pb], [po, pwp]) =>
        k.dense_forward(po!, px!, pw!, pb!, pwp!, N, IN, OUT, 0),
      );
      close(out!, denseForward(x, w, b, N, IN, OUT), accTol(IN + 1), `${label} fwd`);
      const ref = denseBackward(dout, x, w, N, IN, OUT);
      const dx0 = rand(rng, N * IN),
        dw0 = rand(rng, IN * OUT),
        db0 = rand(rng, OUT);
      const [dx] = rawRun(`${label} dx`, [dout, w], [dx0, k.pack_b_size(OUT, IN)], ([pd, pw], [pdx, pwp]) =>
        k.dense_backward_input(pdx!, pd!, pw!, pwp!, N, IN, OUT),
      );
      close(
        dx!,
        Array.from(ref.dx, (v, i) => v + dx0[i]!),
        accTol(OUT + 1),
        `${label} dx`,
      );
      const [dw, db] = rawRun(
        `${label} dw`,
        [dout, x],
        [dw0, db0, k.pack_b_size(N, OUT)],
        ([pd, px], [pdw, pdb, pdp]) => k.dense_backward_weight(pdw!, pdb!, pd!, px!, pdp!, N, IN, OUT),
      );
      close(
        dw!,
        Array.from(ref.dw, (v, i) => v + dw0[i]!),
        accTol(N + 1),
        `${label} dw`,
      );
      close(
        db!,
        Array.from(ref.db, (v, i) => v + db0[i]!),
        accTol(N + 1),
        `${label} db`,
      );
      const [db2] = rawRun(`${label} bias_backward`, [dout], [db0], ([pd], [pdb]) =>
        k.bias_backward(pdb!, pd!, N, OUT),
      );
      close(
        db2!,
        Array.from(ref.db, (v, i) => v + db0[i]!),
        accTol(N + 1),
        `${label} bias_backward`,
      );
    }
  });
});

// Batches of 1-3 take another path (no weight packing); each output row must have the bits the same
// row gets inside a larger batch.
describe('dense small batches: same bits as inside a large batch', () => {
  for (const [IN, OUT, bias, relu] of [
    [3136, 128, true, true],
    [128, 10, true, false],
    [37, 19, false, true],
    [5, 3, true, false],
  ] as const) {
    it(`dense ${IN}→${OUT}${bias ? ' bias' : ''}${relu ? ' relu' : ''} batch 1,2,3 vs 9`, () => {
      const rng = makeRng(seedOf(`small dense ${IN} ${OUT}`));
      const B = 9;
      const xAll = rand(rng, B * IN),
        w = sn.tensor(rand(rng, IN * OUT), [IN, OUT]);
      const b = bias ? sn.tensor(rand(rng, OUT), [OUT]) : null;
      const opts = { bias: b, activation: relu ? ('relu' as const) : ('linear' as const) };
      const xt = sn.tensor(xAll, [B, IN]);
      const big = sn.dense(xt, w, opts).dataSync();
      const ref = denseForward(
        Float64Array.from(xAll.subarray(0, IN)),
        Float64Array.from(w.dataSync()),
        b ? Float64Array.from(b.dataSync()) : null,
        1,
        IN,
        OUT,
        relu,
      );
      for (const n of [1, 2, 3]) {
        const xs = sn.tensor(xAll.subarray(0, n * IN), [n, IN]);
        const y = sn.dense(xs, w, opts).dataSync();
        expect(bits(y)).toEqual(bits(big.slice(0, n * OUT)));
        // and it is the right answer, not just a consistent one
        close(y.slice(0, OUT), ref, accTol(IN + 1), `dense small n=${n}`);
        xs.dispose();
      }
      [xt, w, b].forEach((t) => t?.dispose());
    });
  }
});
