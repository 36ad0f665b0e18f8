// Peer of the imported-models row (bench/lib/imported.mjs): onnxruntime on the SAME .onnx files that
// simdnet imported. Variant 'ort-web' (wasm; its thread count is fixed per process, so one process per
// thread count) or 'ort-node' (native; one session per thread count). Per model it first runs the 16
// agreement images and emits the logits, then times only when they are within the row's tolerance of
// simdnet's. Emits `<model>/agree` and `<model>/<threads>/b<batch>` ({ ms, reps, cpu_per_wall }).
import { relDiff, warmUntilSteady } from '../lib/imported.mjs';
import { reason, timeCalls } from './timing.mjs';

export async function run(ctx) {
  const web = ctx.variant === 'ort-web';
  const ort = web ? await import('onnxruntime-web') : await import('onnxruntime-node');
  if (web) ort.env.wasm.numThreads = ctx.threads;
  ctx.emit('info', {
    version: (web ? ort.env.versions?.web : ort.env.versions?.node) ?? ort.env.versions?.common,
    threads: web ? [ctx.threads] : ctx.nodeThreads,
  });
  ctx.first = true;
  for (const m of ctx.models) {
    try {
      await runModel(ctx, ort, web, m);
    } catch (e) {
      ctx.emit(`${m.name}/agree`, { failed: reason(e) });
    }
  }
}

async function runModel(ctx, ort, web, m) {
  const threadsList = web ? [ctx.threads] : ctx.nodeThreads;
  let checked = false;
  for (const threads of threadsList) {
    const options = web ? {} : { intraOpNumThreads: threads, interOpNumThreads: 1 };
    const session = await ort.InferenceSession.create(m.onnx, options);
    const [inName] = session.inputNames;
    const [outName] = session.outputNames;
    const predict = async (x, n) => {
      const out = await session.run({ [inName]: new ort.Tensor('float32', x, [n, ...m.input]) });
      return /** @type {Float32Array} */ (out[outName].data);
    };
    if (!checked) {
      const logits = Float32Array.from(await predict(m.x, m.agreeN));
      const diff = relDiff(logits, m.logits);
      const ok = diff < ctx.tol;
      ctx.emit(`${m.name}/agree`, { rel_diff: diff, ok });
      if (!ok) return;
      checked = true;
    }
    for (const b of m.batches ?? ctx.batches) {
      const x = m.x.subarray(0, b * m.pixels);
      await ctx.measure(`${m.name}/${threads}/b${b}`, async () => {
        await warmUntilSteady(() => predict(x, b), ctx.plan.warm, ctx.first ? ctx.plan.first : 0);
        ctx.first = false;
        const t = await timeCalls(() => predict(x, b), ctx.plan.time);
        return { ms: t.median * 1e3, reps: t.reps, cpu_per_wall: t.cpuPerWall };
      });
    }
    await session.release?.();
  }
}
