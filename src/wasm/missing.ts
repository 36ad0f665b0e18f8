// A kernel module may leave kernels out: the browser inference bundle embeds assembly/inference.ts, which has
// no gradients, optimizer steps or augmentation. Each left-out kernel gets a stand-in that throws an error
// naming it, so training in that bundle stops with a sentence instead of "undefined is not a function".
import { KERNEL_ARITY, type KernelExports, type KernelName } from './abi.js';

const STANDINS = new WeakSet<object>();

/** `exports` with a throwing stand-in for every kernel of the ABI it does not have. */
export function completeKernels(exports: WebAssembly.Exports): KernelExports {
  const out: Record<string, unknown> = { ...exports };
  for (const name of Object.keys(KERNEL_ARITY) as KernelName[]) {
    if (typeof out[name] === 'function') continue;
    const standIn = () => {
      throw new Error(
        `${name}: this build of simdnet has only the inference kernels (simdnet.browser.js: no gradients, ` +
          'optimizer steps or augmentation); train with simdnet.full.js or in Node',
      );
    };
    STANDINS.add(standIn);
    out[name] = standIn;
  }
  return out as unknown as KernelExports;
}

/** Throws the stand-in's error when kernel `f` was left out of the module (before tasks reach workers). */
export function checkPresent(f: unknown): void {
  if (typeof f === 'function' && STANDINS.has(f)) (f as () => void)();
}
