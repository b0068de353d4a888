// Shared definitions of fedkd's SIMD training kernels (kernels.c, conv.c, depthwise.c), which
// scripts/build-wasm.sh links into one module, engine/simd/kernels.wasm.
//
// The module imports tfjs-backend-wasm's own memory ("env"."memory") and works on tensors in
// place: every pointer is a byte offset on that heap. It must own no memory there: no data
// segments and no shadow stack (no arrays on the stack, no address-taken locals);
// build-wasm.sh checks both. Scratch space comes from the caller.
//
// Layout: activations are [rows, c] row-major (NHWC with rows = N·H·W).
#ifndef FEDKD_SIMD_H
#define FEDKD_SIMD_H
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

typedef v128_t f4;

static inline int min_i(int a, int b) { return a < b ? a : b; }

static inline f4 ld(const float* p) { return wasm_v128_load(p); }
static inline void st(float* p, f4 v) { wasm_v128_store(p, v); }
static inline f4 splat(float v) { return wasm_f32x4_splat(v); }

#endif
