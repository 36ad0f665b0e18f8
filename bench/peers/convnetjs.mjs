// convnetjs 0.3 peer (plain JS, Float64Array volumes, one image at a time): the seed model with
// simdnet's weights. Volumes are HWC, index ((sx*y)+x)*depth+d, so a conv filter k holds Keras
// W[kh][kw][c][k] at (kh*KW + kw)*C + c; an fc neuron j holds W[i][j] at i, and its input order is
// the HWC flatten, the same as Keras'. 5x5 'same' is pad 2, 3x3 'same' pad 1. convnetjs 0.3 has no
// Adam: the trainer is adadelta, with batch_size 128 (one weight update per 128 images).
import { createRequire } from 'node:module';
import { timeCalls, warmUp } from './timing.mjs';

export async function run(ctx) {
  const require = createRequire(import.meta.url);
  const convnetjs = require('convnetjs');
  const net = new convnetjs.Net();
  net.makeLayers([
    { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
    { type: 'conv', sx: 5, filters: 32, stride: 1, pad: 2, activation: 'relu' },
    { type: 'conv', sx: 5, filters: 32, stride: 1, pad: 2, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'conv', sx: 3, filters: 64, stride: 1, pad: 1, activation: 'relu' },
    { type: 'conv', sx: 3, filters: 64, stride: 1, pad: 1, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'fc', num_neurons: 128, activation: 'relu' },
    { type: 'softmax', num_classes: 10 },
  ]);
  const params = net.layers.filter((l) => l.layer_type === 'conv' || l.layer_type === 'fc');
  if (params.length * 2 !== ctx.weights.length)
    throw new Error(`convnetjs has ${params.length} weighted layers, simdnet ${ctx.weights.length / 2}`);
  params.forEach((l, i) => {
    const W = ctx.weights[2 * i],
      b = ctx.weights[2 * i + 1];
    if (l.layer_type === 'conv') {
      const [KH, KW, C, K] = W.shape;
      if (l.sx !== KW || l.sy !== KH || l.in_depth !== C || l.out_depth !== K)
        throw new Error(`conv ${i}: shape mismatch`);
      for (let k = 0; k < K; k++) {
        const f = l.filters[k].w;
        for (let j = 0; j < KH * KW * C; j++) f[j] = W.data[j * K + k];
      }
    } else {
      const [IN, OUT] = W.shape;
      if (l.num_inputs !== IN || l.out_depth !== OUT) throw new Error(`fc ${i}: shape mismatch`);
      for (let o = 0; o < OUT; o++) {
        const f = l.filters[o].w;
        for (let j = 0; j < IN; j++) f[j] = W.data[j * OUT + o];
      }
    }
    for (let k = 0; k < b.data.length; k++) l.biases.w[k] = b.data[k];
  });
  ctx.emit('info', { version: require('convnetjs/package.json').version, threads: 1 });

  const vol = (x, i) => {
    const v = new convnetjs.Vol(28, 28, 1, 0.0);
    for (let j = 0; j < 784; j++) v.w[j] = x[i * 784 + j];
    return v;
  };
  const nInfer = ctx.xInfer.length / 784;
  const infer = Array.from({ length: Math.min(nInfer, 32) }, (_, i) => vol(ctx.xInfer, i));
  const nTrain = ctx.xTrain.length / 784;
  const train = Array.from({ length: Math.min(nTrain, 32) }, (_, i) => vol(ctx.xTrain, i));
  const label = (i) => {
    let c = 0;
    for (let k = 1; k < 10; k++) if (ctx.yTrain[i * 10 + k] > ctx.yTrain[i * 10 + c]) c = k;
    return c;
  };

  await ctx.measure('agree', async () => {
    const probs = new Float32Array(80);
    for (let i = 0; i < 8; i++) probs.set(net.forward(vol(ctx.x8, i), false).w, i * 10);
    return { probs };
  });

  const few = ctx.quick ? 2 : 5;
  await ctx.measure('latency', async () => {
    const v = infer[0];
    await warmUp(() => net.forward(v, false), { calls: 2, time: 0, maxTime: 5 });
    const t = await timeCalls(() => net.forward(v, false), { reps: few, time: 0, maxTime: 10 });
    return { ms: t.median * 1e3, reps: t.reps, cpu_per_wall: t.cpuPerWall };
  });

  await ctx.measure('infer', async () => {
    // no batching: img/s of a loop over images
    const n = ctx.quick ? 3 : 16;
    let i = 0;
    const t = await timeCalls(() => net.forward(infer[i++ % infer.length], false), { reps: n, time: 0 });
    return {
      imgPerSec: 1 / t.median,
      batch: 1,
      reps: t.reps,
      cpu_per_wall: t.cpuPerWall,
      note: `loop over ${t.reps} single images`,
    };
  });

  await ctx.measure('train', async () => {
    const trainer = new convnetjs.Trainer(net, { method: 'adadelta', batch_size: 128, l2_decay: 0 });
    let i = 0;
    const step = () => {
      const j = i++ % train.length;
      trainer.train(train[j], label(j));
    };
    await warmUp(step, { calls: 2, time: 0 });
    const n = ctx.quick ? 3 : 12;
    const t = await timeCalls(step, { reps: n, time: 0 });
    return {
      imgPerSec: 1 / t.median,
      batch: 1,
      reps: t.reps,
      cpu_per_wall: t.cpuPerWall,
      note: `adadelta, ${t.reps} images timed one by one (update every 128)`,
    };
  });
}
