/** Result pictures and the report page: pure, browser-safe string builders. */
export { curvesSvg, type History } from './curves.js';
export {
  confusionMatrix,
  perClassStats,
  matrixAccuracy,
  confusionSvg,
  confusionText,
  type ClassStats,
  type ConfusionSvgOptions,
} from './confusion.js';
export { samplesSvg, type SamplesSvgOptions } from './samples.js';
export { reportMd, type ReportInfo, type ReportFiles } from './report.js';
