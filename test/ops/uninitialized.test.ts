// Op outputs allocated without a zero fill (tensor.ts `uninitialized`): the element-wise activations,
// add/sub/mul/div, broadcasting merges and layer normalization; conv2d's direct paths (whole
// images and pixel ranges, groups) and its Winograd paths (3x3 with both tiles, 5x5 as F(4,5) and in pieces) must write
// every element, and so must the Winograd input gradient, stored into a fresh unfilled gradient buffer. The arena is first filled with NaN garbage and released, so an element the kernel skips
// shows up as NaN, and the result must equal the one computed over zeroed memory bit for bit.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { uninitialized } from '../../src/tensor.js';
import { Tape, withTape } from '../../src/autograd.js';
import { makeRng } from '../helpers/check.js';
import { broadcastBinary } from '../../src/ops/merge.js';
import { layerNorm } from '../../src/ops/layernorm.js';

beforeAll(async () => {
  await sn.ready({ threads: 2 });
});

const rand = (n: number, seed: number) => Float32Array.from(makeRng(seed).fill(n, -1, 1));

// Dirties the free memory: a large NaN block, released, where the next allocations will land.
function dirty(): void {
  const t = sn.zeros([1 << 20]);
  t.view().fill(Number.NaN);
  t.dispose();
}

const CASES: Array<{ name: string; x: number[]; w: number[]; o: sn.Conv2dOptions }> = [
  { name: 'direct, 4 images', x: [4, 9, 9, 3], w: [3, 3, 3, 5], o: { algorithm: 'direct', padding: 'same' } },
  { name: 'direct, 1 image in pixel ranges', x: [1, 11, 7, 3], w: [3, 3, 3, 6], o: { algorithm: 'direct' } },
  { name: 'direct, groups 2, stride 2', x: [3, 9, 9, 4], w: [3, 3, 2, 6], o: { groups: 2, strides: 2 } },
  { name: 'winograd F(2,3)', x: [3, 9, 7, 8], w: [3, 3, 8, 8], o: { algorithm: 'winograd', winogradTile: 2 } },
  {
    name: 'winograd F(4,3) same',
    x: [2, 9, 11, 8],
    w: [3, 3, 8, 5],
    o: { algorithm: 'winograd', winogradTile: 4, padding: 'same' },
  },
  {
    name: 'winograd 5x5 F(4,5)',
    x: [2, 10, 9, 4],
    w: [5, 5, 4, 6],
    o: { algorithm: 'winograd', winogradTile: 4, padding: 'same' },
  },
  {
    name: 'winograd 5x5 F(2,3) pieces',
    x: [2, 10, 9, 4],
    w: [5, 5, 4, 6],
    o: { algorithm: 'winograd', winogradTile: 2, padding: 'same' },
  },
];

describe('element-wise and row-wise ops write every output element (no zero fill)', () => {
  const OPS: Array<[string, (x: sn.Tensor, s: sn.Tensor, c: sn.Tensor) => sn.Tensor]> = [
    ['swish', (x) => sn.swish(x)],
    ['gelu', (x) => sn.gelu(x)],
    ['sigmoid', (x) => sn.sigmoid(x)],
    ['relu', (x) => sn.relu(x)],
    ['add, a repeating row', (x, s) => sn.add(x, s)],
    ['div, the row on the left', (x, s) => sn.div(s, x)],
    ['mul, same shapes', (x) => sn.mul(x, x)],
    ['broadcasting merge, a repeating row', (x, s) => broadcastBinary('mul', x, s)],
    ['broadcasting merge, a column', (x, _s, c) => broadcastBinary('add', x, c)],
    ['layerNorm', (x) => layerNorm(x)],
  ];
  for (const [name, f] of OPS)
    it(name, () => {
      const [R, D] = [1001, 12];
      const x = sn.tensor(rand(R * D, 5), [R, D]),
        s = sn.tensor(rand(D, 6), [D]),
        c = sn.tensor(rand(R, 7), [R, 1]);
      const run = () => sn.tidy(() => f(x, s, c).dataSync().slice());
      const clean = run();
      dirty();
      const after = run();
      expect(Array.from(after).some(Number.isNaN)).toBe(false);
      expect(after).toEqual(clean);
      for (const t of [x, s, c]) t.dispose();
    });
});

describe('conv2d writes every output element (no zero fill)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const x = sn.tensor(
        rand(
          c.x.reduce((a, b) => a * b),
          1,
        ),
        c.x,
      );
      const w = sn.tensor(
        rand(
          c.w.reduce((a, b) => a * b),
          2,
        ),
        c.w,
      );
      const b = sn.tensor(rand(c.w[3]!, 3), [c.w[3]!]);
      const run = () => sn.tidy(() => sn.conv2d(x, w, { ...c.o, bias: b }).dataSync());
      // the input gradient of sum(conv(x) * r), the memory dirtied between the forward and the backward pass
      // (the forward's zeroed scratch would otherwise be where the gradient lands)
      const dx = () =>
        sn.tidy(() => {
          const tape = new Tape();
          tape.watch(x);
          const y = withTape(tape, () => sn.conv2d(x, w, { ...c.o, bias: b }));
          const r = sn.tensor(rand(y.size, 4), y.shape);
          const loss = withTape(tape, () => sn.sum(sn.mul(y, r)));
          dirty();
          tape.backward(loss);
          return tape.grads.get(x.id)!.dataSync().slice();
        });
      const clean = run();
      dirty();
      const after = run();
      expect(Array.from(after).some(Number.isNaN)).toBe(false);
      expect(after).toEqual(clean);
      const gx = dx();
      expect(Array.from(gx).some(Number.isNaN), 'dx').toBe(false);
      // against the direct kernel's input gradient (zero-filled, then added): equal up to rounding
      const ref = sn.tidy(() => {
        const r = sn.tensor(rand(clean.length, 4), sn.conv2d(x, w, { ...c.o, bias: b }).shape);
        const [g] = sn.grads((t) => sn.sum(sn.mul(sn.conv2d(t!, w, { ...c.o, algorithm: 'direct', bias: b }), r)))([x]);
        const out = g!.dataSync().slice();
        g!.dispose(); // grads' results outlive tidy
        return out;
      });
      gx.forEach((v, i) => expect(Math.abs(v - ref[i]!), `dx[${i}]`).toBeLessThan(1e-3));
      for (const t of [x, w, b]) t.dispose();
    });
  }

  it('the NaN fill does reach the next uninitialized allocation (so the cases above can fail)', () => {
    dirty();
    const u = uninitialized([64]);
    expect(Array.from(u.view()).every(Number.isNaN)).toBe(true);
    u.dispose();
    dirty();
    const z = new sn.Tensor([64]);
    expect(Array.from(z.view()).every((v) => v === 0)).toBe(true); // a plain tensor is zeroed
    z.dispose();
  });
});
