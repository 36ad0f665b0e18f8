#!/usr/bin/env node
// Generates the coefficient tables of assembly/erf.ts (erfc and erf in f64 for the exact GELU and Erf kernels)
// from a high-precision reference, and measures the compiled functions against that reference.
//
//   node scripts/erf-coefficients.mjs            print the generated block
//   node scripts/erf-coefficients.mjs --write    replace the generated block in assembly/erf.ts
//   node scripts/erf-coefficients.mjs --check    compile assembly/erf.ts alone (asc) and report its error
//
// The method (see assembly/erf.ts): erfc(t) = exp(-t²) h(t) for t ≥ 0, h = erfcx the scaled complementary
// error function, a smooth function from 1 down to about 1/(t√π): on [0, TABLE_END] one polynomial of degree
// DEGREE per interval of width WIDTH, in powers of (t - interval centre). The fast paths: F(u) = erf(√u)/(2√u)
// and G(u) = F(u) + e^(-u)/√π, one polynomial of degree FAST_DEGREE each on u in [0, FAST_U]. Each polynomial
// interpolates its function at the Chebyshev nodes of its interval; the reference values and the
// interpolating polynomial are computed in binary fixed point (BigInt, FRAC fraction bits) and only the final
// coefficients are rounded to f64. The degrees are set for results rounded to f32 (relative errors of a few
// 1e-14), not for full f64 precision.
//
// Reference: erf(√u)/√u = 2/√π Σ (-1)^n uⁿ / (n! (2n+1)) (the Maclaurin series of erf, exact in u). h(t) =
// e^(t²) - 2/√π Σ 2ⁿ t^(2n+1) / (1·3···(2n+1)) for t < 4 (the cancellation costs under 30 of the FRAC
// bits), and for t ≥ 4 the continued fraction h(t) = 1/√π · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + ...)))),
// run deep enough that doubling its depth changes nothing at 2^-200. The two are checked against each other
// on [4, 6] on every run.
//
// Measured (--check: 120 678 points, erfc on t in [-7, 13.75] and erf on [-6, 6], both shrink levels giving
// the same bits): erfc at most 161 f64 ulps of relative error (1.8e-14; |t| < 0.5: 161, t ≥ 0.5: 157, t < 0: 61),
// rounded to f32 at most 0.499996 f32 ulps; erf (fast path and 1 - erfc) at most 1.3e-15 relative, rounded to
// f32 at most 0.499997 f32 ulps. ERF_CHECK_POINTS=N sets the grid size (default 60000 per pass: about 60 s).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const erfFile = join(root, 'assembly/erf.ts');

// The layout assembly/erf.ts reads (it repeats these numbers next to its code).
const SMALL = 0.5; // |t| below: the check's own reference for erfc uses the erf series
const FAST_U = 2; // the fast polynomials F and G cover u in [0, FAST_U]
const FAST_DEGREE = 12; // degree of F and G in u
const WIDTH = 0.5; // width of each h interval, the first starting at 0
const TABLE_END = 14; // end of the last h interval; h is held at its value at TABLE_END - WIDTH/2 beyond
const DEGREE = 11; // degree of each h polynomial

const FRAC = 320n; // fixed point: a BigInt X stands for X / 2^FRAC
const ONE = 1n << FRAC;

/** @type {(a: bigint, b: bigint) => bigint} */
const mul = (a, b) => (a * b) >> FRAC;
/** @type {(a: bigint, b: bigint) => bigint} */
const div = (a, b) => (a << FRAC) / b;
/** @type {(a: bigint) => bigint} */
const abs = (a) => (a < 0n ? -a : a);

// Exact f64 → fixed point (truncated below 2^-FRAC).
function fix(x) {
  if (x === 0) return 0n;
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(x));
  const bits = dv.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  let p = e - 1075; // x = m 2^p
  if (e === 0) p = -1074;
  else m |= 1n << 52n;
  const s = BigInt(p) + FRAC;
  const v = s >= 0n ? m << s : m >> -s;
  return x < 0 ? -v : v;
}

// Fixed point → nearest f64 (Number(BigInt) rounds to nearest; the power-of-2 scalings are exact).
function unfix(x) {
  const n = Number(x);
  return n * 2 ** -160 * 2 ** -Number(FRAC - 160n);
}

// π by Machin's formula, √π by Newton's method on integers.
function atanInv(k) {
  const K = BigInt(k);
  let term = ONE / K;
  let sum = term;
  for (let n = 1n; term !== 0n; n++) {
    term = term / (K * K);
    sum += (n % 2n ? -term : term) / (2n * n + 1n);
  }
  return sum;
}
const PI = 16n * atanInv(5) - 4n * atanInv(239);
function isqrt(v) {
  let x = 1n << BigInt(Math.ceil(v.toString(2).length / 2) + 1);
  for (;;) {
    const y = (x + v / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
const SQRT_PI = isqrt(PI << FRAC);
const TWO_OVER_SQRT_PI = div(2n * ONE, SQRT_PI);

// e^v for v ≥ 0 in fixed point: e^v = (e^(v / 2^k))^(2^k) with v / 2^k < 1/2 by Taylor series.
function expFix(v) {
  let k = 0n;
  while (v >> k > ONE / 2n) k++;
  const r = v >> k;
  let term = ONE;
  let sum = ONE;
  for (let n = 1n; term !== 0n; n++) {
    term = mul(term, r) / n;
    sum += term;
  }
  for (let i = 0n; i < k; i++) sum = mul(sum, sum);
  return sum;
}

// P(u) = erf(√u)/√u.
function erfOverT(u) {
  let term = ONE; // uⁿ / n!
  let sum = ONE;
  for (let n = 1n; term !== 0n; n++) {
    term = mul(term, u) / n;
    sum += (n % 2n ? -term : term) / (2n * n + 1n);
  }
  return mul(TWO_OVER_SQRT_PI, sum);
}

function erfcxSeries(t) {
  const t2 = mul(t, t);
  let term = t;
  let sum = t;
  for (let n = 1n; term !== 0n; n++) {
    term = mul(term, 2n * t2) / (2n * n + 1n);
    sum += term;
  }
  return expFix(t2) - mul(TWO_OVER_SQRT_PI, sum);
}

function erfcxFraction(t, depth) {
  let f = t;
  for (let k = BigInt(depth); k >= 1n; k--) f = t + div((k * ONE) / 2n, f);
  return div(ONE, mul(SQRT_PI, f));
}

function erfcxCF(t) {
  let depth = 32;
  let h = erfcxFraction(t, depth);
  for (;;) {
    depth *= 2;
    const h2 = erfcxFraction(t, depth);
    if (abs(h2 - h) < 1n << (FRAC - 200n)) return h2;
    h = h2;
  }
}

/** h(t) = e^(t²) erfc(t), t ≥ 0 a fixed-point number. */
function erfcx(t) {
  return t < 4n * ONE ? erfcxSeries(t) : erfcxCF(t);
}

/**
 * Interpolating polynomial through (s_i, y_i), fixed point, as coefficients of powers of s.
 * @param {bigint[]} s @param {bigint[]} y @returns {bigint[]}
 */
function interpolate(s, y) {
  const n = s.length;
  const c = y.slice(); // Newton divided differences
  for (let j = 1; j < n; j++) {
    for (let i = n - 1; i >= j; i--) c[i] = div(c[i] - c[i - 1], s[i] - s[i - j]);
  }
  let p = [c[n - 1]];
  for (let j = n - 2; j >= 0; j--) {
    const q = new Array(p.length + 1).fill(0n);
    for (let i = 0; i < p.length; i++) {
      q[i + 1] += p[i];
      q[i] -= mul(p[i], s[j]);
    }
    q[0] += c[j];
    p = q;
  }
  return p;
}

// Chebyshev nodes of [c - r, c + r] as f64 offsets from c.
function nodes(c, r, n) {
  const out = [];
  for (let k = 0; k < n; k++) out.push(c + r * Math.cos((Math.PI * (2 * k + 1)) / (2 * n)) - c);
  return out;
}

// F(u) = erf(√u) / (2√u) and G(u) = F(u) + e^(-u)/√π, u ≥ 0: erf(t) = 2t F(t²), and with z = x/√2,
// Φ(x) = 1/2 + z F(z²) and d/dx (x Φ(x)) = 1/2 + z G(z²).
const fastF = (u) => erfOverT(u) / 2n;
const fastG = (u) => erfOverT(u) / 2n + div(div(ONE, expFix(u)), SQRT_PI);

function generate() {
  const un = nodes(FAST_U / 2, FAST_U / 2, FAST_DEGREE + 1).map((s) => s + FAST_U / 2);
  const fitted = (fn) =>
    interpolate(
      un.map(fix),
      un.map((u) => fn(fix(u))),
    ).map(unfix);
  const table = [];
  for (let lo = 0; lo < TABLE_END; lo += WIDTH) {
    const c = lo + WIDTH / 2;
    const s = nodes(c, WIDTH / 2, DEGREE + 1);
    const y = s.map((d) => erfcx(fix(c) + fix(d)));
    table.push(interpolate(s.map(fix), y).map(unfix));
  }
  return { F: fitted(fastF), G: fitted(fastG), table };
}

const num = (v) => {
  const s = v.toPrecision(17);
  return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$1$2') : s;
};

function block({ F, G, table }) {
  const lines = ['// BEGIN generated by scripts/erf-coefficients.mjs: do not edit by hand.'];
  for (const [name, p] of [
    ['F', F],
    ['G', G],
  ]) {
    lines.push(`// ${name}(u), u in [0, ${FAST_U}]: coefficients of u^0 .. u^${FAST_DEGREE}.`);
    p.forEach((c, i) => lines.push(`const ${name}${i}: f64 = ${num(c)};`));
  }
  lines.push(
    `// h on [${WIDTH} k, ${WIDTH} (k + 1)], k = 0 .. ${table.length - 1}: coefficients of ` +
      `(t - centre)^0 .. ^${DEGREE}, ${DEGREE + 1} per interval.`,
  );
  lines.push('const H = memory.data<f64>([');
  for (const p of table) {
    for (let i = 0; i < p.length; i += 4)
      lines.push(
        `  ${p
          .slice(i, i + 4)
          .map(num)
          .join(', ')},`,
      );
  }
  lines.push(']);');
  lines.push('// END generated');
  return lines.join('\n');
}

function writeBlock(text) {
  const src = readFileSync(erfFile, 'utf8');
  const a = src.indexOf('// BEGIN generated');
  const b = src.indexOf('// END generated');
  if (a < 0 || b < 0) throw new Error(`${erfFile}: no "// BEGIN generated" ... "// END generated" block`);
  writeFileSync(erfFile, src.slice(0, a) + text + src.slice(b + '// END generated'.length));
}

// --check: compile assembly/erf.ts as its own module (its export erfc) at the shrink levels of the
// builds, then compare with the reference over a dense grid.
function compile(shrink) {
  const asc = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');
  const dir = mkdtempSync(join(tmpdir(), 'erf-'));
  try {
    const out = join(dir, 'erf.wasm');
    const opts = [
      '-O3',
      '--shrinkLevel',
      String(shrink),
      '--enable',
      'simd',
      '--runtime',
      'stub',
      '--noAssert',
      '--use',
      'abort=',
    ];
    execFileSync(process.execPath, [asc, erfFile, ...opts, '--outFile', out], { stdio: 'inherit' });
    const bytes = readFileSync(out);
    // asc also reads the project's asconfig.json: imported memory, as in the builds.
    const env = { memory: new WebAssembly.Memory({ initial: 16, maximum: 65536 }), abort() {} };
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env });
    return /** @type {{ erfc: (x: number) => number, erf: (x: number) => number }} */ (exports);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f64 = new Float64Array(1);
/** y = m 2^p exactly. @param {number} y @returns {[bigint, number]} */
function parts(y) {
  f64[0] = y;
  const e = Number((u64[0] >> 52n) & 0x7ffn);
  const m = u64[0] & ((1n << 52n) - 1n);
  return e === 0 ? [m, -1074] : [m | (1n << 52n), e - 1075];
}
const u64 = new BigUint64Array(f64.buffer);
function binade(x) {
  f64[0] = x;
  return Number((u64[0] >> 52n) & 0x7ffn) - 1023;
}

function check() {
  const mods = [compile(1), compile(2)];
  const erfcs = mods.map((m) => m.erfc);
  const erfc = erfcs[0];
  // Self-check of the reference: series and continued fraction agree where both are cheap.
  for (let t = 4; t <= 6; t += 0.37) {
    const d = abs(erfcxSeries(fix(t)) - erfcxCF(fix(t)));
    if (d > 1n << (FRAC - 160n)) throw new Error(`reference: series and fraction differ at ${t} by ${unfix(d)}`);
  }
  const END = TABLE_END - WIDTH / 2; // h is held constant beyond
  const ts = [0, 1e-300, 1e-30, 2 ** -30, 1e-5, SMALL, END];
  for (let b = WIDTH; b < END; b += WIDTH) ts.push(b, b * (1 - 2 ** -52), b * (1 + 2 ** -52));
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const N = Number(process.env.ERF_CHECK_POINTS ?? 60000);
  for (let i = 0; i < N; i++) ts.push(((i + rnd()) / N) * END);
  for (let i = 0; i < N / 4; i++) ts.push(((i + rnd()) / (N / 4)) * 1.2);
  const all = [...ts, ...ts.filter((t) => t > 0 && t < 7).map((t) => -t)];
  const worst = { small: [0, 0], table: [0, 0], negative: [0, 0] };
  let f32max = 0;
  let f32at = 0;
  let mismatches = 0;
  for (const t of all) {
    const y = erfc(t);
    if (!Object.is(erfcs[1](t), y)) mismatches++;
    const a = Math.abs(t);
    const A = fix(a);
    const H = a < SMALL ? ONE - mul(A, erfOverT(mul(A, A))) : div(erfcx(A), expFix(mul(A, A)));
    const R = t < 0 ? 2n * ONE - H : H; // the true erfc(t), fixed point
    if (R === 0n) continue;
    // y - R, exact: y = m 2^e may lie far below 2^-FRAC, so compare scaled by e^(t²) (t ≥ SMALL)
    let rel;
    if (t >= SMALL) {
      const E = expFix(mul(A, A));
      const h = erfcx(A);
      const [m, p] = parts(y);
      const yE = p >= 0 ? (m * E) << BigInt(p) : (m * E) >> BigInt(-p);
      rel = unfix(div(yE - h, h));
    } else rel = unfix(div(fix(y) - R, R));
    const ref = y / (1 + rel);
    if (ref < 2 ** -1022) continue;
    const ulps = Math.abs(rel) * (ref / 2 ** (binade(ref) - 52));
    const region = t < 0 ? 'negative' : a < SMALL ? 'small' : 'table';
    if (ulps > worst[region][0]) worst[region] = [ulps, t];
    const u32 = 2 ** (Math.max(binade(ref), -126) - 23);
    const e32 = Math.abs(Math.fround(y) - ref) / u32;
    if (e32 > f32max) [f32max, f32at] = [e32, t];
  }
  console.log(`erfc: checked ${all.length} points; shrink levels 1 and 2 differ at ${mismatches}`);
  for (const [k, [u, t]] of Object.entries(worst)) console.log(`  ${k}: max ${u.toFixed(3)} f64 ulps (at t = ${t})`);
  console.log(`  rounded to f32: max ${f32max.toFixed(6)} f32 ulps (at t = ${f32at})`);
  // erf as the Erf kernel computes it (2t F(t²) for |t| < 1.375, else 1 - erfc(|t|)), relative error.
  let erfMax = 0;
  let erfAt = 0;
  let erf32 = 0;
  for (const t of all) {
    if (Math.abs(t) < 1e-60 || Math.abs(t) > 6) continue; // below, t is 0 in the fixed point
    const y = mods[0].erf(t);
    if (!Object.is(mods[1].erf(t), y)) mismatches++;
    const A = fix(Math.abs(t));
    const R = Math.abs(t) < SMALL ? mul(A, erfOverT(mul(A, A))) : ONE - div(erfcx(A), expFix(mul(A, A)));
    const ref = Math.sign(t) * unfix(R);
    const rel = Math.abs((y - ref) / ref);
    if (rel > erfMax) [erfMax, erfAt] = [rel, t];
    const u32 = 2 ** (Math.max(binade(Math.abs(ref)), -126) - 23);
    erf32 = Math.max(erf32, Math.abs(Math.fround(y) - ref) / u32);
  }
  console.log(
    `erf: max relative error ${erfMax.toExponential(2)} (at t = ${erfAt}); rounded to f32: max ${erf32.toFixed(6)} f32 ulps`,
  );
  return mismatches === 0;
}

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--write' && a !== '--check') {
    console.error(`erf-coefficients: unknown option ${a} (use --write and/or --check)`);
    process.exit(2);
  }
}
if (!args.includes('--check') || args.includes('--write')) {
  const text = block(generate());
  if (args.includes('--write')) writeBlock(text);
  else console.log(text);
}
if (args.includes('--check') && !check()) process.exit(1);
