import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { im2colTransposed, im2colTransposedFromChannelMajor } from './im2col_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32, release, runWasmKernel } from './wasm_kernel_utils.ts';

/** From this many input channels on, im2col reads a channel-major copy of the input (contiguous runs). */
const CHANNEL_MAJOR_FROM = 4;

/**
 * Filter gradient of conv2d on wasm: im2col (transposed) in one pass, then one
 * BatchMatMul through the wasm backend's XNNPACK: dW[kh·kw·ci, co] = colsT · dy.
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
  const colsT = allocFloat32(backend, [k, m]);
  if (ci >= CHANNEL_MAJOR_FROM) {
    const xT = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] });
    im2colTransposedFromChannelMajor(heapFloat32(backend, xT), info, heapFloat32(backend, colsT));
    release(backend, xT);
  } else {
    im2colTransposed(heapFloat32(backend, x), info, heapFloat32(backend, colsT));
  }
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
