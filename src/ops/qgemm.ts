// The int8 GEMM ops over assembly/kernels/qgemm.ts: dense and 2-D convolution of int8 activations (per
// tensor) with int8 weights (symmetric per output channel), int32 accumulation and float32
// requantization (see ops/quant.ts). The kernel reads the weight as i16 panels with the input's zero
// point folded into the bias; qpack makes them (with the requantization block) once for a layer, and
// opts.packed passes them to every call, which then neither packs nor writes parameters.
import { convGeometry } from '../geom.js';
import { show } from '../show.js';
import { keep, Tensor } from '../tensor.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import { getArena } from '../wasm/arena.js';
import {
  int8Input,
  int8Weight,
  type QConvOptions,
  qOutput,
  type QOutputOptions,
  QTensor,
  requantOf,
  taskRanges,
  withRequant,
} from './quant.js';
import { type QConvAlgorithm, qwinogradPack, qwinogradPays, qwinogradRefusal, qwinogradRun } from './qwinograd.js';
import { blockRows } from './shards.js';
import { k, runTasks, shardRanges, withGeometry, withScratch } from './util.js';

/**
 * An int8 weight packed for the GEMM, with its bias and requantization, for one input and output
 * quantization ({@link qpack}). Owns wasm memory: dispose it with the weight.
 */
export class QPacked {
  /** @internal The weight transformed for integer Winograd, made by the first convolution that takes it. */
  winograd: Tensor | null = null;
  /** @internal */
  constructor(
    /** The weight it was made from. */
    readonly weight: QTensor,
    /** The bias it folded in (null for none). */
    readonly bias: Tensor | null,
    /** @internal Input and output quantization it was made for. */
    readonly key: string,
    /** @internal The panels (assembly/kernels/qgemm.ts). */
    readonly panels: Tensor,
    /** @internal The requantization block (assembly/kernels/quant.ts). */
    readonly req: Tensor,
  ) {}
  get isDisposed(): boolean {
    return this.panels.isDisposed;
  }
  dispose(): void {
    this.panels.dispose();
    this.req.dispose();
    this.winograd?.dispose();
    this.winograd = null;
  }
}

/** Options of the int8 GEMM ops: those of every int8 op, and a packed weight made by {@link qpack}. */
export interface QGemmOptions extends QOutputOptions {
  /** The weight packed by qpack for this weight, bias, input quantization and output options. */
  packed?: QPacked | null;
}

// What a packed weight depends on besides the weight and bias tensors.
function keyOf(xScale: number, xZeroPoint: number, opts: QOutputOptions): string {
  const a = opts.activation ?? 'linear';
  return `${Math.fround(xScale)} ${xZeroPoint} ${Math.fround(opts.outScale)} ${opts.outZeroPoint ?? 0} ${a}`;
}

// [rows, cols] of w as the GEMM's (K, N) matrix: every axis but the last, and the last.
function matrixOf(w: QTensor): [number, number] {
  const cols = w.shape[w.rank - 1]!;
  return [w.size / cols, cols];
}

// Bytes of w's panels: a dense weight as a matrix, a conv weight (KH, KW, C, K) by window rows (qconv2d_pack).
function panelBytes(w: QTensor): number {
  const [rows, cols] = matrixOf(w);
  const kx = k();
  return w.rank === 4 ? kx.qconv2d_pack_size(w.shape[0]!, rows / w.shape[0]!, cols) : kx.qgemm_pack_size(rows, cols);
}

// Packs w into panels (see panelBytes) with the quantized bias at `bias` (0: none) and input zero point za.
function packInto(panels: number, w: QTensor, bias: number, za: number): void {
  const [rows, cols] = matrixOf(w);
  if (w.rank === 4) k().qconv2d_pack(panels, w.ptr, bias, w.shape[0]!, rows / w.shape[0]!, cols, za);
  else k().qgemm_pack(panels, w.ptr, bias, rows, cols, za);
}

/**
 * w (a dense (IN, OUT) or conv (KH, KW, C, K) int8 weight) packed for {@link qdense} / {@link qconv2d}
 * with inputs quantized as `x` (int8, per tensor) and the output options `opts` (bias included).
 */
export function qpack(w: QTensor, x: { scale: number; zeroPoint: number }, opts: QOutputOptions): QPacked {
  const what = opts.name ?? 'qpack';
  if (!(w instanceof QTensor)) throw new Error(`${what}: weight must be a QTensor, got ${show(w)}`);
  const cols = matrixOf(w)[1];
  int8Weight(w, what, w.rank, cols);
  if (!Number.isInteger(x.zeroPoint) || x.zeroPoint < -128 || x.zeroPoint > 127)
    throw new Error(`${what}: the input zero point must be an integer in [-128, 127], got ${show(x.zeroPoint)}`);
  if (w.rank !== 2 && w.rank !== 4)
    throw new Error(`${what}: weight must be a dense (IN, OUT) or conv (KH, KW, C, K) weight, got shape [${w.shape}]`);
  const r = requantOf(x.scale, w, cols, opts, what);
  const panels = new Tensor([Math.ceil(panelBytes(w) / 4)], 'int32', false);
  const req = new Tensor([r.block.length], 'int32', false);
  getArena()
    .i32()
    .set(r.block, req.ptr >>> 2);
  withRequant(r, (_req, bias) => packInto(panels.ptr, w, bias, x.zeroPoint));
  return new QPacked(w, opts.bias ?? null, keyOf(x.scale, x.zeroPoint, opts), panels, req);
}

// opts.packed checked to be for (xi, w, opts), or null when none is given (then the options are checked
// here, so that bad ones throw before any allocation).
function packedOf(xi: QTensor, w: QTensor, opts: QGemmOptions, what: string): QPacked | null {
  const pk = opts.packed;
  if (!pk) {
    requantOf(xi.scale[0]!, w, matrixOf(w)[1], opts, what);
    return null;
  }
  if (!(pk instanceof QPacked) || pk.isDisposed)
    throw new Error(`${what}: packed must be a live QPacked (from qpack), got ${show(pk)}`);
  if (pk.weight !== w || pk.bias !== (opts.bias ?? null) || pk.key !== keyOf(xi.scale[0]!, xi.zeroPoint[0]!, opts))
    throw new Error(`${what}: packed was made for another weight, bias, input quantization or output options`);
  return pk;
}

// Runs fn with the panels and requantization block: pk's, else made for this call.
function withPacked<T>(
  pk: QPacked | null,
  xi: QTensor,
  w: QTensor,
  opts: QOutputOptions,
  what: string,
  fn: (panels: number, req: number) => T,
): T {
  if (pk) return fn(pk.panels.ptr, pk.req.ptr);
  const r = requantOf(xi.scale[0]!, w, matrixOf(w)[1], opts, what);
  return withRequant(r, (req, bias) =>
    withScratch(
      [Math.ceil(panelBytes(w) / 4)],
      (panels) => {
        packInto(panels, w, bias, xi.zeroPoint[0]!);
        return fn(panels, req);
      },
      false,
    ),
  );
}

/** x (N, IN) int8 · w (IN, OUT) int8 + bias, requantized to int8 (TFLite FullyConnected, ONNX QLinearMatMul + bias). */
export function qdense(x: QTensor, w: QTensor, opts: QGemmOptions): QTensor {
  const what = opts.name ?? 'qdense';
  const xi = int8Input(x, what, 2);
  try {
    const [N, IN] = xi.shape as [number, number];
    expectWeight(w, what, 'weight', 2);
    const [WIN, OUT] = w.shape as [number, number];
    if (WIN !== IN)
      throw new Error(`${what}: input has ${IN} features but the weight expects ${WIN} (weight shape [${w.shape}])`);
    int8Weight(w, what, 2, OUT);
    const pk = packedOf(xi, w, opts, what);
    const out = qOutput([N, OUT], opts, what);
    // A widened to i16 once (plus the 2 bytes an odd IN's last pair reads past it)
    withScratch(
      [Math.ceil((2 * N * IN + 4) / 4)],
      (a) => {
        k().qwiden(a, xi.ptr, N * IN);
        withPacked(pk, xi, w, opts, what, (panels, req) =>
          runTasks(
            shardRanges(N).map(
              ([r0, rc]): Task => ['qgemm', out.ptr + r0 * OUT, a + 2 * r0 * IN, panels, req, rc, OUT, IN, 2 * IN, OUT],
            ),
            N * IN * OUT,
          ),
        );
      },
      false,
    );
    return out;
  } finally {
    if (xi !== x) xi.dispose();
  }
}

function expectWeight(w: unknown, what: string, name: string, rank: number): void {
  if (!(w instanceof QTensor)) throw new Error(`${what}: ${name} must be a QTensor, got ${show(w)}`);
  w.data.assertLive();
  if (w.rank !== rank)
    throw new Error(`${what}: ${name} must have rank ${rank}, got shape [${w.shape}] (rank ${w.rank})`);
}

/** Options of {@link qconv2d}: the window options and a packed weight. */
export interface QConv2dOptions extends QConvOptions {
  /** The weight packed by qpack for this weight, bias, input quantization and output options. */
  packed?: QPacked | null;
  /**
   * 'auto' (default): integer Winograd F(2x2, 3x3) where it pays (3x3 and 5x5 kernels at stride 1 over
   * enough channels, see qwinogradPays), else direct; 'winograd' (an error where it does not apply) or
   * 'direct'. All three give the same bits: the Winograd sums are exact.
   */
  algorithm?: QConvAlgorithm;
}

const Q_ALGORITHMS: readonly QConvAlgorithm[] = ['auto', 'direct', 'winograd'];

// Whether the convolution geo runs on integer Winograd (the algorithm checked here).
function takesWinograd(geo: Geometry2d, algorithm: unknown, what: string): boolean {
  const a = algorithm ?? 'auto';
  if (!Q_ALGORITHMS.includes(a as QConvAlgorithm))
    throw new Error(`${what}: algorithm must be one of 'auto', 'direct', 'winograd', got ${show(a)}`);
  if (a === 'direct') return false;
  if (a === 'auto') return qwinogradPays(geo);
  const why = qwinogradRefusal(geo);
  if (why) throw new Error(`${what}: integer Winograd does not apply to ${why}`);
  return true;
}

// The Winograd form of the convolution: pk's transformed weight (made once and kept), or one for this call.
function qconvWinograd(
  out: QTensor,
  xi: QTensor,
  w: QTensor,
  pk: QPacked | null,
  opts: QConv2dOptions,
  geo: Geometry2d,
  what: string,
): void {
  const N = xi.shape[0]!,
    za = xi.zeroPoint[0]!;
  withGeometry(geo, (geom) => {
    if (pk) {
      pk.winograd ??= keep(qwinogradPack(w.ptr, w.shape, requantOf(xi.scale[0]!, w, geo.K, opts, what).bias));
      qwinogradRun(out.ptr, xi.ptr, N, za, pk.winograd.ptr, pk.req.ptr, geo, geom);
      return;
    }
    const r = requantOf(xi.scale[0]!, w, geo.K, opts, what);
    const U = qwinogradPack(w.ptr, w.shape, r.bias);
    try {
      withRequant(r, (req) => qwinogradRun(out.ptr, xi.ptr, N, za, U.ptr, req, geo, geom));
    } finally {
      U.dispose();
    }
  });
}

/** int8 2-D convolution of x (N, H, W, C) with w (KH, KW, C, K) (ONNX QLinearConv, TFLite Conv2D), out int8 (N, OH, OW, K). */
export function qconv2d(x: QTensor, w: QTensor, opts: QConv2dOptions): QTensor {
  const what = opts.name ?? 'qconv2d';
  const xi = int8Input(x, what, 4);
  try {
    const [N, H, W, C] = xi.shape as [number, number, number, number];
    expectWeight(w, what, 'weight (KH, KW, C, K)', 4);
    const [KH, KW, WC, K] = w.shape as [number, number, number, number];
    if (WC !== C)
      throw new Error(
        `${what}: input has ${C} channels but the weight expects ${WC} (weight shape [${w.shape}], input shape [${xi.shape}])`,
      );
    int8Weight(w, what, 4, K);
    const { pad, OH, OW, SH, SW, DH, DW } = convGeometry(what, H, W, KH, KW, opts);
    const pk = packedOf(xi, w, opts, what);
    const geo: Geometry2d = { H, W, C, K, KH, KW, SH, SW, PT: pad.top, PL: pad.left, OH, OW, DH, DW, G: 1 };
    const wino = takesWinograd(geo, opts.algorithm, what);
    const out = qOutput([N, OH, OW, K], opts, what);
    if (wino) {
      try {
        qconvWinograd(out, xi, w, pk, opts, geo, what);
      } catch (e) {
        out.dispose();
        throw e;
      }
      return out;
    }
    const KK = KH * KW * C;
    const MB = blockRows(KK, OH * OW, 32768); // ~64 KB of i16 patches per block
    const work = N * OH * OW * K * KK;
    const ranges = taskRanges(N, OH * OW, work);
    withGeometry(geo, (geom) =>
      withScratch(
        ranges.map(() => Math.ceil(k().qconv2d_scratch_size(geom, MB) / 4)),
        (...scratch) =>
          withPacked(pk, xi, w, opts, what, (panels, req) =>
            runTasks(
              ranges.map(
                ([n0, nc, p0, p1], i): Task => [
                  'qconv2d_forward',
                  out.ptr + n0 * OH * OW * K,
                  xi.ptr + n0 * H * W * C,
                  panels,
                  req,
                  scratch[i]!,
                  geom,
                  nc,
                  MB,
                  xi.zeroPoint[0]!,
                  p0,
                  p1,
                ],
              ),
              work,
            ),
          ),
        false,
      ),
    );
    return out;
  } finally {
    if (xi !== x) xi.dispose();
  }
}
