// The inference plan's global state: the weights version every plan is made for, and the switches the
// tests and the bench turn (plan on/off, kernel traces on/off).

/** Most memory a kernel trace may keep: its forward's allocations (a trace reuses none of them). */
export const TRACE_MAX_BYTES = 32 * 2 ** 20;

let version = 0;
let enabled = true;
let tracing = true;

/**
 * Tells simdnet that weights were written other than through Model's training, setWeights or loading
 * (e.g. by an optimizer run by hand; a write through `weight.value.view()` is noticed without it), so
 * that predict rebuilds the folded weights and Winograd transforms it keeps for them.
 */
export function weightsChanged(): void {
  version++;
}

/** @internal The global weights version (see {@link weightsChanged}). */
export function weightsVersion(): number {
  return version;
}

/** @internal Turns predict's inference plan off and on (the bench measures what it gains). */
export function setInferencePlanEnabled(on: boolean): void {
  enabled = on;
}

/** @internal Whether predict uses an inference plan. */
export function inferencePlanEnabled(): boolean {
  return enabled;
}

/** @internal Turns predict's kernel traces off and on (tests compare the two; the bench measures the gain). */
export function setKernelTracesEnabled(on: boolean): void {
  tracing = on;
}

/** @internal Whether predict records and replays kernel traces. */
export function kernelTracesEnabled(): boolean {
  return tracing;
}
