// The GEMM kernels (assembly/kernels/gemm.ts: pack_b, gemm) raw, and the matMul op built on them,
// against the float64 reference of test/ref/dense.ts.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { denseBackward, matMul as refMatMul } from '../ref/dense.js';
import { accTol, checkOp, close, fdAffordable, rand, rawRun, seedOf } from './harness.js';

// Sizes around the 4x8 tile: 1, LANES-1, LANES, LANES+1, 7, 8, 9, 16, 17, 33.
const SIZES = [1, 3, 4, 5, 7, 8, 9, 16, 17, 33];

// ~30 (M, K, N) triples: each size appears in each position, plus the diagonal.
function matMulCases(): [number, number, number][] {
  const out: [number, number, number][] = [];
  const n = SIZES.length;
  for (let i = 0; i < n; i++) {
    out.push([SIZES[i]!, SIZES[i]!, SIZES[i]!]);
    out.push([SIZES[i]!, SIZES[(i + 3) % n]!, SIZES[(i + 7) % n]!]);
    out.push([SIZES[(i + 5) % n]!, SIZES[(i + 1) % n]!, SIZES[i]!]);
  }
  return out;
}

// Expected layout of pack_b: panels of 8 columns, each [bias(8) | K rows of 8], zero-filled past N.
function refPackB(
  b: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  K: number,
  N: number,
  rsb: number,
  csb: number,
): Float64Array {
  const out = new Float64Array(Math.ceil(N / 8) * (K + 1) * 8);
  let o = 0;
  for (let j0 = 0; j0 < N; j0 += 8) {
    for (let j = 0; j < 8; j++) out[o++] = bias && j0 + j < N ? bias[j0 + j]! : 0;
    for (let k = 0; k < K; k++) for (let j = 0; j < 8; j++) out[o++] = j0 + j < N ? b[k * rsb + (j0 + j) * csb]! : 0;
  }
  return out;
}

describe('matMul vs ref (forward, every gradient)', () => {
  for (const [M, Kd, N] of matMulCases()) {
    const name = `matMul a=[${M},${Kd}] b=[${Kd},${N}]`;
    it(name, () =>
      checkOp(name, {
        shapes: [
          [M, Kd],
          [Kd, N],
        ],
        outShape: [M, N],
        ref: ([a, b]) => refMatMul(a!, b!, M, Kd, N),
        op: ([a, b]) => sn.matMul(a!, b!),
        tol: accTol(Kd),
        terms: Kd,
        // Finite differences where the f64 reference is cheap enough, else its analytic backward.
        grad: fdAffordable(M * Kd + Kd * N, M * Kd * N)
          ? undefined
          : (r, [a, b]) => {
              const g = denseBackward(r, a!, b!, M, Kd, N);
              return [g.dx, g.dw];
            },
        gradTol: [accTol(N), accTol(M)],
        gradTerms: [N, M],
      }),
    );
  }
});

describe('pack_b / gemm raw: NaN guard words survive, inputs unchanged', () => {
  it('pack_b K=1..7 N=1..33: panel layout, bias row, zero fill, transposed strides', () => {
    const k = sn.getEngine().k;
    for (const [Kd, N] of [
      [1, 1],
      [3, 5],
      [4, 8],
      [5, 9],
      [7, 17],
      [2, 33],
    ] as [number, number][]) {
      const rng = makeRng(Kd * 100 + N);
      const b = rand(rng, Kd * N);
      const bias = rand(rng, N);
      const size = k.pack_b_size(Kd, N);
      expect(size).toBe(Math.ceil(N / 8) * (Kd + 1) * 8);
      const [p] = rawRun(`pack_b K=${Kd} N=${N}`, [b, bias], [size], ([pb, pbias], [out]) =>
        k.pack_b(out!, pb!, pbias!, Kd, N, N, 1),
      );
      expect(Array.from(p!)).toEqual(Array.from(refPackB(b, bias, Kd, N, N, 1)));
      // (K, N) read as the transpose of an (N, K) matrix: rsb = 1, csb = K; no bias.
      const [q] = rawRun(`pack_b^T K=${Kd} N=${N}`, [b], [size], ([pb], [out]) => k.pack_b(out!, pb!, 0, Kd, N, 1, Kd));
      expect(Array.from(q!)).toEqual(Array.from(refPackB(b, null, Kd, N, 1, Kd)));
    }
  });

  // Full cross product of the tile-edge sizes (1000 shapes) per flag mode; ldc = N + 3 with NaN
  // gaps between rows, A read row-major or transposed (rsa/csa).
  for (const [flagName, flags] of [
    ['init=bias', 0],
    ['ACC', 1],
    ['RELU', 2],
    ['ACC|RELU', 3],
  ] as [string, number][]) {
    it(`gemm all M,N,K in {${SIZES}} flags=${flagName}`, () => {
      const k = sn.getEngine().k;
      let shapes = 0;
      for (const M of SIZES)
        for (const N of SIZES)
          for (const Kd of SIZES) {
            const label = `gemm M=${M} N=${N} K=${Kd} ${flagName}`;
            const rng = makeRng(seedOf(label));
            const a = rand(rng, M * Kd);
            const b = rand(rng, Kd * N);
            const bias = rand(rng, N);
            const ldc = N + 3;
            const trans = (M + N + Kd) % 2 === 1;
            // A (M, K) row-major, or stored as its transpose (K, M) and read with rsa = 1, csa = M.
            const aStore = trans
              ? Float32Array.from({ length: M * Kd }, (_, i) => a[(i % M) * Kd + Math.floor(i / M)]!)
              : a;
            const c0 = new Float32Array(M * ldc).fill(NaN);
            const cInit = rand(rng, M * N);
            for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) c0[i * ldc + j] = flags & 1 ? cInit[i * N + j]! : 0;
            const [c] = rawRun(label, [aStore, b, bias], [c0, k.pack_b_size(Kd, N)], ([pa, pb, pbias], [pc, pw]) => {
              k.pack_b(pw!, pb!, pbias!, Kd, N, N, 1);
              k.gemm(pc!, pa!, pw!, M, N, Kd, trans ? 1 : Kd, trans ? M : 1, ldc, flags);
            });
            const ref = refMatMul(a, b, M, Kd, N);
            const got = new Float64Array(M * N);
            let gapWrites = 0;
            for (let i = 0; i < M; i++) {
              for (let j = 0; j < N; j++) {
                got[i * N + j] = c![i * ldc + j]!;
                let v = ref[i * N + j]! + (flags & 1 ? cInit[i * N + j]! : bias[j]!);
                if (flags & 2) v = Math.max(v, 0);
                ref[i * N + j] = v;
              }
              // The row gaps (ldc > N) are never written.
              for (let g = N; g < ldc; g++) if (!Number.isNaN(c![i * ldc + g]!)) gapWrites++;
            }
            if (gapWrites) expect(gapWrites, `${label}: row gaps written`).toBe(0);
            close(got, ref, accTol(Kd + 1), `${label}: C`, Kd + 1);
            shapes++;
          }
      expect(shapes).toBe(1000);
    });
  }
});
