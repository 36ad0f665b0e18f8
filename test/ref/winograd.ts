// Winograd F(m x m, r x r) transform matrices in float64 — F(2,3) and F(4,3) of Lavin & Gray 2016, F(4,5)
// on the points 0, ±1, ±½, ±2, ∞ — a float64 Winograd convolution of one tile (to check the matrices
// against the direct reference), and the first-order worst-case rounding bound of an fp32 Winograd
// convolution derived from them.

type Mat = number[][];

/** Bᵀ (alpha x alpha), G (alpha x r), Aᵀ (m x alpha) of F(m x m, r x r): F(2,3), F(4,3) or F(4,5). */
export function winogradMatrices(m: 2 | 4, r: 3 | 5 = 3): { BT: Mat; G: Mat; AT: Mat } {
  if (r === 5) {
    if (m !== 4) throw new Error(`winogradMatrices: F(${m},5) is not defined here`);
    const h = 1 / 2,
      q = 1 / 4;
    return {
      BT: [
        [1, 0, -21 / 4, 0, 21 / 4, 0, -1, 0],
        [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
        [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0],
        [0, 2, 4, -5 / 2, -5, h, 1, 0],
        [0, -2, 4, 5 / 2, -5, -h, 1, 0],
        [0, h, q, -5 / 2, -5 / 4, 2, 1, 0],
        [0, -h, q, 5 / 2, -5 / 4, -2, 1, 0],
        [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1],
      ],
      G: [
        [1, 0, 0, 0, 0],
        [1, 1, 1, 1, 1].map((v) => (-2 / 9) * v),
        [1, -1, 1, -1, 1].map((v) => (-2 / 9) * v),
        [32, 16, 8, 4, 2].map((v) => v / 45),
        [32, -16, 8, -4, 2].map((v) => v / 45),
        [h, 1, 2, 4, 8].map((v) => v / 45),
        [h, -1, 2, -4, 8].map((v) => v / 45),
        [0, 0, 0, 0, 1],
      ],
      AT: [
        [1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, -1, h, -h, 2, -2, 0],
        [0, 1, 1, q, q, 4, 4, 0],
        [0, 1, -1, 1 / 8, -1 / 8, 8, -8, 1],
      ],
    };
  }
  if (m === 2) {
    return {
      BT: [
        [1, 0, -1, 0],
        [0, 1, 1, 0],
        [0, -1, 1, 0],
        [0, 1, 0, -1],
      ],
      G: [
        [1, 0, 0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0, 0, 1],
      ],
      AT: [
        [1, 1, 1, 0],
        [0, 1, -1, -1],
      ],
    };
  }
  return {
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  };
}

function mul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, p) => s + v * b[p]![j]!, 0)));
}
const tr = (a: Mat): Mat => a[0]!.map((_, j) => a.map((row) => row[j]!));
const abs = (a: Mat): Mat => a.map((row) => row.map(Math.abs));
const ones = (r: number, c: number): Mat => Array.from({ length: r }, () => new Array<number>(c).fill(1));

/** One output tile Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of a single channel pair: d (alpha x alpha), g (r x r) -> (m x m). */
export function winogradTile(m: 2 | 4, d: Mat, g: Mat, r: 3 | 5 = 3): Mat {
  const { BT, G, AT } = winogradMatrices(m, r);
  const U = mul(mul(G, g), tr(G));
  const V = mul(mul(BT, d), tr(BT));
  const M = U.map((row, i) => row.map((u, j) => u * V[i]![j]!));
  return mul(mul(AT, M), tr(AT));
}

/**
 * E = max over the m x m outputs of |Aᵀ| (|G| J |Gᵀ| ⊙ |Bᵀ| J |B|) |A|, J all ones: the largest sum of
 * absolute values that one output of one channel pair accumulates through the three transforms when
 * |d|, |g| <= 1. The direct method's counterpart is r² (the taps).
 */
export function winogradGrowth(m: 2 | 4, r: 3 | 5 = 3): number {
  const { BT, G, AT } = winogradMatrices(m, r);
  const a = m + r - 1;
  const Ub = mul(mul(abs(G), ones(r, r)), tr(abs(G)));
  const Vb = mul(mul(abs(BT), ones(a, a)), tr(abs(BT)));
  const P = Ub.map((row, i) => row.map((u, j) => u * Vb[i]![j]!));
  const Y = mul(mul(abs(AT), P), tr(abs(AT)));
  return Math.max(...Y.flat());
}

/**
 * Depth of rounding along the longest chain of one output, besides the C-term GEMM sum. r = 3: input
 * transform (two passes of <= 3 adds and <= 2 constant multiplies), weight transform (two passes of <= 2
 * adds and <= 2 multiplies), output transform (two passes of <= 4 adds and 1 multiply), bias and
 * accumulation; r = 5 (F(4,5)): two passes each of <= 6, 5 and 5 operations, bias and accumulation.
 */
export function winogradDepth(r: 3 | 5 = 3): number {
  return r === 5 ? 2 * 6 + 2 * 5 + 2 * 5 + 2 : 2 * 5 + 2 * 4 + 2 * 5 + 2;
}

/**
 * First-order worst-case bound on |fp32 Winograd − exact| for one output of a convolution with `cin` input
 * channels, |x| <= xmax, |w| <= wmax: with u = 2^-24 and recursive summation's γ_n ≈ n·u at every stage,
 *   |δy| <= (cin + depth)·u · cin·E·xmax·wmax
 * (the GEMM sums cin products of U and V, each bounded by the transform growth E).
 */
export function winogradBound(m: 2 | 4, cin: number, r: 3 | 5 = 3, xmax = 1, wmax = 1): number {
  return (cin + winogradDepth(r)) * 2 ** -24 * cin * winogradGrowth(m, r) * xmax * wmax;
}
