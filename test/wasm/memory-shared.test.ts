// Arena growth over the threads build's shared memory (memory.test.ts: a plain memory).
import { afterAll, beforeAll, describe, it } from 'vitest';
import * as sn from '../../src/index.js';
import { checkGrowth, GROWTH_TEST } from './memory-growth.js';

beforeAll(async () => {
  await sn.ready({ build: 'threads', threads: 2 });
});
afterAll(async () => {
  await sn.shutdown();
});

describe('memory growth (shared memory)', () => {
  it(GROWTH_TEST, () => checkGrowth(true));
});
