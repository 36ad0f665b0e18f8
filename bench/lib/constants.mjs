// What every part of the peer benchmark agrees on: the seed model's FLOP counts, the batch sizes
// measured, and the agreement tolerance.

// Useful FLOPs of the seed model per image (multiply-adds × 2), forward:
//   conv1 28·28·32·(5·5·1) + conv2 28·28·32·(5·5·32) + conv3 14·14·64·(3·3·32) + conv4 14·14·64·(3·3·64)
//   + dense1 3136·128 + dense2 128·10 = 31,938,304 MACs → 63.9 MFLOP. Training counts forward +
//   backward-input + backward-weight = 3 × forward = 191.6 MFLOP ("192").
const FWD_MACS =
  28 * 28 * 32 * 25 + 28 * 28 * 32 * 800 + 14 * 14 * 64 * 288 + 14 * 14 * 64 * 576 + 3136 * 128 + 128 * 10;
export const INFER_FLOP = 2 * FWD_MACS;
export const TRAIN_FLOP = 3 * INFER_FLOP;

/** Batch of the training, inference and agreement comparisons. */
export const BATCH = 128;
/** Batches of simdnet's cost-versus-batch sweep. */
export const SWEEP = [1, 8, 32, 128, 256];
/** Largest |peer − simdnet| softmax difference a reference peer may show. */
export const AGREE_TOL = 1e-3;

export const MB = (b) => b / 2 ** 20;
export const gflops = (imgPerSec, flopPerImg) => (imgPerSec * flopPerImg) / 1e9;
