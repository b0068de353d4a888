import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd, depthwise3x3Geometry } from '../simd/index.ts';
import {
  depthwiseBackpropInputImpl,
  flipFilterSpatially,
  fullCorrelationShape,
  scatterGradientForFullCorrelation,
} from './DepthwiseConv2dNativeBackpropInput_impl.ts';
import { allocFloat32, assertNhwcUnitDilation, heapFloat32, release, runWasmKernel } from './wasm_kernel_utils.ts';

/**
 * Input gradient of depthwiseConv2d on wasm. 3×3 filters with multiplier 1 and channels a
 * multiple of 4 (mobile-s) run depthwise.c's dw_input_grad_3x3 (SIMD, one scatter pass).
 * Else, with channel multiplier 1 (every reference model) it is the wasm backend's own XNNPACK depthwise convolution, stride 1 and valid
 * padding, of the zero-inserted gradient with the flipped filter; otherwise a direct loop.
 */
function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const dy = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const fShape = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, fShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  assertNhwcUnitDilation('DepthwiseConv2dNativeBackpropInput', info);
  const s = backendSimd(backend);
  const g = s && depthwise3x3Geometry(info);
  if (s && g) {
    const dx = allocFloat32(backend, info.inShape);
    s.k.dw_input_grad_3x3(s.ptr(dy.dataId), s.ptr(filter.dataId), ...g, s.ptr(dx.dataId));
    return dx;
  }
  if (info.outChannels !== info.inChannels) {
    const dx = allocFloat32(backend, info.inShape);
    depthwiseBackpropInputImpl(heapFloat32(backend, dy), heapFloat32(backend, filter), info, heapFloat32(backend, dx));
    return dx;
  }
  const z = allocFloat32(backend, fullCorrelationShape(info));
  const flipped = allocFloat32(backend, fShape);
  scatterGradientForFullCorrelation(heapFloat32(backend, dy), info, heapFloat32(backend, z));
  flipFilterSpatially(heapFloat32(backend, filter), fShape[0], fShape[1], fShape[2] * fShape[3], heapFloat32(backend, flipped));
  const dx = runWasmKernel(
    backend,
    'DepthwiseConv2dNative',
    { x: z, filter: flipped },
    { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
  );
  release(backend, z, flipped);
  return dx;
}

/** Registration of DepthwiseConv2dNativeBackpropInput for the wasm backend. */
export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
};
