// Gradients through the tape: accumulation into shared gradient buffers, repeated backward passes,
// an explicit seed, and refused nesting; over the conv2d, relu, mul and sum ops.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import * as adv from '../../src/advanced.js';
import { withTape } from '../../src/autograd.js';
import { makeRng } from '../helpers/check.js';
import { accTol, close, expectError, rand, seedOf } from '../kernels/harness.js';

beforeAll(async () => {
  await sn.ready();
});

describe('gradient accumulation through the tape', () => {
  const setup = (name: string) => {
    const rng = makeRng(seedOf(name));
    const x = sn.tensor(rand(rng, 2 * 6 * 5 * 3), [2, 6, 5, 3]);
    const w = sn.tensor(rand(rng, 3 * 2 * 3 * 4), [3, 2, 3, 4]);
    const b = sn.tensor(rand(rng, 4), [4]);
    const r = sn.tensor(rand(rng, 2 * 6 * 5 * 4), [2, 6, 5, 4]);
    const f = () => sn.sum(sn.mul(sn.relu(sn.conv2d(x, w, { padding: 'same', bias: b })), r));
    return { x, w, b, r, f, all: [x, w, b, r] };
  };

  it('conv2d x=[2,6,5,3] f=[3,2,3,4] p=same bias relu: two tapes on shared grad buffers add up to twice one backward', () => {
    const { x, w, b, f, all } = setup('accumulate external');
    const once = sn
      .grads(() => f())([x, w, b])
      .map((g) => g.dataSync());
    const gbufs = [sn.zeros(x.shape), sn.zeros(w.shape), sn.zeros(b.shape)];
    for (let pass = 0; pass < 2; pass++) {
      sn.tidy(() => {
        const tape = new adv.Tape();
        [x, w, b].forEach((t, i) => tape.watch(t, gbufs[i]));
        const y = withTape(tape, f);
        tape.backward(y);
      });
    }
    const terms = [4 * 3 * 2, 2 * 6 * 5, 2 * 6 * 5];
    gbufs.forEach((g, i) =>
      close(
        g.dataSync(),
        Array.from(once[i]!, (v) => 2 * v),
        accTol(2 * terms[i]!),
        `accumulate grad ${i}`,
      ),
    );
    for (const t of [...gbufs, ...all]) t.dispose();
  });

  // PyTorch semantics (retain_graph=True): every backward adds d f / d x once more to the inputs.
  it('Tape.backward twice on one tape x=[3] f=sum(x*2): dx = 2+2 (twice one backward)', () => {
    const x = sn.tensor([1, 2, 3]);
    sn.tidy(() => {
      const tape = new adv.Tape();
      tape.watch(x);
      const y = withTape(tape, () => sn.sum(sn.mul(x, 2)));
      tape.backward(y);
      expect(Array.from(tape.grads.get(x.id)!.dataSync()), 'after one backward').toEqual([2, 2, 2]);
      tape.backward(y);
      expect(Array.from(tape.grads.get(x.id)!.dataSync()), 'after two backwards').toEqual([4, 4, 4]);
    });
    x.dispose();
  });

  it('mul x=[2,5] by 3: backward with an explicit seed dy scales the gradient', () => {
    const x = sn.tensor(rand(makeRng(5), 10), [2, 5]);
    const dy = sn.tensor(rand(makeRng(6), 10), [2, 5]);
    const [g] = sn.grads((t) => sn.mul(t!, 3))([x], dy);
    close(
      g!.dataSync(),
      Array.from(dy.dataSync(), (v) => 3 * v),
      { atol: 0, rtol: 1e-7 },
      'seeded dy',
    );
    for (const t of [x, dy, g!]) t.dispose();
  });

  it('grads(grads(sum)) x=[2]: nested gradients are refused with a clear error', () => {
    const x = sn.tensor([1, 2]);
    expectError(() => sn.grads(() => sn.grads((t) => sn.sum(t!))([x])[0]!)([x]), /cannot be nested/);
    x.dispose();
  });
});
