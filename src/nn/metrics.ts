// Classification metrics over rows of scores (probabilities, logits or one-hot labels), in plain JS:
// they read a few floats per example after a batch, so they are not worth a kernel.

/** Index of the largest of each row of `K` scores (the first one on ties), as tf.argMax(x, -1). */
export function argmaxRows(scores: ArrayLike<number>, K: number): Int32Array {
  const out = new Int32Array(scores.length / K);
  for (let r = 0; r < out.length; r++) {
    let b = 0;
    for (let k = 1; k < K; k++) if (scores[r * K + k] > scores[r * K + b]) b = k;
    out[r] = b;
  }
  return out;
}

/** Number of rows whose argmax of `probs` equals the argmax of the (one-hot) `labels`. */
export function countCorrect(probs: ArrayLike<number>, labels: ArrayLike<number>, K: number): number {
  const p = argmaxRows(probs, K),
    l = argmaxRows(labels, K);
  let c = 0;
  for (let r = 0; r < p.length; r++) if (p[r] === l[r]) c++;
  return c;
}

/**
 * Number of elements where (p > threshold ? 1 : 0) equals the label: Keras' binary accuracy, with
 * threshold 0.5 on probabilities and 0 on logits (the same predictions). With `labelsAt` the labels
 * are first rounded the same way (smoothed targets count as the labels they came from).
 */
export function countBinary(
  p: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold = 0.5,
  labelsAt: number | null = null,
): number {
  let c = 0;
  for (let i = 0; i < p.length; i++) {
    const y = labelsAt === null ? labels[i] : labels[i] > labelsAt ? 1 : 0;
    if ((p[i] > threshold ? 1 : 0) === y) c++;
  }
  return c;
}
