// Fully connected layer and plain matrix multiply references, float64, row-major.

// a (M,K), b (K,N) -> (M,N)
export function matMul(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += a[i * K + k]! * b[k * N + j]!;
      out[i * N + j] = sum;
    }
  }
  return out;
}

// x (N,IN), w (IN,OUT), b (OUT) or null -> out (N,OUT), optionally relu'd
export function denseForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  N: number,
  IN: number,
  OUT: number,
  relu = false,
): Float64Array {
  const out = new Float64Array(N * OUT);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      let sum = b ? b[o]! : 0;
      for (let i = 0; i < IN; i++) sum += x[n * IN + i]! * w[i * OUT + o]!;
      out[n * OUT + o] = relu && sum < 0 ? 0 : sum;
    }
  }
  return out;
}

// dout (N,OUT), x (N,IN), w (IN,OUT) -> dx (N,IN), dw (IN,OUT), db (OUT)
// dout must already carry any activation mask.
export function denseBackward(
  dout: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  N: number,
  IN: number,
  OUT: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(N * IN);
  const dw = new Float64Array(IN * OUT);
  const db = new Float64Array(OUT);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      const d = dout[n * OUT + o]!;
      db[o]! += d;
      for (let i = 0; i < IN; i++) {
        dx[n * IN + i]! += d * w[i * OUT + o]!;
        dw[i * OUT + o]! += d * x[n * IN + i]!;
      }
    }
  }
  return { dx, dw, db };
}
