// Addresses are unsigned and reach 4 GiB (wasm32). The geometry writer and the arena, each over a
// memory of its own, above 2 GiB (where a signed 32-bit view of an address turns negative) and at
// their limits; and no source file shifts an address with a sign. test/kernels/high-memory.test.ts
// runs the kernels there on every build. Grown memories here are never written in bulk: their pages
// cost address space, not RAM, and are freed with the memory object.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { GEOMETRY2D_BYTES, GEOMETRY2D_FIELDS, type Geometry2d, writeGeometry2d } from '../../src/wasm/abi.js';
import { Arena } from '../../src/wasm/arena.js';

const GiB = 2 ** 30,
  PAGE = 65536;

/** A plain memory of `bytes` (whole pages) that may grow to 4 GiB. */
const memoryOf = (bytes: number) => new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE), maximum: 65536 });

describe('writeGeometry2d', () => {
  const g = Object.fromEntries(GEOMETRY2D_FIELDS.map((f, i) => [f, 100 + i])) as unknown as Geometry2d;

  it('writes a struct placed above 2 GiB where the kernels read it', () => {
    const mem = memoryOf(2 * GiB + PAGE);
    const i32 = new Int32Array(mem.buffer);
    const ptr = 2 * GiB + 64;
    writeGeometry2d(i32, ptr, g);
    expect(Array.from(i32.subarray(ptr / 4, ptr / 4 + GEOMETRY2D_FIELDS.length))).toEqual(
      GEOMETRY2D_FIELDS.map((_, i) => 100 + i),
    );
    // the last struct that fits, and the first that does not
    writeGeometry2d(i32, mem.buffer.byteLength - GEOMETRY2D_BYTES, g);
    expect(i32[i32.length - 1]).toBe(100 + GEOMETRY2D_FIELDS.length - 1);
    const over = mem.buffer.byteLength - GEOMETRY2D_BYTES + 4;
    expect(() => writeGeometry2d(i32, over, g)).toThrow(
      `geometry: address ${over} is not a 4-byte-aligned struct within the ${2 * GiB + PAGE}-byte memory`,
    );
  });

  it('refuses an address that is negative, unaligned or past 4 GiB instead of dropping the writes', () => {
    const i32 = new Int32Array(memoryOf(PAGE).buffer);
    for (const ptr of [-64, 66, 2 ** 32 + 64, 2 ** 31 + 64])
      expect(() => writeGeometry2d(i32, ptr, g), `ptr ${ptr}`).toThrow(`geometry: address ${ptr} is not`);
  });
});

describe('arena above 2 GiB and at its limit', () => {
  it('hands out, zero-fills and frees blocks above 2 GiB', () => {
    const mem = memoryOf(PAGE);
    const a = new Arena(mem, 1000);
    expect(a.maxBytes).toBe(2 ** 32);
    const filler = a.alloc(2 * GiB, false);
    expect(filler).toBe(1008);
    const p = a.alloc(100),
      q = a.alloc(48);
    expect(p).toBeGreaterThan(2 * GiB);
    expect(q).toBe(p + 112);
    a.u8().fill(7, p, p + 112);
    a.release(p);
    expect(a.alloc(100), 'the freed block is reused').toBe(p);
    expect(Array.from(a.u8().subarray(p, p + 112)), 'and zero-filled again').toEqual(new Array(112).fill(0));
    a.f32()[(q >>> 2) + 11] = 1.5;
    expect(a.f32()[(q + 44) / 4]).toBe(1.5);
    for (const b of [p, q, filler]) a.release(b);
    expect([a.topAddress, a.liveBytes]).toEqual([1008, 0]);
  });

  it('refuses a block that would pass 4 GiB with the requested and current sizes, and stays usable', () => {
    const mem = memoryOf(PAGE);
    const a = new Arena(mem, 16);
    const filler = a.alloc(3 * GiB, false);
    const have = mem.buffer.byteLength;
    expect(() => a.alloc(GiB)).toThrow(
      `arena: cannot allocate 1073741824 bytes (1.00 GiB): 3221225472 bytes (3.00 GiB) in use in a memory of ` +
        `${have} bytes (${(have / GiB).toFixed(2)} GiB), the top at 3221225488, and the memory cannot grow past ` +
        '4294967296 bytes (4.00 GiB)',
    );
    expect(() => a.alloc(2 ** 32)).toThrow(/^arena: cannot allocate 4294967296 bytes \(4\.00 GiB\)/);
    expect(() => a.alloc(2 ** 53)).toThrow(/^arena: cannot allocate 9007199254740992 bytes/);
    expect(mem.buffer.byteLength, 'the memory did not grow').toBe(have);
    expect([a.topAddress, a.liveBytes]).toEqual([16 + 3 * GiB, 3 * GiB]);
    // the last block that fits: 64 bytes of slack stay free below 4 GiB
    const last = a.alloc(GiB - 16 - 64, false);
    expect(last + GiB - 16 - 64 + 64).toBe(2 ** 32);
    expect(mem.buffer.byteLength).toBe(2 ** 32);
    expect(() => a.alloc(1)).toThrow(/^arena: cannot allocate 1 bytes \(0\.0 MiB\): /);
    a.release(last);
    a.release(filler);
    expect(a.alloc(16)).toBe(16);
  });

  it("a memory's smaller maximum is the limit", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const a = new Arena(mem, 0, undefined, 4 * PAGE);
    a.alloc(3 * PAGE);
    expect(() => a.alloc(PAGE)).toThrow(/cannot allocate 65536 bytes \(0\.1 MiB\).* cannot grow past 262144 bytes/);
    expect(mem.buffer.byteLength).toBe(4 * PAGE);
  });

  it("the engine's arena may use all 4 GiB", async () => {
    await sn.ready({ build: 'simd' });
    expect(adv.getArena().maxBytes).toBe(2 ** 32);
  });
});

// Signed arithmetic on an address-named value: a right shift that is not >>>, `| 0` or `~~` (in code,
// not comment lines).
const SIGNED = /\b\w*(?:ptr|Ptr|addr|Addr)\w*\b(?:\)|\])?\s*(?:>>(?!>)|\|\s*0\b)|~~\s*\w*(?:ptr|addr)/;
const ROOTS = ['src', 'web', 'bench', 'scripts'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    // the embedded wasm bytes are generated base64, not code
    return /\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith('.bytes.ts') ? [p] : [];
  });
}

describe('sources', () => {
  it('no signed shift or | 0 on an address in src, web, bench or scripts', () => {
    const root = join(import.meta.dirname, '../..');
    const hits: string[] = [];
    for (const file of ROOTS.flatMap((r) => sources(join(root, r))))
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (!/^\s*(\/\/|\*|\/\*)/.test(line) && SIGNED.test(line))
            hits.push(`${file.slice(root.length + 1)}:${i + 1}: ${line.trim()}`);
        });
    expect(hits).toEqual([]);
  });
});
