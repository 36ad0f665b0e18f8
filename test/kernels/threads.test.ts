// Tiers 2-3 on the threads build (SIMD over a shared memory) with 2 worker threads running the
// sharded conv2d/dense tasks: the same suite as the single-thread builds.
import { afterAll, beforeAll } from 'vitest';
import * as sn from '../../src/index.js';
import { kernelSuite } from './suite.js';

beforeAll(async () => { await sn.ready({ build: 'threads', threads: 2 }); });
afterAll(async () => { await sn.shutdown(); });

kernelSuite('threads');
