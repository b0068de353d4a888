import type * as tf from '@tensorflow/tfjs';

/**
 * Filter gradient of a depthwise convolution (NHWC, unit dilation, channel multiplier q):
 * dW[kh, kw, c, j] = Σ_{n,oh,ow} x[n, oh·sh + kh − top, ow·sw + kw − left, c] · dy[n, oh, ow, c·q + j].
 * One pass over dy; the inner loop runs over contiguous channels. Writes `dw`
 * (KH·KW·C·Q floats, zeroed here).
 */
export function depthwiseBackpropFilterImpl(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  dw: Float32Array,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels: oc } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const q = oc / c;
  dw.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const dyo = ((b * oh + y) * ow + xx) * oc;
        for (let fy = 0; fy < kh; fy++) {
          const iy = y * sh + fy - top;
          if (iy < 0 || iy >= h) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = xx * sw + fx - left;
            if (ix < 0 || ix >= w) continue;
            const xo = ((b * h + iy) * w + ix) * c;
            const wo = (fy * kw + fx) * oc;
            if (q === 1) {
              for (let ch = 0; ch < c; ch++) dw[wo + ch] += x[xo + ch] * dy[dyo + ch];
            } else {
              for (let ch = 0; ch < c; ch++) {
                const xv = x[xo + ch];
                for (let j = 0; j < q; j++) dw[wo + ch * q + j] += xv * dy[dyo + ch * q + j];
              }
            }
          }
        }
      }
    }
  }
}
