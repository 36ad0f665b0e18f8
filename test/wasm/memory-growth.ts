// Arena growth, shared by memory.test.ts (plain memory) and memory-shared.test.ts (the threads build's
// shared memory): tensors held across memory.grow keep their values, and views taken after the growth
// write where the kernels read.
import { expect } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { close, rand } from '../kernels/harness.js';

export const GROWTH_TEST =
  'x=[10,100] held across a grow beyond the whole memory: values survive, view() writes land after growth';

/** The growth check on the running engine; `shared`: its memory is a shared one (threads build). */
export function checkGrowth(shared: boolean): void {
  const mem = sn.getEngine().memory;
  expect(mem.buffer instanceof SharedArrayBuffer, 'memory kind').toBe(shared);
  const data = rand(makeRng(99), 1000);
  const held = sn.tensor(data, [10, 100]);
  const stale = held.view();
  const before = mem.buffer.byteLength;
  // More than the whole current memory: the arena must grow it.
  const big = sn.zeros([before / 4 + 4096]);
  const after = mem.buffer.byteLength;
  expect(after).toBeGreaterThan(before);
  // A plain memory detaches old views on growth; a shared one keeps them at the old length.
  if (shared) expect(stale.length, 'shared memory: the old view keeps its length').toBe(1000);
  else expect(stale.length, 'the pre-growth view is detached').toBe(0);
  expect(Array.from(held.dataSync())).toEqual(Array.from(data));
  // Writes through a fresh view land in wasm memory (the kernels see them).
  const v = held.view();
  expect(v.buffer.byteLength).toBe(mem.buffer.byteLength);
  v[0] = 1000;
  v[999] = -2000;
  expect(held.dataSync()[0]).toBe(1000);
  let s = 0;
  for (let i = 1; i < 999; i++) s += data[i]!;
  const total = sn.sum(held);
  close(total.dataSync(), [s + 1000 - 2000], { atol: 1e-4, rtol: 1e-7 }, 'sum after growth');
  // The big block is usable too: write its last element and read it back through a kernel.
  big.view()[big.size - 1] = 7;
  expect(sn.getEngine().k.find_nonfinite(big.ptr, big.size)).toBe(-1);
  expect(big.dataSync()[big.size - 1]).toBe(7);
  // And ops run on the held tensor after growth.
  const y = sn.relu(held);
  expect(y.dataSync()[999]).toBe(0);
  expect(y.dataSync()[0]).toBe(1000);
  for (const t of [held, big, total, y]) t.dispose();
}
