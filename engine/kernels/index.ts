import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNELS } from './AdamUpdate.ts';
import { registerFusedBatchNormLayer } from '../batchnorm-layer.ts';
import { registerPlainConvLayer } from '../conv-layer.ts';
import { BATCH_NORM_GRAD_KERNELS, registerBatchNormGradient } from './BatchNormGrad.ts';
import { BATCH_NORM_TRAIN_KERNELS, registerBatchNormTrainGradient } from './BatchNormTrain.ts';
import { castOverride } from './Cast.ts';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.ts';
import { conv2DBackpropInputOverride } from './Conv2DBackpropInput.ts';
import { identityOverride } from './Identity.ts';
import { maxPoolGradConfig } from './MaxPoolGrad.ts';
import { meanOverride } from './Mean.ts';
import { registerMeanGradient } from './MeanGrad.ts';
import { resizeNearestNeighborGradCpuConfig, resizeNearestNeighborGradWasmConfig } from './ResizeNearestNeighborGrad.ts';
import { sumOverride } from './Sum.ts';
import { tileOverride } from './Tile.ts';
import { unsortedSegmentSumConfig } from './UnsortedSegmentSum.ts';
import { registerReluGradient, reluGradConfig } from './ReluGrad.ts';
import { registerOverride, type WasmOverride } from './wasm_override.ts';

/** The training kernels fedkd adds to tfjs-backend-wasm 4.22, which lacks them. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Kernels that tfjs 4.22 has but gets wrong; fedkd replaces them with its own. */
export const CORRECTED_KERNELS: readonly tf.KernelConfig[] = [maxPoolGradConfig, resizeNearestNeighborGradCpuConfig, resizeNearestNeighborGradWasmConfig];

/** Faster paths for kernels tfjs-backend-wasm has but runs slowly in training. */
export const WASM_FAST_KERNELS: readonly WasmOverride[] = [
  tileOverride,
  sumOverride,
  meanOverride,
  identityOverride,
  castOverride,
  conv2DBackpropInputOverride,
];

/** Wraps the wasm kernels of WASM_FAST_KERNELS with their fast paths; idempotent. */
export function registerFastKernels(): void {
  for (const o of WASM_FAST_KERNELS) registerOverride(o);
}

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

/**
 * fedkd's fused training kernels (batch-norm gradient, Adam, training-mode batch norm and its
 * gradient, ReLU gradient), for wasm and (but ReLU) cpu.
 */
export const FUSED_KERNELS: readonly tf.KernelConfig[] = [...BATCH_NORM_GRAD_KERNELS, ...ADAM_UPDATE_KERNELS, ...BATCH_NORM_TRAIN_KERNELS, reluGradConfig];

/**
 * Everything fedkd adds to one backend for training: the missing wasm gradients, fast wasm
 * paths, corrections of faulty tfjs kernels, the fused kernels, the batch-norm, mean and ReLU
 * gradients that use them, and tf.layers' BatchNormalization training through the fused
 * training-mode batch norm (engine/batchnorm-layer.ts), and bias-free Conv2D layers as plain
 * conv2d (engine/conv-layer.ts). Call after the backend's package is imported; idempotent.
 */
export function registerTrainingKernels(backendName: 'cpu' | 'wasm'): void {
  if (backendName === 'wasm') {
    registerWasmKernels();
    registerFastKernels();
  }
  registerCorrectedKernels(backendName);
  for (const k of FUSED_KERNELS) {
    if (k.backendName === backendName && !tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
  }
  registerBatchNormTrainGradient();
  registerBatchNormGradient();
  registerMeanGradient();
  registerReluGradient();
  registerFusedBatchNormLayer();
  registerPlainConvLayer();
}
