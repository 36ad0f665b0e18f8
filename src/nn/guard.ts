// A copy of the model's state (weights, layer state, optimizer moments) taken before each training
// step, so that a step whose loss or update is not finite can be undone and the model keeps its
// last finite weights. One arena block, reused every step (a memcpy inside wasm memory).
import type { Tensor } from '../tensor.js';
import { getArena } from '../wasm/arena.js';
import { k } from '../ops/util.js';

export class StepGuard {
  private ptr = -1;
  private bytes = 0;
  private saved: Tensor[] = [];

  /** Copies the data of `tensors` aside. */
  save(tensors: Tensor[]): void {
    const arena = getArena();
    const need = tensors.reduce((a, t) => a + t.size * 4, 0);
    if (need !== this.bytes) {
      this.free();
      this.ptr = arena.alloc(Math.max(4, need));
      this.bytes = need;
    }
    const u8 = arena.u8();
    let at = this.ptr;
    for (const t of tensors) {
      u8.copyWithin(at, t.ptr, t.ptr + t.size * 4);
      at += t.size * 4;
    }
    this.saved = tensors;
  }

  /** Writes the saved data back. */
  restore(): void {
    const u8 = getArena().u8();
    let at = this.ptr;
    for (const t of this.saved) {
      u8.copyWithin(t.ptr, at, at + t.size * 4);
      at += t.size * 4;
    }
  }

  /** Index of the first tensor holding NaN or ±Infinity, or -1. */
  static firstNonFinite(tensors: Tensor[]): number {
    const kx = k();
    return tensors.findIndex((t) => kx.find_nonfinite(t.ptr, t.size) >= 0);
  }

  /** Releases the copy. */
  free(): void {
    if (this.ptr >= 0) getArena().release(this.ptr);
    this.ptr = -1;
    this.bytes = 0;
    this.saved = [];
  }
}
