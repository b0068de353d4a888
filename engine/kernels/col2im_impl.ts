import type * as tf from '@tensorflow/tfjs';

/**
 * The adjoint of im2col: adds column matrix `cols` [N·OH·OW, KH·KW·C] (row (n,oh,ow),
 * column (kh,kw,c)) back onto the NHWC image `dx` it was gathered from, skipping padding.
 * With it a convolution's input gradient is one matrix product, cols = dy · Wᵀ, and a
 * scatter-add. `dx` is zeroed here.
 */
export function col2imAdd(cols: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const k = kh * kw * c;
  dx.fill(0);
  let row = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++, row++) {
        for (let fy = 0; fy < kh; fy++) {
          const iy = y * sh + fy - top;
          if (iy < 0 || iy >= h) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = xx * sw + fx - left;
            if (ix < 0 || ix >= w) continue;
            const src = row * k + (fy * kw + fx) * c;
            const dst = ((b * h + iy) * w + ix) * c;
            for (let ch = 0; ch < c; ch++) dx[dst + ch] += cols[src + ch];
          }
        }
      }
    }
  }
}

/** Writes the transpose of a row-major [rows, cols] matrix into `out` ([cols, rows]). */
export function transposeMatrix(a: Float32Array, rows: number, cols: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  }
}

/**
 * The filter a stride-1 convolution's input gradient is correlated with: rotated 180° in space
 * and with input/output channels swapped, W′[kh, kw, co, ci] = W[KH−1−kh, KW−1−kw, ci, co].
 */
export function flipAndSwapChannels(w: Float32Array, kh: number, kw: number, ci: number, co: number, out: Float32Array): void {
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const src = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co;
      const dst = (y * kw + x) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) out[dst + o * ci + i] = w[src + i * co + o];
      }
    }
  }
}
