// Issue-7 kernels (batch norm, activations, global pooling, RMSprop, schedules) on the simd build;
// the shared suite is test/kernels/extras.ts.
import { beforeAll } from 'vitest';
import * as sn from '../../src/index.js';
import { extrasSuite } from './extras.js';

beforeAll(async () => { await sn.ready({ build: 'simd' }); });

extrasSuite('simd');
