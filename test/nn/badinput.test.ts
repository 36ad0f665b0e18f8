// Bad input to the model API: every mistake is a thrown Error that says what is wrong, and nothing
// is half-done (weights untouched, no step taken).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { bars, tinyModel, weightArrays, weightsHash } from './fixtures.js';

beforeAll(async () => {
  await sn.ready();
});

const live: sn.Model[] = [];
const track = <M extends sn.Model>(m: M) => {
  live.push(m);
  return m;
};
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

const data = bars(40, 12);
const compiled = (loss: sn.LossName = 'sparseCategoricalCrossentropy') => {
  const m = track(tinyModel(2));
  m.compile({ optimizer: 'adam', loss, metrics: ['accuracy'] });
  return m;
};

describe('data errors', () => {
  it('wrong input shape for fit / predict / evaluate names the first layer and the expected shape', async () => {
    const m = compiled();
    const x = { data: new Float32Array(40 * 7 * 7), shape: [40, 7, 7, 1] };
    await expect(m.fit(x, data.labels, { verbose: 0 })).rejects.toThrow(
      'fit: layer conv2d expects input of shape [None, 8,8,1], got [40, 7,7,1]',
    );
    expect(() => m.predict(x)).toThrow('predict: layer conv2d expects input of shape [None, 8,8,1], got [40, 7,7,1]');
    expect(() => m.evaluate({ data: data.x.data, shape: [40, 64] }, data.labels)).toThrow(
      /evaluate: layer conv2d expects input of shape \[None, 8,8,1\], got \[40, 64\]/,
    );
    expect(() => m.trainOnBatch({ data: data.x.data, shape: [40, 8, 8] }, data.labels)).toThrow(
      /layer conv2d expects input of shape \[None, 8,8,1\]/,
    );
    expect(() => m.predict({ data: new Float32Array(10), shape: [2, 8, 8, 1] })).toThrow(
      /predict x: 10 values do not fill shape \[2,8,8,1\] \(128\)/,
    );
    expect(() => m.predict(null as unknown as sn.Data)).toThrow(/expected a Tensor or \{data, shape\}, got null/);
    expect(m.optimizer?.iterations).toBe(0);
  });

  it('labels out of range for the sparse loss', async () => {
    const m = compiled();
    const y = Float32Array.from(data.labels.data);
    y[17] = 3;
    await expect(m.fit(data.x, { data: y, shape: [40] }, { verbose: 0 })).rejects.toThrow(
      'fit y: label 3 of example 17 is not a class index in [0, 3)',
    );
    y[17] = -1;
    expect(() => m.trainOnBatch(data.x, { data: y, shape: [40] })).toThrow(/label -1 of example 17/);
    y[17] = 1.5;
    expect(() => m.evaluate(data.x, { data: y, shape: [40] })).toThrow(/label 1.5 of example 17/);
    // One-hot rows given to the sparse loss.
    await expect(m.fit(data.x, data.oneHot, { verbose: 0 })).rejects.toThrow(
      /sparseCategoricalCrossentropy needs integer class labels of shape \[N\] or \[N, 1\], got \[40,3\]/,
    );
    expect(m.optimizer?.iterations).toBe(0);
  });

  it('non-one-hot rows for the categorical loss', async () => {
    const m = compiled('categoricalCrossentropy');
    const y = Float32Array.from(data.oneHot.data);
    y[5 * 3 + 0] = 0.5;
    y[5 * 3 + 1] = 0.7;
    y[5 * 3 + 2] = 0;
    await expect(m.fit(data.x, { data: y, shape: [40, 3] }, { verbose: 0 })).rejects.toThrow(
      /^fit y: example 5 is not a one-hot \(or probability\) row: it sums to 1\.(2|19999)/,
    );
    y[5 * 3 + 0] = -1;
    y[5 * 3 + 1] = 2;
    expect(() => m.trainOnBatch(data.x, { data: y, shape: [40, 3] })).toThrow(
      /example 5 is not a one-hot .* value -1 at class 0/,
    );
    // Class indices given to the categorical loss.
    expect(() => m.trainOnBatch(data.x, data.labels)).toThrow(
      /categoricalCrossentropy needs one-hot labels of shape \[N, 3\], got \[40\] \(use sparseCategoricalCrossentropy/,
    );
    expect(m.optimizer?.iterations).toBe(0);
  });

  it('x / y count mismatch, empty data', async () => {
    const m = compiled();
    await expect(
      m.fit(data.x, { data: data.labels.data.subarray(0, 39), shape: [39] }, { verbose: 0 }),
    ).rejects.toThrow('fit: x has 40 examples but y has 39');
    expect(() => m.evaluate(data.x, { data: data.labels.data.subarray(0, 10), shape: [10] })).toThrow(
      'evaluate: x has 40 examples but y has 10',
    );
    await expect(m.fit({ data: [], shape: [0, 8, 8, 1] }, { data: [], shape: [0] }, { verbose: 0 })).rejects.toThrow(
      /no examples/,
    );
    await expect(
      m.fit(data.x, data.labels, { validationData: [data.x, { data: [0], shape: [1] }], verbose: 0 }),
    ).rejects.toThrow(/fit validationData: x has 40 examples but y has 1/);
    expect(m.optimizer?.iterations).toBe(0);
  });

  it('NaN or Infinity in x', async () => {
    const m = compiled();
    const x = Float32Array.from(data.x.data);
    x[3 * 64 + 10] = NaN;
    await expect(m.fit({ data: x, shape: [40, 8, 8, 1] }, data.labels, { verbose: 0 })).rejects.toThrow(
      `fit x: contains NaN at flat index ${3 * 64 + 10} (example 3)`,
    );
    expect(() => m.predict({ data: x, shape: [40, 8, 8, 1] })).toThrow(/predict x: contains NaN/);
    x[3 * 64 + 10] = Infinity;
    const t = sn.tensor(x, [40, 8, 8, 1]);
    expect(() => m.trainOnBatch(t, data.labels)).toThrow(/trainOnBatch x: contains Infinity .*example 3/);
    t.dispose();
    expect(m.optimizer?.iterations).toBe(0);
  });

  it('a disposed tensor as input', () => {
    const m = compiled();
    const t = sn.tensor(data.x.data, data.x.shape);
    t.dispose();
    expect(() => m.predict(t)).toThrow(/was disposed/);
  });

  it('fit arguments out of range', async () => {
    const m = compiled();
    await expect(m.fit(data.x, data.labels, { batchSize: 0, verbose: 0 })).rejects.toThrow(
      'fit: batchSize must be a positive integer, got 0',
    );
    await expect(m.fit(data.x, data.labels, { epochs: 1.5, verbose: 0 })).rejects.toThrow(
      'fit: epochs must be a non-negative integer, got 1.5',
    );
  });
});

describe('model setup errors', () => {
  it('fit / evaluate / trainOnBatch before compile', async () => {
    const m = track(tinyModel(1));
    await expect(m.fit(data.x, data.labels, { verbose: 0 })).rejects.toThrow(
      'fit: call model.compile({optimizer, loss}) first',
    );
    expect(() => m.evaluate(data.x, data.labels)).toThrow('evaluate: call model.compile');
    expect(() => m.trainOnBatch(data.x, data.labels)).toThrow('trainOnBatch: call model.compile');
    // predict needs no compile.
    const p = m.predict(data.x);
    expect(p.shape).toEqual([40, 3]);
    p.dispose();
  });

  it('compile with an unknown loss, optimizer or metric', () => {
    const m = track(tinyModel(1));
    expect(() => m.compile({ optimizer: 'adam', loss: 'hinge' as sn.LossName })).toThrow(
      `compile: loss must be one of 'categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'meanSquaredError', 'meanAbsoluteError', 'binaryCrossentropy', got "hinge"`,
    );
    expect(() => m.compile({ optimizer: 'adagrad' as 'adam', loss: 'categoricalCrossentropy' })).toThrow(
      `compile: optimizer must be 'adam', 'adamw', 'sgd', 'rmsprop' or an optimizer object, got "adagrad"`,
    );
    expect(() => m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['auc'] })).toThrow(
      'compile: unknown metric "auc" (supported: \'accuracy\')',
    );
    expect(() => m.compile(undefined as unknown as sn.CompileArgs)).toThrow(
      /compile: expected \{optimizer, loss, metrics\}/,
    );
    expect(m.optimizer).toBeNull();
    expect(m.loss).toBeNull();
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['acc'] });
    expect(m.metrics).toEqual(['accuracy']);
  });

  it('a model not ending in softmax compiled with cross-entropy', () => {
    const L = sn.layers;
    const m = track(
      sn.sequential({
        seed: 1,
        layers: [L.flatten({ inputShape: [4, 4, 1] }), L.dense({ units: 3, activation: 'relu' })],
      }),
    );
    expect(() => m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' })).toThrow(
      "compile: categoricalCrossentropy needs the model to end with a softmax activation (it is fused with the loss); the last layer dense has 'relu'",
    );
    const lin = track(
      sn.sequential({ seed: 1, layers: [L.flatten({ inputShape: [4, 4, 1] }), L.dense({ units: 3 })] }),
    );
    expect(() => lin.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' })).toThrow(
      /the last layer dense has 'linear'/,
    );
    const empty = track(sn.sequential());
    expect(() => empty.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' })).toThrow(
      /the last layer \(none\)/,
    );
  });

  it('first layer without inputShape', () => {
    expect(() => sn.sequential({ layers: [sn.layers.conv2d({ filters: 2, kernelSize: 3 })] })).toThrow(
      'Sequential.add: the first layer (conv2d) needs an inputShape, e.g. inputShape: [28, 28, 1]',
    );
    const m = track(sn.sequential());
    expect(() => m.add(sn.layers.flatten())).toThrow(/the first layer \(flatten\) needs an inputShape/);
    expect(() => m.add({} as sn.Layer)).toThrow(/Sequential.add: expected a layer/);
    expect(m.layers).toHaveLength(0);
    expect(() => m.summary(null)).toThrow(/no layers/);
  });

  it('layers that do not fit together name the layer', () => {
    const L = sn.layers;
    const noFlatten = track(
      sn.sequential({
        seed: 1,
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, inputShape: [8, 8, 1] }),
          L.dense({ units: 3, activation: 'softmax' }),
        ],
      }),
    );
    expect(() => noFlatten.summary(null)).toThrow(
      /dense: expected input of shape \[features\] \(add a Flatten layer before Dense\)/,
    );
    const tooSmall = track(
      sn.sequential({ seed: 1, layers: [L.conv2d({ filters: 2, kernelSize: 5, inputShape: [3, 3, 1] })] }),
    );
    expect(() => tooSmall.build()).toThrow(/conv2d/);
  });
});

describe('non-finite loss', () => {
  it('setWeights with huge values: logits overflow, fit names epoch 1 batch 1, weights unchanged', async () => {
    const m = compiled();
    const huge = weightArrays(m).map((w) => w.map((_, i) => (i % 2 ? -3e38 : 3e38)));
    m.setWeights(huge);
    const hash = weightsHash(m);
    await expect(m.fit(data.x, data.labels, { batchSize: 8, verbose: 0 })).rejects.toThrow(
      /^loss became (NaN|-?Infinity) at epoch 1, batch 1; training stopped and the weights are those from before this batch$/,
    );
    expect(weightsHash(m)).toBe(hash);
    expect(m.optimizer?.iterations).toBe(0);
    expect(() => m.trainOnBatch(data.x, data.labels)).toThrow(/loss became .* in trainOnBatch/);
    expect(weightsHash(m)).toBe(hash);
  });

  it('an example that overflows in batch 3 (epochs counted from initialEpoch 1): the error names epoch 2, batch 3 and the weights are those after batch 2', async () => {
    const m = compiled();
    const x = Float32Array.from(data.x.data);
    // No shuffling, batch 8: example 20 is in batch 3 (examples 16..23). Finite, but it overflows float32 in the network.
    x.fill(3e38, 20 * 64, 21 * 64);
    let before: Float32Array[] = [];
    let iterationsBefore = -1;
    const err = await m
      .fit({ data: x, shape: [40, 8, 8, 1] }, data.labels, {
        epochs: 2,
        batchSize: 8,
        shuffle: false,
        verbose: 0,
        initialEpoch: 1,
        callbacks: {
          onBatchEnd: (b) => {
            if (b === 1) {
              before = weightArrays(m);
              iterationsBefore = m.optimizer!.iterations;
            }
          },
        },
      })
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^loss became (NaN|-?Infinity) at epoch 2, batch 3;/);
    expect(iterationsBefore).toBe(2);
    expect(m.optimizer?.iterations).toBe(2);
    const after = weightArrays(m);
    before.forEach((w, i) => expect(after[i]).toEqual(w));
  });
});

describe('non-finite update', () => {
  // With zero weights the logits are 0 and the loss is finite (log 3), but a finite input near the
  // float32 limit makes the gradient so large that the SGD step overflows: the step is undone, so the
  // model keeps its last finite weights and optimizer state.
  const L = sn.layers;
  const zeroModel = (opt: sn.Optimizer) => {
    const m = track(
      sn.sequential({
        seed: 4,
        layers: [L.flatten({ inputShape: [8, 8, 1] }), L.dense({ units: 3, activation: 'softmax' })],
      }),
    );
    m.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
    m.setWeights(weightArrays(m).map((w) => new Float32Array(w.length)));
    return m;
  };
  const x = Float32Array.from(data.x.data);
  x.fill(1e35, 3 * 64, 4 * 64);

  it('an update that overflows stops fit naming epoch and batch; weights, momentum and iterations are unchanged', async () => {
    const m = zeroModel(new sn.SGD({ learningRate: 1e6, momentum: 0.9 }));
    const hash = weightsHash(m);
    const err = await m
      .fit({ data: x, shape: [40, 8, 8, 1] }, data.labels, {
        batchSize: 8,
        shuffle: false,
        verbose: 0,
        initialEpoch: 2,
      })
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(
      /^the update made dense\/kernel non-finite \(loss was 1\.0986\d*; try a lower learning rate\) at epoch 3, batch 1; training stopped and the weights are those from before this batch$/,
    );
    expect(m.optimizer!.iterations).toBe(0);
    expect(weightsHash(m)).toBe(hash);
    // The momentum state was rolled back too: training on good data goes on with finite numbers.
    const h = await m.fit(data.x, data.labels, { batchSize: 8, verbose: 0 });
    expect(Number.isFinite(h.history.loss[0])).toBe(true);
    expect(weightArrays(m).every((w) => w.every(Number.isFinite))).toBe(true);
  });

  it('trainOnBatch undoes an overflowing update the same way', () => {
    // SGD's step overflows; so do Adam's and RMSprop's squared-gradient moments (g² > float32 max).
    for (const opt of [new sn.SGD({ learningRate: 1e6 }), new sn.Adam(), new sn.RMSprop()]) {
      const s = zeroModel(opt);
      const hash = weightsHash(s);
      expect(() =>
        s.trainOnBatch({ data: x.subarray(3 * 64, 4 * 64), shape: [1, 8, 8, 1] }, { data: [1], shape: [1] }),
      ).toThrow(/^the update made dense\/(kernel|bias)(\/slot\d)? non-finite .* in trainOnBatch;/);
      expect(weightsHash(s)).toBe(hash);
      expect(s.optimizer!.iterations).toBe(0);
      expect(s.optimizer!.stateWeights().every((w) => w.value.view().every((v) => v === 0))).toBe(true);
    }
  });
});

describe('setWeights', () => {
  it('wrong count or shape writes nothing', () => {
    const m = track(tinyModel(7));
    m.build();
    const orig = weightArrays(m);
    const hash = weightsHash(m);
    const ones = orig.map((w) => new Float32Array(w.length).fill(1));
    expect(() => m.setWeights(ones.slice(0, 3))).toThrow('setWeights: the model has 4 weight arrays, got 3');
    expect(() => m.setWeights([...ones, ones[0]])).toThrow(/has 4 weight arrays, got 5/);
    // All but the last are fine: none of them may be written.
    const badLast = [...ones.slice(0, 3), new Float32Array(2)];
    expect(() => m.setWeights(badLast)).toThrow('setWeights: dense/bias needs 3 float32 values');
    expect(weightsHash(m)).toBe(hash);
    const tensors = orig.map((w, i) =>
      sn.tensor(
        w.map(() => 2),
        i === 2 ? [3, 36] : m.params()[i].value.shape,
      ),
    );
    expect(() => m.setWeights(tensors)).toThrow('setWeights: dense/kernel has shape [36,3], got [3,36]');
    expect(weightsHash(m)).toBe(hash);
    expect(() => m.setWeights([...ones.slice(0, 3), [1, 2, 3] as unknown as Float32Array])).toThrow(
      /dense\/bias needs 3 float32 values/,
    );
    expect(() => m.setWeights('weights' as unknown as Float32Array[])).toThrow(/got string/);
    expect(weightsHash(m)).toBe(hash);
    tensors.forEach((t) => t.dispose());
    // A right set is written entirely.
    m.setWeights(ones);
    weightArrays(m).forEach((w) => expect(Array.from(new Set(w))).toEqual([1]));
  });
});

describe('op and tensor edge cases', () => {
  it('softmaxCrossEntropy of an empty batch is an error, not NaN', () => {
    const l = sn.zeros([0, 3]);
    expect(() => sn.softmaxCrossEntropy(l, l)).toThrow('softmaxCrossEntropy: the batch is empty (logits shape [0,3])');
    l.dispose();
  });

  it('a 0x0 (or 0-row) conv2d filter is an error, not a tensor of zeros', () => {
    const x = sn.zeros([1, 4, 4, 1]);
    for (const shape of [
      [0, 0, 1, 2],
      [0, 3, 1, 2],
      [3, 0, 1, 2],
    ]) {
      const f = sn.zeros(shape);
      expect(() => sn.conv2d(x, f)).toThrow(
        `conv2d: the window is ${shape[0]}x${shape[1]}; it needs at least one row and one column`,
      );
      f.dispose();
    }
    x.dispose();
  });

  it('dtypes other than float32 and int32 are refused by tensor(), zeros() and the constructor', () => {
    const live0 = adv.getArena().liveBytes;
    expect(() => sn.zeros([2], 'float64' as sn.Tensor['dtype'])).toThrow(
      "zeros(): dtype must be 'float32' or 'int32', got 'float64'",
    );
    expect(() => sn.tensor([1, 2], [2], 'float64' as sn.Tensor['dtype'])).toThrow(
      "tensor(): dtype must be 'float32' or 'int32', got 'float64'",
    );
    expect(() => new sn.Tensor([2], 'uint8' as sn.Tensor['dtype'])).toThrow(
      "tensor: dtype must be 'float32' or 'int32', got 'uint8'",
    );
    expect(adv.getArena().liveBytes).toBe(live0);
  });

  it('an inputShape too large for wasm memory is a clear error naming the layer, not a RangeError', () => {
    const L = sn.layers;
    const m = track(
      sn.sequential({
        layers: [
          L.conv2d({ filters: 2, kernelSize: 3, inputShape: [1e5, 1e5, 1] }),
          L.flatten(),
          L.dense({ units: 2, activation: 'softmax' }),
        ],
      }),
    );
    const err = (() => {
      try {
        m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RangeError);
    expect(err!.message).toMatch(
      /^conv2d: one example of the input of shape \[100000,100000,1\] has 10000000000 floats \(37\.3 GiB\); wasm memory holds at most 4 GiB/,
    );
    expect(m.isBuilt).toBe(false);
    const wide = track(
      sn.sequential({
        layers: [L.flatten({ inputShape: [2e4, 2e4, 1] }), L.dense({ units: 3, activation: 'softmax' })],
      }),
    );
    expect(() => wide.summary(null)).toThrow(
      /^dense: the weight kernel of shape \[400000000,3\] has 1200000000 floats \(4\.5 GiB\)/,
    );
    expect(() => sn.zeros([1e5, 1e5])).toThrow(
      /^tensor: shape \[100000,100000\] has 10000000000 elements \(37\.3 GiB\); wasm memory holds at most 4 GiB$/,
    );
  });
});
