// The int8 layers as a QDQ graph, the layout onnxruntime's quantize_static writes and fuses into its
// own int8 kernels: activations pass QuantizeLinear -> DequantizeLinear (per tensor; simdnet's int8
// zero points), the int8 kernel is an int8 initializer read by DequantizeLinear (axis 0, one scale per
// output channel, zero points 0), the bias an int32 initializer at scale inputScale * kernelScale[c]
// (quantized as the int8 op quantizes it), then Conv / Gemm in float, the fused relu or relu6, and the
// output's QuantizeLinear -> DequantizeLinear. Weight-only layers ('float32') get the DequantizeLinear
// kernel and a float input. FakeQuant is QuantizeLinear and/or DequantizeLinear (Cast for the integers
// simdnet holds as float32).
import { convGeometry, type ConvWindowOptions } from '../../../geom.js';
import type { FakeQuant, QuantizedLayerConfig } from '../../../quant/layers.js';
import { type Emitter, type Emitters, type GraphWriter, type LayerStep, int, ints, pair, weightData } from './graph.js';

const ONNX_TYPE = { float: 1, uint8: 2, int8: 3, int32: 6 } as const;
type IntType = 'uint8' | 'int8' | 'int32';

/** Round half to even (the int8 ops quantize their bias so). */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** An integer initializer (little-endian raw data). */
function intInit(g: GraphWriter, name: string, v: ArrayLike<number>, dims: number[], dt: IntType): string {
  const n = g.unique(name);
  const size = dt === 'int32' ? 4 : 1;
  const raw = new Uint8Array(v.length * size);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < v.length; i++) {
    if (dt === 'int32') dv.setInt32(i * 4, v[i]!, true);
    else if (dt === 'int8') dv.setInt8(i, v[i]!);
    else dv.setUint8(i, v[i]!);
  }
  g.inits.push({ name: n, dims, data_type: ONNX_TYPE[dt], raw_data: raw });
  return n;
}

/** QuantizeLinear then DequantizeLinear of the current value, per tensor. */
function qdq(g: GraphWriter, name: string, scale: number, zp: number, dt: 'int8' | 'uint8'): void {
  const s = g.scalarInit(`${name}/scale`, scale);
  const z = intInit(g, `${name}/zero_point`, [zp], [], dt);
  g.node('QuantizeLinear', name, [g.cur, s, z]);
  g.node('DequantizeLinear', name, [g.cur, s, z]);
}

/** The float kernel K-channel weight as DequantizeLinear of its int8 values (ONNX order, channel axis 0). */
function kernelDQ(g: GraphWriter, name: string, q: Int8Array | number[], dims: number[], scales: number[]): string {
  const K = dims[0]!;
  const per = scales.length > 1;
  const w = intInit(g, `${name}/kernel_q`, q, dims, 'int8');
  const s = g.init(`${name}/kernel_scale`, Float32Array.from(per ? scales : [scales[0]!]), per ? [K] : []);
  const z = intInit(g, `${name}/kernel_zero_point`, new Array(per ? K : 1).fill(0), per ? [K] : [], 'int8');
  return g.node('DequantizeLinear', `${name}/kernel`, [w, s, z], per ? [int('axis', 0)] : []);
}

/** The bias input (none without useBias): int32 DequantizeLinear in int8 mode, float otherwise. */
function biasInput(g: GraphWriter, st: LayerStep, K: number): string[] {
  const { layer, name } = st;
  const qc = st.cfg as unknown as QuantizedLayerConfig;
  if ((qc.layer as { useBias?: boolean }).useBias === false) return [];
  const b = weightData(layer, 'bias');
  if (!b || b.data.length !== K)
    throw new Error(`toONNX: layer ${name} (${layer.className}) has useBias but no bias of ${K} values`);
  if (qc.activations !== 'int8') return [g.init(`${name}/bias`, b.data, [K])];
  const xs = Math.fround(qc.inputScale!);
  const ws = (c: number) => Math.fround(qc.kernelScale[qc.kernelScale.length > 1 ? c : 0]!);
  const q = Array.from(b.data, (v, c) => roundEven(v / (xs * ws(c))));
  const w = intInit(g, `${name}/bias_q`, q, [K], 'int32');
  const s = g.init(
    `${name}/bias_scale`,
    Float32Array.from({ length: K }, (_, c) => xs * ws(c)),
    [K],
  );
  const z = intInit(g, `${name}/bias_zero_point`, new Array(K).fill(0), [K], 'int32');
  return [g.node('DequantizeLinear', `${name}/bias`, [w, s, z], [int('axis', 0)])];
}

/** Input quantization, the node `op` on (input, kernel, bias), activation and output quantization. */
function around(g: GraphWriter, st: LayerStep, body: (x: string) => string): void {
  const qc = st.cfg as unknown as QuantizedLayerConfig;
  const act = (qc.layer as { activation?: string }).activation ?? 'linear';
  const int8 = qc.activations === 'int8';
  if (int8) qdq(g, `${st.name}/input`, qc.inputScale!, qc.inputZeroPoint ?? 0, 'int8');
  g.cur = body(g.cur);
  const fused = act === 'relu' || act === 'relu6';
  if (fused || !int8) g.activation(act, st.name);
  if (int8) qdq(g, `${st.name}/output`, qc.outputScale!, qc.outputZeroPoint ?? 0, 'int8');
  if (int8 && !fused) g.activation(act, st.name);
}

/** (KH, KW, C, K) -> (K, C, KH, KW). */
function toOihw(w: Float32Array, KH: number, KW: number, C: number, K: number): number[] {
  const out = new Array<number>(w.length);
  for (let i = 0; i < KH; i++)
    for (let j = 0; j < KW; j++)
      for (let c = 0; c < C; c++)
        for (let k = 0; k < K; k++) out[((k * C + c) * KH + i) * KW + j] = w[((i * KW + j) * C + c) * K + k]!;
  return out;
}

const qconv =
  (depthwise: boolean): Emitter =>
  (g, st) => {
    const { layer, name } = st;
    const qc = st.cfg as unknown as QuantizedLayerConfig;
    const inner = qc.layer as unknown as ConvWindowOptions & { kernelSize: unknown; filters?: number };
    g.toNCHW(name, layer.className);
    const [KH, KW] = pair(inner.kernelSize);
    const [H, W, C] = st.inShape as [number, number, number];
    const geo = convGeometry(name, H, W, KH, KW, inner);
    const K = depthwise ? C : inner.filters!;
    const kq = weightData(layer, 'kernel_q');
    const want = depthwise ? [KH, KW, C, 1] : [KH, KW, C, K];
    if (!kq || kq.shape.join() !== want.join())
      throw new Error(`toONNX: layer ${name} (${layer.className}) has no kernel_q of shape [${want}]`);
    const dims = depthwise ? [C, 1, KH, KW] : [K, C, KH, KW];
    const wq = depthwise ? toOihw(kq.data, KH, KW, 1, C) : toOihw(kq.data, KH, KW, C, K);
    const attrs = [
      ints('kernel_shape', [KH, KW]),
      ints('strides', [geo.SH, geo.SW]),
      ints('dilations', [geo.DH, geo.DW]),
      ints('pads', [geo.pad.top, geo.pad.left, geo.pad.bottom, geo.pad.right]),
      int('group', depthwise ? C : 1),
    ];
    around(g, st, (x) =>
      g.node('Conv', name, [x, kernelDQ(g, name, wq, dims, qc.kernelScale), ...biasInput(g, st, K)], attrs),
    );
  };

const qdense: Emitter = (g, st) => {
  const { layer, name } = st;
  const qc = st.cfg as unknown as QuantizedLayerConfig;
  if (g.rank !== 2) throw new Error(`toONNX: layer ${name} (QuantizedDense) needs a flat input; add a Flatten layer`);
  const IN = st.inShape[0]!;
  const OUT = (qc.layer as { units: number }).units;
  const kq = weightData(layer, 'kernel_q');
  if (!kq || kq.shape.join() !== [IN, OUT].join())
    throw new Error(`toONNX: layer ${name} (QuantizedDense) has no kernel_q of shape [${[IN, OUT]}]`);
  // Gemm with transB: the (OUT, IN) weight has its output channels on axis 0, as Conv's.
  const wt = new Array<number>(IN * OUT);
  for (let i = 0; i < IN; i++) for (let o = 0; o < OUT; o++) wt[o * IN + i] = kq.data[i * OUT + o]!;
  around(g, st, (x) =>
    g.node(
      'Gemm',
      name,
      [x, kernelDQ(g, name, wt, [OUT, IN], qc.kernelScale), ...biasInput(g, st, OUT)],
      [int('transB', 1)],
    ),
  );
};

const fakeQuant: Emitter = (g, { layer, name }) => {
  const l = layer as FakeQuant;
  const s = g.scalarInit(`${name}/scale`, l.scale);
  const z = intInit(g, `${name}/zero_point`, [l.zeroPoint], [], l.dtype);
  if (l.mode === 'dequantize') g.node('Cast', name, [g.cur], [int('to', ONNX_TYPE[l.dtype])]);
  if (l.mode !== 'dequantize') g.node('QuantizeLinear', name, [g.cur, s, z]);
  if (l.mode === 'quantize') g.node('Cast', name, [g.cur], [int('to', ONNX_TYPE.float)]);
  else g.node('DequantizeLinear', name, [g.cur, s, z]);
};

/** This family's rows of the exporter's table. */
export const quantEmitters = {
  QuantizedConv2D: qconv(false),
  QuantizedDepthwiseConv2D: qconv(true),
  QuantizedDense: qdense,
  FakeQuant: fakeQuant,
} satisfies Emitters;
