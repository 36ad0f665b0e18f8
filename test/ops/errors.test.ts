// Bad input to the ops (shapes, ranks, strides, padding, non-finite values, disposed tensors,
// broadcasting): a thrown Error that names what was wrong, never a wasm trap, and no arena leak.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { expectError, prod } from '../kernels/harness.js';

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
    const live0 = sn.getArena().liveBytes;
    const y = sn.add(x, 3);
    expect(Array.from(y.dataSync())).toEqual([3.5, 3.5, 3.5]);
    y.dispose();
    expect(sn.getArena().liveBytes, 'bytes left allocated by sn.add(x, 3)').toBe(live0);
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
