import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { resizeNearestNeighborGradImpl, type ResizeGeom } from './ResizeNearestNeighborGrad_impl.ts';

/** What this kernel needs of the cpu backend (MathBackendCPU). */
interface HostBackend {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function geometry(inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined): ResizeGeom {
  const a = attrs as unknown as tf.ResizeNearestNeighborGradAttrs & { halfPixelCenters?: boolean };
  const images = inputs.images as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const [batch, inHeight, inWidth, depth] = images.shape;
  const [, outHeight, outWidth] = dy.shape;
  return { batch, inHeight, inWidth, outHeight, outWidth, depth, alignCorners: a.alignCorners, halfPixelCenters: a.halfPixelCenters ?? false };
}

/**
 * ResizeNearestNeighborGrad for the cpu backend. Replaces tfjs-backend-cpu 4.22's own, which
 * indexes dy with the image's batch stride and so is wrong for any batch above 1 (found by
 * the conformance suite: an upsampling layer trained differently on cpu and wasm).
 */
function resizeNearestNeighborGrad(args: { inputs: tf.NamedTensorInfoMap; backend: HostBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const dyValues = backend.readSync((inputs.dy as tf.TensorInfo).dataId) as Float32Array;
  const dx = resizeNearestNeighborGradImpl(dyValues, geometry(inputs, args.attrs));
  return backend.makeTensorInfo((inputs.images as tf.TensorInfo).shape, 'float32', dx);
}

/**
 * The same for wasm, whose stock kernel ignores halfPixelCenters (found by the conformance
 * suite: the gradient disagreed with wasm's own forward resize).
 */
function resizeNearestNeighborGradWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const dy = backend.typedArrayFromHeap(inputs.dy as tf.TensorInfo) as Float32Array;
  const dx = resizeNearestNeighborGradImpl(dy, geometry(inputs, args.attrs));
  const out = backend.makeOutput((inputs.images as tf.TensorInfo).shape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(dx);
  return out;
}

/** Registration of the corrected ResizeNearestNeighborGrad for the wasm backend. */
export const resizeNearestNeighborGradWasmConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'wasm',
  kernelFunc: resizeNearestNeighborGradWasm as unknown as tf.KernelFunc,
};

/** Registration of the corrected ResizeNearestNeighborGrad for the cpu backend. */
export const resizeNearestNeighborGradCpuConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'cpu',
  kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
};
