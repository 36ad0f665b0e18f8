// Model.predict's inference plan (inference/): it reads the graph, folds BatchNormalization, fuses
// activations, paddings and poolings, keeps packed weights and kernel traces, and runs its own steps
// through the ops. The layers know nothing of it. This module is its entry point.
export { InferencePlan } from './inference/plan.js';
export type { PlanGraph, PlannedStep, Step } from './inference/step.js';
export type { BatchIO, TracedForward } from './inference/trace.js';
export { RULES, type Rule, ruleOf } from './inference/rules.js';
export {
  TRACE_MAX_BYTES,
  inferencePlanEnabled,
  kernelTracesEnabled,
  setInferencePlanEnabled,
  setKernelTracesEnabled,
  weightsChanged,
  weightsVersion,
} from './inference/switches.js';
