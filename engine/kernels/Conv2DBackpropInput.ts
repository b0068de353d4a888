import * as tf from '@tensorflow/tfjs';
import { col2imAdd, transposeMatrix } from './col2im_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32, release, runWasmKernel } from './wasm_kernel_utils.ts';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * Input gradient of conv2d (also conv2dTranspose's forward) on wasm as one XNNPACK
 * BatchMatMul, cols[M, KH·KW·Ci] = dy[M, Co] · Wᵀ[Co, KH·KW·Ci], then col2im; a 1×1
 * stride-1 unpadded convolution needs no col2im. The stock wasm kernel is a direct loop.
 */
function conv2DBackpropInput({ inputs, backend, attrs }: WasmKernelArgs): tf.TensorInfo | null {
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const dy = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const fShape = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape, fShape, a.strides, 1, a.pad, a.dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
  assertNhwcUnitDilation('Conv2DBackpropInput', info);
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const dy2 = runWasmKernel(backend, 'Reshape', { x: dy }, { shape: [m, info.outChannels] });
  // Wᵀ is small (Co × KH·KW·Ci): transposing it here keeps the product on XNNPACK's fast
  // path; tfjs-backend-wasm's transposeB path is several times slower.
  const wT = allocFloat32(backend, [info.outChannels, k]);
  transposeMatrix(heapFloat32(backend, filter), k, info.outChannels, heapFloat32(backend, wT));
  const cols = runWasmKernel(backend, 'BatchMatMul', { a: dy2, b: wT }, { transposeA: false, transposeB: false });
  release(backend, dy2, wT);
  const p = info.padInfo;
  const direct = k === info.inChannels && info.strideHeight === 1 && info.strideWidth === 1 && p.top + p.left + p.bottom + p.right === 0;
  if (direct) {
    const dx = runWasmKernel(backend, 'Reshape', { x: cols }, { shape: info.inShape });
    release(backend, cols);
    return dx;
  }
  const dx = allocFloat32(backend, info.inShape);
  col2imAdd(heapFloat32(backend, cols), info, heapFloat32(backend, dx));
  release(backend, cols);
  return dx;
}

/** Matmul-based Conv2DBackpropInput for wasm. */
export const conv2DBackpropInputOverride: WasmOverride = { kernelName: tf.Conv2DBackpropInput, fast: conv2DBackpropInput };
