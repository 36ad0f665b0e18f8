// Reproducibility: the seed fixes weight init, shuffling and dropout, so the same seed and data give
// bit-identical weights; a different seed gives different ones.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { bars, tinyModel, weightsHash } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

const data = bars(240, 77);
const STEPS = 30; // 240 examples / batch 8, one epoch

// model maker, fit seed -> weights hash after 30 Adam steps (with dropout when asked)
async function run(make: () => sn.Sequential, fitSeed?: number): Promise<string> {
  const m = make();
  live.push(m);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  let batches = 0;
  await m.fit(data.x, data.labels, {
    epochs: 1,
    batchSize: 8,
    verbose: 0,
    seed: fitSeed,
    callbacks: {
      onBatchEnd: () => {
        batches++;
      },
    },
  });
  expect(batches).toBe(STEPS);
  return weightsHash(m);
}

describe('determinism', () => {
  it('same seed, same data → identical weights after 30 steps (twice in one process)', async () => {
    const a = await run(() => tinyModel(5));
    const b = await run(() => tinyModel(5));
    expect(b).toBe(a);
    // Training moved the weights: the hash is not the initial one.
    const init = tinyModel(5);
    live.push(init);
    init.build();
    expect(weightsHash(init)).not.toBe(a);
  });

  it('different seed → different weights', async () => {
    const a = await run(() => tinyModel(5));
    const c = await run(() => tinyModel(6));
    expect(c).not.toBe(a);
  });

  it('the seed also drives dropout masks and shuffling', async () => {
    const drop = (seed: number) => () => tinyModel(seed, [sn.layers.dropout({ rate: 0.3 })]);
    expect(await run(drop(8))).toBe(await run(drop(8)));
    // Same initial weights (constructor seed), different fit seed → different shuffle and masks.
    expect(await run(drop(8), 1)).toBe(await run(drop(8), 1));
    expect(await run(drop(8), 1)).not.toBe(await run(drop(8), 2));
    expect(await run(() => tinyModel(8), 1)).not.toBe(await run(() => tinyModel(8), 2));
  });

  it('identical initial weights for the same constructor seed (sequential({seed}) and setSeed)', () => {
    const a = tinyModel(21);
    const b = tinyModel(undefined);
    live.push(a, b);
    b.setSeed(21);
    a.build();
    b.build();
    expect(weightsHash(b)).toBe(weightsHash(a));
    expect(a.seed).toBe(21);
    expect(() => b.setSeed(3)).toThrow(/weights already exist/);
  });

  it('fit({seed}) reseeds shuffling and dropout; initial weights come from the model seed', async () => {
    // FitArgs.seed: the weights exist after compile (as in Keras) and were seeded by the model seed.
    const a = await run(() => tinyModel(30), 31);
    expect(await run(() => tinyModel(30), 31)).toBe(a);
    expect(await run(() => tinyModel(32), 31)).not.toBe(a);
    // Without a constructor seed, each model draws its own: setSeed before compile pins it.
    const m = tinyModel(undefined);
    live.push(m);
    m.setSeed(30);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await m.fit(data.x, data.labels, { epochs: 1, batchSize: 8, verbose: 0, seed: 31 });
    expect(weightsHash(m)).toBe(a);
  });
});
