// Half precision <-> float32 (src/io/float16.ts), where the format readers look for it: the model
// file's writer (src/io/) needs it too, and the model never imports a file format.
export { float16ToFloat32, float32ToFloat16 } from '../io/float16.js';
