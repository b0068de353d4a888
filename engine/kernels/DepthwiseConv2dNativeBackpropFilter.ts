import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd, depthwise3x3Geometry } from '../simd/index.ts';
import { depthwiseBackpropFilterImpl } from './DepthwiseConv2dNativeBackpropFilter_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32 } from './wasm_kernel_utils.ts';

/**
 * Filter gradient of depthwiseConv2d on wasm, computed in place on the wasm heap: the SIMD
 * kernel for 3×3 filters with multiplier 1 and channels a multiple of 4, else the JS loop.
 */
function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  assertNhwcUnitDilation('DepthwiseConv2dNativeBackpropFilter', info);
  const dw = allocFloat32(backend, info.filterShape);
  const s = backendSimd(backend);
  const g = s && depthwise3x3Geometry(info);
  if (s && g) {
    s.k.dw_filter_grad_3x3(s.ptr(x.dataId), s.ptr(dy.dataId), ...g, s.ptr(dw.dataId));
    return dw;
  }
  depthwiseBackpropFilterImpl(heapFloat32(backend, x), heapFloat32(backend, dy), info, heapFloat32(backend, dw));
  return dw;
}

/** Registration of DepthwiseConv2dNativeBackpropFilter for the wasm backend. */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
};
