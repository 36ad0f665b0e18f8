// The operator table: one row per ONNX operator of the default domain, naming its converter (on
// model values) and, for operators exporters apply to constants, its folder. import.ts refuses any
// operator without a row before converting anything. A Map, so an op type such as 'constructor'
// or '__proto__' never finds an inherited member.
import * as activation from './activation.js';
import * as concat from './concat.js';
import * as constant from './constant.js';
import * as conv from './conv.js';
import * as conv1d from './conv1d.js';
import type { OpRow } from './node.js';
import * as elementwise from './elementwise.js';
import * as fuseLayerNorm from './fuse-layernorm.js';
import * as gemm from './gemm.js';
import * as norm from './norm.js';
import * as pool from './pool.js';
import * as quant from './quant.js';
import * as resize from './resize.js';
import * as shape from './shape.js';

/** ONNX op type -> how the importer reads it. */
export const OPS: ReadonlyMap<string, OpRow> = new Map<string, OpRow>([
  // Convolutions and pooling
  ['Conv', { convert: conv1d.Conv }],
  ['ConvTranspose', { convert: conv.ConvTranspose }],
  ['MaxPool', { convert: pool.MaxPool }],
  ['AveragePool', { convert: pool.AveragePool }],
  ['GlobalAveragePool', { convert: pool.GlobalAveragePool }],
  ['GlobalMaxPool', { convert: pool.GlobalMaxPool }],
  ['ReduceMean', { convert: pool.ReduceMean }],
  ['ReduceMax', { convert: pool.ReduceMax }],
  ['BatchNormalization', { convert: norm.BatchNormalization }],
  ['LayerNormalization', { convert: fuseLayerNorm.LayerNormalization }],
  ['Pow', { convert: fuseLayerNorm.Pow }],
  // Activations
  ['Relu', { convert: activation.Relu }],
  ['LeakyRelu', { convert: activation.LeakyRelu }],
  ['PRelu', { convert: activation.PRelu }],
  ['Elu', { convert: activation.Elu }],
  ['Selu', { convert: activation.Selu }],
  ['Sigmoid', { convert: activation.Sigmoid }],
  ['HardSigmoid', { convert: activation.HardSigmoid }],
  ['HardSwish', { convert: activation.HardSwish }],
  ['Swish', { convert: activation.Swish }],
  ['Tanh', { convert: activation.Tanh }],
  ['Clip', { convert: activation.Clip }],
  ['Softmax', { convert: activation.Softmax }],
  ['LogSoftmax', { convert: activation.LogSoftmax }],
  ['Gelu', { convert: activation.Gelu }],
  ['Erf', { convert: activation.Erf }],
  // Dense and element-wise arithmetic
  ['Gemm', { convert: gemm.Gemm }],
  ['MatMul', { convert: gemm.MatMul }],
  ['Add', { convert: elementwise.Add, fold: elementwise.foldAdd }],
  ['Sub', { convert: elementwise.Sub, fold: elementwise.foldSub }],
  ['Mul', { convert: elementwise.Mul, fold: elementwise.foldMul }],
  ['Div', { convert: elementwise.Div, fold: elementwise.foldDiv }],
  // Joining, cutting, reshaping, resizing
  ['Concat', { convert: concat.Concat, fold: concat.foldConcat }],
  ['Split', { convert: concat.Split }],
  ['Slice', { convert: concat.Slice, fold: concat.foldSlice }],
  ['Flatten', { convert: shape.Flatten, fold: shape.foldFlatten }],
  ['Reshape', { convert: shape.Reshape, fold: shape.foldReshape }],
  ['Transpose', { convert: shape.Transpose, fold: shape.foldTranspose }],
  ['Squeeze', { convert: shape.Squeeze, fold: shape.foldSqueeze }],
  ['Unsqueeze', { convert: shape.Unsqueeze, fold: shape.foldUnsqueeze }],
  ['Pad', { convert: resize.Pad }],
  ['Resize', { convert: resize.Resize }],
  ['Upsample', { convert: resize.Upsample }],
  // Quantization: QDQ and QOperator (ops/quant.ts)
  ['QuantizeLinear', { convert: quant.QuantizeLinear, fold: quant.foldQuantizeLinear }],
  ['DequantizeLinear', { convert: quant.DequantizeLinear, fold: quant.foldDequantizeLinear }],
  ['QLinearConv', { convert: quant.QLinearConv }],
  ['QLinearMatMul', { convert: quant.QLinearMatMul }],
  // Constants and shape arithmetic (constant or model inputs alike)
  ['Dropout', { convert: constant.Dropout, anyInputs: true }],
  ['Identity', { convert: constant.Identity, anyInputs: true }],
  ['Constant', { convert: constant.Constant, anyInputs: true }],
  ['Shape', { convert: constant.Shape, anyInputs: true }],
  ['Gather', { convert: constant.Gather, anyInputs: true }],
  ['Cast', { convert: constant.Cast, anyInputs: true }],
  ['ConstantOfShape', { convert: constant.ConstantOfShape, anyInputs: true }],
  ['Neg', { convert: constant.Neg, anyInputs: true }],
  ['Floor', { convert: constant.Floor, anyInputs: true }],
  ['Ceil', { convert: constant.Ceil, anyInputs: true }],
  ['Sqrt', { convert: constant.Sqrt, anyInputs: true }],
]);
