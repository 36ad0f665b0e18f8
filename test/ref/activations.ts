// References, float64, for the element-wise activations beyond relu: sigmoid, tanh, elu, leaky relu
// and the exact GELU, each with its backward (dx for a given dout; x is the activation's input).

export function sigmoid(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 1 / (1 + Math.exp(-v)));
}

export function sigmoidBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  // d/dx sigmoid = s (1 - s)
  return Float64Array.from(x, (v, i) => {
    const s = 1 / (1 + Math.exp(-v));
    return dout[i]! * s * (1 - s);
  });
}

export function tanh(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.tanh(v));
}

export function tanhBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(v);
    return dout[i]! * (1 - t * t);
  });
}

// Keras ELU: x > 0 ? x : alpha (e^x - 1)
export function elu(x: ArrayLike<number>, alpha = 1): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : alpha * Math.expm1(v)));
}

export function eluBackward(dout: ArrayLike<number>, x: ArrayLike<number>, alpha = 1): Float64Array {
  return Float64Array.from(x, (v, i) => (v > 0 ? dout[i]! : dout[i]! * alpha * Math.exp(v)));
}

// Keras LeakyReLU: x > 0 ? x : alpha x
export function leakyRelu(x: ArrayLike<number>, alpha = 0.3): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : alpha * v));
}

export function leakyReluBackward(dout: ArrayLike<number>, x: ArrayLike<number>, alpha = 0.3): Float64Array {
  return Float64Array.from(x, (v, i) => (v > 0 ? dout[i]! : alpha * dout[i]!));
}

// erf by its everywhere-convergent series with positive terms only (no cancellation):
//   erf(t) = 2/sqrt(pi) · e^(-t²) · Σ_n 2^n t^(2n+1) / (1·3·5···(2n+1))
// and erfc(t) for t >= 2 by the continued fraction, where 1 - erf(t) would cancel.
export function erf(t: number): number {
  if (t < 0) return -erf(-t);
  if (t >= 2) return 1 - erfc(t);
  let term = t,
    sum = t;
  for (let n = 1; n < 200; n++) {
    term *= (2 * t * t) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
}

export function erfc(t: number): number {
  if (t < 2) return 1 - erf(t);
  // erfc(t) = e^(-t²)/sqrt(pi) · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + 2/(t + ...))))), evaluated bottom-up.
  let f = t;
  for (let k = 100; k >= 1; k--) f = t + k / 2 / f;
  return Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
}

// Exact GELU: x Φ(x), Φ(x) = ½ erfc(-x/√2)
export function gelu(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * erfc(-v / Math.SQRT2));
}

// d/dx x Φ(x) = Φ(x) + x φ(x), φ the standard normal density
export function geluBackward(dout: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(
    x,
    (v, i) => dout[i]! * (0.5 * erfc(-v / Math.SQRT2) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)),
  );
}
