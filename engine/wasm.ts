import '@tensorflow/tfjs-backend-wasm';
import { registerCorrectedKernels, registerFastKernels, registerWasmKernels } from './kernels/index.ts';

/**
 * Registers the gradient kernels that tfjs-backend-wasm lacks (engine/kernels/), so every
 * reference model trains on wasm, and replaces the tfjs kernels that compute wrong
 * gradients (CORRECTED_KERNELS) or run slowly in training (WASM_FAST_KERNELS). Idempotent.
 */
export async function registerWasmTrainingKernels(): Promise<void> {
  registerWasmKernels();
  registerCorrectedKernels('wasm');
  registerFastKernels();
}
