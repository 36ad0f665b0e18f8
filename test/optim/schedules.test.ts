// sn.schedules.oneCycle against PyTorch's OneCycleLR: the values below were printed by
// torch.optim.lr_scheduler.OneCycleLR (PyTorch 1.13) driving SGD with momentum (cycle_momentum on),
// read before each step; and against the OneCycleLR formula written out here in float64.
import { describe, expect, it } from 'vitest';
import * as sn from '../../src/index.js';

await sn.ready();

// [step, lr, momentum]: max_lr 0.01, total_steps 100 (pct_start 0.3, cos, div 25, final div 1e4).
const TORCH_COS: Array<[number, number, number]> = [
  [0, 0.0003999999999999993, 0.95],
  [1, 0.00042813780565907275, 0.9497068978577179],
  [10, 0.002951639484641007, 0.9234204220349895],
  [28, 0.009971862194340927, 0.850293102142282],
  [29, 0.01, 0.85],
  [30, 0.009994965352845242, 0.8500503466729342],
  [50, 0.00793893450575732, 0.8706107373853763],
  [98, 5.07464715475788e-6, 0.9499496533270657],
  [99, 4e-8, 0.95],
];
// max_lr 0.5, total_steps 37, pct_start 0.25, linear, div_factor 10, final_div_factor 100.
const TORCH_LINEAR: Array<[number, number, number]> = [
  [0, 0.05, 0.95],
  [1, 0.10454545454545455, 0.9378787878787879],
  [5, 0.32272727272727275, 0.8893939393939394],
  [8, 0.4863636363636364, 0.853030303030303],
  [9, 0.4865, 0.8527027027027027],
  [10, 0.4685, 0.8563063063063063],
  [20, 0.2885, 0.8923423423423423],
  [35, 0.01849999999999996, 0.9463963963963964],
  [36, 0.0005000000000000004, 0.95],
];

/** PyTorch's OneCycleLR._get_lr (two phases), float64. */
function oneCycleRef(
  step: number,
  o: { maxLr: number; totalSteps: number; pctStart: number; cos: boolean; div: number; finalDiv: number },
  [start, peak, end]: [number, number, number] = [o.maxLr / o.div, o.maxLr, o.maxLr / o.div / o.finalDiv],
): number {
  const anneal = (a: number, b: number, pct: number) =>
    o.cos ? b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1) : (b - a) * pct + a;
  const phases = [
    { end: o.pctStart * o.totalSteps - 1, from: start, to: peak },
    { end: o.totalSteps - 1, from: peak, to: end },
  ];
  let s0 = 0;
  for (let i = 0; i < phases.length; i++) {
    const p = phases[i];
    if (step <= p.end || i === phases.length - 1) return anneal(p.from, p.to, (step - s0) / (p.end - s0));
    s0 = p.end;
  }
  throw new Error('unreachable');
}

describe('oneCycle', () => {
  it('matches PyTorch OneCycleLR (cos): learning rate and cycled momentum', () => {
    const s = sn.schedules.oneCycle({ maxLr: 0.01, totalSteps: 100 });
    for (const [step, lr, mom] of TORCH_COS) {
      expect(s(step), `lr at step ${step}`).toBeCloseTo(lr, 9);
      expect(Math.abs(s(step) - lr) / lr, `lr at step ${step} relative`).toBeLessThan(1e-6);
      expect(s.momentum(step), `momentum at step ${step}`).toBeCloseTo(mom, 6);
    }
  });

  it('matches PyTorch OneCycleLR (linear, custom pctStart and factors)', () => {
    const s = sn.schedules.oneCycle({
      maxLr: 0.5,
      totalSteps: 37,
      pctStart: 0.25,
      anneal: 'linear',
      divFactor: 10,
      finalDivFactor: 100,
    });
    for (const [step, lr, mom] of TORCH_LINEAR) {
      expect(Math.abs(s(step) - lr) / lr, `lr at step ${step}`).toBeLessThan(1e-6);
      expect(s.momentum(step), `momentum at step ${step}`).toBeCloseTo(mom, 6);
    }
  });

  it('matches the float64 formula at every step, holds the final rate after the cycle', () => {
    const o = { maxLr: 0.003, totalSteps: 235, pctStart: 0.2, cos: true, div: 20, finalDiv: 1000 };
    const s = sn.schedules.oneCycle({
      maxLr: 0.003,
      totalSteps: 235,
      pctStart: 0.2,
      divFactor: 20,
      finalDivFactor: 1000,
    });
    for (let step = 0; step < o.totalSteps; step++) {
      const want = oneCycleRef(step, o);
      expect(Math.abs(s(step) - want) / want, `step ${step}`).toBeLessThan(1e-6);
    }
    expect(s(234)).toBe(s(235));
    expect(s(10_000)).toBe(s(234));
    expect(s(234)).toBeCloseTo(0.003 / 20 / 1000, 12);
    // The rate peaks at the end of the first phase and nowhere else exceeds it.
    const peakStep = Math.floor(0.2 * 235 - 1);
    const all = Array.from({ length: 235 }, (_, i) => s(i));
    expect(Math.max(...all)).toBe(all[peakStep + (all[peakStep + 1] > all[peakStep] ? 1 : 0)]);
  });

  it('refuses bad options and steps, naming them', () => {
    expect(() => sn.schedules.oneCycle({ maxLr: 0, totalSteps: 10 })).toThrow(/maxLr must be a positive number/);
    expect(() => sn.schedules.oneCycle({ maxLr: 1, totalSteps: 2.5 })).toThrow(/totalSteps must be a positive integer/);
    expect(() => sn.schedules.oneCycle({ maxLr: 1, totalSteps: 10, pctStart: 1 })).toThrow(/pctStart/);
    expect(() => sn.schedules.oneCycle({ maxLr: 1, totalSteps: 10, anneal: 'cosine' as never })).toThrow(
      /anneal must be 'cos' or 'linear'/,
    );
    expect(() => sn.schedules.oneCycle({ maxLr: 1, totalSteps: 10 })(-1)).toThrow(/step must be a non-negative/);
  });

  it('drives fit step by step (the optimizer sees each scheduled rate)', async () => {
    const m = new sn.Sequential({
      seed: 3,
      layers: [sn.layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })],
    });
    m.compile({ optimizer: new sn.Adam(), loss: 'sparseCategoricalCrossentropy' });
    const s = sn.schedules.oneCycle({ maxLr: 0.02, totalSteps: 6 });
    const seen: number[] = [];
    const x = { data: Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), shape: [12, 4] };
    const y = { data: Float32Array.from({ length: 12 }, (_, i) => i % 3), shape: [12] };
    await m.fit(x, y, {
      epochs: 2,
      batchSize: 4,
      verbose: 0,
      learningRateSchedule: s,
      callbacks: { onBatchEnd: () => void seen.push(m.optimizer!.learningRate) },
    });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5].map((i) => s(i)));
    m.dispose();
  });
});
