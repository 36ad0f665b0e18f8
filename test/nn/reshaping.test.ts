// The reshaping and activation layers (ZeroPadding2D, Cropping2D, UpSampling2D, Reshape, Permute,
// ReLU, Softmax, GlobalAveragePooling2D keepdims, the new activation names): forward against
// tfjs-layers / tfjs-core on the CPU backend as an independent oracle, inside Sequential models
// (summary, a few training steps, save / load with bit-identical predictions), and build-time errors
// that name the layer and the shapes.
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectClose, makeRng } from '../helpers/check.js';
import { bars } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
  await tfc.setBackend('cpu');
});

const L = sn.layers;
const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterAll(() => {
  for (const m of live) m.dispose();
});

// A layer of ours applied to x (with batch) through a one-layer model, as a plain array.
function ours(layer: sn.Layer, x: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  layer.inputShape = shape.slice(1);
  const m = track(sn.sequential({ layers: [layer] }));
  const y = m.predict({ data: x, shape });
  const out = { data: y.dataSync() as Float32Array, shape: [...y.shape] };
  y.dispose();
  return out;
}

function theirs(y: tfc.Tensor): { data: Float32Array; shape: number[] } {
  const out = { data: y.dataSync() as Float32Array, shape: [...y.shape] };
  y.dispose();
  return out;
}

function softmaxAlong(t: tfc.Tensor, axis: number): tfc.Tensor {
  const e = tfc.exp(tfc.sub(t, tfc.max(t, axis, true)));
  return tfc.div(e, tfc.sum(e, axis, true));
}

const rand = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from(makeRng(seed).fill(n, lo, hi));

describe('forward against tfjs (CPU backend)', () => {
  const shape = [2, 5, 6, 3];
  const x = rand(2 * 5 * 6 * 3, 1);
  const tx = () => tfc.tensor4d(x, shape as [number, number, number, number]);

  const cases: Array<[string, sn.Layer, () => tfc.Tensor, number]> = [
    [
      'ZeroPadding2D padding=[[1,2],[0,3]]',
      L.zeroPadding2D({
        padding: [
          [1, 2],
          [0, 3],
        ],
      }),
      () =>
        tfl.layers
          .zeroPadding2d({
            padding: [
              [1, 2],
              [0, 3],
            ],
          })
          .apply(tx()) as tfc.Tensor,
      0,
    ],
    ['ZeroPadding2D default (1)', L.zeroPadding2D(), () => tfl.layers.zeroPadding2d({}).apply(tx()) as tfc.Tensor, 0],
    [
      'Cropping2D cropping=[[1,0],[2,1]]',
      L.cropping2D({
        cropping: [
          [1, 0],
          [2, 1],
        ],
      }),
      () =>
        tfl.layers
          .cropping2D({
            cropping: [
              [1, 0],
              [2, 1],
            ],
          })
          .apply(tx()) as tfc.Tensor,
      0,
    ],
    [
      'Cropping2D cropping=[2,1] (symmetric)',
      L.cropping2D({ cropping: [2, 1] }),
      () => tfl.layers.cropping2D({ cropping: [2, 1] }).apply(tx()) as tfc.Tensor,
      0,
    ],
    [
      'UpSampling2D nearest size=[2,3]',
      L.upSampling2D({ size: [2, 3] }),
      () => tfl.layers.upSampling2d({ size: [2, 3] }).apply(tx()) as tfc.Tensor,
      0,
    ],
    // tf.keras UpSampling2D('bilinear') calls tf.image.resize, which uses half-pixel centers;
    // tfjs-layers' UpSampling2D does not (see the next test), so the oracle is tfjs-core's resize.
    [
      'UpSampling2D bilinear size=[2,2]',
      L.upSampling2D({ size: 2, interpolation: 'bilinear' }),
      () => tfc.image.resizeBilinear(tx() as tfc.Tensor4D, [10, 12], false, true),
      1e-6,
    ],
    [
      'UpSampling2D bilinear size=[3,2]',
      L.upSampling2D({ size: [3, 2], interpolation: 'bilinear' }),
      () => tfc.image.resizeBilinear(tx() as tfc.Tensor4D, [15, 12], false, true),
      1e-6,
    ],
    [
      'Reshape targetShape=[-1, 9]',
      L.reshape({ targetShape: [-1, 9] }),
      () => tfl.layers.reshape({ targetShape: [-1, 9] }).apply(tx()) as tfc.Tensor,
      0,
    ],
    [
      'Permute dims=[3,1,2]',
      L.permute({ dims: [3, 1, 2] }),
      () => tfl.layers.permute({ dims: [3, 1, 2] }).apply(tx()) as tfc.Tensor,
      0,
    ],
    [
      'Permute dims=[2,1,3]',
      L.permute({ dims: [2, 1, 3] }),
      () => tfl.layers.permute({ dims: [2, 1, 3] }).apply(tx()) as tfc.Tensor,
      0,
    ],
    [
      'ReLU maxValue=0.5',
      L.reLU({ maxValue: 0.5 }),
      () => tfl.layers.reLU({ maxValue: 0.5 }).apply(tx()) as tfc.Tensor,
      0,
    ],
    ['Softmax axis=-1', L.softmax(), () => tfc.softmax(tx()), 1e-6],
    // tfjs' softmax takes only the last axis: the oracle is exp(x - max) / sum along the axis.
    ['Softmax axis=1', L.softmax({ axis: 1 }), () => softmaxAlong(tx(), 1), 1e-6],
    ['Softmax axis=2', L.softmax({ axis: 2 }), () => softmaxAlong(tx(), 2), 1e-6],
  ];
  for (const [name, layer, oracle, atol] of cases) {
    it(name, () => {
      const a = ours(layer, x, shape),
        b = theirs(oracle());
      expect(a.shape).toEqual(b.shape);
      if (atol === 0) expect(Array.from(a.data)).toEqual(Array.from(b.data));
      else expectClose(a.data, b.data, { atol, rtol: 1e-6, label: name });
    });
  }

  it("tfjs-layers' bilinear UpSampling2D is the corner-aligned variant, which ours is not", () => {
    const a = ours(L.upSampling2D({ size: 2, interpolation: 'bilinear' }), x, shape);
    const b = theirs(tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(tx()) as tfc.Tensor);
    let maxDiff = 0;
    for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxDiff).toBeGreaterThan(0.05);
  });

  it('ReLU with negativeSlope and threshold matches the Keras definition written with tfjs ops', () => {
    const a = ours(L.reLU({ maxValue: 0.6, negativeSlope: 0.25, threshold: 0.1 }), x, shape);
    // Keras: x * (x > t), clipped to [0, max], minus slope * relu(t - x)
    const t = tx();
    const b = theirs(
      tfc.sub(
        tfc.clipByValue(tfc.mul(t, tfc.cast(tfc.greater(t, 0.1), 'float32')), 0, 0.6),
        tfc.mul(0.25, tfc.relu(tfc.sub(0.1, t))),
      ),
    );
    expectClose(a.data, b.data, { atol: 1e-7, rtol: 1e-6, label: 'ReLU' });
  });

  it('activations relu6, swish / silu, hardSigmoid (Keras 3), hardSwish match tfjs-core formulas', () => {
    const big = Float32Array.from(x, (v) => v * 6);
    const t = () => tfc.tensor4d(big, shape as [number, number, number, number]);
    const want: Record<string, () => tfc.Tensor> = {
      relu6: () => tfc.relu6(t()),
      swish: () => tfc.mul(t(), tfc.sigmoid(t())),
      silu: () => tfc.mul(t(), tfc.sigmoid(t())),
      hardSigmoid: () => tfc.div(tfc.relu6(tfc.add(t(), 3)), 6),
      hardSwish: () => tfc.div(tfc.mul(t(), tfc.relu6(tfc.add(t(), 3))), 6),
    };
    for (const [act, f] of Object.entries(want)) {
      const a = ours(L.activation({ activation: act as sn.ActivationName }), big, shape);
      expectClose(a.data, theirs(f()).data, { atol: 1e-6, rtol: 1e-6, label: act });
    }
  });
});

describe('in Sequential models', () => {
  const data = bars(96, 5);
  const probe = bars(8, 77).x;

  // Every layer of this file in one trainable classifier.
  const model = (seed: number) =>
    sn.sequential({
      seed,
      layers: [
        L.zeroPadding2D({ padding: 1, inputShape: [8, 8, 1] }),
        L.conv2d({ filters: 6, kernelSize: 3, activation: 'hardSwish' }),
        L.cropping2D({
          cropping: [
            [1, 0],
            [0, 1],
          ],
        }),
        L.reLU({ maxValue: 6, negativeSlope: 0.05 }),
        L.upSampling2D({ size: 2, interpolation: 'bilinear' }),
        L.maxPooling2d({ poolSize: 2 }),
        L.upSampling2D({ size: [1, 2] }),
        L.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'swish' }),
        L.permute({ dims: [2, 1, 3] }),
        L.softmax({ axis: 1 }),
        L.globalAveragePooling2D({ keepdims: true }),
        L.reshape({ targetShape: [-1] }),
        L.dense({ units: 8, activation: 'relu6' }),
        L.dense({ units: 3 }),
        L.softmax(),
      ],
    });

  it('summary lists every layer with its output shape', () => {
    const m = track(model(1));
    const s = m.summary(null);
    for (const [name, shape] of [
      ['zero_padding2d', '(None, 10, 10, 1)'],
      ['cropping2d', '(None, 7, 7, 6)'],
      ['re_lu', '(None, 7, 7, 6)'],
      ['up_sampling2d', '(None, 14, 14, 6)'],
      ['up_sampling2d_1', '(None, 7, 14, 6)'],
      ['permute', '(None, 6, 3, 4)'],
      ['softmax', '(None, 6, 3, 4)'],
      ['global_average_pooling2d', '(None, 1, 1, 4)'],
      ['reshape', '(None, 4)'],
    ]) {
      expect(s).toMatch(new RegExp(`${name} \\(\\w+\\)\\s+${shape.replace(/[()]/g, '\\$&')}`));
    }
  });

  it('trains (the loss falls over a few epochs), and save / load gives bit-identical predictions', async () => {
    const m = track(model(2));
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const h = await m.fit(data.x, data.labels, { epochs: 4, batchSize: 16, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    const loaded = track(sn.loadModel(m.save()));
    const p = (mm: sn.Model) => {
      const y = mm.predict(probe);
      const v = y.dataSync();
      y.dispose();
      return Array.from(v);
    };
    expect(p(loaded)).toEqual(p(m));
    expect(loaded.summary(null)).toBe(m.summary(null));
    expect(loaded.layers.map((l) => JSON.stringify(l.getConfig()))).toEqual(
      m.layers.map((l) => JSON.stringify(l.getConfig())),
    );
  });

  it('GlobalAveragePooling2D keepdims gives [1, 1, C] with the same values as without', () => {
    const x = rand(2 * 4 * 5 * 3, 9);
    const a = ours(L.globalAveragePooling2D({ keepdims: true }), x, [2, 4, 5, 3]);
    const b = ours(L.globalAveragePooling2D(), x, [2, 4, 5, 3]);
    expect(a.shape).toEqual([2, 1, 1, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const c = ours(L.globalMaxPooling2D({ keepdims: true }), x, [2, 4, 5, 3]);
    expect(c.shape).toEqual([2, 1, 1, 3]);
  });
});

describe('bad configurations', () => {
  const build = (layers: sn.Layer[]) => () => {
    const m = sn.sequential({ layers });
    try {
      m.build();
    } finally {
      m.dispose();
    }
  };
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      'crop larger than the input',
      build([
        L.cropping2D({
          cropping: [
            [3, 3],
            [0, 0],
          ],
          inputShape: [6, 6, 1],
          name: 'crop',
        }),
      ]),
      /crop: cropping \[\[3,3\],\[0,0\]\] leaves nothing of an input of shape \[6,6,1\]/,
    ],
    [
      'reshape sizes that do not match',
      build([L.reshape({ targetShape: [5, 5], inputShape: [4, 6], name: 'rs' })]),
      /rs: cannot reshape an input of shape \[4,6\] \(24 values per sample\) to targetShape \[5,5\]/,
    ],
    [
      'reshape -1 that does not divide',
      build([L.reshape({ targetShape: [-1, 5], inputShape: [4, 6] })]),
      /cannot reshape an input of shape \[4,6\].*targetShape \[-1,5\]/,
    ],
    [
      'permute dims of the wrong rank',
      build([L.permute({ dims: [2, 1], inputShape: [4, 6, 2], name: 'pm' })]),
      /pm: dims \[2,1\] permute 2 axes but the input has shape \[4,6,2\]/,
    ],
    [
      'permute dims that are not a permutation',
      () => L.permute({ dims: [1, 1, 2] }),
      /Permute: dims \[1,1,2\] must be a permutation of 1..3/,
    ],
    ['permute dims 0-based', () => L.permute({ dims: [0, 1] }), /must be a permutation of 1..2/],
    [
      'zero padding on a flat input',
      build([L.zeroPadding2D({ padding: 1, inputShape: [12], name: 'zp' })]),
      /zp: expected input of shape \[height, width, channels\] \(without batch\), got \[12\]/,
    ],
    ['upsampling size 0', () => L.upSampling2D({ size: 0 }), /UpSampling2D: size must be a positive integer, got 0/],
    [
      'upsampling interpolation',
      () => L.upSampling2D({ interpolation: 'area' as never }),
      /interpolation must be 'nearest' or 'bilinear', got "area"/,
    ],
    [
      'negative padding',
      () =>
        L.zeroPadding2D({
          padding: [
            [1, -1],
            [0, 0],
          ],
        }),
      /ZeroPadding2D: padding must be a non-negative integer/,
    ],
    ['ReLU negative maxValue', () => L.reLU({ maxValue: -1 }), /ReLU: maxValue must be a non-negative number, got -1/],
    [
      'ReLU negative threshold',
      () => L.reLU({ threshold: -0.5 }),
      /ReLU: threshold must be a non-negative number, got -0.5/,
    ],
    [
      'softmax axis out of range',
      build([L.softmax({ axis: 3, inputShape: [4, 5], name: 'sm' })]),
      /sm: axis 3 is out of range for an input of shape \[4,5\] \(rank 3 with the batch axis\)/,
    ],
    [
      'keepdims not a boolean',
      () => L.globalAveragePooling2D({ keepdims: 1 as never }),
      /GlobalAveragePooling2D: keepdims must be true or false, got 1/,
    ],
    [
      'reshape with two -1',
      () => L.reshape({ targetShape: [-1, -1] }),
      /Reshape: targetShape must be positive integers with at most one -1/,
    ],
  ];
  for (const [name, fn, re] of cases)
    it(name, () => {
      expect(fn).toThrow(re);
    });
});
