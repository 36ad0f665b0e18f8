// Attributes of 2-d window operators (Conv, ConvTranspose, MaxPool, AveragePool): pairs of
// strides/dilations/kernel sizes, and pads resolved from `pads` or `auto_pad`.
import type { Attrs } from './attrs.js';
import { fail } from './context.js';

export const AUTO_PAD = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const;

/** Pads of a window op, [top, left, bottom, right] resolved from pads / auto_pad. */
export function windowPads(
  what: string,
  attrs: Attrs,
  H: number,
  W: number,
  k: number[],
  s: number[],
  d: number[],
): number[] {
  const auto = attrs.oneOf('auto_pad', AUTO_PAD, 'NOTSET');
  if (auto === 'NOTSET') {
    const p = attrs.ints('pads') ?? [0, 0, 0, 0];
    if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0))
      fail(`${what}: pads must be 4 non-negative integers, got [${p}]`);
    return p;
  }
  if (auto === 'VALID') return [0, 0, 0, 0];
  const one = (n: number, i: number) => {
    const ek = (k[i] - 1) * d[i] + 1;
    const total = Math.max((Math.ceil(n / s[i]) - 1) * s[i] + ek - n, 0);
    const small = Math.floor(total / 2);
    return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  };
  const [t, bo] = one(H, 0),
    [l, r] = one(W, 1);
  return [t, l, bo, r];
}

/** A 2-entry attribute of positive integers (default [dflt, dflt]). */
export function pair2(attrs: Attrs, name: string, dflt: number, what: string): [number, number] {
  const v = attrs.ints(name);
  if (!v) return [dflt, dflt];
  if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1))
    fail(`${what}: ${name} must be 2 positive integers (2-d windows only), got [${v}]`);
  return [v[0], v[1]];
}
