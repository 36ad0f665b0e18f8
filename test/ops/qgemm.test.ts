// The packed weights of the int8 GEMM ops (src/ops/qgemm.ts): qdense and qconv2d with opts.packed from
// qpack give the same bits as packing on the call (int8 and uint8 inputs, bias, relu/relu6, odd K and
// column tails), a packed weight made for something else is refused by name with nothing left allocated,
// and quantize(dequantize(q)) returns q (what lets a quantized layer take its reader's int8 values).
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { dequantize, type QTensor, qtensor, quantize } from '../../src/ops/quant.js';
import { qconv2d, qdense, qpack } from '../../src/ops/qgemm.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { expectError } from '../kernels/harness.js';

beforeAll(async () => {
  await sn.ready();
});

const ints = (rng: Rng, n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));
const scales = (rng: Rng, n: number) => Array.from({ length: n }, () => 0.002 + 0.01 * rng.next());

function using(ts: Array<{ dispose(): void }>, fn: () => void): void {
  try {
    fn();
  } finally {
    for (const t of ts) t.dispose();
  }
}

describe('qpack: packed weights give the bits of packing on the call', () => {
  for (const [act, dtype] of [
    ['linear', 'int8'],
    ['relu', 'uint8'],
    ['relu6', 'int8'],
  ] as const)
    it(`qdense x=[5,37] w=[37,11] and qconv2d x=[2,6,7,3] w=[3,3,3,13] s=1 'same', ${act}, ${dtype} input`, () => {
      const rng = makeRng(17 + act.length);
      const [lo, hi, zp] = dtype === 'int8' ? [-128, 127, -9] : [0, 255, 121];
      const xq = { scale: 0.04, zeroPoint: zp, dtype };
      const xd = qtensor(ints(rng, 5 * 37, lo, hi), [5, 37], xq),
        wd = qtensor(ints(rng, 37 * 11, -127, 127), [37, 11], { scale: scales(rng, 11) }),
        bd = sn.tensor(
          Float32Array.from({ length: 11 }, () => rng.next() - 0.5),
          [11],
        );
      const xc = qtensor(ints(rng, 2 * 6 * 7 * 3, lo, hi), [2, 6, 7, 3], xq),
        wc = qtensor(ints(rng, 27 * 13, -127, 127), [3, 3, 3, 13], { scale: scales(rng, 13) }),
        bc = sn.tensor(
          Float32Array.from({ length: 13 }, () => rng.next() - 0.5),
          [13],
        );
      // the packed weights are made for the int8 form of the input (uint8 shifted by 128)
      const xi = { scale: 0.04, zeroPoint: dtype === 'int8' ? zp : zp - 128 };
      const od = { outScale: 0.3, outZeroPoint: 4, activation: act, bias: bd };
      const oc = { outScale: 0.25, outZeroPoint: -3, activation: act, bias: bc, padding: 'same' as const };
      const pd = qpack(wd, xi, od),
        pc = qpack(wc, xi, oc);
      const yd = qdense(xd, wd, od),
        yd2 = qdense(xd, wd, { ...od, packed: pd }),
        yc = qconv2d(xc, wc, oc),
        yc2 = qconv2d(xc, wc, { ...oc, packed: pc }),
        yc3 = qconv2d(xc, wc, { ...oc, packed: pc });
      using([xd, wd, bd, xc, wc, bc, pd, pc, yd, yd2, yc, yc2, yc3], () => {
        expect(yd2.values()).toEqual(yd.values());
        expect(yc2.values()).toEqual(yc.values());
        expect(yc3.values(), 'a packed weight is not changed by a call').toEqual(yc.values());
        // not a constant output: the comparison could fail
        expect(new Set(yc.values()).size).toBeGreaterThan(10);
      });
    });

  it('a packed weight made for another weight, bias, input or output quantization is refused by name', () => {
    const rng = makeRng(5);
    const x = qtensor(ints(rng, 2 * 8, -128, 127), [2, 8], { scale: 0.05, zeroPoint: 1 }),
      w = qtensor(ints(rng, 8 * 3, -127, 127), [8, 3], { scale: scales(rng, 3) }),
      w2 = qtensor(ints(rng, 8 * 3, -127, 127), [8, 3], { scale: scales(rng, 3) }),
      b = sn.tensor([0.1, 0.2, 0.3], [3]);
    const opts = { outScale: 0.2, bias: b, name: 'dense_7' };
    const p = qpack(w, { scale: 0.05, zeroPoint: 1 }, opts);
    const pz = qpack(w, { scale: 0.05, zeroPoint: 2 }, opts);
    const dead = qpack(w, { scale: 0.05, zeroPoint: 1 }, opts);
    dead.dispose();
    using([x, w, w2, b, p, pz], () => {
      const other = /^dense_7: packed was made for another weight, bias, input quantization or output options/;
      expectError(() => qdense(x, w2, { ...opts, packed: p }), other);
      expectError(() => qdense(x, w, { ...opts, bias: null, packed: p }), other);
      expectError(() => qdense(x, w, { ...opts, packed: pz }), other);
      expectError(() => qdense(x, w, { ...opts, outScale: 0.3, packed: p }), other);
      expectError(() => qdense(x, w, { ...opts, activation: 'relu', packed: p }), other);
      expectError(() => qdense(x, w, { ...opts, packed: dead }), /^dense_7: packed must be a live QPacked/);
      expectError(() => qdense(x, w, { ...opts, packed: {} as never }), /^dense_7: packed must be a live QPacked/);
      expectError(() => qpack(w, { scale: 0.05, zeroPoint: 300 }, opts), /^dense_7: the input zero point must be/);
      // a scale ratio past float32's range (an output step of 1e-45)
      expectError(
        () => qpack(w, { scale: 0.05, zeroPoint: 0 }, { outScale: 1e-45 }),
        /requantization scale .* got Infinity/,
      );
    });
  });
});

describe('quantize(dequantize(q)) = q', () => {
  it('every int8 value, zero points -128..127, 400 scales from 2^-60 to 2^20', () => {
    const rng = makeRng(11);
    const values = Array.from({ length: 256 }, (_, i) => i - 128);
    for (let t = 0; t < 400; t++) {
      const scale = Math.fround(2 ** (-60 + 80 * rng.next()));
      const zeroPoint = Math.floor(rng.next() * 256) - 128;
      let q: QTensor | null = null;
      let f: sn.Tensor | null = null;
      let back: QTensor | null = null;
      try {
        q = qtensor(values, [256], { scale, zeroPoint });
        f = dequantize(q);
        back = quantize(f, { scale, zeroPoint });
        expect(Array.from(back.values()), `scale ${scale}, zero point ${zeroPoint}`).toEqual(values);
      } finally {
        q?.dispose();
        f?.dispose();
        back?.dispose();
      }
    }
  });
});
