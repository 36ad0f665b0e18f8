// Ready-made architectures.
import { Sequential } from './model.js';
import { layers } from './layers.js';

/**
 * The CNN of the seed article (Keras, MNIST): conv5x5x32 same → conv5x5x32 same → maxpool2 →
 * conv3x3x64 same → conv3x3x64 same → maxpool2 → flatten → dense128 relu → dense10 softmax;
 * 484,714 parameters for a 28x28x1 input.
 */
export function seedModel(opts: { seed?: number; inputShape?: number[]; numClasses?: number } = {}): Sequential {
  const L = layers;
  return new Sequential({
    seed: opts.seed,
    layers: [
      L.conv2d({
        filters: 32,
        kernelSize: 5,
        padding: 'same',
        activation: 'relu',
        inputShape: opts.inputShape ?? [28, 28, 1],
      }),
      L.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 128, activation: 'relu' }),
      L.dense({ units: opts.numClasses ?? 10, activation: 'softmax' }),
    ],
  });
}
