// Layer normalization over the trailing D values of each row (Keras LayerNormalization, ONNX
// LayerNormalization, torch.nn.LayerNorm): x (R, D), y = (x - mean) * invstd * gamma + beta with the
// row's mean and biased variance, invstd = 1/sqrt(var + eps). Rows are independent, so one call gives
// the same bits whoever runs it. Sums are f64 in a fixed order; xhat and y are f32 as in batchnorm.ts.
// gamma / beta may be 0 (no scale: 1; no center: 0). The backward ACCUMULATES into dx, dgamma, dbeta;
// a 0 pointer skips that gradient.

// out (R, D), mean (R), invstd (R)  <-  x (R, D), gamma (D), beta (D)
export function layernorm_forward(out: usize, mean: usize, invstd: usize, x: usize, gamma: usize, beta: usize,
  R: i32, D: i32, eps: f64): void {
  for (let r = 0; r < R; r++) {
    const row = x + (<usize>r * <usize>D << 2), yr = out + (<usize>r * <usize>D << 2);
    let s: f64 = 0;
    for (let d = 0; d < D; d++) s += <f64>load<f32>(row + (<usize>d << 2));
    const m = s / <f64>D;
    let q: f64 = 0;
    for (let d = 0; d < D; d++) {
      const v = <f64>load<f32>(row + (<usize>d << 2)) - m;
      q += v * v;
    }
    const mf = <f32>m, inv = <f32>(1.0 / Math.sqrt(q / <f64>D + eps));
    store<f32>(mean + (<usize>r << 2), mf);
    store<f32>(invstd + (<usize>r << 2), inv);
    for (let d = 0; d < D; d++) {
      const o = <usize>d << 2;
      let y = (load<f32>(row + o) - mf) * inv;
      if (gamma) y *= load<f32>(gamma + o);
      if (beta) y += load<f32>(beta + o);
      store<f32>(yr + o, y);
    }
  }
}

// dx (R, D) += invstd * (g - mean_d(g) - xhat * mean_d(g * xhat)), g = dy * gamma;
// dgamma (D) += sum_r dy * xhat; dbeta (D) += sum_r dy.   dy, x (R, D), gamma (D), mean, invstd (R)
export function layernorm_backward(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, gamma: usize,
  mean: usize, invstd: usize, R: i32, D: i32): void {
  if (dx) {
    for (let r = 0; r < R; r++) {
      const base = <usize>r * <usize>D << 2;
      const mf = load<f32>(mean + (<usize>r << 2)), inv = load<f32>(invstd + (<usize>r << 2));
      let sg: f64 = 0, sgx: f64 = 0;
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        const g = <f64>load<f32>(dy + base + o) * (gamma ? <f64>load<f32>(gamma + o) : 1.0);
        sg += g;
        sgx += g * <f64>((load<f32>(x + base + o) - mf) * inv);
      }
      const mg = sg / <f64>D, mgx = sgx / <f64>D;
      for (let d = 0; d < D; d++) {
        const o = <usize>d << 2;
        const g = <f64>load<f32>(dy + base + o) * (gamma ? <f64>load<f32>(gamma + o) : 1.0);
        const xhat = <f64>((load<f32>(x + base + o) - mf) * inv);
        const p = dx + base + o;
        store<f32>(p, load<f32>(p) + <f32>(<f64>inv * (g - mg - xhat * mgx)));
      }
    }
  }
  if (!dgamma && !dbeta) return;
  // Column sums over rows, in row order, in f64.
  for (let d = 0; d < D; d++) {
    const o = <usize>d << 2;
    let sb: f64 = 0, sgm: f64 = 0;
    for (let r = 0; r < R; r++) {
      const at = (<usize>r * <usize>D << 2) + o;
      const g = <f64>load<f32>(dy + at);
      sb += g;
      const mf = load<f32>(mean + (<usize>r << 2)), inv = load<f32>(invstd + (<usize>r << 2));
      sgm += g * <f64>((load<f32>(x + at) - mf) * inv);
    }
    if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + <f32>sgm);
    if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + <f32>sb);
  }
}
