// Tensors placed high in the 4 GiB of wasm32 memory: across the 2 GiB line (where a signed 32-bit
// view of an address turns negative), wholly above it, and just under 4 GiB. Convolution (direct and
// Winograd), pooling, dense, optimizer steps and the other kernel families, forward and gradients, and
// a small model's training and predictions, must give the bits they give low in memory, on every build.
// A filler block (not zero-filled: its pages are never touched, so it costs address space, not RAM)
// lifts the arena's top to each place; the memory goes with this file's process. An allocation that
// would pass 4 GiB is refused with an error naming the sizes, and leaves the arena usable; the kernels'
// size queries saturate rather than wrap.
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { build, firstBitDiff, prod, rand, seedOf } from './harness.js';

const GiB = 2 ** 30,
  MiB = 2 ** 20;

interface Run {
  /** Every output (forward values, gradients, parameters and optimizer slots), by name. */
  results: Map<string, Float32Array>;
  /** Lowest address and highest end of the tensors the run made. */
  lo: number;
  hi: number;
}

type ConvCase = [string, number[], sn.Conv2dOptions];
const CONVS: ConvCase[] = [
  ['conv direct 3x3 same', [3, 3, 6, 8], { padding: 'same', algorithm: 'direct' }],
  ['conv direct 3x3 s2', [3, 3, 6, 8], { strides: 2, algorithm: 'direct' }],
  ['conv winograd F(2,3)', [3, 3, 6, 8], { padding: 'same', algorithm: 'winograd', winogradTile: 2 }],
  ['conv winograd F(4,3)', [3, 3, 6, 8], { padding: 'same', algorithm: 'winograd', winogradTile: 4 }],
  ['conv winograd F(4,5)', [5, 5, 6, 8], { padding: 'same', algorithm: 'winograd', winogradTile: 4 }],
  ['conv winograd 5x5 in F(2,3) pieces', [5, 5, 6, 8], { padding: 'same', algorithm: 'winograd', winogradTile: 2 }],
];

interface Ctx {
  rng: Rng;
  /** A tensor of uniform values in [lo, hi). */
  make: (shape: readonly number[], lo?: number, hi?: number) => sn.Tensor;
  /** Keeps a copy of t's values under `name`. */
  keep: (name: string, t: sn.Tensor) => void;
  /** Keeps f's value and the gradient of each input for a random dy. */
  withGrads: (name: string, f: (...xs: sn.Tensor[]) => sn.Tensor, xs: sn.Tensor[]) => void;
}

// The same computation wherever the arena places it: the data depends only on the seed.
function workload(): Run {
  const rng = makeRng(seedOf('high-memory'));
  const results = new Map<string, Float32Array>();
  let lo = Number.POSITIVE_INFINITY,
    hi = 0;
  const note = (t: sn.Tensor) => {
    lo = Math.min(lo, t.ptr);
    hi = Math.max(hi, t.ptr + t.size * 4);
    return t;
  };
  const make = (shape: readonly number[], a = -1, b = 1) => note(sn.tensor(rand(rng, prod(shape), a, b), shape));
  const keep = (name: string, t: sn.Tensor) => results.set(name, Float32Array.from(note(t).dataSync()));
  const withGrads = (name: string, f: (...xs: sn.Tensor[]) => sn.Tensor, xs: sn.Tensor[]) => {
    const shape = sn.noGrad(() => f(...xs)).shape;
    const { value, grads } = sn.valueAndGrads(f)(xs, make(shape));
    keep(`${name}: y`, value);
    grads.forEach((g, i) => keep(`${name}: d${i}`, g));
  };
  const ctx: Ctx = { rng, make, keep, withGrads };
  sn.tidy(() => {
    convPoolDense(ctx);
    optimizers(ctx, results);
    otherOps(ctx);
    moreOps(ctx);
  });
  return { results, lo, hi };
}

function convPoolDense({ make, withGrads }: Ctx): void {
  const x = make([4, 10, 10, 6]);
  for (const [name, wShape, opts] of CONVS)
    withGrads(name, (x, w, b) => sn.conv2d(x, w, { ...opts, bias: b }), [x, make(wShape), make([wShape[3]!])]);
  withGrads('max pool 2x2', (x) => sn.maxPool2d(x, { poolSize: 2 }), [x]);
  withGrads('avg pool 3x3 s2 same', (x) => sn.avgPool2d(x, { poolSize: 3, strides: 2, padding: 'same' }), [x]);
  withGrads('dense', (x, w, b) => sn.dense(x, w, { bias: b }), [make([9, 37]), make([37, 11]), make([11])]);
}

// Two steps of each optimizer; the parameters and the optimizer's slots after them.
function optimizers({ rng, make, keep }: Ctx, results: Map<string, Float32Array>): void {
  for (const [name, opt] of [
    ['adam', new sn.Adam({ learningRate: 0.01 })],
    ['sgd momentum', new sn.SGD({ learningRate: 0.05, momentum: 0.9 })],
  ] as const) {
    const params = [make([37, 11]), make([11])].map((value, i) => ({ name: `p${i}`, value, grad: make(value.shape) }));
    opt.step(params);
    for (const p of params) p.grad.view().set(rand(rng, p.grad.size, -2, 2));
    opt.step(params);
    for (const p of params) keep(`${name}: ${p.name}`, p.value);
    const state = opt.getState(params);
    for (const p of params)
      state.slots[p.name]!.forEach((s, i) => results.set(`${name}: ${p.name} slot ${i}`, Float32Array.from(s)));
    opt.dispose();
  }
}

// The other kernel families, several of which read metadata (strides, shapes) that JavaScript writes.
function otherOps({ make, keep, withGrads }: Ctx): void {
  const x = make([4, 7, 9, 6]);
  withGrads('depthwise 3x3', (x, w) => sn.depthwiseConv2d(x, w, { padding: 'same' }), [x, make([3, 3, 6, 2])]);
  withGrads('conv transpose s2', (x, w) => sn.conv2dTranspose(x, w, { strides: 2, padding: 'same' }), [
    x,
    make([3, 3, 5, 6]),
  ]);
  const [mean, variance] = [make([6]), make([6], 0.5, 2)];
  withGrads(
    'batch norm',
    (x, g, b) => sn.batchNorm(x, { gamma: g, beta: b, movingMean: mean, movingVariance: variance, training: true }),
    [x, make([6]), make([6])],
  );
  keep('batch norm: moving mean', mean);
  keep('batch norm: moving variance', variance);
  withGrads('permute', (x) => sn.permute(x, [0, 3, 1, 2]), [x]);
  withGrads('maximum broadcast', (a, b) => sn.maximum(a, b), [x, make([1, 1, 9, 6])]);
  withGrads('concat', (a, b) => sn.concat([a, b], -1), [x, make([4, 7, 9, 3])]);
  withGrads(
    'zero padding',
    (x) =>
      sn.zeroPadding2d(x, [
        [1, 2],
        [0, 3],
      ]),
    [x],
  );
  withGrads('bilinear upsampling', (x) => sn.upSampling2d(x, 2, 'bilinear'), [x]);
  withGrads('gelu', (x) => sn.gelu(x), [x]);
  const labels = sn.tensor(
    Float32Array.from({ length: 40 }, (_, i) => (i % 10 === (i * 7) % 9 ? 1 : 0)),
    [4, 10],
  );
  withGrads('softmax cross-entropy', (z) => sn.softmaxCrossEntropy(labels, z), [make([4, 10], -3, 3)]);
  const matrices = [
    1.1, 0.2, -1.5, -0.1, 0.9, 0.7, 1, 0, 0.5, 0, 1, -0.25, 0.8, -0.3, 2, 0.3, 0.8, -1, 1, 0, 0, 0, 1, 0,
  ];
  keep('affine transform', sn.affineTransform(x, matrices, { interpolation: 'bilinear' }));
}

// Grouped and dilated convolution (the im2col_g path), global pooling, losses, elementwise ops.
function moreOps({ make, keep, withGrads }: Ctx): void {
  const x = make([4, 6, 7, 8]);
  withGrads('conv groups 2 dilation 2', (x, w) => sn.conv2d(x, w, { groups: 2, dilationRate: 2, padding: 'same' }), [
    x,
    make([3, 3, 4, 6]),
  ]);
  withGrads('global avg pool', (x) => sn.globalAvgPool2d(x), [x]);
  withGrads('global max pool', (x) => sn.globalMaxPool2d(x), [x]);
  withGrads(
    'cropping',
    (x) =>
      sn.cropping2d(x, [
        [1, 0],
        [2, 1],
      ]),
    [x],
  );
  withGrads('nearest upsampling', (x) => sn.upSampling2d(x, [2, 3]), [x]);
  withGrads('softmax', (x) => sn.softmax(x, 1), [x]);
  withGrads('swish', (x) => sn.swish(x), [x]);
  withGrads('matMul', (a, b) => sn.matMul(a, b), [make([13, 21]), make([21, 9])]);
  withGrads('add, mul, mean', (a, b) => sn.mean(sn.mul(sn.add(a, b), a)), [x, make([4, 6, 7, 8])]);
  const p = make([4, 6, 7, 8], 0.05, 0.95);
  withGrads('mse', (q) => sn.meanSquaredError(x, q), [p]);
  withGrads('binary cross-entropy', (q) => sn.binaryCrossentropy(make([4, 6, 7, 8], 0, 1), q), [p]);
  keep('adjust contrast', sn.adjustContrast(make([4, 6, 7, 8], 0, 255), [0.5, 1.5, 2, 0.75]));
}

// 24 random 8x8 images of 3 classes
const problem = {
  x: { data: rand(makeRng(7), 24 * 64), shape: [24, 8, 8, 1] },
  labels: { data: Float32Array.from({ length: 24 }, (_, i) => i % 3), shape: [24] },
};

// A small CNN trained for two epochs (Winograd, batch normalization, pooling, Adam), then its
// predictions: a whole batch, and a few rows twice (a recorded kernel trace, then its replay).
// lo/hi span the arena's live blocks made meanwhile.
async function modelRun(): Promise<Run> {
  const arena = adv.getArena();
  const sizes = (arena as unknown as { sizes: Map<number, number> }).sizes;
  const before = new Set(sizes.keys());
  const L = sn.layers;
  const m = sn.sequential({
    seed: 3,
    layers: [
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', algorithm: 'winograd' }),
      L.batchNormalization(),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await m.fit(problem.x, problem.labels, { batchSize: 8, epochs: 2, verbose: 0, seed: 5 });
  const results = new Map<string, Float32Array>();
  const keep = (name: string, t: sn.Tensor) => {
    results.set(name, Float32Array.from(t.dataSync()));
    t.dispose();
  };
  m.getWeights().forEach((t, i) => keep(`model weight ${i}`, t));
  keep('model predict', m.predict(problem.x));
  const few = { data: problem.x.data.slice(0, 3 * 64), shape: [3, 8, 8, 1] };
  keep('model predict 3 rows', m.predict(few));
  keep('model predict 3 rows again', m.predict(few));
  const made = [...sizes].filter(([p]) => !before.has(p));
  m.dispose();
  return {
    results,
    lo: Math.min(...made.map(([p]) => p)),
    hi: Math.max(...made.map(([p, n]) => p + n)),
  };
}

function expectSameBits(run: Run, ref: Run, where: string): void {
  expect([...run.results.keys()], where).toEqual([...ref.results.keys()]);
  for (const [name, r] of ref.results)
    expect(firstBitDiff(run.results.get(name)!, r), `${where}: ${name}`).toBe('identical');
}

describe(`tensors high in wasm memory (${build})`, () => {
  const fillers: number[] = [];
  // Lifts the arena's top to `addr` with a block that is never written, after taking every free
  // block below the top (first fit would otherwise place small blocks, such as geometry structs, low).
  const topTo = (addr: number) => {
    const arena = adv.getArena();
    const holes = (arena as unknown as { freeList: { size: number }[] }).freeList;
    for (const { size } of [...holes]) fillers.push(arena.alloc(size, false));
    expect(holes).toEqual([]);
    const top = arena.topAddress;
    expect(top, 'the top is below the place asked for').toBeLessThan(addr);
    fillers.push(arena.alloc(addr - top, false));
    expect(arena.topAddress).toBe(addr);
  };
  afterAll(() => {
    for (const f of fillers.reverse()) adv.getArena().release(f);
  });

  let low: Run, lowModel: Run;
  it('low in memory: the reference bits', async () => {
    low = workload();
    expect(low.hi).toBeLessThan(GiB);
    expect(low.results.size).toBeGreaterThan(60);
    lowModel = await modelRun();
    expect(lowModel.hi).toBeLessThan(GiB);
  });

  // The ops, then the model, placed from `at` up.
  const placedAt = async (at: number, where: string) => {
    topTo(at);
    const run = workload();
    expect(run.lo, 'ops: nothing placed lower').toBeGreaterThanOrEqual(at);
    expectSameBits(run, low, where);
    const model = await modelRun();
    expect(model.lo, 'model: nothing placed lower').toBeGreaterThanOrEqual(at);
    expectSameBits(model, lowModel, `model ${where}`);
    return [run, model];
  };

  it('across the 2 GiB line: same bits', async () => {
    const [run, model] = await placedAt(2 * GiB - 8192, 'across 2 GiB');
    for (const r of [run!, model!]) expect(r.hi, 'a block ends above 2 GiB').toBeGreaterThan(2 * GiB);
  });

  it('above 2 GiB: same bits', () => placedAt(2 * GiB + MiB, 'above 2 GiB'));

  it('just under 4 GiB: same bits', () => placedAt(4 * GiB - 64 * MiB, 'under 4 GiB'));

  it('size queries past i32 saturate at i32.MAX_VALUE (more than memory holds) instead of wrapping', () => {
    const k = sn.getEngine().k;
    const MAX = 2 ** 31 - 1;
    expect(k.pack_b_size(100, 17)).toBe(3 * 101 * 8);
    // 512 panels of 2^20 + 1 rows: 4295004160 floats, which wrapped to 36864
    expect(k.pack_b_size(2 ** 20, 2 ** 12)).toBe(MAX);
    expect(k.winograd_pack_size(4, 3, 8000, 8000)).toBe(MAX);
    expect(k.winograd_weight_work(4, 3, 8000, 8000)).toBe(MAX);
    expect(k.winograd_forward_work(4, 3, 2 ** 20, 1024, 1024)).toBe(MAX);
    expect(k.winograd_backward_weight_work(4, 3, 2 ** 20, 1024, 1024)).toBe(MAX);
    expect(k.winograd_forward_work(2, 3, 16, 8, 8)).toBe(16 * 16 * 8 * 2 + 16 * 8 + 8 + 8 + 4 * 8 + 8);
  });

  it('an allocation past 4 GiB is refused with the sizes, and the arena keeps working', () => {
    if (adv.getArena().topAddress < 4 * GiB - 64 * MiB) topTo(4 * GiB - 64 * MiB);
    const mem = sn.getEngine().memory;
    const arena = adv.getArena();
    const have = mem.buffer.byteLength,
      top = arena.topAddress,
      live = arena.liveBytes;
    expect(() => arena.alloc(4 * GiB)).toThrow(/arena: cannot allocate 4294967296 bytes .*4294967296/);
    expect(() => sn.zeros([32 * MiB])).toThrow(
      new RegExp(`arena: cannot allocate ${128 * MiB} bytes \\(128\\.0 MiB\\).* top at ${top},`),
    );
    expect(mem.buffer.byteLength, 'memory did not grow').toBe(have);
    expect([arena.topAddress, arena.liveBytes]).toEqual([top, live]);
    expect(sn.tidy(() => Array.from(sn.relu(sn.tensor([1, -2, 3], [3])).dataSync()))).toEqual([1, 0, 3]);
  });
});
