import * as tf from '@tensorflow/tfjs';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * Identity that shares the input's buffer (reference-counted), as the cpu backend and the
 * wasm Reshape do, instead of copying it. tfjs never writes a kernel input in place, so
 * sharing is safe; gradients and Adam call Identity hundreds of times per step.
 */
function identity({ inputs, backend }: WasmKernelArgs): tf.TensorInfo | null {
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') return null;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Zero-copy Identity for wasm. */
export const identityOverride: WasmOverride = { kernelName: tf.Identity, fast: identity };
