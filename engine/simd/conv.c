// Convolution filter gradients for fedkd's SIMD training kernels (see simd.h): dW = colsᵀ · dy
// without transposes or packing, and the transposed im2col matrix it reads for k > 1.
#include "simd.h"

// Rows of a and b per block of matmul_tn: a 128-row slice of both stays in L2.
#define MBLOCK 128

// out[k, n0..n0+8) += Σ_{m ∈ [m0, m1)} a(m, k) · b[m, n0..n0+8) for the KB rows k0..k0+KB.
#define TILE_8(KB)                                                                                   \
  static inline void tile##KB##x8(const float* a, long sm, long sk, const float* b, int n, int m0, int m1, \
                                  int k0, int n0, float* out) {                                      \
    f4 acc[KB][2];                                                                                   \
    for (int i = 0; i < KB; i++) acc[i][0] = acc[i][1] = splat(0);                                   \
    const float* pa = a + m0 * sm + k0 * sk;                                                         \
    const float* pb = b + (long)m0 * n + n0;                                                         \
    for (int m = m0; m < m1; m++, pa += sm, pb += n) {                                               \
      const f4 b0 = ld(pb), b1 = ld(pb + 4);                                                         \
      for (int i = 0; i < KB; i++) {                                                                 \
        const f4 av = wasm_v128_load32_splat(pa + i * sk);                                           \
        acc[i][0] = wasm_f32x4_add(acc[i][0], wasm_f32x4_mul(av, b0));                               \
        acc[i][1] = wasm_f32x4_add(acc[i][1], wasm_f32x4_mul(av, b1));                               \
      }                                                                                              \
    }                                                                                                \
    for (int i = 0; i < KB; i++) {                                                                   \
      float* po = out + (long)(k0 + i) * n + n0;                                                     \
      st(po, wasm_f32x4_add(ld(po), acc[i][0]));                                                     \
      st(po + 4, wasm_f32x4_add(ld(po + 4), acc[i][1]));                                             \
    }                                                                                                \
  }
TILE_8(4)
TILE_8(1)

// The same for one column n (scalar), any number of rows k0..k0+1.
static inline void tile1x1(const float* a, long sm, long sk, const float* b, int n, int m0, int m1, int k0, int n0,
                           float* out) {
  float acc = 0;
  const float* pa = a + m0 * sm + k0 * sk;
  const float* pb = b + (long)m0 * n + n0;
  for (int m = m0; m < m1; m++, pa += sm, pb += n) acc += *pa * *pb;
  out[(long)k0 * n + n0] += acc;
}

// out[K, N] = Σ_m a(m, k) · b[m, n] with a(m, k) = a[m·sm + k·sk] (sm = K, sk = 1: a is [M, K]
// row-major, as an NHWC activation; sm = 1, sk = M: a is stored transposed, [K, M]) and b
// [M, N] row-major: the filter gradient of a convolution, dW = colsᵀ · dy, with no transpose
// and no packing. Register tiles of 4 × 8 outputs over blocks of MBLOCK rows.
EXPORT("matmul_tn")
void matmul_tn(const float* a, int sm, int sk, const float* b, int m, int k, int n, float* out) {
  for (long i = 0; i < (long)k * n; i++) out[i] = 0;
  const int n8 = n & ~7, k4 = k & ~3;
  for (int m0 = 0; m0 < m; m0 += MBLOCK) {
    const int m1 = min_i(m0 + MBLOCK, m);
    for (int k0 = 0; k0 < k4; k0 += 4) {
      for (int n0 = 0; n0 < n8; n0 += 8) tile4x8(a, sm, sk, b, n, m0, m1, k0, n0, out);
    }
    for (int k0 = k4; k0 < k; k0++) {
      for (int n0 = 0; n0 < n8; n0 += 8) tile1x8(a, sm, sk, b, n, m0, m1, k0, n0, out);
    }
    for (int k0 = 0; k0 < k; k0++) {
      for (int n0 = n8; n0 < n; n0++) tile1x1(a, sm, sk, b, n, m0, m1, k0, n0, out);
    }
  }
}

// The transposed im2col matrix of an NHWC input x[n, h, w, c]: row (fy·kw + fx)·c + ch, column
// (b·oh + y)·ow + xx holds x[b, y·sh + fy − top, xx·sw + fx − left, ch], 0 in the padding.
// out (kh·kw·c · n·oh·ow floats) is overwritten. Pairs with matmul_tn for conv filter gradients.
EXPORT("im2col_t")
void im2col_t(const float* x, int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int top,
              int left, float* out) {
  const long m = (long)n * oh * ow;
  for (int fy = 0; fy < kh; fy++) {
    for (int fx = 0; fx < kw; fx++) {
      int xlo = 0;
      while (xlo < ow && xlo * sw + fx - left < 0) xlo++;
      int xhi = xlo;
      while (xhi < ow && xhi * sw + fx - left < w) xhi++;
      for (int ch = 0; ch < c; ch++) {
        float* o = out + ((long)(fy * kw + fx) * c + ch) * m;
        for (int b = 0; b < n; b++) {
          for (int y = 0; y < oh; y++, o += ow) {
            const int iy = y * sh + fy - top;
            if (iy < 0 || iy >= h) {
              for (int xx = 0; xx < ow; xx++) o[xx] = 0;
              continue;
            }
            const float* xr = x + ((long)(b * h + iy) * w) * c + ch + (long)(fx - left) * c;
            for (int xx = 0; xx < xlo; xx++) o[xx] = 0;
            const long step = (long)sw * c;
            const float* p = xr + xlo * step;
            for (int xx = xlo; xx < xhi; xx++, p += step) o[xx] = *p;
            for (int xx = xhi; xx < ow; xx++) o[xx] = 0;
          }
        }
      }
    }
  }
}
