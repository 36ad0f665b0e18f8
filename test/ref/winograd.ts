// Winograd F(m x m, 3x3) transform matrices (Lavin & Gray 2016) in float64, a float64 Winograd
// convolution of one tile (to check the matrices against the direct reference), and the first-order
// worst-case rounding bound of an fp32 Winograd convolution derived from them.

type Mat = number[][];

/** Bᵀ (alpha x alpha), G (alpha x 3), Aᵀ (m x alpha) of F(m x m, 3x3), m = 2 or 4. */
export function winogradMatrices(m: 2 | 4): { BT: Mat; G: Mat; AT: Mat } {
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

/** One output tile Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of a single channel pair: d (alpha x alpha), g (3 x 3) -> (m x m). */
export function winogradTile(m: 2 | 4, d: Mat, g: Mat): Mat {
  const { BT, G, AT } = winogradMatrices(m);
  const U = mul(mul(G, g), tr(G));
  const V = mul(mul(BT, d), tr(BT));
  const M = U.map((row, i) => row.map((u, j) => u * V[i]![j]!));
  return mul(mul(AT, M), tr(AT));
}

/**
 * E_m = max over the m x m outputs of |Aᵀ| (|G| J |Gᵀ| ⊙ |Bᵀ| J |B|) |A|, J all ones: the largest sum of
 * absolute values that one output of one channel pair accumulates through the three transforms when
 * |d|, |g| <= 1. The direct method's counterpart is 9 (nine taps).
 */
export function winogradGrowth(m: 2 | 4): number {
  const { BT, G, AT } = winogradMatrices(m);
  const a = m + 2;
  const Ub = mul(mul(abs(G), ones(3, 3)), tr(abs(G)));
  const Vb = mul(mul(abs(BT), ones(a, a)), tr(abs(BT)));
  const P = Ub.map((row, i) => row.map((u, j) => u * Vb[i]![j]!));
  const Y = mul(mul(abs(AT), P), tr(abs(AT)));
  return Math.max(...Y.flat());
}

/**
 * Depth of rounding along the longest chain of one output, besides the C-term GEMM sum: input transform
 * (two passes of <= 3 adds and <= 2 constant multiplies), weight transform (two passes of <= 2 adds and
 * <= 2 multiplies), output transform (two passes of <= 4 adds and 1 multiply), bias and accumulation.
 */
export const WINOGRAD_DEPTH = 2 * 5 + 2 * 4 + 2 * 5 + 2;

/**
 * First-order worst-case bound on |fp32 Winograd − exact| for one output of a convolution with `cin` input
 * channels, |x| <= xmax, |w| <= wmax: with u = 2^-24 and recursive summation's γ_n ≈ n·u at every stage,
 *   |δy| <= (cin + WINOGRAD_DEPTH)·u · cin·E_m·xmax·wmax
 * (the GEMM sums cin products of U and V, each bounded by the transform growth E_m).
 */
export function winogradBound(m: 2 | 4, cin: number, xmax = 1, wmax = 1): number {
  return (cin + WINOGRAD_DEPTH) * 2 ** -24 * cin * winogradGrowth(m) * xmax * wmax;
}
