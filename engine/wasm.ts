import '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from './kernels/index.ts';

/**
 * Registers what wasm needs to train every reference model, and to train fast
 * (engine/kernels/index.ts, registerTrainingKernels): the gradient kernels tfjs-backend-wasm
 * lacks, corrections of faulty ones, fast paths and fused kernels. Idempotent.
 */
export async function registerWasmTrainingKernels(): Promise<void> {
  registerTrainingKernels('wasm');
}
