/** Per-channel parameters and outputs of batch normalisation in training mode over x[rows, c]. */
export interface BatchNormTrainForward {
  scale: Float32Array;
  offset: Float32Array;
  epsilon: number;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  /** 1 − momentum of tf.layers.batchNormalization. */
  decay: number;
}

/** Outputs of batchNormTrainForwardImpl. */
export interface BatchNormTrainOutputs {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/**
 * Shifted per-channel sums over the rows of a[rows, c]: s1[j] = Σ (a − ka[j]),
 * s2[j] = Σ (a − ka[j])·(b − kb[j]), in float64 (the same sums kernels.c forms).
 */
function channelSums(a: Float32Array, ka: ArrayLike<number>, b: Float32Array, kb: ArrayLike<number>, c: number): [Float64Array, Float64Array] {
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let o = 0; o < a.length; o += c) {
    for (let j = 0; j < c; j++) {
      const da = a[o + j] - ka[j];
      s1[j] += da;
      s2[j] += da * (b[o + j] - kb[j]);
    }
  }
  return [s1, s2];
}

/**
 * Batch normalisation in training mode (Ioffe & Szegedy, "Batch Normalization", ICML 2015,
 * Algorithm 1) as tf.layers computes it: per-channel mean and biased variance of x[rows, c]
 * (c = the last axis), y = (x − mean)·scale/√(variance + ε) + offset, and the layer's moving
 * averages m′ = m − (m − mean)·decay. Sums are shifted by the first row and kept in float64,
 * so large means cost no precision. The JS reference of kernels.c's bn_train_forward.
 */
export function batchNormTrainForwardImpl(x: Float32Array, p: BatchNormTrainForward, out: BatchNormTrainOutputs): void {
  const c = p.scale.length;
  const rows = x.length / c;
  const shift = x.slice(0, c);
  const [s1, s2] = channelSums(x, shift, x, shift, c);
  const k = new Float32Array(c);
  const decay = Math.fround(p.decay);
  for (let j = 0; j < c; j++) {
    const d = s1[j] / rows;
    const mean = Math.fround(shift[j] + d);
    const variance = Math.fround(Math.max(s2[j] / rows - d * d, 0));
    out.mean[j] = mean;
    out.variance[j] = variance;
    k[j] = p.scale[j] / Math.sqrt(Math.fround(variance + p.epsilon));
    out.movingMean[j] = p.movingMean[j] - Math.fround((p.movingMean[j] - mean) * decay);
    out.movingVariance[j] = p.movingVariance[j] - Math.fround((p.movingVariance[j] - variance) * decay);
  }
  for (let o = 0; o < x.length; o += c) {
    for (let j = 0; j < c; j++) out.y[o + j] = (x[o + j] - out.mean[j]) * k[j] + p.offset[j];
  }
}

/** Inputs of batchNormTrainBackwardImpl: the forward's x, statistics and scale, and the output gradients. */
export interface BatchNormTrainBackward {
  x: Float32Array;
  /** Gradient of y. */
  dy: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  scale: Float32Array;
  epsilon: number;
  /** Gradients of the mean and variance outputs (zero when only y feeds the loss). */
  gMean: Float32Array;
  gVariance: Float32Array;
}

/** Gradients batchNormTrainBackwardImpl writes. */
export interface BatchNormTrainGrads {
  dx: Float32Array;
  dScale: Float32Array;
  dOffset: Float32Array;
}

/**
 * Gradient of batchNormTrainForwardImpl with respect to x, scale and offset, including the
 * batch statistics' dependence on x (Ioffe & Szegedy 2015, §3), in two passes:
 * dx = scale·r·(dy − Σdy/n − (x − mean)·r²·Σdy(x − mean)/n) + gMean/n + 2·gVar·(x − mean)/n
 * with r = 1/√(var + ε); dScale = r·Σdy(x − mean); dOffset = Σdy.
 * The JS reference of kernels.c's bn_train_backward.
 */
export function batchNormTrainBackwardImpl(p: BatchNormTrainBackward, out: BatchNormTrainGrads): void {
  const c = p.mean.length;
  const rows = p.x.length / c;
  const [s1, s2] = channelSums(p.dy, new Float32Array(c), p.x, p.mean, c);
  const k1 = new Float32Array(c);
  const k2 = new Float32Array(c);
  const k3 = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const r = 1 / Math.sqrt(p.variance[j] + Math.fround(p.epsilon));
    out.dOffset[j] = s1[j];
    out.dScale[j] = s2[j] * r;
    const a = p.scale[j] * r;
    const b = (-a * r * r * s2[j]) / rows + (2 * p.gVariance[j]) / rows;
    k1[j] = a;
    k2[j] = b;
    k3[j] = (-a * s1[j]) / rows + p.gMean[j] / rows;
  }
  for (let o = 0; o < p.x.length; o += c) {
    for (let j = 0; j < c; j++) out.dx[o + j] = p.dy[o + j] * k1[j] + (p.x[o + j] - p.mean[j]) * k2[j] + k3[j];
  }
}
