// The inference-only kernel module (assembly/inference.ts) the browser inference bundle embeds: it exports
// every kernel of the full module but the gradients, optimizer steps, learning-rate schedules and
// augmentation; its kernels compute the full module's bits; the engine gives each left-out kernel a
// stand-in that throws naming it, also before a task of it reaches the thread pool.
import { describe, expect, it } from 'vitest';
import * as adv from '../../src/advanced.js';
import { KERNEL_ARITY } from '../../src/wasm/abi.js';
import { simdBase64 } from '../../src/wasm/kernels.inference.bytes.js';
import { checkPresent, completeKernels } from '../../src/wasm/missing.js';
import { makeRng } from '../helpers/check.js';

const bytes = (b64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const LEFT_OUT = /(_backward|_step$|^lr_|^augment_|^winograd_weight_grad$|^batchnorm_update_moving$)/;

function instance(b: Uint8Array<ArrayBuffer>) {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(b), { env: { memory } });
  return { memory, exports: inst.exports };
}

describe('the inference-only kernel module', () => {
  it('exports the full module but the training kernels (Conv2DTranspose keeps conv2d_backward_input)', () => {
    const full = WebAssembly.Module.exports(new WebAssembly.Module(adv.wasmBytes('simd'))).map((e) => e.name);
    const inf = WebAssembly.Module.exports(new WebAssembly.Module(bytes(simdBase64))).map((e) => e.name);
    const want = full.filter((n) => n === 'conv2d_backward_input' || !LEFT_OUT.test(n));
    expect(inf.sort()).toEqual(want.sort());
    expect(full.length - inf.length, 'kernels left out').toBeGreaterThan(40);
  });

  it('its kernels give the full module bits: a 3x3 depthwise convolution and a GELU over the same memory contents', () => {
    const a = instance(adv.wasmBytes('simd')),
      b = instance(bytes(simdBase64));
    const rng = makeRng(8);
    const [H, W, C] = [9, 7, 5];
    const x = Float32Array.from({ length: H * W * C }, () => rng.next() * 2 - 1);
    const w = Float32Array.from({ length: 9 * C }, () => rng.next() * 2 - 1);
    const run = (m: { memory: WebAssembly.Memory; exports: WebAssembly.Exports }) => {
      const k = m.exports as unknown as Record<string, (...a: number[]) => number>;
      const base = (k.heap_base!() + 15) & ~15;
      const f = new Float32Array(m.memory.buffer);
      const [px, pw, pg, py, pz] = [0, 4096, 8192, 12288, 16384].map((o) => base + o * 4);
      f.set(x, px >>> 2);
      f.set(w, pw >>> 2);
      // the Geometry2d struct: H W C K KH KW SH SW PT PL OH OW DH DW G
      new Int32Array(m.memory.buffer).set([H, W, C, C, 3, 3, 1, 1, 1, 1, H, W, 1, 1, C], pg >>> 2);
      k.dwconv2d_forward!(py, px, pw, 0, pg, 1, 0, 0, H);
      k.gelu_forward!(pz, px, H * W * C);
      return [f.slice(py >>> 2, (py >>> 2) + H * W * C), f.slice(pz >>> 2, (pz >>> 2) + H * W * C)];
    };
    const [ya, za] = run(a);
    const [yb, zb] = run(b);
    expect(ya.some((v) => v !== 0)).toBe(true);
    expect(yb).toEqual(ya);
    expect(zb).toEqual(za);
  });

  it('a left-out kernel gets a stand-in that throws naming it, and the pool check throws before dispatch', () => {
    const k = completeKernels(instance(bytes(simdBase64)).exports) as unknown as Record<string, unknown>;
    for (const name of Object.keys(KERNEL_ARITY)) expect(typeof k[name], name).toBe('function');
    expect(() => (k.adam_step as () => void)()).toThrow(
      /adam_step: this build of simdnet has only the inference kernels \(simdnet.browser.js/,
    );
    expect(() => checkPresent(k.conv2d_backward_weight)).toThrow(/conv2d_backward_weight: this build/);
    expect(() => checkPresent(k.conv2d_forward)).not.toThrow();
  });
});
