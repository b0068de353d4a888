/**
 * Naive float64 references for the convolution gradients, written from the definitions
 * (NHWC, unit dilation, explicit top/left padding), independent of any tfjs backend.
 */

/** Geometry of one 2-D convolution. */
export interface ConvGeom {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; co: number;
  sh: number; sw: number;
  top: number; left: number;
  oh: number; ow: number;
}

/** Output size and padding as TF computes them for 'same' / 'valid'. */
export function geometry(
  xShape: [number, number, number, number], kh: number, kw: number, co: number,
  strides: [number, number], pad: 'same' | 'valid',
): ConvGeom {
  const [n, h, w, c] = xShape;
  const [sh, sw] = strides;
  const oh = pad === 'same' ? Math.ceil(h / sh) : Math.ceil((h - kh + 1) / sh);
  const ow = pad === 'same' ? Math.ceil(w / sw) : Math.ceil((w - kw + 1) / sw);
  const padH = pad === 'same' ? Math.max((oh - 1) * sh + kh - h, 0) : 0;
  const padW = pad === 'same' ? Math.max((ow - 1) * sw + kw - w, 0) : 0;
  return { n, h, w, c, kh, kw, co, sh, sw, top: Math.floor(padH / 2), left: Math.floor(padW / 2), oh, ow };
}

/** Visits every (output position, filter tap) pair that meets the input. */
function forEachTap(g: ConvGeom, f: (b: number, y: number, x: number, fy: number, fx: number, iy: number, ix: number) => void): void {
  for (let b = 0; b < g.n; b++)
    for (let y = 0; y < g.oh; y++)
      for (let x = 0; x < g.ow; x++)
        for (let fy = 0; fy < g.kh; fy++)
          for (let fx = 0; fx < g.kw; fx++) {
            const iy = y * g.sh + fy - g.top;
            const ix = x * g.sw + fx - g.left;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) f(b, y, x, fy, fx, iy, ix);
          }
}

/** dW[kh,kw,c,o] = Σ x[n,iy,ix,c] · dy[n,y,x,o] for a regular convolution. */
export function conv2dFilterGrad(x: Float32Array, dy: Float32Array, g: ConvGeom): Float64Array {
  const dw = new Float64Array(g.kh * g.kw * g.c * g.co);
  forEachTap(g, (b, y, xx, fy, fx, iy, ix) => {
    for (let c = 0; c < g.c; c++)
      for (let o = 0; o < g.co; o++)
        dw[((fy * g.kw + fx) * g.c + c) * g.co + o] += x[((b * g.h + iy) * g.w + ix) * g.c + c] * dy[((b * g.oh + y) * g.ow + xx) * g.co + o];
  });
  return dw;
}

/** dW[kh,kw,c,j] = Σ x[n,iy,ix,c] · dy[n,y,x,c·q+j] for a depthwise convolution (co = c·q). */
export function depthwiseFilterGrad(x: Float32Array, dy: Float32Array, g: ConvGeom): Float64Array {
  const q = g.co / g.c;
  const dw = new Float64Array(g.kh * g.kw * g.co);
  forEachTap(g, (b, y, xx, fy, fx, iy, ix) => {
    for (let c = 0; c < g.c; c++)
      for (let j = 0; j < q; j++)
        dw[(fy * g.kw + fx) * g.co + c * q + j] += x[((b * g.h + iy) * g.w + ix) * g.c + c] * dy[((b * g.oh + y) * g.ow + xx) * g.co + c * q + j];
  });
  return dw;
}

/** dx[n,iy,ix,c] = Σ dy[n,y,x,c·q+j] · f[fy,fx,c,j] for a depthwise convolution. */
export function depthwiseInputGrad(dy: Float32Array, f: Float32Array, g: ConvGeom): Float64Array {
  const q = g.co / g.c;
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  forEachTap(g, (b, y, xx, fy, fx, iy, ix) => {
    for (let c = 0; c < g.c; c++)
      for (let j = 0; j < q; j++)
        dx[((b * g.h + iy) * g.w + ix) * g.c + c] += dy[((b * g.oh + y) * g.ow + xx) * g.co + c * q + j] * f[(fy * g.kw + fx) * g.co + c * q + j];
  });
  return dx;
}

/** Gradient of max pooling (first maximum of each window gets dy), float64. */
export function maxPoolGrad(x: Float32Array, dy: Float32Array, g: ConvGeom): Float64Array {
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  for (let b = 0; b < g.n; b++)
    for (let y = 0; y < g.oh; y++)
      for (let xx = 0; xx < g.ow; xx++)
        for (let c = 0; c < g.c; c++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < g.kh; fy++)
            for (let fx = 0; fx < g.kw; fx++) {
              const iy = y * g.sh + fy - g.top;
              const ix = xx * g.sw + fx - g.left;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              const i = ((b * g.h + iy) * g.w + ix) * g.c + c;
              if (x[i] > best) [best, at] = [x[i], i];
            }
          dx[at] += dy[((b * g.oh + y) * g.ow + xx) * g.c + c];
        }
  return dx;
}

/** Gradient of nearest-neighbour upsampling by integer factors (each output copies input ⌊y/f⌋, ⌊x/f⌋). */
export function upsampleGrad(dy: Float32Array, shape: [number, number, number, number], fy: number, fx: number): Float64Array {
  const [n, h, w, c] = shape;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h * fy; y++)
      for (let x = 0; x < w * fx; x++)
        for (let ch = 0; ch < c; ch++)
          dx[((b * h + Math.floor(y / fy)) * w + Math.floor(x / fx)) * c + ch] += dy[((b * h * fy + y) * w * fx + x) * c + ch];
  return dx;
}
