// fedkd's SIMD training kernels for tfjs-backend-wasm (engine/simd/index.ts loads them):
// batch normalisation in training mode, the ReLU gradient and the Adam step. Convolution
// gradients are in conv.c and depthwise.c; shared rules and helpers in simd.h.
#include "simd.h"

// Rows per block of the statistics passes: sums run in float32 within a block (registers)
// and in float64 across blocks. Short blocks keep the float32 part from losing the sums of the
// batch-norm gradient to cancellation: with 32 rows, Σdy·(x − mean) of a 16-channel layer was off
// by 1.75e-4 of the largest channel's against tfjs's cpu backend (over the 1e-4 the conformance
// suite allows); with 4 rows by 5.4e-5, for 7% of the training step's speed.
#define BLOCK 4

static inline void add4(double* acc, f4 v) {
  acc[0] += wasm_f32x4_extract_lane(v, 0);
  acc[1] += wasm_f32x4_extract_lane(v, 1);
  acc[2] += wasm_f32x4_extract_lane(v, 2);
  acc[3] += wasm_f32x4_extract_lane(v, 3);
}

// Per channel j: s1[j] += Σ_r (a[r,j] − ka[j]) and s2[j] += Σ_r (a[r,j] − ka[j])·(b[r,j] − kb[j]).
// With a = b, ka = kb this is the shifted sum and sum of squares (moments); with a = dy,
// ka = 0, b = x, kb = mean it is the two sums of the batch-norm gradient.
static void channel_sums(const float* a, const float* ka, const float* b, const float* kb, int rows, int c,
                         double* s1, double* s2) {
  for (int j = 0; j < c; j++) s1[j] = s2[j] = 0;
  for (int r0 = 0; r0 < rows; r0 += BLOCK) {
    const int r1 = min_i(r0 + BLOCK, rows);
    int j = 0;
    for (; j + 8 <= c; j += 8) {
      const f4 ka0 = ld(ka + j), ka1 = ld(ka + j + 4), kb0 = ld(kb + j), kb1 = ld(kb + j + 4);
      f4 p0 = splat(0), p1 = splat(0), q0 = splat(0), q1 = splat(0);
      const float* pa = a + (long)r0 * c + j;
      const float* pb = b + (long)r0 * c + j;
      for (int r = r0; r < r1; r++, pa += c, pb += c) {
        const f4 da0 = wasm_f32x4_sub(ld(pa), ka0), da1 = wasm_f32x4_sub(ld(pa + 4), ka1);
        const f4 db0 = wasm_f32x4_sub(ld(pb), kb0), db1 = wasm_f32x4_sub(ld(pb + 4), kb1);
        p0 = wasm_f32x4_add(p0, da0);
        p1 = wasm_f32x4_add(p1, da1);
        q0 = wasm_f32x4_add(q0, wasm_f32x4_mul(da0, db0));
        q1 = wasm_f32x4_add(q1, wasm_f32x4_mul(da1, db1));
      }
      add4(s1 + j, p0);
      add4(s1 + j + 4, p1);
      add4(s2 + j, q0);
      add4(s2 + j + 4, q1);
    }
    for (; j + 4 <= c; j += 4) {
      const f4 ka0 = ld(ka + j), kb0 = ld(kb + j);
      f4 p0 = splat(0), q0 = splat(0);
      const float* pa = a + (long)r0 * c + j;
      const float* pb = b + (long)r0 * c + j;
      for (int r = r0; r < r1; r++, pa += c, pb += c) {
        const f4 da0 = wasm_f32x4_sub(ld(pa), ka0), db0 = wasm_f32x4_sub(ld(pb), kb0);
        p0 = wasm_f32x4_add(p0, da0);
        q0 = wasm_f32x4_add(q0, wasm_f32x4_mul(da0, db0));
      }
      add4(s1 + j, p0);
      add4(s2 + j, q0);
    }
    for (; j < c; j++) {
      float p = 0, q = 0;
      for (int r = r0; r < r1; r++) {
        const float da = a[(long)r * c + j] - ka[j], db = b[(long)r * c + j] - kb[j];
        p += da;
        q += da * db;
      }
      s1[j] += p;
      s2[j] += q;
    }
  }
}

// out[r,j] = (a[r,j] − ka[j])·k1[j] + (b[r,j] − kb[j])·k2[j] + k3[j]; b may be null (no b term).
// Blocked like channel_sums: per block of rows and group of 4 channels the parameters stay in
// registers and the rows stream past.
static void channel_affine(const float* a, const float* ka, const float* k1, const float* b, const float* kb,
                           const float* k2, const float* k3, int rows, int c, float* out) {
  const int c4 = c & ~3;
  for (int r0 = 0; r0 < rows; r0 += BLOCK) {
    const int r1 = min_i(r0 + BLOCK, rows);
    for (int j = 0; j < c4; j += 4) {
      const f4 vka = ld(ka + j), vk1 = ld(k1 + j), vk3 = ld(k3 + j);
      const float* pa = a + (long)r0 * c + j;
      float* po = out + (long)r0 * c + j;
      if (b) {
        const f4 vkb = ld(kb + j), vk2 = ld(k2 + j);
        const float* pb = b + (long)r0 * c + j;
        for (int r = r0; r < r1; r++, pa += c, pb += c, po += c) {
          const f4 ta = wasm_f32x4_mul(wasm_f32x4_sub(ld(pa), vka), vk1);
          const f4 tb = wasm_f32x4_mul(wasm_f32x4_sub(ld(pb), vkb), vk2);
          st(po, wasm_f32x4_add(wasm_f32x4_add(ta, tb), vk3));
        }
      } else {
        for (int r = r0; r < r1; r++, pa += c, po += c) st(po, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(ld(pa), vka), vk1), vk3));
      }
    }
    for (int j = c4; j < c; j++) {
      for (int r = r0; r < r1; r++) {
        const long i = (long)r * c + j;
        out[i] = (a[i] - ka[j]) * k1[j] + (b ? (b[i] - kb[j]) * k2[j] : 0) + k3[j];
      }
    }
  }
}

// Batch normalisation in training mode (Ioffe & Szegedy 2015, Algorithm 1) over the rows of
// x[rows, c]: mean and biased variance per channel, y = (x − mean)·scale/√(var + ε) + offset,
// and the moving averages m′ = m − (m − mean)·decay, v′ = v − (v − var)·decay (tf.layers'
// update). Scratch: 4·c doubles (8-byte aligned).
EXPORT("bn_train_forward")
void bn_train_forward(const float* x, int rows, int c, const float* scale, const float* offset, float eps,
                      float* y, float* mean, float* var, const float* movingMean, const float* movingVar, float decay,
                      float* movingMeanOut, float* movingVarOut, double* scratch) {
  double* s1 = scratch;
  double* s2 = scratch + c;
  // The first row is the shift: sums of x − x[0] lose nothing to cancellation.
  channel_sums(x, x, x, x, rows, c, s1, s2);
  float* k1 = (float*)(scratch + 2 * c);
  for (int j = 0; j < c; j++) {
    const double d = s1[j] / rows;
    const double v = s2[j] / rows - d * d;
    const float m = (float)(x[j] + d);
    const float vf = (float)(v > 0 ? v : 0);
    mean[j] = m;
    var[j] = vf;
    k1[j] = scale[j] / __builtin_sqrtf(vf + eps);
    const float dm = (movingMean[j] - m) * decay;
    movingMeanOut[j] = movingMean[j] - dm;
    const float dv = (movingVar[j] - vf) * decay;
    movingVarOut[j] = movingVar[j] - dv;
  }
  channel_affine(x, mean, k1, 0, 0, 0, offset, rows, c, y);
}

// Gradient of bn_train_forward's y (and, through gMean, gVar, of its mean and variance
// outputs) with respect to x, scale and offset, with the statistics' own dependence on x:
// dx = scale·r·(dy − Σdy/n − (x − mean)·r²·Σdy(x − mean)/n) + gMean/n + 2·gVar·(x − mean)/n,
// r = 1/√(var + ε); dScale = r·Σdy(x − mean); dOffset = Σdy. Scratch: 4·c doubles.
EXPORT("bn_train_backward")
void bn_train_backward(const float* x, const float* dy, int rows, int c, const float* mean, const float* var,
                       const float* scale, float eps, const float* gMean, const float* gVar, float* dx, float* dScale,
                       float* dOffset, double* scratch) {
  double* s1 = scratch;
  double* s2 = scratch + c;
  float* k1 = (float*)(scratch + 2 * c);
  float* k2 = k1 + c;
  float* k3 = k2 + c;
  float* zero = k3 + c;
  for (int j = 0; j < c; j++) zero[j] = 0;
  channel_sums(dy, zero, x, mean, rows, c, s1, s2);
  for (int j = 0; j < c; j++) {
    const double r = 1.0 / __builtin_sqrt((double)var[j] + (double)eps);
    dOffset[j] = (float)s1[j];
    dScale[j] = (float)(s2[j] * r);
    const double a = scale[j] * r;
    const double b = -a * r * r * s2[j] / rows + 2.0 * gVar[j] / rows;
    const double k = -a * s1[j] / rows + (double)gMean[j] / rows;
    k1[j] = (float)a;
    k2[j] = (float)b;
    k3[j] = (float)k;
  }
  channel_affine(dy, zero, k1, x, mean, k2, k3, rows, c, dx);
}

// ReLU's gradient: dx = dy where x > 0, else 0.
EXPORT("relu_grad")
void relu_grad(const float* dy, const float* x, int n, float* dx) {
  int i = 0;
  const f4 zero = splat(0);
  for (; i + 4 <= n; i += 4) st(dx + i, wasm_v128_and(ld(dy + i), wasm_f32x4_gt(ld(x + i), zero)));
  for (; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}

// One Adam step (Kingma & Ba 2015, Algorithm 1) in tf.train.adam's form, with decoupled weight decay
// (Loshchilov & Hutter 2019) as the factor keep = 1 − lr·λ (1: none):
// m′ = β₁m + (1−β₁)g; v′ = β₂v + (1−β₂)g²; x′ = keep·x − lr·c1·m′/(√(c2·v′) + ε), c1, c2 the bias corrections.
EXPORT("adam_update")
void adam_update(const float* x, const float* g, const float* m, const float* v, int n, float lr, float beta1,
                 float beta2, float eps, float c1, float c2, float keep, float* xo, float* mo, float* vo) {
  const float a1 = 1 - beta1, a2 = 1 - beta2, lc1 = lr * c1;
  const f4 b1 = splat(beta1), b2 = splat(beta2), va1 = splat(a1), va2 = splat(a2), vlc1 = splat(lc1), vc2 = splat(c2),
           veps = splat(eps), vkeep = splat(keep);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const f4 gi = ld(g + i);
    const f4 mi = wasm_f32x4_add(wasm_f32x4_mul(b1, ld(m + i)), wasm_f32x4_mul(va1, gi));
    const f4 vi = wasm_f32x4_add(wasm_f32x4_mul(b2, ld(v + i)), wasm_f32x4_mul(va2, wasm_f32x4_mul(gi, gi)));
    st(mo + i, mi);
    st(vo + i, vi);
    const f4 den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_mul(vi, vc2)), veps);
    st(xo + i, wasm_f32x4_sub(wasm_f32x4_mul(ld(x + i), vkeep), wasm_f32x4_div(wasm_f32x4_mul(vlc1, mi), den)));
  }
  for (; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + a1 * gi;
    const float vi = beta2 * v[i] + a2 * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    xo[i] = x[i] * keep - (lc1 * mi) / (__builtin_sqrtf(vi * c2) + eps);
  }
}
