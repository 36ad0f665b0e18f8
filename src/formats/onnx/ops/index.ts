// The operator table: one row per ONNX operator of the default domain, naming its converter (on
// model values) and, for operators exporters apply to constants, its folder. import.ts refuses any
// operator without a row before converting anything. A Map, so an op type such as 'constructor'
// or '__proto__' never finds an inherited member.
import { Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, Elu, Selu, HardSigmoid, Clip } from './activation.js';
import { PRelu, Softmax, LogSoftmax } from './activation.js';
import { Concat, Split, Slice, foldConcat, foldSlice } from './concat.js';
import {
  Cast,
  Ceil,
  Constant,
  ConstantOfShape,
  Dropout,
  Floor,
  Gather,
  Identity,
  Neg,
  Shape,
  Sqrt,
} from './constant.js';
import type { OpRow } from './context.js';
import { Conv, ConvTranspose } from './conv.js';
import { Add, Div, Mul, Sub, foldAdd, foldDiv, foldMul, foldSub } from './elementwise.js';
import { Gemm, MatMul } from './gemm.js';
import { BatchNormalization } from './norm.js';
import { AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPool, ReduceMax, ReduceMean } from './pool.js';
import { Pad, Resize, Upsample } from './resize.js';
import { Flatten, Reshape, Squeeze, Transpose, Unsqueeze } from './shape.js';
import { foldFlatten, foldReshape, foldSqueeze, foldTranspose, foldUnsqueeze } from './shape.js';

/** ONNX op type -> how the importer reads it. */
export const OPS: ReadonlyMap<string, OpRow> = new Map<string, OpRow>([
  // Convolutions and pooling
  ['Conv', { convert: Conv }],
  ['ConvTranspose', { convert: ConvTranspose }],
  ['MaxPool', { convert: MaxPool }],
  ['AveragePool', { convert: AveragePool }],
  ['GlobalAveragePool', { convert: GlobalAveragePool }],
  ['GlobalMaxPool', { convert: GlobalMaxPool }],
  ['ReduceMean', { convert: ReduceMean }],
  ['ReduceMax', { convert: ReduceMax }],
  ['BatchNormalization', { convert: BatchNormalization }],
  // Activations
  ['Relu', { convert: Relu }],
  ['LeakyRelu', { convert: LeakyRelu }],
  ['PRelu', { convert: PRelu }],
  ['Elu', { convert: Elu }],
  ['Selu', { convert: Selu }],
  ['Sigmoid', { convert: Sigmoid }],
  ['HardSigmoid', { convert: HardSigmoid }],
  ['HardSwish', { convert: HardSwish }],
  ['Tanh', { convert: Tanh }],
  ['Clip', { convert: Clip }],
  ['Softmax', { convert: Softmax }],
  ['LogSoftmax', { convert: LogSoftmax }],
  // Dense and element-wise arithmetic
  ['Gemm', { convert: Gemm }],
  ['MatMul', { convert: MatMul }],
  ['Add', { convert: Add, fold: foldAdd }],
  ['Sub', { convert: Sub, fold: foldSub }],
  ['Mul', { convert: Mul, fold: foldMul }],
  ['Div', { convert: Div, fold: foldDiv }],
  // Joining, cutting, reshaping, resizing
  ['Concat', { convert: Concat, fold: foldConcat }],
  ['Split', { convert: Split }],
  ['Slice', { convert: Slice, fold: foldSlice }],
  ['Flatten', { convert: Flatten, fold: foldFlatten }],
  ['Reshape', { convert: Reshape, fold: foldReshape }],
  ['Transpose', { convert: Transpose, fold: foldTranspose }],
  ['Squeeze', { convert: Squeeze, fold: foldSqueeze }],
  ['Unsqueeze', { convert: Unsqueeze, fold: foldUnsqueeze }],
  ['Pad', { convert: Pad }],
  ['Resize', { convert: Resize }],
  ['Upsample', { convert: Upsample }],
  // Constants and shape arithmetic (constant or model inputs alike)
  ['Dropout', { convert: Dropout, anyInputs: true }],
  ['Identity', { convert: Identity, anyInputs: true }],
  ['Constant', { convert: Constant, anyInputs: true }],
  ['Shape', { convert: Shape, anyInputs: true }],
  ['Gather', { convert: Gather, anyInputs: true }],
  ['Cast', { convert: Cast, anyInputs: true }],
  ['ConstantOfShape', { convert: ConstantOfShape, anyInputs: true }],
  ['Neg', { convert: Neg, anyInputs: true }],
  ['Floor', { convert: Floor, anyInputs: true }],
  ['Ceil', { convert: Ceil, anyInputs: true }],
  ['Sqrt', { convert: Sqrt, anyInputs: true }],
]);
