// `simdnet import model.onnx --out model.simdnet` and `simdnet summary --model FILE`, and the model
// loader the other commands share: a .simdnet file, or an ONNX file imported on the fly.
import { parseArgs } from 'node:util';
import * as sn from '../index.js';
import { loadModelFile, saveModelFile } from '../node/model.js';
import { loadONNXFile } from '../node/onnx.js';

/** Whether `path` names an ONNX file (by extension). */
export const isOnnxPath = (path: string) => /\.onnx$/i.test(path);

/**
 * Loads a .simdnet model, or imports an .onnx one. For the commands that feed images and read class
 * probabilities (`forCli`), an ONNX model takes NHWC input (the CLI's images are channels-last) and
 * gets a softmax appended when it ends in logits (or log-probabilities, whose softmax is the same).
 */
export async function loadAnyModel(path: string, forCli = false): Promise<sn.Model> {
  if (!isOnnxPath(path)) return loadModelFile(path);
  const m = await loadONNXFile(path, forCli ? { inputLayout: 'nhwc' } : {});
  if (!forCli || m.outputs.length !== 1 || m.outputShape.length !== 1) return m;
  const last = m.outputs[0].node.layer;
  if (last.activation === 'softmax') return m;
  const out = new sn.Softmax({ name: 'cli_softmax' }).apply(m.outputs[0]);
  return sn.model({ inputs: m.inputs, outputs: out, name: m.name });
}

/** `--max-bytes 2G`: bytes, or a number with K, M or G (powers of 1024). */
export function parseBytes(v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMG]i?B?)?$/i.exec(v.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2]?.[0] ?? ' ').toUpperCase()) : Number.NaN;
  if (!(n > 0)) throw new Error(`import: --max-bytes must be a positive size such as 2G or 500M, got '${v}'`);
  return Math.floor(n);
}

/** `simdnet import model.onnx --out model.simdnet [--nhwc] [--max-bytes SIZE] [--allow-non-finite]` */
export async function importCommand(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      nhwc: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'max-bytes': { type: 'string' },
      'allow-non-finite': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1)
    throw new Error('import: give one ONNX file: simdnet import model.onnx --out model.simdnet');
  if (!o.out) throw new Error('import: --out FILE.simdnet is required');
  await sn.ready();
  const t0 = performance.now();
  const model = await loadONNXFile(positionals[0], {
    ...(o.nhwc ? { inputLayout: 'nhwc' } : {}),
    ...(o['max-bytes'] !== undefined ? { maxBytes: parseBytes(o['max-bytes']) } : {}),
    ...(o['allow-non-finite'] ? { allowNonFinite: true } : {}),
  });
  const ms = performance.now() - t0;
  if (!o.quiet) model.summary();
  await saveModelFile(model, o.out);
  console.log(
    `imported ${positionals[0]} in ${ms.toFixed(0)} ms: input [N, ${model.inputShape.join(', ')}], output [N, ${model.outputShape.join(', ')}], ${model.countParams()} parameters; wrote ${o.out}`,
  );
  model.dispose();
  return 0;
}

/** `simdnet summary --model FILE` (.simdnet or .onnx) */
export async function summaryCommand(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: { model: { type: 'string' } } });
  if (!o.model) throw new Error('summary: --model FILE is required (.simdnet or .onnx)');
  await sn.ready();
  const model = await loadAnyModel(o.model);
  model.summary();
  model.dispose();
  return 0;
}
