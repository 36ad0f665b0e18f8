// Image reading for `simdnet predict`: PGM samples above maxval are clamped, and every PGM or PNG
// error names the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readGrey } from '../../src/cli/image.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simdnet-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, bytes: Uint8Array | string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}

describe('readGrey', () => {
  it('clamps PGM samples above maxval (P2 and P5) to 1', async () => {
    const p2 = await readGrey(await file('a.pgm', 'P2\n3 1\n100\n50 100 250\n'));
    expect(Array.from(p2.data)).toEqual([0.5, 1, 1]);
    const p5 = await readGrey(
      await file('b.pgm', new Uint8Array([...new TextEncoder().encode('P5\n2 1\n100\n'), 50, 200])),
    );
    expect(Array.from(p5.data)).toEqual([0.5, 1]);
    const wide = await readGrey(
      await file('c.pgm', new Uint8Array([...new TextEncoder().encode('P5\n1 1\n1000\n'), 0xff, 0xff])),
    );
    expect(Array.from(wide.data)).toEqual([1]);
  });

  it('PGM errors name the file: bad samples, truncation, header', async () => {
    const bad = await file('bad.pgm', 'P2\n2 1\n255\n12 x3\n');
    await expect(readGrey(bad)).rejects.toThrow(`${bad}: PGM sample 1 is "x3", not a non-negative integer`);
    const neg = await file('neg.pgm', 'P2\n2 1\n255\n-1 3\n');
    await expect(readGrey(neg)).rejects.toThrow(`${neg}: PGM sample 0 is "-1"`);
    const short = await file('short.pgm', 'P2\n2 2\n255\n1 2 3\n');
    await expect(readGrey(short)).rejects.toThrow(`${short}: PGM data is truncated (3 of 4 samples)`);
    const hdr = await file('hdr.pgm', 'P5\n0 3\n255\n');
    await expect(readGrey(hdr)).rejects.toThrow(`${hdr}: invalid PGM size 0x3`);
  });

  it('PNG errors name the file: truncated and damaged PNGs', async () => {
    const png = new PNG({ width: 4, height: 4 });
    const ok = PNG.sync.write(png);
    const cut = await file('cut.png', ok.subarray(0, 30));
    await expect(readGrey(cut)).rejects.toThrow(new RegExp(`^${cut.replace(/[/.]/g, '\\$&')}: not a readable PNG`));
    const broken = Uint8Array.from(ok);
    broken.fill(0, 40, 60);
    const dmg = await file('dmg.png', broken);
    await expect(readGrey(dmg)).rejects.toThrow(new RegExp(`^${dmg.replace(/[/.]/g, '\\$&')}: not a readable PNG`));
    const other = await file('x.gif', 'GIF89a');
    await expect(readGrey(other)).rejects.toThrow(`${other}: unsupported image format (use PNG or PGM)`);
    await expect(readGrey(join(dir, 'missing.png'))).rejects.toThrow(`cannot read image ${join(dir, 'missing.png')}`);
  });
});
