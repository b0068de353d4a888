import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.ts';
import { maxPoolGradConfig } from './MaxPoolGrad.ts';
import { resizeNearestNeighborGradCpuConfig } from './ResizeNearestNeighborGrad.ts';

/** The training kernels fedkd adds to tfjs-backend-wasm 4.22, which lacks them. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
];

/** Kernels that tfjs 4.22 has but gets wrong; fedkd replaces them with its own. */
export const CORRECTED_KERNELS: readonly tf.KernelConfig[] = [maxPoolGradConfig, resizeNearestNeighborGradCpuConfig];

const replaced = new Set<tf.KernelConfig>();

/** Registers each kernel of WASM_TRAINING_KERNELS that is missing; idempotent. */
export function registerWasmKernels(): void {
  for (const k of WASM_TRAINING_KERNELS) {
    if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
  }
}

/**
 * Replaces the faulty tfjs kernels of CORRECTED_KERNELS for one backend with fedkd's;
 * idempotent. Call it after that backend's package has registered its own kernels.
 */
export function registerCorrectedKernels(backendName: 'cpu' | 'wasm'): void {
  for (const k of CORRECTED_KERNELS) {
    if (k.backendName !== backendName || replaced.has(k)) continue;
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(k);
    replaced.add(k);
  }
}
