// permute (transpose) over assembly/kernels/permute.ts: out axis k is input axis perm[k]; the
// backward is the strided copy the other way, accumulated into dx.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { getArena } from '../wasm/arena.js';
import { expectTensor, k } from './util.js';
import { show } from '../show.js';

const MAX_RANK = 8;

/** Checks that perm is a permutation of 0..rank-1 (0-based). */
export function checkPermutation(perm: readonly unknown[], rank: number, what: string, base = 0): void {
  const ok =
    Array.isArray(perm) &&
    perm.length === rank &&
    perm.every((p) => Number.isInteger(p)) &&
    new Set(perm).size === rank &&
    perm.every((p) => (p as number) >= base && (p as number) < rank + base);
  if (!ok) {
    throw new Error(
      `${what}: dims ${show(perm)} must be a permutation of ${base}..${rank - 1 + base} ` +
        `(one entry per axis of a rank-${rank} input)`,
    );
  }
}

/** x with its axes reordered: out.shape[k] = x.shape[perm[k]] (tf.transpose). Up to rank 8. */
export function permute(x: Tensor, perm: readonly number[], name = 'permute'): Tensor {
  expectTensor(x, null, name, 'x');
  const R = x.rank;
  if (R < 1 || R > MAX_RANK) throw new Error(`${name}: input rank must be 1..${MAX_RANK}, got shape [${x.shape}]`);
  checkPermutation(perm, R, name);
  const strides = new Array<number>(R);
  for (let a = R - 1, s = 1; a >= 0; a--) {
    strides[a] = s;
    s *= x.shape[a];
  }
  const dims = perm.map((p) => x.shape[p]);
  const out = new Tensor(dims);
  if (out.size === 0) return out;
  // dims and strides cross into wasm as one small i32 block, allocated per call.
  const meta = [...dims, ...perm.map((p) => strides[p])];
  const withMeta = (fn: (m: number) => void) => {
    const arena = getArena();
    const m = arena.alloc(meta.length * 4, false); // written whole below
    try {
      arena.i32().set(meta, m >>> 2);
      fn(m);
    } finally {
      arena.release(m);
    }
  };
  const kx = k();
  withMeta((m) => kx.permute_forward(out.ptr, x.ptr, m, R));
  record([x], out, (dy, grad) => {
    const gx = grad(x);
    if (gx) withMeta((m) => kx.permute_backward(gx, dy.ptr, m, R));
  });
  return out;
}
