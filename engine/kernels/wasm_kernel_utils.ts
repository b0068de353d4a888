import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Attribute bag passed to a kernel (tfjs's NamedAttrMap). */
export type KernelAttrs = tf.NamedAttrMap;

/**
 * Runs a kernel the wasm backend already registers (e.g. BatchMatMul, which goes through
 * XNNPACK) on TensorInfos of that backend, without the engine's tape or bookkeeping: the
 * way tfjs's own backends call one kernel from another.
 */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: Record<string, tf.TensorInfo>,
  attrs: KernelAttrs = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${kernelName} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${kernelName} returned several outputs`);
  return out;
}

/** Allocates a float32 tensor on the wasm heap (contents undefined until written). */
export function allocFloat32(backend: BackendWasm, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

/**
 * A Float32Array over a tensor's bytes on the wasm heap. Take views only after the
 * last allocation: growing the heap detaches earlier views.
 */
export function heapFloat32(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Frees intermediate tensors made inside a kernel. */
export function release(backend: BackendWasm, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

/** Throws unless a convolution runs NHWC with unit dilation, the layout fedkd trains in. */
export function assertNhwcUnitDilation(kernelName: string, info: tf.backend_util.Conv2DInfo): void {
  if (info.dataFormat !== 'channelsLast') throw new Error(`${kernelName} on wasm supports NHWC only`);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernelName} on wasm supports dilation 1 only (as do tfjs's conv gradients)`);
  }
}
