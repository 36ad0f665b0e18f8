// Native PyTorch peer (not an npm package: Debian's python3-torch, or any python with torch): the
// seed model rebuilt in NCHW with the same weights by bench/peers/torch_peer.py, with the same
// thread count (torch.set_num_threads), trained with Adam. Skipped, with a note, where no python can
// `import torch` (CI). Set SIMDNET_PYTHON to choose the interpreter.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_peer.py');

/** The first python that imports torch ({ python, version }), or { missing: why }. */
export function findTorchPython() {
  const candidates = [process.env.SIMDNET_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter(Boolean);
  const tried = [];
  for (const python of new Set(candidates)) {
    const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status === 0) return { python, version: r.stdout.trim() };
    tried.push(python);
  }
  return { missing: `no python with torch and numpy (tried ${tried.join(', ')}; set SIMDNET_PYTHON)` };
}

export async function run(ctx) {
  const found = findTorchPython();
  if (found.missing) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'simdnet-torch-'));
  try {
    // one float32 file: the weights (Keras layout, simdnet's order), then the inputs
    const arrays = [
      ...ctx.weights.map((w) => ({ name: 'weight', shape: w.shape, data: w.data })),
      { name: 'x8', shape: [ctx.x8.length], data: ctx.x8 },
      { name: 'xInfer', shape: [ctx.xInfer.length], data: ctx.xInfer },
      { name: 'xTrain', shape: [ctx.xTrain.length], data: ctx.xTrain },
      { name: 'yTrain', shape: [ctx.yTrain.length], data: ctx.yTrain },
    ];
    const total = arrays.reduce((a, p) => a + p.data.length, 0);
    const all = new Float32Array(total);
    const parts = [];
    let off = 0;
    for (const p of arrays) {
      all.set(p.data, off);
      parts.push({ name: p.name, offset: off, length: p.data.length, shape: p.shape });
      off += p.data.length;
    }
    const bin = join(dir, 'data.f32');
    writeFileSync(bin, new Uint8Array(all.buffer));
    const cfgFile = join(dir, 'input.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        threads: ctx.threads,
        plan: ctx.opts,
        inferBatch: ctx.inferBatch,
        trainBatch: ctx.trainBatch,
        bin,
        parts,
      }),
    );
    await new Promise((resolve, reject) => {
      const child = spawn(found.python, [SCRIPT, cfgFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // torch reads these at start: one thread count, set by the script
        env: { ...process.env, OMP_NUM_THREADS: String(ctx.threads), MKL_NUM_THREADS: String(ctx.threads) },
      });
      let err = '';
      child.stderr.on('data', (b) => {
        err = (err + b).slice(-2000);
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        let m;
        try {
          m = JSON.parse(line);
        } catch {
          return; // not ours
        }
        if (m.key === 'agree') m.value.probs = Float32Array.from(m.value.probs);
        ctx.emit(m.key, m.value);
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`${found.python} torch_peer.py exited ${code}: ${err.trim().split('\n').at(-1) ?? ''}`)),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
