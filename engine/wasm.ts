import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './kernels/index.ts';

/**
 * Registers the gradient kernels that tfjs-backend-wasm lacks (engine/kernels/), so every
 * reference model trains on wasm. Idempotent.
 */
export async function registerWasmTrainingKernels(): Promise<void> {
  registerWasmKernels();
}
