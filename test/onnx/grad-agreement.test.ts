// Gradients of imported PyTorch networks against PyTorch float64, parameter by parameter: one backward
// pass of the mean cross-entropy of the logits with training-mode BatchNormalization, on the small
// networks of scripts/fixtures/grad_agreement.py (a MobileNetV2 in miniature: depthwise convolutions,
// BN, ReLU6, skips; a DenseNet in miniature: BN-ReLU-conv layers and concatenation). Each tensor's
// max|g - ref| / max|ref| must be within max(10 × PyTorch float32's own error, 1e-4).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLOOR, TRAJ_TOL, compareGradients, compareTrajectory, maxRel, toSimdnetLayout } from './grad-agreement.js';
import * as sn from '../../src/index.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/grad');

describe('gradients agree with PyTorch float64', () => {
  for (const name of ['tiny_mobilenet', 'tiny_densenet']) {
    it(`${name}: every parameter within max(10 × PyTorch float32's error, 1e-4)`, async () => {
      const r = await compareGradients(DIR, name);
      expect(Math.abs(r.loss - r.loss64) / r.loss64, 'loss').toBeLessThan(1e-6);
      const unmatched = r.rows.filter((row) => row.weight === null).map((row) => row.name);
      expect(unmatched, 'parameters without a simdnet weight').toEqual([]);
      const bad = r.rows
        .filter((row) => !row.pass)
        .map((row) => `${row.name}: ${row.err.toExponential(2)} > ${row.tol.toExponential(2)}`);
      expect(bad).toEqual([]);
      // Most tensors are well conditioned: they meet the floor itself, not a loosened threshold.
      const atFloor = r.rows.filter((row) => row.tol === FLOOR);
      expect(atFloor.length).toBeGreaterThan(r.rows.length / 2);
    });
  }
});

// Fine-tuning: 10 plain-SGD steps on the same batch, training-mode BN. Where PyTorch float32's loss
// stays within 1e-4 of float64's, simdnet's must be within 1e-3 of PyTorch float32's; the BN moving
// statistics after the steps must match PyTorch float64's running ones (momentum 0.1, unbiased variance).
describe('fine-tuning trajectories agree with PyTorch', () => {
  for (const name of ['tiny_mobilenet', 'tiny_densenet']) {
    it(`${name}: 10 SGD steps, the loss at every step and the BN running statistics after`, async () => {
      const r = await compareTrajectory(DIR, name);
      expect(r.steps.length).toBe(10);
      // The steps learn something (a trajectory that stood still would agree trivially).
      expect(r.steps[9].loss64).toBeLessThan(0.9 * r.steps[0].loss64);
      expect(r.steps.filter((s) => s.checked).length, 'steps PyTorch float32 itself follows').toBe(10);
      const bad = r.steps
        .map((s, i) => (s.pass ? '' : `step ${i}: ${s.loss} vs PyTorch f32 ${s.loss32} (${s.err.toExponential(2)})`))
        .filter((s) => s);
      expect(bad).toEqual([]);
      expect(Math.max(...r.steps.map((s) => s.err))).toBeLessThan(TRAJ_TOL);
      expect(r.batchNorms).toBeGreaterThan(5);
      expect(r.stats.length, 'running_mean and running_var of every BN').toBe(2 * r.batchNorms);
      const badStats = r.stats
        .filter((s) => !s.pass)
        .map((s) => `${s.name}: ${s.err.toExponential(2)} > ${s.tol.toExponential(2)}`);
      expect(badStats).toEqual([]);
      expect(r.agrees).toBe(true);
    });
  }
});

describe('the harness itself', () => {
  it('maxRel scales by the largest reference value', () => {
    expect(maxRel([1.5, 0.001], [2, 0])).toBeCloseTo(0.25, 12);
    expect(maxRel([1e-9], [0])).toBe(1e-9);
  });

  it('re-lays conv, depthwise and dense weights as the importer does', async () => {
    await sn.ready();
    const conv = new sn.Conv2D({ filters: 3, kernelSize: 2, inputShape: [4, 4, 2] });
    const dw = new sn.DepthwiseConv2D({ kernelSize: 2, depthMultiplier: 2 });
    const m = sn.sequential({ layers: [conv, dw] });
    m.build();
    // conv: PyTorch (K=3, C=2, 2, 2) -> (2, 2, 2, 3): element [k, c, i, j] lands at ((i·2 + j)·2 + c)·3 + k.
    const src = Array.from({ length: 24 }, (_, i) => i);
    const conv2 = toSimdnetLayout(src, [3, 2, 2, 2], conv, 0);
    expect(conv2[((1 * 2 + 0) * 2 + 1) * 3 + 2]).toBe(((2 * 2 + 1) * 2 + 1) * 2 + 0);
    // depthwise: PyTorch (C·M = 6, 1, 2, 2) -> (2, 2, C=3, M=2): [c·2 + m, 0, i, j] at ((i·2 + j)·3 + c)·2 + m.
    const dw2 = toSimdnetLayout(src, [6, 1, 2, 2], dw, 0);
    expect(dw2[((0 * 2 + 1) * 3 + 2) * 2 + 1]).toBe(((2 * 2 + 1) * 2 + 0) * 2 + 1);
    // dense: (U = 4, K = 6) -> (6, 4)
    expect(toSimdnetLayout(src, [4, 6], conv, 0)[5 * 4 + 3]).toBe(3 * 6 + 5);
    m.dispose();
  });
});
