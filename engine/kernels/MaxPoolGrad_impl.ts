import type * as tf from '@tensorflow/tfjs';

/**
 * Gradient of 2-D max pooling (NHWC): each dy[n, oh, ow, c] goes to the first position of
 * the largest input in its window (row-major order, as tfjs's cpu backend does), and
 * windows that overlap add up. Writes `dx` (zeroed here).
 */
export function maxPoolGradImpl(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  dx.fill(0);
  // channels innermost, as NHWC lays them out: one pass over each window per output pixel
  const best = new Float64Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const dyo = ((b * oh + y) * ow + xx) * c;
        best.fill(-Infinity);
        at.fill(-1);
        for (let fy = 0; fy < fh; fy += dh) {
          const iy = y * sh - top + fy;
          if (iy < 0 || iy >= h) continue;
          for (let fx = 0; fx < fw; fx += dw) {
            const ix = xx * sw - left + fx;
            if (ix < 0 || ix >= w) continue;
            const base = ((b * h + iy) * w + ix) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              if (v > best[ch] || at[ch] < 0) {
                best[ch] = v;
                at[ch] = base + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[dyo + ch];
      }
    }
  }
}
