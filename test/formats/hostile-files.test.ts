// Model files that point outside themselves: weight shards and ONNX external data named by `..`, an
// absolute path, a symbolic link out of the model's folder or a device; shard URLs on another origin.
// Each is refused before a byte outside the folder is read, and no error shows an absolute path or
// the size of a file outside the model.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { onnxType } from '../../src/formats/onnx/onnx-schema.js';
import { loadLayersModelFile, loadONNXFile, saveLayersModelFile } from '../../src/node/index.js';
import { fixture } from '../onnx/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'simdnet-hostile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await sn.ready();
});

/**
 * The error of `p`, checked to name no absolute path (of the temp folder or a system file) and no
 * size, except the `given` names (the caller's path, the name the model itself uses).
 */
async function refusal(p: Promise<unknown>, what: RegExp, given: string[] = []): Promise<string> {
  let msg = '';
  await p.then(
    (m) => {
      (m as sn.Model).dispose();
      throw new Error('loaded');
    },
    (e: Error) => {
      msg = e.message;
    },
  );
  expect(msg).toMatch(what);
  let rest = msg;
  for (const g of given.sort((a, b) => b.length - a.length)) rest = rest.split(g).join('<given>');
  expect(rest).not.toContain(root);
  expect(rest).not.toMatch(/\/(etc|dev|tmp|home|root|proc)\//);
  expect(rest).not.toMatch(/secret|\bholds?\b/);
  return msg;
}

/** A small tfjs-layers model saved in `dir`; returns its model.json. */
async function tfjsModel(dir: string): Promise<{ path: string; json: sn.LayersModelJSON; bytes: Uint8Array }> {
  const m = new sn.Sequential({
    layers: [new sn.Dense({ units: 3, inputShape: [4], activation: 'relu' }), new sn.Dense({ units: 2 })],
  });
  const path = await saveLayersModelFile(m, dir);
  m.dispose();
  const json = JSON.parse(readFileSync(path, 'utf8')) as sn.LayersModelJSON;
  return { path, json, bytes: new Uint8Array(readFileSync(join(dir, 'group1-shard1of1.bin'))) };
}

describe('tfjs-layers files stay inside their folder', () => {
  let dir: string;
  let json: sn.LayersModelJSON;
  let bytes: Uint8Array;
  beforeAll(async () => {
    dir = join(root, 'tfjs', 'model');
    mkdirSync(dir, { recursive: true });
    ({ json, bytes } = await tfjsModel(dir));
    // A right-sized file outside the folder: loading it as weights would be a silent read.
    writeFileSync(join(root, 'tfjs', 'secret.bin'), bytes);
  });
  const withPath = (p: string, name = 'evil.json') => {
    const j = structuredClone(json);
    j.weightsManifest[0]!.paths = [p];
    writeFileSync(join(dir, name), JSON.stringify(j));
    return join(dir, name);
  };

  it('a shard path with .. is refused', async () => {
    await refusal(
      loadLayersModelFile(withPath('../secret.bin')),
      /weight shard '\.\.\/secret\.bin' is outside the model's directory \('\.\.'\)/,
      [join(dir, 'evil.json'), '../secret.bin'],
    );
  });

  it('an absolute shard path is refused without reading it', async () => {
    const evil = join(dir, 'evil.json');
    await refusal(loadLayersModelFile(withPath('/etc/passwd')), /'\/etc\/passwd' is outside the model's directory/, [
      evil,
      '/etc/passwd',
    ]);
    const secret = join(root, 'tfjs', 'secret.bin');
    await refusal(loadLayersModelFile(withPath(secret)), /an absolute path/, [evil, secret]);
  });

  it('a symbolic link out of the folder is refused; one inside it loads', async () => {
    symlinkSync(join(root, 'tfjs', 'secret.bin'), join(dir, 'link-out.bin'));
    await refusal(loadLayersModelFile(withPath('link-out.bin')), /'link-out\.bin' is outside .*symbolic link/, [
      join(dir, 'evil.json'),
    ]);
    symlinkSync(join(dir, 'group1-shard1of1.bin'), join(dir, 'link-in.bin'));
    const m = await loadLayersModelFile(withPath('link-in.bin', 'linked.json'));
    expect(m.countParams()).toBe(4 * 3 + 3 + 3 * 2 + 2);
    m.dispose();
  });

  it('a device (/dev/zero through a link) is refused before it is read', async () => {
    symlinkSync('/dev/zero', join(dir, 'zero.bin'));
    const t0 = performance.now();
    await refusal(loadLayersModelFile(withPath('zero.bin')), /'zero\.bin' is outside/, [join(dir, 'evil.json')]);
    mkdirSync(join(dir, 'sub.bin'));
    await refusal(loadLayersModelFile(withPath('sub.bin')), /'sub\.bin' is not a regular file/, [
      join(dir, 'evil.json'),
    ]);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a shard of the wrong size is refused before it is read, named as the manifest names it', async () => {
    writeFileSync(join(dir, 'big.bin'), new Uint8Array(bytes.length + 1));
    let msg = '';
    await loadLayersModelFile(withPath('big.bin')).catch((e: Error) => {
      msg = e.message;
    });
    expect(msg).toBe(
      `${join(dir, 'evil.json')}: weight shard big.bin holds ${bytes.length + 1} bytes, the manifest's weights of group 0 need ${bytes.length}`,
    );
  });

  it('a missing shard is named as the manifest names it, without the OS message', async () => {
    await refusal(loadLayersModelFile(withPath('nope.bin')), /cannot read weight shard 'nope\.bin': no such file$/, [
      join(dir, 'evil.json'),
    ]);
  });
});

describe('loadLayersModelURL fetches only what the caller allows', () => {
  let json: sn.LayersModelJSON;
  let bytes: Uint8Array;
  beforeAll(async () => {
    const dir = join(root, 'url');
    mkdirSync(dir, { recursive: true });
    ({ json, bytes } = await tfjsModel(dir));
  });
  /** A global fetch stand-in recording every URL asked for. */
  function server(paths: string[]) {
    const asked: string[] = [];
    const j = structuredClone(json);
    j.weightsManifest[0]!.paths = paths;
    const fake = (async (u: string) => {
      asked.push(u);
      if (u.endsWith('model.json')) return new Response(JSON.stringify(j));
      return new Response(bytes.slice());
    }) as unknown as typeof fetch;
    return { asked, fake };
  }
  const withGlobalFetch = async <T>(f: typeof fetch, run: () => Promise<T>): Promise<T> => {
    const saved = globalThis.fetch;
    globalThis.fetch = f;
    try {
      return await run();
    } finally {
      globalThis.fetch = saved;
    }
  };

  it.each([
    ['http://127.0.0.1:1/x.bin', /leaves the origin of model\.json \(https:\/\/models\.test\)/],
    ['//internal.example/admin', /leaves the origin/],
    ['file:///etc/passwd', /leaves the origin/],
  ])('a shard at %s is refused without fetching it', async (p, what) => {
    const { asked, fake } = server([p]);
    await withGlobalFetch(fake, () => refusal(sn.loadLayersModelURL('https://models.test/m/model.json'), what, [p]));
    expect(asked).toEqual(['https://models.test/m/model.json']);
  });

  it('same-origin relative shards load; allowOrigins or an explicit fetch open other origins', async () => {
    const { asked, fake } = server(['w.bin']);
    const m = await withGlobalFetch(fake, () => sn.loadLayersModelURL('https://models.test/m/model.json'));
    expect(asked).toEqual(['https://models.test/m/model.json', 'https://models.test/m/w.bin']);
    m.dispose();
    const cdn = server(['https://cdn.test/w.bin']);
    const a = await withGlobalFetch(cdn.fake, () =>
      sn.loadLayersModelURL('https://models.test/m/model.json', { allowOrigins: ['https://cdn.test'] }),
    );
    a.dispose();
    const b = await sn.loadLayersModelURL('https://models.test/m/model.json', cdn.fake);
    b.dispose();
    expect(cdn.asked.filter((u) => u === 'https://cdn.test/w.bin').length).toBe(2);
  });

  it('a shard body longer than the manifest declares is cut off and refused', async () => {
    const j = structuredClone(json);
    j.weightsManifest[0]!.paths = ['w.bin'];
    let sent = 0;
    const endless = (async (u: string) => {
      if (u.endsWith('model.json')) return new Response(JSON.stringify(j));
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          sent += 65536;
          c.enqueue(new Uint8Array(65536));
        },
      });
      return new Response(stream);
    }) as unknown as typeof fetch;
    await refusal(sn.loadLayersModelURL('https://models.test/m/model.json', endless), /are longer than the \d+ bytes/);
    expect(sent).toBeLessThan(4 * 65536);
  });
});

describe('ONNX external data stays inside the folder', () => {
  let dir: string;
  /** lenet5 with every raw initializer moved to external data at `location`. */
  let external: (location: string) => Uint8Array;
  let weights: Buffer;
  beforeAll(() => {
    dir = join(root, 'onnx', 'model');
    mkdirSync(dir, { recursive: true });
    const f = fixture('lenet5_op11');
    const T = onnxType('ModelProto');
    external = (location: string) => {
      const msg = T.decode(f.bytes) as unknown as {
        graph: { initializer: Array<{ raw_data: Uint8Array; data_location?: number; external_data?: unknown[] }> };
      };
      const parts: Uint8Array[] = [];
      let off = 0;
      for (const t of msg.graph.initializer) {
        if (!t.raw_data || t.raw_data.length === 0) continue;
        parts.push(t.raw_data);
        t.external_data = [
          { key: 'location', value: location },
          { key: 'offset', value: String(off) },
          { key: 'length', value: String(t.raw_data.length) },
        ];
        t.data_location = 1;
        off += t.raw_data.length;
        t.raw_data = new Uint8Array(0);
      }
      weights = Buffer.concat(parts);
      return T.encode(msg as never).finish();
    };
    external('w.bin');
    writeFileSync(join(dir, 'w.bin'), weights);
    writeFileSync(join(root, 'onnx', 'secret.bin'), weights);
  });
  const model = (location: string) => {
    writeFileSync(join(dir, 'evil.onnx'), external(location));
    return join(dir, 'evil.onnx');
  };

  it('the right file inside the folder loads', async () => {
    const m = await loadONNXFile(model('w.bin'));
    m.dispose();
  });

  it('.., an absolute path, a symbolic link out and a device are refused', async () => {
    const evil = join(dir, 'evil.onnx');
    await refusal(loadONNXFile(model('../secret.bin')), /external data location '\.\.\/secret\.bin' is outside/, [
      evil,
      '../secret.bin',
    ]);
    const secret = join(root, 'onnx', 'secret.bin');
    await refusal(loadONNXFile(model(secret)), /an absolute path/, [evil, secret]);
    symlinkSync(secret, join(dir, 'out.bin'));
    await refusal(loadONNXFile(model('out.bin')), /'out\.bin' is outside the model's directory \(through a symbolic/, [
      evil,
    ]);
    symlinkSync('/dev/zero', join(dir, 'zero.bin'));
    await refusal(loadONNXFile(model('zero.bin')), /'zero\.bin' is outside/, [evil]);
  });

  it('a missing file is named as the model names it', async () => {
    await refusal(loadONNXFile(model('gone.bin')), /cannot read external data 'gone\.bin': no such file/, [
      join(dir, 'evil.onnx'),
    ]);
  });
});
