// Property-based fuzzing of the IDX reader (fast-check, fixed seeds, bounded runs and time): every
// mutated file, raw or gzipped, is refused with an Error naming the file, or read with exactly the
// content its bytes say (re-encoding the result gives back the file; for gzip, what zlib inflates).
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readIdx, type IdxFile } from '../../src/data/idx.js';

function encode(f: IdxFile): Uint8Array {
  const out = new Uint8Array(4 + 4 * f.dims.length + f.data.length);
  out.set([0, 0, 8, f.dims.length]);
  const dv = new DataView(out.buffer);
  f.dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(f.data, 4 + 4 * f.dims.length);
  return out;
}
const images = encode({ dims: [6, 5, 4], data: Uint8Array.from({ length: 120 }, (_, i) => (i * 37) % 256) });
const labels = encode({ dims: [6], data: Uint8Array.from([3, 1, 4, 1, 5, 9]) });

const counts: Record<string, { refused: number; identical: number }> = {};
afterAll(() => {
  console.log(`IDX fuzz outcomes: ${JSON.stringify(counts)}`);
});

async function judge(kind: string, bytes: Uint8Array, expected: () => Uint8Array | null): Promise<void> {
  const c = (counts[kind] ??= { refused: 0, identical: 0 });
  let f: IdxFile;
  try {
    f = await readIdx(bytes, 'fuzz.idx');
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/^fuzz\.idx: \S/);
    c.refused++;
    return;
  }
  const want = expected();
  expect(want, 'loaded a file that should have been refused').not.toBeNull();
  expect(Buffer.from(encode(f)).equals(Buffer.from(want!))).toBe(true);
  c.identical++;
}

const RUN = { seed: 777, numRuns: 400, interruptAfterTimeLimit: 20_000 };

// Mutations of `base`: byte changes, truncations, insertions.
function mutations(base: Uint8Array) {
  const n = base.length;
  return fc.oneof(
    fc
      .array(fc.record({ at: fc.nat({ max: n - 1 }), v: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((ps) => {
        const b = base.slice();
        for (const p of ps) b[p.at] = p.v;
        return b;
      }),
    fc.nat({ max: n }).map((cut) => base.slice(0, cut)),
    fc
      .tuple(fc.nat({ max: n }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([at, ins]) => Uint8Array.from([...base.subarray(0, at), ...ins, ...base.subarray(at)])),
  );
}

describe('IDX reader fuzz', () => {
  for (const [name, base] of [
    ['images', images],
    ['labels', labels],
  ] as const) {
    it(`raw ${name}: refused naming the file, or read exactly as the bytes say`, async () => {
      await fc.assert(
        fc.asyncProperty(mutations(base), async (b) => {
          // A raw file that reads must re-encode to itself (no bytes ignored, none invented).
          await judge(`raw-${name}`, b, () => b);
        }),
        RUN,
      );
      expect(counts[`raw-${name}`].refused).toBeGreaterThan(100);
      expect(counts[`raw-${name}`].identical).toBeGreaterThan(10);
    });
  }

  it('gzipped images: refused naming the file, or read exactly as zlib inflates them', async () => {
    const gz = new Uint8Array(gzipSync(images));
    await fc.assert(
      fc.asyncProperty(mutations(gz), async (b) => {
        await judge('gzip', b, () => {
          // What a reference inflater makes of it; a gzip header flip can make it not gzip at all (raw).
          if (b.length < 2 || b[0] !== 0x1f || b[1] !== 0x8b) return b;
          try {
            return new Uint8Array(gunzipSync(b));
          } catch {
            return null;
          }
        });
      }),
      { ...RUN, numRuns: 300 },
    );
    expect(counts.gzip.refused).toBeGreaterThan(100);
  });
});
