import '@tensorflow/tfjs-backend-wasm';

/**
 * Registers the gradient kernels that tfjs-backend-wasm lacks, so every reference model
 * trains on wasm. (Filled in by engine/kernels/.)
 */
export async function registerWasmTrainingKernels(): Promise<void> {
  // kernels are registered in engine/kernels/ (issue #2)
}
