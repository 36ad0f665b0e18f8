// int8 max pooling over assembly/kernels/qpool2d.ts: the windows of an int8 tensor (per-tensor scale and
// zero point) pooled to their largest value, with the same quantization. Dequantization is monotonic, so
// this is float max pooling of the dequantized values, exactly. Inference only.
import { pair, windowGeometry } from '../geom.js';
import type { Geometry2d, Task } from '../wasm/abi.js';
import type { Pool2dOptions } from './pool2d.js';
import { int8Input, QTensor, taskRanges } from './quant.js';
import { runTasks, withGeometry } from './util.js';

/** Max pooling of the int8 x (N, H, W, C) (uint8 is taken as int8 shifted by 128): int8 (N, OH, OW, C), x's quantization. */
export function qmaxPool2d(x: QTensor, opts: Pool2dOptions = {}): QTensor {
  const what = opts.name ?? 'qmaxPool2d';
  const xi = int8Input(x, what, 4);
  try {
    const [N, H, W, C] = xi.shape as [number, number, number, number];
    const [KH, KW] = pair(opts.poolSize ?? 2, what, 'poolSize');
    const [SH, SW] = pair(opts.strides ?? opts.poolSize ?? 2, what, 'strides');
    const g = windowGeometry(what, H, W, KH, KW, SH, SW, opts.padding ?? 'valid');
    const { top, bottom, left, right } = g.pad;
    if (top >= KH || bottom >= KH || left >= KW || right >= KW)
      throw new Error(
        `${what}: padding [[${top},${bottom}],[${left},${right}]] must be smaller than the ${KH}x${KW} window on every side`,
      );
    const out = new QTensor([N, g.OH, g.OW, C], 'int8', xi.scale.slice(), xi.zeroPoint.slice());
    const geo: Geometry2d = {
      H,
      W,
      C,
      K: C,
      KH,
      KW,
      SH,
      SW,
      PT: top,
      PL: left,
      OH: g.OH,
      OW: g.OW,
      DH: 1,
      DW: 1,
      G: 1,
    };
    const work = N * g.OH * g.OW * C * KH * KW;
    withGeometry(geo, (geom) =>
      runTasks(
        taskRanges(N, g.OH, work).map(
          ([n0, nc, r0, r1]): Task => [
            'qmaxpool2d_forward',
            out.ptr + n0 * g.OH * g.OW * C,
            xi.ptr + n0 * H * W * C,
            geom,
            nc,
            r0,
            r1,
          ],
        ),
        work,
      ),
    );
    return out;
  } finally {
    if (xi !== x) xi.dispose();
  }
}
