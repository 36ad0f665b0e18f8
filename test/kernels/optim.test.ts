// The optimizer kernels (assembly/kernels/optim.ts: SGD, Adam, RMSprop steps, learning-rate
// schedules) raw and through the optimizers, against the float64 references of test/ref/optim.ts
// and test/ref/rmsprop.ts.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';
import { makeRng } from '../helpers/check.js';
import { adamStep, adamwStep, sgdStep } from '../ref/optim.js';
import { cosineDecay, rmspropStep, stepDecay } from '../ref/rmsprop.js';
import { close, prod, rand, rawRun, seedOf, type Tol } from './harness.js';

const f = Math.fround;

describe('SGD / Adam vs ref/optim (5 steps)', () => {
  // Per step: a handful of f32 roundings of values of size |p| ≤ 2 → ~1e-7 each.
  const shapes: [string, number[]][] = [
    ['w', [5, 3]],
    ['b', [7]],
    ['c', [1]],
  ];
  const runOpt = (
    label: string,
    make: () => sn.Optimizer,
    ref: (p: Float64Array, g: Float32Array, slots: Float64Array[], t: number) => void,
    nSlots: number,
    tol: Tol,
  ) => {
    const rng = makeRng(seedOf(label));
    const opt = make();
    const params = shapes.map(([name, s]) => {
      const init = rand(rng, prod(s));
      return {
        name,
        value: sn.tensor(init, s),
        grad: sn.zeros(s),
        ref: Float64Array.from(init),
        slots: Array.from({ length: nSlots }, () => new Float64Array(prod(s))),
      };
    });
    for (let t = 1; t <= 5; t++) {
      for (const p of params) {
        const g = rand(rng, p.ref.length, -2, 2);
        p.grad.view().set(g);
        ref(p.ref, g, p.slots, t);
      }
      opt.step(params.map(({ name, value, grad }) => ({ name, value, grad })));
      expect(opt.iterations).toBe(t);
      for (const p of params) close(p.value.dataSync(), p.ref, tol, `${label} step ${t} ${p.name}`);
    }
    const state = opt.getState(params);
    for (const p of params) {
      expect(state.slots[p.name]?.length ?? 0, `${label} ${p.name}: slot count`).toBe(nSlots);
      p.slots.forEach((s, i) =>
        close(state.slots[p.name]![i]!, s, { atol: 1e-7, rtol: 1e-5 }, `${label} ${p.name}: slot ${i}`),
      );
    }
    opt.dispose();
    for (const p of params) {
      p.value.dispose();
      p.grad.dispose();
    }
  };
  const TOL_OPT: Tol = { atol: 1e-6, rtol: 1e-6 };
  // The kernels receive the hyperparameters as f32, so the reference gets the same rounded values
  // (f32(0.999) makes 1 − β2 = 9.99987e-4, 1.3e-5 relative off 1e-3: the v slot differs by that
  // much from a pure-f64 Adam; the parameter update itself cancels it to ~1e-9).
  it('SGD lr=0.1 momentum=0', () =>
    runOpt(
      'SGD m0',
      () => new sn.SGD({ learningRate: 0.1 }),
      (p, g, s) => sgdStep(p, g, s[0] ?? new Float64Array(p.length), f(0.1)),
      0,
      TOL_OPT,
    ));
  it('SGD lr=0.05 momentum=0.9', () =>
    runOpt(
      'SGD m0.9',
      () => new sn.SGD({ learningRate: 0.05, momentum: 0.9 }),
      (p, g, s) => sgdStep(p, g, s[0]!, f(0.05), f(0.9)),
      1,
      TOL_OPT,
    ));
  it('SGD lr=0.05 momentum=0.9 nesterov', () =>
    runOpt(
      'SGD nesterov',
      () => new sn.SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
      (p, g, s) => sgdStep(p, g, s[0]!, f(0.05), f(0.9), true),
      1,
      TOL_OPT,
    ));
  it('Adam defaults', () =>
    runOpt(
      'Adam',
      () => new sn.Adam(),
      (p, g, s, t) => adamStep(p, g, s[0]!, s[1]!, t, f(0.001), f(0.9), f(0.999), f(1e-7)),
      2,
      TOL_OPT,
    ));
  it('Adam lr=0.01 beta1=0.8 beta2=0.99 eps=1e-4', () =>
    runOpt(
      'Adam custom',
      () => new sn.Adam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-4 }),
      (p, g, s, t) => adamStep(p, g, s[0]!, s[1]!, t, f(0.01), f(0.8), f(0.99), f(1e-4)),
      2,
      TOL_OPT,
    ));
  it('AdamW defaults (weight decay 0.004)', () =>
    runOpt(
      'AdamW',
      () => new sn.AdamW(),
      (p, g, s, t) => adamwStep(p, g, s[0]!, s[1]!, t, f(0.001), f(0.004), f(0.9), f(0.999), f(1e-7)),
      2,
      TOL_OPT,
    ));
  it('AdamW lr=0.05 weightDecay=0.5 beta1=0.7 beta2=0.9: the decay shows against plain Adam', () => {
    runOpt(
      'AdamW strong',
      () => new sn.AdamW({ learningRate: 0.05, weightDecay: 0.5, beta1: 0.7, beta2: 0.9 }),
      (p, g, s, t) => adamwStep(p, g, s[0]!, s[1]!, t, f(0.05), f(0.5), f(0.7), f(0.9), f(1e-7)),
      2,
      TOL_OPT,
    );
    // Decoupled: with a zero gradient Adam leaves p alone, AdamW shrinks it by exactly lr·wd per step.
    const value = sn.tensor(Float32Array.from([1, -2, 0.5]), [3]);
    const grad = sn.zeros([3]);
    const opt = new sn.AdamW({ learningRate: 0.1, weightDecay: 0.5 });
    opt.step([{ name: 'w', value, grad }]);
    const decay = f(f(0.1) * f(0.5));
    close(
      value.dataSync(),
      [1, -2, 0.5].map((x) => f(x - f(decay * x))),
      { atol: 0, rtol: 0 },
      'AdamW zero grad',
    );
    opt.dispose();
    value.dispose();
    grad.dispose();
  });
});

describe('sgd_step / adam_step raw: NaN guard words survive, one step vs ref', () => {
  it('sgd_step (momentum 0, 0.9, nesterov) / adam_step raw, n = 1..9, 17', () => {
    const k = sn.getEngine().k;
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 17]) {
      const rng = makeRng(200 + n);
      const a = rand(rng, n, -2, 2);
      const g = rand(rng, n, -2, 2);
      for (const [mom, nest] of [
        [0, 0],
        [0.9, 0],
        [0.9, 1],
      ]) {
        const v0 = rand(rng, n, -0.1, 0.1);
        const [p, v] = rawRun(`sgd_step n=${n} m=${mom} nesterov=${nest}`, [g], [a, v0], ([pg], [pp, pv]) =>
          k.sgd_step(pp!, pg!, mom === 0 ? 0 : pv!, n, 0.1, mom!, nest!),
        );
        const pr = Float64Array.from(a),
          vr = Float64Array.from(v0);
        sgdStep(pr, g, vr, f(0.1), f(mom!), nest === 1);
        close(p!, pr, { atol: 1e-7, rtol: 1e-6 }, `sgd p n=${n} m=${mom}`);
        close(v!, mom === 0 ? v0 : vr, { atol: 1e-7, rtol: 1e-6 }, `sgd v n=${n} m=${mom}`);
      }
      const m0 = rand(rng, n, -0.1, 0.1),
        s0 = rand(rng, n, 0, 0.1);
      const [p, m, v] = rawRun(`adam_step n=${n}`, [g], [a, m0, s0], ([pg], [pp, pm, pv]) =>
        k.adam_step(pp!, pg!, pm!, pv!, n, 0.01, 0.9, 0.999, 1e-7, 3),
      );
      const pr = Float64Array.from(a),
        mr = Float64Array.from(m0),
        vr = Float64Array.from(s0);
      adamStep(pr, g, mr, vr, 3, f(0.01), f(0.9), f(0.999), f(1e-7));
      close(p!, pr, { atol: 1e-7, rtol: 1e-6 }, `adam p n=${n}`);
      close(m!, mr, { atol: 1e-7, rtol: 1e-6 }, `adam m n=${n}`);
      close(v!, vr, { atol: 1e-7, rtol: 1e-6 }, `adam v n=${n}`);
    }
  });
});

describe('RMSprop vs ref/rmsprop (5 steps) and schedules', () => {
  const shapes: [string, number[]][] = [
    ['w', [5, 3]],
    ['b', [7]],
    ['c', [1]],
  ];
  const configs: Array<[string, sn.RMSpropConfig, number]> = [
    ['defaults', {}, 1],
    ['lr=0.01 rho=0.8 momentum=0.9', { learningRate: 0.01, rho: 0.8, momentum: 0.9 }, 2],
    ['centered eps=1e-4', { centered: true, epsilon: 1e-4 }, 2],
    ['centered momentum=0.5', { centered: true, momentum: 0.5, learningRate: 0.005 }, 3],
  ];
  for (const [label, cfg, nSlots] of configs) {
    it(`RMSprop ${label}`, () => {
      const rng = makeRng(seedOf(label));
      const opt = new sn.RMSprop(cfg);
      const params = shapes.map(([name, s]) => {
        const init = rand(rng, prod(s));
        return {
          name,
          value: sn.tensor(init, s),
          grad: sn.zeros(s),
          ref: Float64Array.from(init),
          v: new Float64Array(prod(s)),
          m: new Float64Array(prod(s)),
          a: new Float64Array(prod(s)),
        };
      });
      // The kernel gets lr, momentum and eps as f32 and rho as f64 (1 - rho rounded from f64).
      const lr = f(cfg.learningRate ?? 0.001),
        mom = f(cfg.momentum ?? 0),
        eps = f(cfg.epsilon ?? 1e-7);
      for (let t = 1; t <= 5; t++) {
        for (const p of params) {
          const g = rand(rng, p.ref.length, -2, 2);
          p.grad.view().set(g);
          rmspropStep(p.ref, g, p.v, p.m, p.a, lr, cfg.rho ?? 0.9, mom, eps, cfg.centered ?? false);
        }
        opt.step(params.map(({ name, value, grad }) => ({ name, value, grad })));
        for (const p of params)
          close(p.value.dataSync(), p.ref, { atol: 1e-6, rtol: 1e-6 }, `${label} step ${t} ${p.name}`);
      }
      const state = opt.getState(params);
      for (const p of params) {
        const want = [p.v, ...(mom > 0 ? [p.m] : []), ...(cfg.centered ? [p.a] : [])];
        expect(state.slots[p.name]!.length, `${label} ${p.name}: slots`).toBe(nSlots);
        want.forEach((s, i) =>
          close(state.slots[p.name]![i]!, s, { atol: 1e-7, rtol: 1e-5 }, `${label} ${p.name}: slot ${i}`),
        );
      }
      opt.dispose();
      for (const p of params) {
        p.value.dispose();
        p.grad.dispose();
      }
    });
  }

  it('stepDecay and cosineDecay: wasm values are the f64 reference rounded to f32', () => {
    const sd = sn.schedules.stepDecay({ initial: 0.1, dropEvery: 7, factor: 0.5 });
    const cd = sn.schedules.cosineDecay({ initial: 0.01, decaySteps: 50, alpha: 0.1 });
    const cd0 = sn.schedules.cosineDecay({ initial: 0.003, decaySteps: 1000 });
    for (const s of [0, 1, 6, 7, 13, 14, 49, 50, 51, 100, 999, 1000, 5000]) {
      expect(sd(s), `stepDecay(${s})`).toBe(f(stepDecay(0.1, 7, 0.5, s)));
      // cos in wasm vs JS Math.cos may differ by an f64 ulp: allow one f32 ulp.
      close([cd(s)], [cosineDecay(0.01, 50, 0.1, s)], { atol: 0, rtol: 2 ** -23 }, `cosineDecay(${s})`);
      close([cd0(s)], [cosineDecay(0.003, 1000, 0, s)], { atol: 1e-15, rtol: 2 ** -23 }, `cosineDecay alpha 0 (${s})`);
      expect(Math.fround(cd(s))).toBe(cd(s));
    }
    expect(cd0(1000)).toBe(0);
    expect(() => sn.schedules.stepDecay({ initial: 0.1, dropEvery: 0, factor: 0.5 })).toThrow(
      /dropEvery must be a positive integer/,
    );
    expect(() => sn.schedules.stepDecay({ initial: 0.1, dropEvery: 2, factor: 2 })).toThrow(
      /factor must be a number in \(0, 1\]/,
    );
    expect(() => sn.schedules.cosineDecay({ initial: 0, decaySteps: 10 })).toThrow(/initial must be a positive number/);
    expect(() => sd(-1)).toThrow(/step must be a non-negative integer/);
  });
});
