import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { unsortedSegmentSumImpl } from './UnsortedSegmentSum_impl.ts';

/** UnsortedSegmentSum for wasm (float32): the gradient of tf.gather needs it and tfjs-backend-wasm 4.22 lacks it. */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, backend } = args;
  const x = inputs.x as tf.TensorInfo;
  const ids = inputs.segmentIds as tf.TensorInfo;
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32') throw new Error('UnsortedSegmentSum on wasm supports float32 only');
  const rest = x.shape.slice(ids.shape.length);
  const inner = rest.reduce((p, s) => p * s, 1);
  const out = backend.makeOutput([numSegments, ...rest], 'float32');
  unsortedSegmentSumImpl(
    backend.typedArrayFromHeap(x) as Float32Array,
    backend.typedArrayFromHeap(ids) as Int32Array,
    inner,
    numSegments,
    backend.typedArrayFromHeap(out) as Float32Array,
  );
  return out;
}

/** Registration of UnsortedSegmentSum for the wasm backend. */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
