// The arena: TypeScript owns all of the wasm memory above heap_base and hands out 16-byte-aligned
// blocks (first fit over a free list, coalescing on release, bump at the top). Kernels never allocate.
//
//   heap_base ─► [ block | free | block | block | ... ] ◄─ top        (grows memory when needed)
//
// The per-step region is tidy() in src/tensor.ts: tensors made inside it are released at its end. A
// training step repeats the same allocation sequence, so it reuses the same blocks and the
// high-water mark stays flat after the first step.
// Every typed view goes through f32()/i32()/u8(), which rebuild the view when memory.buffer changed:
// growth detaches non-shared buffers and writes to a stale view are silently dropped.
// Addresses are unsigned and reach 4 GiB (wasm32): index views with `ptr >>> 2`, never a signed shift or
// an or with zero, which turn an address above 2 GiB negative.
import { getEngine, MEMORY_MAX_PAGES } from './bindings.js';

const ALIGN = 16;
// Kept free above the highest block: SIMD tails may read (never write) up to 32 bytes past a buffer.
const SLACK = 64;
const PAGE = 65536;
/** Bytes a wasm32 memory can address. */
const WASM32_BYTES = 2 ** 32;

/** `n` bytes for an error message, with a readable size. */
function bytesText(n: number): string {
  const s = n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes (${s})`;
}

interface FreeBlock {
  ptr: number;
  size: number;
}

/**
 * Allocator of the wasm memory above `heap_base`: every tensor's data is a block of it.
 *
 * Blocks are 16-byte aligned and zero-filled; the allocator takes the first free block that fits
 * (blocks coalesce on release) or bumps the top, growing the memory when needed. A training step
 * repeats the same allocation sequence, so after the first step it reuses the same blocks and the
 * high-water mark stays flat. Growing the memory replaces `memory.buffer`: never keep a typed view
 * across an allocation, ask {@link Arena.f32} (or `i32`, `u8`) again.
 */
export class Arena {
  /** First usable address: `heap_base` rounded up to 16. */
  readonly base: number;
  /** Size the memory may grow to: the arena never hands out a byte at or past it. */
  readonly maxBytes: number;
  private top: number;
  private highWater: number;
  private freeList: FreeBlock[] = [];
  private sizes = new Map<number, number>();
  private f32view: Float32Array;
  private i32view: Int32Array;
  private u8view: Uint8Array;
  private capture: Capture | null = null;

  /**
   * @param memory the engine's memory (shared in the threads build)
   * @param base first byte the arena may use (the kernels' `heap_base()`)
   * @param zero zeroes `bytes` at `ptr` (the kernels' `zero_fill`: a native memory.fill, where a JS
   *   fill over a shared memory is many times slower); a JS fill when omitted.
   * @param maxBytes the memory's maximum size in bytes (its `maximum` pages × 65536); at most 4 GiB
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    private readonly zero?: (ptr: number, bytes: number) => void,
    maxBytes = WASM32_BYTES,
  ) {
    this.maxBytes = Math.min(maxBytes, WASM32_BYTES);
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
    this.highWater = this.base;
    this.f32view = new Float32Array(memory.buffer);
    this.i32view = new Int32Array(memory.buffer);
    this.u8view = new Uint8Array(memory.buffer);
  }

  /** Float32 view of the whole memory, valid until the next allocation. */
  f32(): Float32Array {
    if (this.f32view.buffer !== this.memory.buffer) this.f32view = new Float32Array(this.memory.buffer);
    return this.f32view;
  }

  /** Int32 view of the whole memory, valid until the next allocation. */
  i32(): Int32Array {
    if (this.i32view.buffer !== this.memory.buffer) this.i32view = new Int32Array(this.memory.buffer);
    return this.i32view;
  }

  /** Byte view of the whole memory, valid until the next allocation. */
  u8(): Uint8Array {
    if (this.u8view.buffer !== this.memory.buffer) this.u8view = new Uint8Array(this.memory.buffer);
    return this.u8view;
  }

  /**
   * Allocates `bytes` (rounded up to 16), zero-filled unless `fill` is false (for a block the caller's
   * kernel overwrites entirely: zeroing it would only cost a pass over memory). Returns the byte address.
   * @throws when `bytes` is not a non-negative integer, or the block would end past the memory's
   *   maximum (4 GiB for wasm32), or the memory cannot grow
   */
  alloc(bytes: number, fill = true): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new Error(`arena: cannot allocate ${bytes} bytes`);
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let ptr = -1;
    for (let i = 0; i < this.freeList.length; i++) {
      const f = this.freeList[i];
      if (f.size >= size) {
        ptr = f.ptr;
        if (f.size === size) this.freeList.splice(i, 1);
        else {
          f.ptr += size;
          f.size -= size;
        }
        break;
      }
    }
    if (ptr < 0) {
      ptr = this.top;
      if (ptr + size + SLACK > this.maxBytes)
        throw new Error(
          `arena: cannot allocate ${bytesText(bytes)}: ${bytesText(this.liveBytes)} in use in a memory of ` +
            `${bytesText(this.memory.buffer.byteLength)}, the top at ${ptr}, and the memory cannot grow past ` +
            `${bytesText(this.maxBytes)}`,
        );
      this.ensure(ptr + size + SLACK, bytes);
      this.top += size;
      if (this.top > this.highWater) this.highWater = this.top;
    }
    this.sizes.set(ptr, size);
    const c = this.capture;
    if (c) {
      c.bytes += size;
      if (c.bytes > c.maxBytes && !c.over) {
        // past its limit the capture gives up at once (rather than holding every block of a large run)
        c.over = true;
        const kept = [...c.released];
        c.allocated.clear();
        c.released.clear();
        for (const p of kept) this.release(p);
      }
      if (!c.over) {
        c.allocated.add(ptr);
        if (fill) c.onZero(ptr, size);
      }
    }
    if (!fill) return ptr;
    if (this.zero) this.zero(ptr, size);
    else this.u8().fill(0, ptr, ptr + size);
    return ptr;
  }

  /** Returns a block to the arena. Releasing an unknown address is an error (double free). */
  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined || this.capture?.released.has(ptr))
      throw new Error(`arena: release of unknown block at ${ptr} (double dispose?)`);
    if (this.capture?.allocated.has(ptr)) {
      this.capture.released.add(ptr); // kept for the capture's owner: see beginCapture
      return;
    }
    this.sizes.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // Fold a free block that now touches the top back into the bump region.
      const last = this.freeList[this.freeList.length - 1];
      if (last && last.ptr + last.size === this.top) {
        this.top = last.ptr;
        this.freeList.pop();
      }
      return;
    }
    // Insert sorted by address, merging with neighbours.
    let i = 0;
    while (i < this.freeList.length && this.freeList[i].ptr < ptr) i++;
    const prev = this.freeList[i - 1];
    const next = this.freeList[i];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += size;
      if (next && prev.ptr + prev.size === next.ptr) {
        prev.size += next.size;
        this.freeList.splice(i, 1);
      }
    } else if (next && ptr + size === next.ptr) {
      next.ptr = ptr;
      next.size += size;
    } else {
      this.freeList.splice(i, 0, { ptr, size });
    }
  }

  /**
   * @internal Starts a capture (one at a time): every block allocated from now on is recorded, and
   * `onZero(ptr, bytes)` is called for each one that is zero-filled; releasing such a block marks it
   * released but keeps it, so no later allocation reuses it. With {@link endCapture} the capture's
   * owner (a kernel trace) gets blocks whose addresses and contents stay its own. Once more than
   * `maxBytes` were allocated the capture is abandoned: the blocks it kept are freed, it records no
   * more, and endCapture returns null.
   */
  beginCapture(onZero: (ptr: number, bytes: number) => void, maxBytes = Number.POSITIVE_INFINITY): void {
    if (this.capture) throw new Error('arena: a capture is already running');
    this.capture = { allocated: new Set(), released: new Set(), bytes: 0, maxBytes, over: false, onZero };
  }

  /** @internal Bytes allocated since {@link beginCapture} (0 when no capture runs). */
  get capturedBytes(): number {
    return this.capture?.bytes ?? 0;
  }

  /**
   * @internal Ends the capture. When every block it allocated was released, returns them: they stay
   * allocated and the caller releases them when done. Otherwise (a block is still live: someone else
   * owns it; or the capture was abandoned) frees the released ones and returns null.
   */
  endCapture(): number[] | null {
    const c = this.capture;
    if (!c) throw new Error('arena: no capture is running');
    this.capture = null;
    if (c.over) return null;
    if (c.released.size === c.allocated.size) return [...c.allocated];
    for (const p of c.released) this.release(p);
    return null;
  }

  /** True while `ptr` is a live block. */
  isLive(ptr: number): boolean {
    return this.sizes.has(ptr);
  }

  /** Highest address ever handed out (bytes above heap_base: `highWaterMark - base`). */
  get highWaterMark(): number {
    return this.highWater;
  }

  /** Bytes currently allocated. */
  get liveBytes(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }

  /** Current top of the bump region. */
  get topAddress(): number {
    return this.top;
  }

  private ensure(end: number, bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    // Grow by at least 1/8 of the current size so repeated small growths stay rare (not past the maximum).
    const grow = Math.max(pages, Math.min(Math.ceil(have / PAGE / 8), Math.floor((this.maxBytes - have) / PAGE)));
    try {
      this.memory.grow(grow);
    } catch {
      try {
        this.memory.grow(pages);
      } catch {
        throw new Error(
          `arena: cannot allocate ${bytesText(bytes)}: out of memory — the engine cannot grow the wasm memory ` +
            `from ${bytesText(have)} to ${bytesText(end)}`,
        );
      }
    }
  }
}

interface Capture {
  allocated: Set<number>;
  released: Set<number>;
  bytes: number;
  maxBytes: number;
  /** Past maxBytes: abandoned. */
  over: boolean;
  onZero: (ptr: number, bytes: number) => void;
}

let arena: Arena | null = null;

/** The process-wide arena over the engine's memory. */
export function getArena(): Arena {
  if (!arena) {
    const e = getEngine();
    // usize results come back as signed i32: >>> 0 reads them unsigned
    arena = new Arena(e.memory, e.k.heap_base() >>> 0, e.k.zero_fill, MEMORY_MAX_PAGES * PAGE);
  }
  return arena;
}
