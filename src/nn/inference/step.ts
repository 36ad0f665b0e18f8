// What the inference plan reads of a graph step, and what it decides for one.
import type { Tensor } from '../../tensor.js';
import type { WinogradPacked } from '../../ops/winograd.js';
import type { DirectPacked } from '../../ops/conv2d.js';
import type { Layer } from '../layer.js';
import type { Pool2dOptions } from '../../ops/pool2d.js';

/** The parts of a graph step the plan reads (the model's GraphStep). */
export interface Step {
  layer: Layer;
  inputs: number[];
  output: number;
  inShapes: number[][];
  outShape: number[];
}

/** The graph the plan runs: steps in topological order; slots 0..inputs-1 hold the inputs. */
export interface PlanGraph {
  steps: readonly Step[];
  outputs: readonly number[];
  slots: number;
}

/** What the plan changes for one step: weights to call it with, a Winograd transform, or skip it. */
export interface PlannedStep {
  /** Replacement [kernel, bias] values (folded, or cut to its live taps). */
  weights?: [Tensor, Tensor | null];
  winogradPacked?: WinogradPacked;
  /** The direct path's packed filter and bias. */
  directPacked?: DirectPacked;
  /** Explicit padding [[top, bottom], [left, right]] replacing the layer's (a ZeroPadding2D taken in). */
  padding?: [[number, number], [number, number]];
  /** Dilation replacing the layer's (1 along an axis whose kernel was cut to one tap). */
  dilationRate?: [number, number];
  /**
   * An int8 layer whose readers are all int8 layers taking its int8 values (same scale and zero point):
   * its float output is left unwritten.
   */
  int8Out?: boolean;
  /** A max pooling of int8 values (a quantized layer's, or another int8 pooling's), with its window. */
  int8Pool?: Pool2dOptions;
  /** A relu or relu6 fused into the output store (the step after it is skipped). */
  activation?: 'relu' | 'relu6';
  /** A 2x2 stride-2 max pooling taken into a Winograd convolution's output transform (the pooling step skipped). */
  pool?: boolean;
  /**
   * The step is an identity here (a BatchNormalization folded into the step before it, a relu fused
   * into it, or a ZeroPadding2D taken into the convolution after it).
   */
  skip?: boolean;
}
