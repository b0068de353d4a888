/** Gradients of y = (x − mean)·scale/√(variance + ε) + offset with respect to each input. */
export interface BatchNormGrads {
  dx: Float32Array;
  dMean: Float32Array;
  dVariance: Float32Array;
  dScale: Float32Array;
  dOffset: Float32Array;
}

/**
 * All five gradients of batch normalisation (Ioffe & Szegedy, "Batch Normalization", ICML
 * 2015, §3) in two passes over x and dy, for per-channel statistics over the last axis
 * (rows = all other axes). Mean and variance are treated as inputs, exactly as tfjs's
 * FusedBatchNorm gradient does; their own dependence on x flows through the moments' ops.
 * `scale` null means 1.
 */
export function batchNormGradImpl(
  x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array | null,
  epsilon: number, out: BatchNormGrads,
): void {
  const c = mean.length;
  const rows = x.length / c;
  const sumDy = new Float64Array(c);
  const sumDyXc = new Float64Array(c);
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    for (let j = 0; j < c; j++) {
      const d = dy[o + j];
      sumDy[j] += d;
      sumDyXc[j] += d * (x[o + j] - mean[j]);
    }
  }
  const k = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const rs = 1 / Math.sqrt(variance[j] + epsilon);
    const s = scale ? scale[j] : 1;
    k[j] = s * rs;
    out.dOffset[j] = sumDy[j];
    out.dScale[j] = sumDyXc[j] * rs;
    out.dMean[j] = -rs * s * sumDy[j];
    out.dVariance[j] = -0.5 * rs * rs * rs * s * sumDyXc[j];
  }
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    for (let j = 0; j < c; j++) out.dx[o + j] = dy[o + j] * k[j];
  }
}
