// ONNX Runtime peer on simdnet's own export (`await sn.toONNX(model)`, NHWC input `input`, softmax
// output `output`): variant 'web' = onnxruntime-web (wasm SIMD build; in Node its default is
// 1 thread), 'node' = onnxruntime-node (native CPU provider). Inference only.
import { timeCalls, warmUp } from './timing.mjs';

export async function run(ctx) {
  const web = ctx.variant === 'web';
  const ort = web ? await import('onnxruntime-web') : await import('onnxruntime-node');
  const options = {};
  if (web) {
    if (ctx.threads) ort.env.wasm.numThreads = ctx.threads;
  } else {
    options.intraOpNumThreads = ctx.threads;
    options.interOpNumThreads = 1;
  }
  const session = await ort.InferenceSession.create(ctx.onnx, options);
  ctx.emit('info', {
    version: (web ? ort.env.versions?.web : ort.env.versions?.node) ?? ort.env.versions?.common,
    threads: web ? ort.env.wasm.numThreads : ctx.threads,
    simd: web ? (ort.env.wasm.simd ?? 'auto') : undefined,
  });

  const predict = async (x, n) => {
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, 28, 28, 1]) });
    return /** @type {Float32Array} */ (out.output.data);
  };
  const { opts } = ctx;

  await ctx.measure('agree', async () => ({ probs: Float32Array.from(await predict(ctx.x8, 8)) }));

  await ctx.measure('latency', async () => {
    const x1 = ctx.x8.slice(0, 784);
    await warmUp(() => predict(x1, 1), opts.latWarm);
    const t = await timeCalls(() => predict(x1, 1), opts.lat);
    return { ms: t.median * 1e3, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });

  await ctx.measure('infer', async () => {
    const B = ctx.inferBatch;
    const call = () => predict(ctx.xInfer, B);
    await warmUp(call, opts.thrWarm);
    const t = await timeCalls(call, opts.thr);
    return { imgPerSec: B / t.median, batch: B, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });

  ctx.emit('train', { na: 'inference only' });
  await session.release?.();
}
