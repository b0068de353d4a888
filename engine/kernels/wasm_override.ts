import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Arguments a wasm kernel function receives. */
export interface WasmKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

/**
 * A faster path for a kernel tfjs-backend-wasm already has. `fast` returns null for the
 * cases it does not cover, which then run the original kernel.
 */
export interface WasmOverride {
  kernelName: string;
  fast(args: WasmKernelArgs): tf.TensorInfo | null;
}

const wrapped = new Set<string>();

/**
 * Wraps the registered wasm kernel with `o.fast`, keeping its setupFunc (so the original
 * still initialises with the backend) and falling back to it. Idempotent per kernel name.
 */
export function registerOverride(o: WasmOverride): void {
  if (wrapped.has(o.kernelName)) return;
  const original = tf.getKernel(o.kernelName, 'wasm');
  if (!original) throw new Error(`wasm kernel ${o.kernelName} is not registered; import @tensorflow/tfjs-backend-wasm first`);
  const kernelFunc = (args: WasmKernelArgs): tf.TensorInfo | tf.TensorInfo[] => o.fast(args) ?? original.kernelFunc(args);
  tf.unregisterKernel(o.kernelName, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  wrapped.add(o.kernelName);
}
