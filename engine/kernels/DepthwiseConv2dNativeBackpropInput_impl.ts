import type * as tf from '@tensorflow/tfjs';

/**
 * Shape of the zero-inserted, padded gradient used by {@link scatterGradientForFullCorrelation}:
 * [N, H + KH − 1, W + KW − 1, C].
 */
export function fullCorrelationShape(info: tf.backend_util.Conv2DInfo): [number, number, number, number] {
  return [info.batchSize, info.inHeight + info.filterHeight - 1, info.inWidth + info.filterWidth - 1, info.outChannels];
}

/**
 * The input gradient of a strided depthwise convolution is a stride-1 "valid" depthwise
 * correlation of the zero-inserted output gradient with the spatially flipped filter
 * (Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", 2016, §4).
 * This writes that zero-inserted gradient: z[n, oh·sh + KH−1−top, ow·sw + KW−1−left, c] = dy[n, oh, ow, c],
 * zero elsewhere. Positions that fall outside z only ever meet padding and are dropped.
 */
export function scatterGradientForFullCorrelation(dy: Float32Array, info: tf.backend_util.Conv2DInfo, z: Float32Array): void {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: c } = info;
  const [, zh, zw] = fullCorrelationShape(info);
  const offY = info.filterHeight - 1 - info.padInfo.top;
  const offX = info.filterWidth - 1 - info.padInfo.left;
  z.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const zy = y * info.strideHeight + offY;
      if (zy < 0 || zy >= zh) continue;
      for (let x = 0; x < ow; x++) {
        const zx = x * info.strideWidth + offX;
        if (zx < 0 || zx >= zw) continue;
        const src = ((b * oh + y) * ow + x) * c;
        z.set(dy.subarray(src, src + c), ((b * zh + zy) * zw + zx) * c);
      }
    }
  }
}

/** Writes the filter [KH, KW, C, Q] rotated by 180° in its two spatial axes. */
export function flipFilterSpatially(f: Float32Array, kh: number, kw: number, depth: number, out: Float32Array): void {
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const src = (y * kw + x) * depth;
      out.set(f.subarray(src, src + depth), ((kh - 1 - y) * kw + (kw - 1 - x)) * depth);
    }
  }
}

/**
 * Direct input gradient of a depthwise convolution with any channel multiplier q:
 * dx[n, iy, ix, c] = Σ dy[n, oh, ow, c·q + j] · f[iy − oh·sh + top, ix − ow·sw + left, c, j].
 * Used where the flipped-filter route does not apply (q > 1).
 */
export function depthwiseBackpropInputImpl(dy: Float32Array, f: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels: oc } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const q = oc / c;
  dx.fill(0);
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
            const fo = (fy * kw + fx) * oc;
            for (let ch = 0; ch < c; ch++) {
              let s = 0;
              for (let j = 0; j < q; j++) s += dy[dyo + ch * q + j] * f[fo + ch * q + j];
              dx[xo + ch] += s;
            }
          }
        }
      }
    }
  }
}
