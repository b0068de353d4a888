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
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const dyo = ((b * oh + y) * ow + xx) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < fh; fy += dh) {
            const iy = y * sh - top + fy;
            if (iy < 0 || iy >= h) continue;
            for (let fx = 0; fx < fw; fx += dw) {
              const ix = xx * sw - left + fx;
              if (ix < 0 || ix >= w) continue;
              const i = ((b * h + iy) * w + ix) * c + ch;
              if (x[i] > best || at < 0) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dy[dyo + ch];
        }
      }
    }
  }
}
