// TensorFlow.js peer (variant 'cpu': tfjs-backend-cpu, plain JS; 'wasm': tfjs-backend-wasm, XNNPACK
// SIMD, one thread in Node): the seed model as a tfjs-layers Sequential with simdnet's weights
// (Keras layout on both sides: conv (KH,KW,C,K), dense (IN,OUT), NHWC flatten), Adam, categorical
// cross-entropy. Every timed call goes from a Float32Array in to a Float32Array out.
import { timeCalls, warmUp } from './timing.mjs';

export async function run(ctx) {
  const tf = await import('@tensorflow/tfjs-core');
  const tfl = await import('@tensorflow/tfjs-layers');
  if (ctx.variant === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(ctx.variant))) throw new Error(`tf.setBackend('${ctx.variant}') failed`);
  await tf.ready();

  const L = tfl.layers;
  const model = tfl.sequential({
    layers: [
      L.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
      L.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 128, activation: 'relu' }),
      L.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const want = model
    .getWeights()
    .map((w) => w.shape.join('x'))
    .join(' ');
  const got = ctx.weights.map((w) => w.shape.join('x')).join(' ');
  if (want !== got) throw new Error(`weight shapes differ: tfjs ${want} vs simdnet ${got}`);
  model.setWeights(ctx.weights.map((w) => tf.tensor(w.data, w.shape)));
  const env = tf.env();
  ctx.emit('info', {
    version: tf.version_core,
    backend: tf.getBackend(),
    simd: ctx.variant === 'wasm' ? env.getBool('WASM_HAS_SIMD_SUPPORT') : undefined,
    threads: ctx.variant === 'wasm' ? (env.getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'multithread build' : 1) : 1,
  });

  const predict = (x, n) => {
    const y = /** @type {import('@tensorflow/tfjs-core').Tensor} */ (
      tf.tidy(() => model.predict(tf.tensor4d(x, [n, 28, 28, 1])))
    );
    const d = y.dataSync();
    y.dispose();
    return d;
  };
  const { opts } = ctx;
  const slow = ctx.variant === 'cpu';

  await ctx.measure('agree', async () => ({ probs: Float32Array.from(predict(ctx.x8, 8)) }));

  await ctx.measure('latency', async () => {
    const x1 = ctx.x8.subarray(0, 784);
    await warmUp(() => predict(x1, 1), slow ? { calls: 2, time: 0, maxTime: 5 } : opts.latWarm);
    const t = await timeCalls(
      () => predict(x1, 1),
      slow ? { reps: ctx.quick ? 3 : 7, time: 0, maxTime: 10 } : opts.lat,
    );
    return { ms: t.median * 1e3, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });

  await ctx.measure('infer', async () => {
    let B = ctx.inferBatch;
    if (slow) {
      // ~0.1 s per image: warm up on 8 images, then fit whole batch-128 calls into the time left
      const t8 = await timeCalls(() => predict(ctx.xInfer.subarray(0, 8 * 784), 8), { reps: 1, time: 0 });
      const perImg = t8.median / 8;
      const fit = Math.floor(Math.min(ctx.remaining() * 0.4, ctx.quick ? 4 : 40) / perImg);
      if (fit < B) B = Math.max(8, Math.min(B, fit - (fit % 8)));
      const t = await timeCalls(() => predict(ctx.xInfer.subarray(0, B * 784), B), {
        reps: ctx.quick ? 1 : 2,
        time: 0,
        maxTime: 0,
      });
      return {
        imgPerSec: B / t.median,
        batch: B,
        reps: t.reps,
        cpu_per_wall: t.cpuPerWall,
        note: B < ctx.inferBatch ? `batch ${B}: time cap` : undefined,
      };
    }
    const call = () => predict(ctx.xInfer, B);
    await warmUp(call, opts.thrWarm);
    const t = await timeCalls(call, opts.thr);
    return { imgPerSec: B / t.median, batch: B, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });

  await ctx.measure('train', async () => {
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    const step = async (n) => {
      const xs = tf.tensor4d(ctx.xTrain.subarray(0, n * 784), [n, 28, 28, 1]);
      const ys = tf.tensor2d(ctx.yTrain.subarray(0, n * 10), [n, 10]);
      try {
        await model.trainOnBatch(xs, ys);
      } finally {
        xs.dispose();
        ys.dispose();
      }
    };
    if (slow) {
      // plain-JS conv backprop: seconds per image. One batch-1 step to warm up, then one step of
      // the largest batch <= trainBatch (8 in the full run) that fits the time left.
      const t1 = await timeCalls(() => step(1), { reps: 1, time: 0 });
      const B = Math.min(ctx.trainBatch, Math.floor((ctx.remaining() * 0.6) / t1.median));
      if (B < 1)
        return { imgPerSec: 1 / t1.median, batch: 1, reps: 1, note: 'one batch-1 step (the warm-up): time cap' };
      const t = await timeCalls(() => step(B), { reps: 1, time: 0 });
      return {
        imgPerSec: B / t.median,
        batch: B,
        reps: 1,
        note: `1 step at batch ${B} (plain JS is too slow for batch 128)`,
      };
    }
    const B = ctx.trainBatch;
    await warmUp(() => step(B), opts.thrWarm);
    const t = await timeCalls(() => step(B), opts.thr);
    return { imgPerSec: B / t.median, batch: B, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });
}
