// `simdnet import` of a hostile ONNX file: the loader's refusal is one line (bin/simdnet.js prints it
// and exits 1), `--max-bytes` raises the budget and `--allow-non-finite` lets NaN weights through.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as sn from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { parseBytes } from '../../src/cli/import.js';
import { attrTensor, onnxModel, tensor } from './hostile-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'simdnet-hostile-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await sn.ready();
});

/** x + ConstantOfShape([2, 4, 4]) of 1.0: 256 bytes of folded float64 values. */
function folded(): string {
  const p = join(dir, 'fold.onnx');
  const bytes = onnxModel(
    [
      {
        op: 'ConstantOfShape',
        name: 'c',
        inputs: ['s'],
        outputs: ['c'],
        attrs: [attrTensor('value', tensor('v', [1], [1]))],
      },
      { op: 'Add', name: 'add', inputs: ['x', 'c'], outputs: ['out'] },
    ],
    { inits: [tensor('s', [3], [2, 4, 4], 7)] },
  );
  writeFileSync(p, bytes);
  return p;
}

describe('simdnet import of a hostile file', () => {
  it('refuses in one line naming the node and the budget; --max-bytes raises it', async () => {
    const p = folded();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      let msg = '';
      await main(['import', p, '--out', join(dir, 'a.simdnet'), '--max-bytes', '200']).catch((e: Error) => {
        msg = e.message;
      });
      expect(msg).toMatch(
        /fold\.onnx: loadONNX: node 'c' \(ConstantOfShape\): the result would have shape \[2,4,4\], 256 bytes/,
      );
      expect(msg.split('\n').length).toBe(1);
      expect(await main(['import', p, '--out', join(dir, 'a.simdnet'), '--max-bytes', '1K', '--quiet'])).toBe(0);
    } finally {
      log.mockRestore();
    }
  });

  it('--allow-non-finite loads NaN weights the default refuses', async () => {
    const p = join(dir, 'nan.onnx');
    writeFileSync(
      p,
      onnxModel([{ op: 'Mul', name: 'm', inputs: ['x', 'k'], outputs: ['out'] }], {
        inits: [tensor('k', [1], [Number.NaN])],
      }),
    );
    await expect(main(['import', p, '--out', join(dir, 'b.simdnet')])).rejects.toThrow(
      /initializer 'k' holds a NaN or infinite value/,
    );
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['import', p, '--out', join(dir, 'b.simdnet'), '--allow-non-finite', '--quiet'])).toBe(0);
    } finally {
      log.mockRestore();
    }
  });

  it('--max-bytes sizes', () => {
    expect(parseBytes('100')).toBe(100);
    expect(parseBytes('2G')).toBe(2 ** 31);
    expect(parseBytes('1.5MiB')).toBe(1.5 * 2 ** 20);
    expect(() => parseBytes('-1')).toThrow(/--max-bytes must be a positive size/);
    expect(() => parseBytes('lots')).toThrow(/--max-bytes/);
  });
});
