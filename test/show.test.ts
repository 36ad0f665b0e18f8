// Error messages print the value that was wrong as given: NaN, Infinity, -0 and undefined must not
// turn into `null` as JSON.stringify would make them.
import { beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index.js';
import { show } from '../src/show.js';

beforeAll(async () => {
  await sn.ready();
});

describe('show', () => {
  it('prints non-finite numbers, -0 and undefined as themselves, and strings and plain data as JSON', () => {
    expect(show(NaN)).toBe('NaN');
    expect(show(-Infinity)).toBe('-Infinity');
    expect(show(-0)).toBe('-0');
    expect(show(undefined)).toBe('undefined');
    expect(show('a"b')).toBe('"a\\"b"');
    expect(show([1, NaN, [Infinity]])).toBe('[1,NaN,[Infinity]]');
    expect(show({ a: NaN, b: 'x' })).toBe('{"a":NaN,"b":"x"}');
    expect(show(new Float32Array(3))).toBe('Float32Array(3)');
    expect(show(Array.from({ length: 20 }, (_, i) => i))).toBe('[0,1,2,3,4,5,6,7,... 12 more]');
    expect(show(() => 1)).toBe('a function');
  });

  it('errors of layers, ops and optimizers name NaN and Infinity', () => {
    expect(() => sn.layers.dropout({ rate: NaN })).toThrow('Dropout: rate must be a number in [0, 1), got NaN');
    expect(() => new sn.Adam({ learningRate: Infinity })).toThrow(
      /learningRate must be a number in \[0, 1000000\], got Infinity/,
    );
    expect(() => sn.layers.conv2d({ filters: NaN, kernelSize: 3, inputShape: [8, 8, 1] })).toThrow(
      /filters must be a positive integer, got NaN/,
    );
    expect(() => sn.layers.conv2d({ filters: 2, kernelSize: [3, Infinity], inputShape: [8, 8, 1] })).toThrow(
      /kernelSize must be a positive integer, got Infinity/,
    );
  });
});
