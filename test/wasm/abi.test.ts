// The generated kernel ABI (src/wasm/abi.ts) against the compiled modules: every build exports exactly
// the kernels of the table, each with the arity the table gives, and the geometry struct has the size
// AssemblyScript lays it out with. The thread pool refuses a task whose argument list is wrong.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { GEOMETRY2D_BYTES, GEOMETRY2D_FIELDS, KERNEL_ARITY, writeGeometry2d, type Task } from '../../src/wasm/abi.js';

const builds: sn.Build[] = ['simd', 'scalar', 'threads'];

async function exportsOf(build: sn.Build): Promise<Record<string, unknown> | null> {
  const bytes = adv.wasmBytes(build);
  if (!WebAssembly.validate(bytes)) return null;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: build === 'threads' });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  return instance.exports as Record<string, unknown>;
}

beforeAll(async () => {
  await sn.ready({ build: 'simd' });
});

describe('kernel ABI', () => {
  for (const build of builds) {
    // Skipped where this engine cannot validate the build (no SIMD / threads).
    it.skipIf(!WebAssembly.validate(adv.wasmBytes(build)))(
      `${build} build: exports = the generated table, with its arities`,
      async () => {
        const ex = await exportsOf(build);
        if (!ex) throw new Error(`the ${build} build validates but exportsOf gave nothing`);
        const fns = Object.keys(ex)
          .filter((n) => typeof ex[n] === 'function')
          .sort();
        expect(fns).toEqual(Object.keys(KERNEL_ARITY).sort());
        const wrong = fns.filter(
          (n) => (ex[n] as (...a: number[]) => unknown).length !== KERNEL_ARITY[n as keyof typeof KERNEL_ARITY],
        );
        expect(wrong).toEqual([]);
        expect((ex.geometry2d_bytes as () => number)()).toBe(GEOMETRY2D_BYTES);
      },
    );
  }

  it('Geometry2d: fields in memory order, integers only', () => {
    expect(GEOMETRY2D_FIELDS.length * 4).toBe(GEOMETRY2D_BYTES);
    const view = new Int32Array(GEOMETRY2D_FIELDS.length + 2);
    const g = Object.fromEntries(GEOMETRY2D_FIELDS.map((f, i) => [f, 10 + i])) as Record<
      (typeof GEOMETRY2D_FIELDS)[number],
      number
    >;
    writeGeometry2d(view, 4, g);
    expect(Array.from(view)).toEqual([0, ...GEOMETRY2D_FIELDS.map((_, i) => 10 + i), 0]);
    expect(() => writeGeometry2d(view, 0, { ...g, KH: 2.5 })).toThrow(/KH must be a non-negative integer, got 2.5/);
    expect(() => writeGeometry2d(view, 0, { ...g, OW: undefined as unknown as number })).toThrow(/OW must be/);
  });

  it('the thread pool refuses a task with a missing argument or an unknown kernel', () => {
    const pool = sn.getEngine().pool;
    const short = ['add_scalar', 0, 1] as unknown as Task;
    expect(() => pool.run([short])).toThrow(/add_scalar takes 3 arguments, got 2/);
    const unknown = ['no_such_kernel', 1] as unknown as Task;
    expect(() => pool.run([unknown])).toThrow(/no kernel named no_such_kernel/);
  });
});
