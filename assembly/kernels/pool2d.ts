// Max and average pooling, forward and backward. Layouts: inp (N, H, W, C), out (N, OH, OW, C).
// S = strides, PT/PL = top/left padding; all of these but N come in one Geometry2d struct (`geom`,
// assembly/geometry.ts; K is unused). Padded positions never take part: max pooling ignores them
// and average pooling divides by the number of in-bounds pixels (Keras / TF semantics).
// The caller guarantees every window holds at least one in-bounds pixel (padding < window).
// Backward functions ACCUMULATE into dinp; the caller zeroes it.

import { geometry } from "../geometry";

// out, argmax (N,OH,OW,C) i32 = index into inp of the max. Seeded with the window's first in-bounds
// value and strict `>` afterwards, so the first maximum in row-major window order wins — also for
// windows that are all negative or all equal.
// Four channels at a time in the SIMD build: a lane takes a new value only where it is strictly
// greater (f32x4.gt + bitselect), which is the scalar rule lane by lane, so both builds agree.
export function maxpool2d_forward(out: usize, argmax: usize, inp: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  for (let n = 0; n < N; n++) {
    const base = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + KW, W);
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          const lanes = i32x4(0, 1, 2, 3);
          for (; c + 4 <= C; c += 4) {
            const first = base + (h0 * W + w0) * C + c;
            let vbest = v128.load(inp + (<usize>first << 2));
            let best = i32x4.add(i32x4.splat(first), lanes);
            for (let ih = h0; ih < h1; ih++) {
              for (let iw = w0; iw < w1; iw++) {
                const idx = base + (ih * W + iw) * C + c;
                const v = v128.load(inp + (<usize>idx << 2));
                const gt = f32x4.gt(v, vbest);
                vbest = v128.bitselect(v, vbest, gt);
                best = v128.bitselect(i32x4.add(i32x4.splat(idx), lanes), best, gt);
              }
            }
            v128.store(out, vbest);
            v128.store(argmax, best);
            out += 16;
            argmax += 16;
          }
        }
        for (; c < C; c++) {
          let best = base + (h0 * W + w0) * C + c;
          let vbest = load<f32>(inp + (<usize>best << 2));
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) {
              const idx = base + (ih * W + iw) * C + c;
              const v = load<f32>(inp + (<usize>idx << 2));
              if (v > vbest) { vbest = v; best = idx; }
            }
          }
          store<f32>(out, vbest);
          store<i32>(argmax, best);
          out += 4;
          argmax += 4;
        }
      }
    }
  }
}

// dinp[argmax[o]] += dout[o] for every output element o, in order.
export function maxpool2d_backward(dinp: usize, dout: usize, argmax: usize, count: i32): void {
  for (let o = 0; o < count; o++) {
    const idx = <usize>load<i32>(argmax + (<usize>o << 2)) << 2;
    store<f32>(dinp + idx, load<f32>(dinp + idx) + load<f32>(dout + (<usize>o << 2)));
  }
}

// out = mean of the in-bounds pixels of each window.
export function avgpool2d_forward(out: usize, inp: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  for (let n = 0; n < N; n++) {
    const img = inp + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + KW, W);
        const inv: f32 = <f32>1 / <f32>((h1 - h0) * (w1 - w0));
        for (let c = 0; c < C; c++) {
          let s: f32 = 0;
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) {
              s += load<f32>(img + (<usize>((ih * W + iw) * C + c) << 2));
            }
          }
          store<f32>(out, s * inv);
          out += 4;
        }
      }
    }
  }
}

// dinp += dout / count spread over each window's in-bounds pixels.
export function avgpool2d_backward(dinp: usize, dout: usize, geom: usize, N: i32): void {
  const g = geometry(geom);
  const H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PT = g.PT, PL = g.PL;
  const OH = g.OH, OW = g.OW;
  for (let n = 0; n < N; n++) {
    const dimg = dinp + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + KW, W);
        const inv: f32 = <f32>1 / <f32>((h1 - h0) * (w1 - w0));
        for (let c = 0; c < C; c++) {
          const dv = load<f32>(dout) * inv;
          dout += 4;
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) {
              const p = dimg + (<usize>((ih * W + iw) * C + c) << 2);
              store<f32>(p, load<f32>(p) + dv);
            }
          }
        }
      }
    }
  }
}

// Global pooling: inp (N, HW, C) -> out (N, C), HW = H*W pixels of C contiguous channels; SIMD over
// channels. The sum runs over pixels in order (the same order in the scalar build, so the same bits).

// out (N, C) = sum over pixels / HW
export function global_avgpool2d_forward(out: usize, inp: usize, N: i32, HW: i32, C: i32): void {
  const fhw = <f32>HW;
  for (let n = 0; n < N; n++) {
    const orow = out + (<usize>(n * C) << 2);
    const img = inp + (<usize>(n * HW * C) << 2);
    for (let c = 0; c < C; c++) store<f32>(orow + (<usize>c << 2), 0);
    for (let p = 0; p < HW; p++) {
      const row = img + (<usize>(p * C) << 2);
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        for (; c + 4 <= C; c += 4) {
          const oc = <usize>c << 2;
          v128.store(orow + oc, f32x4.add(v128.load(orow + oc), v128.load(row + oc)));
        }
      }
      for (; c < C; c++) {
        const oc = <usize>c << 2;
        store<f32>(orow + oc, load<f32>(orow + oc) + load<f32>(row + oc));
      }
    }
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      const vd = f32x4.splat(fhw);
      for (; c + 4 <= C; c += 4) {
        const oc = <usize>c << 2;
        v128.store(orow + oc, f32x4.div(v128.load(orow + oc), vd));
      }
    }
    for (; c < C; c++) {
      const oc = <usize>c << 2;
      store<f32>(orow + oc, load<f32>(orow + oc) / fhw);
    }
  }
}

// dinp (N, HW, C) += dout (N, C) / HW at every pixel
export function global_avgpool2d_backward(dinp: usize, dout: usize, N: i32, HW: i32, C: i32): void {
  const fhw = <f32>HW;
  for (let n = 0; n < N; n++) {
    const drow = dout + (<usize>(n * C) << 2);
    const img = dinp + (<usize>(n * HW * C) << 2);
    for (let p = 0; p < HW; p++) {
      const row = img + (<usize>(p * C) << 2);
      let c = 0;
      if (ASC_FEATURE_SIMD) {
        const vd = f32x4.splat(fhw);
        for (; c + 4 <= C; c += 4) {
          const oc = <usize>c << 2;
          v128.store(row + oc, f32x4.add(v128.load(row + oc), f32x4.div(v128.load(drow + oc), vd)));
        }
      }
      for (; c < C; c++) {
        const oc = <usize>c << 2;
        store<f32>(row + oc, load<f32>(row + oc) + load<f32>(drow + oc) / fhw);
      }
    }
  }
}

// out, argmax (N, C) i32 = max over pixels and its flat index into inp; strict `>` from the first
// pixel, so the first maximum wins (also when every value is negative or equal). Backward is
// maxpool2d_backward over N*C outputs.
export function global_maxpool2d_forward(out: usize, argmax: usize, inp: usize, N: i32, HW: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const base = n * HW * C;
    const img = inp + (<usize>base << 2);
    const orow = out + (<usize>(n * C) << 2);
    const arow = argmax + (<usize>(n * C) << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const oc = <usize>c << 2;
        let vbest = v128.load(img + oc);
        let vidx = i32x4.add(i32x4.splat(base + c), i32x4(0, 1, 2, 3));
        for (let p = 1; p < HW; p++) {
          const v = v128.load(img + (<usize>(p * C) << 2) + oc);
          const m = f32x4.gt(v, vbest);
          vbest = v128.bitselect(v, vbest, m);
          vidx = v128.bitselect(i32x4.add(i32x4.splat(base + p * C + c), i32x4(0, 1, 2, 3)), vidx, m);
        }
        v128.store(orow + oc, vbest);
        v128.store(arow + oc, vidx);
      }
    }
    for (; c < C; c++) {
      let best = base + c;
      let vbest = load<f32>(inp + (<usize>best << 2));
      for (let p = 1; p < HW; p++) {
        const idx = base + p * C + c;
        const v = load<f32>(inp + (<usize>idx << 2));
        if (v > vbest) { vbest = v; best = idx; }
      }
      store<f32>(orow + (<usize>c << 2), vbest);
      store<i32>(arow + (<usize>c << 2), best);
    }
  }
}
