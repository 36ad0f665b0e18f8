// Issue-7 kernels on the threads build with 2 worker threads running the sharded batch-norm tasks;
// the shared suite is test/kernels/extras.ts.
import { afterAll, beforeAll } from 'vitest';
import * as sn from '../../src/index.js';
import { extrasSuite } from './extras.js';

beforeAll(async () => { await sn.ready({ build: 'threads', threads: 2 }); });
afterAll(async () => { await sn.shutdown(); });

extrasSuite('threads');
