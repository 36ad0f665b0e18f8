import { describe, it, expect } from 'vitest';
import { XMLValidator } from 'fast-xml-parser';
import {
  confusionMatrix,
  confusionSvg,
  confusionText,
  curvesSvg,
  perClassStats,
  reportMd,
  samplesSvg,
} from '../../src/report/index.js';

function expectWellFormed(svg: string): void {
  expect(XMLValidator.validate(svg)).toBe(true);
  expect(svg.startsWith('<svg')).toBe(true);
}

const count = (s: string, needle: string): number => s.split(needle).length - 1;

// Hand example, 3 classes:
//   true 0: predicted 0,0,1      true 1: predicted 1,1      true 2: predicted 2,0,2,2
const TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2];
const PRED = [0, 0, 1, 1, 1, 2, 0, 2, 2];

describe('confusion matrix', () => {
  it('counts true rows against predicted columns', () => {
    expect(confusionMatrix(TRUE, PRED, 3)).toEqual([
      [2, 1, 0],
      [0, 2, 0],
      [1, 0, 3],
    ]);
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/true label 3/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/1 true labels but 2/);
  });

  it('computes precision, recall and F1 per class, 0 instead of NaN', () => {
    const stats = perClassStats(confusionMatrix(TRUE, PRED, 3));
    expect(stats[0]!.precision).toBeCloseTo(2 / 3); // column 0: 2 right of 3 predicted
    expect(stats[0]!.recall).toBeCloseTo(2 / 3);
    expect(stats[1]!.precision).toBeCloseTo(2 / 3);
    expect(stats[1]!.recall).toBe(1);
    expect(stats[1]!.f1).toBeCloseTo(0.8);
    expect(stats[2]!.precision).toBe(1);
    expect(stats[2]!.recall).toBeCloseTo(3 / 4);
    expect(stats[2]!.support).toBe(4);
    // A class never seen nor predicted has undefined ratios: report 0.
    const empty = perClassStats(confusionMatrix([0], [0], 2))[1]!;
    expect([empty.precision, empty.recall, empty.f1]).toEqual([0, 0, 0]);
  });

  it('draws exactly numClasses² cells with counts, labels and per-class stats', () => {
    const m = confusionMatrix(TRUE, PRED, 3);
    const svg = confusionSvg(m);
    expectWellFormed(svg);
    expect(count(svg, '<rect class="cell"')).toBe(9);
    expect(svg).toContain('>true</text>');
    expect(svg).toContain('>predicted</text>');
    expect(count(svg, 'class="recall"')).toBe(3);
    expect(count(svg, 'class="precision"')).toBe(3);
    expect(svg).toContain('>75.0</text>'); // recall of class 2
    const ten = confusionSvg(confusionMatrix([0, 9, 5], [0, 9, 4], 10));
    expectWellFormed(ten);
    expect(count(ten, '<rect class="cell"')).toBe(100);
  });

  it('renders an aligned text table with precision and recall lines', () => {
    const text = confusionText(confusionMatrix(TRUE, PRED, 3));
    const rows = text.split('\n');
    expect(rows[0]).toMatch(/^true\\pred\s+0\s+1\s+2$/);
    expect(rows[1]).toMatch(/^0\s+2\s+1\s+0$/);
    expect(new Set(rows.slice(0, 4).map((r) => r.length)).size).toBe(1); // aligned
    expect(text).toContain('class 2  precision 1.000  recall 0.750');
  });
});

describe('samples', () => {
  it('draws one group per example and marks the wrong ones', () => {
    const h = 4;
    const w = 3;
    const n = 5;
    const images = new Float32Array(n * h * w).map((_, i) => (i % 7) / 6);
    const svg = samplesSvg(images, h, w, [1, 2, 3, 4, 5], [1, 0, 3, 0, 5], { cols: 2 });
    expectWellFormed(svg);
    expect(count(svg, 'class="sample')).toBe(5);
    expect(count(svg, 'class="sample wrong"')).toBe(2);
    expect(svg).toContain('pred 0 / true 2');
    expect(svg).toContain('rgb(255,255,255)'); // a pixel of value 1
    expect(() => samplesSvg(images, h, w, [1, 2], [1])).toThrow(/2 true labels but 1/);
    expect(() => samplesSvg(images, h, w, [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])).toThrow(/need/);
  });
});

describe('curves', () => {
  it('draws loss and accuracy panels with train and validation legend entries', () => {
    const svg = curvesSvg({
      loss: [1.2, 0.6, 0.4],
      accuracy: [0.6, 0.85, 0.9],
      val_loss: [1.0, 0.7, NaN],
      val_accuracy: [0.7, 0.8, 0.88],
    });
    expectWellFormed(svg);
    expect(svg).toContain('>train</text>');
    expect(svg).toContain('>validation</text>');
    expect(svg).toContain('>Loss</text>');
    expect(svg).toContain('>Accuracy</text>');
    expect(svg).toContain('>epoch</text>');
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(count(svg, '<polyline')).toBe(4);
  });

  it('handles a single epoch by drawing points', () => {
    const svg = curvesSvg({ loss: [0.5], accuracy: [0.9] });
    expectWellFormed(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(count(svg, '<polyline')).toBe(0);
    expect(count(svg, '<g class="series"')).toBe(2);
    expect(svg).not.toContain('>validation</text>');
  });
});

describe('reportMd', () => {
  it('states the numbers and links the files', () => {
    const stats = perClassStats(confusionMatrix(TRUE, PRED, 3));
    const md = reportMd({
      accuracy: 0.9876,
      loss: 0.04321,
      epochs: 3,
      seconds: 42.5,
      examplesPerSecond: 1411.7,
      trainExamples: 60000,
      testExamples: 10000,
      seed: 7,
      cores: 2,
      node: 'v20.20.2',
      date: '2025-01-02T03:04:05Z',
      files: { curves: 'curves.svg', confusion: 'confusion.svg', history: 'history.json', model: 'my model.json' },
      perClass: stats,
    });
    expect(md).toContain('98.76%');
    expect(md).toContain('0.0432');
    expect(md).toContain('| epochs | 3 |');
    expect(md).toContain('1412 examples/s');
    expect(md).toContain('![Training curves](curves.svg)');
    expect(md).toContain('[history.json](history.json)');
    expect(md).toContain('(my%20model.json)');
    expect(md).not.toContain('Sample predictions');
    expect(md).toContain('| 2 | 1.000 | 0.750 |');
  });
});
