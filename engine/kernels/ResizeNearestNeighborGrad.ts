import * as tf from '@tensorflow/tfjs';
import { resizeNearestNeighborGradImpl } from './ResizeNearestNeighborGrad_impl.ts';

/** What this kernel needs of the cpu backend (MathBackendCPU). */
interface HostBackend {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * ResizeNearestNeighborGrad for the cpu backend. Replaces tfjs-backend-cpu 4.22's own, which
 * indexes dy with the image's batch stride and so is wrong for any batch above 1 (found by
 * the conformance suite: an upsampling layer trained differently on cpu and wasm).
 */
function resizeNearestNeighborGrad(args: { inputs: tf.NamedTensorInfoMap; backend: HostBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.ResizeNearestNeighborGradAttrs & { halfPixelCenters?: boolean };
  const images = inputs.images as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const [batch, inHeight, inWidth, depth] = images.shape;
  const [, outHeight, outWidth] = dy.shape;
  const dyValues = backend.readSync(dy.dataId) as Float32Array;
  const dx = resizeNearestNeighborGradImpl(dyValues, {
    batch, inHeight, inWidth, outHeight, outWidth, depth,
    alignCorners: attrs.alignCorners,
    halfPixelCenters: attrs.halfPixelCenters ?? false,
  });
  return backend.makeTensorInfo(images.shape, 'float32', dx);
}

/** Registration of the corrected ResizeNearestNeighborGrad for the cpu backend. */
export const resizeNearestNeighborGradCpuConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'cpu',
  kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
};
