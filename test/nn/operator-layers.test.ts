// The layers for ONNX operators without a Keras layer (PRelu, Clip, ScaledElu, HardSigmoid, LogSoftmax,
// Affine, Slice, Pool2D; made by the ONNX importer): forward against float64
// references, gradients of the input and of the trainable weights (the tape, in float32) against
// central differences of the float64 reference, config round trips through the layer registry,
// and bad configs.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { Tape, withTape } from '../../src/autograd.js';
import { createLayer } from '../../src/nn/registry.js';
import { Affine, Clip, HardSigmoid, LogSoftmax, PRelu, ScaledElu } from '../../src/nn/activations.js';
import { Pool2D } from '../../src/nn/layers.js';
import { Slice } from '../../src/nn/reshaping.js';
import { expectClose, makeRng, numericGrad } from '../helpers/check.js';

beforeAll(async () => {
  await sn.ready();
});

type Ref = (x: Float64Array, w: Float64Array[]) => Float64Array;

/** [outer, n, inner] around `axis` of `shape`. */
const around = (shape: number[], axis: number): [number, number, number] => [
  shape.slice(0, axis).reduce((a, b) => a * b, 1),
  shape[axis],
  shape.slice(axis + 1).reduce((a, b) => a * b, 1),
];

/**
 * Builds `layer` for `shape` (with batch), sets its trainable weights, and checks forward against
 * `ref` and d(sum(y * r))/d(x, weights) against finite differences of the reference.
 */
function check(
  layer: sn.Layer,
  shape: number[],
  ref: Ref,
  opts: { x?: Float64Array; weights?: Float64Array[]; state?: Float64Array[] } = {},
) {
  const rng = makeRng(7);
  layer.build(shape.slice(1), new sn.Rng(1));
  const n = shape.reduce((a, b) => a * b, 1);
  const x64 = opts.x ?? rng.fill(n, -2, 2);
  const ws = layer.weights.map((w, i) => opts.weights?.[i] ?? rng.fill(w.value.size, -1, 1));
  layer.weights.forEach((w, i) => w.value.view().set(Float32Array.from(ws[i])));
  const state = layer.stateWeights.map((w, i) => opts.state?.[i] ?? Float64Array.from(w.value.view()));
  layer.stateWeights.forEach((w, i) => w.value.view().set(Float32Array.from(state[i])));
  const yRef = ref(x64, [...ws, ...state]);
  const r = rng.fill(yRef.length, -1, 1);
  const x = sn.tensor(Float32Array.from(x64), shape);
  const tape = new Tape();
  tape.watch(x);
  for (const w of layer.weights) tape.watch(w.value, w.grad);
  const rT = sn.tensor(Float32Array.from(r), [yRef.length]);
  const loss = withTape(tape, () => {
    const y = layer.call(x, { training: true, rng: new sn.Rng(1) });
    expectClose(y.dataSync(), yRef, { atol: 1e-5, rtol: 1e-5, label: `${layer.className} forward` });
    return sn.sum(sn.mul(sn.reshape(y, [y.size]), rT));
  });
  tape.backward(loss);
  const f = (xx: Float64Array, ww: Float64Array[]) => {
    const y = ref(xx, [...ww, ...state]);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  const gx = tape.grads.get(x.id)!.dataSync();
  expectClose(
    gx,
    numericGrad((xx) => f(xx, ws), x64),
    { atol: 1e-4, rtol: 1e-3, label: `${layer.className} dx` },
  );
  layer.weights.forEach((w, i) => {
    const num = numericGrad(
      (wi) =>
        f(
          x64,
          ws.map((v, j) => (j === i ? wi : v)),
        ),
      ws[i],
    );
    expectClose(w.grad.dataSync(), num, { atol: 1e-4, rtol: 1e-3, label: `${layer.className} d${w.name}` });
  });
  // Config round trip through the registry: same class, same output.
  const copy = createLayer(layer.className, layer.getConfig(), 'registry');
  expect(copy.className).toBe(layer.className);
  expect(copy.getConfig()).toEqual(layer.getConfig());
  layer.dispose();
}

/** Moves values at least `gap` away from the kinks in `at`, so finite differences do not straddle one. */
function awayFrom(x: Float64Array, at: number[], gap = 0.02): Float64Array {
  return x.map((v) => {
    for (const k of at) if (Math.abs(v - k) < gap) return k + (v < k ? -gap : gap);
    return v;
  });
}

describe('ONNX layers: forward, gradients, configs', () => {
  const shape = [2, 3, 4, 5];
  const xs = () => awayFrom(makeRng(3).fill(120, -2, 2), [0, -0.5, 0.8, -2.5, 2.5]);

  it('PRelu with one slope per channel', () => {
    check(new PRelu({ alphaShape: [1, 1, 5] }), shape, (x, [a]) => x.map((v, i) => (v >= 0 ? v : a[i % 5] * v)), {
      x: xs(),
    });
  });

  it('Clip with both, one or no bound', () => {
    const clip = (lo: number, hi: number) => (x: Float64Array) => x.map((v) => Math.min(Math.max(v, lo), hi));
    check(new Clip({ min: -0.5, max: 0.8 }), shape, clip(-0.5, 0.8), { x: xs() });
    check(new Clip({ min: -0.5 }), shape, clip(-0.5, Infinity), { x: xs() });
    check(new Clip({ max: 0.8 }), shape, clip(-Infinity, 0.8), { x: xs() });
    expect(() => new Clip({ min: 1, max: 0 })).toThrow(/Clip: max \(0\) must be at least min \(1\)/);
    expect(() => new Clip({ min: Number.NaN })).toThrow(/Clip: min must be a finite number/);
  });

  it('ScaledElu (Selu constants)', () => {
    const a = 1.6732632423543772,
      g = 1.0507009873554805;
    check(new ScaledElu({ alpha: a, scale: g }), shape, (x) => x.map((v) => g * (v > 0 ? v : a * (Math.exp(v) - 1))), {
      x: xs(),
    });
  });

  it('HardSigmoid with ONNX alpha/beta', () => {
    check(
      new HardSigmoid({ alpha: 0.2, beta: 0.5 }),
      shape,
      (x) => x.map((v) => Math.min(Math.max(0.2 * v + 0.5, 0), 1)),
      {
        x: xs(),
      },
    );
  });

  it('LogSoftmax over the last axis and over axis 1 of a 4-d input', () => {
    const ref = (axis: number) => (x: Float64Array) => {
      const [outer, n, inner] = around(shape, axis);
      const y = new Float64Array(x.length);
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          let m = -Infinity,
            s = 0;
          for (let j = 0; j < n; j++) m = Math.max(m, x[(o * n + j) * inner + i]);
          for (let j = 0; j < n; j++) s += Math.exp(x[(o * n + j) * inner + i] - m);
          for (let j = 0; j < n; j++) y[(o * n + j) * inner + i] = x[(o * n + j) * inner + i] - m - Math.log(s);
        }
      return y;
    };
    check(new LogSoftmax({ axis: -1 }), shape, ref(3));
    check(new LogSoftmax({ axis: 1 }), shape, ref(1));
    expect(() => new LogSoftmax({ axis: 0 }).computeOutputShape([3, 4])).toThrow(/axis 0 must be a non-batch axis/);
  });

  it('Slice of a channel range and of a row range', () => {
    const ref = (axis: number, b: number, e: number) => (x: Float64Array) => {
      const [outer, n, inner] = around(shape, axis);
      const out: number[] = [];
      for (let o = 0; o < outer; o++)
        for (let j = b; j < e; j++) for (let i = 0; i < inner; i++) out.push(x[(o * n + j) * inner + i]);
      return Float64Array.from(out);
    };
    check(new Slice({ axis: 3, begin: 1, end: 4 }), shape, ref(3, 1, 4));
    check(new Slice({ axis: 1, begin: 2, end: 3 }), shape, ref(1, 2, 3));
    expect(() => new Slice({ axis: 3, begin: 2, end: 9 }).computeOutputShape([3, 4, 5])).toThrow(
      /end 9 is beyond axis 3/,
    );
    expect(() => new Slice({ axis: 1, begin: 2, end: 2 })).toThrow(/0 <= begin < end/);
  });

  it('Affine: x * a + b with broadcast constants (state, not trained)', () => {
    const a = Float64Array.from([0.5, -1, 2, 1.5, 0.25]),
      b = Float64Array.from([1, 2, 3, 4]);
    const layer = new Affine({ scaleShape: [1, 1, 5], offsetShape: [1, 4, 1] });
    check(layer, shape, (x, [sa, sb]) => x.map((v, i) => v * sa[i % 5] + sb[Math.floor(i / 5) % 4]), { state: [a, b] });
    expect(layer.weights.length).toBe(0);
    expect(() => new Affine({ scaleShape: [2, 5] }).computeOutputShape([3, 4, 5])).toThrow(
      /scale of shape \[2,5\] does not broadcast/,
    );
  });

  it('Pool2D: max and average with asymmetric pads excluded from the max and the divisor', () => {
    const N = 2,
      H = 5,
      W = 4,
      C = 3;
    const pads: [[number, number], [number, number]] = [
      [1, 2],
      [0, 1],
    ];
    const ref = (mode: 'max' | 'avg') => (x: Float64Array) => {
      const k = 3,
        s = 2;
      const OH = Math.floor((H + 3 - k) / s) + 1,
        OW = Math.floor((W + 1 - k) / s) + 1;
      const out: number[] = [];
      for (let n = 0; n < N; n++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++)
            for (let c = 0; c < C; c++) {
              let m = -Infinity,
                sum = 0,
                cnt = 0;
              for (let i = 0; i < k; i++)
                for (let j = 0; j < k; j++) {
                  const h = oh * s + i - 1,
                    w = ow * s + j;
                  if (h < 0 || h >= H || w < 0 || w >= W) continue;
                  const v = x[((n * H + h) * W + w) * C + c];
                  m = Math.max(m, v);
                  sum += v;
                  cnt++;
                }
              out.push(mode === 'max' ? m : sum / cnt);
            }
      return Float64Array.from(out);
    };
    // Distinct values: no ties in the max.
    const x = Float64Array.from({ length: N * H * W * C }, (_, i) => Math.sin(i * 1.37) * 2 + i * 1e-3);
    check(new Pool2D({ mode: 'max', poolSize: 3, strides: 2, padding: pads }), [N, H, W, C], ref('max'), { x });
    check(new Pool2D({ mode: 'avg', poolSize: 3, strides: 2, padding: pads }), [N, H, W, C], ref('avg'), { x });
    expect(() => new Pool2D({ mode: 'min' as 'max', poolSize: 2 })).toThrow(/mode must be 'max' or 'avg'/);
    expect(
      () =>
        new Pool2D({
          mode: 'max',
          poolSize: 2,
          padding: [
            [-1, 0],
            [0, 0],
          ],
        }),
    ).toThrow(/padding must be/);
  });
});
