import * as tf from '@tensorflow/tfjs';
import { col2imAdd, flipAndSwapChannels, transposeMatrix } from './col2im_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32, release, runWasmKernel } from './wasm_kernel_utils.ts';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * Stride-1 input gradient as the wasm backend's own (XNNPACK) forward convolution of dy with
 * the flipped, channel-swapped filter, padded so the output has the input's size (Dumoulin &
 * Visin, "A guide to convolution arithmetic for deep learning", 2016, §4.1).
 */
function fullCorrelation(dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, backend: WasmKernelArgs['backend']): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = info.inHeight + kh - 1 - info.outHeight - top;
  const right = info.inWidth + kw - 1 - info.outWidth - left;
  const flipped = allocFloat32(backend, [kh, kw, co, ci]);
  flipAndSwapChannels(heapFloat32(backend, filter), kh, kw, ci, co, heapFloat32(backend, flipped));
  const pad = [[0, 0], [top, bottom], [left, right], [0, 0]];
  const attrs = { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  const dx = runWasmKernel(backend, 'Conv2D', { x: dy, filter: flipped }, attrs);
  release(backend, flipped);
  return dx;
}

/**
 * Input gradient of conv2d (also conv2dTranspose's forward) on wasm: at stride 1 a forward
 * XNNPACK convolution (fullCorrelation); otherwise one XNNPACK
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
  const p = info.padInfo;
  const fullCorrelationFits = info.strideHeight === 1 && info.strideWidth === 1 && p.top < info.filterHeight && p.left < info.filterWidth;
  if (fullCorrelationFits && info.filterHeight * info.filterWidth > 1) return fullCorrelation(dy, filter, info, backend);
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const dy2 = runWasmKernel(backend, 'Reshape', { x: dy }, { shape: [m, info.outChannels] });
  // Wᵀ is small (Co × KH·KW·Ci): transposing it here keeps the product on XNNPACK's fast
  // path; tfjs-backend-wasm's transposeB path is several times slower.
  const wT = allocFloat32(backend, [info.outChannels, k]);
  transposeMatrix(heapFloat32(backend, filter), k, info.outChannels, heapFloat32(backend, wT));
  const cols = runWasmKernel(backend, 'BatchMatMul', { a: dy2, b: wT }, { transposeA: false, transposeB: false });
  release(backend, dy2, wT);
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
