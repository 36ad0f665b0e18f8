// Batch normalization over the last (channel) axis, forward and backward (Keras BatchNormalization).
// Layout: x (R, C) with R = N·H·W rows (NHWC) or R = N (an [N, F] input) and C channels contiguous,
// so SIMD runs over 4 channels at a time, with a scalar tail for C % 4.
// Statistics are summed in f64 in a fixed order. Ops cut the rows into fixed shards; each shard writes
// its own partial sums (batchnorm_stats_sum / _sqdev, batchnorm_backward_sums) and the *_reduce
// kernels add the shards in shard order, so the bits never depend on which thread ran which shard.
// variance is the biased one (÷R), as Keras; invstd = 1/sqrt(variance + eps) is computed in f64 and
// rounded once. xhat = (x - mean) * invstd and y = xhat * gamma + beta are f32, the same in every kernel.
// gamma / beta may be 0 (no scale: 1; no center: 0). Backward functions ACCUMULATE into d*.

// @ts-ignore: decorator
@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

// psum (C) f64 = sum over rows of x[r, c].   x (R, C)
export function batchnorm_stats_sum(psum: usize, x: usize, R: i32, C: i32): void {
  for (let c = 0; c < C; c++) store<f64>(psum + (<usize>c << 3), 0);
  for (let r = 0; r < R; r++) {
    const row = x + (<usize>(r * C) << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const vx = v128.load(row + (<usize>c << 2));
        const p = psum + (<usize>c << 3);
        v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(vx)));
        v128.store(p, f64x2.add(v128.load(p, 16), promoteHigh(vx)), 16);
      }
    }
    for (; c < C; c++) {
      const p = psum + (<usize>c << 3);
      store<f64>(p, load<f64>(p) + <f64>load<f32>(row + (<usize>c << 2)));
    }
  }
}

// psum (C) f64 = sum over rows of (x[r, c] - mean[c])^2, in f64.   x (R, C), mean (C)
export function batchnorm_stats_sqdev(psum: usize, x: usize, mean: usize, R: i32, C: i32): void {
  for (let c = 0; c < C; c++) store<f64>(psum + (<usize>c << 3), 0);
  for (let r = 0; r < R; r++) {
    const row = x + (<usize>(r * C) << 2);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const vx = v128.load(row + (<usize>c << 2));
        const vm = v128.load(mean + (<usize>c << 2));
        const d01 = f64x2.sub(f64x2.promote_low_f32x4(vx), f64x2.promote_low_f32x4(vm));
        const d23 = f64x2.sub(promoteHigh(vx), promoteHigh(vm));
        const p = psum + (<usize>c << 3);
        v128.store(p, f64x2.add(v128.load(p), f64x2.mul(d01, d01)));
        v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(d23, d23)), 16);
      }
    }
    for (; c < C; c++) {
      const d = <f64>load<f32>(row + (<usize>c << 2)) - <f64>load<f32>(mean + (<usize>c << 2));
      const p = psum + (<usize>c << 3);
      store<f64>(p, load<f64>(p) + d * d);
    }
  }
}

// out (C) f32 = (sum over shards s of psum[s, c]) / count, shards added in order.   psum (S, C) f64
export function batchnorm_stats_reduce(out: usize, psum: usize, S: i32, C: i32, count: i32): void {
  for (let c = 0; c < C; c++) {
    let t: f64 = 0;
    for (let s = 0; s < S; s++) t += load<f64>(psum + (<usize>(s * C + c) << 3));
    store<f32>(out + (<usize>c << 2), <f32>(t / <f64>count));
  }
}

// invstd (C) = 1 / sqrt(variance + eps), in f64, rounded once.   variance (C)
export function batchnorm_invstd(invstd: usize, variance: usize, C: i32, eps: f64): void {
  for (let c = 0; c < C; c++) {
    const v = <f64>load<f32>(variance + (<usize>c << 2));
    store<f32>(invstd + (<usize>c << 2), <f32>(1.0 / Math.sqrt(v + eps)));
  }
}

// moving (C) = moving * momentum + batch * (1 - momentum), in f32 with both factors rounded from f64
// (Keras: `moving * momentum + batch * (1.0 - momentum)` on float32 variables).
export function batchnorm_update_moving(moving_mean: usize, moving_variance: usize, mean: usize, variance: usize, C: i32, momentum: f64): void {
  const m = <f32>momentum;
  const c1 = <f32>(1.0 - momentum);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(moving_mean + o, load<f32>(moving_mean + o) * m + load<f32>(mean + o) * c1);
    store<f32>(moving_variance + o, load<f32>(moving_variance + o) * m + load<f32>(variance + o) * c1);
  }
}

// out (R, C) = (x - mean) * invstd * gamma + beta.   x (R, C); mean, invstd, gamma, beta (C)
export function batchnorm_forward(out: usize, x: usize, mean: usize, invstd: usize, gamma: usize, beta: usize, R: i32, C: i32): void {
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * C) << 2;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const oc = <usize>c << 2;
        const xhat = f32x4.mul(f32x4.sub(v128.load(x + o + oc), v128.load(mean + oc)), v128.load(invstd + oc));
        const vg = gamma ? v128.load(gamma + oc) : f32x4.splat(1);
        const vb = beta ? v128.load(beta + oc) : f32x4.splat(0);
        v128.store(out + o + oc, f32x4.add(f32x4.mul(xhat, vg), vb));
      }
    }
    for (; c < C; c++) {
      const oc = <usize>c << 2;
      const xhat = (load<f32>(x + o + oc) - load<f32>(mean + oc)) * load<f32>(invstd + oc);
      const g: f32 = gamma ? load<f32>(gamma + oc) : 1;
      const b: f32 = beta ? load<f32>(beta + oc) : 0;
      store<f32>(out + o + oc, xhat * g + b);
    }
  }
}

// psum (2, C) f64: [0, c] = sum over rows of dout, [1, c] = sum of dout * xhat (xhat as in forward).
// dout, x (R, C); mean, invstd (C)
export function batchnorm_backward_sums(psum: usize, dout: usize, x: usize, mean: usize, invstd: usize, R: i32, C: i32): void {
  const pdx = psum + (<usize>C << 3);
  for (let c = 0; c < 2 * C; c++) store<f64>(psum + (<usize>c << 3), 0);
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * C) << 2;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const oc = <usize>c << 2;
        const dy = v128.load(dout + o + oc);
        const xhat = f32x4.mul(f32x4.sub(v128.load(x + o + oc), v128.load(mean + oc)), v128.load(invstd + oc));
        const dy01 = f64x2.promote_low_f32x4(dy), dy23 = promoteHigh(dy);
        const p = psum + (<usize>c << 3), q = pdx + (<usize>c << 3);
        v128.store(p, f64x2.add(v128.load(p), dy01));
        v128.store(p, f64x2.add(v128.load(p, 16), dy23), 16);
        v128.store(q, f64x2.add(v128.load(q), f64x2.mul(dy01, f64x2.promote_low_f32x4(xhat))));
        v128.store(q, f64x2.add(v128.load(q, 16), f64x2.mul(dy23, promoteHigh(xhat))), 16);
      }
    }
    for (; c < C; c++) {
      const oc = <usize>c << 2;
      const dy = <f64>load<f32>(dout + o + oc);
      const xhat = (load<f32>(x + o + oc) - load<f32>(mean + oc)) * load<f32>(invstd + oc);
      const p = psum + (<usize>c << 3), q = pdx + (<usize>c << 3);
      store<f64>(p, load<f64>(p) + dy);
      store<f64>(q, load<f64>(q) + dy * <f64>xhat);
    }
  }
}

// Adds the S shard partials of batchnorm_backward_sums in shard order, then
//   dgamma (C) += sum(dout * xhat), dbeta (C) += sum(dout)        (each may be 0)
//   means (2, C) f32 = [sum(dout) / count, sum(dout * xhat) / count]   (may be 0; for training dinp)
// psum (S, 2, C) f64
export function batchnorm_backward_reduce(dgamma: usize, dbeta: usize, means: usize, psum: usize, S: i32, C: i32, count: i32): void {
  for (let c = 0; c < C; c++) {
    let sdy: f64 = 0, sdx: f64 = 0;
    for (let s = 0; s < S; s++) {
      const p = psum + (<usize>(2 * s * C + c) << 3);
      sdy += load<f64>(p);
      sdx += load<f64>(p + (<usize>C << 3));
    }
    const o = <usize>c << 2;
    if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + <f32>sdx);
    if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + <f32>sdy);
    if (means) {
      store<f32>(means + o, <f32>(sdy / <f64>count));
      store<f32>(means + (<usize>C << 2) + o, <f32>(sdx / <f64>count));
    }
  }
}

// dinp (R, C) += gamma * invstd * (dout - means[0] - xhat * means[1])   training (means != 0): the
//                                                                       batch statistics depend on x
// dinp (R, C) += gamma * invstd * dout                                  inference (means == 0)
// dout, x (R, C); mean, invstd, gamma (C); means (2, C) from batchnorm_backward_reduce
export function batchnorm_backward_input(dinp: usize, dout: usize, x: usize, mean: usize, invstd: usize, gamma: usize, means: usize, R: i32, C: i32): void {
  const mdx = means + (<usize>C << 2);
  for (let r = 0; r < R; r++) {
    const o = <usize>(r * C) << 2;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const oc = <usize>c << 2;
        const vi = v128.load(invstd + oc);
        const k = gamma ? f32x4.mul(v128.load(gamma + oc), vi) : vi;
        let d = v128.load(dout + o + oc);
        if (means) {
          const xhat = f32x4.mul(f32x4.sub(v128.load(x + o + oc), v128.load(mean + oc)), vi);
          d = f32x4.sub(f32x4.sub(d, v128.load(means + oc)), f32x4.mul(xhat, v128.load(mdx + oc)));
        }
        v128.store(dinp + o + oc, f32x4.add(v128.load(dinp + o + oc), f32x4.mul(k, d)));
      }
    }
    for (; c < C; c++) {
      const oc = <usize>c << 2;
      const vi = load<f32>(invstd + oc);
      const k = gamma ? load<f32>(gamma + oc) * vi : vi;
      let d = load<f32>(dout + o + oc);
      if (means) {
        const xhat = (load<f32>(x + o + oc) - load<f32>(mean + oc)) * vi;
        d = (d - load<f32>(means + oc)) - xhat * load<f32>(mdx + oc);
      }
      store<f32>(dinp + o + oc, load<f32>(dinp + o + oc) + k * d);
    }
  }
}
