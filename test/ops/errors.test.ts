// Bad input to the ops (shapes, ranks, strides, padding, non-finite values, disposed tensors,
// broadcasting), then each op family's own arguments: a thrown Error that names what was wrong, never a
// wasm trap, and no arena leak. Argument checks run before any kernel, so once, not once per build.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { makeRng } from '../helpers/check.js';
import { expectError, prod, rand } from '../kernels/harness.js';

beforeAll(async () => {
  await sn.ready();
});

describe('bad input -> a clear Error, never a wasm trap', () => {
  const T = (shape: number[], fill = 0.5) => sn.tensor(new Float32Array(prod(shape)).fill(fill), shape);
  const withT = (shapes: number[][], fn: (...ts: sn.Tensor[]) => unknown, re: RegExp) => {
    const ts = shapes.map((s) => T(s));
    try {
      expectError(() => fn(...ts), re);
    } finally {
      for (const t of ts) t.dispose();
    }
  };
  const withNaN = (shape: number[], at: number, v: number) => {
    const t = T(shape);
    t.view()[at] = v;
    return t;
  };

  it('conv2d x=[1,5,5,3] f=[3,3,4,2]: channel mismatch', () =>
    withT(
      [
        [1, 5, 5, 3],
        [3, 3, 4, 2],
      ],
      (x, f) => sn.conv2d(x!, f!),
      /input has 3 channels but the filter expects 4/,
    ));
  it('conv2d wrong ranks', () => {
    withT(
      [
        [5, 5, 3],
        [3, 3, 3, 2],
      ],
      (x, f) => sn.conv2d(x!, f!),
      /conv2d: input x .*must have rank 4, got shape \[5,5,3\]/,
    );
    withT(
      [
        [1, 5, 5, 3],
        [9, 3, 2],
      ],
      (x, f) => sn.conv2d(x!, f!),
      /conv2d: filter .*must have rank 4, got shape \[9,3,2\]/,
    );
  });
  for (const s of [0, -1, 1.5, NaN] as number[]) {
    it(`conv2d strides=${s}`, () =>
      withT(
        [
          [1, 5, 5, 1],
          [3, 3, 1, 1],
        ],
        (x, f) => sn.conv2d(x!, f!, { strides: s }),
        /conv2d: strides must be a positive integer/,
      ));
    it(`maxPool2d poolSize=${s} / strides=${s}`, () => {
      withT([[1, 5, 5, 1]], (x) => sn.maxPool2d(x!, { poolSize: s }), /maxPool2d: poolSize must be a positive integer/);
      withT(
        [[1, 5, 5, 1]],
        (x) => sn.maxPool2d(x!, { poolSize: 2, strides: s }),
        /maxPool2d: strides must be a positive integer/,
      );
      withT(
        [[1, 5, 5, 1]],
        (x) => sn.avgPool2d(x!, { poolSize: [2, s] as [number, number] }),
        /avgPool2d: poolSize must be a positive integer/,
      );
    });
  }
  it('conv2d strides=[2] (not a pair)', () =>
    withT(
      [
        [1, 5, 5, 1],
        [3, 3, 1, 1],
      ],
      (x, f) => sn.conv2d(x!, f!, { strides: [2] as unknown as number }),
      /strides must be a number or \[rows, cols\]/,
    ));
  it('conv2d x=[1,3,3,1] f=[5,5,1,1] p=valid: output < 1 names the sizes', () =>
    withT(
      [
        [1, 3, 3, 1],
        [5, 5, 1, 1],
      ],
      (x, f) => sn.conv2d(x!, f!),
      /5x5 window .*does not fit a 3x3 input \(output would be -1x-1\)/,
    ));
  it('conv2d x=[1,4,6,1] f=[1,7,1,1] s=2 p=[[1,0],[0,0]]: output < 1 names the sizes', () =>
    withT(
      [
        [1, 4, 6, 1],
        [1, 7, 1, 1],
      ],
      (x, f) =>
        sn.conv2d(x!, f!, {
          strides: 2,
          padding: [
            [1, 0],
            [0, 0],
          ],
        }),
      /1x7 window with strides 2x2 and padding \[\[1,0\],\[0,0\]\] does not fit a 4x6 input \(output would be 3x0\)/,
    ));
  it('maxPool2d k=4 on 3x3: output < 1', () =>
    withT(
      [[1, 3, 3, 2]],
      (x) => sn.maxPool2d(x!, { poolSize: 4 }),
      /maxPool2d: a 4x4 window .*does not fit a 3x3 input/,
    ));
  it('maxPool2d padding >= window', () =>
    withT(
      [[1, 5, 5, 2]],
      (x) =>
        sn.maxPool2d(x!, {
          poolSize: 2,
          padding: [
            [2, 0],
            [0, 0],
          ],
        }),
      /padding \[\[2,0\],\[0,0\]\] must be smaller than the 2x2 window/,
    ));
  it('negative / malformed padding', () => {
    withT(
      [
        [1, 5, 5, 1],
        [3, 3, 1, 1],
      ],
      (x, f) => sn.conv2d(x!, f!, { padding: -1 }),
      /padding must be 'valid', 'same'/,
    );
    withT(
      [
        [1, 5, 5, 1],
        [3, 3, 1, 1],
      ],
      (x, f) =>
        sn.conv2d(x!, f!, {
          padding: [
            [1, -1],
            [0, 0],
          ],
        }),
      /padding must be 'valid', 'same'/,
    );
    withT(
      [
        [1, 5, 5, 1],
        [3, 3, 1, 1],
      ],
      (x, f) => sn.conv2d(x!, f!, { padding: 'full' as sn.Padding }),
      /padding must be 'valid', 'same'.*"full"/,
    );
  });
  for (const v of [NaN, Infinity, -Infinity]) {
    it(`conv2d / matMul / maxPool2d / dense with ${v} in the input`, () => {
      const re = new RegExp(`contains ${String(v).replace('-', '\\-')} at flat index 7`);
      const x = withNaN([1, 4, 4, 2], 7, v),
        f = T([3, 3, 2, 2]),
        a = withNaN([3, 4], 7, v),
        b = T([4, 2]);
      const fNaN = withNaN([3, 3, 2, 2], 7, v),
        bias = withNaN([2], 1, v),
        clean = T([1, 4, 4, 2]);
      try {
        expectError(() => sn.conv2d(x, f), new RegExp(`conv2d: input x ${re.source}`));
        expectError(() => sn.conv2d(clean, fNaN), new RegExp(`conv2d: filter ${re.source}`));
        expectError(() => sn.conv2d(clean, f, { bias }), /conv2d: bias contains .* at flat index 1/);
        expectError(() => sn.matMul(a, b), new RegExp(`matMul: .*${re.source}`));
        expectError(() => sn.matMul(b, a), /matMul: inner dimensions differ/);
        expectError(() => sn.maxPool2d(x), new RegExp(`maxPool2d: input x ${re.source}`));
        expectError(() => sn.avgPool2d(x), new RegExp(`avgPool2d: input x ${re.source}`));
        expectError(() => sn.dense(a, b), new RegExp(`dense: input x ${re.source}`));
      } finally {
        for (const t of [x, f, a, b, fNaN, bias, clean]) t.dispose();
      }
    });
  }
  it('bias of the wrong length / rank', () => {
    withT(
      [[1, 5, 5, 3], [3, 3, 3, 4], [3]],
      (x, f, b) => sn.conv2d(x!, f!, { bias: b! }),
      /conv2d: bias has 3 values but the filter has 4 output channels/,
    );
    withT(
      [
        [1, 5, 5, 3],
        [3, 3, 3, 4],
        [2, 2],
      ],
      (x, f, b) => sn.conv2d(x!, f!, { bias: b! }),
      /conv2d: bias must have rank 1/,
    );
    withT(
      [[2, 3], [3, 5], [4]],
      (x, w, b) => sn.dense(x!, w!, { bias: b! }),
      /dense: bias has 4 values but the weight has 5 outputs/,
    );
  });
  it('matMul a=[2,3] b=[4,5]: inner dimension mismatch; wrong ranks', () => {
    withT(
      [
        [2, 3],
        [4, 5],
      ],
      (a, b) => sn.matMul(a!, b!),
      /matMul: inner dimensions differ: a is \[2,3\], b is \[4,5\]/,
    );
    withT(
      [
        [2, 3, 1],
        [3, 5],
      ],
      (a, b) => sn.matMul(a!, b!),
      /matMul: a \(M, K\) must have rank 2, got shape \[2,3,1\]/,
    );
    withT([[2, 3], [3]], (a, b) => sn.matMul(a!, b!), /matMul: b \(K, N\) must have rank 2/);
    withT(
      [
        [2, 3],
        [4, 5],
      ],
      (x, w) => sn.dense(x!, w!),
      /dense: input has 3 features but the weight expects 4/,
    );
  });
  it('maxPool2d / avgPool2d wrong rank', () => {
    withT([[5, 5, 2]], (x) => sn.maxPool2d(x!), /maxPool2d: input x .*must have rank 4/);
    withT([[5, 5, 2]], (x) => sn.avgPool2d(x!), /avgPool2d: input x .*must have rank 4/);
  });
  it('reshape to a wrong size', () => {
    withT(
      [[2, 3]],
      (x) => sn.reshape(x!, [4, 2]),
      /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)/,
    );
    withT([[2, 3]], (x) => sn.reshape(x!, [4, -1]), /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,-1\]/);
    withT([[2, 3]], (x) => sn.reshape(x!, [-1, -1]), /reshape: shape \[-1,-1\] .*at most one -1/);
    withT([[2, 3]], (x) => sn.reshape(x!, [2.5, 2]), /must hold non-negative integers/);
  });
  it('using a disposed tensor', () => {
    const x = T([1, 4, 4, 1]);
    const f = T([3, 3, 1, 1]);
    const id = x.id;
    x.dispose();
    const re = new RegExp(`tensor #${id} \\(shape \\[1,4,4,1\\]\\) was disposed`);
    expectError(() => sn.conv2d(x, f), re);
    expectError(() => sn.maxPool2d(x), re);
    expectError(() => sn.relu(x), re);
    expectError(() => sn.sum(x), re);
    expectError(() => sn.add(x, f), re);
    expectError(() => x.dataSync(), re);
    expectError(() => x.view(), re);
    expectError(() => sn.grads((t) => sn.sum(t!))([x]), re);
    x.dispose(); // a second dispose is a no-op, not a double free
    f.dispose();
  });
  it('using a disposed tensor with a number operand (add(3, x))', () => {
    const x = T([3]);
    x.dispose();
    expectError(() => sn.add(3, x), /was disposed/);
  });
  it('add(x, 3) outside tidy: disposing the result frees everything it allocated', () => {
    // The number operand becomes a scalar tensor inside binary(); nothing owns it outside tidy().
    const x = T([3]);
    const live0 = adv.getArena().liveBytes;
    const y = sn.add(x, 3);
    expect(Array.from(y.dataSync())).toEqual([3.5, 3.5, 3.5]);
    y.dispose();
    expect(adv.getArena().liveBytes, 'bytes left allocated by sn.add(x, 3)').toBe(live0);
    x.dispose();
  });
  it('sn.tensor with values not filling the shape', () => {
    expectError(() => sn.tensor([1, 2, 3], [2, 2]), /tensor\(\): 3 values do not fill shape \[2,2\] \(4 elements\)/);
    expectError(() => sn.tensor(new Float32Array(7), [2, 3]), /7 values do not fill shape \[2,3\] \(6 elements\)/);
    expectError(() => sn.tensor([[1, 2], [3]]), /ragged/);
    expectError(() => sn.tensor([1, 2], [2, -1]), /not a non-negative integer/);
    expectError(() => sn.tensor([1, 2], [1.5, 2]), /not a non-negative integer/);
  });
  it('broadcast mismatch, softmaxCrossEntropy shapes, activation, non-scalar grads, empty mean', () => {
    withT([[2, 3], [2]], (a, b) => sn.add(a!, b!), /add: shapes \[2,3\] and \[2\] cannot be broadcast/);
    withT(
      [
        [2, 3],
        [3, 2],
      ],
      (a, b) => sn.mul(a!, b!),
      /mul: shapes \[2,3\] and \[3,2\] cannot be broadcast/,
    );
    withT(
      [
        [2, 3],
        [2, 4],
      ],
      (l, x) => sn.softmaxCrossEntropy(l!, x!),
      /labels shape \[2,3\] differs from logits shape \[2,4\]/,
    );
    withT(
      [
        [1, 5, 5, 1],
        [3, 3, 1, 1],
      ],
      (x, f) => sn.conv2d(x!, f!, { activation: 'tanh' as 'relu' }),
      /activation must be 'linear', 'relu' or 'relu6', got "tanh"/,
    );
    withT([[2, 3]], (x) => sn.grads((t) => sn.relu(t!))([x!]), /f must return a scalar, got shape \[2,3\]/);
    withT([[0]], (x) => sn.mean(x!), /mean: the input is empty/);
  });
});

describe('reluGeneral and softmax: bad arguments', () => {
  it('bad arguments: negative maxValue / negativeSlope / threshold, softmax axis out of range', () => {
    const x = sn.tensor([1, 2, 3, 4], [2, 2]);
    expect(() => sn.reluGeneral(x, { maxValue: -1 })).toThrow(/maxValue must be a non-negative number, got -1/);
    expect(() => sn.reluGeneral(x, { negativeSlope: -0.1 })).toThrow(
      /negativeSlope must be a non-negative number, got -0.1/,
    );
    expect(() => sn.reluGeneral(x, { threshold: Number.NaN })).toThrow(/threshold must be a non-negative number/);
    expect(() => sn.softmax(x, 2)).toThrow(/axis 2 is out of range for shape \[2,2\]/);
    expect(() => sn.softmax(x, -3)).toThrow(/axis -3 is out of range/);
    x.dispose();
  });
});

describe('affineTransform and adjustContrast: bad arguments', () => {
  it('bad arguments: rank, matrix count, non-finite matrix, unknown modes, factors, range, a tracked input', () => {
    const x = sn.tensor(new Float32Array(2 * 3 * 4 * 1), [2, 3, 4, 1]);
    const flat = sn.tensor(new Float32Array(6), [2, 3]);
    const id = [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0];
    expectError(() => sn.affineTransform(flat, id), /rank 4, got shape \[2,3\]/);
    expectError(() => sn.affineTransform(x, id.slice(6)), /6 numbers per image \(12 for 2 images\), got 6/);
    expectError(() => sn.affineTransform(x, [...id.slice(0, 8), NaN, 0, 1, 0]), /matrix of image 1 has NaN at 2/);
    expectError(() => sn.affineTransform(x, id, { fillMode: 'mirror' as never }), /fillMode must be one of .*"mirror"/);
    expectError(() => sn.affineTransform(x, id, { interpolation: 'bicubic' as never }), /interpolation .*"bicubic"/);
    expectError(() => sn.affineTransform(x, id, { fillValue: Infinity }), /fillValue must be a finite number/);
    expectError(() => sn.adjustContrast(x, [1]), /one number per image \(2\), got 1/);
    expectError(() => sn.adjustContrast(x, [1, Infinity]), /factor of image 1 is Infinity/);
    expectError(() => sn.adjustContrast(x, [1, 1], [1, 0]), /valueRange must be \[lo, hi\] with finite lo < hi/);
    expect(() => sn.grads((t) => sn.sum(sn.affineTransform(t!, id)))([x])).toThrow(/has no gradient/);
    x.dispose();
    flat.dispose();
  });
});

describe('batchNorm: bad arguments', () => {
  it('batchNorm bad input x=[3,4]: clear errors, nothing leaked', () => {
    const C = 4;
    const x = sn.tensor(rand(makeRng(6), 3 * C), [3, C]);
    const mm = sn.zeros([C]),
      mv = sn.tensor([1, 1, 1, 1], [C]),
      g5 = sn.zeros([5]);
    expectError(
      () => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, gamma: g5 }),
      /gamma has 5 values but the input has 4 channels/,
    );
    expectError(() => sn.batchNorm(x, {}), /inference \(training: false\) needs movingMean and movingVariance/);
    expectError(() => sn.batchNorm(x, { movingMean: mm }), /give both movingMean and movingVariance/);
    expectError(
      () => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, epsilon: 0 }),
      /epsilon must be a positive number/,
    );
    expectError(
      () => sn.batchNorm(x, { movingMean: mm, movingVariance: mv, momentum: 2 }),
      /momentum must be a number in \[0, 1\]/,
    );
    const bad = sn.tensor([1, NaN, 0, 0, 1, 2, 3, 4], [2, C]);
    expectError(
      () => sn.batchNorm(bad, { movingMean: mm, movingVariance: mv }),
      /input x contains NaN at flat index 1/,
    );
    for (const t of [x, mm, mv, g5, bad]) t.dispose();
  });
});

describe('conv2d groups and dilation: bad arguments', () => {
  it('rejects groups that do not divide the channels, naming the shapes', () => {
    const x = sn.zeros([1, 5, 5, 6]);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 2, 4]), { groups: 4 })).toThrow(
      /groups = 4 must divide both the input channels \(6\) and the filters \(4\)/,
    );
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 2, 4]), { groups: 2 })).toThrow(/expects 4 \(2 per group x 2 groups/);
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 6, 4]), { dilationRate: 0 })).toThrow(
      /dilationRate must be a positive integer/,
    );
    expect(() => sn.conv2d(x, sn.zeros([3, 3, 6, 4]), { dilationRate: 3 })).toThrow(/does not fit a 5x5 input/);
    x.dispose();
  });
});

describe('conv2d algorithm: bad arguments', () => {
  it('bad algorithm, tile or shape give clear errors', () => {
    const x = sn.zeros([1, 8, 8, 2]),
      w5 = sn.zeros([7, 7, 2, 3]),
      w3 = sn.zeros([3, 3, 2, 3]);
    expect(() => sn.conv2d(x, w5, { algorithm: 'winograd' })).toThrow(
      /conv2d: algorithm 'winograd' needs a 3x3 or 5x5 kernel at stride 1, got kernel 7x7/,
    );
    expect(() => sn.conv2d(x, w3, { algorithm: 'winograd', strides: 2 })).toThrow(/strides 2x2/);
    expect(() => sn.conv2d(x, w3, { algorithm: 'fast' as never })).toThrow(
      /algorithm must be one of 'auto', 'direct', 'winograd', got "fast"/,
    );
    expect(() => sn.conv2d(x, w3, { algorithm: 'winograd', winogradTile: 3 as never })).toThrow(
      /winogradTile must be 2 or 4, got 3/,
    );
    expect(() => sn.setConvAlgorithm('slow' as never)).toThrow(/setConvAlgorithm: algorithm must be one of/);
    expect(sn.getConvAlgorithm().algorithm).toBe('direct');
    for (const t of [x, w3, w5]) t.dispose();
  });
});

describe('conv2dTranspose: bad arguments', () => {
  it('rejects an output padding not smaller than the stride and a kernel for other channels', () => {
    const x = sn.zeros([1, 4, 4, 3]);
    expect(() => sn.conv2dTranspose(x, sn.zeros([3, 3, 2, 3]), { strides: 2, outputPadding: 2 })).toThrow(
      /outputPadding along height must be an integer in \[0, stride 2\), got 2/,
    );
    expect(() => sn.conv2dTranspose(x, sn.zeros([3, 3, 2, 5]))).toThrow(
      /input has 3 channels but the kernel expects 5/,
    );
    x.dispose();
  });
});

describe('depthwiseConv2d: bad arguments', () => {
  it('rejects a filter for the wrong channel count and a bias of the wrong size', () => {
    const x = sn.zeros([1, 5, 5, 6]);
    expect(() => sn.depthwiseConv2d(x, sn.zeros([3, 3, 4, 1]))).toThrow(
      /input has 6 channels but the depthwise filter expects 4/,
    );
    expect(() => sn.depthwiseConv2d(x, sn.zeros([3, 3, 6, 2]), { bias: sn.zeros([6]) })).toThrow(
      /bias has 6 values but there are 12 output channels/,
    );
    x.dispose();
  });
});

describe('losses: bad arguments', () => {
  it('mismatched shapes are an error naming both', () => {
    sn.tidy(() => {
      expect(() => sn.meanSquaredError(sn.zeros([2, 3]), sn.zeros([3, 2]))).toThrow(
        'meanSquaredError: labels shape [2,3] differs from predictions shape [3,2]',
      );
    });
  });
});

describe('broadcastBinary: bad arguments', () => {
  it('shapes that do not broadcast are an error naming both', () => {
    sn.tidy(() => {
      expect(() => sn.broadcastBinary('add', sn.zeros([2, 3, 4]), sn.zeros([2, 3, 5]))).toThrow(
        'add: shapes [2,3,4] and [2,3,5] do not broadcast',
      );
    });
  });
});

describe('zeroPadding2d and cropping2d: bad arguments', () => {
  it('bad arguments: wrong rank, negative or malformed sizes, a crop that leaves nothing', () => {
    const x = sn.tensor(new Float32Array(2 * 3 * 4 * 1), [2, 3, 4, 1]);
    const flat = sn.tensor(new Float32Array(6), [2, 3]);
    expect(() => sn.zeroPadding2d(flat, 1)).toThrow(/rank 4, got shape \[2,3\]/);
    expect(() => sn.zeroPadding2d(x, -1)).toThrow(/padding must be a non-negative integer.*got -1/);
    expect(() => sn.zeroPadding2d(x, [1, 2, 3] as never)).toThrow(/padding must be/);
    expect(() =>
      sn.cropping2d(x, [
        [1, 2],
        [0, 0],
      ]),
    ).toThrow(/leaves nothing of a 3x4 input \(shape \[2,3,4,1\]\)/);
    expect(() => sn.cropping2d(x, [0, 2])).toThrow(/leaves nothing/);
    x.dispose();
    flat.dispose();
  });
});

describe('permute: bad arguments', () => {
  it('bad arguments: not a permutation, wrong length, rank above 8', () => {
    const x = sn.tensor(new Float32Array(24), [2, 3, 4]);
    expect(() => sn.permute(x, [0, 1, 1])).toThrow(/dims \[0,1,1\] must be a permutation of 0..2/);
    expect(() => sn.permute(x, [0, 1])).toThrow(
      /must be a permutation of 0..2 \(one entry per axis of a rank-3 input\)/,
    );
    expect(() => sn.permute(x, [0, 1, 3])).toThrow(/permutation/);
    const big = sn.tensor(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(() => sn.permute(big, [0, 1, 2, 3, 4, 5, 6, 7, 8])).toThrow(/rank must be 1..8/);
    x.dispose();
    big.dispose();
  });
});

describe('upSampling2d: bad arguments', () => {
  it('bad arguments: wrong rank, non-integer or zero size, unknown interpolation', () => {
    const x = sn.tensor(new Float32Array(2 * 3 * 4 * 1), [2, 3, 4, 1]);
    const flat = sn.tensor(new Float32Array(6), [2, 3]);
    expect(() => sn.upSampling2d(flat, 2)).toThrow(/rank 4, got shape \[2,3\]/);
    expect(() => sn.upSampling2d(x, 0)).toThrow(/size must be a positive integer, got 0/);
    expect(() => sn.upSampling2d(x, [2, 1.5])).toThrow(/size must be a positive integer, got 1.5/);
    expect(() => sn.upSampling2d(x, 2, 'bicubic' as never)).toThrow(
      /interpolation must be 'nearest' or 'bilinear', got "bicubic"/,
    );
    x.dispose();
    flat.dispose();
  });
});
