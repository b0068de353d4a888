import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd } from '../simd/index.ts';
import { overrideGradient, type GradientOverride } from './gradient-override.ts';
import { reluGradImpl } from './ReluGrad_impl.ts';

/** fedkd's fused ReLU gradient kernel: inputs {dy, x}; output dx (reluGradImpl). */
export const RELU_GRAD = 'FedkdReluGrad';

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B };

function reluGradWasm({ inputs, backend }: Args<BackendWasm>): tf.TensorInfo {
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  const dx = backend.makeOutput(x.shape, 'float32');
  const s = backendSimd(backend);
  if (s) s.k.relu_grad(s.ptr(dy.dataId), s.ptr(x.dataId), tf.util.sizeFromShape(x.shape), s.ptr(dx.dataId));
  else {
    const f = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
    reluGradImpl(f(dy), f(x), f(dx));
  }
  return dx;
}

/** The fused ReLU gradient for wasm (SIMD, else JS on the heap). */
export const reluGradConfig: tf.KernelConfig = { kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: reluGradWasm as unknown as tf.KernelFunc };

let override: GradientOverride | undefined;

/**
 * Replaces the Relu gradient, dy · cast(step(x)) (two kernels over the activation), with one
 * RELU_GRAD kernel where the current backend has it and x is float32; elsewhere the stock
 * gradient runs. Same values. Idempotent.
 */
export function registerReluGradient(): void {
  override ??= overrideGradient(tf.Relu, (stock) => (dy, saved, attrs) => {
    const [x] = saved;
    if (x.dtype !== 'float32' || !tf.getKernel(RELU_GRAD, tf.getBackend())) return stock(dy, saved, attrs);
    return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor };
  });
}
