// A compact forward + gradient check of one op against float64 references, for the convolution
// families' kernel tests: the op's output vs refOut, and the gradients of sum(r * op(...)) vs the
// reference backward at the same r, each within accTol of the number of f32 terms summed.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng, type Rng } from '../helpers/check.js';

const U = 2 ** -24;

/** |k - r| <= 4·u·n + 1e-6·|r| for an f32 sum of n terms of magnitude <= 1 (see suite.ts). */
export function accTol(n: number): { atol: number; rtol: number } {
  return { atol: 4 * U * Math.max(n, 1), rtol: 1e-6 };
}

/** n values uniform in [-1, 1), rounded to f32 so the reference sees what the kernel sees. */
export function rand(rng: Rng, n: number): Float32Array {
  return Float32Array.from(rng.fill(n, -1, 1));
}

/** A seed from a test name (FNV-1a). */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface OpCheck {
  name: string;
  inputs: Array<{ data: Float32Array; shape: number[] }>;
  op: (...xs: sn.Tensor[]) => sn.Tensor;
  refOut: ArrayLike<number>;
  refShape: number[];
  /** Terms per output value (for its tolerance). */
  outTerms: number;
  /** Reference gradients of every input for the upstream gradient r. */
  refGrads: (r: Float32Array) => ArrayLike<number>[];
  /** Terms per gradient value, one per input. */
  gradTerms: number[];
}

export function checkOp(c: OpCheck): void {
  const arena = sn.getArena();
  const live0 = arena.liveBytes;
  const xs = c.inputs.map((i) => sn.tensor(i.data, i.shape));
  sn.tidy(() => {
    const y = c.op(...xs);
    expect(y.shape, `${c.name}: output shape`).toEqual(c.refShape);
    expectClose(y.dataSync(), c.refOut, { ...accTol(c.outTerms), label: `${c.name}: forward` });
  });
  const r = rand(makeRng(seedOf(c.name) ^ 0x5eed), c.refOut.length);
  const rt = sn.tensor(r, c.refShape);
  const { value, grads } = sn.valueAndGrads((...ts: sn.Tensor[]) => sn.sum(sn.mul(c.op(...ts), rt)))(xs);
  const ref = c.refGrads(r);
  grads.forEach((g, i) => {
    expect(g.shape, `${c.name}: grad ${i} shape`).toEqual(c.inputs[i]!.shape);
    expectClose(g.dataSync(), ref[i]!, { ...accTol(c.gradTerms[i]!), label: `${c.name}: grad ${i}` });
  });
  value.dispose();
  for (const g of grads) g.dispose();
  rt.dispose();
  for (const x of xs) x.dispose();
  expect(arena.liveBytes, `${c.name}: arena bytes leaked`).toBe(live0);
}
