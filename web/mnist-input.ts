// The draw page's image preparation is the library's own (src/data/mnist-input.ts), shared with the
// CLI's predict so that a digit gets the same input in both.
export { greyFromRgba, inkBox, resizeArea, toMnistInput, type Grey } from '../src/data/mnist-input.js';
