// Reference, float64, for an axis permutation: out.shape[k] = shape[perm[k]] (0-based).

// x (shape) -> out (perm applied)
export function permute(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const R = shape.length;
  const stride = new Array<number>(R).fill(1);
  for (let a = R - 2; a >= 0; a--) stride[a] = stride[a + 1]! * shape[a + 1]!;
  const dims = perm.map((p) => shape[p]!);
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  const idx = new Array<number>(R).fill(0);
  for (let o = 0; o < size; o++) {
    let src = 0;
    for (let k = 0; k < R; k++) src += idx[k]! * stride[perm[k]!]!;
    out[o] = x[src]!;
    for (let k = R - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

// dout (permuted shape) -> dx (shape): the inverse permutation
export function permuteBackward(
  dout: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly number[],
): Float64Array {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, k) => {
    inv[p] = k;
  });
  return permute(
    dout,
    perm.map((p) => shape[p]!),
    inv,
  );
}
