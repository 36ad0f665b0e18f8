// predict's inference plan (src/nn/inference.ts): BatchNormalization folded into the Conv2D /
// DepthwiseConv2D / Dense before it, and Winograd transforms kept, both rebuilt when weights change;
// and its kernel traces of calls of 1-3 images (same bits as the layers' forward).
//
// Folding bound: a folded output computes Σ (w·s)·x + ((b − μ)·s + β) with s = γ/√(var+ε) instead of
// ((Σ w·x + b) − μ)·s + β. With n terms in the dot product and u = 2^-24, both are within
// (n + 4)·u·M of the exact value, M = |s|·(Σ |w|·|x| + |b| + |μ|) + |β| (the textbook bound for a dot
// product, plus one rounding for each of the folded products, the subtraction, the scaling and the
// shift), so |folded − unfolded| <= 2·(n + 4)·u·M, asserted on every output; M is computed with the
// same layer on |x| and |w|.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { setInferencePlanEnabled, setKernelTracesEnabled } from '../../src/nn/inference.js';
import { Pool2D } from '../../src/nn/layers.js';

beforeAll(async () => {
  await sn.ready();
});
const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
  sn.setConvAlgorithm('direct', { winogradTile: null });
});

const L = sn.layers;
const U = 2 ** -24;
const f32 = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from(makeRng(seed).fill(n, lo, hi));

// Random weights everywhere, BN variances in [0.2, 2] and gammas of both signs, so folding matters.
function randomize(m: sn.Model, seed: number): void {
  let s = seed;
  const ws = m.getWeights();
  const names = m.layers.flatMap((l) => [...l.weights, ...l.stateWeights].map((w) => w.name));
  m.setWeights(
    ws.map((w, i) => {
      const v = names[i]!.endsWith('moving_variance') ? f32(w.size, s++, 0.2, 2) : f32(w.size, s++, -1, 1);
      w.dispose();
      return v;
    }),
  );
}

// The layers' own calls, one after the other, in inference mode: what predict computed before the plan.
function unfolded(m: sn.Sequential, x: Float32Array, shape: number[]): Float32Array {
  return sn.tidy(() => {
    let y = sn.tensor(x, shape);
    const rng = new sn.Rng(1);
    sn.noGrad(() => {
      for (const l of m.layers) y = l.callFor([y], { training: false, rng });
    });
    return y.dataSync() as Float32Array;
  });
}

function predict(m: sn.Model, x: Float32Array, shape: number[]): Float32Array {
  const p = m.predict({ data: x, shape }, { batchSize: shape[0] });
  const d = p.dataSync() as Float32Array;
  p.dispose();
  return d;
}

// One layer (with bias) followed by BatchNormalization, the model's output being the BN's.
const CASES: Array<{ name: string; layer: (inputShape: number[]) => sn.Layer; inShape: number[]; terms: number }> = [
  {
    name: 'Conv2D',
    layer: (inputShape) => L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', inputShape }),
    inShape: [7, 7, 5],
    terms: 45,
  },
  {
    name: 'DepthwiseConv2D',
    layer: (inputShape) => L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', inputShape }),
    inShape: [7, 7, 4],
    terms: 9,
  },
  { name: 'Dense', layer: (inputShape) => L.dense({ units: 7, inputShape }), inShape: [30], terms: 30 },
];

describe('BatchNormalization folded into the layer before it (predict)', () => {
  for (const c of CASES) {
    it(`${c.name} + BatchNormalization: folded within 2(n+4)·u·M of unfolded on every output`, () => {
      const m = track(sn.sequential({ seed: 2, layers: [c.layer(c.inShape), L.batchNormalization()] }));
      m.build();
      randomize(m, 10);
      const N = 3;
      const shape = [N, ...c.inShape];
      const x = f32(
        shape.reduce((a, b) => a * b, 1),
        5,
      );
      const folded = predict(m, x, shape);
      const ref = unfolded(m, x, shape);
      // M: the layer on |x| with |w|·|s|, plus |s|·(|b| + |μ|) + |β|, per output channel
      const [kernel, bias, gamma, beta, mean, variance] = m.getWeights();
      const eps = 1e-3;
      const C = mean!.size;
      const s = Array.from({ length: C }, (_, i) => gamma!.view()[i]! / Math.sqrt(variance!.view()[i]! + eps));
      const absW = kernel!.view().map((v, i) => Math.abs(v * s[i % C]!));
      const shift = Array.from(
        { length: C },
        (_, i) =>
          Math.abs(s[i]!) * (Math.abs(bias!.view()[i]!) + Math.abs(mean!.view()[i]!)) + Math.abs(beta!.view()[i]!),
      );
      const probe = track(sn.sequential({ layers: [c.layer(c.inShape)] }));
      probe.build();
      probe.setWeights([absW, new Float32Array(C)]);
      const mag = predict(
        probe,
        x.map((v) => Math.abs(v)),
        shape,
      );
      let worst = 0;
      let differs = 0;
      for (let i = 0; i < ref.length; i++) {
        const bound = 2 * (c.terms + 4) * U * (mag[i]! + shift[i % C]!);
        const e = Math.abs(folded[i]! - ref[i]!);
        expect(e, `${c.name} output ${i}`).toBeLessThanOrEqual(bound);
        worst = Math.max(worst, e / bound);
        if (e > 0) differs++;
      }
      // folding did happen: the two round differently somewhere
      expect(differs).toBeGreaterThan(0);
      for (const t of [kernel, bias, gamma, beta, mean, variance]) t!.dispose();
    });
  }

  function bnNet(): sn.Sequential {
    return sn.sequential({
      seed: 4,
      layers: [
        L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, inputShape: [8, 8, 3] }),
        L.batchNormalization(),
        L.activation({ activation: 'relu' }),
        L.depthwiseConv2d({ kernelSize: 3, padding: 'same' }),
        L.batchNormalization(),
        L.flatten(),
        L.dense({ units: 12 }),
        L.batchNormalization(),
        L.dense({ units: 4, activation: 'softmax' }),
      ],
    });
  }

  it('a network of them agrees with the unfolded layers; setWeights, training and writes through views invalidate', () => {
    const m = track(bnNet());
    m.build();
    randomize(m, 30);
    const shape = [5, 8, 8, 3];
    const x = f32(5 * 192, 8);
    const close = (a: Float32Array, b: Float32Array) => {
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
      return d;
    };
    // softmax outputs: the per-layer bounds above, carried through 3 layers, stay far below 1e-5
    const p1 = predict(m, x, shape);
    expect(close(p1, unfolded(m, x, shape))).toBeLessThan(1e-5);
    expect(close(p1, unfolded(m, x, shape))).toBeGreaterThan(0); // folded: not the same rounding

    // setWeights: new BN statistics must be used at once
    randomize(m, 60);
    const p2 = predict(m, x, shape);
    expect(close(p2, p1)).toBeGreaterThan(1e-3);
    expect(close(p2, unfolded(m, x, shape))).toBeLessThan(1e-5);

    // a training step moves the weights and the moving statistics
    m.compile({ optimizer: new sn.Adam({ learningRate: 0.05 }), loss: 'categoricalCrossentropy' });
    const y = new Float32Array(5 * 4).map((_, i) => (i % 4 === (i >> 2) % 4 ? 1 : 0));
    m.trainOnBatch({ data: x, shape }, { data: y, shape: [5, 4] });
    const p3 = predict(m, x, shape);
    expect(close(p3, p2)).toBeGreaterThan(1e-4);
    expect(close(p3, unfolded(m, x, shape))).toBeLessThan(1e-5);

    // the plan is kept while nothing changes
    const plan = (m as unknown as { plan: unknown }).plan;
    expect(predict(m, x, shape)).toEqual(p3);
    expect((m as unknown as { plan: unknown }).plan).toBe(plan);

    // a write through a weight's view is seen at once
    m.layers[1]!.weights[0]!.value.view().fill(3);
    const p4 = predict(m, x, shape);
    expect(close(p4, p3)).toBeGreaterThan(1e-4);
    expect(close(p4, unfolded(m, x, shape))).toBeLessThan(1e-5);
  });

  it('saved and loaded models fold too; a layer output read twice, or a non-linear activation, is not folded', () => {
    const m = track(bnNet());
    m.build();
    randomize(m, 90);
    const shape = [2, 8, 8, 3];
    const x = f32(2 * 192, 9);
    const back = track(sn.loadModel(sn.saveModel(m)) as sn.Sequential);
    expect(predict(back, x, shape)).toEqual(predict(m, x, shape));

    // functional: the conv's output goes to BN and to an Add; with ReLU on the conv, BN reads it alone
    const inp = sn.input({ shape: [6, 6, 8] });
    const conv = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp) as sn.SymbolicTensor;
    const bn = L.batchNormalization().apply(conv) as sn.SymbolicTensor;
    const sum = L.add().apply([conv, bn]) as sn.SymbolicTensor;
    const relu = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(sum);
    const out = L.batchNormalization().apply(relu as sn.SymbolicTensor) as sn.SymbolicTensor;
    const g = track(sn.model({ inputs: inp, outputs: out }));
    randomize(g, 120);
    const xg = f32(2 * 288, 10);
    const want = sn.tidy(() => {
      const rng = new sn.Rng(1);
      return sn.noGrad(() => {
        const t = sn.tensor(xg, [2, 6, 6, 8]);
        const [c1, b1, a1, c2, b2] = g.layers.filter((l) => l.className !== 'InputLayer');
        const yc = c1!.callFor([t], { training: false, rng });
        const yb = b1!.callFor([yc], { training: false, rng });
        const ya = a1!.callFor([yc, yb], { training: false, rng });
        return b2!.callFor([c2!.callFor([ya], { training: false, rng })], { training: false, rng }).dataSync();
      });
    });
    // same bits: nothing was folded
    expect(predict(g, xg, [2, 6, 6, 8])).toEqual(want);
  });
});

describe('Winograd weight transform kept by predict', () => {
  it('gives the same bits as transforming on every call, and follows setWeights and setConvAlgorithm', () => {
    const m = track(
      sn.sequential({
        seed: 6,
        layers: [
          L.conv2d({ filters: 16, kernelSize: 3, padding: 'same', inputShape: [10, 10, 8], algorithm: 'auto' }),
          L.conv2d({ filters: 8, kernelSize: 5, padding: 'same', algorithm: 'winograd', winogradTile: 4 }),
          L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }), // the global default
        ],
      }),
    );
    m.build();
    randomize(m, 150);
    const shape = [3, 10, 10, 8];
    const x = f32(3 * 800, 11);
    const direct = (() => {
      sn.setConvAlgorithm('direct');
      const layers = m.layers;
      return sn.tidy(() =>
        sn.noGrad(() => {
          let y = sn.tensor(x, shape);
          for (const l of layers) {
            y = sn.conv2d(y, l.weights[0]!.value, { bias: l.weights[1]!.value, padding: 'same', algorithm: 'direct' });
          }
          return y.dataSync() as Float32Array;
        }),
      );
    })();
    const first = predict(m, x, shape);
    expect(first).toEqual(unfolded(m, x, shape)); // the kept transform is the one made per call
    expect(first).not.toEqual(direct); // and Winograd did run
    expect(predict(m, x, shape)).toEqual(first);
    sn.setConvAlgorithm('auto');
    const auto = predict(m, x, shape);
    expect(auto).toEqual(unfolded(m, x, shape));
    expect(auto).not.toEqual(first); // the third layer now runs F(4,3) too
    randomize(m, 170);
    expect(predict(m, x, shape)).toEqual(unfolded(m, x, shape));
    sn.setConvAlgorithm('direct');
  });
});

describe('direct-path packed weights kept by predict', () => {
  it('give the bits of packing on every call at batches 1, 3 and 9, with groups, 1x1 and strides, and follow weight writes', () => {
    sn.setConvAlgorithm('direct');
    const m = track(
      sn.sequential({
        seed: 7,
        layers: [
          L.conv2d({ filters: 12, kernelSize: 3, padding: 'same', inputShape: [9, 9, 6], activation: 'relu' }),
          L.conv2d({ filters: 12, kernelSize: 3, strides: 2, groups: 3, padding: 'same' }),
          L.conv2d({ filters: 10, kernelSize: 1, useBias: false }), // the 1x1 case reads the image as it is
          L.conv2d({ filters: 4, kernelSize: 2, dilationRate: 2 }),
        ],
      }),
    );
    m.build();
    randomize(m, 200);
    for (const n of [1, 3, 9]) {
      const shape = [n, 9, 9, 6];
      const x = f32(n * 486, 30 + n);
      const p = predict(m, x, shape);
      expect(p).toEqual(unfolded(m, x, shape));
      expect(predict(m, x, shape)).toEqual(p); // the second call runs from the kept packing
    }
    const plan = (m as unknown as { plan: { steps: Map<unknown, { directPacked?: unknown }> } | null }).plan;
    expect([...(plan?.steps.values() ?? [])].filter((s) => s.directPacked)).toHaveLength(4);
    const shape = [3, 9, 9, 6];
    const x = f32(3 * 486, 40);
    const before = predict(m, x, shape);
    // a bias is packed with its kernel: writing it through a view must be seen
    m.layers[1]!.weights[1]!.value.view().fill(0.5);
    const after = predict(m, x, shape);
    expect(after).not.toEqual(before);
    expect(after).toEqual(unfolded(m, x, shape));
    randomize(m, 300);
    expect(predict(m, x, shape)).toEqual(unfolded(m, x, shape));
  });
});

describe('zero paddings and relus taken into the convolutions by predict', () => {
  const maxDiff = (a: Float32Array, b: Float32Array) => {
    expect(a.length).toBe(b.length);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    return d;
  };
  const net = (seed: number, middle: 'winograd' | undefined) =>
    sn.sequential({
      seed,
      layers: [
        L.zeroPadding2D({
          padding: [
            [1, 2],
            [2, 1],
          ],
          inputShape: [9, 9, 4],
        }),
        L.conv2d({ filters: 8, kernelSize: 3, strides: 2 }),
        L.activation({ activation: 'relu' }),
        L.zeroPadding2D({ padding: 1 }),
        L.depthwiseConv2d({ kernelSize: 3 }),
        L.reLU(),
        L.zeroPadding2D({ padding: 1 }),
        L.conv2d({ filters: 6, kernelSize: 3, algorithm: middle }),
        L.reLU({ maxValue: 6 }), // relu6: fused unless the convolution runs Winograd
        L.zeroPadding2D({ padding: 3 }), // wider than the 3x3 window: stays a layer of its own
        L.conv2d({ filters: 3, kernelSize: 3 }),
        L.reLU({ maxValue: 4 }), // no kernel fuses this cap
      ],
    });
  for (const algorithm of ['direct', 'auto'] as const) {
    it(`give the layers' own outputs exactly ('${algorithm}')`, () => {
      sn.setConvAlgorithm(algorithm);
      const m = track(net(8, algorithm === 'auto' ? 'winograd' : undefined));
      m.build();
      randomize(m, 400);
      for (const n of [1, 5]) {
        const shape = [n, 9, 9, 4];
        const x = f32(n * 324, 50 + n);
        expect(maxDiff(predict(m, x, shape), unfolded(m, x, shape))).toBe(0);
      }
      const plan = (m as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
      const skipped = [...plan.steps].filter(([, p]) => p.skip).map(([st]) => st.layer.name);
      const relu6 = algorithm === 'direct' ? ['re_lu_1'] : [];
      expect(skipped.sort()).toEqual(
        ['activation', 're_lu', ...relu6, 'zero_padding2d', 'zero_padding2d_1', 'zero_padding2d_2'].sort(),
      );
      sn.setConvAlgorithm('direct');
    });
  }

  it('int8 convolutions take the zero paddings too (their padding taps read the zero point) and pass int8 values on, with the same bits', () => {
    const m = track(net(9, undefined));
    m.build();
    randomize(m, 410);
    const cal = sn.tensor(f32(16 * 324, 70), [16, 9, 9, 4]);
    for (const activations of ['int8', 'float32'] as const) {
      const q = track(sn.quantize(m, { calibration: cal, activations }) as sn.Sequential);
      for (const n of [1, 5]) {
        const shape = [n, 9, 9, 4];
        const x = f32(n * 324, 80 + n);
        const got = predict(q, x, shape);
        expect(maxDiff(got, unfolded(q, x, shape))).toBe(0);
        if (activations === 'int8') expect(maxDiff(got, predict(m, x, shape))).toBeGreaterThan(0);
      }
      const plan = (q as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
      const skipped = [...plan.steps].filter(([, p]) => p.skip).map(([st]) => st.layer.className);
      expect(skipped).toEqual(['ZeroPadding2D', 'ZeroPadding2D', 'ZeroPadding2D']);
      const padded = [...plan.steps].filter(([, p]) => p.padding).map(([st]) => st.layer.className);
      expect(padded).toEqual(['QuantizedConv2D', 'QuantizedDepthwiseConv2D', 'QuantizedConv2D']);
      // int8 layers read only by int8 layers that take their int8 values leave the float output unwritten:
      // the first two (the third is read by a padding it cannot take, the last is the model's output)
      const linked = [...plan.steps].filter(([, p]) => p.int8Out).map(([st]) => st.layer.className);
      expect(linked).toEqual(activations === 'int8' ? ['QuantizedConv2D', 'QuantizedDepthwiseConv2D'] : []);
    }
    cal.dispose();
  });

  it('max poolings between int8 layers pool the int8 values (the float pooling of their dequantization), with the same bits', () => {
    const inp = sn.input({ shape: [12, 11, 3] });
    const ap = (l: sn.Layer, x: sn.SymbolicTensor | sn.SymbolicTensor[]) => l.apply(x) as sn.SymbolicTensor;
    let x = ap(L.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }), inp); // 10 x 9
    x = ap(L.maxPooling2d({ poolSize: 2 }), x); // 5 x 4: read by an int8 layer only
    const a = ap(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
    // ONNX's MaxPool with explicit pads (Pool2D), read by an int8 layer and by a float Flatten
    const p = ap(
      new Pool2D({
        mode: 'max',
        poolSize: [3, 3],
        strides: [2, 2],
        padding: [
          [1, 1],
          [1, 1],
        ],
      }),
      a,
    );
    const b = ap(L.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }), p);
    const o = ap(L.dense({ units: 5 }), ap(L.concatenate(), [ap(L.flatten(), p), ap(L.flatten(), b)]));
    const m = track(sn.model({ inputs: inp, outputs: o, seed: 12 }));
    randomize(m, 420);
    const cal = sn.tensor(f32(16 * 396, 71), [16, 12, 11, 3]);
    const q = track(sn.quantize(m, { calibration: cal, activations: 'int8' }));
    cal.dispose();
    for (const n of [1, 5]) {
      const shape = [n, 12, 11, 3];
      const xs = f32(n * 396, 90 + n);
      const planned = predict(q, xs, shape);
      setInferencePlanEnabled(false);
      try {
        expect(planned).toEqual(predict(q, xs, shape));
      } finally {
        setInferencePlanEnabled(true);
      }
    }
    const plan = (q as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
    const named = (k: string) => [...plan.steps].filter(([, v]) => v[k]).map(([st]) => st.layer.className);
    expect(named('int8Pool')).toEqual(['MaxPooling2D', 'Pool2D']);
    // the first two convolutions and the first pooling have int8 readers only; the Pool2D has a float reader
    // too (a Flatten), and so has the last convolution
    expect(named('int8Out').sort()).toEqual(['MaxPooling2D', 'QuantizedConv2D', 'QuantizedConv2D']);
  });

  it('a 2x2 max pooling after a Winograd convolution is taken into its output transform, with the same bits', () => {
    const net = () =>
      sn.sequential({
        seed: 4,
        layers: [
          L.conv2d({
            filters: 8,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
            inputShape: [14, 13, 3],
            algorithm: 'winograd', // 'auto' would take direct on 3 input channels
            winogradTile: 4,
          }),
          L.maxPooling2d({ poolSize: 2 }), // fused (conv: 3x3, F(4,3))
          L.conv2d({ filters: 9, kernelSize: 5, padding: 'same' }),
          L.activation({ activation: 'relu' }), // fused into the conv, and the pooling after it too (F(4,5))
          L.maxPooling2d({ poolSize: 2 }),
          L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'gelu' }),
          L.maxPooling2d({ poolSize: 1 }), // not 2x2, and after a gelu: not fused
          L.flatten(),
          L.dense({ units: 3 }),
        ],
      });
    sn.setConvAlgorithm('auto');
    try {
      const m = track(net());
      m.build();
      randomize(m, 600);
      for (const n of [1, 4]) {
        const shape = [n, 14, 13, 3];
        const x = f32(n * 14 * 13 * 3, 70 + n);
        const a = predict(m, x, shape),
          b = unfolded(m, x, shape);
        expect(a.length).toBe(b.length);
        expect(
          a.every((v, i) => Object.is(v, b[i])),
          `batch ${n}`,
        ).toBe(true);
      }
      const plan = (m as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
      const pooled = [...plan.steps].filter(([, p]) => p.pool).map(([st]) => st.layer.name);
      const skipped = [...plan.steps].filter(([, p]) => p.skip).map(([st]) => st.layer.name);
      expect(pooled).toEqual(['conv2d', 'conv2d_1']);
      expect(skipped.sort()).toEqual(['activation', 'max_pooling2d', 'max_pooling2d_1']);
      // with the direct convolutions (the first layer names 'winograd' itself) only the first is pooled in the conv
      sn.setConvAlgorithm('direct');
      const x = f32(2 * 14 * 13 * 3, 80);
      expect(predict(m, x, [2, 14, 13, 3])).toEqual(unfolded(m, x, [2, 14, 13, 3]));
      const plan2 = (m as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
      expect([...plan2.steps].filter(([, p]) => p.pool).map(([st]) => st.layer.name)).toEqual(['conv2d']);
    } finally {
      sn.setConvAlgorithm('direct');
    }
  });

  it("a residual block's relu after the Add is applied in place, and one whose output two layers read is fused", () => {
    const inp = sn.input({ shape: [6, 6, 8] });
    const c1 = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp) as sn.SymbolicTensor;
    const r1 = L.activation({ activation: 'relu' }).apply(c1) as sn.SymbolicTensor; // read by c2 and the Add
    const c2 = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(r1) as sn.SymbolicTensor;
    const sum = L.add().apply([c2, r1]) as sn.SymbolicTensor;
    const out = L.reLU().apply(sum) as sn.SymbolicTensor;
    const g = track(sn.model({ inputs: inp, outputs: out }));
    randomize(g, 500);
    const x = f32(3 * 288, 60);
    const rng = new sn.Rng(1);
    const want = sn.tidy(() =>
      sn.noGrad(() => {
        const [l1, a1, l2, add, relu] = g.layers.filter((l) => l.className !== 'InputLayer');
        const y1 = a1!.callFor([l1!.callFor([sn.tensor(x, [3, 6, 6, 8])], { training: false, rng })], {
          training: false,
          rng,
        });
        const y2 = l2!.callFor([y1], { training: false, rng });
        return relu!.callFor([add!.callFor([y2, y1], { training: false, rng })], { training: false, rng }).dataSync();
      }),
    );
    const got = predict(g, x, [3, 6, 6, 8]);
    expect(got).toEqual(want);
    expect(got.some((v) => v === 0) && got.every((v) => v >= 0)).toBe(true); // the relu did run
    const plan = (g as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
    const fused = [...plan.steps].filter(([, p]) => p.activation).map(([st]) => st.layer.className);
    expect(fused.sort()).toEqual(['Add', 'Conv2D']);
  });
});

describe('dilated kernels cut to the taps that read the image (predict)', () => {
  it('DeepLab-style atrous convolutions: taps 24 apart over 14x14 become a 1x1, and a 3x5 kernel loses its outer columns', () => {
    sn.setConvAlgorithm('direct');
    const m = track(
      sn.sequential({
        seed: 9,
        layers: [
          // 'same' over 14x14 with dilation 24: only the middle tap ever meets the image
          L.conv2d({ filters: 8, kernelSize: 3, dilationRate: 24, padding: 'same', inputShape: [14, 14, 6] }),
          L.activation({ activation: 'relu' }),
          // dilation [5, 8] over 14x14: the columns 16 to each side never do, the rows all do
          L.conv2d({ filters: 5, kernelSize: [3, 5], dilationRate: [5, 8], padding: 'same' }),
          // dilation 12: every tap meets the image for some output, nothing is cut
          L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 12, padding: 'same' }),
        ],
      }),
    );
    m.build();
    randomize(m, 400);
    for (const n of [1, 4]) {
      const shape = [n, 14, 14, 6];
      const x = f32(n * 14 * 14 * 6, 60 + n);
      const p = predict(m, x, shape);
      // the cut taps multiplied zeros: the same sums, term for term (and the same bits)
      expect(p).toEqual(unfolded(m, x, shape));
      expect(new Set(p).size, 'outputs vary').toBeGreaterThan(50);
    }
    const plan = (m as unknown as { plan: { steps: Map<{ layer: sn.Layer }, Record<string, unknown>> } }).plan;
    const cut = [...plan.steps]
      .filter(([, p]) => p.dilationRate)
      .map(([st, p]) => [st.layer.name, (p.weights as sn.Tensor[])[0]!.shape.slice(0, 2), p.padding, p.dilationRate]);
    expect(cut).toEqual([
      [
        m.layers[0]!.name,
        [1, 1],
        [
          [0, 0],
          [0, 0],
        ],
        [1, 1],
      ],
      [
        m.layers[2]!.name,
        [3, 3],
        [
          [5, 5],
          [8, 8],
        ],
        [5, 8],
      ],
    ]);
  });
});

describe('kernel traces of predict calls of 1-3 images', () => {
  type Traces = Map<number, { trace: { bytes: number } } | null>;
  const traces = (m: sn.Model) => (m as unknown as { plan: { traces: Traces } }).plan.traces;
  const untraced = (m: sn.Model, x: Float32Array, shape: number[]) => {
    setKernelTracesEnabled(false);
    try {
      return predict(m, x, shape);
    } finally {
      setKernelTracesEnabled(true);
    }
  };
  // Every traceable layer class: a functional model with a residual Add, a Concatenate of two global
  // poolings, a relu6 and a softmax; its output also reads a Reshape and Flatten.
  const everyClass = (seed: number) => {
    const inp = sn.input({ shape: [9, 7, 3] });
    const ap = (l: sn.Layer, x: sn.SymbolicTensor | sn.SymbolicTensor[]) => l.apply(x) as sn.SymbolicTensor;
    let x = ap(L.permute({ dims: [2, 1, 3] }), inp); // 7 x 9 x 3
    x = ap(L.zeroPadding2D({ padding: 1 }), x);
    x = ap(L.conv2d({ filters: 8, kernelSize: 3 }), x);
    x = ap(L.batchNormalization(), x);
    const r = ap(L.reLU(), x);
    let y = ap(L.depthwiseConv2d({ kernelSize: 3, padding: 'same' }), r);
    y = ap(L.activation({ activation: 'relu6' }), y);
    y = ap(L.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same' }), y);
    let s = ap(L.add(), [y, r]);
    s = ap(L.maxPooling2d({ poolSize: 2 }), s);
    s = ap(L.averagePooling2d({ poolSize: 1 }), s);
    const g = ap(L.concatenate(), [ap(L.globalAveragePooling2D(), s), ap(L.globalMaxPooling2D(), s)]);
    let o = ap(L.dense({ units: 12 }), g);
    o = ap(L.dropout({ rate: 0.5 }), o);
    o = ap(L.reshape({ targetShape: [3, 4] }), o);
    o = ap(L.flatten(), o);
    o = ap(L.softmax(), o);
    const m = track(sn.model({ inputs: inp, outputs: o, seed }));
    randomize(m, seed);
    return m;
  };

  it('give the bits of the untraced forward at 1, 2 and 3 images, on 1 and 2 threads, for every traceable layer class', async () => {
    const m = everyClass(700);
    const classes = new Set(m.layers.map((l) => l.className));
    expect([...classes].filter((c) => c !== 'InputLayer').sort()).toEqual(
      [
        'Activation',
        'Add',
        'AveragePooling2D',
        'BatchNormalization',
        'Concatenate',
        'Conv2D',
        'Dense',
        'DepthwiseConv2D',
        'Dropout',
        'Flatten',
        'GlobalAveragePooling2D',
        'GlobalMaxPooling2D',
        'MaxPooling2D',
        'Permute',
        'ReLU',
        'Reshape',
        'SeparableConv2D',
        'Softmax',
        'ZeroPadding2D',
      ].sort(),
    );
    for (const threads of [1, 2]) {
      await sn.setThreads(threads);
      for (const n of [1, 2, 3]) {
        const shape = [n, 9, 7, 3];
        for (const seed of [1, 2, 3]) {
          const x = f32(n * 189, 70 + 10 * n + seed);
          expect(predict(m, x, shape)).toEqual(untraced(m, x, shape));
        }
      }
    }
    await sn.setThreads(1);
    const t = traces(m);
    expect([...t.keys()].sort()).toEqual([1, 2, 3]);
    for (const v of t.values()) expect(v?.trace.bytes).toBeGreaterThan(0);
    // 4 images run the layers (no trace) and agree image by image
    const x4 = f32(4 * 189, 90);
    const all = predict(m, x4, [4, 9, 7, 3]);
    expect(all).toEqual(untraced(m, x4, [4, 9, 7, 3]));
    expect(t.has(4)).toBe(false);
    for (let i = 0; i < 4; i++) {
      expect(predict(m, x4.subarray(i * 189, (i + 1) * 189), [1, 9, 7, 3])).toEqual(all.subarray(i * 12, (i + 1) * 12));
    }
  });

  it('of int8 models (made by sn.quantize) give the bits of the untraced forward, on 1 and 2 threads', async () => {
    const f = everyClass(730);
    const cal = sn.tensor(f32(16 * 189, 31), [16, 9, 7, 3]);
    const q = track(sn.quantize(f, { calibration: cal, activations: 'int8' }));
    cal.dispose();
    const int8 = q.layers.filter((l) => l.className.startsWith('Quantized')).map((l) => l.className);
    expect(int8.sort()).toEqual(['QuantizedConv2D', 'QuantizedDense', 'QuantizedDepthwiseConv2D']);
    for (const threads of [1, 2]) {
      await sn.setThreads(threads);
      for (const n of [1, 2, 3]) {
        const shape = [n, 9, 7, 3];
        for (const seed of [1, 2, 3]) {
          const x = f32(n * 189, 170 + 10 * n + seed);
          expect(predict(q, x, shape)).toEqual(untraced(q, x, shape));
        }
      }
    }
    await sn.setThreads(1);
    // the first call of a size makes the int8 layers' packed weights (kept: no trace), the next records
    const t = traces(q);
    expect([...t.keys()].sort()).toEqual([1, 2, 3]);
    for (const v of t.values()) expect(v?.trace.bytes).toBeGreaterThan(0);
  });

  it('follow setWeights, a write through a weight view, fit and setConvAlgorithm', async () => {
    const m = everyClass(710);
    const x = f32(189, 80);
    const shape = [1, 9, 7, 3];
    const first = predict(m, x, shape);
    randomize(m, 711);
    const second = predict(m, x, shape);
    expect(second).not.toEqual(first);
    expect(second).toEqual(untraced(m, x, shape));
    const dense = m.layers.find((l) => l.className === 'Dense')!;
    dense.weights[0]!.value.view()[0]! += 0.5;
    const third = predict(m, x, shape);
    expect(third).not.toEqual(second);
    expect(third).toEqual(untraced(m, x, shape));
    m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    await m.fit(
      { data: f32(4 * 189, 81), shape: [4, 9, 7, 3] },
      { data: Float32Array.from({ length: 48 }, (_, i) => (i % 13 === 0 ? 1 : 0)), shape: [4, 12] },
      {
        epochs: 1,
        batchSize: 4,
        verbose: 0,
      },
    );
    const fourth = predict(m, x, shape);
    expect(fourth).not.toEqual(third);
    expect(fourth).toEqual(untraced(m, x, shape));
    sn.setConvAlgorithm('auto');
    expect(predict(m, x, shape)).toEqual(untraced(m, x, shape));
    sn.setConvAlgorithm('direct');
  });

  it('are not made for a model with a layer outside the traceable classes, and are freed with the model', () => {
    const inp = sn.input({ shape: [6] });
    const lr = L.leakyReLU({ alpha: 0.2 }).apply(inp) as sn.SymbolicTensor;
    const out = L.dense({ units: 3 }).apply(lr) as sn.SymbolicTensor;
    const m = track(sn.model({ inputs: inp, outputs: out, seed: 3 }));
    const x = f32(6, 5);
    expect(predict(m, x, [1, 6])).toEqual(untraced(m, x, [1, 6]));
    expect(traces(m).size).toBe(0);

    const before = adv.getArena().liveBytes;
    const g = everyClass(720);
    predict(g, f32(189, 6), [1, 9, 7, 3]);
    const kept = traces(g).get(1)!.trace.bytes;
    expect(kept).toBeGreaterThan(0);
    expect(adv.getArena().liveBytes).toBeGreaterThanOrEqual(before + kept);
    g.dispose();
    expect(adv.getArena().liveBytes).toBe(before);
  });
});

describe('inference rules by layer class', () => {
  type Traces = Map<number, { trace: { bytes: number } } | null>;
  const traces = (m: sn.Model) => (m as unknown as { plan: { traces: Traces } }).plan.traces;
  const untraced = (m: sn.Model, x: Float32Array, shape: number[]) => {
    setKernelTracesEnabled(false);
    try {
      return predict(m, x, shape);
    } finally {
      setKernelTracesEnabled(true);
    }
  };

  for (const interpolation of ['nearest', 'bilinear'] as const) {
    it(`UpSampling2D ('${interpolation}') is traced, with the bits of its own call`, () => {
      const m = track(
        new sn.Sequential({
          seed: 5,
          layers: [
            L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [5, 6, 2] }),
            L.upSampling2d({ size: [2, 3], interpolation }),
            L.conv2d({ filters: 3, kernelSize: 3 }),
            L.flatten(),
          ],
        }),
      );
      randomize(m, 30);
      for (const n of [1, 2]) {
        const shape = [n, 5, 6, 2];
        const x = f32(n * 60, 31 + n);
        const want = unfolded(m, x, shape);
        expect(predict(m, x, shape)).toEqual(want);
        expect(predict(m, x, shape)).toEqual(want); // the replay
        expect(untraced(m, x, shape)).toEqual(want);
      }
      expect([...traces(m).keys()].sort()).toEqual([1, 2]);
      for (const t of traces(m).values()) expect(t?.trace.bytes).toBeGreaterThan(0);
    });
  }

  it('Slice, LogSoftmax and LayerNormalization (one kernel call each) are traced, with the bits of their own calls', () => {
    const inp = sn.input({ shape: [5, 6, 4] });
    const ap = (l: sn.Layer, x: sn.SymbolicTensor | sn.SymbolicTensor[]) => l.apply(x) as sn.SymbolicTensor;
    let x = ap(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }), inp);
    x = ap(new sn.Slice({ axis: -1, begin: 1, end: 5 }), x);
    x = ap(new sn.LayerNormalization({}), x);
    x = ap(L.flatten(), x);
    x = ap(L.dense({ units: 7 }), x);
    x = ap(new sn.LogSoftmax({}), x);
    const m = track(sn.model({ inputs: inp, outputs: x, seed: 8 }));
    randomize(m, 50);
    for (const n of [1, 2, 3]) {
      const shape = [n, 5, 6, 4];
      const xs = f32(n * 120, 51 + n);
      const want = untraced(m, xs, shape);
      expect(predict(m, xs, shape)).toEqual(want);
      expect(predict(m, xs, shape)).toEqual(want); // the replay
    }
    expect([...traces(m).keys()].sort()).toEqual([1, 2, 3]);
    for (const t of traces(m).values()) expect(t?.trace.bytes).toBeGreaterThan(0);
  });

  it('a layer class outside the registry runs its own call, untraced', () => {
    class Twice extends sn.Layer {
      static readonly className = 'Twice';
      computeOutputShape(s: readonly number[]): number[] {
        return [...s];
      }
      call(x: sn.Tensor): sn.Tensor {
        return sn.add(x, x);
      }
      getConfig() {
        return { name: this.name };
      }
    }
    const m = track(
      new sn.Sequential({
        seed: 6,
        layers: [L.dense({ units: 4, inputShape: [3] }), new Twice(), L.dense({ units: 2 })],
      }),
    );
    randomize(m, 40);
    const x = f32(3, 41);
    expect(predict(m, x, [1, 3])).toEqual(unfolded(m, x, [1, 3]));
    expect(traces(m).size).toBe(0);
  });
});

describe('activations freed after their last reader (predict)', () => {
  it('a 40-layer chain with residual branches holds a few activations of a large batch, with the same bits', () => {
    const inp = sn.input({ shape: [256] });
    let x = L.dense({ units: 256, activation: 'relu' }).apply(inp) as sn.SymbolicTensor;
    for (let i = 0; i < 20; i++) {
      // a value read by two later steps (the dense and the add): freed only after the second
      const y = L.dense({ units: 256, activation: 'relu' }).apply(x) as sn.SymbolicTensor;
      x = L.add().apply([x, L.dense({ units: 256 }).apply(y) as sn.SymbolicTensor]) as sn.SymbolicTensor;
    }
    const m = track(sn.model({ inputs: inp, outputs: L.dense({ units: 10 }).apply(x) as sn.SymbolicTensor, seed: 4 }));
    const n = 128;
    const xs = f32(n * 256, 9);
    const one = m.predict({ data: xs.subarray(0, 256), shape: [1, 256] }); // builds the weights and the plan
    one.dispose();
    const arena = adv.getArena();
    const before = arena.highWaterMark;
    const y = m.predict({ data: xs, shape: [n, 256] }, { batchSize: n });
    const grew = arena.highWaterMark - before;
    const act = n * 256 * 4;
    // 62 activations of 128 KB each without freeing (~8 MB); with it, a few live ones, the kernels'
    // scratch and the arena's free lists (measured: ~12)
    expect(grew).toBeLessThan(16 * act);
    // the same values as the layers' own forward, one example at a time (no plan, no freeing)
    setInferencePlanEnabled(false);
    try {
      for (const r of [0, 77, n - 1]) {
        const e = m.predict({ data: xs.subarray(r * 256, (r + 1) * 256), shape: [1, 256] });
        expect(Array.from(e.dataSync())).toEqual(Array.from(y.dataSync().subarray(r * 10, (r + 1) * 10)));
        e.dispose();
      }
    } finally {
      setInferencePlanEnabled(true);
    }
    y.dispose();
  });
});
