// Peer of the MobileNetV2 row (bench/lib/mnv2.mjs), inference only. Variants: 'ort-node' and 'ort-web'
// run simdnet's ONNX export; 'tfjs-wasm' builds the same graph in tfjs-layers (bench/lib/mnv2-arch.mjs)
// and copies simdnet's weights layer by layer, by name. The softmax outputs on 8 images must be within
// the row's tolerance of simdnet's before anything is timed.
import { MNV2_INPUT, MNV2_PIXELS, buildMnv2 } from '../lib/mnv2-arch.mjs';
import { MNV2_BATCH, MNV2_TOL } from '../lib/mnv2.mjs';
import { maxAbsDiff, timeCalls, warmUp } from './timing.mjs';

async function ortPredictor(ctx) {
  const web = ctx.variant === 'ort-web';
  const ort = web ? await import('onnxruntime-web') : await import('onnxruntime-node');
  const options = {};
  if (web) ort.env.wasm.numThreads = ctx.threads;
  else Object.assign(options, { intraOpNumThreads: ctx.threads, interOpNumThreads: 1 });
  const session = await ort.InferenceSession.create(ctx.onnx, options);
  ctx.emit('info', {
    version: (web ? ort.env.versions?.web : ort.env.versions?.node) ?? ort.env.versions?.common,
    threads: web ? ort.env.wasm.numThreads : ctx.threads,
  });
  return async (x, n) => {
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, ...MNV2_INPUT]) });
    return /** @type {Float32Array} */ (out.output.data);
  };
}

async function tfjsPredictor(ctx) {
  const tf = await import('@tensorflow/tfjs-core');
  const tfl = await import('@tensorflow/tfjs-layers');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
  await tf.ready();
  const model = buildMnv2({ L: tfl.layers, input: tfl.input, model: tfl.model });
  for (const { layer, weights } of ctx.layers) {
    const l = model.getLayer(layer);
    const want = l.getWeights().map((w) => w.shape.join('x'));
    const got = weights.map((w) => w.shape.join('x'));
    if (want.join(' ') !== got.join(' ')) throw new Error(`layer ${layer}: tfjs weights ${want} vs simdnet ${got}`);
    l.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
  }
  const copied = ctx.layers.reduce((a, g) => a + g.weights.length, 0);
  if (copied !== model.getWeights().length)
    throw new Error(`copied ${copied} weight arrays, tfjs has ${model.getWeights().length}`);
  const env = tf.env();
  ctx.emit('info', {
    version: tf.version_core,
    threads: env.getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'multithread build' : 1,
  });
  return async (x, n) => {
    const y = /** @type {import('@tensorflow/tfjs-core').Tensor} */ (
      tf.tidy(() => model.predict(tf.tensor4d(x, [n, MNV2_INPUT[0], MNV2_INPUT[1], MNV2_INPUT[2]])))
    );
    const d = y.dataSync();
    y.dispose();
    return d;
  };
}

export async function run(ctx) {
  const predict = ctx.variant === 'tfjs-wasm' ? await tfjsPredictor(ctx) : await ortPredictor(ctx);
  const P = ctx.plan;
  const probs = Float32Array.from(await predict(ctx.x8, 8));
  const diff = maxAbsDiff(probs, ctx.probs8);
  const ok = diff < MNV2_TOL;
  ctx.emit('agree', { probs, ok });
  if (!ok) {
    const why = { failed: `outputs differ from simdnet's by ${diff.toExponential(2)} (>= ${MNV2_TOL}): not timed` };
    ctx.emit('latency', why);
    ctx.emit('infer', why);
    return;
  }
  await ctx.measure('latency', async () => {
    const x1 = ctx.x8.slice(0, MNV2_PIXELS);
    await warmUp(() => predict(x1, 1), P.latWarm);
    const t = await timeCalls(() => predict(x1, 1), P.lat);
    return { ms: t.median * 1e3, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });
  await ctx.measure('infer', async () => {
    const call = () => predict(ctx.x, MNV2_BATCH);
    await warmUp(call, P.thrWarm);
    const t = await timeCalls(call, P.thr);
    return { imgPerSec: MNV2_BATCH / t.median, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });
  ctx.emit('train', { na: 'inference only' });
}
