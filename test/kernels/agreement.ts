// The cross-build agreement table of builds.test.ts: one or more cases per kernel family (the basename of
// assembly/kernels/X.ts), each a run of raw kernel calls that builds.test.ts makes twice, once on this
// build's memory and once on the other build instantiated by hand, and whose outputs must agree bit for
// bit. A case reads its inputs from a PRNG seeded by its name, so both runs see the same values.
// Layouts as in src: x (N, H, W, C), filter (KH, KW, C, K), out (N, OH, OW, K).
import * as adv from '../../src/advanced.js';
import type { KernelName } from '../../src/wasm/abi.js';
import { makeRng, type Rng } from '../helpers/check.js';
import { conv2dForward } from '../ref/conv2d.js';
import {
  accTol,
  close,
  distinct,
  type GeometryArgs,
  geomPtr,
  type K,
  type Other,
  otherAlloc,
  otherGeom,
  otherRead,
  rand,
  seedOf,
} from './harness.js';

/** One wasm instance and its memory, as a case sees it. */
export interface Mem {
  k: K;
  /** `n` floats, zeroed or set to `init`. */
  f32(n: number, init?: ArrayLike<number>): number;
  /** i32 values (shapes, strides) in a fresh block. */
  i32(init: ArrayLike<number>): number;
  /** A Geometry2d struct (dilation and groups default to 1). */
  geom(g: GeometryArgs): number;
  read(ptr: number, n: number): Float32Array;
}

/** The outputs of a case by name: arrays read back from memory, or the numbers kernels returned. */
export type Outputs = Record<string, Float32Array | number>;

export interface AgreementCase {
  /** assembly/kernels/<family>.ts */
  family: string;
  name: string;
  /** Every kernel the case calls (checked when it runs). */
  kernels: KernelName[];
  run(m: Mem): Outputs;
  /** Optional check of this build's outputs against the float64 reference. */
  check?(out: Outputs): void;
}

/** This build's engine: arena blocks, released by `done`. */
export function ourMem(k: K): Mem & { done(): void } {
  const arena = adv.getArena();
  const blocks: number[] = [];
  const block = (bytes: number) => {
    const p = arena.alloc(Math.max(bytes, 16));
    blocks.push(p);
    return p;
  };
  return {
    k,
    f32(n, init) {
      const p = block(n * 4);
      if (init) arena.f32().set(init, p >>> 2);
      return p;
    },
    i32(init) {
      const p = block(init.length * 4);
      arena.i32().set(init, p >>> 2);
      return p;
    },
    geom: (g) => {
      const p = geomPtr(g);
      blocks.push(p);
      return p;
    },
    read: (ptr, n) => arena.f32().slice(ptr >>> 2, (ptr >>> 2) + n),
    done() {
      for (const p of blocks) arena.release(p);
    },
  };
}

/** The other build, instantiated by hand over its own memory (bump allocation, never freed). */
export function otherMem(o: Other, k: K = o.k): Mem {
  return {
    k,
    f32: (n, init) => otherAlloc(o, n, init),
    i32(init) {
      const p = otherAlloc(o, init.length);
      new Int32Array(o.memory.buffer).set(init, p >>> 2);
      return p;
    },
    geom: (g) => otherGeom(o, g),
    read: (ptr, n) => otherRead(o, ptr, n),
  };
}

/** `k` with every kernel call recorded by name into `called` (a copy: wasm exports are frozen). */
export function recording(k: K, called: Set<string>): K {
  const wrapped: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(k)) {
    wrapped[name] =
      typeof v === 'function'
        ? (...args: number[]) => {
            called.add(name);
            return (v as (...a: number[]) => unknown)(...args);
          }
        : v;
  }
  return wrapped as unknown as K;
}

const rngOf = (name: string): Rng => makeRng(seedOf(name));

// ---------------------------------------------------------------------------------------------
// conv2d, gemm, dense, dwconv2d, winograd
// ---------------------------------------------------------------------------------------------
interface ConvCase {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PT: number;
  PL: number;
  PB: number;
  PR: number;
  relu: number;
}

function convCase(c: ConvCase): AgreementCase {
  const { N, H, W, C, K: Ko, KH, KW, SH, SW, PT, PL, PB, PR, relu } = c;
  const name = `conv2d fwd/bwd x=[${N},${H},${W},${C}] f=[${KH},${KW},${C},${Ko}] s=[${SH},${SW}]${relu ? ' relu' : ''}`;
  const OH = Math.floor((H + PT + PB - KH) / SH) + 1,
    OW = Math.floor((W + PL + PR - KW) / SW) + 1;
  const KK = KH * KW * C,
    M = OH * OW,
    MB = Math.min(M, 12);
  const inputs = () => {
    const rng = rngOf(name);
    return { x: rand(rng, N * H * W * C), w: rand(rng, KK * Ko), b: rand(rng, Ko), dout: rand(rng, N * M * Ko) };
  };
  return {
    family: 'conv2d',
    name,
    kernels: ['pack_b_size', 'conv2d_forward', 'conv2d_backward_input', 'conv2d_backward_weight'],
    run({ k, f32, geom, read }) {
      const { x, w, b, dout } = inputs();
      const g = geom({ H, W, C, K: Ko, KH, KW, SH, SW, PT, PL, OH, OW });
      const [px, pw, pb, pd] = [x, w, b, dout].map((a) => f32(a.length, a));
      const out = f32(N * M * Ko),
        dx = f32(x.length),
        dw = f32(w.length),
        db = f32(Ko);
      const pack = f32(k.pack_b_size(Math.max(KK, Ko), Math.max(KK, Ko, MB))),
        cols = f32(MB * KK);
      k.conv2d_forward(out, px!, pw!, pb!, pack, cols, g, N, MB, relu);
      k.conv2d_backward_input(dx, pd!, pw!, pack, cols, g, N, MB);
      k.conv2d_backward_weight(dw, db, pd!, px!, cols, pack, g, N, MB);
      return { forward: read(out, N * M * Ko), dx: read(dx, x.length), dw: read(dw, w.length), db: read(db, Ko) };
    },
    check(out) {
      const { x, w, b } = inputs();
      const pad = { top: PT, bottom: PB, left: PL, right: PR };
      const want = conv2dForward(x, w, b, N, H, W, C, Ko, KH, KW, SH, SW, pad, relu === 1).out;
      close(out.forward as Float32Array, want, accTol(KK + 1), `${name} fwd vs ref`);
    },
  };
}

const CONV: AgreementCase[] = [
  { N: 2, H: 7, W: 9, C: 3, K: 5, KH: 3, KW: 2, SH: 2, SW: 1, PT: 1, PL: 1, PB: 1, PR: 0, relu: 0 },
  { N: 1, H: 11, W: 5, C: 17, K: 33, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, PB: 1, PR: 1, relu: 1 },
  { N: 3, H: 6, W: 6, C: 8, K: 7, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, PB: 0, PR: 0, relu: 0 },
  { N: 1, H: 9, W: 7, C: 32, K: 9, KH: 5, KW: 5, SH: 2, SW: 2, PT: 2, PL: 2, PB: 2, PR: 2, relu: 0 },
].map(convCase);

// The packed-weight paths: whole images from a shared pack (relu6), and pixel ranges of one image
// (grouped, dilated).
const CONV_PACKED: AgreementCase = {
  family: 'conv2d',
  name: 'conv2d packed weights: images x=[3,6,7,8] f=[3,3,4,10] groups 2 relu6, pixels 0..17 and 17..30',
  kernels: ['pack_b_size', 'conv2d_pack_weights', 'conv2d_forward_packed', 'conv2d_forward_pixels'],
  run({ k, f32, geom, read }) {
    const rng = rngOf(this.name);
    const [N, H, W, C, Ko, G] = [3, 6, 7, 8, 10, 2];
    const KK = 3 * 3 * (C / G),
      MB = 6;
    const x = f32(N * H * W * C, rand(rng, N * H * W * C, -2, 2)),
      w = f32(KK * Ko, rand(rng, KK * Ko)),
      b = f32(Ko, rand(rng, Ko));
    const g = geom({ H, W, C, K: Ko, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: H, OW: W, DH: 2, DW: 1, G });
    const pack = f32(G * k.pack_b_size(KK, Ko / G));
    k.conv2d_pack_weights(pack, w, b, g);
    const n = N * H * W * Ko,
      out = f32(n),
      cols = f32(MB * KK * G);
    k.conv2d_forward_packed(out, x, pack, cols, g, N, MB, 2);
    const px = f32(H * W * Ko);
    k.conv2d_forward_pixels(px, x, pack, cols, g, MB, 0, 0, 17);
    k.conv2d_forward_pixels(px, x, pack, cols, g, MB, 1, 17, H * W);
    return { pack: read(pack, G * k.pack_b_size(KK, Ko / G)), images: read(out, n), pixels: read(px, H * W * Ko) };
  },
};

const GEMM: AgreementCase = {
  family: 'gemm',
  name: 'pack_b (bias, transposed) and gemm M=13 N=11 K=19, every flag',
  kernels: ['pack_b_size', 'pack_b', 'gemm'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [M, N, Kd] = [13, 11, 19];
    const a = f32(M * Kd, rand(rng, M * Kd)),
      b = f32(Kd * N, rand(rng, Kd * N)),
      bias = f32(N, rand(rng, N));
    const size = k.pack_b_size(Kd, N);
    const pb = f32(size),
      pt = f32(size);
    k.pack_b(pb, b, bias, Kd, N, N, 1);
    k.pack_b(pt, b, 0, Kd, N, 1, Kd);
    const out: Outputs = { packed: read(pb, size), transposed: read(pt, size) };
    for (const flags of [0, 1, 2, 3]) {
      const ldc = N + 2;
      const c = f32(M * ldc, rand(rng, M * ldc));
      k.gemm(c, a, flags & 1 ? pt : pb, M, N, Kd, flags & 2 ? 1 : Kd, flags & 2 ? M : 1, ldc, flags);
      out[`c flags=${flags}`] = read(c, M * ldc);
    }
    return out;
  },
};

const DENSE: AgreementCase = {
  family: 'dense',
  name: 'dense x=[5,17] w=[17,9] relu: forward (packed and by rows), dx, dw, db',
  kernels: ['pack_b_size', 'dense_forward', 'dense_forward_rows', 'dense_backward_input', 'dense_backward_weight'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [N, IN, OUT] = [5, 17, 9];
    const x = f32(N * IN, rand(rng, N * IN)),
      w = f32(IN * OUT, rand(rng, IN * OUT)),
      b = f32(OUT, rand(rng, OUT)),
      dout = f32(N * OUT, rand(rng, N * OUT));
    const y = f32(N * OUT),
      rows = f32(N * OUT),
      dx = f32(N * IN),
      dw = f32(IN * OUT),
      db = f32(OUT);
    k.dense_forward(y, x, w, b, f32(k.pack_b_size(IN, OUT)), N, IN, OUT, 1);
    k.dense_forward_rows(rows, x, w, b, N, IN, OUT, 1);
    k.dense_backward_input(dx, dout, w, f32(k.pack_b_size(OUT, IN)), N, IN, OUT);
    k.dense_backward_weight(dw, db, dout, x, f32(k.pack_b_size(N, OUT)), N, IN, OUT);
    return {
      forward: read(y, N * OUT),
      rows: read(rows, N * OUT),
      dx: read(dx, N * IN),
      dw: read(dw, IN * OUT),
      db: read(db, OUT),
    };
  },
};

const DWCONV: AgreementCase = {
  family: 'dwconv2d',
  name: 'dwconv2d x=[3,9,8,6] k=3x3 M=2 s=1 d=2 p=same: forward (two row ranges, relu), dx, dw, db',
  kernels: ['dwconv2d_forward', 'dwconv2d_backward_input', 'dwconv2d_backward_weight'],
  run({ k, f32, geom, read }) {
    const rng = rngOf(this.name);
    const [N, H, W, C, M] = [3, 9, 8, 6, 2];
    const Ko = C * M;
    const x = f32(N * H * W * C, rand(rng, N * H * W * C)),
      w = f32(9 * Ko, rand(rng, 9 * Ko)),
      b = f32(Ko, rand(rng, Ko)),
      dout = f32(N * H * W * Ko, rand(rng, N * H * W * Ko));
    const g = geom({ H, W, C, K: Ko, KH: 3, KW: 3, SH: 1, SW: 1, PT: 2, PL: 2, OH: H, OW: W, DH: 2, DW: 2, G: C });
    const y = f32(N * H * W * Ko),
      dx = f32(N * H * W * C),
      dw = f32(9 * Ko),
      db = f32(Ko);
    k.dwconv2d_forward(y, x, w, b, g, N, 0, 0, 4);
    k.dwconv2d_forward(y, x, w, b, g, N, 1, 4, H);
    k.dwconv2d_backward_input(dx, dout, w, g, N);
    k.dwconv2d_backward_weight(dw, db, dout, x, g, N);
    return { forward: read(y, N * H * W * Ko), dx: read(dx, N * H * W * C), dw: read(dw, 9 * Ko), db: read(db, Ko) };
  },
};

const WINO_RELU = 1,
  WINO_ACC = 2,
  WINO_POOL = 4;

// F(m, r) on x (N, H, W, C) with 'same' padding: forward, the input gradient (flipped kernel, mirrored
// padding, accumulated onto a prefilled dx), and the weight gradient.
function winogradCase(m: 2 | 4, r: 3 | 5, flags: number): AgreementCase {
  const [N, H, W, C, Ko] = [2, 9, 7, 5, 6];
  const name =
    `winograd F(${m},${r}) x=[${N},${H},${W},${C}] f=[${r},${r},${C},${Ko}] p=same` +
    `${flags & WINO_RELU ? ' relu' : ''}${flags & WINO_POOL ? ' pool' : ''}: forward, dx, dw`;
  return {
    family: 'winograd',
    name,
    kernels: [
      'winograd_pack_size',
      'winograd_weight_work',
      'winograd_forward_work',
      'winograd_weight',
      'winograd_forward',
      'winograd_backward_weight_work',
      'winograd_backward_weight',
      'winograd_weight_grad',
    ],
    run({ k, f32, geom, read }) {
      const rng = rngOf(name);
      const p = (r - 1) / 2,
        alpha = m + r - 1;
      const x = f32(N * H * W * C, rand(rng, N * H * W * C)),
        w = f32(r * r * C * Ko, rand(rng, r * r * C * Ko)),
        b = f32(Ko, rand(rng, Ko)),
        dout = f32(N * H * W * Ko, rand(rng, N * H * W * Ko));
      const tiles = N * Math.ceil(H / m) * Math.ceil(W / m),
        TB = Math.min(8, tiles);
      const fwd = geom({ H, W, C, K: Ko, KH: r, KW: r, SH: 1, SW: 1, PT: p, PL: p, OH: H, OW: W });
      // dx: the same convolution of dout with the flipped kernel, channels swapped, padding r-1 - p.
      const back = geom({ H, W, C: Ko, K: C, KH: r, KW: r, SH: 1, SW: 1, PT: r - 1 - p, PL: r - 1 - p, OH: H, OW: W });
      // U of the (r, r, C, K) weight, or (flip) of its flipped kernel with the channel axes swapped
      const transform = (flip: 0 | 1) => {
        const u = f32(flip ? k.winograd_pack_size(m, r, Ko, C) : k.winograd_pack_size(m, r, C, Ko));
        k.winograd_weight(u, w, f32(k.winograd_weight_work(m, r, C, Ko)), C, Ko, m, r, flip);
        return u;
      };
      const nOut = flags & WINO_POOL ? N * Math.floor(H / 2) * Math.floor(W / 2) * Ko : N * H * W * Ko;
      const y = f32(nOut);
      const work = f32(k.winograd_forward_work(m, r, TB, Math.max(C, Ko), Math.max(C, Ko)));
      k.winograd_forward(y, x, transform(0), b, work, fwd, m, r, TB, 0, tiles, flags, 0, 0);
      const dx0 = rand(rng, N * H * W * C);
      const dx = f32(dx0.length, dx0);
      k.winograd_forward(dx, dout, transform(1), 0, work, back, m, r, TB, 0, tiles, WINO_ACC, 0, 0);
      // dU summed over two calls (tiles 0..5 and the rest), then dW = Gᵀ dU G.
      const du = f32(alpha * alpha * C * Ko),
        bw = f32(k.winograd_backward_weight_work(m, r, TB, C, Ko));
      k.winograd_backward_weight(du, dout, x, bw, fwd, m, r, TB, 0, 5, 0, 0);
      k.winograd_backward_weight(du, dout, x, bw, fwd, m, r, TB, 5, tiles, 0, 0);
      const dw = f32(r * r * C * Ko);
      k.winograd_weight_grad(dw, du, f32(r * alpha * Ko), C, Ko, m, r);
      return { forward: read(y, nOut), dx: read(dx, dx0.length), dw: read(dw, r * r * C * Ko) };
    },
  };
}

const WINOGRAD: AgreementCase[] = [
  winogradCase(2, 3, 0),
  winogradCase(4, 3, WINO_RELU),
  winogradCase(4, 3, WINO_POOL),
  winogradCase(4, 5, 0),
];

// ---------------------------------------------------------------------------------------------
// pool2d, act, loss
// ---------------------------------------------------------------------------------------------
// Max and average pooling over windows, on a few geometries (stride below, at and above the window).
const windowPool = (KH: number, KW: number, SH: number, SW: number, PT: number, PL: number): AgreementCase => {
  const [N, H, W, C] = [2, 7, 9, 5];
  const OH = Math.floor((H + 2 * PT - KH) / SH) + 1,
    OW = Math.floor((W + 2 * PL - KW) / SW) + 1;
  return {
    family: 'pool2d',
    name: `max and avg pooling x=[${N},${H},${W},${C}] ${KH}x${KW} s=[${SH},${SW}] p=${PT},${PL}: forward, backward`,
    kernels: ['maxpool2d_forward', 'maxpool2d_backward', 'avgpool2d_forward', 'avgpool2d_backward'],
    run({ k, f32, geom, read }) {
      const rng = rngOf(this.name);
      const nIn = N * H * W * C,
        nOut = N * OH * OW * C;
      const img = f32(nIn, rand(rng, nIn));
      const g = geom({ H, W, C, K: C, KH, KW, SH, SW, PT, PL, OH, OW });
      const dout = f32(nOut, rand(rng, nOut));
      const [mp, am, ap, dmx, dav] = [nOut, nOut, nOut, nIn, nIn].map((n) => f32(n));
      k.maxpool2d_forward(mp!, am!, img, g, N);
      k.maxpool2d_backward(dmx!, dout, am!, nOut);
      k.avgpool2d_forward(ap!, img, g, N);
      k.avgpool2d_backward(dav!, dout, g, N);
      return {
        maxpool: read(mp!, nOut),
        'maxpool dx': read(dmx!, nIn),
        avgpool: read(ap!, nOut),
        'avgpool dx': read(dav!, nIn),
      };
    },
  };
};

const GLOBAL_POOL: AgreementCase = {
  family: 'pool2d',
  name: 'global max and avg pooling x=[3,10,7]: forward, avg backward',
  kernels: ['global_avgpool2d_forward', 'global_avgpool2d_backward', 'global_maxpool2d_forward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [N, HW, C] = [3, 10, 7];
    const xg = f32(N * HW * C, rand(rng, N * HW * C)),
      dg = f32(N * C, rand(rng, N * C));
    const [ga, gm, gam, gdx] = [N * C, N * C, N * C, N * HW * C].map((n) => f32(n));
    k.global_avgpool2d_forward(ga!, xg, N, HW, C);
    k.global_maxpool2d_forward(gm!, gam!, xg, N, HW, C);
    k.global_avgpool2d_backward(gdx!, dg, N, HW, C);
    return { 'global avg': read(ga!, N * C), 'global max': read(gm!, N * C), 'global avg dx': read(gdx!, N * HW * C) };
  },
};

const POOL: AgreementCase[] = [
  windowPool(3, 3, 2, 2, 1, 1),
  windowPool(2, 2, 2, 2, 0, 0),
  windowPool(3, 2, 1, 2, 1, 0),
  GLOBAL_POOL,
];

// One element-wise activation: its forward and backward kernels (the backward reads y = the output, or x).
interface Unary {
  name: string;
  kernels: [KernelName, KernelName];
  fwd(k: K, out: number, inp: number, n: number): void;
  bwd(k: K, d: number, dy: number, x: number, y: number, n: number): void;
}
const UNARY: Unary[] = [
  {
    name: 'relu',
    kernels: ['relu_forward', 'relu_backward'],
    fwd: (k, o, i, n) => k.relu_forward(o, i, n),
    bwd: (k, d, dy, _x, y, n) => k.relu_backward(d, dy, y, n),
  },
  {
    name: 'sigmoid',
    kernels: ['sigmoid_forward', 'sigmoid_backward'],
    fwd: (k, o, i, n) => k.sigmoid_forward(o, i, n),
    bwd: (k, d, dy, _x, y, n) => k.sigmoid_backward(d, dy, y, n),
  },
  {
    name: 'tanh',
    kernels: ['tanh_forward', 'tanh_backward'],
    fwd: (k, o, i, n) => k.tanh_forward(o, i, n),
    bwd: (k, d, dy, _x, y, n) => k.tanh_backward(d, dy, y, n),
  },
  ...[1, 0.7].map(
    (alpha): Unary => ({
      name: `elu alpha=${alpha}`,
      kernels: ['elu_forward', 'elu_backward'],
      fwd: (k, o, i, n) => k.elu_forward(o, i, n, alpha),
      bwd: (k, d, dy, x, _y, n) => k.elu_backward(d, dy, x, n, alpha),
    }),
  ),
  ...[0.3, 0.01].map(
    (alpha): Unary => ({
      name: `leakyRelu alpha=${alpha}`,
      kernels: ['leaky_relu_forward', 'leaky_relu_backward'],
      fwd: (k, o, i, n) => k.leaky_relu_forward(o, i, n, alpha),
      bwd: (k, d, dy, x, _y, n) => k.leaky_relu_backward(d, dy, x, n, alpha),
    }),
  ),
  {
    name: 'gelu',
    kernels: ['gelu_forward', 'gelu_backward'],
    fwd: (k, o, i, n) => k.gelu_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.gelu_backward(d, dy, x, n),
  },
  {
    name: 'gelu tanh',
    kernels: ['gelu_tanh_forward', 'gelu_tanh_backward'],
    fwd: (k, o, i, n) => k.gelu_tanh_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.gelu_tanh_backward(d, dy, x, n),
  },
  {
    name: 'erf',
    kernels: ['erf_forward', 'erf_backward'],
    fwd: (k, o, i, n) => k.erf_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.erf_backward(d, dy, x, n),
  },
  ...[
    [6, 0, 0],
    [2, 0.2, -0.5],
  ].map(
    ([maxv, slope, t]): Unary => ({
      name: `relu max=${maxv} slope=${slope} threshold=${t}`,
      kernels: ['relu_general_forward', 'relu_general_backward'],
      fwd: (k, o, i, n) => k.relu_general_forward(o, i, n, maxv!, slope!, t!),
      bwd: (k, d, dy, x, _y, n) => k.relu_general_backward(d, dy, x, n, maxv!, slope!, t!),
    }),
  ),
  {
    name: 'hardSigmoid',
    kernels: ['hard_sigmoid_forward', 'hard_sigmoid_backward'],
    fwd: (k, o, i, n) => k.hard_sigmoid_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.hard_sigmoid_backward(d, dy, x, n),
  },
  {
    name: 'hardSwish',
    kernels: ['hard_swish_forward', 'hard_swish_backward'],
    fwd: (k, o, i, n) => k.hard_swish_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.hard_swish_backward(d, dy, x, n),
  },
  {
    name: 'swish',
    kernels: ['swish_forward', 'swish_backward'],
    fwd: (k, o, i, n) => k.swish_forward(o, i, n),
    bwd: (k, d, dy, x, _y, n) => k.swish_backward(d, dy, x, n),
  },
];

// n = 41: ten SIMD groups and a scalar tail; values spread over [-4, 4), away from every kink.
const unaryCase = (a: Unary): AgreementCase => ({
  family: 'act',
  name: `${a.name} n=41: forward, backward accumulates`,
  kernels: a.kernels,
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = 41;
    const x = f32(
        n,
        Float32Array.from(distinct(rng, n), (v) => v * 4),
      ),
      dy = f32(n, rand(rng, n));
    const y = f32(n),
      dx = f32(n, rand(rng, n));
    a.fwd(k, y, x, n);
    a.bwd(k, dx, dy, x, y, n);
    return { forward: read(y, n), backward: read(dx, n) };
  },
});

const [R_SM, K_SM, INNER_SM] = [6, 11, 3];

const SOFTMAX: AgreementCase = {
  family: 'act',
  name: `softmax (${R_SM}, ${K_SM}); softmax and log-softmax along the middle axis of (${R_SM}, ${K_SM}, ${INNER_SM}): forward, backward`,
  kernels: [
    'softmax_forward',
    'softmax_backward',
    'softmax_axis_forward',
    'softmax_axis_backward',
    'log_softmax_axis_forward',
    'log_softmax_axis_backward',
  ],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = R_SM * K_SM * INNER_SM;
    const lg = f32(n, rand(rng, n, -5, 5)),
      dl = f32(n, rand(rng, n));
    const [sm, sdx, ax, adx] = [R_SM * K_SM, R_SM * K_SM, n, n].map((m) => f32(m));
    k.softmax_forward(sm!, lg, R_SM, K_SM);
    k.softmax_backward(sdx!, dl, sm!, R_SM, K_SM);
    k.softmax_axis_forward(ax!, lg, R_SM, K_SM, INNER_SM);
    k.softmax_axis_backward(adx!, dl, ax!, R_SM, K_SM, INNER_SM);
    const [lx, ldx] = [f32(n), f32(n)];
    k.log_softmax_axis_forward(lx, lg, R_SM, K_SM, INNER_SM);
    k.log_softmax_axis_backward(ldx, dl, lx, R_SM, K_SM, INNER_SM);
    return {
      'log-softmax axis': read(lx, n),
      'log-softmax axis dx': read(ldx, n),
      softmax: read(sm!, R_SM * K_SM),
      'softmax dx': read(sdx!, R_SM * K_SM),
      'softmax axis': read(ax!, n),
      'softmax axis dx': read(adx!, n),
    };
  },
};

const XENT: AgreementCase = {
  family: 'act',
  name: `softmax cross-entropy (${R_SM}, ${K_SM}) one-hot labels: loss, probabilities, dlogits`,
  kernels: ['softmax_xent_forward', 'softmax_xent_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = R_SM * K_SM;
    const lg = f32(n, rand(rng, n, -5, 5));
    const labels = new Float32Array(n);
    for (let r = 0; r < R_SM; r++) labels[r * K_SM + ((r * 7) % K_SM)] = 1;
    const pl = f32(n, labels),
      probs = f32(n),
      dlog = f32(n);
    const loss = k.softmax_xent_forward(probs, lg, pl, R_SM, K_SM);
    k.softmax_xent_backward(dlog, probs, pl, R_SM, K_SM, 1 / R_SM);
    return { loss, probs: read(probs, n), dlogits: read(dlog, n) };
  },
};

const ACT: AgreementCase[] = [...UNARY.map(unaryCase), SOFTMAX, XENT];

const LOSS: AgreementCase = {
  family: 'loss',
  name: 'mse, mae, binary cross-entropy n=37: value and gradient',
  kernels: ['mse_forward', 'mse_backward', 'mae_forward', 'mae_backward', 'bce_forward', 'bce_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = 37;
    const p = f32(n, rand(rng, n, 0.02, 0.98)),
      y = f32(n, rand(rng, n)),
      bits = f32(
        n,
        Float32Array.from(rand(rng, n), (v) => (v > 0 ? 1 : 0)),
      );
    const [dm, da, db] = [n, n, n].map(() => f32(n));
    const out: Outputs = {
      mse: k.mse_forward(p, y, n),
      mae: k.mae_forward(p, y, n),
      bce: k.bce_forward(p, bits, n, 1e-7),
    };
    k.mse_backward(dm!, p, y, n, 1 / n);
    k.mae_backward(da!, p, y, n, 1 / n);
    k.bce_backward(db!, p, bits, n, 1e-7, 1 / n);
    return { ...out, 'mse dp': read(dm!, n), 'mae dp': read(da!, n), 'bce dp': read(db!, n) };
  },
};

const LOSS_LOGITS: AgreementCase = {
  family: 'loss',
  name: 'binary cross-entropy from logits n=37, logits in [-20, 20]: value and gradient',
  kernels: ['bce_logits_forward', 'bce_logits_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = 37;
    const x = f32(
        n,
        Float32Array.from(rand(rng, n), (v) => 20 * v),
      ),
      y = f32(n, rand(rng, n, 0, 1));
    const dx = f32(n, rand(rng, n));
    const loss = k.bce_logits_forward(x, y, n);
    k.bce_logits_backward(dx, x, y, n, 1 / n);
    return { loss, dx: read(dx, n) };
  },
};

// ---------------------------------------------------------------------------------------------
// Layout and data movement: pad2d, resize, augment, permute, slice, merge
// ---------------------------------------------------------------------------------------------
const PAD: AgreementCase = {
  family: 'pad2d',
  name: 'zero padding x=[2,3,5,5] top 1 left 2 (to 6x8): forward, backward accumulates',
  kernels: ['pad2d_forward', 'pad2d_backward'],
  run({ k, f32, geom, read }) {
    const rng = rngOf(this.name);
    const [N, H, W, C, OH, OW] = [2, 3, 5, 5, 6, 8];
    const x = f32(N * H * W * C, rand(rng, N * H * W * C)),
      dout = f32(N * OH * OW * C, rand(rng, N * OH * OW * C));
    const g = geom({ H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH, OW });
    const y = f32(N * OH * OW * C),
      dx = f32(N * H * W * C, rand(rng, N * H * W * C));
    k.pad2d_forward(y, x, g, N, 1, 2);
    k.pad2d_backward(dx, dout, g, N, 1, 2);
    return { forward: read(y, N * OH * OW * C), dx: read(dx, N * H * W * C) };
  },
};

const RESIZE: AgreementCase = {
  family: 'resize',
  name: 'upsampling x=[2,3,4,6] by [2,3], nearest and bilinear: forward, backward accumulates',
  kernels: ['resize_nearest_forward', 'resize_nearest_backward', 'resize_bilinear_forward', 'resize_bilinear_backward'],
  run({ k, f32, geom, read }) {
    const rng = rngOf(this.name);
    const [N, H, W, C, SH, SW] = [2, 3, 4, 6, 2, 3];
    const [OH, OW] = [H * SH, W * SW];
    const nIn = N * H * W * C,
      nOut = N * OH * OW * C;
    const x = f32(nIn, rand(rng, nIn)),
      dout = f32(nOut, rand(rng, nOut)),
      dx0 = rand(rng, nIn);
    const g = geom({ H, W, C, K: C, KH: 1, KW: 1, SH, SW, PT: 0, PL: 0, OH, OW });
    const [yn, yb] = [f32(nOut), f32(nOut)];
    const [dn, db] = [f32(nIn, dx0), f32(nIn, dx0)];
    k.resize_nearest_forward(yn, x, g, N);
    k.resize_nearest_backward(dn, dout, g, N);
    k.resize_bilinear_forward(yb, x, g, N);
    k.resize_bilinear_backward(db, dout, g, N);
    return {
      nearest: read(yn, nOut),
      'nearest dx': read(dn, nIn),
      bilinear: read(yb, nOut),
      'bilinear dx': read(db, nIn),
    };
  },
};

const AUGMENT: AgreementCase = {
  family: 'augment',
  name: 'affine transform x=[2,6,5,6] every interpolation and fill mode, contrast with clipping',
  kernels: ['augment_affine', 'augment_contrast'],
  run({ k, f32, geom, read }) {
    const rng = rngOf(this.name);
    const [N, H, W, C] = [2, 6, 5, 6];
    const n = N * H * W * C;
    const x = f32(n, rand(rng, n));
    const mats = new Float32Array(N * 6);
    for (let i = 0; i < N; i++) {
      const a = rng.uniform(-1, 1),
        s = rng.uniform(0.6, 1.6);
      const [c, si] = [Math.cos(a), Math.sin(a)];
      mats.set([c * s, -si * s, rng.uniform(-W / 3, W / 3) + W / 4, si * s, c * s, rng.uniform(-H / 3, H / 3)], i * 6);
    }
    const pm = f32(mats.length, mats),
      pf = f32(N, [0.5, 1.75]);
    const g = geom({ H, W, C, K: C, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0, OH: H, OW: W });
    const out: Outputs = {};
    // flags: bit 0 bilinear, bits 1-2 the fill mode (constant, nearest, reflect, wrap)
    for (const flags of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const y = f32(n);
      k.augment_affine(y, x, pm, g, N, flags, 0.25);
      out[`affine flags=${flags}`] = read(y, n);
    }
    const yc = f32(n);
    k.augment_contrast(yc, x, pf, g, N, -0.5, 0.5);
    out.contrast = read(yc, n);
    return out;
  },
};

const PERMUTE: AgreementCase = {
  family: 'permute',
  name: 'permute x=[3,4,6] by [2,0,1] and [1,0,2]: forward, backward accumulates',
  kernels: ['permute_forward', 'permute_backward'],
  run({ k, f32, i32, read }) {
    const rng = rngOf(this.name);
    const shape = [3, 4, 6],
      strides = [24, 6, 1];
    const x = f32(72, rand(rng, 72)),
      dout = f32(72, rand(rng, 72));
    const out: Outputs = {};
    for (const perm of [
      [2, 0, 1],
      [1, 0, 2],
    ]) {
      // the output's sizes, then the input's stride along each output axis
      const meta = i32([...perm.map((p) => shape[p]!), ...perm.map((p) => strides[p]!)]);
      const y = f32(72),
        dx = f32(72, rand(rng, 72));
      k.permute_forward(y, x, meta, 3);
      k.permute_backward(dx, dout, meta, 3);
      out[`[${perm}] forward`] = read(y, 72);
      out[`[${perm}] dx`] = read(dx, 72);
    }
    return out;
  },
};

const SLICE: AgreementCase = {
  family: 'slice',
  name: 'slice x=(4, 9, 5) rows 2..7 of the middle axis: forward, backward accumulates',
  kernels: ['slice_forward', 'slice_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [outer, N, inner, begin, M] = [4, 9, 5, 2, 5];
    const x = f32(outer * N * inner, rand(rng, outer * N * inner)),
      dout = f32(outer * M * inner, rand(rng, outer * M * inner));
    const y = f32(outer * M * inner),
      dx = f32(outer * N * inner, rand(rng, outer * N * inner));
    k.slice_forward(y, x, outer, N, inner, begin, M);
    k.slice_backward(dx, dout, outer, N, inner, begin, M);
    return { forward: read(y, outer * M * inner), dx: read(dx, outer * N * inner) };
  },
};

const MERGE: AgreementCase = {
  family: 'merge',
  name: 'broadcast add/sub/mul/maximum/minimum a=[2,3,4] b=[3,1], concat of [2,3] and [2,5] on the last axis',
  kernels: ['merge_binary_forward', 'merge_binary_backward', 'concat_forward', 'concat_backward'],
  run({ k, f32, i32, read }) {
    const rng = rngOf(this.name);
    const a = f32(24, rand(rng, 24)),
      b = f32(3, rand(rng, 3)),
      dout = f32(24, rand(rng, 24));
    const [dims, as, bs] = [i32([2, 3, 4]), i32([12, 4, 1]), i32([0, 1, 0])];
    const out: Outputs = {};
    for (const [op, id] of [
      ['add', 0],
      ['sub', 1],
      ['mul', 2],
      ['maximum', 3],
      ['minimum', 4],
    ] as const) {
      const y = f32(24),
        da = f32(24),
        db = f32(3);
      k.merge_binary_forward(y, a, b, dims, as, bs, 3, id);
      k.merge_binary_backward(da, db, dout, a, b, dims, as, bs, 3, id);
      Object.assign(out, { [op]: read(y, 24), [`${op} da`]: read(da, 24), [`${op} db`]: read(db, 3) });
    }
    const c1 = f32(6, rand(rng, 6)),
      c2 = f32(10, rand(rng, 10)),
      dc = f32(16, rand(rng, 16));
    const cat = f32(16),
      d1 = f32(6),
      d2 = f32(10);
    k.concat_forward(cat, c1, 2, 3, 8, 0);
    k.concat_forward(cat, c2, 2, 5, 8, 3);
    k.concat_backward(d1, dc, 2, 3, 8, 0);
    k.concat_backward(d2, dc, 2, 5, 8, 3);
    return { ...out, concat: read(cat, 16), 'concat d1': read(d1, 6), 'concat d2': read(d2, 10) };
  },
};

// ---------------------------------------------------------------------------------------------
// batchnorm, optim, elementwise
// ---------------------------------------------------------------------------------------------
const BATCHNORM: AgreementCase = {
  family: 'batchnorm',
  name: 'batchnorm R=23 C=13: statistics, moving statistics, forward, every gradient',
  kernels: [
    'batchnorm_stats_sum',
    'batchnorm_stats_reduce',
    'batchnorm_stats_sqdev',
    'batchnorm_invstd',
    'batchnorm_update_moving',
    'batchnorm_forward',
    'batchnorm_backward_sums',
    'batchnorm_backward_reduce',
    'batchnorm_backward_input',
  ],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [R, C] = [23, 13];
    const x = f32(R * C, rand(rng, R * C, -2, 3)),
      gamma = f32(C, rand(rng, C)),
      beta = f32(C, rand(rng, C)),
      dout = f32(R * C, rand(rng, R * C));
    const [mean, variance, invstd, y, dx, dg, db, psum, means] = [C, C, C, R * C, R * C, C, C, 4 * C, 2 * C].map((n) =>
      f32(n),
    );
    const mm = f32(C, rand(rng, C)),
      mv = f32(C, rand(rng, C, 0.5, 2));
    k.batchnorm_stats_sum(psum!, x, R, C);
    k.batchnorm_stats_reduce(mean!, psum!, 1, C, R);
    k.batchnorm_stats_sqdev(psum!, x, mean!, R, C);
    k.batchnorm_stats_reduce(variance!, psum!, 1, C, R);
    k.batchnorm_invstd(invstd!, variance!, C, 1e-3);
    k.batchnorm_update_moving(mm, mv, mean!, variance!, C, 0.99);
    k.batchnorm_forward(y!, x, mean!, invstd!, gamma, beta, R, C);
    k.batchnorm_backward_sums(psum!, dout, x, mean!, invstd!, R, C);
    k.batchnorm_backward_reduce(dg!, db!, means!, psum!, 1, C, R);
    k.batchnorm_backward_input(dx!, dout, x, mean!, invstd!, gamma, means!, R, C);
    return {
      mean: read(mean!, C),
      variance: read(variance!, C),
      invstd: read(invstd!, C),
      'moving mean': read(mm, C),
      'moving variance': read(mv, C),
      out: read(y!, R * C),
      dx: read(dx!, R * C),
      dgamma: read(dg!, C),
      dbeta: read(db!, C),
    };
  },
};

const LAYERNORM: AgreementCase = {
  family: 'layernorm',
  name: 'layer normalization x=(7, 19) with and without gamma/beta: forward, every gradient',
  kernels: ['layernorm_forward', 'layernorm_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [R, D] = [7, 19];
    const x = f32(R * D, rand(rng, R * D, -2, 3)),
      gamma = f32(D, rand(rng, D, 0.5, 1.5)),
      beta = f32(D, rand(rng, D)),
      dy = f32(R * D, rand(rng, R * D));
    const out: Outputs = {};
    for (const affine of [true, false]) {
      const [y, mean, invstd, dx, dg, db] = [R * D, R, R, R * D, D, D].map((n) => f32(n));
      k.layernorm_forward(y!, mean!, invstd!, x, affine ? gamma : 0, affine ? beta : 0, R, D, 1e-3);
      k.layernorm_backward(dx!, dg!, db!, dy, x, affine ? gamma : 0, mean!, invstd!, R, D);
      const tag = affine ? '' : ' (no gamma/beta)';
      Object.assign(out, {
        [`out${tag}`]: read(y!, R * D),
        [`mean${tag}`]: read(mean!, R),
        [`invstd${tag}`]: read(invstd!, R),
        [`dx${tag}`]: read(dx!, R * D),
        [`dgamma${tag}`]: read(dg!, D),
        [`dbeta${tag}`]: read(db!, D),
      });
    }
    return out;
  },
};

// One optimizer, 3 steps over n = 66 parameters (16 SIMD groups and a tail) from the same gradient.
const optimCase = (
  name: string,
  kernel: KernelName,
  slots: string[],
  step: (k: K, p: number, g: number, s: number[], n: number, t: number) => void,
): AgreementCase => ({
  family: 'optim',
  name: `${name}: 3 steps n=66, parameters and every slot`,
  kernels: [kernel],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const n = 66;
    const g = f32(n, rand(rng, n)),
      p = f32(n, rand(rng, n));
    const ss = slots.map(() => f32(n));
    for (let t = 1; t <= 3; t++) step(k, p, g, ss, n, t);
    return Object.fromEntries([['param', read(p, n)], ...slots.map((sl, i) => [sl, read(ss[i]!, n)])]);
  },
});

const OPTIM: AgreementCase[] = [
  optimCase('sgd momentum 0.9', 'sgd_step', ['velocity'], (k, p, g, [v], n) => k.sgd_step(p, g, v!, n, 0.05, 0.9, 0)),
  optimCase('sgd nesterov', 'sgd_step', ['velocity'], (k, p, g, [v], n) => k.sgd_step(p, g, v!, n, 0.05, 0.9, 1)),
  optimCase('adam', 'adam_step', ['m', 'v'], (k, p, g, [m, v], n, t) =>
    k.adam_step(p, g, m!, v!, n, 0.001, 0.9, 0.999, 1e-7, t),
  ),
  optimCase('adamw weight decay 0.004', 'adamw_step', ['m', 'v'], (k, p, g, [m, v], n, t) =>
    k.adamw_step(p, g, m!, v!, n, 0.01, 0.9, 0.999, 1e-7, 0.004, t),
  ),
  optimCase('rmsprop centered, momentum 0.5', 'rmsprop_step', ['velocity', 'momentum', 'average'], (k, p, g, s, n) =>
    k.rmsprop_step(p, g, s[0]!, s[1]!, s[2]!, n, 0.01, 0.9, 0.5, 1e-7, 1),
  ),
  {
    family: 'optim',
    name: 'learning-rate schedules: step decay, cosine decay, linear and cosine annealing',
    kernels: ['lr_step_decay', 'lr_cosine_decay', 'lr_anneal'],
    run: ({ k }) => ({
      'step decay': Float32Array.from([0, 9, 10, 35], (s) => k.lr_step_decay(0.1, 0.5, 10, s)),
      'cosine decay': Float32Array.from([0, 33, 100, 150], (s) => k.lr_cosine_decay(0.1, 0.2, 100, s)),
      anneal: Float32Array.from(
        [0, 0.3, 1].flatMap((pct) => [k.lr_anneal(0.1, 0.001, pct, 0), k.lr_anneal(0.1, 0.001, pct, 1)]),
      ),
    }),
  },
];

const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;

// a op b with b (19 values) repeated along a (38), and with the operands swapped (b op a).
const binaryCase = (op: number): AgreementCase => ({
  family: 'elementwise',
  name: `${BINARY_OPS[op]} a=(38) b=(19) broadcast, both operand orders: forward, da, db; a=(40) b=(8) forward`,
  kernels: ['binary_forward', 'binary_backward'],
  run({ k, f32, read }) {
    const rng = rngOf(this.name);
    const [n, nb] = [38, 19];
    // rows of a multiple of 4 values: the SIMD builds' 4-lane path
    const [n4, nb4] = [40, 8];
    const a4 = f32(n4, rand(rng, n4, 0.5, 2)),
      b4 = f32(nb4, rand(rng, nb4, -2, -0.5));
    // both operands in ±[0.5, 2): either may be the divisor
    const signed = (m: number) => rand(rng, m, 0.5, 2).map((v) => (rng.next() < 0.5 ? -v : v));
    const a = f32(n, signed(n)),
      b = f32(nb, signed(nb)),
      dout = f32(n, rand(rng, n));
    const out: Outputs = {};
    for (const swap of [0, 1]) {
      const y = f32(n),
        da = f32(n),
        db = f32(nb);
      k.binary_forward(y, a, b, n, nb, op, swap);
      k.binary_backward(da, db, dout, a, b, n, nb, op, swap);
      Object.assign(out, {
        [`swap ${swap}`]: read(y, n),
        [`swap ${swap} da`]: read(da, n),
        [`swap ${swap} db`]: read(db, nb),
      });
      const y4 = f32(n4);
      k.binary_forward(y4, a4, b4, n4, nb4, op, swap);
      out[`swap ${swap} rows of 8`] = read(y4, n4);
    }
    return out;
  },
});

const ELEMENTWISE: AgreementCase[] = [
  ...BINARY_OPS.map((_, op) => binaryCase(op)),
  {
    family: 'elementwise',
    name: 'sum_all, add_scalar, add_into, scale, bias_backward, zero_fill, copy_into, find_nonfinite n=38',
    kernels: [
      'sum_all',
      'add_scalar',
      'add_into',
      'bias_backward',
      'scale',
      'find_nonfinite',
      'zero_fill',
      'copy_into',
    ],
    run({ k, f32, read }) {
      const rng = rngOf(this.name);
      const [n, nb] = [38, 19];
      const a = f32(n, rand(rng, n)),
        dout = f32(n, rand(rng, n));
      const c = f32(n, rand(rng, n));
      k.add_scalar(c, 0.25, n);
      k.add_into(c, dout, n);
      k.scale(c, -3, n);
      const bias = f32(nb);
      k.bias_backward(bias, dout, 2, nb);
      const copy = f32(n, rand(rng, n));
      k.zero_fill(copy, 4 * 10);
      k.copy_into(copy + 4 * 20, a, 10);
      const bad = f32(
        n,
        Float32Array.from(rand(rng, n), (v, i) => (i === 29 ? Number.NaN : v)),
      );
      return {
        sum: k.sum_all(a, n),
        'add_scalar, add_into, scale': read(c, n),
        bias_backward: read(bias, nb),
        'zero_fill, copy_into': read(copy, n),
        'find_nonfinite clean': k.find_nonfinite(a, n),
        'find_nonfinite NaN at 29': k.find_nonfinite(bad, n),
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// quant, qgemm, qdwconv2d: 8-bit data travels as bytes packed into i32 words; outputs are read back
// as their integer values (exact in float32)
// ---------------------------------------------------------------------------------------------
const bytesIn = (v: ArrayLike<number>): Int32Array => {
  const b = new Int8Array(Math.ceil(v.length / 4) * 4);
  b.set(v);
  return new Int32Array(b.buffer);
};
const bytesOut = (m: Mem, ptr: number, n: number, signed = true): Float32Array => {
  const buf = m.read(ptr, Math.ceil(n / 4)).buffer;
  return Float32Array.from(signed ? new Int8Array(buf, 0, n) : new Uint8Array(buf, 0, n));
};
const intsIn = (rng: Rng, n: number, lo: number, hi: number): number[] =>
  Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));

// The requantization block of assembly/kernels/quant.ts: [zp, qmin, qmax, 0 | scale f32 (NP) | unused (NP)].
function reqIn(rng: Rng, N: number, zp: number, qmin: number, qmax: number): Int32Array {
  const NP = Math.ceil(N / 8) * 8;
  const v = new Int32Array(4 + 2 * NP);
  v.set([zp, qmin, qmax, 0]);
  const scales = new Float32Array(v.buffer, 16, NP);
  for (let j = 0; j < N; j++) scales[j] = 2 ** -(6 + rng.next() * 6);
  return v;
}

const QUANT: AgreementCase = {
  family: 'quant',
  name: 'quantize int8 (per tensor, per channel C=5) and uint8, dequantize, requantize M=3 N=13 (relu clamp)',
  kernels: ['quantize', 'dequantize', 'requantize', 'requant_size'],
  run(m) {
    const { k, f32, i32, read } = m;
    const rng = rngOf(this.name);
    const n = 35;
    const x = f32(n, rand(rng, n, -3, 3));
    const out: Outputs = {};
    for (const [what, C, qmin, qmax, zp] of [
      ['int8', 1, -128, 127, -3],
      ['int8 per channel', 5, -127, 127, 0],
      ['uint8', 1, 0, 255, 130],
    ] as const) {
      const scales = f32(C, rand(rng, C, 0.01, 0.05)),
        zps = i32(new Array(C).fill(zp));
      const q = f32(Math.ceil(n / 4)),
        back = f32(n);
      k.quantize(q, x, scales, zps, n, C, qmin, qmax);
      k.dequantize(back, q, scales, zps, n, C, qmin < 0 ? 1 : 0);
      out[what] = bytesOut(m, q, n, qmin < 0);
      out[`${what} dequantized`] = read(back, n);
    }
    const [M, N] = [3, 13];
    const acc = i32(intsIn(rng, M * N, -20000, 20000)),
      y = f32(Math.ceil((M * N) / 4));
    const req = reqIn(rng, N, -10, -10, 127);
    if (k.requant_size(N) !== req.length * 4) throw new Error('requant_size: layout changed');
    k.requantize(y, acc, i32(req), M, N);
    out.requantize = bytesOut(m, y, M * N);
    return out;
  },
};

const QGEMM: AgreementCase = {
  family: 'qgemm',
  name: 'qgemm_pack (bias, za=-7), qwiden and qgemm M=11 N=13 K=19 ldc=15; qconv2d x=[2,6,5,7] f=[3,3,7,9] s=2 p=1, 1x1, x=[2,6,5,6] 3x3 p=1, two pixel ranges',
  kernels: [
    'qgemm_pack_size',
    'qgemm_pack',
    'qgemm',
    'qwiden',
    'qconv2d_pack_size',
    'qconv2d_pack',
    'qconv2d_scratch_size',
    'qconv2d_forward',
  ],
  run(m) {
    const { k, f32, i32, geom } = m;
    const rng = rngOf(this.name);
    const [M, N, Kd, ldc] = [11, 13, 19, 15];
    const packed = f32(k.qgemm_pack_size(Kd, N) / 4);
    k.qgemm_pack(packed, i32(bytesIn(intsIn(rng, Kd * N, -127, 127))), i32(intsIn(rng, N, -999, 999)), Kd, N, -7);
    const c = f32(Math.ceil((M * ldc) / 4));
    // A widened to i16 by qwiden (with 2 spare bytes: an odd K's last pair reads one i16 past a row)
    const a8 = i32(bytesIn(intsIn(rng, M * Kd, -128, 127))),
      a = f32(Math.ceil((2 * M * Kd + 2) / 4));
    k.qwiden(a, a8, M * Kd);
    k.qgemm(c, a, packed, i32(reqIn(rng, N, 3, -128, 127)), M, N, Kd, 2 * Kd, ldc);
    const out: Outputs = { qgemm: bytesOut(m, c, M * ldc) };
    const [B, H, W, Ko] = [2, 6, 5, 9];
    // C = 7: odd window rows (a zero row each); C = 6: even ones
    for (const [what, C, KH, S, P, OH, OW] of [
      ['3x3 s=2 p=1', 7, 3, 2, 1, 3, 3],
      ['1x1', 7, 1, 1, 0, H, W],
      ['3x3 s=1 p=1 C=6', 6, 3, 1, 1, H, W],
    ] as const) {
      const KK = KH * KH * C;
      const w = f32(k.qconv2d_pack_size(KH, KH * C, Ko) / 4);
      k.qconv2d_pack(w, i32(bytesIn(intsIn(rng, KK * Ko, -127, 127))), 0, KH, KH * C, Ko, 12);
      const g = geom({ H, W, C, K: Ko, KH, KW: KH, SH: S, SW: S, PT: P, PL: P, OH, OW });
      const y = f32(Math.ceil((B * OH * OW * Ko) / 4));
      const x = i32(bytesIn(intsIn(rng, B * H * W * C, -128, 127)));
      const [req, cols] = [i32(reqIn(rng, Ko, -1, -1, 127)), f32(Math.ceil(k.qconv2d_scratch_size(g, 4) / 4))];
      k.qconv2d_forward(y, x, w, req, cols, g, B, 4, 12, 0, 5);
      k.qconv2d_forward(y, x, w, req, cols, g, B, 4, 12, 5, OH * OW);
      out[`qconv2d ${what}`] = bytesOut(m, y, B * OH * OW * Ko);
    }
    return out;
  },
};

const QDWCONV: AgreementCase = {
  family: 'qdwconv2d',
  name: 'qdwconv2d x=[2,7,6,13] k=3x3 s=1 p=1 za=5, bias; two row ranges',
  kernels: ['qdwconv2d_pack_bytes', 'qdwconv2d_pack', 'qdwconv2d_forward'],
  run(m) {
    const { k, f32, i32, geom } = m;
    const rng = rngOf(this.name);
    const [N, H, W, C] = [2, 7, 6, 13];
    const x = i32(bytesIn(intsIn(rng, N * H * W * C, -128, 127))),
      w = i32(bytesIn(intsIn(rng, 9 * C, -127, 127))),
      b = i32(intsIn(rng, C, -500, 500)),
      req = i32(reqIn(rng, C, 2, -128, 127));
    const g = geom({ H, W, C, K: C, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: H, OW: W });
    const y = f32(Math.ceil((N * H * W * C) / 4));
    const p = f32(k.qdwconv2d_pack_bytes(g) / 4);
    k.qdwconv2d_pack(p, w, b, 5, g);
    k.qdwconv2d_forward(y, x, p, req, g, N, 0, 3);
    k.qdwconv2d_forward(y, x, p, req, g, N, 3, H);
    return { forward: bytesOut(m, y, N * H * W * C) };
  },
};

const QPOOL: AgreementCase = {
  family: 'qpool2d',
  name: 'qmaxpool2d x=[2,7,6,19] 3x3 s=2 p=1 (16 lanes and a tail of 3); two row ranges',
  kernels: ['qmaxpool2d_forward'],
  run(m) {
    const { k, f32, i32, geom } = m;
    const rng = rngOf(this.name);
    const [N, H, W, C] = [2, 7, 6, 19];
    const x = i32(bytesIn(intsIn(rng, N * H * W * C, -128, 127)));
    const g = geom({ H, W, C, K: C, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, OH: 4, OW: 3 });
    const y = f32(Math.ceil((N * 4 * 3 * C) / 4));
    k.qmaxpool2d_forward(y, x, g, N, 0, 2);
    k.qmaxpool2d_forward(y, x, g, N, 2, 4);
    return { forward: bytesOut(m, y, N * 4 * 3 * C) };
  },
};

const QWINOGRAD: AgreementCase = {
  family: 'qwinograd',
  name: 'qwinograd_pack (bias) and qwinograd_forward: x=[2,7,6,13] 3x3 p=1 za=-9 and x=[1,9,8,9] 5x5 p=2 za=4, two tile ranges; qwinograd45 x=[2,9,10,11] 5x5',
  kernels: [
    'qwinograd_pack_size',
    'qwinograd_pack',
    'qwinograd_scratch_size',
    'qwinograd_forward',
    'qwinograd45_pack_size',
    'qwinograd45_pack',
    'qwinograd45_scratch_size',
    'qwinograd45_forward',
  ],
  run(m) {
    const { k, f32, i32, geom } = m;
    const rng = rngOf(this.name);
    const out: Outputs = {};
    for (const [what, B, H, W, C, KS, P, za, Ko] of [
      ['3x3', 2, 7, 6, 13, 3, 1, -9, 11],
      ['5x5', 1, 9, 8, 9, 5, 2, 4, 8],
    ] as const) {
      const w = f32(k.qwinograd_pack_size(KS, KS, C, Ko) / 4);
      k.qwinograd_pack(
        w,
        i32(bytesIn(intsIn(rng, KS * KS * C * Ko, -127, 127))),
        i32(intsIn(rng, Ko, -999, 999)),
        KS,
        KS,
        C,
        Ko,
      );
      const g = geom({ H, W, C, K: Ko, KH: KS, KW: KS, SH: 1, SW: 1, PT: P, PL: P, OH: H, OW: W });
      const y = f32(Math.ceil((B * H * W * Ko) / 4));
      const x = i32(bytesIn(intsIn(rng, B * H * W * C, -128, 127)));
      const tiles = Math.ceil(H / 2) * Math.ceil(W / 2);
      const [req, scratch] = [i32(reqIn(rng, Ko, -2, -128, 127)), f32(Math.ceil(k.qwinograd_scratch_size(g, 4) / 4))];
      k.qwinograd_forward(y, x, w, req, scratch, g, B, 4, za, 0, 5);
      k.qwinograd_forward(y, x, w, req, scratch, g, B, 4, za, 5, tiles);
      out[`qwinograd ${what}`] = bytesOut(m, y, B * H * W * Ko);
    }
    // 5x5 by F(4, 5) along the rows: 11 channels (odd), 10 columns (a partial row tile), two row ranges
    const [H, W, C, Ko] = [9, 10, 11, 12];
    const w = f32(k.qwinograd45_pack_size(C, Ko) / 4);
    k.qwinograd45_pack(w, i32(bytesIn(intsIn(rng, 25 * C * Ko, -127, 127))), i32(intsIn(rng, Ko, -999, 999)), C, Ko);
    const g = geom({ H, W, C, K: Ko, KH: 5, KW: 5, SH: 1, SW: 1, PT: 2, PL: 2, OH: H, OW: W });
    const y = f32(Math.ceil((2 * H * W * Ko) / 4));
    const x = i32(bytesIn(intsIn(rng, 2 * H * W * C, -128, 127)));
    const [req, scratch] = [i32(reqIn(rng, Ko, 3, -128, 127)), f32(Math.ceil(k.qwinograd45_scratch_size(g, 3) / 4))];
    k.qwinograd45_forward(y, x, w, req, scratch, g, 2, 3, -7, 0, 4);
    k.qwinograd45_forward(y, x, w, req, scratch, g, 2, 3, -7, 4, H);
    out['qwinograd45 5x5'] = bytesOut(m, y, 2 * H * W * Ko);
    return out;
  },
};

/** The table: every kernel family exported by the wasm module has at least one case (builds.test.ts checks). */
export const AGREEMENT_CASES: AgreementCase[] = [
  GEMM,
  ...CONV,
  CONV_PACKED,
  DWCONV,
  DENSE,
  ...WINOGRAD,
  ...POOL,
  ...ACT,
  LOSS,
  LOSS_LOGITS,
  PAD,
  RESIZE,
  AUGMENT,
  PERMUTE,
  SLICE,
  MERGE,
  BATCHNORM,
  LAYERNORM,
  ...OPTIM,
  ...ELEMENTWISE,
  QUANT,
  QGEMM,
  QDWCONV,
  QPOOL,
  QWINOGRAD,
];
