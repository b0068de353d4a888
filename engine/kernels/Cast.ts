import * as tf from '@tensorflow/tfjs';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * Cast to the dtype a tensor already has shares its buffer (as Identity does) instead of
 * copying it: tf.moments casts every batch-norm input to float32 on each training step.
 */
function cast({ inputs, backend, attrs }: WasmKernelArgs): tf.TensorInfo | null {
  const x = inputs.x as tf.TensorInfo;
  const { dtype } = attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || dtype === 'string') return null;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}

/** Zero-copy same-dtype Cast for wasm. */
export const castOverride: WasmOverride = { kernelName: tf.Cast, fast: cast };
