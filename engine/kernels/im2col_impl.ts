import type * as tf from '@tensorflow/tfjs';

/**
 * The transposed im2col matrix of an NHWC input: row (kh·KW + kw)·C + c, column
 * (n·OH + oh)·OW + ow holds x[n, oh·sh + kh − top, ow·sw + kw − left, c], or 0 where that
 * falls in the padding. With it a convolution's filter gradient is one matrix product,
 * dW[K, Co] = colsT[K, M] · dy[M, Co] (Chellapilla et al., "High performance convolutional
 * neural networks for document processing", 2006).
 *
 * `out` must hold KH·KW·C·N·OH·OW floats; every one of them is written.
 */
export function im2colTransposed(x: Float32Array, info: tf.backend_util.Conv2DInfo, out: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = n * oh * ow;
  let row = 0;
  for (let fy = 0; fy < kh; fy++) {
    for (let fx = 0; fx < kw; fx++) {
      for (let ch = 0; ch < c; ch++, row++) {
        let o = row * m;
        for (let b = 0; b < n; b++) {
          const xb = b * h * w * c + ch;
          for (let y = 0; y < oh; y++) {
            const iy = y * sh + fy - top;
            if (iy < 0 || iy >= h) {
              out.fill(0, o, o + ow);
              o += ow;
              continue;
            }
            const xr = xb + iy * w * c;
            for (let xx = 0; xx < ow; xx++, o++) {
              const ix = xx * sw + fx - left;
              out[o] = ix >= 0 && ix < w ? x[xr + ix * c] : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * The same matrix as {@link im2colTransposed}, read from the input in channel-major layout
 * xT[c, n, h, w]: each matrix row is then a run of contiguous reads (a block copy at stride 1),
 * where the NHWC version strides by C per element and misses cache for wide inputs.
 */
export function im2colTransposedFromChannelMajor(xT: Float32Array, info: tf.backend_util.Conv2DInfo, out: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = n * oh * ow;
  let row = 0;
  for (let fy = 0; fy < kh; fy++) {
    for (let fx = 0; fx < kw; fx++) {
      // output columns whose input column ix = xx·sw + fx − left lies inside [0, w)
      const x0 = Math.max(0, Math.ceil((left - fx) / sw));
      const x1 = Math.min(ow, Math.floor((w - 1 + left - fx) / sw) + 1);
      for (let ch = 0; ch < c; ch++, row++) {
        let o = row * m;
        for (let b = 0; b < n; b++) {
          const plane = (ch * n + b) * h * w;
          for (let y = 0; y < oh; y++, o += ow) {
            const iy = y * sh + fy - top;
            if (iy < 0 || iy >= h || x1 <= x0) {
              out.fill(0, o, o + ow);
              continue;
            }
            if (x0 > 0) out.fill(0, o, o + x0);
            if (x1 < ow) out.fill(0, o + x1, o + ow);
            const src = plane + iy * w + x0 * sw + fx - left;
            if (sw === 1) {
              out.set(xT.subarray(src, src + (x1 - x0)), o + x0);
            } else {
              for (let xx = x0, s = src; xx < x1; xx++, s += sw) out[o + xx] = xT[s];
            }
          }
        }
      }
    }
  }
}
