import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { maxPoolGradImpl } from './MaxPoolGrad_impl.ts';
import { allocFloat32, heapFloat32 } from './wasm_kernel_utils.ts';

/**
 * MaxPoolGrad for wasm. Replaces tfjs-backend-wasm 4.22's own, which routes gradients to
 * the wrong positions whenever there is more than one channel (found by the conformance
 * suite: test/engine/kernels.test.ts, "maxPool gradient").
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const x = inputs.input as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const dx = allocFloat32(backend, x.shape);
  maxPoolGradImpl(heapFloat32(backend, x), heapFloat32(backend, dy), info, heapFloat32(backend, dx));
  return dx;
}

/** Registration of the corrected MaxPoolGrad for the wasm backend. */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
