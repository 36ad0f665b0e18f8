// Seeded PRNG (xoshiro128**, seeded through splitmix32): integer arithmetic only, so every JS engine
// produces the same sequence. Its 4-word state is saved with the model for exact resumption.

/**
 * Seeded pseudo-random generator (xoshiro128**, state seeded through splitmix32).
 *
 * Only 32-bit integer arithmetic, so every JavaScript engine gives the same sequence for a seed:
 * weight initialization, data shuffling and dropout masks are reproducible in Node and browsers.
 * The 4-word state is saved with a model ({@link Rng.getState}) for exact resumption.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform(); // same value on every engine
 * ```
 */
export class Rng {
  private s: Uint32Array;

  /**
   * @param seed any finite number; its integer part modulo 2^32 selects the sequence
   * @throws when `seed` is not finite
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.s = new Uint32Array(4);
    let x = (Math.trunc(seed) >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable as float32). */
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle(a: Int32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(((this.nextU32() >>> 0) / 4294967296) * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** The 4 state words, to save. */
  getState(): number[] {
    return Array.from(this.s);
  }
  /**
   * Restores state from {@link Rng.getState}: the sequence continues where it was saved.
   * @throws when `state` is not 4 unsigned 32-bit integers
   */
  setState(state: readonly number[]): void {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    ) {
      throw new Error('rng state must be 4 unsigned 32-bit integers');
    }
    if (state.every((v) => v === 0))
      throw new Error('rng state must not be all zeros (the generator would only return 0)');
    this.s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
