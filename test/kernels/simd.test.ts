// Tiers 2-3 on the SIMD build of the kernels (the shared suite is test/kernels/suite.ts).
import { beforeAll } from 'vitest';
import * as sn from '../../src/index.js';
import { kernelSuite } from './suite.js';

beforeAll(async () => { await sn.ready({ build: 'simd' }); });

kernelSuite('simd');
