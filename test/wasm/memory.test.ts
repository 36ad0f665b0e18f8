// Arena growth over a plain (non-shared) memory: the simd build; the scalar build's memory is the same kind.
// memory-shared.test.ts runs the same check on the threads build's shared memory.
import { beforeAll, describe, it } from 'vitest';
import * as sn from '../../src/index.js';
import { checkGrowth, GROWTH_TEST } from './memory-growth.js';

beforeAll(async () => {
  await sn.ready({ build: 'simd' });
});

describe('memory growth (plain memory)', () => {
  it(GROWTH_TEST, () => checkGrowth(false));
});
