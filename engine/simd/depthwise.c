// Gradients of 3×3 depthwise convolutions with channel multiplier 1 (NHWC), for fedkd's SIMD
// training kernels (see simd.h).
#include "simd.h"

// The output columns [lo, hi) whose three taps x·sw − left .. x·sw − left + 2 all fall inside
// the image's [0, w): the rest take the bounds-checked edge paths. lo is the first whose left tap is in.
static inline int dw_interior_lo(int ow, int sw, int left) {
  int x = 0;
  while (x < ow && x * sw - left < 0) x++;
  return x;
}

// One past the last output column from lo on whose right tap is inside [0, w).
static inline int dw_interior_hi(int lo, int ow, int sw, int left, int w) {
  int x = lo;
  while (x < ow && x * sw - left + 2 < w) x++;
  return x;
}

// Accumulates one output column's three horizontal taps for 4 channels, checking bounds.
static inline void dw_taps_edge(const float* xrow, f4 dyv, int ix0, int w, int c, f4* a0, f4* a1, f4* a2) {
  if (ix0 >= 0 && ix0 < w) *a0 = wasm_f32x4_add(*a0, wasm_f32x4_mul(ld(xrow + (long)ix0 * c), dyv));
  if (ix0 + 1 >= 0 && ix0 + 1 < w) *a1 = wasm_f32x4_add(*a1, wasm_f32x4_mul(ld(xrow + (long)(ix0 + 1) * c), dyv));
  if (ix0 + 2 >= 0 && ix0 + 2 < w) *a2 = wasm_f32x4_add(*a2, wasm_f32x4_mul(ld(xrow + (long)(ix0 + 2) * c), dyv));
}

// Filter gradient of a 3×3 depthwise convolution with channel multiplier 1 (NHWC):
// dw[fy, fx, ch] = Σ_{b,y,x} xin[b, y·sh + fy − top, x·sw + fx − left, ch] · dy[b, y, x, ch].
// c must be a multiple of 4 (the caller runs the rest in JS). dw (9·c floats) is overwritten.
EXPORT("dw_filter_grad_3x3")
void dw_filter_grad_3x3(const float* xin, const float* dy, int n, int h, int w, int c, int oh, int ow, int sh, int sw,
                        int top, int left, float* dw) {
  for (int i = 0; i < 9 * c; i++) dw[i] = 0;
  const int xlo = dw_interior_lo(ow, sw, left), xhi = dw_interior_hi(xlo, ow, sw, left, w);
  for (int b = 0; b < n; b++) {
    for (int y = 0; y < oh; y++) {
      const float* dyrow = dy + ((long)(b * oh + y) * ow) * c;
      for (int fy = 0; fy < 3; fy++) {
        const int iy = y * sh + fy - top;
        if (iy < 0 || iy >= h) continue;
        const float* xrow = xin + ((long)(b * h + iy) * w) * c;
        float* dwrow = dw + fy * 3 * c;
        for (int j = 0; j < c; j += 4) {
          f4 a0 = splat(0), a1 = splat(0), a2 = splat(0);
          const float* xr = xrow + j;
          const float* dr = dyrow + j;
          for (int xx = 0; xx < xlo; xx++) dw_taps_edge(xr, ld(dr + (long)xx * c), xx * sw - left, w, c, &a0, &a1, &a2);
          for (int xx = xlo; xx < xhi; xx++) {
            const f4 d = ld(dr + (long)xx * c);
            const float* p = xr + (long)(xx * sw - left) * c;
            a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(ld(p), d));
            a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(ld(p + c), d));
            a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(ld(p + 2 * c), d));
          }
          for (int xx = xhi; xx < ow; xx++) dw_taps_edge(xr, ld(dr + (long)xx * c), xx * sw - left, w, c, &a0, &a1, &a2);
          st(dwrow + j, wasm_f32x4_add(ld(dwrow + j), a0));
          st(dwrow + c + j, wasm_f32x4_add(ld(dwrow + c + j), a1));
          st(dwrow + 2 * c + j, wasm_f32x4_add(ld(dwrow + 2 * c + j), a2));
        }
      }
    }
  }
}

// Adds d·w0, d·w1, d·w2 into the three input columns ix0..ix0+2 of a row, skipping those outside [0, w).
static inline void dw_scatter_edge(float* dxrow, f4 d, f4 w0, f4 w1, f4 w2, int ix0, int w, int c) {
  if (ix0 >= 0 && ix0 < w) st(dxrow + (long)ix0 * c, wasm_f32x4_add(ld(dxrow + (long)ix0 * c), wasm_f32x4_mul(d, w0)));
  if (ix0 + 1 >= 0 && ix0 + 1 < w) st(dxrow + (long)(ix0 + 1) * c, wasm_f32x4_add(ld(dxrow + (long)(ix0 + 1) * c), wasm_f32x4_mul(d, w1)));
  if (ix0 + 2 >= 0 && ix0 + 2 < w) st(dxrow + (long)(ix0 + 2) * c, wasm_f32x4_add(ld(dxrow + (long)(ix0 + 2) * c), wasm_f32x4_mul(d, w2)));
}

// Input gradient of a 3×3 depthwise convolution with channel multiplier 1 (NHWC): each
// dy[b, y, x, ch] · filter[fy, fx, ch] is added to dx[b, y·sh + fy − top, x·sw + fx − left, ch].
// c must be a multiple of 4. dx (n·h·w·c floats) is overwritten.
EXPORT("dw_input_grad_3x3")
void dw_input_grad_3x3(const float* dy, const float* filter, int n, int h, int w, int c, int oh, int ow, int sh, int sw,
                       int top, int left, float* dx) {
  for (long i = 0; i < (long)n * h * w * c; i++) dx[i] = 0;
  const int xlo = dw_interior_lo(ow, sw, left), xhi = dw_interior_hi(xlo, ow, sw, left, w);
  for (int b = 0; b < n; b++) {
    for (int y = 0; y < oh; y++) {
      const float* dyrow = dy + ((long)(b * oh + y) * ow) * c;
      for (int fy = 0; fy < 3; fy++) {
        const int iy = y * sh + fy - top;
        if (iy < 0 || iy >= h) continue;
        float* dxrow = dx + ((long)(b * h + iy) * w) * c;
        const float* frow = filter + fy * 3 * c;
        for (int j = 0; j < c; j += 4) {
          const f4 w0 = ld(frow + j), w1 = ld(frow + c + j), w2 = ld(frow + 2 * c + j);
          float* xr = dxrow + j;
          const float* dr = dyrow + j;
          for (int xx = 0; xx < xlo; xx++) dw_scatter_edge(xr, ld(dr + (long)xx * c), w0, w1, w2, xx * sw - left, w, c);
          for (int xx = xlo; xx < xhi; xx++) {
            const f4 d = ld(dr + (long)xx * c);
            float* p = xr + (long)(xx * sw - left) * c;
            st(p, wasm_f32x4_add(ld(p), wasm_f32x4_mul(d, w0)));
            st(p + c, wasm_f32x4_add(ld(p + c), wasm_f32x4_mul(d, w1)));
            st(p + 2 * c, wasm_f32x4_add(ld(p + 2 * c), wasm_f32x4_mul(d, w2)));
          }
          for (int xx = xhi; xx < ow; xx++) dw_scatter_edge(xr, ld(dr + (long)xx * c), w0, w1, w2, xx * sw - left, w, c);
        }
      }
    }
  }
}
