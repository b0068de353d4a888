import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd, type BackendSimd } from '../simd/index.ts';
import { im2colTransposed, im2colTransposedFromChannelMajor } from './im2col_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32, release, runWasmKernel } from './wasm_kernel_utils.ts';

/** From this many input channels on, im2col reads a channel-major copy of the input (contiguous runs). */
const CHANNEL_MAJOR_FROM = 4;

/** The transposed im2col matrix colsT[K, M] of x (see im2col_impl.ts), on the heap. */
function colsTransposed(backend: BackendWasm, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, k: number, m: number): tf.TensorInfo {
  const colsT = allocFloat32(backend, [k, m]);
  if (info.inChannels >= CHANNEL_MAJOR_FROM) {
    const xT = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] });
    im2colTransposedFromChannelMajor(heapFloat32(backend, xT), info, heapFloat32(backend, colsT));
    release(backend, xT);
  } else {
    im2colTransposed(heapFloat32(backend, x), info, heapFloat32(backend, colsT));
  }
  return colsT;
}

/**
 * dW = colsᵀ · dy by conv.c's matmul_tn. A 1×1 stride-1 unpadded convolution reads x
 * itself as cols[M, Ci] (NHWC); others build colsT first (conv.c's im2col_t).
 */
function simdFilterGradient(s: BackendSimd, backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co, padInfo: p } = info;
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = kh * kw * ci;
  const dw = allocFloat32(backend, [kh, kw, ci, co]);
  const direct = k === ci && info.strideHeight === 1 && info.strideWidth === 1 && p.top + p.left + p.bottom + p.right === 0;
  if (direct) {
    s.k.matmul_tn(s.ptr(x.dataId), ci, 1, s.ptr(dy.dataId), m, k, co, s.ptr(dw.dataId));
    return dw;
  }
  const colsT = allocFloat32(backend, [k, m]);
  s.k.im2col_t(s.ptr(x.dataId), info.batchSize, info.inHeight, info.inWidth, ci, info.outHeight, info.outWidth, kh, kw,
    info.strideHeight, info.strideWidth, p.top, p.left, s.ptr(colsT.dataId));
  s.k.matmul_tn(s.ptr(colsT.dataId), 1, m, s.ptr(dy.dataId), m, k, co, s.ptr(dw.dataId));
  release(backend, colsT);
  return dw;
}

/**
 * Filter gradient of conv2d on wasm: dW[kh·kw·ci, co] = colsᵀ · dy, by the SIMD kernel
 * (simdFilterGradient), else im2col (transposed) in one pass and one BatchMatMul through
 * the wasm backend's XNNPACK (which packs the whole of dy on every call).
 */
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
  assertNhwcUnitDilation('Conv2DBackpropFilter', info);
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = kh * kw * ci;
  const s = backendSimd(backend);
  if (s) return simdFilterGradient(s, backend, x, dy, info);
  const colsT = colsTransposed(backend, x, info, k, m);
  const dy2 = runWasmKernel(backend, 'Reshape', { x: dy }, { shape: [m, co] });
  const dw = runWasmKernel(backend, 'BatchMatMul', { a: colsT, b: dy2 }, { transposeA: false, transposeB: false });
  const out = runWasmKernel(backend, 'Reshape', { x: dw }, { shape: [kh, kw, ci, co] });
  release(backend, colsT, dy2, dw);
  return out;
}

/** Registration of Conv2DBackpropFilter for the wasm backend. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
